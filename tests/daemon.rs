//! `partreel daemon`, end to end: the real binary against the emulators — graceful SIGTERM
//! mid-run, clear refusals at start, the health and metrics endpoints, run ids in JSON logs,
//! and two daemons sharing one PostgreSQL state (when `PARTREEL_TEST_DATABASE_URL` is set).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use partreel_core::state::StateStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_core::telemetry::names;
use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{FaultKind, SimConfig};
use serde_json::Value;

use crate::util::{
    Daemon, Env, TestSchema, add_job, add_to_section, bin, set_state, until, writes,
};

// ---- helpers ------------------------------------------------------------------------------

fn seeded(clips: usize, parts: usize, seed: u64) -> SimConfig {
    SimConfig {
        parts,
        clips,
        seed,
        ..SimConfig::default()
    }
}

fn rate(rps: u32) -> ConfigOptions {
    ConfigOptions {
        requests_per_sec: Some(rps),
        ..ConfigOptions::default()
    }
}

/// The value of one series in a Prometheus text page (labels in the order rendered), summed
/// over every line whose name and labels contain `selector`'s parts.
fn series(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = None;
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let metric = key.split('{').next().unwrap_or(key);
        if metric != name || !labels.iter().all(|l| key.contains(l)) {
            continue;
        }
        let v: f64 = value.parse().unwrap_or(0.0);
        found = Some(found.unwrap_or(0.0) + v);
    }
    found
}

/// Link ids on Windchill documents, with duplicates counted.
fn link_ids(env: &Env) -> Vec<String> {
    env.link_documents()
        .iter()
        .filter_map(|d| d.get("PartreelLinkId").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

fn assert_no_duplicates(ids: &[String], what: &str) {
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{what}: a link id is on several documents"
    );
}

/// A fault-free one-shot sync on a fresh sim of `cfg`: the link ids one process alone makes.
async fn reference_links(cfg: &SimConfig) -> BTreeSet<String> {
    let twin = Env::start(cfg.clone(), rate(5000)).await;
    twin.sync(&[]).await;
    link_ids(&twin).into_iter().collect()
}

// ---- SIGTERM mid-run ----------------------------------------------------------------------

/// SIGTERM while links are being created: the daemon finishes the batch in flight, journals
/// it, and exits 0 within the bound; no journal entry is left pending; the next run completes
/// the work, and every link exists exactly once.
#[tokio::test]
async fn sigterm_mid_run_exits_cleanly_and_next_run_completes() {
    let cfg = seeded(300, 80, 17);
    let expected = reference_links(&cfg).await;
    // Paced so the run is still applying when the signal comes.
    let env = Env::start(cfg, rate(60)).await;
    add_job(&env.config, "windchill-bynder", "0 0 1 1 *", true);
    let bound = Duration::from_secs(30);
    let daemon = Daemon::start(&env.config, &["--log-level", "info"], &[]).await;
    until(Duration::from_secs(60), "the first link documents", || {
        !env.link_documents().is_empty()
    })
    .await;
    daemon.signal("TERM");
    let (code, err, took) = daemon.wait(bound + Duration::from_secs(10)).await;
    eprintln!("daemon stopped in {took:?}");
    assert_eq!(code, Some(0), "exit code after SIGTERM:\n{err}");
    assert!(took <= bound, "took {took:?}, bound {bound:?}");
    assert!(err.contains("stop requested"), "{err}");

    let partial = link_ids(&env);
    assert_no_duplicates(&partial, "after SIGTERM");
    assert!(
        partial.len() < expected.len(),
        "the run should have stopped early ({} of {} links)",
        partial.len(),
        expected.len()
    );
    {
        let store = SqliteStore::open(&env.state_path()).expect("open state");
        let pending = store.journal_pending().await.expect("journal");
        assert!(
            pending.is_empty(),
            "journal entries left pending: {pending:?}"
        );
        let runs = store.runs(5).await.expect("runs");
        let last: Value = serde_json::from_str(runs[0].report.as_deref().expect("a report"))
            .expect("report JSON");
        assert_eq!(last["stopped_early"], Value::Bool(true), "{last}");
        assert!(
            store.work_len().await.expect("queue") > 0,
            "the rest stays queued"
        );
    }

    let report = env.sync(&[]).await;
    let after = link_ids(&env);
    assert_no_duplicates(&after, "after the next run");
    let after: BTreeSet<String> = after.into_iter().collect();
    assert_eq!(after, expected, "the next run completes the work: {report}");
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "a further sync writes nothing: {again}");
}

