//! Robustness: crashes, kills, injected faults, expired sessions, bad input and secrets in
//! logs. Every test runs the real binary against the in-process emulators.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use std::time::{Duration, Instant};

use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{FaultCounters, FaultKind, FaultPlan, RequestEntry, Sim, SimConfig};
use serde_json::Value;

use crate::util::{
    CRASH_ENV, Env, add_to_section, fast, parse_report, sync_until_ok, text, try_sync, writes,
};

// ---- helpers ----

/// splitmix64: a tiny seeded generator, so kill delays replay exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One link as the PLM holds it: (part number, revision, asset id, link id).
type LinkKey = (String, String, String, String);

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The links the Windchill emulator holds, through its describe links.
fn link_keys(sim: &Sim) -> BTreeSet<LinkKey> {
    let parts: BTreeMap<String, (String, String)> = sim
        .windchill_parts()
        .iter()
        .map(|p| (s(p, "ID"), (s(p, "Number"), s(p, "Revision"))))
        .collect();
    let docs: BTreeMap<String, Value> = sim
        .windchill_documents()
        .into_iter()
        .map(|d| (s(&d, "ID"), d))
        .collect();
    sim.windchill_describe_links()
        .iter()
        .filter_map(|(part, doc)| {
            let d = docs.get(doc)?;
            let (number, rev) = parts.get(part).cloned().unwrap_or_default();
            Some((number, rev, s(d, "AssetId"), s(d, "PartreelLinkId")))
        })
        .filter(|k| !k.3.is_empty())
        .collect()
}

/// Replaces each emulator's address so two sims compare equal.
fn normalize(sim: &Sim, v: &Value) -> Value {
    match v {
        Value::String(t) => Value::String(
            t.replace(&sim.bynder.root, "{bynder}")
                .replace(&sim.windchill.root, "{windchill}"),
        ),
        other => other.clone(),
    }
}

/// Each link document's field values by link id (ids, numbers and timestamps left out).
fn document_values(sim: &Sim) -> BTreeMap<String, BTreeMap<String, Value>> {
    // Ids and times are the emulator's own; the file hash is of bytes each emulator signs
    // afresh (C2PA manifests carry instance ids), so twins serve different bytes.
    const IGNORED: &[&str] = &[
        "ID",
        "Number",
        "Name",
        "LastModified",
        "CreatedOn",
        "FileSha256",
    ];
    sim.windchill_documents()
        .iter()
        .filter(|d| !s(d, "PartreelLinkId").is_empty())
        .map(|d| {
            let fields = d
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| !IGNORED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), normalize(sim, v)))
                .collect();
            (s(d, "PartreelLinkId"), fields)
        })
        .collect()
}

/// Each clip's metaproperty values by asset id.
fn asset_values(sim: &Sim) -> BTreeMap<String, BTreeMap<String, Value>> {
    sim.bynder_asset_ids()
        .into_iter()
        .filter_map(|id| {
            let a = sim.bynder_asset(&id)?;
            let props = a
                .as_object()?
                .iter()
                .filter(|(k, _)| k.starts_with("property_"))
                .map(|(k, v)| (k.clone(), normalize(sim, v)))
                .collect();
            Some((id, props))
        })
        .collect()
}

/// Nothing duplicated: link ids unique, `expected` of them, each document attached to exactly
/// one part revision.
fn assert_no_duplicates(env: &Env, expected: usize, what: &str) {
    let docs = env.link_documents();
    let ids: Vec<String> = docs.iter().map(|d| s(d, "PartreelLinkId")).collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{what}: duplicate link documents: {ids:?}"
    );
    assert_eq!(ids.len(), expected, "{what}: link document count");
    let mut attached: BTreeMap<String, usize> = BTreeMap::new();
    for (_, doc) in env.sim.windchill_describe_links() {
        *attached.entry(doc).or_default() += 1;
    }
    for d in &docs {
        let id = s(d, "ID");
        assert_eq!(
            attached.get(&id).copied().unwrap_or(0),
            1,
            "{what}: document {id} ({}) must be attached exactly once",
            s(d, "PartreelLinkId")
        );
    }
}

/// The final state equals the fault-free run's: same links, same document values, same clip
/// metadata.
fn assert_same_state(env: &Env, twin: &Env, what: &str) {
    assert_eq!(
        link_keys(&env.sim),
        link_keys(&twin.sim),
        "{what}: links differ"
    );
    let (ours, theirs) = (document_values(&env.sim), document_values(&twin.sim));
    if ours != theirs {
        // Name only what differs: whole documents would bury it.
        let mut diffs = Vec::new();
        for (id, doc) in &ours {
            match theirs.get(id) {
                None => diffs.push(format!("{id}: missing in the fault-free run")),
                Some(t) => {
                    for (k, v) in doc {
                        if t.get(k) != Some(v) {
                            diffs.push(format!("{id}.{k}: {v:?} vs {:?}", t.get(k)));
                        }
                    }
                    for k in t.keys().filter(|k| !doc.contains_key(*k)) {
                        diffs.push(format!("{id}.{k}: absent vs {:?}", t.get(k)));
                    }
                }
            }
        }
        diffs.truncate(20);
        panic!("{what}: link document values differ:\n{}", diffs.join("\n"));
    }
    assert_eq!(
        asset_values(&env.sim),
        asset_values(&twin.sim),
        "{what}: clip metadata differs"
    );
}

/// A fault-free run on a fresh sim of `cfg`: the reference state.
async fn reference(cfg: &SimConfig) -> Env {
    let twin = Env::start(cfg.clone(), fast()).await;
    twin.sync(&[]).await;
    twin
}

fn seeded(clips: usize, parts: usize, seed: u64) -> SimConfig {
    SimConfig {
        parts,
        clips,
        seed,
        ..SimConfig::default()
    }
}

