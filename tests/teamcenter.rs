//! Teamcenter ⇄ Bynder end to end: the foundation's properties (idempotent second run, crash
//! and restart without duplicates, incremental runs with a quiet run of a few requests,
//! convergence under 20% injected faults) on the `teamcenter-bynder` job, plus Teamcenter's
//! own: a session dropped mid-run costs exactly one extra login, a partial error on one element
//! of a batched call quarantines that record only, and passwords never reach a log.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{FaultKind, FaultPlan, GeneratedPlm, Sim, SimConfig};
use serde_json::Value;

use crate::util::{
    BETWEEN_RUNS, CRASH_ENV, Env, count, fast, list, parse_report, requests, sync_until_ok, text,
    try_sync, writes,
};

/// The job under test.
const JOB: &str = "teamcenter-bynder";
// ---- helpers ------------------------------------------------------------------------------

/// Starts the emulators and points the tests' `sync` at the Teamcenter job.
async fn start(cfg: SimConfig, opts: ConfigOptions) -> Env {
    let mut env = Env::start(cfg, opts).await;
    env.job = Some(JOB);
    env
}

/// `parts` generated Teamcenter item revisions and `clips` generated clips about them.
fn seeded(clips: usize, parts: usize, seed: u64) -> SimConfig {
    SimConfig {
        parts,
        clips,
        seed,
        story: false,
        generated_plm: GeneratedPlm::Teamcenter,
        ..SimConfig::default()
    }
}

/// One link as Teamcenter holds it: (item id, revision, asset id, link id), through the GRM
/// relations from item revisions to records.
type LinkKey = (String, String, String, String);

fn link_keys(sim: &Sim) -> BTreeSet<LinkKey> {
    let tc = &sim.teamcenter;
    let revs: BTreeMap<String, (String, String)> = tc
        .revisions()
        .into_iter()
        .map(|r| (r.uid, (r.item_id, r.revision)))
        .collect();
    let forms: BTreeMap<String, BTreeMap<String, String>> =
        tc.forms().into_iter().map(|f| (f.uid, f.props)).collect();
    tc.relations()
        .iter()
        .filter_map(|r| {
            let props = forms.get(&r.secondary)?;
            let (item, rev) = revs.get(&r.primary).cloned().unwrap_or_default();
            let prop = |k: &str| props.get(k).cloned().unwrap_or_default();
            Some((item, rev, prop("ptp_asset_id"), prop("ptp_link_id")))
        })
        .filter(|k| !k.3.is_empty())
        .collect()
}

/// Each linked record's properties by link id (names and the emulator's address left out).
fn record_values(sim: &Sim) -> BTreeMap<String, BTreeMap<String, String>> {
    sim.teamcenter
        .forms()
        .into_iter()
        .filter_map(|f| {
            let id = f
                .props
                .get("ptp_link_id")
                .filter(|s| !s.is_empty())?
                .clone();
            let props = f
                .props
                .into_iter()
                .filter(|(k, _)| k != "object_name")
                .map(|(k, v)| (k, v.replace(&sim.bynder.root, "{bynder}")))
                .collect();
            Some((id, props))
        })
        .collect()
}

