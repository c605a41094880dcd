//! The connector against the AEM emulator (`partreel_sim::aem`): the feed paged to its end
//! through tie groups larger than a page, under 20% faults too; a metadata write confirmed by
//! re-reading; IMS token revocation mid-run (exactly one new token); archive, delete and the
//! original file with its provenance; the default mapping against the emulator's schema.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use partreel_aem::{AemAuthConfig, AemClient, AemConfig, BuildContext};
use partreel_core::DamConnector;
use partreel_core::connector::ChangeQuery;
use partreel_core::engine::pull::{FeedCursor, read_feed};
use partreel_core::http::{HttpConfig, RateLimitConfig, RetryConfig, SecretRef};
use partreel_core::mapping::Mapping;
use partreel_core::model::{RemoteFields, VideoExperiment};
use partreel_core::provenance::{ManifestStatus, ProvenancePolicy, check_file};
use partreel_sim::aem::{self, ARCHIVE_PROPERTY, AemSim, AemSimConfig, STORY_FOLDER};
use partreel_sim::{FaultKind, FaultPlan, SimClock};
use tempfile::TempDir;

fn fast_http() -> HttpConfig {
    HttpConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 10_000,
            per_secs: 1,
            burst: Some(10_000),
        }),
        retry: RetryConfig {
            max_attempts: 8,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            rate_limited_backoff_ms: 1,
            max_retry_after_secs: 2,
            max_timeouts: 2,
        },
        ..HttpConfig::default()
    }
}

fn parts() -> Vec<(String, String, String)> {
    [
        ("TR-1001", "B", "ACM-TR-1001-RD"),
        ("TR-1002", "A", "ACM-TR-1002-BL"),
        ("DL-2040", "C", "ACM-DL-2040"),
    ]
    .iter()
    .map(|(n, r, s)| (n.to_string(), r.to_string(), s.to_string()))
    .collect()
}

async fn sim(clips: usize) -> AemSim {
    let cfg = AemSimConfig {
        parts: parts(),
        clips,
        ..AemSimConfig::default()
    };
    aem::start(cfg, SimClock::new())
        .await
        .expect("emulator starts")
}

/// An IMS client of the emulator, the secret read from a file.
fn client(s: &AemSim, page_size: u32) -> (TempDir, AemClient) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret"), &s.credentials.client_secret).expect("write secret");
    let cfg = AemConfig {
        base_url: s.emulator.url.clone(),
        dam_root: s.dam_root.clone(),
        auth: AemAuthConfig::Ims {
            client_id: s.credentials.client_id.clone(),
            client_secret: SecretRef::File("secret".into()),
            scopes: vec!["AdobeID".into(), "openid".into()],
            token_url: s.token_url.clone(),
            api_key: true,
        },
        page_size,
        write_batch: 50,
        archive_property: Some(ARCHIVE_PROPERTY.into()),
        metadata_properties: vec!["acme:lifecycleState".into(), "acme:partName".into()],
        http: fast_http(),
    };
    let ctx = BuildContext {
        system: "aem".into(),
        config_dir: dir.path().to_path_buf(),
    };
    let c = cfg
        .validate()
        .expect("valid config")
        .build(ctx)
        .expect("client builds");
    (dir, c)
}