fn total(c: &FaultCounters) -> u64 {
    c.server_errors + c.rate_limited + c.resets + c.truncated + c.latency + c.malformed
}

/// Requests to one path suffix in a log.
fn count_path(log: &[RequestEntry], suffix: &str) -> usize {
    log.iter().filter(|e| e.path.ends_with(suffix)).count()
}

/// Windchill link documents created 4 to a `$batch`, so a run of a few dozen clips makes
/// several Windchill writes and [`expire_mid_run`] can land between two of them.
fn small_windchill_batches(env: &Env) {
    add_to_section(&env.config, "systems.windchill", "batch_size = 4");
}

/// Expires each emulator's sessions once the run has made `after` writes to it (Windchill
/// document creations or batches of them, Bynder metadata writes), so each system meets the expiry mid-run;
/// returns the credentials that were live just before (they are forgotten on expiry).
async fn expire_mid_run(env: &Env, after: usize) -> Vec<String> {
    let started = Instant::now();
    let mut issued = Vec::new();
    let (mut wc_done, mut by_done) = (false, false);
    while !(wc_done && by_done) {
        let wc = env
            .sim
            .windchill
            .log
            .count_matching(crate::util::creates_link_documents);
        let by = env
            .sim
            .bynder
            .log
            .count_matching(|e| e.method == "POST" && e.path.starts_with("/api/v4/media/"));
        if !wc_done && wc >= after {
            issued.extend(env.sim.issued_credentials());
            env.sim.windchill.faults.expire_sessions();
            wc_done = true;
        }
        if !by_done && by >= after {
            issued.extend(env.sim.issued_credentials());
            env.sim.bynder.faults.expire_sessions();
            by_done = true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "writes seen: windchill {wc}, bynder {by}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    issued
}

// ---- 1. crash between remote write and local commit ----

/// Crash-abort after the Nth remote write, then rerun: recovery finds the pending create by
/// its link id; the end state has every link exactly once, each document attached once, and
/// one more sync writes nothing.
async fn crash_then_recover(cfg: &SimConfig, n: u64, expected: &BTreeSet<LinkKey>) -> u64 {
    let env = Env::start(cfg.clone(), fast()).await;
    let nth = n.to_string();
    let out = try_sync(&env, &[(CRASH_ENV, &nth)]).await;
    assert!(
        !out.status.success(),
        "crash at write {n} must abort:\n{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains(&format!("test crash after remote write {n}")),
        "{}",
        text(&out)
    );
    // `partreel runs` tells the killed run for what it is: its job, and the writes its
    // journal completed (never `running?` with a blank job and zero counts).
    let runs = env.run(&["runs", "--json"], &[], &[]).await;
    assert!(runs.status.success(), "{}", text(&runs));
    let runs: Vec<Value> = serde_json::from_slice(&runs.stdout).expect("runs JSON");
    let killed = &runs[0];
    assert_eq!(killed["state"], "killed", "{killed}");
    assert_eq!(killed["report"]["job"], "windchill-bynder", "{killed}");
    let journaled: u64 = killed["journal_writes"]
        .as_object()
        .expect("journal writes of a run without an end")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert!(
        journaled <= n,
        "{journaled} writes journaled for a crash at write {n}"
    );
    if n >= 57 {
        assert!(
            journaled >= n / 4,
            "{journaled} writes journaled for a crash at write {n}"
        );
    }
    let table = env.run(&["runs"], &[], &[]).await;
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("killed") && l.ends_with("windchill-bynder")),
        "{table}"
    );
    let (report, _) = sync_until_ok(&env, 3).await;
    let recovered = report["recovered"].as_u64().unwrap_or(0);
    let what = format!("crash after write {n}");
    assert_no_duplicates(&env, expected.len(), &what);
    assert_eq!(&link_keys(&env.sim), expected, "{what}");
    let again = env.sync(&[]).await;
    assert_eq!(
        writes(&again),
        0,
        "{what}: a further sync must write nothing: {again}"
    );
    recovered
}

/// A process that dies right after a remote write and before its local commit never leaves a
/// duplicate link document behind, at several points of the story and of a 200-clip seed.
#[tokio::test]
async fn crash_after_remote_write_never_duplicates() {
    let story = SimConfig::default();
    let story_ref = reference(&story).await;
    let expected = link_keys(&story_ref.sim);
    assert_eq!(expected.len(), 5);
    let mut set = tokio::task::JoinSet::new();
    for n in [1, 2, 3, 5, 8] {
        let (cfg, exp) = (story.clone(), expected.clone());
        set.spawn(async move { crash_then_recover(&cfg, n, &exp).await });
    }
    let big = seeded(200, 40, 7);
    let big_ref = reference(&big).await;
    let big_expected = link_keys(&big_ref.sim);
    assert!(big_expected.len() > 133, "{}", big_expected.len());
    for n in [1, 57, 133] {
        let (cfg, exp) = (big.clone(), big_expected.clone());
        set.spawn(async move { crash_then_recover(&cfg, n, &exp).await });
    }
    let mut recovered = 0;
    while let Some(r) = set.join_next().await {
        recovered += r.expect("crash case");
    }
    // At least some crashes hit a link creation, which the next run found by its link id.
    eprintln!("pending creates recovered by link id: {recovered}");
    assert!(recovered >= 1, "no crash left a pending create to recover");
}

// ---- 2. SIGKILL at random moments ----

/// A short, deterministic extra delay for the kills that follow a link creation.
fn rng_delay(round: u64) -> u64 {
    (round * 37) % 60
}

