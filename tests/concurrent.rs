//! Several partreel processes on one state: overlapping one-off syncs (a cron job started again
//! while the previous run is still working through the rate limit), a daemon beside a sync run
//! by hand, on SQLite and on PostgreSQL, for each PLM. Each process leases under an identity of
//! its own, so no link is ever created twice: the emulators' records are counted by link id.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use partreel_core::state::StateStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{FaultKind, FaultPlan, GeneratedPlm, Sim, SimConfig};
use serde_json::Value;

use crate::util::{Daemon, Env, TestSchema, add_job, parse_report, set_state, text, until, writes};

/// Clips generated for each case (the figure: enough for runs to overlap for long).
const CLIPS: usize = 2000;
/// Part revisions they are about.
const PARTS: usize = 40;
/// Client rate limit per system: a run takes several seconds, so the processes overlap.
const RPS: u32 = 400;
/// Delay between two processes' starts.
const STAGGER: Duration = Duration::from_millis(200);

/// One PLM under test.
#[derive(Clone, Copy)]
struct Case {
    plm: GeneratedPlm,
    job: &'static str,
}

const WINDCHILL: Case = Case {
    plm: GeneratedPlm::Windchill,
    job: "windchill-bynder",
};
const TEAMCENTER: Case = Case {
    plm: GeneratedPlm::Teamcenter,
    job: "teamcenter-bynder",
};
const THREEDX: Case = Case {
    plm: GeneratedPlm::Threedx,
    job: "threedx-bynder",
};

async fn start(case: Case) -> Env {
    let cfg = SimConfig {
        parts: PARTS,
        clips: CLIPS,
        seed: 7,
        story: false,
        generated_plm: case.plm,
        ..SimConfig::default()
    };
    let opts = ConfigOptions {
        requests_per_sec: Some(RPS),
        ..ConfigOptions::default()
    };
    let mut env = Env::start(cfg, opts).await;
    env.job = Some(case.job);
    env
}