/// Each clip's metaproperty values by asset id.
fn asset_values(sim: &Sim) -> BTreeMap<String, Value> {
    sim.bynder_asset_ids()
        .into_iter()
        .filter_map(|id| {
            let a = sim.bynder_asset(&id)?;
            let props: serde_json::Map<String, Value> = a
                .as_object()?
                .iter()
                .filter(|(k, _)| k.starts_with("property_"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Some((id, Value::Object(props)))
        })
        .collect()
}

/// Nothing duplicated: link ids unique across records, `expected` of them, each record
/// related to exactly one item revision.
fn assert_no_duplicates(sim: &Sim, expected: usize, what: &str) {
    let ids: Vec<String> = sim
        .teamcenter
        .forms()
        .into_iter()
        .filter_map(|f| f.props.get("ptp_link_id").cloned())
        .filter(|s| !s.is_empty())
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{what}: duplicate records: {ids:?}"
    );
    assert_eq!(ids.len(), expected, "{what}: record count");
    let mut related: BTreeMap<String, usize> = BTreeMap::new();
    for r in sim.teamcenter.relations() {
        *related.entry(r.secondary).or_default() += 1;
    }
    assert!(
        related.values().all(|&n| n == 1),
        "{what}: a record is related more than once: {related:?}"
    );
    assert_eq!(link_keys(sim).len(), expected, "{what}: related records");
}

/// The same links, record values and clip metadata as the fault-free twin.
fn assert_same_state(env: &Env, twin: &Env, what: &str) {
    assert_eq!(
        link_keys(&env.sim),
        link_keys(&twin.sim),
        "{what}: links differ"
    );
    assert_eq!(
        record_values(&env.sim),
        record_values(&twin.sim),
        "{what}: record values differ"
    );
    assert_eq!(
        asset_values(&env.sim),
        asset_values(&twin.sim),
        "{what}: clip metadata differs"
    );
}

/// A fault-free run on a fresh sim of `cfg`: the reference state.
async fn reference(cfg: &SimConfig) -> Env {
    let twin = start(cfg.clone(), fast()).await;
    let report = twin.sync(&[]).await;
    assert!(list(&report, "quarantined").is_empty(), "{report}");
    twin
}

// ---- 1. idempotent second run --------------------------------------------------------------

/// The story's two Teamcenter clips become records related to ST-3001 rev B and ST-3002 rev A;
/// the Windchill job leaves them alone (out of its scope) and still quarantines the clip about
/// the unknown XX-9999; a second Teamcenter run writes nothing in a few requests.
#[tokio::test]
async fn story_links_and_second_run_is_idempotent() {
    let env = start(SimConfig::default(), fast()).await;
    let first = env.sync(&[]).await;
    assert_eq!(count(&first, "links_created"), 2, "{first}");
    assert!(list(&first, "quarantined").is_empty(), "{first}");
    let keys: BTreeSet<(String, String)> = link_keys(&env.sim)
        .into_iter()
        .map(|k| (k.0, k.1))
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            ("ST-3001".into(), "B".into()),
            ("ST-3002".into(), "A".into())
        ])
    );
    // Each run ends its session.
    let logouts = |env: &Env| {
        env.sim
            .teamcenter
            .emulator
            .log
            .count_matching(|e| e.path.ends_with("Session/logout"))
    };
    assert_eq!(logouts(&env), 1, "the first run logs out");
    let second = env.sync(&[]).await;
    assert_eq!(writes(&second), 0, "{second}");
    assert_eq!(logouts(&env), 2, "the second run logs out");
    assert!(requests(&second, "teamcenter") <= 5, "{second}");
    assert!(requests(&second, "bynder") <= 3, "{second}");
    assert_no_duplicates(&env.sim, 2, "second run");

    // The Windchill job on the same DAM: it quarantines XX-9999 and leaves the Teamcenter
    // clips (out of its scope) alone.
    let wc = env.sync(&["--job", "windchill-bynder"]).await;
    assert_eq!(count(&wc, "links_created"), 5, "{wc}");
    let q = list(&wc, "quarantined");
    assert_eq!(q.len(), 1, "{wc}");
    assert!(
        q[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("XX-9999"),
        "{wc}"
    );
    assert_no_duplicates(&env.sim, 2, "after the Windchill job");
}

// ---- 2. crash and restart ------------------------------------------------------------------