/// SIGKILL at seeded random moments of a 300-clip sync, then a normal run: nothing duplicated,
/// every document attached once, and the end state equals a fault-free run on an identical sim.
#[tokio::test]
async fn sigkill_at_random_moments_converges_to_fault_free_state() {
    let cfg = seeded(300, 60, 11);
    let twin = reference(&cfg).await;
    let env = Env::start(
        cfg,
        ConfigOptions {
            requests_per_sec: Some(200),
            ..fast()
        },
    )
    .await;
    let mut rng = Rng(0x5eed_0002);
    let expected = link_keys(&twin.sim).len();
    let mut killed = 0;
    // Whether a kill landed while link documents were being created.
    let mut mid_links = false;
    for round in 0..6 {
        let before = env.link_documents().len();
        let mut child = env.spawn_sync(&[]);
        let delay = Duration::from_millis(rng.range(200, 2500));
        // Odd rounds kill a few milliseconds after the run has created a link document, so
        // some kills land mid-creation whatever the run spends first (file checks, metadata
        // writes); even rounds kill at a random moment.
        let trigger = async {
            if round % 2 == 1 {
                while env.link_documents().len() <= before {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(Duration::from_millis(rng_delay(round))).await;
            } else {
                tokio::time::sleep(delay).await;
            }
        };
        tokio::select! {
            status = child.wait() => {
                let status = status.expect("wait");
                eprintln!("round {round}: finished before the kill ({status})");
                break;
            }
            () = trigger => {
                child.start_kill().expect("SIGKILL");
                let status = child.wait().await.expect("wait");
                assert!(!status.success());
                killed += 1;
                let docs = env.link_documents().len();
                mid_links |= docs > 0 && docs < expected;
                eprintln!("round {round}: killed after {delay:?}, {docs} link documents so far");
            }
        }
    }
    assert!(
        killed >= 3,
        "runs ended too early to be killed ({killed} kills)"
    );
    let (report, _) = sync_until_ok(&env, 2).await;
    eprintln!("after {killed} kills: {report}");
    assert!(mid_links, "no kill landed during link creation");
    assert_no_duplicates(&env, expected, "after kills");
    assert_same_state(&env, &twin, "after kills");
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{again}");
}

// ---- 3. 20% faults converge ----

/// With 20% of requests to both systems failing (5xx, 429, resets, cut-short bodies), repeated
/// runs converge: a run succeeds with zero writes within ten, and once faults stop the state is
/// the fault-free one — nothing duplicated, nothing lost.
#[tokio::test]
async fn twenty_percent_faults_converge() {
    let cfg = seeded(60, 20, 23);
    let twin = reference(&cfg).await;
    let env = Env::start(
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
    for (em, seed) in [(&env.sim.windchill, 101), (&env.sim.bynder, 202)] {
        em.faults.set_plan(FaultPlan {
            rate: 0.2,
            kinds: kinds.clone(),
            seed,
        });
    }
    let expected = link_keys(&twin.sim).len();
    let mut converged = None;
    let mut failed = 0;
    for run in 1..=10 {
        let out = try_sync(&env, &[]).await;
        // A failed run is allowed; it must never leave a duplicate behind.
        let docs = env.link_documents();
        let ids: BTreeSet<String> = docs.iter().map(|d| s(d, "PartreelLinkId")).collect();
        assert_eq!(
            ids.len(),
            docs.len(),
            "run {run} duplicated a link document"
        );
        if !out.status.success() {
            failed += 1;
            continue;
        }
        let report = parse_report(&out.stdout);
        if writes(&report) == 0 {
            converged = Some(run);
            break;
        }
    }
    let wc = env.sim.windchill.faults.counters();
    let by = env.sim.bynder.faults.counters();
    eprintln!(
        "faults injected: windchill {} ({wc:?}), bynder {} ({by:?}); converged at run {converged:?}, {failed} runs failed",
        total(&wc),
        total(&by)
    );
    assert!(converged.is_some(), "no zero-write run within 10 runs");
    assert!(total(&wc) > 0 && total(&by) > 0);
    env.sim.windchill.faults.clear();
    env.sim.bynder.faults.clear();
    assert_no_duplicates(&env, expected, "after faults");
    assert_same_state(&env, &twin, "after faults");
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{again}");
}

// ---- 4. session / token expiry mid-run ----

/// Each emulator drops its sessions in the middle of a run (after its third write, so the
/// token and nonce cached in the process are revoked while writes are in flight): the run
/// completes with the fault-free state, asking for exactly one new OAuth token and exactly one
/// new CSRF nonce however many concurrent requests met the expiry.
#[tokio::test]
async fn session_expiry_mid_run_renews_once() {
    let cfg = seeded(40, 10, 31);
    let twin = reference(&cfg).await;
    let env = Env::start(
        cfg,
        ConfigOptions {
            requests_per_sec: Some(40),
            ..fast()
        },
    )
    .await;
    add_to_section(&env.config, "sync", "page_size = 10");
    small_windchill_batches(&env);
    let child = env.spawn_sync(&[]);
    expire_mid_run(&env, 3).await;
    let out = child.wait_with_output().await.expect("wait");
    assert!(out.status.success(), "{}", text(&out));
    let wc = env.sim.windchill.log.entries();
    let by = env.sim.bynder.log.entries();
    let rejected_wc = wc.iter().filter(|e| e.status == 400).count();
    let rejected_by = by.iter().filter(|e| e.status == 401).count();
    assert!(
        rejected_wc >= 1,
        "expiry was not noticed by Windchill writes"
    );
    assert!(rejected_by >= 1, "expiry was not noticed by Bynder calls");
    assert_eq!(count_path(&wc, "/PTC/GetCSRFToken()"), 2, "nonce requests");
    assert_eq!(count_path(&by, "/oauth2/token"), 2, "token requests");
    assert_no_duplicates(&env, link_keys(&twin.sim).len(), "after expiry");
    assert_same_state(&env, &twin, "after expiry");
}

/// The OAuth token is revoked between two pages of the Bynder clip feed: the next page gets a
/// 401, one new token is fetched, the feed goes on from where it was and the run completes.
#[tokio::test]
async fn token_expiry_between_pages_renews_once() {
    let cfg = seeded(40, 10, 37);
    let twin = reference(&cfg).await;
    let env = Env::start(
        cfg,
        ConfigOptions {
            requests_per_sec: Some(50),
            ..fast()
        },
    )
    .await;
    add_to_section(&env.config, "sync", "page_size = 5");
    let child = env.spawn_sync(&[]);
    let is_page = |e: &RequestEntry| e.method == "GET" && e.path == "/api/v4/media/";
    let started = Instant::now();
    while env.sim.bynder.log.count_matching(is_page) < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no media page read"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    env.sim.bynder.faults.expire_sessions();
    let pages_before = env.sim.bynder.log.count_matching(is_page);
    let out = child.wait_with_output().await.expect("wait");
    assert!(out.status.success(), "{}", text(&out));
    let by = env.sim.bynder.log.entries();
    let pages = by.iter().filter(|e| is_page(e)).count();
    assert!(pages > pages_before, "the expiry came after the last page");
    assert!(
        by.iter().any(|e| is_page(e) && e.status == 401),
        "a media page must have met the revoked token"
    );
    assert_eq!(count_path(&by, "/oauth2/token"), 2, "token requests");
    assert_no_duplicates(&env, link_keys(&twin.sim).len(), "after expiry");
    assert_same_state(&env, &twin, "after expiry");
}

/// Sessions expired before a run make no difference: each run signs in once.
#[tokio::test]
async fn session_expiry_between_runs_is_harmless() {
    let env = Env::start(SimConfig::default(), fast()).await;
    env.sync(&[]).await;
    env.sim.windchill.faults.expire_sessions();
    env.sim.bynder.faults.expire_sessions();
    env.sim.bynder_edit(
        &first_linked_asset(&env),
        "Campaign",
        Some("Autumn Relaunch"),
    );
    env.sim.windchill.log.clear();
    env.sim.bynder.log.clear();
    let report = env.sync(&[]).await;
    assert!(writes(&report) >= 1, "{report}");
    assert_eq!(
        count_path(&env.sim.bynder.log.entries(), "/oauth2/token"),
        1
    );
    assert!(count_path(&env.sim.windchill.log.entries(), "/PTC/GetCSRFToken()") <= 1);
}

fn first_linked_asset(env: &Env) -> String {
    env.link_documents()
        .first()
        .map(|d| s(d, "AssetId"))
        .expect("a linked clip")
}

// ---- 5. bad input ----

/// A Bynder media page that is not JSON fails the run with an error naming Bynder and what was
/// read; nothing is lost: the next run completes the fault-free state.
#[tokio::test]
async fn malformed_media_page_fails_clearly_and_loses_nothing() {
    let twin = reference(&SimConfig::default()).await;
    let env = Env::start(SimConfig::default(), fast()).await;
    env.sim.bynder.faults.set_malformed_next(1);
    let out = try_sync(&env, &[]).await;
    let err = stderr(&out);
    eprintln!("malformed page: {}", text(&out));
    if out.status.success() {
        // A run may also retry the read; then it must have completed in full.
        assert_eq!(env.sim.bynder.faults.counters().malformed, 1);
    } else {
        let lower = err.to_lowercase();
        assert!(
            lower.contains("bynder"),
            "error must name the system:\n{err}"
        );
        assert!(
            lower.contains("media"),
            "error must name what was read:\n{err}"
        );
    }
    env.sync(&[]).await;
    assert_no_duplicates(&env, 5, "after malformed page");
    assert_same_state(&env, &twin, "after malformed page");
}

/// A clip whose VisibleWatermark holds a word the boolean mapping does not know is
/// quarantined with a reason naming the field and the value; the other clips sync.
#[tokio::test]
async fn malformed_record_is_quarantined_others_sync() {
    let twin = reference(&SimConfig::default()).await;
    // A clip with exactly one link in the fault-free run.
    let mut per_asset: BTreeMap<String, usize> = BTreeMap::new();
    for (_, _, asset, _) in link_keys(&twin.sim) {
        *per_asset.entry(asset).or_default() += 1;
    }
    let bad = per_asset
        .iter()
        .find(|(_, n)| **n == 1)
        .map(|(a, _)| a.clone())
        .expect("a clip with one link");
    let env = Env::start(SimConfig::default(), fast()).await;
    env.sim.bynder_edit(&bad, "VisibleWatermark", Some("Maybe"));
    let report = env.sync(&[]).await;
    assert_eq!(report["links_created"], 4, "{report}");
    let q = report["quarantined"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let entry = q
        .iter()
        .find(|e| e["record"] == bad.as_str())
        .unwrap_or_else(|| panic!("{bad} not quarantined: {report}"));
    let reason = entry["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("VisibleWatermark") || reason.contains("visible_watermark"),
        "reason must name the field: {reason}"
    );
    assert!(
        reason.contains("Maybe"),
        "reason must name the value: {reason}"
    );
    let mut expected = link_keys(&twin.sim);
    expected.retain(|k| k.2 != bad);
    assert_eq!(link_keys(&env.sim), expected);
}

/// Checks that stderr names `file` with a `line:column` position.
fn assert_names_position(out: &Output, file: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "{}", text(out));
    let at = err
        .find(file)
        .unwrap_or_else(|| panic!("stderr must name {file}:\n{err}"));
    let rest = &err[at + file.len()..];
    let pos = rest.trim_start_matches(':');
    let digits = |t: &str| t.chars().take_while(char::is_ascii_digit).count();
    let line = digits(pos);
    let has_col = line > 0 && pos[line..].starts_with(':') && digits(&pos[line + 1..]) > 0;
    assert!(has_col, "stderr must give line:column after {file}:\n{err}");
}

/// A mapping naming an unknown canonical field, or an unknown transform, stops `sync` and
/// `mappings validate` with the file and line:column of the mistake.
#[tokio::test]
async fn bad_mapping_file_is_refused_with_position() {
    let env = Env::start(SimConfig::default(), fast()).await;
    let mapping = env.dir.path().join("mappings/bynder.toml");
    let original = std::fs::read_to_string(&mapping).expect("read mapping");
    let cases = [
        (
            "unknown canonical field",
            original.replacen("canonical = \"campaign\"", "canonical = \"campaing\"", 1),
            "campaing",
        ),
        (
            "unknown transform",
            original.replacen(
                "transforms = [\"trim\", \"upper\"]",
                "transforms = [\"trim\", \"shout\"]",
                1,
            ),
            "shout",
        ),
    ];
    for (what, bad, word) in cases {
        assert_ne!(bad, original, "{what}: the test edit did not apply");
        std::fs::write(&mapping, &bad).expect("write mapping");
        let out = try_sync(&env, &[]).await;
        eprintln!("{what}: {}", stderr(&out));
        assert_names_position(&out, "bynder.toml");
        assert!(stderr(&out).contains(word), "{what}: {}", text(&out));
        let m = mapping.display().to_string();
        let out = env.run(&["mappings", "validate", &m], &[], &[]).await;
        // `run` appends --config; validate takes it too.
        assert_names_position(&out, "bynder.toml");
        assert!(
            stderr(&out).contains(word) || String::from_utf8_lossy(&out.stdout).contains(word),
            "{what}: {}",
            text(&out)
        );
    }
    assert!(env.link_documents().is_empty(), "nothing may be written");
}

/// A secret that cannot be read stops the run with an error naming the key and the file or
/// environment variable, and never the value of any other secret.
#[tokio::test]
async fn missing_secret_names_key_and_source() {
    let env = Env::start(SimConfig::default(), fast()).await;
    // A missing file.
    let secret = env.dir.path().join("secrets/windchill_password");
    std::fs::remove_file(&secret).expect("remove secret");
    let out = try_sync(&env, &[]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(err.contains("password"), "must name the key:\n{err}");
    eprintln!("missing secret: {err}");
    assert!(
        err.contains("secrets/windchill_password"),
        "must name the file:\n{err}"
    );
    // An unset environment variable.
    let config = std::fs::read_to_string(&env.config).expect("read config");
    let edited = config.replacen(
        "password = { file = \"secrets/windchill_password\" }",
        "password = { env = \"PARTREEL_TEST_UNSET_VAR\" }",
        1,
    );
    assert_ne!(edited, config);
    std::fs::write(&env.config, edited).expect("write config");
    let out = try_sync(&env, &[]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(err.contains("password"), "must name the key:\n{err}");
    eprintln!("unset variable: {err}");
    assert!(
        err.contains("PARTREEL_TEST_UNSET_VAR"),
        "must name the variable:\n{err}"
    );
    assert!(env.link_documents().is_empty());
}

/// An unknown configuration key is refused by name.
#[tokio::test]
async fn unknown_config_key_is_named() {
    let env = Env::start(SimConfig::default(), fast()).await;
    add_to_section(&env.config, "sync", "concurrencyy = 4");
    let out = try_sync(&env, &[]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    eprintln!("unknown key: {err}");
    assert!(err.contains("concurrencyy"), "must name the key:\n{err}");
    assert!(env.link_documents().is_empty());
}

/// A value of the wrong type or out of range in the file is refused, naming the file, the
/// line and the dotted key — `carry_forward = "yes"` and `overlap_secs = "45"` are text, not
/// a flag and a number; a negative page size names its key — while the same setting from the
/// environment, which is always text, is still read.
#[tokio::test]
async fn a_value_of_the_wrong_type_names_its_key_and_line() {
    let env = Env::start(SimConfig::default(), fast()).await;
    let original = std::fs::read_to_string(&env.config).expect("read config");
    let swap = |from: &str, to: &str| {
        let line = original
            .lines()
            .find(|l| l.starts_with(from))
            .unwrap_or_else(|| panic!("no {from} line"));
        std::fs::write(&env.config, original.replacen(line, to, 1)).expect("write");
        original
            .lines()
            .position(|l| l == line)
            .map(|i| i + 1)
            .unwrap_or_default()
    };
    let file = env.config.display().to_string();
    for (from, to, key) in [
        (
            "carry_forward = ",
            "carry_forward = \"yes\"",
            "sync.carry_forward",
        ),
        (
            "overlap_secs = ",
            "overlap_secs = \"45\"",
            "sync.overlap_secs",
        ),
    ] {
        let line = swap(from, to);
        let out = try_sync(&env, &[]).await;
        assert!(!out.status.success(), "{}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{file}:{line}:")) && err.contains(&format!("({key})")),
            "{to}: must name the file, line {line} and {key}:\n{err}"
        );
    }
    std::fs::write(&env.config, &original).expect("write");
    add_to_section(&env.config, "systems.windchill", "page_size = -1");
    let out = try_sync(&env, &[]).await;
    let err = stderr(&out);
    assert!(
        !out.status.success()
            && err.contains("(systems.windchill.page_size)")
            && err.contains("-1"),
        "{err}"
    );
    assert!(env.link_documents().is_empty());
    // From the environment, text is the only form a value can take.
    std::fs::write(&env.config, &original).expect("write");
    let out = try_sync(&env, &[("PARTREEL__SYNC__OVERLAP_SECS", "45")]).await;
    assert!(out.status.success(), "{}", text(&out));
}

// ---- 6. secrets never logged ----

/// Hex runs at least this long look like a token, nonce or session id (link ids carry 24 hex
/// digits, Bynder ids 16 at most).
const SECRET_HEX_RUN: usize = 32;

/// Long hex strings that are public record data, not secrets: 3DEXPERIENCE physical ids and
/// change stamps (32 hex digits) of the items and documents, AEM `dam:sha1` digests. The
/// configuration the sim writes syncs those emulators too, and their ids reach a trace log as
/// any record id does.
fn public_hex_values(sim: &Sim) -> Vec<String> {
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s)
                if s.len() >= SECRET_HEX_RUN && s.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                out.push(s.clone());
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            Value::Object(m) => m.values().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for v in sim.threedx.items().iter().chain(&sim.threedx.documents()) {
        collect(v, &mut out);
    }
    for path in sim.aem.asset_paths() {
        if let Some(a) = sim.aem.asset(&path) {
            let meta = serde_json::to_value(&a.metadata).unwrap_or_default();
            collect(&meta, &mut out);
        }
    }
    out
}

fn longest_hex_run(t: &str) -> (usize, String) {
    let mut best = (0, String::new());
    let mut cur = String::new();
    for c in t.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            cur.push(c);
        } else {
            if cur.len() > best.0 {
                best = (cur.len(), cur.clone());
            }
            cur.clear();
        }
    }
    best
}

