//! Provenance checks on clips signed here, the rule's table, and downloads against wiremock.

use std::path::{Path, PathBuf};

use chrono::Utc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::http::{HttpClient, HttpConfig, NoAuth, RateLimitConfig};
use partreel_testkit::fixtures::{self, ClipKind, MediaFormat, SignOptions};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p
}

fn clip(kind: ClipKind, format: MediaFormat) -> Vec<u8> {
    fixtures::clip(kind, format, 4096, b"test-clip", "sora-2/2.0.3").expect("fixture")
}

fn check(bytes: &[u8], policy: &ProvenancePolicy) -> Result<Evidence, ProvenanceError> {
    let dir = tempfile::tempdir().expect("tempdir");
    check_file(&write(dir.path(), "clip", bytes), policy)
}

#[test]
fn a_signed_mp4_is_valid_with_its_generator_binding_and_watermark() {
    let bytes = clip(ClipKind::Signed, MediaFormat::Mp4);
    let ev = check(&bytes, &ProvenancePolicy::default()).expect("checked");
    assert_eq!(ev.manifest, ManifestStatus::Valid, "{ev:?}");
    assert_eq!(ev.claim_generator.as_deref(), Some("sora-2/2.0.3"));
    assert_eq!(ev.hard_binding_ok, Some(true));
    assert!(ev.watermark_assertion);
    assert!(ev.generator_allowed);
    assert!(ev.issuer.is_some(), "{ev:?}");
    assert_eq!(ev.size_bytes, bytes.len() as u64);
    assert_eq!(ev.sha256.len(), 64);
    assert_eq!(ev.checker, CHECKER_ID);
    let v = watermark_preserved(Some(&ev), None);
    assert!(v.preserved, "{v:?}");
}

#[test]
fn a_signed_jpeg_is_valid() {
    let ev = check(
        &clip(ClipKind::Signed, MediaFormat::Jpeg),
        &ProvenancePolicy::default(),
    )
    .expect("checked");
    assert_eq!(ev.manifest, ManifestStatus::Valid, "{ev:?}");
    assert_eq!(ev.hard_binding_ok, Some(true));
}

#[test]
fn a_signed_clip_is_trusted_when_its_ca_is_a_trust_anchor() {
    let policy = ProvenancePolicy {
        trust_anchors_pem: Some(fixtures::trust_anchor_pem().expect("ca")),
        ..ProvenancePolicy::default()
    };
    let ev = check(&clip(ClipKind::Signed, MediaFormat::Mp4), &policy).expect("checked");
    assert_eq!(ev.manifest, ManifestStatus::Trusted, "{ev:?}");
    assert!(
        watermark_preserved(Some(&ev), None)
            .reason
            .contains("trusted")
    );
}

#[test]
fn one_flipped_mdat_byte_is_invalid_with_the_bmff_hash_mismatch() {
    let ev = check(
        &clip(ClipKind::Altered, MediaFormat::Mp4),
        &ProvenancePolicy::default(),
    )
    .expect("checked");
    let ManifestStatus::Invalid { codes } = &ev.manifest else {
        panic!("expected invalid: {ev:?}");
    };
    assert!(
        codes.iter().any(|c| c == "assertion.bmffHash.mismatch"),
        "{codes:?}"
    );
    assert_eq!(ev.hard_binding_ok, Some(false));
    let v = watermark_preserved(Some(&ev), Some(true));
    assert!(!v.preserved);
    assert!(
        v.reason
            .starts_with("tampered: assertion.bmffHash.mismatch"),
        "{v:?}"
    );
}

#[test]
fn one_flipped_jpeg_byte_is_invalid_with_the_data_hash_mismatch() {
    let ev = check(
        &clip(ClipKind::Altered, MediaFormat::Jpeg),
        &ProvenancePolicy::default(),
    )
    .expect("checked");
    let ManifestStatus::Invalid { codes } = &ev.manifest else {
        panic!("expected invalid: {ev:?}");
    };
    assert!(
        codes.iter().any(|c| c == "assertion.dataHash.mismatch"),
        "{codes:?}"
    );
}