async fn read_all(c: &AemClient, page_size: u32) -> Vec<VideoExperiment> {
    let seen = Arc::new(tokio::sync::Mutex::new(Vec::<VideoExperiment>::new()));
    let sink = seen.clone();
    let cursor = FeedCursor {
        start: None,
        overlap: Duration::from_secs(0),
    };
    read_feed(
        cursor,
        page_size,
        |a: &VideoExperiment| a.modified,
        |q: ChangeQuery| async move { c.changed_assets(&q).await },
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
    seen.lock().await.clone()
}

fn story_path(s: &AemSim, file: &str) -> String {
    format!("{}/{STORY_FOLDER}/{file}", s.dam_root)
}

#[tokio::test]
async fn feed_pages_to_the_end_through_ties_larger_than_a_page() {
    let s = sim(60).await;
    let paths = s.asset_paths();
    assert_eq!(paths.len(), 64, "4 story clips and 60 generated");
    // 25 clips share one jcr:lastModified: more than two pages of 10.
    let tie: Vec<String> = paths.iter().skip(10).take(25).cloned().collect();
    s.set_same_modified(&tie, s.clock.now() - chrono::TimeDelta::days(3));
    let (_d, c) = client(&s, 10);
    let seen = read_all(&c, 10).await;
    let ids: BTreeSet<&str> = seen.iter().map(|a| a.asset_id.as_str()).collect();
    assert_eq!(ids.len(), 64, "every clip, once or more");
    assert!(
        seen.windows(2).all(|w| w[0].modified <= w[1].modified),
        "oldest first"
    );
    let race = seen
        .iter()
        .find(|a| a.asset_id == story_path(&s, "tr-1002-sleigh-race.mp4"))
        .expect("story clip");
    assert_eq!(
        race.fields.get("acme:partNumber").map(String::as_str),
        Some("TR-1002")
    );
    assert_eq!(
        race.fields.get("acme:partRevision").map(String::as_str),
        Some("A")
    );
    assert_eq!(
        race.fields.get("acme:sku").map(String::as_str),
        Some("ACM-TR-1002-BL")
    );
    assert!(race.version.is_some(), "dam:sha1 is the version");
    assert_eq!(s.tokens_issued(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn feed_converges_under_twenty_percent_faults() {
    let s = sim(40).await;
    s.emulator.faults.set_plan(FaultPlan {
        rate: 0.2,
        kinds: vec![
            FaultKind::ServerError(503),
            FaultKind::ServerError(500),
            FaultKind::Reset,
        ],
        seed: 7,
    });
    let (_d, c) = client(&s, 7);
    let seen = read_all(&c, 7).await;
    let ids: BTreeSet<&str> = seen.iter().map(|a| a.asset_id.as_str()).collect();
    assert_eq!(ids.len(), 44);
    assert!(s.emulator.faults.counters().server_errors > 0);
    s.shutdown().await;
}

/// With and without the Granite CSRF filter (an instance whose filter excludes the caller), and
/// with and without `jcr:lastModified` in the asset JSON: the connector writes and confirms
/// either way.
#[tokio::test]
async fn a_write_is_confirmed_by_re_reading() {
    for csrf_filter in [true, false] {
        for siren_last_modified in [true, false] {
            let s = aem::start(
                AemSimConfig {
                    parts: parts(),
                    clips: 0,
                    csrf_filter,
                    siren_last_modified,
                    ..AemSimConfig::default()
                },
                SimClock::new(),
            )
            .await
            .expect("emulator starts");
            write_confirmed(s, csrf_filter).await;
        }
    }
}

async fn write_confirmed(s: AemSim, csrf_filter: bool) {
    let (_d, c) = client(&s, 100);
    let p = story_path(&s, "dl-2040-snow-globe.mp4");
    let before = s.asset(&p).expect("asset").modified;
    s.clock.advance(Duration::from_secs(60));
    let fields: RemoteFields = [
        ("acme:lifecycleState", "RELEASED"),
        ("acme:partName", "Sunset Doll"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let a = c.write_fields(&p, &fields).await.expect("written");
    assert_eq!(
        a.fields.get("acme:partName").map(String::as_str),
        Some("Sunset Doll")
    );
    let held = s.asset(&p).expect("asset");
    assert_eq!(
        held.metadata.get("acme:lifecycleState").map(String::as_str),
        Some("RELEASED")
    );
    assert!(held.modified > before, "a write stamps jcr:lastModified");
    assert_eq!(
        a.modified, held.modified,
        "the time read back is the asset's"
    );
    let puts = s.emulator.log.count_matching(|e| e.method == "PUT");
    assert_eq!(puts, 1, "csrf filter {csrf_filter}: one PUT, never refused");
    let csrf = s
        .emulator
        .log
        .count_matching(|e| e.path.ends_with("/csrf/token.json"));
    assert_eq!(csrf, 1, "csrf filter {csrf_filter}: the token asked once");
    s.shutdown().await;
}

/// A CSRF token that ages out on the server mid-run (the emulator's sessions dropped) is
/// renewed once and the write replayed.
#[tokio::test]
async fn a_csrf_token_lost_on_the_server_is_renewed_once() {
    let s = sim(0).await;
    let (_d, c) = client(&s, 100);
    let p = story_path(&s, "dl-2040-snow-globe.mp4");
    let one: RemoteFields = [("acme:partName".to_string(), "First".to_string())].into();
    c.write_fields(&p, &one).await.expect("first write");
    s.expire_sessions();
    let two: RemoteFields = [("acme:partName".to_string(), "Second".to_string())].into();
    c.write_fields(&p, &two).await.expect("second write");
    let csrf = s
        .emulator
        .log
        .count_matching(|e| e.path.ends_with("/csrf/token.json"));
    assert_eq!(csrf, 2);
    assert_eq!(
        s.asset(&p)
            .and_then(|a| a.metadata.get("acme:partName").cloned())
            .as_deref(),
        Some("Second")
    );
    s.shutdown().await;
}

#[tokio::test]
async fn token_revoked_mid_run_gets_exactly_one_new_token() {
    let s = sim(30).await;
    let (_d, c) = client(&s, 10);
    let first = c
        .changed_assets(&ChangeQuery {
            page_size: 10,
            ..ChangeQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(s.tokens_issued(), 1);
    s.emulator.faults.expire_sessions();
    let c = Arc::new(c);
    let mut tasks = Vec::new();
    for a in first.items.iter().take(6) {
        let c = c.clone();
        let id = a.asset_id.clone();
        tasks.push(tokio::spawn(async move { c.get_asset(&id).await }));
    }
    for t in tasks {
        assert!(t.await.expect("task").expect("read").is_some());
    }
    let rest = read_all(&c, 10).await;
    let ids: BTreeSet<&str> = rest.iter().map(|a| a.asset_id.as_str()).collect();
    assert_eq!(ids.len(), 34);
    assert_eq!(
        s.tokens_issued(),
        2,
        "one new token for every request in flight"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn archive_delete_and_the_original_file() {
    let s = sim(0).await;
    let (d, c) = client(&s, 100);
    let signed = story_path(&s, "tr-1002-sleigh-race.mp4");
    let stripped = story_path(&s, "tr-1002-unboxing.mp4");
    assert!(s.archive(&signed));
    assert!(
        c.get_asset(&signed)
            .await
            .expect("read")
            .expect("exists")
            .archived
    );
    let url = c.original_url(&signed).await.expect("url").expect("some");
    assert!(url.ends_with("/jcr:content/renditions/original"), "{url}");
    for (p, want_valid) in [(&signed, true), (&stripped, false)] {
        let dest = d.path().join("clip.mp4");
        c.download_original(p, &dest, 10 << 20)
            .await
            .expect("downloaded")
            .expect("an original");
        let ev = check_file(&dest, &ProvenancePolicy::default()).expect("checked");
        assert_eq!(
            ev.manifest == ManifestStatus::Valid,
            want_valid,
            "{p}: {ev:?}"
        );
        if !want_valid {
            assert_eq!(ev.manifest, ManifestStatus::Absent);
        }
    }
    let v1 = c
        .get_asset(&stripped)
        .await
        .expect("read")
        .and_then(|a| a.version);
    assert!(s.replace_file(&stripped, partreel_sim::ClipKind::Signed));
    let v2 = c
        .get_asset(&stripped)
        .await
        .expect("read")
        .and_then(|a| a.version);
    assert_ne!(v1, v2, "a re-upload changes dam:sha1");
    assert!(s.delete(&signed));
    assert!(c.get_asset(&signed).await.expect("read").is_none());
    assert!(c.original_url(&signed).await.expect("url").is_none());
    let entries = c.list_folder(&s.dam_root).await.expect("listed");
    assert!(
        entries
            .iter()
            .any(|e| e.folder && e.path.ends_with(STORY_FOLDER))
    );
    s.shutdown().await;
}

#[tokio::test]
async fn default_mapping_validates_against_the_emulator_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings/aem.toml");
    let mapping = Mapping::load(&path).expect("mappings/aem.toml loads");
    let s = sim(0).await;
    let (_d, c) = client(&s, 100);
    let schema = c.schema().await.expect("schema");
    let errors = mapping.validate_against(&schema);
    assert!(errors.is_empty(), "{errors:?}");
    let asset = &schema.entities["asset"];
    assert!(asset.iter().any(|p| p.name == "acme:sku" && p.writable));
    assert!(asset.iter().any(|p| p.name == "dam:sha1" && !p.writable));
    s.shutdown().await;
}
