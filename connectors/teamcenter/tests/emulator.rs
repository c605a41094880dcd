//! The connector against the Teamcenter emulator (`partreel_sim::teamcenter`): paging to the
//! end, the default mapping against the live schema, session expiry mid-run (exactly one extra
//! login), one partial error in a 100-link batch, no duplicate after an ambiguous create,
//! updates and retirement, and no password in logs or errors.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use partreel_core::PlmConnector;
use partreel_core::connector::{ChangeQuery, LinkUpdate, NewLink};
use partreel_core::error::ConnectorError;
use partreel_core::mapping::{Entity, Mapping};
use partreel_core::model::{LinkId, PartRevision, RemoteFields};
use partreel_sim::teamcenter::{self, TeamcenterSim, TeamcenterSimConfig};
use partreel_sim::{FaultKind, SimClock};
use partreel_teamcenter::{BuildContext, TeamcenterClient, TeamcenterConfig};
use tempfile::TempDir;

const PASSWORD: &str = "partreel-sim";

async fn sim(parts: usize) -> TeamcenterSim {
    let cfg = TeamcenterSimConfig {
        parts,
        ..TeamcenterSimConfig::default()
    };
    teamcenter::start(cfg, SimClock::new()).await.unwrap()
}

fn mapping() -> Mapping {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings/teamcenter.toml");
    Mapping::load(&path).unwrap()
}

/// A client on the emulator (config parsed from TOML, password from a file), with `extra`
/// TOML lines and the default mapping's properties in its policies.
fn client_with(sim: &TeamcenterSim, extra: &str) -> (TempDir, TeamcenterClient) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    let text = format!(
        "base_url = \"{}\"\nusername = \"partreel\"\npassword = {{ file = \"pw\" }}\n{extra}\n\
         [http.rate_limit]\nrequests = 10000\nper_secs = 1\n\
         [http.retry]\nmax_attempts = 3\ninitial_backoff_ms = 1\nmax_backoff_ms = 5\n",
        sim.url()
    );
    let cfg: TeamcenterConfig = toml::from_str(&text).unwrap();
    let map = mapping();
    let ctx = BuildContext {
        system: "teamcenter".into(),
        config_dir: dir.path().to_path_buf(),
        part_properties: map.remote_names(Entity::Part),
        link_properties: map.remote_names(Entity::Link),
    };
    let client = cfg.validate().unwrap().build(ctx).unwrap();
    (dir, client)
}

fn client(sim: &TeamcenterSim) -> (TempDir, TeamcenterClient) {
    client_with(sim, "")
}

fn count(sim: &TeamcenterSim, op: &str) -> usize {
    sim.emulator.log.count_matching(|e| e.path.ends_with(op))
}