#[test]
fn a_stripped_or_never_signed_clip_is_absent_not_tampered() {
    for bytes in [
        clip(ClipKind::Stripped, MediaFormat::Mp4),
        clip(ClipKind::Stripped, MediaFormat::Jpeg),
        fixtures::mp4(2048, b"unsigned"),
        fixtures::jpeg(),
    ] {
        let ev = check(&bytes, &ProvenancePolicy::default()).expect("checked");
        assert_eq!(ev.manifest, ManifestStatus::Absent, "{ev:?}");
        assert_eq!(ev.hard_binding_ok, None);
        let v = watermark_preserved(Some(&ev), Some(true));
        assert_eq!(v.reason, "no provenance (manifest absent)");
    }
}

#[test]
fn a_generator_off_the_allow_list_fails_the_rule() {
    let policy = ProvenancePolicy {
        allow_generators: vec!["Veo".into(), "runway".into()],
        ..ProvenancePolicy::default()
    };
    let ev = check(&clip(ClipKind::Signed, MediaFormat::Mp4), &policy).expect("checked");
    assert_eq!(ev.manifest, ManifestStatus::Valid);
    assert!(!ev.generator_allowed);
    let v = watermark_preserved(Some(&ev), Some(true));
    assert_eq!(v.reason, "generator sora-2/2.0.3 not on the allow-list");

    let allowed = ProvenancePolicy {
        allow_generators: vec!["SORA".into()],
        ..ProvenancePolicy::default()
    };
    let ev = check(&clip(ClipKind::Signed, MediaFormat::Mp4), &allowed).expect("checked");
    assert!(ev.generator_allowed, "case-insensitive substring match");
}

#[test]
fn a_clip_without_watermark_action_needs_the_dam_field() {
    let media = fixtures::mp4(2048, b"no-wm");
    let opts = SignOptions {
        watermarked: false,
        ..SignOptions::watermarked("sora-2")
    };
    let signed = fixtures::sign(MediaFormat::Mp4, &media, &opts).expect("signed");
    let ev = check(&signed, &ProvenancePolicy::default()).expect("checked");
    assert_eq!(ev.manifest, ManifestStatus::Valid);
    assert!(!ev.watermark_assertion);
    assert_eq!(
        watermark_preserved(Some(&ev), None).reason,
        "no watermark evidence"
    );
    assert!(watermark_preserved(Some(&ev), Some(true)).preserved);
}

#[test]
fn a_file_over_the_limit_is_an_error() {
    let policy = ProvenancePolicy {
        max_file_bytes: 100,
        ..ProvenancePolicy::default()
    };
    let err = check(&clip(ClipKind::Signed, MediaFormat::Mp4), &policy).expect_err("too large");
    assert_eq!(err.to_string(), "file larger than 100 bytes");
    assert!(!Verdict::from_error(&err).preserved);
}

#[test]
fn a_text_file_is_not_media() {
    let err = check(
        b"<html>503 Service Unavailable</html>",
        &ProvenancePolicy::default(),
    )
    .expect_err("not media");
    assert!(matches!(err, ProvenanceError::NotMedia { .. }), "{err}");
    assert!(err.to_string().contains("looks like text"), "{err}");
    let err = check(b"", &ProvenancePolicy::default()).expect_err("empty");
    assert!(matches!(err, ProvenanceError::NotMedia { .. }), "{err}");
    let v = Verdict::from_error(&err);
    assert_eq!(v.reason, "not checked: not media: empty file");
}