fn b64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A full sync at trace level, in JSON and in text, through faults and an expiry that make
/// the retry and re-authentication paths log, never prints a password, client secret, Basic
/// credential, bearer token, CSRF nonce or session id.
#[tokio::test]
async fn secrets_never_logged() {
    for format in ["json", "text"] {
        let env = Env::start(
            seeded(30, 10, 41),
            ConfigOptions {
                fast_retries: true,
                requests_per_sec: Some(40),
                ..fast()
            },
        )
        .await;
        small_windchill_batches(&env);
        for (em, seed) in [(&env.sim.windchill, 5), (&env.sim.bynder, 6)] {
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
        cmd.args([
            "--log-level",
            "trace",
            "--log-format",
            format,
            "sync",
            "--json",
            "--config",
        ])
        .arg(&env.config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        // Trace output is large: read it while the run goes on, or the pipe fills and the
        // process blocks.
        let child = tokio::spawn(cmd.spawn().expect("spawn").wait_with_output());
        let issued_before = expire_mid_run(&env, 3).await;
        let out = child.await.expect("join").expect("wait");
        let mut issued = issued_before;
        issued.extend(env.sim.issued_credentials());
        let all = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.len() > 10_000,
            "trace logging produced little output ({format})"
        );
        let creds = env.sim.credentials();
        let mut forbidden = vec![
            creds.windchill_password.clone(),
            creds.bynder_client_secret.clone(),
            b64(format!("{}:{}", creds.windchill_username, creds.windchill_password).as_bytes()),
            b64(format!("{}:{}", creds.bynder_client_id, creds.bynder_client_secret).as_bytes()),
            "Bearer ".into(),
            "Basic ".into(),
            "NonceValue".into(),
            "JSESSIONID".into(),
            "access_token".into(),
        ];
        assert!(issued.len() >= 3, "credentials issued: {}", issued.len());
        forbidden.extend(issued);
        for f in &forbidden {
            if let Some(at) = all.find(f.as_str()) {
                let from = all[..at].rfind('\n').map_or(0, |i| i + 1);
                let to = all[at..].find('\n').map_or(all.len(), |i| at + i);
                panic!("{format} log leaks {f:?}:\n{}", &all[from..to]);
            }
        }
        // The re-authentication paths did run (and log) in this process.
        let tokens = count_path(&env.sim.bynder.log.entries(), "/oauth2/token");
        let nonces = count_path(&env.sim.windchill.log.entries(), "/PTC/GetCSRFToken()");
        assert!(
            tokens >= 2 && nonces >= 2,
            "no re-authentication: {tokens} tokens, {nonces} nonces"
        );
        let scrubbed = public_hex_values(&env.sim)
            .iter()
            .fold(all.clone(), |t, id| t.replace(id.as_str(), "#"));
        let (run, hex) = longest_hex_run(&scrubbed);
        assert!(
            run < SECRET_HEX_RUN,
            "{format} log holds a secret-like hex run {hex}"
        );
        eprintln!(
            "{format}: {} bytes of log, {} faults, exit {}",
            all.len(),
            total(&env.sim.windchill.faults.counters()) + total(&env.sim.bynder.faults.counters()),
            out.status
        );
    }
}

/// A DAM that stops sorting its change feed makes the sync fail loudly, naming the system and
/// the record, without moving the feed's cursor; once it sorts again, the next sync brings
/// every edit made in between to the PLM.
#[tokio::test]
async fn an_unsorted_feed_fails_the_sync_and_the_next_run_loses_nothing() {
    let env = Env::start(seeded(12, 4, 9), fast()).await;
    env.sync(&[]).await;
    // The clips linked in Windchill (the others belong to the other PLMs' jobs).
    let linked: BTreeSet<String> = env
        .link_documents()
        .iter()
        .filter_map(|d| d["AssetId"].as_str().map(str::to_string))
        .collect();
    assert!(linked.len() >= 3, "{linked:?}");
    let ids = env.sim.bynder_asset_ids();
    assert!(ids.len() >= 12, "{ids:?}");
    // Each clip edited a second after the one before: oldest-first by modification is the
    // creation order, the server's default (newest created first) is its reverse.
    for (i, id) in ids.iter().enumerate() {
        env.sim.clock.advance(Duration::from_secs(1));
        env.sim
            .bynder_edit(id, "Prompt", Some(&format!("unsorted feed edit {i}")));
    }
    env.sim.clock.advance(Duration::from_secs(600));

    env.sim.bynder_ignore_order(true);
    let out = try_sync(&env, &[]).await;
    assert!(
        !out.status.success(),
        "an unsorted feed must fail the run:\n{}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("bynder"), "names the system:\n{err}");
    assert!(err.contains("out of modified order"), "says what:\n{err}");
    assert!(err.contains("record "), "names the record:\n{err}");

    env.sim.bynder_ignore_order(false);
    let report = env.sync(&[]).await;
    assert!(
        report["links_updated"].as_u64().unwrap_or_default() >= linked.len() as u64,
        "{report}"
    );
    for (i, id) in ids.iter().enumerate() {
        if !linked.contains(id) {
            continue;
        }
        let want = format!("unsorted feed edit {i}");
        let docs: Vec<Value> = env
            .link_documents()
            .into_iter()
            .filter(|d| d["AssetId"].as_str() == Some(id.as_str()))
            .collect();
        assert!(!docs.is_empty(), "clip {id} has a link");
        for d in docs {
            assert_eq!(d["Prompt"].as_str(), Some(want.as_str()), "clip {id}: {d}");
        }
    }
}

/// `sync --record-wire DIR` writes every exchange of all five systems, with what a support
/// engineer needs (paths, statuses, record fields) and no password, client secret, Basic
/// credential, token, nonce, session id or ticket any emulator issued.
#[tokio::test]
async fn recorded_wire_holds_every_exchange_and_no_secret() {
    let mut env = Env::start(seeded(12, 4, 43), fast()).await;
    // Every job: all five systems.
    env.job = None;
    let dir = tempfile::tempdir().expect("tempdir");
    let wire = dir.path().join("wire");
    let wire_arg = wire.display().to_string();
    let out = env
        .run(&["sync", "--json"], &["--record-wire", &wire_arg], &[])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&wire).expect("wire dir") {
        let path = entry.expect("entry").path();
        let body = std::fs::read_to_string(&path).expect("read");
        files.push((
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string(),
            body,
        ));
    }
    let sent: usize = [
        &env.sim.windchill,
        &env.sim.bynder,
        &env.sim.teamcenter.emulator,
        &env.sim.threedx.emulator,
        &env.sim.aem.emulator,
    ]
    .iter()
    .map(|e| e.log.entries().len())
    .sum();
    assert!(
        files.len() >= sent,
        "{} files for {sent} requests the emulators saw",
        files.len()
    );
    let systems: BTreeSet<&str> = files
        .iter()
        .filter_map(|(n, _)| n.split('-').nth(1))
        .collect();
    for (system, em) in [
        ("windchill", &env.sim.windchill),
        ("bynder", &env.sim.bynder),
        ("teamcenter", &env.sim.teamcenter.emulator),
        ("threedx", &env.sim.threedx.emulator),
        ("aem", &env.sim.aem.emulator),
    ] {
        let seen = em.log.entries().len();
        let recorded = files
            .iter()
            .filter(|(n, _)| n.split('-').nth(1) == Some(system))
            .count();
        assert!(
            recorded >= seen,
            "{system}: {recorded} exchanges recorded, {seen} requests seen (recorded: {systems:?})"
        );
    }
    assert!(systems.len() >= 3, "{systems:?}");
    let all: String = files
        .iter()
        .map(|(n, b)| format!("== {n}\n{b}\n"))
        .collect();
    assert!(all.contains("dateModified"), "record fields are kept");
    assert!(all.contains("< 200"), "statuses are kept");
    assert!(
        all.contains("[redacted]"),
        "credentials were there and redacted"
    );
    let creds = env.sim.credentials();
    let mut forbidden = vec![
        creds.windchill_password.clone(),
        creds.bynder_client_secret.clone(),
        creds.teamcenter_password.clone(),
        env.sim.threedx.credentials.password.clone(),
        env.sim.aem.credentials.client_secret.clone(),
        b64(format!("{}:{}", creds.windchill_username, creds.windchill_password).as_bytes()),
        "Bearer ".into(),
        "Basic ".into(),
    ];
    let issued = env.sim.issued_credentials();
    assert!(issued.len() >= 5, "credentials issued: {}", issued.len());
    forbidden.extend(issued);
    crate::util::assert_no_secret(&all, &forbidden);
}

/// Misspelt keys in a system's table (`[systems.NAME]`, whose connector settings are flattened
/// into it) are refused like unknown keys anywhere else: every one named with its table, at
/// once, and nothing is synced.
#[tokio::test]
async fn unknown_system_keys_are_named_with_their_table() {
    let env = Env::start(SimConfig::default(), fast()).await;
    add_to_section(&env.config, "systems.windchill", "link_id_propery = \"X\"");
    add_to_section(&env.config, "systems.windchill", "page_sise = 5");
    add_to_section(&env.config, "systems.bynder", "scopse = []");
    let out = try_sync(&env, &[]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    for (table, key) in [
        ("systems.windchill", "link_id_propery"),
        ("systems.windchill", "page_sise"),
        ("systems.bynder", "scopse"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(table) && l.contains(key))
                || err.contains(&format!("{table}: unknown field `{key}`")),
            "must name {table}.{key}:\n{err}"
        );
    }
    assert!(env.link_documents().is_empty());
}

/// A configuration problem names its key once: `provenance.max_file_bytes`, never
/// `provenance.provenance.max_file_bytes`; the viewer's, `viewer: …` once.
#[tokio::test]
async fn configuration_errors_name_their_key_once() {
    let env = Env::start(SimConfig::default(), fast()).await;
    env.sync(&[]).await;
    let viewer_only = env.dir.path().join("viewer.toml");
    std::fs::write(
        &viewer_only,
        format!(
            "state = {:?}\n\n[viewer]\nlisten = \"127.0.0.1:0\"\n",
            env.state_path().display().to_string()
        ),
    )
    .expect("write");
    let out = tokio::process::Command::new(crate::util::bin())
        .args(["serve", "--config"])
        .arg(&viewer_only)
        .output()
        .await
        .expect("run partreel serve");
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(err.contains("viewer: no credential"), "{err}");
    assert!(!err.contains("viewer: viewer"), "{err}");
    std::fs::write(
        &env.config,
        std::fs::read_to_string(&env.config).expect("read")
            + "\n[provenance]\nmax_file_bytes = 0\n",
    )
    .expect("write");
    let out = try_sync(&env, &[]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(err.contains("provenance.max_file_bytes"), "{err}");
    assert!(!err.contains("provenance.provenance"), "{err}");
}

/// A libpq-style connection string given as `state` (here from the environment, as an admin
/// would set it) is refused with the form to use — never taken for a SQLite file name with the
/// password in it — and the password appears nowhere in the output.
#[tokio::test]
async fn a_libpq_connection_string_as_state_is_refused_without_echoing_it() {
    let env = Env::start(SimConfig::default(), fast()).await;
    let secret = "pq-s3cret-value";
    let conn = format!("host=127.0.0.1 dbname=test user=partreel password={secret}");
    let out = env
        .run(
            &["sync", "--json"],
            &[],
            &[("PARTREEL__STATE", conn.as_str())],
        )
        .await;
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("state:") && err.contains("postgres://"),
        "{err}"
    );
    assert!(!text(&out).contains(secret), "the password is never echoed");
    let stray = std::fs::read_dir(env.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains("password"));
    assert!(!stray, "no file named after the connection string");
    assert!(
        std::fs::read_dir(std::env::current_dir().unwrap())
            .expect("cwd")
            .filter_map(|e| e.ok())
            .all(|e| !e.file_name().to_string_lossy().contains(secret))
    );
}

/// A state file that cannot be created (its folder is a file) names the key, the
/// configuration and the path, not only the operating system's words.
#[tokio::test]
async fn an_unusable_state_path_names_the_key_and_the_path() {
    let env = Env::start(SimConfig::default(), fast()).await;
    let blocker = env.dir.path().join("not-a-folder");
    std::fs::write(&blocker, "a file").expect("write");
    let state = blocker.join("state.db");
    crate::util::set_state(&env.config, &state.to_string_lossy());
    let out = try_sync(&env, &[]).await;
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("state"), "{err}");
    assert!(err.contains(&state.to_string_lossy().to_string()), "{err}");
    assert!(
        err.contains("partreel.toml") || err.contains(".toml"),
        "{err}"
    );
}

