//! Helpers for end-to-end tests: start the emulators in-process, write a configuration that
//! points at them, run the real `partreel` binary, read its JSON report.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{Sim, SimConfig};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_partreel"))
}

/// The job `partreel sync` runs in these tests unless told otherwise: the written
/// configuration has four (`windchill-bynder`, `teamcenter-bynder`, `threedx-bynder`,
/// `windchill-aem`); the foundation's tests are about Windchill ⇄ Bynder.
pub const DEFAULT_JOB: &str = "windchill-bynder";

/// A running sim with a configuration and a state file in a temporary folder.
pub struct Env {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The job `sync` runs (`--job`) when the arguments name none; None: every job.
    pub job: Option<&'static str>,
}

impl Env {
    /// Starts the emulators with `cfg` and writes a configuration with `opts` (its `state`
    /// is placed in the temporary folder).
    pub async fn start(cfg: SimConfig, mut opts: ConfigOptions) -> Env {
        let sim = Sim::start(cfg).await.expect("start emulators");
        let dir = tempfile::tempdir().expect("tempdir");
        opts.state = dir.path().join("state.db");
        let config = sim
            .write_partreel_config(dir.path(), &opts)
            .expect("write config");
        Env {
            sim,
            dir,
            config,
            job: Some(DEFAULT_JOB),
        }
    }

    /// The demo story only, default options.
    pub async fn story() -> Env {
        Env::start(SimConfig::default(), ConfigOptions::default()).await
    }

    /// Runs `partreel sync --json` (plus `extra` args) to completion and returns the report.
    /// Panics with the process output when it fails.
    pub async fn sync(&self, extra: &[&str]) -> Value {
        let out = self.run(&["sync", "--json"], extra, &[]).await;
        assert!(
            out.status.success(),
            "partreel sync failed: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        parse_report(&out.stdout)
    }

    /// `--job NAME` for a `sync` that names no job.
    fn job_args(&self, args: &[&str], extra: &[&str]) -> Vec<&'static str> {
        match self.job {
            Some(job) if args.first() == Some(&"sync") && !extra.contains(&"--job") => {
                vec!["--job", job]
            }
            _ => Vec::new(),
        }
    }

    /// Runs the binary with the config and returns its output (never panics on failure).
    pub async fn run(&self, args: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = tokio::process::Command::new(bin());
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .args(self.job_args(args, extra))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().await.expect("run partreel")
    }

    /// Spawns `partreel sync --json` without waiting (for kill tests).
    pub fn spawn_sync(&self, env: &[(&str, &str)]) -> tokio::process::Child {
        let mut cmd = tokio::process::Command::new(bin());
        cmd.args(["sync", "--json", "--config"])
            .arg(&self.config)
            .args(self.job_args(&["sync"], &[]))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("spawn partreel")
    }

    /// The state file.
    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    /// Every Windchill document that carries a link id.
    pub fn link_documents(&self) -> Vec<Value> {
        self.sim
            .windchill_documents()
            .into_iter()
            .filter(|d| {
                d.get("PartreelLinkId")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            })
            .collect()
    }
}

/// Parses the JSON report from stdout.
pub fn parse_report(stdout: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON report in output:\n{text}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON report ({e}):\n{line}"))
}

/// A report's total writes.
pub fn writes(report: &Value) -> u64 {
    [
        "links_created",
        "links_updated",
        "links_retired",
        "asset_writes",
    ]
    .iter()
    .map(|k| {
        report[*k]
            .as_u64()
            .unwrap_or_else(|| panic!("report lacks {k}: {report}"))
    })
    .sum()
}

/// Requests a report counted for one system.
pub fn requests(report: &Value, system: &str) -> u64 {
    report["requests"][system]
        .as_u64()
        .unwrap_or_else(|| panic!("report lacks requests.{system}: {report}"))
}