#[test]
fn a_truncated_mp4_container_is_not_media_or_absent_never_valid() {
    let bytes = clip(ClipKind::Signed, MediaFormat::Mp4);
    match check(&bytes[..bytes.len() / 2], &ProvenancePolicy::default()) {
        Err(ProvenanceError::NotMedia { .. }) => {}
        Ok(ev) => assert!(
            !matches!(ev.manifest, ManifestStatus::Valid | ManifestStatus::Trusted),
            "{ev:?}"
        ),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn bad_trust_anchors_are_a_config_error() {
    let policy = ProvenancePolicy {
        trust_anchors_pem: Some("not a pem".into()),
        ..ProvenancePolicy::default()
    };
    assert!(matches!(
        Checker::new(&policy),
        Err(ProvenanceError::Config(_))
    ));
    assert_eq!(policy.validate().len(), 1);
}

#[test]
fn the_policy_parses_from_toml_with_defaults_and_denies_unknown_keys() {
    let p: ProvenancePolicy = toml::from_str("allow_generators = [\"sora\"]").expect("parse");
    assert_eq!(p.allow_generators, vec!["sora".to_string()]);
    assert_eq!(p.max_file_bytes, ProvenancePolicy::default().max_file_bytes);
    assert!(toml::from_str::<ProvenancePolicy>("allow_generator = []").is_err());
}

#[test]
fn evidence_round_trips_through_json() {
    let ev = check(
        &clip(ClipKind::Altered, MediaFormat::Mp4),
        &ProvenancePolicy::default(),
    )
    .expect("checked");
    let json = serde_json::to_string(&ev).expect("json");
    let back: Evidence = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, ev);
}

fn evidence(manifest: ManifestStatus) -> Evidence {
    Evidence {
        manifest,
        claim_generator: Some("sora-2/2.0.3".into()),
        issuer: Some("OpenAI".into()),
        generator_allowed: true,
        hard_binding_ok: Some(true),
        watermark_assertion: true,
        sha256: "00".repeat(32),
        size_bytes: 1,
        checked_at: Utc::now(),
        checker: CHECKER_ID.into(),
    }
}

#[test]
fn the_rule_table() {
    let valid = evidence(ManifestStatus::Valid);
    let no_wm = Evidence {
        watermark_assertion: false,
        ..valid.clone()
    };
    /// (case, evidence, visible field, preserved, reason contains)
    type Case<'a> = (&'a str, Option<Evidence>, Option<bool>, bool, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("never checked", None, Some(true), false, "not checked"),
        (
            "absent",
            Some(evidence(ManifestStatus::Absent)),
            Some(true),
            false,
            "no provenance (manifest absent)",
        ),
        (
            "hash mismatch",
            Some(evidence(ManifestStatus::Invalid {
                codes: vec!["assertion.bmffHash.mismatch".into()],
            })),
            Some(true),
            false,
            "tampered: assertion.bmffHash.mismatch",
        ),
        (
            "bad signature",
            Some(evidence(ManifestStatus::Invalid {
                codes: vec!["claimSignature.mismatch".into()],
            })),
            Some(true),
            false,
            "invalid manifest: claimSignature.mismatch",
        ),
        (
            "binding not evaluated",
            Some(Evidence {
                hard_binding_ok: None,
                ..valid.clone()
            }),
            Some(true),
            false,
            "hard binding not verified",
        ),
        (
            "generator off the list",
            Some(Evidence {
                generator_allowed: false,
                ..valid.clone()
            }),
            Some(true),
            false,
            "generator sora-2/2.0.3 not on the allow-list",
        ),
        (
            "no watermark anywhere",
            Some(no_wm.clone()),
            Some(false),
            false,
            "no watermark evidence",
        ),
        (
            "field unset, no assertion",
            Some(no_wm.clone()),
            None,
            false,
            "no watermark evidence",
        ),
        (
            "field says yes",
            Some(no_wm),
            Some(true),
            true,
            "manifest valid, generator sora-2/2.0.3, visible-watermark field set in the DAM",
        ),
        (
            "assertion beats a field set to no",
            Some(valid.clone()),
            Some(false),
            true,
            "manifest valid, generator sora-2/2.0.3, watermark assertion in the manifest",
        ),
        (
            "trusted",
            Some(evidence(ManifestStatus::Trusted)),
            None,
            true,
            "manifest trusted, generator sora-2/2.0.3, watermark assertion in the manifest",
        ),
    ];
    for (name, ev, field, preserved, reason) in cases {
        let v = watermark_preserved(ev.as_ref(), field);
        assert_eq!(v.preserved, preserved, "{name}: {v:?}");
        assert_eq!(v.reason, reason, "{name}");
    }
}

fn http() -> HttpClient {
    let mut cfg = HttpConfig::default();
    cfg.retry.max_attempts = 2;
    cfg.retry.initial_backoff_ms = 1;
    cfg.retry.max_backoff_ms = 1;
    HttpClient::new("files", &cfg, &RateLimitConfig::default()).expect("client")
}

#[tokio::test]
async fn a_download_streams_to_disk_and_checks() {
    let server = MockServer::start().await;
    let bytes = clip(ClipKind::Signed, MediaFormat::Mp4);
    Mock::given(method("GET"))
        .and(path("/f/clip.mp4"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes.clone()))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("clip.mp4");
    let url = url::Url::parse(&format!("{}/f/clip.mp4", server.uri())).expect("url");
    let info = download(&http(), &NoAuth, url, &dest, 1 << 20)
        .await
        .expect("downloaded");
    assert_eq!(info.bytes, bytes.len() as u64);
    let ev = check_file(&dest, &ProvenancePolicy::default()).expect("checked");
    assert_eq!(ev.sha256, info.sha256);
    assert_eq!(ev.manifest, ManifestStatus::Valid);
}