/// A process that dies right after its Nth remote write (before its local commit) leaves no
/// duplicate record or relation: the next run recovers by link id, the end state is the
/// fault-free one, and one more run writes nothing.
#[tokio::test]
async fn crash_after_remote_write_never_duplicates() {
    let cfg = seeded(250, 120, 7);
    let twin = reference(&cfg).await;
    let expected = link_keys(&twin.sim);
    assert_eq!(expected.len(), 250);
    let mut set = tokio::task::JoinSet::new();
    // The engine applies 200 clips at a time: their 200 metadata writes first (writes 1–200),
    // then their links in calls of 100 (writes 201–400). 1 lands on a metadata write, 205 and
    // 390 after a create call made 100 records of which only a few were committed locally.
    for n in [1u64, 205, 390] {
        let (cfg, expected) = (cfg.clone(), expected.clone());
        set.spawn(async move {
            let env = start(cfg, fast()).await;
            let nth = n.to_string();
            let out = try_sync(&env, &[(CRASH_ENV, &nth)]).await;
            assert!(
                !out.status.success(),
                "crash at write {n} must abort:\n{}",
                text(&out)
            );
            assert!(
                String::from_utf8_lossy(&out.stderr)
                    .contains(&format!("test crash after remote write {n}")),
                "{}",
                text(&out)
            );
            let (report, _) = sync_until_ok(&env, 3).await;
            let what = format!("crash after write {n}");
            assert_no_duplicates(&env.sim, expected.len(), &what);
            assert_eq!(link_keys(&env.sim), expected, "{what}");
            let again = env.sync(&[]).await;
            assert_eq!(writes(&again), 0, "{what}: {again}");
            report["recovered"].as_u64().unwrap_or(0)
        });
    }
    let mut recovered = 0;
    while let Some(r) = set.join_next().await {
        recovered += r.expect("crash case");
    }
    eprintln!("pending creates recovered by link id: {recovered}");
    assert!(recovered >= 1, "no crash left a pending create to recover");
}

// ---- 3. incremental ------------------------------------------------------------------------

/// 2,000 item revisions and 2,000 clips: one record per clip; the next run only absorbs
/// partreel's own writes; a run with nothing changed costs a few requests; ten clips edited in
/// Bynder update exactly ten records.
#[tokio::test]
async fn incremental_with_a_quiet_run() {
    let env = start(seeded(2_000, 2_000, 7), fast()).await;
    let started = Instant::now();
    let first = env.sync(&[]).await;
    eprintln!(
        "2k first sync: wall {:.1}s, requests {}",
        started.elapsed().as_secs_f64(),
        first["requests"]
    );
    assert_eq!(
        count(&first, "links_created"),
        2_000,
        "{}",
        first["quarantined"]
    );
    assert!(
        list(&first, "quarantined").is_empty(),
        "{}",
        first["quarantined"]
    );
    assert_no_duplicates(&env.sim, 2_000, "first run");
    // Batching: far fewer Teamcenter calls than links.
    assert!(
        requests(&first, "teamcenter") < 200,
        "{}",
        first["requests"]
    );

    env.sim.clock.advance(BETWEEN_RUNS);
    let second = env.sync(&[]).await;
    assert_eq!(writes(&second), 0, "{second}");
    assert!(
        list(&second, "conflicts").is_empty(),
        "{}",
        second["conflicts"]
    );

    env.sim.clock.advance(BETWEEN_RUNS);
    env.sim.teamcenter.emulator.log.clear();
    env.sim.bynder.log.clear();
    let third = env.sync(&[]).await;
    eprintln!("2k quiet sync: requests {}", third["requests"]);
    assert_eq!(writes(&third), 0, "{third}");
    // Login, the two change feeds, logout.
    assert!(requests(&third, "teamcenter") <= 5, "{}", third["requests"]);
    assert!(requests(&third, "bynder") <= 3, "{}", third["requests"]);
    assert!(
        env.sim.teamcenter.emulator.log.count() <= 5,
        "{:#?}",
        env.sim.teamcenter.emulator.log.entries()
    );

    let ids = env.sim.bynder_asset_ids();
    let edited: Vec<String> = ids.iter().step_by(200).take(10).cloned().collect();
    for (i, id) in edited.iter().enumerate() {
        env.sim
            .bynder_edit(id, "Prompt", Some(&format!("edited prompt number {i}")));
    }
    env.sim.clock.advance(BETWEEN_RUNS);
    let fourth = env.sync(&[]).await;
    assert_eq!(count(&fourth, "links_updated"), 10, "{fourth}");
    assert_eq!(count(&fourth, "links_created"), 0, "{fourth}");
    assert_eq!(count(&fourth, "links_retired"), 0, "{fourth}");
    let by_asset: BTreeMap<String, String> = env
        .sim
        .teamcenter
        .forms()
        .into_iter()
        .filter_map(|f| {
            Some((
                f.props.get("ptp_asset_id")?.clone(),
                f.props.get("ptp_prompt").cloned().unwrap_or_default(),
            ))
        })
        .collect();
    for (i, id) in edited.iter().enumerate() {
        assert_eq!(by_asset[id], format!("edited prompt number {i}"));
    }
}