/// Runs a blocking command (for tools that are not partreel).
pub fn run_blocking(cmd: &mut Command) -> Output {
    cmd.output().expect("run command")
}

/// Writes a file, creating folders.
pub fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).expect("write file");
}

/// Env var the binary reads to abort right after the Nth remote write (crash-safety tests).
pub const CRASH_ENV: &str = partreel_core::engine::crash::CRASH_AFTER_WRITES_ENV;

/// Time between two scheduled runs: well past the engine's overlap window (30 s by default).
pub const BETWEEN_RUNS: std::time::Duration = std::time::Duration::from_secs(600);

/// Options with a client rate limit high enough that runs are not paced by the connectors'
/// vendor-friendly defaults (Bynder's is 15 requests a second).
pub fn fast() -> ConfigOptions {
    ConfigOptions {
        requests_per_sec: Some(2000),
        ..ConfigOptions::default()
    }
}

/// A process's status, stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A count of the report; panics naming the key when it is missing.
pub fn count(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("report lacks {key}: {report}"))
}

/// A list of the report; panics naming the key when it is missing.
pub fn list<'a>(report: &'a Value, key: &str) -> &'a Vec<Value> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("report lacks {key}: {report}"))
}

/// `partreel sync --json` with extra environment, never panicking.
pub async fn try_sync(env: &Env, vars: &[(&str, &str)]) -> Output {
    env.run(&["sync", "--json"], &[], vars).await
}

/// Runs plain syncs until one succeeds (at most `max` runs); returns the last report and the
/// number of runs.
pub async fn sync_until_ok(env: &Env, max: usize) -> (Value, usize) {
    for i in 1..=max {
        let out = try_sync(env, &[]).await;
        if out.status.success() {
            return (parse_report(&out.stdout), i);
        }
        assert!(
            i < max,
            "no successful sync in {max} runs; last:\n{}",
            text(&out)
        );
    }
    unreachable!()
}

// ---- configuration edits, daemons, PostgreSQL schemas (shared by several areas) ----------

/// Schedules one of the written configuration's jobs (`[[jobs]]` `name`, beside the other,
/// unscheduled jobs).
pub fn add_job(config: &Path, name: &str, schedule: &str, run_on_start: bool) {
    let text = std::fs::read_to_string(config).expect("read config");
    let header = format!("[[jobs]]\nname = \"{name}\"\n");
    assert!(text.contains(&header), "config lacks {header}");
    std::fs::write(
        config,
        text.replacen(
            &header,
            &format!("{header}schedule = \"{schedule}\"\nrun_on_start = {run_on_start}\n"),
            1,
        ),
    )
    .expect("write config");
}

/// Inserts `line` right after the `[section]` header of a config file.
pub fn add_to_section(config: &Path, section: &str, line: &str) {
    let text = std::fs::read_to_string(config).expect("read config");
    let header = format!("[{section}]\n");
    assert!(text.contains(&header), "config lacks {header}");
    std::fs::write(
        config,
        text.replacen(&header, &format!("{header}{line}\n"), 1),
    )
    .expect("write config");
}

