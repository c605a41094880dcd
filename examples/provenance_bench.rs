//! Provenance checks per second on a generated clip (by hand, not in CI):
//!
//! ```text
//! cargo run --release --example provenance_bench -- [SIZE_MB=20] [CHECKS=20]
//! ```
//!
//! Signs one MP4 of SIZE_MB with the fixtures' ephemeral signer, writes it to a temporary
//! folder, then runs [`Checker::check`] on it CHECKS times (SHA-256 of the whole file plus the
//! C2PA read and BMFF hash validation) and prints checks/s and MB/s, plus the signing time and
//! the peak RSS of the process.

use std::time::Instant;

use partreel_core::provenance::{Checker, ManifestStatus, ProvenancePolicy};
use partreel_testkit::fixtures::{self, ClipKind, MediaFormat};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let size_mb: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let checks: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let started = Instant::now();
    let bytes = fixtures::clip(
        ClipKind::Signed,
        MediaFormat::Mp4,
        size_mb * 1024 * 1024,
        b"bench",
        "sora-2/2.0.3",
    )?;
    let sign_secs = started.elapsed().as_secs_f64();
    let dir = std::env::temp_dir().join(format!("partreel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("clip.mp4");
    std::fs::write(&path, &bytes)?;
    drop(bytes);
    let checker = Checker::new(&ProvenancePolicy::default())?;
    let started = Instant::now();
    for _ in 0..checks {
        let ev = checker.check(&path)?;
        assert_eq!(ev.manifest, ManifestStatus::Valid, "{ev:?}");
    }
    let secs = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dir)?;
    let per_sec = checks as f64 / secs;
    println!(
        "clip {size_mb} MB: signed in {sign_secs:.2} s; {checks} checks in {secs:.2} s = {per_sec:.2} checks/s, {:.0} MB/s; peak RSS {} MiB",
        per_sec * size_mb as f64,
        peak_rss_kib().map_or("?".into(), |k| (k / 1024).to_string())
    );
    Ok(())
}