// ---- 4. 20% faults -------------------------------------------------------------------------

/// With 20% of requests to Teamcenter and Bynder failing (5xx, 429, resets, cut-short
/// bodies), repeated runs converge to the fault-free twin's state.
#[tokio::test]
async fn twenty_percent_faults_converge() {
    let cfg = seeded(120, 60, 23);
    let twin = reference(&cfg).await;
    let env = start(
        cfg,
        ConfigOptions {
            fast_retries: true,
            ..fast()
        },
    )
    .await;
    let kinds = vec![
        FaultKind::ServerError(500),
        FaultKind::ServerError(503),
        FaultKind::RateLimited,
        FaultKind::Reset,
        FaultKind::Truncated,
    ];
    for (em, seed) in [(&env.sim.teamcenter.emulator, 101), (&env.sim.bynder, 202)] {
        em.faults.set_plan(FaultPlan {
            rate: 0.2,
            kinds: kinds.clone(),
            seed,
        });
    }
    let mut converged = None;
    let mut failed = 0;
    for run in 1..=10 {
        let out = try_sync(&env, &[]).await;
        let ids: Vec<String> = env
            .sim
            .teamcenter
            .forms()
            .into_iter()
            .filter_map(|f| f.props.get("ptp_link_id").cloned())
            .collect();
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "run {run} duplicated a record");
        if !out.status.success() {
            failed += 1;
            continue;
        }
        if writes(&parse_report(&out.stdout)) == 0 {
            converged = Some(run);
            break;
        }
    }
    let tc = env.sim.teamcenter.emulator.faults.counters();
    let by = env.sim.bynder.faults.counters();
    eprintln!(
        "faults: teamcenter {tc:?}, bynder {by:?}; converged at {converged:?}, {failed} failed"
    );
    assert!(converged.is_some(), "no zero-write run within 10 runs");
    env.sim.teamcenter.emulator.faults.clear();
    env.sim.bynder.faults.clear();
    assert_no_duplicates(&env.sim, link_keys(&twin.sim).len(), "after faults");
    assert_same_state(&env, &twin, "after faults");
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{again}");
}

// ---- 5. session expiry ---------------------------------------------------------------------