/// The link id on every link record the case's PLM emulator holds, duplicates included.
fn record_link_ids(sim: &Sim, case: Case) -> Vec<String> {
    let ids: Vec<Option<String>> = match case.plm {
        GeneratedPlm::Windchill => sim
            .windchill_documents()
            .iter()
            .map(|d| d["PartreelLinkId"].as_str().map(str::to_string))
            .collect(),
        GeneratedPlm::Teamcenter => sim
            .teamcenter
            .forms()
            .into_iter()
            .map(|f| f.props.get("ptp_link_id").cloned())
            .collect(),
        GeneratedPlm::Threedx => sim
            .threedx
            .documents()
            .iter()
            .map(|d| {
                d["dataelements"]["partreelLinkId"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect(),
    };
    ids.into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect()
}

/// Link ids carried by more than one record, with their counts.
fn duplicated(ids: &[String]) -> BTreeMap<&String, usize> {
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for id in ids {
        *counts.entry(id).or_default() += 1;
    }
    counts.retain(|_, n| *n > 1);
    counts
}

/// Starts `n` `partreel sync` processes of the case's job, `STAGGER` apart, and waits for all.
async fn overlapping_syncs(env: &Env, n: usize) -> Vec<Output> {
    let mut children = Vec::new();
    for _ in 0..n {
        children.push(env.spawn_sync(&[]));
        tokio::time::sleep(STAGGER).await;
    }
    let mut outs = Vec::new();
    for c in children {
        outs.push(
            tokio::time::timeout(Duration::from_secs(600), c.wait_with_output())
                .await
                .expect("a sync ended within 10 minutes")
                .expect("wait for sync"),
        );
    }
    outs
}

/// Each process either succeeded or said the state was busy.
fn assert_ok_or_busy(outs: &[Output]) {
    for out in outs {
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("state busy"),
                "a process failed without saying the state was busy:\n{}",
                text(out)
            );
        }
    }
}

/// Links created by every run in the state's history (every process's, the daemon's too).
async fn created_in_history(env: &Env) -> u64 {
    let out = env
        .run(&["runs", "--json", "--limit", "1000"], &[], &[])
        .await;
    assert!(out.status.success(), "partreel runs: {}", text(&out));
    let runs: Vec<Value> = serde_json::from_slice(&out.stdout).expect("runs JSON");
    runs.iter()
        .map(|r| r["report"]["links_created"].as_u64().unwrap_or(0))
        .sum()
}

/// After the processes: no link id on two records, every link created exactly once (the
/// records are as many as the creations the run history reports, after one settling run),
/// and a further sync writes nothing.
async fn assert_each_link_once(env: &Env, case: Case, what: &str) {
    env.sync(&[]).await;
    let ids = record_link_ids(&env.sim, case);
    let dups = duplicated(&ids);
    assert!(dups.is_empty(), "{what}: duplicate link records: {dups:?}");
    assert_eq!(
        ids.len() as u64,
        created_in_history(env).await,
        "{what}: records vs. creations reported"
    );
    assert!(
        ids.len() >= CLIPS * 9 / 10,
        "{what}: only {} links for {CLIPS} clips",
        ids.len()
    );
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{what}: a further sync writes: {again}");
}

async fn n_overlapping_syncs_never_duplicate(case: Case, n: usize) {
    let env = start(case).await;
    let outs = overlapping_syncs(&env, n).await;
    assert_ok_or_busy(&outs);
    let reports: Vec<Value> = outs
        .iter()
        .filter(|o| o.status.success())
        .map(|o| parse_report(&o.stdout))
        .collect();
    let created: Vec<u64> = reports
        .iter()
        .map(|r| r["links_created"].as_u64().unwrap_or(0))
        .collect();
    let left: u64 = reports
        .iter()
        .map(|r| r["left_to_others"].as_u64().unwrap_or(0))
        .sum();
    eprintln!(
        "{} × {n}: links created per process {created:?}, {left} clips left to another process",
        case.job
    );
    assert_each_link_once(&env, case, &format!("{} × {n}", case.job)).await;
}

#[tokio::test]
async fn two_syncs_on_one_sqlite_state_windchill() {
    n_overlapping_syncs_never_duplicate(WINDCHILL, 2).await;
}

#[tokio::test]
async fn three_syncs_on_one_sqlite_state_windchill() {
    n_overlapping_syncs_never_duplicate(WINDCHILL, 3).await;
}

#[tokio::test]
async fn two_syncs_on_one_sqlite_state_teamcenter() {
    n_overlapping_syncs_never_duplicate(TEAMCENTER, 2).await;
}

#[tokio::test]
async fn three_syncs_on_one_sqlite_state_teamcenter() {
    n_overlapping_syncs_never_duplicate(TEAMCENTER, 3).await;
}

#[tokio::test]
async fn two_syncs_on_one_sqlite_state_threedx() {
    n_overlapping_syncs_never_duplicate(THREEDX, 2).await;
}

#[tokio::test]
async fn three_syncs_on_one_sqlite_state_threedx() {
    n_overlapping_syncs_never_duplicate(THREEDX, 3).await;
}

/// A sync killed (SIGKILL) while another works beside it: the survivor sees the killed process
/// is gone, frees its leases and finishes or abandons its journaled writes in the same run —
/// without waiting `lease_secs` (300 s) — and every link exists once.
#[tokio::test]
async fn a_killed_sync_leaves_its_work_to_the_one_beside_it() {
    let case = WINDCHILL;
    let env = start(case).await;
    let mut killed = env.spawn_sync(&[]);
    until(
        Duration::from_secs(120),
        "the first process's first links",
        || record_link_ids(&env.sim, case).len() >= 100,
    )
    .await;
    let survivor = env.spawn_sync(&[]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    killed.start_kill().expect("SIGKILL the first sync");
    let status = killed.wait().await.expect("reap the killed sync");
    assert!(!status.success(), "the first sync was killed: {status}");
    let made_at_kill = record_link_ids(&env.sim, case).len();
    let out = tokio::time::timeout(Duration::from_secs(600), survivor.wait_with_output())
        .await
        .expect("the survivor ended within 10 minutes")
        .expect("wait for the survivor");
    assert!(out.status.success(), "survivor: {}", text(&out));
    let report = parse_report(&out.stdout);
    eprintln!(
        "killed with {made_at_kill} links made; the survivor created {}, recovered {}",
        report["links_created"], report["recovered"]
    );
    assert_eq!(
        report["left_to_others"], 0,
        "nothing left to the killed process: {report}"
    );
    let ids = record_link_ids(&env.sim, case);
    let dups = duplicated(&ids);
    assert!(dups.is_empty(), "duplicate link records: {dups:?}");
    let after = env.sync(&[]).await;
    assert_eq!(
        writes(&after),
        0,
        "the survivor finished the killed process's work in its own run: {after}"
    );
    assert_eq!(record_link_ids(&env.sim, case).len(), ids.len());
}

/// The lease is checked again before each remote write it covers: while a sync waits on the DAM
/// (every Bynder answer is slow here), another process takes its leases
/// over (as when they ran out); the sync then makes none of the link creations those leases
/// covered and leaves the clips to their new holder. Once that holder lets go, the next sync
/// creates each link once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_taken_over_mid_run_stops_the_writes_it_covered() {
    let env = Env::start(SimConfig::default(), crate::util::fast()).await;
    env.sim.bynder.faults.set_plan(FaultPlan {
        rate: 1.0,
        kinds: vec![FaultKind::Latency(Duration::from_millis(300))],
        seed: 1,
    });
    let mut sync = env.spawn_sync(&[]);
    // Wait for the sync's leases, then take them over under another identity.
    let store = SqliteStore::open(&env.state_path()).expect("open state");
    let thief = "other@elsewhere/1/1/000000000000";
    let mut taken = 0;
    let started = std::time::Instant::now();
    while taken == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sync never leased its clips"
        );
        for (owner, _) in store
            .lease_holders("windchill", "bynder")
            .await
            .expect("holders")
        {
            store.release_leases(&owner).await.expect("release");
            taken += store
                .lease_work(thief, "windchill", "bynder", 10_000, 3600)
                .await
                .expect("take over")
                .len();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = tokio::time::timeout(Duration::from_secs(120), async {
        let status = sync.wait().await.expect("wait");
        let mut stdout = Vec::new();
        if let Some(mut o) = sync.stdout.take() {
            use tokio::io::AsyncReadExt;
            let _ = o.read_to_end(&mut stdout).await;
        }
        (status, stdout)
    })
    .await
    .expect("the sync ended");
    assert!(out.0.success(), "the sync: {}", out.0);
    let report = parse_report(&out.1);
    assert_eq!(
        report["links_created"], 0,
        "no creation under a lease taken over: {report}"
    );
    assert_eq!(
        report["left_to_others"].as_u64(),
        Some(taken as u64),
        "{report}"
    );
    assert_eq!(report["asset_writes"], 0, "no clip write either: {report}");
    assert!(
        report["quarantined"]
            .as_array()
            .is_some_and(|q| q.len() <= 1),
        "the clips were left, not quarantined (only XX-9999 is): {report}"
    );
    assert!(
        env.link_documents().is_empty(),
        "no link document was made under a lost lease"
    );

    // The other holder lets go: the next sync makes each link once.
    store.release_leases(thief).await.expect("release");
    env.sim.bynder.faults.clear();
    let next = env.sync(&[]).await;
    assert_eq!(next["links_created"], 5, "{next}");
    let ids = record_link_ids(&env.sim, WINDCHILL);
    assert!(duplicated(&ids).is_empty(), "{ids:?}");
    assert_eq!(ids.len(), 5);
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{again}");
}

/// A daemon whose job runs at start, and a sync started by hand while it works.
async fn daemon_beside_a_manual_sync(case: Case) {
    let env = start(case).await;
    // Runs at start, then not again during the test (1 January, midnight).
    add_job(&env.config, case.job, "0 0 0 1 1 *", true);
    let daemon = Daemon::start(&env.config, &["--log-level", "info"], &[]).await;
    until(Duration::from_secs(120), "the daemon's first links", || {
        !record_link_ids(&env.sim, case).is_empty()
    })
    .await;
    let manual = env.run(&["sync", "--json"], &[], &[]).await;
    assert_ok_or_busy(std::slice::from_ref(&manual));
    daemon
        .wait_for_run(case.job, Duration::from_secs(300))
        .await;
    daemon.signal("TERM");
    let (code, err, _) = daemon.wait(Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "daemon:\n{err}");
    assert_each_link_once(&env, case, &format!("{}: daemon + manual sync", case.job)).await;
}

#[tokio::test]
async fn daemon_beside_a_manual_sync_windchill() {
    daemon_beside_a_manual_sync(WINDCHILL).await;
}

#[tokio::test]
async fn daemon_beside_a_manual_sync_teamcenter() {
    daemon_beside_a_manual_sync(TEAMCENTER).await;
}

#[tokio::test]
async fn daemon_beside_a_manual_sync_threedx() {
    daemon_beside_a_manual_sync(THREEDX).await;
}

/// Two overlapping syncs on a shared PostgreSQL state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_on_one_postgres_state() {
    let Some(base) = crate::util::database_url() else {
        return;
    };
    let schema = TestSchema::create(&base).await;
    let env = start(WINDCHILL).await;
    set_state(&env.config, &schema.url());
    let outs = overlapping_syncs(&env, 2).await;
    assert_ok_or_busy(&outs);
    assert_each_link_once(&env, WINDCHILL, "windchill-bynder × 2 on PostgreSQL").await;
    schema.drop_schema().await;
}