fn new_link(part: &PartRevision, i: usize) -> NewLink {
    let fields: RemoteFields = [
        ("ptp_prompt", format!("stunt car {i} jumps the loop")),
        ("ptp_status", "active".to_string()),
        ("ptp_asset_id", format!("asset-{i}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    NewLink {
        part: part.clone(),
        link_id: LinkId::new(
            "bynder",
            &format!("asset-{i}"),
            "teamcenter",
            &part.number,
            &part.revision,
        ),
        fields,
        prior_attempt: false,
    }
}

async fn all_parts(c: &TeamcenterClient, page_size: u32) -> Vec<PartRevision> {
    let mut q = ChangeQuery {
        page_size,
        ..ChangeQuery::default()
    };
    let mut out = Vec::new();
    loop {
        let page = c.changed_parts(&q).await.unwrap();
        assert!(page.rejected.is_empty(), "{:?}", page.rejected);
        out.extend(page.items);
        match page.continuation {
            Some(next) => q.continuation = Some(next),
            None => return out,
        }
    }
}

#[tokio::test]
async fn paging_reaches_the_end_in_modification_order() {
    let sim = sim(1_200).await;
    let (_d, c) = client(&sim);
    let parts = all_parts(&c, 100).await;
    assert_eq!(parts.len(), 1_203);
    let uids: HashSet<&str> = parts.iter().map(|p| p.remote_id.as_str()).collect();
    assert_eq!(uids.len(), 1_203, "no revision twice");
    assert!(parts.windows(2).all(|w| w[0].modified <= w[1].modified));
    // 13 pages: one query and one loadObjects each.
    assert_eq!(count(&sim, "/executeBOQueriesWithSort"), 13);
    assert_eq!(count(&sim, "/loadObjects"), 13);
    // Keyset: records modified at or after the last time seen.
    let since = parts[1_000].modified;
    let page = c
        .changed_parts(&ChangeQuery {
            since: Some(since),
            page_size: 5_000,
            continuation: None,
        })
        .await
        .unwrap();
    assert!(page.items.iter().all(|p| p.modified >= since));
    assert_eq!(
        page.items.len(),
        parts.iter().filter(|p| p.modified >= since).count()
    );
}

#[tokio::test]
async fn story_parts_by_number_carry_state_and_mapped_fields() {
    let sim = sim(0).await;
    let (_d, c) = client(&sim);
    let mut parts = c
        .parts_by_number(&["ST-3001".into(), "ST-3002".into(), "NOPE-1".into()])
        .await
        .unwrap();
    parts.sort_by(|a, b| (&a.number, &a.revision).cmp(&(&b.number, &b.revision)));
    let keys: Vec<(&str, &str, Option<&str>)> = parts
        .iter()
        .map(|p| {
            (
                p.number.as_str(),
                p.revision.as_str(),
                p.lifecycle_state.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("ST-3001", "A", Some("Released")),
            ("ST-3001", "B", Some("In Work")),
            ("ST-3002", "A", Some("Released"))
        ]
    );
    assert_eq!(parts[0].name, "Stunt Track loop set");
    assert_eq!(
        parts[0].fields.get("c9_sku").map(String::as_str),
        Some("ACM-ST-3001")
    );
    assert_eq!(count(&sim, "/getItemFromId"), 1);
}

#[tokio::test]
async fn default_mapping_validates_against_the_emulator_schema() {
    let sim = sim(0).await;
    let (_d, c) = client(&sim);
    let schema = c.schema().await.unwrap();
    let errors = mapping().validate_against(&schema);
    assert!(errors.is_empty(), "{errors:?}");
    let link = &schema.entities["link"];
    assert!(
        link.iter()
            .any(|p| p.name == "ptp_link_id" && p.writable && p.kind == "string")
    );
    let part = &schema.entities["part"];
    assert!(
        part.iter()
            .any(|p| p.name == "release_status_list" && !p.writable)
    );
}

#[tokio::test]
async fn session_expiry_mid_run_costs_exactly_one_login() {
    let sim = sim(300).await;
    let (_d, c) = client(&sim);
    let first = c
        .changed_parts(&ChangeQuery {
            page_size: 100,
            ..ChangeQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((sim.logins(), c.session().logins()), (1, 1));
    sim.expire_sessions();
    // Several calls in flight see the dead session at once; one login serves them all.
    let q = ChangeQuery {
        page_size: 100,
        continuation: first.continuation.clone(),
        since: None,
    };
    let numbers = ["ST-3001".to_string()];
    let (a, b, d) = tokio::join!(c.changed_parts(&q), c.parts_by_number(&numbers), c.schema());
    assert_eq!(a.unwrap().items.len(), 100);
    assert_eq!(b.unwrap().len(), 2);
    d.unwrap();
    let rest = all_parts(&c, 100).await;
    assert_eq!(rest.len(), 303);
    assert_eq!((sim.logins(), c.session().logins()), (2, 2));
    c.logout().await.unwrap();
}

#[tokio::test]
async fn one_partial_error_in_a_hundred_links_fails_that_link_only() {
    let sim = sim(100).await;
    let (_d, c) = client(&sim);
    let parts = all_parts(&c, 500).await;
    let batch: Vec<NewLink> = parts
        .iter()
        .take(100)
        .enumerate()
        .map(|(i, p)| new_link(p, i))
        .collect();
    let victim = batch[42].link_id.clone();
    sim.fail_next_relation(
        victim.as_str(),
        "Access denied: PromptToPart relations need the dba role.",
    );
    sim.emulator.log.clear();
    let results = c.create_links(&batch).await;
    assert_eq!(results.len(), 100);
    let failed: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, [42]);
    match &results[42] {
        Err(
            e @ ConnectorError::Record {
                record, message, ..
            },
        ) => {
            assert!(e.is_record_error());
            assert_eq!(record, victim.as_str());
            assert!(
                message.contains("Access denied: PromptToPart relations need the dba role."),
                "{message}"
            );
        }
        other => panic!("expected a record error, got {other:?}"),
    }
    let ok = results[0].as_ref().unwrap();
    assert_eq!(
        ok.part_remote_id.as_deref(),
        Some(parts[0].remote_id.as_str())
    );
    assert_eq!(
        ok.fields.get("ptp_status").map(String::as_str),
        Some("active")
    );
    assert_eq!(sim.forms().len(), 100);
    assert_eq!(sim.relations().len(), 99);
    // Batched: one look-up, one create, one relate (+ one expand to settle the refusal).
    assert_eq!(count(&sim, "/createRelateAndSubmitObjects2"), 1);
    assert_eq!(count(&sim, "/createRelations"), 1);
    assert!(
        sim.emulator.log.count() <= 5,
        "{:?}",
        sim.emulator.log.entries()
    );
    // The next run finds the record and only relates it.
    let again = c.create_links(&batch[42..43]).await;
    assert!(again[0].is_ok());
    assert_eq!((sim.forms().len(), sim.relations().len()), (100, 100));
}

#[tokio::test]
async fn an_ambiguous_create_is_found_before_creating_again() {
    let sim = sim(0).await;
    let (_d, c) = client(&sim);
    let part = c
        .parts_by_number(&["ST-3002".into()])
        .await
        .unwrap()
        .remove(0);
    let link = new_link(&part, 7);
    // Request 1 (the look-up) passes; request 2 (the create) is applied, then cut short.
    sim.emulator
        .faults
        .inject_next(1, FaultKind::Latency(Duration::ZERO));
    sim.emulator.faults.inject_next(1, FaultKind::Truncated);
    let created = c
        .create_link(&link.part, &link.link_id, &link.fields)
        .await
        .unwrap();
    let faulted: Vec<String> = sim
        .emulator
        .log
        .entries()
        .into_iter()
        .filter(|e| e.fault.as_deref() == Some("truncated"))
        .map(|e| e.path)
        .collect();
    assert_eq!(
        faulted,
        ["/tc/JsonRestServices/Core-2015-07-DataManagement/createRelateAndSubmitObjects2"]
    );
    assert_eq!(sim.forms().len(), 1, "no duplicate record");
    assert_eq!(sim.relations().len(), 1);
    assert_eq!(created.link_id, link.link_id);
    // Calling again (a restarted run) finds it too.
    let again = c
        .create_link(&link.part, &link.link_id, &link.fields)
        .await
        .unwrap();
    assert_eq!(again.remote_id, created.remote_id);
    assert_eq!((sim.forms().len(), sim.relations().len()), (1, 1));
    let found = c
        .find_links(std::slice::from_ref(&link.link_id))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn updates_are_batched_and_retire_can_delete_the_relation() {
    let sim = sim(10).await;
    let (_d, c) = client_with(&sim, "retire = \"delete_relation\"");
    let parts = all_parts(&c, 500).await;
    let batch: Vec<NewLink> = parts
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, p)| new_link(p, i))
        .collect();
    let links: Vec<_> = c
        .create_links(&batch)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    sim.emulator.log.clear();
    let updates: Vec<LinkUpdate> = links
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let status = if i == 0 { "retired" } else { "non_compliant" };
            LinkUpdate {
                link: l.clone(),
                fields: [("ptp_status".to_string(), status.to_string())].into(),
            }
        })
        .collect();
    let updated: Vec<_> = c
        .update_links(&updates)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        updated[1].fields.get("ptp_status").map(String::as_str),
        Some("non_compliant")
    );
    assert!(updated[1].modified >= links[1].modified);
    assert_eq!(count(&sim, "/setProperties"), 1);
    assert_eq!(count(&sim, "/deleteRelations"), 1);
    assert_eq!(sim.relations().len(), 9);
    // A record edited in Teamcenter shows in the link feed.
    sim.clock.advance(Duration::from_secs(60));
    let since = sim.clock.now();
    assert!(sim.edit_form(&links[3].remote_id, "ptp_campaign", Some("Retail Loops")));
    let page = c
        .changed_links(&ChangeQuery {
            since: Some(since),
            page_size: 50,
            continuation: None,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].fields.get("ptp_campaign").map(String::as_str),
        Some("Retail Loops")
    );
    // A refused write fails its own element only.
    let bad = vec![
        LinkUpdate {
            link: links[4].clone(),
            fields: [("ptp_prompt".to_string(), "ok".to_string())].into(),
        },
        LinkUpdate {
            link: links[5].clone(),
            fields: [("no_such_prop".to_string(), "x".to_string())].into(),
        },
    ];
    let r = c.update_links(&bad).await;
    assert!(r[0].is_ok());
    assert!(
        matches!(&r[1], Err(ConnectorError::Record { message, .. }) if message.contains("no_such_prop"))
    );
}