/// SIGTERM while a slowly paced run works through a batch: the daemon stops between clips, not
/// at the end of the batch (200 clips at 8 requests a second take minutes): it exits within
/// seconds, the clips not reached stay queued with no journal entry left open, and the
/// next run completes the work without a duplicate.
#[tokio::test]
async fn sigterm_stops_between_clips_not_at_the_end_of_the_batch() {
    let cfg = seeded(240, 60, 29);
    let expected = reference_links(&cfg).await;
    let env = Env::start(cfg, rate(8)).await;
    add_job(&env.config, "windchill-bynder", "0 0 1 1 *", true);
    let daemon = Daemon::start(&env.config, &["--log-level", "info"], &[]).await;
    // The batch begins with the clips' files (two requests each): stop a few clips in.
    let downloads = || {
        env.sim
            .bynder
            .log
            .count_matching(|e| e.path.contains("/download"))
    };
    until(Duration::from_secs(90), "the first clip downloads", || {
        downloads() >= 10
    })
    .await;
    daemon.signal("TERM");
    let bound = Duration::from_secs(10);
    let (code, err, took) = daemon.wait(bound + Duration::from_secs(30)).await;
    eprintln!("daemon stopped in {took:?}");
    assert_eq!(code, Some(0), "exit code after SIGTERM:\n{err}");
    assert!(
        took <= bound,
        "took {took:?} to stop (bound {bound:?}): the batch ran on after SIGTERM"
    );
    let partial = link_ids(&env);
    assert_no_duplicates(&partial, "after SIGTERM");
    assert!(
        partial.len() < expected.len() / 2,
        "the run should have stopped early in its first batch ({} of {} links)",
        partial.len(),
        expected.len()
    );
    {
        let store = SqliteStore::open(&env.state_path()).expect("open state");
        let pending = store.journal_pending().await.expect("journal");
        assert!(
            pending.is_empty(),
            "journal entries left pending: {pending:?}"
        );
        assert!(
            store.work_len().await.expect("queue") > 0,
            "the rest stays queued"
        );
    }
    let text = std::fs::read_to_string(&env.config).expect("read config");
    std::fs::write(
        &env.config,
        text.replace(
            "requests = 8\nper_secs = 1\nburst = 8",
            "requests = 5000\nper_secs = 1\nburst = 5000",
        ),
    )
    .expect("write config");
    let report = env.sync(&[]).await;
    let after = link_ids(&env);
    assert_no_duplicates(&after, "after the next run");
    let after: BTreeSet<String> = after.into_iter().collect();
    assert_eq!(after, expected, "the next run completes the work: {report}");
}

// ---- refusals at start --------------------------------------------------------------------

