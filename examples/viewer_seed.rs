//! Seeds a SQLite state file for the viewer benchmark, through the store's own write API.
//!
//! Run with `cargo run --release --example viewer_seed -- STATE.db [LINKS]` (default 100,000
//! links): `LINKS / 10` part numbers with two revisions each, `LINKS / 2` clips, every clip
//! linked to two part revisions, so a revision carries about five clips. Then point
//! `partreel serve` at it (see BENCHMARKS.md, "Viewer").

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use partreel_core::model::{CanonicalValues, LinkId, LinkStatus, ProvenanceState, WatermarkStatus};
use partreel_core::state::sqlite::SqliteStore;
use partreel_core::state::{AssetRecord, LinkOrigin, LinkRecord, PartRecord, StateStore};

/// Rows written per transaction for parts and clips.
const BATCH: usize = 1000;

fn part_number(i: usize) -> String {
    format!("P-{i:05}")
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: viewer_seed STATE.db [LINKS]");
        return ExitCode::from(2);
    };
    let links: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    match seed(&path, links).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("viewer_seed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn seed(path: &std::path::Path, links: usize) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let store = SqliteStore::open(path)?;
    let numbers = (links / 10).max(1);
    let clips = (links / 2).max(1);
    let now = Utc::now();
    let revisions = ["A", "B"];

    let parts: Vec<PartRecord> = (0..numbers)
        .flat_map(|i| {
            revisions.iter().map(move |r| PartRecord {
                system: "windchill".into(),
                number: part_number(i),
                revision: (*r).into(),
                remote_id: format!("OR:wt.part.WTPart:{}{r}", 100_000 + i),
                name: format!("Benchmark part {i} rev {r}"),
                lifecycle_state: Some("Released".into()),
                sku: Some(format!("SKU-{i:05}")),
                modified: now,
                values: CanonicalValues::new(),
                first_seen: now,
            })
        })
        .collect();
    for chunk in parts.chunks(BATCH) {
        store.upsert_parts(chunk).await?;
    }

    let assets: Vec<AssetRecord> = (0..clips)
        .map(|c| {
            let values: CanonicalValues = [
                (
                    "prompt",
                    format!("clip {c}: product turntable, studio light, 8 seconds"),
                ),
                ("model", "sora-2".to_string()),
                ("model_version", "2.0.3".to_string()),
                ("campaign", format!("Campaign_{}", c % 40)),
                ("review_status", "Approved".to_string()),
                ("rights_notes", "Generated in-house.".to_string()),
                (
                    "rights_expiry",
                    (now + TimeDelta::days(180)).format("%Y-%m-%d").to_string(),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            AssetRecord {
                system: "bynder".into(),
                asset_id: format!("ASSET-{c:06}"),
                title: format!("clip-{c:06}"),
                modified: now,
                version: Some("1".into()),
                archived: false,
                deleted: false,
                rendition_url: Some(format!(
                    "http://127.0.0.1:9/__sim/files/ASSET-{c:06}/preview.mp4"
                )),
                values,
                watermark: WatermarkStatus {
                    visible_field: Some(true),
                    provenance: ProvenanceState::Valid,
                    claim_generator: Some("sora-2".into()),
                    ..WatermarkStatus::default()
                },
            }
        })
        .collect();
    for chunk in assets.chunks(BATCH) {
        store.upsert_assets(chunk, &[]).await?;
    }

    // Clip c is linked to two revisions: (c mod numbers, A) and ((c * 7 + 3) mod numbers, B).
    let mut written = 0usize;
    'outer: for c in 0..clips {
        for (n, r) in [(c % numbers, "A"), ((c * 7 + 3) % numbers, "B")] {
            if written == links {
                break 'outer;
            }
            let asset_id = format!("ASSET-{c:06}");
            let number = part_number(n);
            store
                .upsert_link(&LinkRecord {
                    link_id: LinkId::new("bynder", &asset_id, "windchill", &number, r),
                    dam_system: "bynder".into(),
                    asset_id,
                    plm_system: "windchill".into(),
                    part_number: number,
                    part_revision: r.into(),
                    part_remote_id: format!("OR:wt.part.WTPart:{}{r}", 100_000 + n),
                    remote_id: Some(format!("OR:wt.doc.WTDocument:{}", 500_000 + written)),
                    status: if c % 50 == 0 {
                        LinkStatus::Retired
                    } else {
                        LinkStatus::Active
                    },
                    origin: LinkOrigin::Tagged,
                    base: CanonicalValues::new(),
                    plm_values: CanonicalValues::new(),
                    plm_modified: Some(now),
                    created_at: now,
                    updated_at: now,
                    run_id: "bench-seed".into(),
                })
                .await?;
            written += 1;
        }
    }
    println!(
        "seeded {} part revisions, {clips} clips, {written} links into {} in {:.1} s",
        parts.len(),
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
