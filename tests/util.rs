//! Helpers for end-to-end tests: start the emulators in-process, write a configuration that
//! points at them, run the real `partreel` binary, read its JSON report.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{Sim, SimConfig};
use serde_json::Value;

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
pub const CRASH_ENV: &str = "PARTREEL_TEST_CRASH_AFTER_WRITES";

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
