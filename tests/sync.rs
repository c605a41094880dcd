//! The sync itself, end to end: incremental runs at scale, keyset paging over ties, field
//! ownership, revisions, deletions, no sync loops and dry runs — the real binary against the
//! emulators, checked both on its report and on what the emulators hold and were sent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use partreel_core::state::StateStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{RequestEntry, RequestLog, SimConfig, System};
use serde_json::Value;

use crate::util::{BETWEEN_RUNS, Env, count, list, parse_report, requests, writes};

/// Path of Bynder's OAuth token endpoint (the one POST that is not a write).
const TOKEN_PATH: &str = "/v6/authentication/oauth2/token";

// ---- helpers ------------------------------------------------------------------------------

/// Runs `partreel sync --json` with extra arguments and environment; panics on failure.
async fn sync_with(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> Value {
    let out = env.run(&["sync", "--json"], extra, vars).await;
    assert!(
        out.status.success(),
        "partreel sync failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_report(&out.stdout)
}

/// Percent-decodes a request path (ids such as `OR:wt.doc.WTDocument:12` travel encoded).
fn decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = path.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Write requests in a log: every POST/PATCH/PUT/DELETE except Bynder's OAuth token request.
fn write_requests(log: &RequestLog) -> Vec<RequestEntry> {
    log.entries()
        .into_iter()
        .filter(|e| matches!(e.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE"))
        .filter(|e| e.path != TOKEN_PATH)
        .collect()
}

fn describe(entries: &[RequestEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("{} {} -> {}", e.method, decode(&e.path), e.status))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A string property of a Windchill document.
fn doc_str<'a>(doc: &'a Value, prop: &str) -> Option<&'a str> {
    doc.get(prop).and_then(Value::as_str)
}

/// Link documents by the clip (AssetId) they are about.
fn docs_by_asset(env: &Env) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in env.link_documents() {
        let asset = doc_str(&d, "AssetId").unwrap_or_default().to_string();
        out.entry(asset).or_default().push(d);
    }
    out
}

/// The one link document of a clip (panics unless there is exactly one).
fn only_doc(env: &Env, asset_id: &str) -> Value {
    let mut docs = docs_by_asset(env).remove(asset_id).unwrap_or_default();
    assert_eq!(docs.len(), 1, "clip {asset_id}: {docs:?}");
    docs.remove(0)
}

/// A document by its Windchill ID, as it is now.
fn doc_now(env: &Env, id: &str) -> Value {
    env.sim
        .windchill_documents()
        .into_iter()
        .find(|d| doc_str(d, "ID") == Some(id))
        .unwrap_or_else(|| panic!("no document {id}"))
}

/// A metaproperty of a Bynder asset as text (select options joined with `,`).
fn asset_prop(env: &Env, asset_id: &str, prop: &str) -> Option<String> {
    let media = env
        .sim
        .bynder_asset(asset_id)
        .unwrap_or_else(|| panic!("no asset {asset_id}"));
    match media.get(format!("property_{prop}"))? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

/// The asset id of a story clip by its file name (without extension).
fn story_clip(env: &Env, name: &str) -> String {
    env.sim
        .bynder_asset_ids()
        .into_iter()
        .find(|id| {
            env.sim
                .bynder_asset(id)
                .is_some_and(|m| m["name"].as_str() == Some(name))
        })
        .unwrap_or_else(|| panic!("no story clip {name}"))
}

/// Windchill part ID of a part revision.
fn part_id(env: &Env, number: &str, revision: &str) -> String {
    env.sim
        .windchill_parts()
        .into_iter()
        .find(|p| p["Number"] == number && p["Revision"] == revision)
        .and_then(|p| p["ID"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no part {number} {revision}"))
}

/// Documents attached (describe links) to a part.
fn docs_on_part(env: &Env, part: &str) -> BTreeSet<String> {
    env.sim
        .windchill_describe_links()
        .into_iter()
        .filter(|(p, _)| p == part)
        .map(|(_, d)| d)
        .collect()
}

fn clear_logs(env: &Env) {
    env.sim.windchill.log.clear();
    env.sim.bynder.log.clear();
}

fn scale_options() -> ConfigOptions {
    ConfigOptions {
        requests_per_sec: Some(2000),
        ..Default::default()
    }
}

// ---- 1. incremental at scale ---------------------------------------------------------------

/// At 10,000 part revisions and 10,000 clips the first sync creates exactly one link per clip
/// (10,000 documents with distinct link ids); the next run only absorbs partreel's own writes
/// (no write); a run with nothing changed costs at most 3 requests per system; and editing 10
/// clips updates exactly those 10 link documents and writes nothing else anywhere.
#[tokio::test]
async fn incremental_sync_at_scale() {
    let env = Env::start(
        SimConfig {
            parts: 10_000,
            clips: 10_000,
            seed: 7,
            story: false,
            ..Default::default()
        },
        scale_options(),
    )
    .await;

    let started = Instant::now();
    let first = env.sync(&[]).await;
    let first_wall = started.elapsed();
    eprintln!(
        "10k first sync: wall {:.1}s, report {} ms, requests {}, retries {}",
        first_wall.as_secs_f64(),
        count(&first, "duration_ms"),
        first["requests"],
        first["retries"]
    );
    assert_eq!(
        count(&first, "links_created"),
        10_000,
        "{}",
        first["quarantined"]
    );
    assert!(
        list(&first, "quarantined").is_empty(),
        "{}",
        first["quarantined"]
    );
    let docs = env.link_documents();
    assert_eq!(docs.len(), 10_000);
    let link_ids: BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| doc_str(d, "PartreelLinkId"))
        .collect();
    assert_eq!(link_ids.len(), 10_000, "link ids are not distinct");
    let assets: BTreeSet<&str> = docs.iter().filter_map(|d| doc_str(d, "AssetId")).collect();
    assert_eq!(assets.len(), 10_000, "not one link per clip");
    assert_eq!(env.sim.windchill_describe_links().len(), 10_000);

    // The next scheduled run re-reads what partreel itself wrote and writes nothing.
    env.sim.clock.advance(BETWEEN_RUNS);
    let started = Instant::now();
    let second = env.sync(&[]).await;
    eprintln!(
        "10k second sync (absorbs own writes): wall {:.1}s, requests {}, pulled {}",
        started.elapsed().as_secs_f64(),
        second["requests"],
        second["pulled"]
    );
    assert_eq!(writes(&second), 0, "{second}");
    assert!(
        list(&second, "conflicts").is_empty(),
        "{}",
        second["conflicts"]
    );

    // Nothing changed: a handful of requests.
    env.sim.clock.advance(BETWEEN_RUNS);
    clear_logs(&env);
    let third = env.sync(&[]).await;
    eprintln!("10k quiet sync: requests {}", third["requests"]);
    assert_eq!(writes(&third), 0, "{third}");
    for system in ["windchill", "bynder"] {
        assert!(
            requests(&third, system) <= 3,
            "{system}: {}",
            third["requests"]
        );
    }
    assert!(
        env.sim.windchill.log.count() <= 3,
        "{:#?}",
        env.sim.windchill.log.entries()
    );
    assert!(
        env.sim.bynder.log.count() <= 3,
        "{:#?}",
        env.sim.bynder.log.entries()
    );

    // Ten clips edited in Bynder: exactly their ten links are updated.
    let ids = env.sim.bynder_asset_ids();
    let edited: Vec<String> = ids.iter().step_by(1000).take(10).cloned().collect();
    assert_eq!(edited.len(), 10);
    let by_asset = docs_by_asset(&env);
    let edited_docs: BTreeSet<String> = edited
        .iter()
        .map(|a| {
            let docs = &by_asset[a];
            assert_eq!(docs.len(), 1, "{docs:?}");
            doc_str(&docs[0], "ID").unwrap_or_default().to_string()
        })
        .collect();
    for (i, id) in edited.iter().enumerate() {
        env.sim
            .bynder_edit(id, "Prompt", Some(&format!("edited prompt number {i}")));
    }
    env.sim.clock.advance(BETWEEN_RUNS);
    clear_logs(&env);
    let fourth = env.sync(&[]).await;
    eprintln!("10k sync after 10 edits: requests {}", fourth["requests"]);
    assert_eq!(count(&fourth, "links_updated"), 10, "{fourth}");
    assert_eq!(count(&fourth, "links_created"), 0, "{fourth}");
    assert_eq!(count(&fourth, "links_retired"), 0, "{fourth}");
    assert_eq!(count(&fourth, "asset_writes"), 0, "{fourth}");
    for (i, id) in edited.iter().enumerate() {
        let doc = only_doc(&env, id);
        assert_eq!(
            doc_str(&doc, "Prompt"),
            Some(format!("edited prompt number {i}").as_str())
        );
    }
    let wc_writes = write_requests(&env.sim.windchill.log);
    assert!(!wc_writes.is_empty(), "no Windchill write at all");
    for w in &wc_writes {
        let path = decode(&w.path);
        assert!(
            edited_docs.iter().any(|d| path.contains(d.as_str())),
            "a write outside the 10 edited links:\n{}",
            describe(&wc_writes)
        );
    }
    let by_writes = write_requests(&env.sim.bynder.log);
    for w in &by_writes {
        assert!(
            edited.iter().any(|a| w.path.contains(a.as_str())),
            "a Bynder write outside the 10 edited clips:\n{}",
            describe(&by_writes)
        );
    }
}

// ---- 2. ties across page boundaries --------------------------------------------------------

/// 2,500 clips sharing one modified time, read with pages of 500, all get a link; 2,500 link
/// documents sharing one time are all read back without a write; a clip edited while a run is
/// applying, and one edited right after a run (no clock advance), reach their links by the
/// next run.
#[tokio::test]
async fn ties_across_page_boundaries_and_edits_during_a_run() {
    const PAGE: (&str, &str) = ("PARTREEL__SYNC__PAGE_SIZE", "500");
    let env = Env::start(
        SimConfig {
            parts: 60,
            clips: 2_500,
            seed: 11,
            story: false,
            ..Default::default()
        },
        scale_options(),
    )
    .await;
    let ids = env.sim.bynder_asset_ids();
    assert_eq!(ids.len(), 2_500);
    let tie = env.sim.clock.now() - chrono::TimeDelta::hours(1);
    env.sim.set_same_modified(System::Bynder, &ids, tie);

    // Edit one clip while the first run is applying (after every clip was pulled). The clip
    // processed last is the one with the highest id, so its link is normally not made yet.
    let late = ids.iter().max().cloned().unwrap_or_default();
    let mut child = env.spawn_sync(&[PAGE]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let creating = env
            .sim
            .windchill
            .log
            .count_matching(crate::util::creates_link_documents);
        if creating > 0 {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("first sync ended ({status}) before any link was created");
        }
        assert!(
            Instant::now() < deadline,
            "first sync made no link in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let linked_before_edit = docs_by_asset(&env).contains_key(&late);
    env.sim
        .bynder_edit(&late, "Prompt", Some("edited while the first run applied"));
    let out = child.wait_with_output().await.expect("wait for sync");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = parse_report(&out.stdout);
    eprintln!(
        "ties: first run {} ms, pulled {}, requests {}; edited clip linked before the edit: {linked_before_edit}",
        count(&first, "duration_ms"),
        first["pulled"],
        first["requests"]
    );
    assert_eq!(
        count(&first, "links_created"),
        2_500,
        "{}",
        first["quarantined"]
    );
    let media_pages = |e: &RequestEntry| e.path.starts_with("/api/v4/media") && e.method == "GET";
    assert!(
        env.sim
            .bynder
            .log
            .count_matching(|e| media_pages(e) && e.query.contains("limit=500"))
            >= 5,
        "the clip feed was not read in pages of 500"
    );
    let docs = docs_by_asset(&env);
    assert_eq!(docs.len(), 2_500);
    assert!(
        ids.iter()
            .all(|id| docs.get(id).is_some_and(|d| d.len() == 1))
    );

    // Edited after the run, no clock advance.
    let after = ids[1234].clone();
    env.sim
        .bynder_edit(&after, "Prompt", Some("edited right after the first run"));
    // And every link document gets one modified time: the links feed must page over the tie.
    let doc_ids: Vec<String> = env
        .link_documents()
        .iter()
        .filter_map(|d| doc_str(d, "ID").map(str::to_string))
        .collect();
    env.sim
        .set_same_modified(System::Windchill, &doc_ids, env.sim.clock.now());

    let second = sync_with(&env, &[], &[PAGE]).await;
    eprintln!("ties: second run pulled {}", second["pulled"]);
    assert!(
        second["pulled"]["windchill/links"].as_u64().unwrap_or(0) >= 2_500,
        "{}",
        second["pulled"]
    );
    assert_eq!(count(&second, "unknown_link_records"), 0, "{second}");
    assert_eq!(count(&second, "links_created"), 0, "{second}");
    assert!(list(&second, "quarantined").is_empty(), "{second}");
    assert_eq!(
        doc_str(&only_doc(&env, &after), "Prompt"),
        Some("edited right after the first run")
    );
    assert_eq!(
        doc_str(&only_doc(&env, &late), "Prompt"),
        Some("edited while the first run applied"),
        "the clip edited during the first run never reached its link"
    );
    assert_eq!(count(&second, "links_updated"), 2, "{second}");
    assert_eq!(env.link_documents().len(), 2_500);
}

// ---- 3. field ownership --------------------------------------------------------------------

/// PLM-owned fields edited in Bynder are put back to the part's values; a `newest` field
/// (Campaign) edited only in the DAM reaches the link document, edited only on the link
/// document reaches the DAM, and edited on both sides is a reported conflict that leaves both
/// values alone, run after run.
#[tokio::test]
async fn field_ownership() {
    let env = Env::story().await;
    let first = env.sync(&[]).await;
    assert_eq!(count(&first, "links_created"), 5, "{first}");

    // plm-owned: SKU and LifecycleState are the part's.
    let chase = story_clip(&env, "chase-sequence-v3");
    assert_eq!(
        asset_prop(&env, &chase, "SKU").as_deref(),
        Some("ACM-TR-1001-RD")
    );
    assert_eq!(
        asset_prop(&env, &chase, "LifecycleState").as_deref(),
        Some("In Work")
    );
    env.sim.bynder_edit(&chase, "SKU", Some("ACM-HAND-EDITED"));
    env.sim
        .bynder_edit(&chase, "LifecycleState", Some("Released"));
    let chase_doc = only_doc(&env, &chase);
    let run = env.sync(&[]).await;
    assert_eq!(count(&run, "asset_writes"), 1, "{run}");
    assert_eq!(count(&run, "links_updated"), 0, "{run}");
    assert_eq!(
        asset_prop(&env, &chase, "SKU").as_deref(),
        Some("ACM-TR-1001-RD")
    );
    assert_eq!(
        asset_prop(&env, &chase, "LifecycleState").as_deref(),
        Some("In Work")
    );
    let id = doc_str(&chase_doc, "ID").unwrap_or_default();
    assert_eq!(doc_str(&doc_now(&env, id), "Sku"), Some("ACM-TR-1001-RD"));

    // newest, changed only in the DAM → the link document.
    let spoiler = story_clip(&env, "spoiler-closeup");
    assert_eq!(
        doc_str(&only_doc(&env, &spoiler), "Campaign"),
        Some("Summer_Launch_26")
    );
    env.sim
        .bynder_edit(&spoiler, "Campaign", Some("Retail_Loops"));
    let run = env.sync(&[]).await;
    assert_eq!(count(&run, "links_updated"), 1, "{run}");
    assert_eq!(count(&run, "asset_writes"), 0, "{run}");
    assert_eq!(
        doc_str(&only_doc(&env, &spoiler), "Campaign"),
        Some("Retail_Loops")
    );

    // newest, changed only on the link document → the DAM.
    let packaging = story_clip(&env, "packaging-cameo");
    let packaging_doc = only_doc(&env, &packaging);
    let packaging_id = doc_str(&packaging_doc, "ID")
        .unwrap_or_default()
        .to_string();
    env.sim
        .windchill_edit_document(&packaging_id, "Campaign", "Store_Screens");
    let run = env.sync(&[]).await;
    assert_eq!(count(&run, "asset_writes"), 1, "{run}");
    assert_eq!(count(&run, "links_updated"), 0, "{run}");
    assert_eq!(
        asset_prop(&env, &packaging, "Campaign").as_deref(),
        Some("Store_Screens")
    );
    assert_eq!(
        doc_str(&doc_now(&env, &packaging_id), "Campaign"),
        Some("Store_Screens")
    );

    // newest, changed on both sides → a conflict, nothing written, reported again next run.
    let beach = story_clip(&env, "beach-day-playful");
    let beach_id = doc_str(&only_doc(&env, &beach), "ID")
        .unwrap_or_default()
        .to_string();
    env.sim
        .bynder_edit(&beach, "Campaign", Some("Holiday_Gifting_26"));
    env.sim
        .windchill_edit_document(&beach_id, "Campaign", "Back_To_School");
    for round in 0..3 {
        if round == 2 {
            env.sim.clock.advance(BETWEEN_RUNS);
        }
        clear_logs(&env);
        let run = env.sync(&[]).await;
        assert_eq!(writes(&run), 0, "round {round}: {run}");
        let conflicts = list(&run, "conflicts");
        assert_eq!(conflicts.len(), 1, "round {round}: {run}");
        let c = &conflicts[0];
        assert_eq!(c["asset_id"], beach.as_str(), "{c}");
        assert_eq!(c["field"], "campaign", "{c}");
        assert_eq!(c["dam_value"], "Holiday_Gifting_26", "{c}");
        assert_eq!(c["plm_value"], "Back_To_School", "{c}");
        assert_eq!(c["base_value"], "Tone_Test_ABC", "{c}");
        assert_eq!(
            asset_prop(&env, &beach, "Campaign").as_deref(),
            Some("Holiday_Gifting_26")
        );
        assert_eq!(
            doc_str(&doc_now(&env, &beach_id), "Campaign"),
            Some("Back_To_School")
        );
        let w = [
            write_requests(&env.sim.windchill.log),
            write_requests(&env.sim.bynder.log),
        ]
        .concat();
        assert!(w.is_empty(), "round {round}:\n{}", describe(&w));
    }
}

// ---- 4. revisions --------------------------------------------------------------------------

/// With carry-forward on, a new revision of TR-1001 gets new links (origin `carried`) for the
/// clips linked to the previous revision, and the old links stay active.
#[tokio::test]
async fn new_revision_carries_links_forward() {
    let env = Env::story().await;
    let first = env.sync(&[]).await;
    assert_eq!(count(&first, "links_created"), 5, "{first}");
    let b = part_id(&env, "TR-1001", "B");
    let on_b = docs_on_part(&env, &b);
    assert_eq!(on_b.len(), 2, "the story links two clips to TR-1001 B");

    let rev = env.sim.windchill_revise("TR-1001");
    assert_eq!(rev, "C");
    let run = env.sync(&[]).await;
    assert_eq!(count(&run, "links_created"), 2, "{run}");
    assert_eq!(count(&run, "links_retired"), 0, "{run}");
    assert_eq!(env.link_documents().len(), 7);
    let c = part_id(&env, "TR-1001", "C");
    let on_c = docs_on_part(&env, &c);
    assert_eq!(on_c.len(), 2, "{on_c:?}");
    assert!(on_c.is_disjoint(&on_b), "new documents, not the old ones");
    assert_eq!(docs_on_part(&env, &b), on_b, "old links stay attached");
    // Live links (active, or non-compliant where the clip's file fails the provenance rule),
    // never retired.
    for d in on_b.iter().chain(&on_c) {
        let doc = doc_now(&env, d);
        let status = doc_str(&doc, "PartreelStatus");
        assert!(
            matches!(status, Some("active" | "non_compliant")),
            "{status:?}"
        );
    }
    // The new links are about the same clips as the old ones.
    let clips = |docs: &BTreeSet<String>| -> BTreeSet<String> {
        docs.iter()
            .filter_map(|d| doc_str(&doc_now(&env, d), "AssetId").map(str::to_string))
            .collect()
    };
    assert_eq!(clips(&on_b), clips(&on_c));

    // The state records why each link exists.
    let store = SqliteStore::open(&env.state_path()).expect("open state");
    for asset in clips(&on_c) {
        let links = store
            .links_for_asset("bynder", &asset)
            .await
            .expect("links");
        let origin = |rev: &str| {
            links
                .iter()
                .find(|l| l.part_number == "TR-1001" && l.part_revision == rev)
                .map(|l| l.origin.as_str())
        };
        assert_eq!(origin("B"), Some("tagged"), "{links:?}");
        assert_eq!(origin("C"), Some("carried"), "{links:?}");
    }

    // The clips' own metadata still follows the revision they are tagged with.
    let chase = story_clip(&env, "chase-sequence-v3");
    assert_eq!(
        asset_prop(&env, &chase, "PartName").as_deref(),
        Some("Turbo Racer 1:64, red, new spoiler")
    );
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{again}");
}

/// With carry-forward off, a new revision gets no links and the old ones stay as they are.
#[tokio::test]
async fn new_revision_without_carry_forward_keeps_old_links_only() {
    let env = Env::start(
        SimConfig::default(),
        ConfigOptions {
            carry_forward: false,
            ..Default::default()
        },
    )
    .await;
    let first = env.sync(&[]).await;
    assert_eq!(count(&first, "links_created"), 5, "{first}");
    let b = part_id(&env, "TR-1001", "B");
    let on_b = docs_on_part(&env, &b);
    assert_eq!(on_b.len(), 2);

    env.sim.windchill_revise("TR-1001");
    let run = env.sync(&[]).await;
    assert_eq!(writes(&run), 0, "{run}");
    assert_eq!(env.link_documents().len(), 5);
    let c = part_id(&env, "TR-1001", "C");
    assert!(docs_on_part(&env, &c).is_empty());
    assert_eq!(docs_on_part(&env, &b), on_b);
    for d in &on_b {
        let doc = doc_now(&env, d);
        let status = doc_str(&doc, "PartreelStatus");
        assert!(
            matches!(status, Some("active" | "non_compliant")),
            "{status:?}"
        );
    }
}

// ---- 5. deletions --------------------------------------------------------------------------

/// An archived clip's link is retired (its document kept, status `retired`); a deleted clip's
/// link is retired by a `--full-scan` run; no document is ever deleted and retired links stay
/// retired.
#[tokio::test]
async fn archived_and_deleted_clips_retire_their_links() {
    let env = Env::story().await;
    let first = env.sync(&[]).await;
    assert_eq!(count(&first, "links_created"), 5, "{first}");

    let chase = story_clip(&env, "chase-sequence-v3");
    let chase_doc = doc_str(&only_doc(&env, &chase), "ID")
        .unwrap_or_default()
        .to_string();
    env.sim.bynder_archive(&chase);
    let run = env.sync(&[]).await;
    assert_eq!(count(&run, "links_retired"), 1, "{run}");
    assert_eq!(count(&run, "links_created"), 0, "{run}");
    assert_eq!(
        doc_str(&doc_now(&env, &chase_doc), "PartreelStatus"),
        Some("retired")
    );
    assert_eq!(env.link_documents().len(), 5);

    let spoiler = story_clip(&env, "spoiler-closeup");
    let spoiler_doc = doc_str(&only_doc(&env, &spoiler), "ID")
        .unwrap_or_default()
        .to_string();
    env.sim.bynder_delete(&spoiler);
    clear_logs(&env);
    let run = env.sync(&["--full-scan"]).await;
    assert_eq!(count(&run, "links_retired"), 1, "{run}");
    assert_eq!(count(&run, "links_created"), 0, "{run}");
    assert_eq!(
        doc_str(&doc_now(&env, &spoiler_doc), "PartreelStatus"),
        Some("retired")
    );
    assert_eq!(env.link_documents().len(), 5);
    let deletes = env
        .sim
        .windchill
        .log
        .count_matching(|e| e.method == "DELETE");
    assert_eq!(deletes, 0);
    // The three other links are untouched.
    let active = env
        .link_documents()
        .iter()
        .filter(|d| doc_str(d, "PartreelStatus") != Some("retired"))
        .count();
    assert_eq!(active, 3);

    env.sim.clock.advance(BETWEEN_RUNS);
    let again = env.sync(&["--full-scan"]).await;
    assert_eq!(writes(&again), 0, "{again}");
    assert_eq!(
        doc_str(&doc_now(&env, &chase_doc), "PartreelStatus"),
        Some("retired")
    );
}

// ---- 6. no sync loops ----------------------------------------------------------------------

/// After partreel writes in both directions (link documents and clip metadata), repeated
/// scheduled runs write nothing and send no write request.
#[tokio::test]
async fn no_sync_loops() {
    let env = Env::story().await;
    let first = env.sync(&[]).await;
    assert!(writes(&first) >= 10, "{first}");

    // A change each way, so partreel writes to both systems again.
    let spoiler = story_clip(&env, "spoiler-closeup");
    env.sim
        .bynder_edit(&spoiler, "Prompt", Some("macro shot, new lighting"));
    let packaging = story_clip(&env, "packaging-cameo");
    let packaging_id = doc_str(&only_doc(&env, &packaging), "ID")
        .unwrap_or_default()
        .to_string();
    env.sim
        .windchill_edit_document(&packaging_id, "Campaign", "Store_Screens");
    let run = env.sync(&[]).await;
    assert_eq!(count(&run, "links_updated"), 1, "{run}");
    assert_eq!(count(&run, "asset_writes"), 1, "{run}");

    for round in 0..4 {
        // Right away (the overlap window re-reads partreel's writes) and then on schedule.
        if round > 0 {
            env.sim.clock.advance(BETWEEN_RUNS);
        }
        clear_logs(&env);
        let run = env.sync(&[]).await;
        assert_eq!(writes(&run), 0, "round {round}: {run}");
        assert!(list(&run, "conflicts").is_empty(), "round {round}: {run}");
        let w = [
            write_requests(&env.sim.windchill.log),
            write_requests(&env.sim.bynder.log),
        ]
        .concat();
        assert!(w.is_empty(), "round {round}:\n{}", describe(&w));
    }
    assert_eq!(env.link_documents().len(), 5);
}

// ---- 7. dry run ----------------------------------------------------------------------------

/// `--dry-run` on a fresh state reports the plan (five links to create) but sends no write
/// to either system and leaves the state as it was: the real sync after it still creates the
/// five links, and a dry run after that plans nothing.
#[tokio::test]
async fn dry_run_plans_without_writing() {
    let env = Env::story().await;
    let dry = env.sync(&["--dry-run"]).await;
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(count(&dry, "links_created"), 5, "{dry}");
    let plan = list(&dry, "plan");
    assert!(!plan.is_empty(), "{dry}");
    let creates = plan.iter().filter(|p| p["op"] == "create_link").count();
    assert_eq!(creates, 5, "{dry}");
    let w = [
        write_requests(&env.sim.windchill.log),
        write_requests(&env.sim.bynder.log),
    ]
    .concat();
    assert!(w.is_empty(), "a dry run sent writes:\n{}", describe(&w));
    assert!(env.link_documents().is_empty());

    let real = env.sync(&[]).await;
    assert_eq!(count(&real, "links_created"), 5, "{real}");
    assert!(list(&real, "plan").is_empty(), "{real}");
    assert_eq!(env.link_documents().len(), 5);

    clear_logs(&env);
    let dry_again = env.sync(&["--dry-run"]).await;
    assert_eq!(writes(&dry_again), 0, "{dry_again}");
    assert!(list(&dry_again, "plan").is_empty(), "{dry_again}");
    let w = [
        write_requests(&env.sim.windchill.log),
        write_requests(&env.sim.bynder.log),
    ]
    .concat();
    assert!(w.is_empty(), "{}", describe(&w));
}

/// Someone edits a link document's Campaign (a `newest` field) in Windchill just before
/// partreel's own write to that document (a DAM-side prompt edit) lands: the PLM's answer to
/// the write carries the person's edit. It must not be taken for partreel's own value — the
/// next run brings the new campaign to the DAM, and the one after writes nothing.
#[tokio::test]
async fn an_edit_made_between_read_and_write_is_not_taken_for_an_echo() {
    let env = Env::story().await;
    let first = env.sync(&[]).await;
    assert_eq!(count(&first, "links_created"), 5, "{first}");
    let beach = story_clip(&env, "beach-day-playful");
    let doc = only_doc(&env, &beach);
    let doc_id = doc_str(&doc, "ID").expect("document id").to_owned();
    assert_eq!(
        asset_prop(&env, &beach, "Campaign").as_deref(),
        Some("Tone_Test_ABC")
    );

    env.sim
        .bynder_edit(&beach, "Prompt", Some("playful tone, take two"));
    env.sim
        .windchill_edit_document_before_next_write(&doc_id, "Campaign", "Back_To_School");
    env.sim.clock.advance(BETWEEN_RUNS);
    let second = env.sync(&[]).await;
    assert_eq!(count(&second, "links_updated"), 1, "{second}");
    let now = doc_now(&env, &doc_id);
    assert_eq!(doc_str(&now, "Prompt"), Some("playful tone, take two"));
    assert_eq!(doc_str(&now, "Campaign"), Some("Back_To_School"));

    env.sim.clock.advance(BETWEEN_RUNS);
    let third = env.sync(&[]).await;
    assert!(list(&third, "conflicts").is_empty(), "{third}");
    assert_eq!(
        asset_prop(&env, &beach, "Campaign").as_deref(),
        Some("Back_To_School"),
        "the campaign edited in Windchill reaches the DAM: {third}"
    );
    env.sim.clock.advance(BETWEEN_RUNS);
    let fourth = env.sync(&[]).await;
    assert_eq!(writes(&fourth), 0, "{fourth}");
}