#[tokio::test]
async fn links_on_part_finds_a_second_record_for_the_clip_under_another_link_id() {
    let sim = sim(0).await;
    let (_d, c) = client(&sim);
    let parts = c
        .parts_by_number(&["ST-3002".into(), "ST-3001".into()])
        .await
        .unwrap();
    let part = parts.iter().find(|p| p.number == "ST-3002").unwrap();
    let elsewhere = parts.iter().find(|p| p.number == "ST-3001").unwrap();
    let link = new_link(part, 3);
    let made = c
        .create_link(&link.part, &link.link_id, &link.fields)
        .await
        .unwrap();
    // A copy made by hand under another link id, dated before the original, and a document
    // on the same revision that carries no link id.
    let copy = sim
        .copy_record_as(&made.remote_id, "handmade-1", true)
        .unwrap();
    let plain = sim.duplicate_record(&made.remote_id, false).unwrap();
    assert!(sim.edit_form(&plain, "ptp_link_id", None));
    sim.emulator.log.clear();

    let mut found = c.links_on_part(&part.remote_id).await.unwrap();
    found.sort_by_key(|l| l.created);
    let got: Vec<(&str, &str, Option<&str>)> = found
        .iter()
        .map(|l| {
            (
                l.remote_id.as_str(),
                l.link_id.as_str(),
                l.part_remote_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (copy.as_str(), "handmade-1", Some(part.remote_id.as_str())),
            (
                made.remote_id.as_str(),
                link.link_id.as_str(),
                Some(part.remote_id.as_str())
            )
        ]
    );
    // Both name the same clip; the copy is the older by a minute.
    for l in &found {
        assert_eq!(
            l.fields.get("ptp_asset_id").map(String::as_str),
            Some("asset-3")
        );
    }
    let (older, newer) = (found[0].created.unwrap(), found[1].created.unwrap());
    assert_eq!(newer - older, chrono::Duration::seconds(60));
    // One expand and one loadObjects.
    assert_eq!(count(&sim, "/expandGRMRelationsForPrimary"), 1);
    assert_eq!(count(&sim, "/loadObjects"), 1);
    assert_eq!(sim.emulator.log.count(), 2);
    // The copy is found by its own link id too, and another revision has none of them.
    let by_id = c.find_links(&[LinkId("handmade-1".into())]).await.unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].remote_id, copy);
    assert!(
        c.links_on_part(&elsewhere.remote_id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_password_reaches_no_log_line_error_or_debug_output() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Callsites first hit by a test thread without a subscriber cache "never";
    // rebuild so this thread's subscriber sees every event.
    tracing::callsite::rebuild_interest_cache();
    let sim = sim(5).await;
    let (_d, c) = client(&sim);
    all_parts(&c, 2).await;
    sim.expire_sessions();
    c.schema().await.unwrap();
    let debug = format!("{c:?}");
    // Wrong password: the error names the refusal, never the password.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "wrong-Pa55word\n").unwrap();
    let text = format!(
        "base_url = \"{}\"\nusername = \"partreel\"\npassword = {{ file = \"pw\" }}\n",
        sim.url()
    );
    let cfg: TeamcenterConfig = toml::from_str(&text).unwrap();
    let ctx = BuildContext {
        system: "teamcenter".into(),
        config_dir: dir.path().to_path_buf(),
        ..BuildContext::default()
    };
    let bad = cfg.validate().unwrap().build(ctx).unwrap();
    let err = bad.schema().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    let text = format!(
        "{}{debug}{err}{err:?}",
        String::from_utf8_lossy(&buf.0.lock().unwrap())
    );
    assert!(text.contains("logged in"), "the log was captured");
    assert!(!text.contains(PASSWORD));
    assert!(!text.contains("wrong-Pa55word"));
}