#[tokio::test]
async fn a_download_over_the_limit_fails_and_leaves_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8; 5000]))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("big.mp4");
    let url = url::Url::parse(&format!("{}/big", server.uri())).expect("url");
    let err = download(&http(), &NoAuth, url, &dest, 4096)
        .await
        .expect_err("too large");
    assert_eq!(err.to_string(), "file larger than 4096 bytes");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

/// A server that announces more bytes than it sends, then closes the connection.
async fn truncating_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\nContent-Type: video/mp4\r\n\r\n",
                )
                .await;
            let _ = sock.write_all(&[7u8; 1000]).await;
            let _ = sock.shutdown().await;
        }
    });
    format!("http://{addr}/clip.mp4")
}

#[tokio::test]
async fn a_truncated_download_fails_and_leaves_nothing() {
    let url = url::Url::parse(&truncating_server().await).expect("url");
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("cut.mp4");
    let err = download(&http(), &NoAuth, url, &dest, 1 << 20)
        .await
        .expect_err("truncated");
    assert!(matches!(err, ProvenanceError::Truncated { .. }), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[tokio::test]
async fn a_download_error_status_is_retried_then_reported() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .expect(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = url::Url::parse(&format!("{}/x", server.uri())).expect("url");
    let err = download(&http(), &NoAuth, url, &dir.path().join("x"), 100)
        .await
        .expect_err("503");
    assert!(
        matches!(err, ProvenanceError::Http(ref e) if e.status() == Some(503)),
        "{err}"
    );
}

#[test]
fn zero_concurrent_checks_is_refused_and_the_default_is_one_per_core() {
    let zero = ProvenancePolicy {
        max_concurrent_checks: Some(0),
        ..ProvenancePolicy::default()
    };
    let errors = zero.validate();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("provenance.max_concurrent_checks")),
        "{errors:?}"
    );
    let default = ProvenancePolicy::default();
    assert!(default.validate().is_empty());
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    assert_eq!(default.concurrent_checks(), cores);
    let three = ProvenancePolicy {
        max_concurrent_checks: Some(3),
        ..ProvenancePolicy::default()
    };
    assert_eq!(three.concurrent_checks(), 3);
}

/// A file version's turn: a second holder of the same key waits for the first, another key
/// does not, and no key stays behind once every turn is dropped.
#[tokio::test]
async fn turns_take_one_file_version_at_a_time() {
    let c = Checker::new(&ProvenancePolicy::default()).expect("checker");
    let first = c.turn("bynder/A1/v1".into()).await;
    let c2 = c.clone();
    let waiter = tokio::spawn(async move {
        let _turn = c2.turn("bynder/A1/v1".into()).await;
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "the second turn waits for the first");
    let other = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        c.turn("bynder/A2/v1".into()),
    )
    .await
    .expect("another file version does not wait");
    drop(other);
    drop(first);
    waiter.await.expect("the waiting turn came");
    assert_eq!(c.turns_in_use(), 0, "no turn left behind");
}

/// `partreel_connector` writes c2pa's hard-binding codes out (it has no c2pa): they are c2pa's.
#[test]
fn hard_binding_codes_agree_with_c2pa() {
    use c2pa::validation_status as codes;
    for code in [
        codes::HARD_BINDINGS_MISSING,
        codes::HARD_BINDINGS_MULTIPLE,
        codes::ASSERTION_DATAHASH_MISMATCH,
        codes::ASSERTION_BMFFHASH_MISMATCH,
        codes::ASSERTION_BOXESHASH_MALFORMED,
        codes::ASSERTION_COLLECTIONHASH_MISMATCH,
    ] {
        assert!(is_hard_binding_failure(code), "{code}");
    }
    // Applied to failure codes only; other codes are not bindings.
    for code in [
        codes::SIGNING_CREDENTIAL_UNTRUSTED,
        codes::CLAIM_SIGNATURE_VALIDATED,
    ] {
        assert!(!is_hard_binding_failure(code), "{code}");
    }
}
