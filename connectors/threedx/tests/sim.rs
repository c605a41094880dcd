//! The connector against the 3DEXPERIENCE emulator (`partreel_sim::threedx`): paging to the end,
//! session expiry and CSRF refusal mid-run (one re-login, one token fetch), a stale `cestamp`,
//! an ambiguous create without a duplicate, a second link record found from the part's side,
//! every auth type, and the default mapping against the emulator's schema.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use partreel_core::PlmConnector;
use partreel_core::connector::ChangeQuery;
use partreel_core::engine::pull::{FeedCursor, read_feed};
use partreel_core::http::{HttpConfig, RateLimitConfig, RetryConfig, SecretRef};
use partreel_core::mapping::Mapping;
use partreel_core::model::{LinkId, PartRevision, RemoteFields};
use partreel_sim::threedx::{self, ExpiryResponse, ThreedxSim, ThreedxSimConfig};
use partreel_sim::{FaultKind, SimClock};
use partreel_threedx::{AuthConfig, BuildContext, ThreedxClient, ThreedxConfig};
use tempfile::TempDir;

fn fast_http() -> HttpConfig {
    HttpConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 10_000,
            per_secs: 1,
            burst: Some(10_000),
        }),
        retry: RetryConfig {
            max_attempts: 4,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            rate_limited_backoff_ms: 1,
            max_retry_after_secs: 2,
            max_timeouts: 2,
        },
        ..HttpConfig::default()
    }
}

async fn sim(parts: usize) -> ThreedxSim {
    let cfg = ThreedxSimConfig {
        parts,
        ..ThreedxSimConfig::default()
    };
    threedx::start(cfg, SimClock::new())
        .await
        .expect("emulator starts")
}

fn config(s: &ThreedxSim, auth: AuthConfig, page_size: u32) -> ThreedxConfig {
    ThreedxConfig {
        passport_url: Some(s.passport_url.clone()),
        space_url: s.emulator.url.clone(),
        auth,
        security_context: s.credentials.security_context.clone(),
        tenant: None,
        parent_rel_name: "Reference Document".into(),
        search_string: "*".into(),
        modified_predicate: Some(partreel_threedx::DEFAULT_MODIFIED_PREDICATE.into()),
        link_search: "partreel".into(),
        link_id_attribute: "partreelLinkId".into(),
        link_status_attribute: "partreelStatus".into(),
        link_extension: Some("PromptToPartLinkExt".into()),
        retire: Default::default(),
        page_size,
        csrf_max_age_secs: partreel_threedx::DEFAULT_CSRF_MAX_AGE_SECS,
        http: fast_http(),
    }
}

/// A client with CAS credentials read from files.
fn client(s: &ThreedxSim, page_size: u32) -> (TempDir, ThreedxClient) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), &s.credentials.password).expect("write secret");
    let auth = AuthConfig::Cas {
        username: s.credentials.username.clone(),
        password: SecretRef::File("pw".into()),
    };
    let c = build(&dir, config(s, auth, page_size));
    (dir, c)
}