/// A span filter (`[sync]=trace`) enables every crate's events inside the sync span; the
/// cookie store's among them printed each `Set-Cookie` — Windchill's and Teamcenter's
/// `JSESSIONID`, 3DPassport's `CASTGC`. No session cookie or ticket reaches the log at any
/// filter.
#[tokio::test]
async fn span_filters_never_log_session_cookies() {
    let env = Env::start(SimConfig::default(), fast()).await;
    for filter in ["[sync]=trace", "[sync]=debug,cookie_store=trace"] {
        let out = env
            .run(&["--log-level", filter, "sync", "--json"], &[], &[])
            .await;
        assert!(out.status.success(), "{}", text(&out));
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            log.contains("DEBUG"),
            "{filter}: the filter was applied:\n{log}"
        );
        for cookie in ["JSESSIONID=", "CASTGC=", "Set-Cookie"] {
            assert!(!log.contains(cookie), "{filter}: the log holds {cookie}");
        }
        let mut issued = env.sim.issued_credentials();
        issued.retain(|c| c.len() >= 8);
        crate::util::assert_no_secret(&log, &issued);
    }
}

/// A run that passes `sync.run_deadline_secs` stops between two clips with exit code 3, a
/// report saying so and a message naming the setting; what it did is kept, and the next run
/// finishes the queue without a duplicate.
#[tokio::test]
async fn a_run_past_its_deadline_stops_early_and_the_next_finishes() {
    let cfg = SimConfig {
        parts: 150,
        clips: 1500,
        seed: 5,
        story: false,
        ..SimConfig::default()
    };
    let env = Env::start(cfg, fast()).await;
    add_to_section(&env.config, "sync", "run_deadline_secs = 1");
    let out = try_sync(&env, &[]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report = parse_report(&out.stdout);
    assert_eq!(report["deadline_reached"], true, "{report}");
    assert_eq!(report["stopped_early"], true, "{report}");
    assert!(
        stderr(&out).contains("sync.run_deadline_secs"),
        "{}",
        text(&out)
    );
    let first = report["links_created"].as_u64().unwrap_or_default();
    // Without the deadline the next run finishes the queue.
    let text_cfg = std::fs::read_to_string(&env.config).expect("read");
    std::fs::write(&env.config, text_cfg.replace("run_deadline_secs = 1\n", "")).expect("write");
    let (rest, _) = sync_until_ok(&env, 3).await;
    assert_eq!(rest["deadline_reached"], false, "{rest}");
    let docs = env.link_documents();
    let ids: BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d["PartreelLinkId"].as_str())
        .collect();
    assert_eq!(ids.len(), docs.len(), "no duplicate link documents");
    assert!(
        docs.len() as u64 > first,
        "the next run created the rest ({first} then {})",
        docs.len()
    );
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{again}");
}