/// Teamcenter drops every session after the run's first write call: the run logs in again
/// (exactly once) and completes with the fault-free state.
#[tokio::test]
async fn session_expiry_mid_run_costs_one_login() {
    let cfg = seeded(400, 100, 31);
    let twin = reference(&cfg).await;
    let env = start(
        cfg,
        ConfigOptions {
            requests_per_sec: Some(200),
            ..ConfigOptions::default()
        },
    )
    .await;
    let child = env.spawn_sync(&[]);
    let waiting = tokio::spawn(child.wait_with_output());
    let started = Instant::now();
    loop {
        let writes_seen = env
            .sim
            .teamcenter
            .emulator
            .log
            .count_matching(|e| e.path.contains("createRelateAndSubmitObjects2"));
        if writes_seen >= 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no write call seen"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(env.sim.teamcenter.logins(), 1);
    env.sim.teamcenter.expire_sessions();
    let out = waiting.await.expect("join").expect("wait");
    assert!(out.status.success(), "{}", text(&out));
    let report = parse_report(&out.stdout);
    assert!(list(&report, "quarantined").is_empty(), "{report}");
    assert_eq!(
        env.sim.teamcenter.logins(),
        2,
        "exactly one extra login after the expiry"
    );
    assert_same_state(&env, &twin, "after the expiry");
}

// ---- 6. partial error ----------------------------------------------------------------------

/// 100 links created in one batched call, one element of which Teamcenter refuses with a
/// partial error: 99 linked, that one quarantined with Teamcenter's message.
#[tokio::test]
async fn partial_error_quarantines_one_of_a_hundred() {
    let env = start(seeded(100, 100, 13), fast()).await;
    let message = "Relation PromptToPart is not allowed: the revision is checked out by mueller";
    env.sim.teamcenter.fail_next_relation("37", message);
    let report = env.sync(&[]).await;
    assert_eq!(count(&report, "links_created"), 99, "{report}");
    let q = list(&report, "quarantined");
    assert_eq!(q.len(), 1, "{report}");
    // The clip is what is quarantined (until the PLM accepts its link).
    assert_eq!(q[0]["system"], "bynder", "{report}");
    assert!(
        q[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(message),
        "{report}"
    );
    assert_eq!(link_keys(&env.sim).len(), 99);
    let calls = env
        .sim
        .teamcenter
        .emulator
        .log
        .count_matching(|e| e.path.ends_with("/createRelations"));
    assert_eq!(calls, 1, "the 100 relations go in one call");
}

// ---- 7. passwords never logged -------------------------------------------------------------

/// A trace-level run, in JSON and in text, through faults and a session expiry that make the
/// retry and re-login paths log, never prints the Teamcenter password or a session id.
#[tokio::test]
async fn passwords_never_logged() {
    for format in ["json", "text"] {
        let env = start(
            seeded(150, 60, 41),
            ConfigOptions {
                fast_retries: true,
                requests_per_sec: Some(40),
                ..fast()
            },
        )
        .await;
        for (em, seed) in [(&env.sim.teamcenter.emulator, 5), (&env.sim.bynder, 6)] {
            em.faults.set_plan(FaultPlan {
                rate: 0.1,
                kinds: vec![
                    FaultKind::ServerError(500),
                    FaultKind::ServerError(503),
                    FaultKind::RateLimited,
                    FaultKind::Reset,
                ],
                seed,
            });
        }
        let mut cmd = tokio::process::Command::new(crate::util::bin());
        cmd.args(["--log-level", "trace", "--log-format", format])
            .args(["sync", "--json", "--job", JOB, "--config"])
            .arg(&env.config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let child = tokio::spawn(cmd.spawn().expect("spawn").wait_with_output());
        // Expire the session once the run has logged in and written.
        let started = Instant::now();
        let mut issued = Vec::new();
        loop {
            let seen = env
                .sim
                .teamcenter
                .emulator
                .log
                .count_matching(|e| e.path.contains("createRelateAndSubmitObjects2"));
            if seen >= 1 || child.is_finished() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no write call");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        issued.extend(env.sim.teamcenter.session_ids());
        env.sim.teamcenter.expire_sessions();
        let out = child.await.expect("join").expect("wait");
        issued.extend(env.sim.teamcenter.session_ids());
        let all = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.len() > 10_000,
            "trace logging produced little output ({format})"
        );
        assert!(
            env.sim.teamcenter.logins() >= 2,
            "the re-login path did not run"
        );
        let creds = env.sim.credentials();
        let mut forbidden = vec![
            creds.teamcenter_password.clone(),
            creds.bynder_client_secret.clone(),
        ];
        assert!(!issued.is_empty(), "no session seen");
        forbidden.extend(issued);
        for f in &forbidden {
            if let Some(at) = all.find(f.as_str()) {
                let from = all[..at].rfind('\n').map_or(0, |i| i + 1);
                let to = all[at..].find('\n').map_or(all.len(), |i| at + i);
                panic!("{format} log leaks {f:?}:\n{}", &all[from..to]);
            }
        }
        eprintln!("{format}: {} bytes of log, exit {}", all.len(), out.status);
    }
}