fn build(dir: &TempDir, cfg: ThreedxConfig) -> ThreedxClient {
    let ctx = BuildContext {
        system: "threedx".into(),
        config_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    cfg.validate()
        .expect("valid config")
        .build(ctx)
        .expect("client builds")
}

async fn part(c: &ThreedxClient, number: &str, rev: &str) -> PartRevision {
    let parts = c
        .parts_by_number(&[number.to_string()])
        .await
        .expect("parts");
    parts
        .into_iter()
        .find(|p| p.revision == rev)
        .expect("revision exists")
}

fn fields(prompt: &str) -> RemoteFields {
    [
        ("prompt", prompt),
        ("partreelStatus", "active"),
        ("campaign", "spring"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[tokio::test]
async fn feed_pages_to_the_end_oldest_first() {
    let s = sim(230).await;
    let (_d, c) = client(&s, 40);
    let seen = Arc::new(tokio::sync::Mutex::new(Vec::<PartRevision>::new()));
    let cursor = FeedCursor {
        start: None,
        overlap: Duration::from_secs(0),
    };
    let sink = seen.clone();
    read_feed(
        cursor,
        25,
        |p: &PartRevision| p.modified,
        |q: ChangeQuery| {
            let c = &c;
            async move { c.changed_parts(&q).await }
        },
        move |page| {
            let sink = sink.clone();
            async move {
                sink.lock().await.extend(page.items);
                Ok(())
            }
        },
        |_| async { Ok(()) },
    )
    .await
    .expect("feed reads to its end");
    let seen = seen.lock().await;
    let mut ids: Vec<&str> = seen.iter().map(|p| p.remote_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        233,
        "every story and generated revision, once or more"
    );
    assert!(seen.iter().any(|p| p.number == "PL-4001"
        && p.revision == "B"
        && p.lifecycle_state.as_deref() == Some("IN_WORK")));
    let garage = seen
        .iter()
        .find(|p| p.number == "PL-4001" && p.revision == "A")
        .expect("PL-4001 A");
    assert_eq!(garage.name, "Playset garage");
    assert_eq!(
        garage
            .fields
            .get("dseno:EnterpriseAttributes/c9Sku")
            .map(String::as_str),
        Some("PLY-GAR-4001")
    );
    s.shutdown().await;
}

async fn session_expiry_relogs_once(mode: ExpiryResponse) {
    let s = sim(20).await;
    s.set_expiry(mode);
    let (_d, c) = client(&s, 1000);
    let p = part(&c, "PL-4001", "A").await;
    c.create_link(
        &p,
        &LinkId("ptp-expiry-0".into()),
        &fields("a garage at dawn"),
    )
    .await
    .expect("create");
    assert_eq!((s.logins(), c.session().logins()), (1, 1));
    s.emulator.faults.expire_sessions();
    let c = Arc::new(c);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = c.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                c.parts_by_number(&["PL-4002".into()]).await.map(|_| ())
            } else {
                let id = LinkId(format!("ptp-expiry-{i}"));
                c.create_link(&p, &id, &fields("a garage at night"))
                    .await
                    .map(|_| ())
            }
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("call recovers");
    }
    assert_eq!(s.logins(), 2, "exactly one re-login on the server");
    assert_eq!(c.session().logins(), 2);
    s.shutdown().await;
}

#[tokio::test]
async fn session_expiry_by_401_mid_run_relogs_once() {
    session_expiry_relogs_once(ExpiryResponse::Unauthorized).await;
}

#[tokio::test]
async fn session_expiry_by_login_redirect_mid_run_relogs_once() {
    session_expiry_relogs_once(ExpiryResponse::LoginRedirect).await;
}

#[tokio::test]
async fn csrf_refusal_mid_run_fetches_one_token() {
    let s = sim(0).await;
    let (_d, c) = client(&s, 1000);
    let p = part(&c, "PL-4001", "B").await;
    c.create_link(&p, &LinkId("ptp-csrf-0".into()), &fields("red garage"))
        .await
        .expect("create");
    assert_eq!(s.csrf_issued(), 1);
    s.invalidate_csrf();
    let c = Arc::new(c);
    let mut tasks = Vec::new();
    for i in 1..=5 {
        let (c, p) = (c.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            c.create_link(&p, &LinkId(format!("ptp-csrf-{i}")), &fields("blue garage"))
                .await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("write recovers");
    }
    assert_eq!(s.csrf_issued(), 2, "one new token for all refused writes");
    assert_eq!(c.session().csrf_fetches(), 2);
    assert_eq!(s.logins(), 1, "no re-login for a CSRF refusal");
    s.shutdown().await;
}

/// Waits until the emulator has answered `n` requests matching `pred`.
async fn wait_for(
    s: &ThreedxSim,
    n: usize,
    pred: impl Fn(&partreel_sim::RequestEntry) -> bool + Copy,
) {
    for _ in 0..400 {
        if s.emulator.log.count_matching(pred) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("request never seen");
}

fn doc_attr(s: &ThreedxSim, id: &str, attr: &str) -> String {
    s.documents()
        .into_iter()
        .find(|d| d["id"] == id)
        .and_then(|d| d["dataelements"][attr].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The link attributes of the default mapping (mappings/threedx.toml): `description` is not one.
const MAPPED_LINK_ATTRIBUTES: &[&str] = &[
    "partreelLinkId",
    "partreelStatus",
    "assetId",
    "assetSystem",
    "clipUrl",
    "title",
    "prompt",
    "model",
    "modelVersion",
    "campaign",
    "reviewStatus",
    "rightsNotes",
    "rightsExpiry",
    "visibleWatermark",
    "watermarkPreserved",
    "provenanceState",
    "sku",
];

/// Updates a new link's prompt while an engineer sets `attr` between the update's GET and its
/// PUT (each held 300 ms), so the PUT carries a stale cestamp; the result and the document.
async fn update_racing_an_edit(
    s: &ThreedxSim,
    c: &ThreedxClient,
    id: &str,
    attr: &str,
) -> (
    partreel_core::error::Result<partreel_core::model::RemoteLink>,
    String,
) {
    let p = part(c, "PL-4001", "A").await;
    let link = c
        .create_link(&p, &LinkId(id.into()), &fields("v1"))
        .await
        .expect("create");
    let doc = link.remote_id.clone();
    s.emulator
        .faults
        .inject_next(2, FaultKind::Latency(Duration::from_millis(300)));
    let get_path = format!("/3dspace/resources/v1/modeler/documents/{doc}");
    let editor = async {
        wait_for(s, 1, |e| e.method == "GET" && e.path == get_path).await;
        assert!(s.edit_document(&doc, attr, "approved"));
    };
    let new = [("prompt".to_string(), "v2".to_string())]
        .into_iter()
        .collect();
    let (updated, ()) = tokio::join!(c.update_link(&link, &new), editor);
    (updated, doc)
}

#[tokio::test]
async fn stale_cestamp_is_reread_and_both_changes_survive() {
    let s = sim(0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), &s.credentials.password).expect("write secret");
    let auth = AuthConfig::Cas {
        username: s.credentials.username.clone(),
        password: SecretRef::File("pw".into()),
    };
    let ctx = BuildContext {
        system: "threedx".into(),
        config_dir: dir.path().to_path_buf(),
        link_properties: MAPPED_LINK_ATTRIBUTES
            .iter()
            .map(|a| a.to_string())
            .collect(),
        ..Default::default()
    };
    let c = config(&s, auth, 1000)
        .validate()
        .expect("valid config")
        .build(ctx)
        .expect("client builds");
    // The engineer edits an attribute the mapping does not name: nothing partreel syncs
    // changed, so the update is retried with the fresh cestamp.
    let (updated, doc) = update_racing_an_edit(&s, &c, "ptp-stale", "description").await;
    let updated = updated.expect("update succeeds after a re-read");
    assert_eq!(updated.fields.get("prompt").map(String::as_str), Some("v2"));
    assert_eq!(doc_attr(&s, &doc, "prompt"), "v2");
    let description = s
        .documents()
        .into_iter()
        .find(|d| d["id"] == doc.as_str())
        .map(|d| d["dataelements"]["description"].clone());
    assert_eq!(
        description,
        Some("approved".into()),
        "the engineer's change is not lost"
    );
    let puts = s.emulator.log.count_matching(|e| e.method == "PUT");
    let conflicts = s
        .emulator
        .log
        .count_matching(|e| e.method == "PUT" && e.status == 409);
    assert_eq!((puts, conflicts), (2, 1));
    s.shutdown().await;
}

/// The engineer edits a mapped attribute partreel is not writing (`reviewStatus`): no second
/// PUT, whose answer would hand the engine that edit as partreel's own write (never planned,
/// so never synced); a record error instead, so the engine pulls the edit and plans again.
#[tokio::test]
async fn stale_cestamp_on_another_mapped_attribute_is_refused_for_replanning() {
    let s = sim(0).await;
    let (_d, c) = client(&s, 1000);
    let (updated, doc) = update_racing_an_edit(&s, &c, "ptp-mapped", "reviewStatus").await;
    let err = updated.expect_err("a concurrent change of a mapped attribute is re-planned");
    assert!(err.is_record_error(), "{err}");
    assert_eq!(doc_attr(&s, &doc, "reviewStatus"), "approved");
    assert_eq!(
        doc_attr(&s, &doc, "prompt"),
        "v1",
        "not written over the change"
    );
    let puts = s.emulator.log.count_matching(|e| e.method == "PUT");
    assert_eq!(puts, 1, "only the refused PUT");
    s.shutdown().await;
}

#[tokio::test]
async fn stale_cestamp_on_a_field_partreel_writes_is_not_overwritten() {
    let s = sim(0).await;
    let (_d, c) = client(&s, 1000);
    let p = part(&c, "PL-4001", "A").await;
    let link = c
        .create_link(&p, &LinkId("ptp-clash".into()), &fields("v1"))
        .await
        .expect("create");
    let doc = link.remote_id.clone();
    s.emulator
        .faults
        .inject_next(2, FaultKind::Latency(Duration::from_millis(300)));
    let get_path = format!("/3dspace/resources/v1/modeler/documents/{doc}");
    let editor = async {
        wait_for(&s, 1, |e| e.method == "GET" && e.path == get_path).await;
        assert!(s.edit_document(&doc, "prompt", "engineer's prompt"));
    };
    let new = [("prompt".to_string(), "v2".to_string())]
        .into_iter()
        .collect();
    let (result, ()) = tokio::join!(c.update_link(&link, &new), editor);
    let err = result.expect_err("a concurrent change of the same attribute is a conflict");
    assert!(err.is_record_error(), "{err}");
    assert_eq!(doc_attr(&s, &doc, "prompt"), "engineer's prompt");
    s.shutdown().await;
}

#[tokio::test]
async fn ambiguous_create_finds_the_document_instead_of_duplicating() {
    let s = sim(0).await;
    let (_d, c) = client(&s, 1000);
    let p = part(&c, "PL-4002", "A").await;
    c.create_link(&p, &LinkId("ptp-warm".into()), &fields("warm up"))
        .await
        .expect("create");
    // The look before the POST passes; the POST is applied but its answer is cut short.
    s.emulator
        .faults
        .inject_next(1, FaultKind::Latency(Duration::from_millis(1)));
    s.emulator.faults.inject_next(1, FaultKind::Truncated);
    let id = LinkId("ptp-ambiguous".into());
    let l = c
        .create_link(&p, &id, &fields("fire station"))
        .await
        .expect("create settles");
    assert_eq!(l.link_id, id);
    let copies = s
        .documents()
        .iter()
        .filter(|d| d["dataelements"]["partreelLinkId"] == id.as_str())
        .count();
    assert_eq!(copies, 1, "no duplicate document");
    let posts = s
        .emulator
        .log
        .count_matching(|e| e.method == "POST" && e.path.ends_with("/documents"));
    assert_eq!(posts, 2, "warm-up and the cut-short POST; none after it");
    let found = c.find_links(std::slice::from_ref(&id)).await.expect("find");
    assert_eq!(found.len(), 1);
    s.shutdown().await;
}

/// `links_on_part` against the emulator's `GetItemDocuments`: a link created on a part
/// revision and a hand-made copy of it under another link id (`copy_document_as`, created a
/// minute earlier) are both found from the part's side, with the part as theirs; the seeded
/// assembly instructions on the same item (no link id) are left out, and another revision's
/// links are not listed.
#[tokio::test]
async fn links_on_part_finds_a_copy_under_another_link_id() {
    let s = sim(5).await;
    let (_d, c) = client(&s, 50);
    let a = part(&c, "PL-4001", "A").await;
    let b = part(&c, "PL-4001", "B").await;
    let link = c
        .create_link(&a, &LinkId("ptp-own".into()), &fields("garage"))
        .await
        .expect("create");
    c.create_link(&b, &LinkId("ptp-rev-b".into()), &fields("garage"))
        .await
        .expect("create on B");
    let copy = s
        .copy_document_as(&link.remote_id, "ptp-hand", true)
        .expect("copy");
    let under_a = s
        .documents()
        .into_iter()
        .filter(|d| {
            d["relateddata"]["parents"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["id"] == a.remote_id.as_str()))
        })
        .count();
    assert_eq!(under_a, 3, "instructions, the link and its copy");
    let mut found = c.links_on_part(&a.remote_id).await.expect("links on A");
    found.sort_by_key(|x| x.created);
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
        vec![
            (copy.as_str(), "ptp-hand", Some(a.remote_id.as_str())),
            (
                link.remote_id.as_str(),
                "ptp-own",
                Some(a.remote_id.as_str())
            ),
        ]
    );
    assert_eq!(
        found[0].created.zip(link.created).map(|(x, y)| y - x),
        Some(chrono::Duration::seconds(60)),
        "the copy is a minute older"
    );
    assert_eq!(found[0].fields.get("prompt"), link.fields.get("prompt"));
    s.shutdown().await;
}

#[tokio::test]
async fn batch_service_and_agent_credentials_work() {
    let s = sim(0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("svc"), &s.credentials.service_secret).expect("secret");
    std::fs::write(dir.path().join("agent"), &s.credentials.agent_secret).expect("secret");
    let batch = AuthConfig::BatchService {
        service_name: s.credentials.service_name.clone(),
        service_secret: SecretRef::File("svc".into()),
        username: s.credentials.username.clone(),
    };
    let agent = AuthConfig::Agent {
        username: s.credentials.agent_id.clone(),
        password: SecretRef::File("agent".into()),
    };
    for (i, auth) in [batch, agent].into_iter().enumerate() {
        let c = build(&dir, config(&s, auth, 1000));
        let p = part(&c, "PL-4001", "A").await;
        let id = LinkId(format!("ptp-auth-{i}"));
        c.create_link(&p, &id, &fields("auth"))
            .await
            .expect("create");
    }
    assert_eq!(
        s.logins(),
        1,
        "the batch service logs in; the agent needs no login"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn default_mapping_validates_against_the_emulator_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings/threedx.toml");
    let mapping = Mapping::load(&path).expect("mappings/threedx.toml loads");
    let s = sim(0).await;
    let (_d, c) = client(&s, 1000);
    // No document carries the link extension yet: its attributes cannot be read, and the
    // schema says so.
    let before = c.schema().await.expect("schema");
    assert!(
        before
            .caveats
            .iter()
            .any(|c| c.contains("extension PromptToPartLinkExt")),
        "{:?}",
        before.caveats
    );
    // Once a link document exists, its attributes are read from it.
    let p = part(&c, "PL-4001", "A").await;
    c.create_link(&p, &LinkId("ptp-schema".into()), &fields("schema"))
        .await
        .expect("create");
    let schema = c.schema().await.expect("schema");
    assert!(schema.caveats.is_empty(), "{:?}", schema.caveats);
    let errors = mapping.validate_against(&schema);
    assert!(errors.is_empty(), "{errors:?}");
    let part = &schema.entities["part"];
    assert!(part.iter().any(|p| p.name == "customerAttributes/Weight"));
    assert!(part.iter().all(|p| !p.writable));
    s.shutdown().await;
}