/// Runs the daemon on a variant of the configuration; it must refuse to start.
async fn refused(env: &Env, name: &str, edit: impl FnOnce(&Path)) -> String {
    let config: PathBuf = env.dir.path().join(name);
    std::fs::copy(&env.config, &config).expect("copy config");
    edit(&config);
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(bin())
            .args(["daemon", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{name}: the daemon did not refuse within 30 s"))
    .expect("run daemon");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{name}: must not start:\n{err}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "{name}: must fail before listening"
    );
    assert!(err.contains(name), "{name}: must name the file:\n{err}");
    eprintln!("{name}: {err}");
    err
}

/// An invalid cron expression, an unreachable database, an unknown key, no schedule at all:
/// each stops the daemon at start with a message naming the key and the file.
#[tokio::test]
async fn bad_configuration_is_refused_at_start() {
    let env = Env::story().await;
    let err = refused(&env, "bad-cron.toml", |c| {
        add_job(c, "windchill-bynder", "61 * * * *", false)
    })
    .await;
    assert!(err.contains("jobs[0].schedule"), "{err}");
    assert!(err.contains("not a valid cron expression"), "{err}");

    let err = refused(&env, "bad-fields.toml", |c| {
        add_job(c, "windchill-bynder", "* * *", false)
    })
    .await;
    assert!(err.contains("jobs[0].schedule"), "{err}");

    let err = refused(&env, "no-database.toml", |c| {
        set_state(c, "postgres://postgres@127.0.0.1:1/x");
        add_job(c, "windchill-bynder", "*/5 * * * *", false);
    })
    .await;
    assert!(err.contains("state"), "must name the key: {err}");

    let err = refused(&env, "unknown-key.toml", |c| {
        add_to_section(c, "sync", "concurrencyy = 4");
        add_job(c, "windchill-bynder", "*/5 * * * *", false);
    })
    .await;
    assert!(err.contains("concurrencyy"), "must name the key: {err}");

    let err = refused(&env, "no-schedule.toml", |_| {}).await;
    assert!(err.contains("schedule"), "{err}");
    assert!(env.link_documents().is_empty());
}

// ---- health, metrics, logs ----------------------------------------------------------------

/// `/healthz` and `/readyz` answer 200; `/metrics` has every series partreel records, and
/// their values move with the runs: a failed run (503s past the retries) counts as failed with an
/// error by system and kind, the next one as ok with its operations, requests and
/// rate-limit waits. Every JSON log line of a run carries the run id.
#[tokio::test]
async fn endpoints_and_metrics_follow_the_runs() {
    let opts = ConfigOptions {
        fast_retries: true,
        ..rate(10)
    };
    let env = Env::start(SimConfig::default(), opts).await;
    add_job(&env.config, "windchill-bynder", "*/2 * * * * *", false);
    // More 503s in a row than the (fast) retries allow: the first run fails.
    env.sim
        .bynder
        .faults
        .inject_next(12, FaultKind::ServerError(503));
    let daemon = Daemon::start(
        &env.config,
        &["--log-format", "json", "--log-level", "info"],
        &[],
    )
    .await;
    let (status, body) = daemon.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = daemon.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).expect("readyz JSON");
    assert_eq!(ready["state_store"], "ok", "{body}");

    let (_, before) = daemon.get("/metrics").await;
    let ok_before = series(&before, names::RUNS, &["outcome=\"ok\""]).unwrap_or(-1.0);
    assert_eq!(
        ok_before, 0.0,
        "runs are there from the start, at 0:\n{before}"
    );
    assert!(
        series(&before, names::WORK_QUEUE, &[]).is_some(),
        "{before}"
    );

    let started = Instant::now();
    let page = loop {
        let (_, page) = daemon.get("/metrics").await;
        if series(&page, names::RUNS, &["outcome=\"ok\""]).unwrap_or(0.0) >= 1.0 {
            break page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no successful run:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let v = |name: &str, labels: &[&str]| {
        series(&page, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?}:\n{page}"))
    };
    assert!(v(names::RUNS, &["outcome=\"failed\""]) >= 1.0);
    assert!(v(names::ERRORS, &["system=\"bynder\"", "kind=\"http_5xx\""]) >= 1.0);
    assert!(
        v(
            names::OPERATIONS,
            &["kind=\"create_link\"", "outcome=\"ok\""]
        ) >= 5.0
    );
    assert!(v(names::OPERATIONS, &["kind=\"write_asset\""]) >= 5.0);
    assert!(v(names::HTTP_REQUESTS, &["system=\"windchill\""]) > 0.0);
    assert!(v(names::HTTP_REQUESTS, &["system=\"bynder\""]) > 0.0);
    assert!(
        v(
            &format!("{}_count", names::HTTP_DURATION),
            &["system=\"bynder\""]
        ) > 0.0
    );
    assert!(
        v(
            &format!("{}_bucket", names::HTTP_DURATION),
            &["le=\"+Inf\""]
        ) > 0.0
    );
    assert!(v(names::RATE_LIMIT_WAIT, &["system=\"bynder\""]) > 0.0);
    assert!(v(names::LAST_SUCCESS, &["job=\"windchill-bynder\""]) > 1.7e9);
    assert_eq!(
        v(names::QUARANTINE_SIZE, &[]),
        1.0,
        "the story's XX-9999 clip"
    );
    assert!(series(&page, names::WORK_QUEUE, &[]).is_some());

    // Another run moves the counters again.
    let requests = v(names::HTTP_REQUESTS, &[]);
    let ok = v(names::RUNS, &["outcome=\"ok\""]);
    let started = Instant::now();
    loop {
        let (_, next) = daemon.get("/metrics").await;
        if series(&next, names::RUNS, &["outcome=\"ok\""]).unwrap_or(0.0) > ok {
            assert!(series(&next, names::HTTP_REQUESTS, &[]).unwrap_or(0.0) > requests);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no second run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    daemon.signal("TERM");
    let (code, err, _) = daemon.wait(Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{err}");
    // Every engine line carries the run id, in the JSON format.
    let mut checked = 0;
    for line in err.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let message = v["message"].as_str().unwrap_or_default();
        if [
            "sync started",
            "sync finished",
            "link created",
            "quarantined",
        ]
        .contains(&message)
        {
            assert!(
                v["span"]["run_id"].as_str().is_some_and(|r| !r.is_empty()),
                "no run id: {line}"
            );
            assert!(
                v["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["job"] == "windchill-bynder")),
                "no job: {line}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "too few run lines checked ({checked}):\n{err}"
    );
}

// ---- two daemons, one PostgreSQL state -----------------------------------------------------

/// Two daemons share one PostgreSQL state and sync the same emulators at once; one is killed
/// (SIGKILL) mid-run, the other takes over its leased clips once the lease expires. In the
/// end every link exists exactly once — the same links one process alone makes — and a
/// further sync writes nothing.
#[tokio::test]
async fn two_daemons_share_postgres_and_survive_a_kill() {
    let Some(base) = crate::util::database_url() else {
        return;
    };
    let cfg = seeded(400, 100, 23);
    let expected = reference_links(&cfg).await;
    let schema = TestSchema::create(&base).await;
    let env = Env::start(cfg, rate(120)).await;
    set_state(&env.config, &schema.url());
    add_to_section(&env.config, "sync", "lease_secs = 3");
    add_job(&env.config, "windchill-bynder", "*/2 * * * * *", true);

    let a = Daemon::start(
        &env.config,
        &["--log-level", "info"],
        &[("PARTREEL__SYNC__INSTANCE", "daemon-a")],
    )
    .await;
    let b = Daemon::start(
        &env.config,
        &["--log-level", "info"],
        &[("PARTREEL__SYNC__INSTANCE", "daemon-b")],
    )
    .await;
    until(Duration::from_secs(120), "a quarter of the links", || {
        link_ids(&env).len() >= expected.len() / 4
    })
    .await;
    a.signal("KILL");
    let (_, a_err, _) = a.wait(Duration::from_secs(10)).await;
    let at_kill = link_ids(&env).len();
    eprintln!(
        "daemon-a killed with {at_kill} of {} links made",
        expected.len()
    );

    // Daemon b goes on, and picks up a's leased clips once their lease ran out.
    until(Duration::from_secs(180), "every link", || {
        link_ids(&env).len() >= expected.len()
    })
    .await;
    // Let b's current run end, then stop it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    b.signal("TERM");
    let (code, b_err, _) = b.wait(Duration::from_secs(70)).await;
    assert_eq!(code, Some(0), "daemon-b:\n{b_err}");

    let ids = link_ids(&env);
    assert_no_duplicates(&ids, "two daemons");
    let got: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(got, expected, "same links as one process alone");
    let again = env.sync(&[]).await;
    assert_eq!(
        writes(&again),
        0,
        "a further sync writes nothing: {again}\ndaemon-a:\n{}\ndaemon-b:\n{}",
        a_err.lines().rev().take(20).collect::<Vec<_>>().join("\n"),
        b_err.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    schema.drop_schema().await;
}

/// Three jobs on one DAM (Windchill, Teamcenter and 3DEXPERIENCE with Bynder) running at once
/// in the daemon fetch each clip's file once: the verdict of a file version is shared, not
/// downloaded per job.
#[tokio::test]
async fn jobs_on_one_dam_download_each_clip_file_once() {
    let env = Env::start(SimConfig::default(), rate(5000)).await;
    let jobs = ["windchill-bynder", "teamcenter-bynder", "threedx-bynder"];
    for job in jobs {
        add_job(&env.config, job, "0 0 1 1 *", true);
    }
    let daemon = Daemon::start(&env.config, &[], &[]).await;
    for job in jobs {
        daemon.wait_for_run(job, Duration::from_secs(120)).await;
    }
    let downloads: Vec<_> = env
        .sim
        .bynder
        .log
        .entries()
        .into_iter()
        .filter(|e| {
            e.method == "GET"
                && e.path.starts_with("/api/v4/media/")
                && e.path.contains("/download")
        })
        .collect();
    assert!(!downloads.is_empty(), "the clips' files were checked");
    let mut per_clip: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in &downloads {
        *per_clip.entry(e.path.as_str()).or_default() += 1;
    }
    let twice: Vec<(&&str, &usize)> = per_clip.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "clip files fetched more than once across the jobs: {twice:?}"
    );
    daemon.signal("TERM");
    let (code, err, _) = daemon.wait(Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{err}");
}