/// Replaces the `state = …` line.
pub fn set_state(config: &Path, state: &str) {
    let text = std::fs::read_to_string(config).expect("read config");
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("state = ") {
                format!("state = \"{state}\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(config, out.join("\n") + "\n").expect("write config");
}

/// A running daemon: the process and the address of its endpoints.
pub struct Daemon {
    child: Child,
    base: String,
    stderr: tokio::task::JoinHandle<String>,
}

impl Daemon {
    /// Starts `partreel daemon` on `config` (plus `args`, `vars`) and waits for its address.
    pub async fn start(config: &Path, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let mut cmd = tokio::process::Command::new(bin());
        cmd.args(args)
            .args(["daemon", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn partreel daemon");
        let mut err = child.stderr.take().expect("stderr");
        let stderr = tokio::spawn(async move {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s).await;
            s
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    return rest.split_whitespace().next().map(str::to_string);
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(base) = base else {
            let _ = child.start_kill();
            let err = stderr.await.unwrap_or_default();
            panic!("the daemon did not start:\n{err}");
        };
        // Keep reading stdout so the daemon never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Daemon {
            child,
            base,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("daemon pid")
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// Sends a signal (`TERM`, `KILL`) with kill(1).
    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits until job `job` has finished a run and is not running one (at most `bound`).
    pub async fn wait_for_run(&self, job: &str, bound: Duration) {
        let started = Instant::now();
        loop {
            let (_, body) = self.get("/readyz").await;
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let j = &v["jobs"][job];
            if j["last_outcome"].is_string() && j["running"] == Value::Bool(false) {
                return;
            }
            assert!(
                started.elapsed() < bound,
                "job {job} did not finish a run within {bound:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the process to end (at most `bound`); returns its exit code and stderr.
    pub async fn wait(mut self, bound: Duration) -> (Option<i32>, String, Duration) {
        let started = Instant::now();
        let status = tokio::time::timeout(bound, self.child.wait()).await;
        let took = started.elapsed();
        let status = match status {
            Ok(s) => s.expect("wait for daemon"),
            Err(_) => {
                let _ = self.child.start_kill();
                let err = self.stderr.await.unwrap_or_default();
                panic!("the daemon did not exit within {bound:?}:\n{err}");
            }
        };
        let err = self.stderr.await.unwrap_or_default();
        (status.code(), err, took)
    }
}

/// Whether a Windchill request creates link documents: a `POST` to `DocMgmt/Documents` (one
/// document) or to `DocMgmt/$batch` (a batch of them).
pub fn creates_link_documents(e: &partreel_sim::RequestEntry) -> bool {
    e.method == "POST" && (e.path.ends_with("/Documents") || e.path.ends_with("/DocMgmt/$batch"))
}

/// Waits until `f` holds, polling; panics with `what` after `bound`.
pub async fn until(bound: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < bound, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A schema of its own in the test database, dropped at the end.
pub struct TestSchema {
    base: String,
    name: String,
}

impl TestSchema {
    pub async fn create(base: &str) -> TestSchema {
        let name = format!("partreel_e2e_{:016x}", rand::random::<u64>());
        let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        let conn = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create schema");
        drop(client);
        let _ = conn.await;
        TestSchema {
            base: base.to_string(),
            name,
        }
    }

    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }

    pub async fn drop_schema(self) {
        if let Ok((client, conn)) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls).await
        {
            let conn = tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
                .await;
            drop(client);
            let _ = conn.await;
        }
    }
}

/// Environment variable naming the PostgreSQL test database (`.ci/run` sets it).
pub const DATABASE_ENV: &str = "PARTREEL_TEST_DATABASE_URL";

/// The PostgreSQL test database's URL; None (after printing the skip line) when it is not set.
pub fn database_url() -> Option<String> {
    let url = std::env::var(DATABASE_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        println!("skipped: {DATABASE_ENV} not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
    }
    url
}

/// Panics, showing the line, when any of `forbidden` appears in `all` as a whole value — not as
/// a piece of a longer word (the sim's Windchill password is the start of its public Bynder
/// client id). A value ending in a space (`"Bearer "`) matches anywhere.
pub fn assert_no_secret(all: &str, forbidden: &[String]) {
    let word =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    for f in forbidden.iter().filter(|f| !f.is_empty()) {
        for (at, _) in all.match_indices(f.as_str()) {
            let before = all[..at].chars().next_back();
            let after = all[at + f.len()..].chars().next();
            if f.ends_with(' ') || !(word(before) || word(after)) {
                let from = all[..at].rfind("== ").unwrap_or(0);
                let to = all[at..].find('\n').map_or(all.len(), |i| at + i);
                panic!("the recording leaks {f:?}:\n{}", &all[from..to]);
            }
        }
    }
}
