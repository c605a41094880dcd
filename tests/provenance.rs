//! `partreel provenance check`: the real binary on signed, altered and stripped clips written by
//! partreel-core's fixtures — one line per file, `--json`, and an exit code that gates.

use std::path::{Path, PathBuf};

use partreel_testkit::fixtures::{self, ClipKind, MediaFormat};
use serde_json::Value;

use crate::util::bin;

fn write_clip(dir: &Path, name: &str, kind: ClipKind) -> PathBuf {
    let bytes = fixtures::clip(
        kind,
        MediaFormat::Mp4,
        8192,
        name.as_bytes(),
        "sora-2/2.0.3",
    )
    .expect("fixture");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write clip");
    path
}

fn run(args: &[&str], files: &[&Path]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(["provenance", "check"])
        .args(args)
        .args(files)
        .output()
        .expect("run partreel")
}

/// Every file passes → exit 0; one line per file naming status and generator.
#[test]
fn provenance_check_passes_signed_clips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write_clip(dir.path(), "a.mp4", ClipKind::Signed);
    let b = write_clip(dir.path(), "b.mp4", ClipKind::Signed);
    let out = run(&["--allow-generator", "sora"], &[&a, &b]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.starts_with("pass") && l.contains("valid") && l.contains("sora-2/2.0.3")),
        "{stdout}"
    );
}

/// Altered, stripped, off-list and not-media files fail with their reasons; exit 1.
#[test]
fn provenance_check_fails_altered_stripped_and_not_media_with_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signed = write_clip(dir.path(), "signed.mp4", ClipKind::Signed);
    let altered = write_clip(dir.path(), "altered.mp4", ClipKind::Altered);
    let stripped = write_clip(dir.path(), "stripped.mp4", ClipKind::Stripped);
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a clip").expect("write text");
    let out = run(&["--json"], &[&signed, &altered, &stripped, &text]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Value = serde_json::from_slice(&out.stdout).expect("json array");
    let by_status: Vec<(&str, bool, &str)> = reports
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or_default(),
                r["preserved"].as_bool().unwrap_or(true),
                r["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(by_status[0].0, "valid");
    assert!(by_status[0].1);
    assert_eq!(by_status[1].0, "invalid");
    assert_eq!(by_status[1].2, "tampered: assertion.bmffHash.mismatch");
    assert_eq!(
        by_status[2],
        ("absent", false, "no provenance (manifest absent)")
    );
    assert_eq!(by_status[3].0, "error");
    assert!(
        by_status[3].2.starts_with("not checked: not media"),
        "{:?}",
        by_status[3]
    );
    assert!(
        !reports[0]["evidence"]["sha256"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );

    // Off the allow-list, then over the size limit.
    let out = run(&["--allow-generator", "veo"], &[&signed]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not on the allow-list"));
    let out = run(&["--max-bytes", "100"], &[&signed]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("file larger than 100 bytes"));
}

/// With the fixtures' CA as trust anchor the status reads `trusted`; a bad PEM exits 2.
#[test]
fn provenance_check_trust_anchors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signed = write_clip(dir.path(), "signed.mp4", ClipKind::Signed);
    let pem = dir.path().join("anchors.pem");
    std::fs::write(&pem, fixtures::trust_anchor_pem().expect("ca")).expect("write pem");
    let out = run(
        &["--trust-anchors", pem.to_str().unwrap_or_default()],
        &[&signed],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The anchor is this test process's ephemeral CA, the one that signed the clip above.
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("trusted"), "{stdout}");
    std::fs::write(&pem, "garbage").expect("write pem");
    let out = run(
        &["--trust-anchors", pem.to_str().unwrap_or_default()],
        &[&signed],
    );
    assert_eq!(out.status.code(), Some(2));
}
