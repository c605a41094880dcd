//! The seed generator: deterministic, shaped like the demo story.

use partreel_sim::{Sim, SimConfig};

use crate::util::sim;

/// Same seed → same part and asset ids and bodies; another seed → other assets.
#[tokio::test]
async fn seeding_is_deterministic() {
    let cfg = SimConfig {
        parts: 300,
        clips: 300,
        seed: 7,
        ..SimConfig::default()
    };
    let a = Sim::start(cfg.clone()).await.unwrap();
    let b = Sim::start(cfg.clone()).await.unwrap();
    let c = Sim::start(SimConfig { seed: 8, ..cfg }).await.unwrap();
    assert_eq!(a.windchill_parts(), b.windchill_parts());
    assert_eq!(a.bynder_asset_ids(), b.bynder_asset_ids());
    let bodies = |s: &Sim| {
        s.bynder_asset_ids()
            .iter()
            .map(|id| {
                let mut v = s.bynder_asset(id).unwrap();
                // URLs carry the port, which differs per sim.
                v.as_object_mut()
                    .unwrap()
                    .retain(|k, _| k != "videoPreviewURLs" && k != "thumbnails");
                v
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(bodies(&a), bodies(&b));
    assert_ne!(a.bynder_asset_ids(), c.bynder_asset_ids());
    assert_eq!(a.windchill_parts().len(), 304);
    // The story's six Windchill clips and two Teamcenter clips, then 300 generated ones.
    assert_eq!(a.bynder_asset_ids().len(), 308);
    assert_eq!(a.teamcenter.revisions(), b.teamcenter.revisions());
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

/// The story: TR-1001 A released and B in work (latest), the five clips and the stray teaser,
/// and the two clips about the Teamcenter emulator's Stunt Track revisions.
#[tokio::test]
async fn story_is_seeded() {
    let s = sim(0, 0).await;
    let parts = s.windchill_parts();
    assert_eq!(parts.len(), 4);
    let tr = |rev: &str| {
        parts
            .iter()
            .find(|p| p["Number"] == "TR-1001" && p["Revision"] == rev)
            .cloned()
            .unwrap()
    };
    assert_eq!(tr("A")["State"]["Value"], "RELEASED");
    assert_eq!(tr("A")["Latest"], false);
    assert_eq!(tr("B")["State"]["Display"], "In Work");
    assert_eq!(tr("B")["Sku"], "ACM-TR-1001-RD");
    assert_eq!(tr("B")["Latest"], true);
    let assets: Vec<_> = s
        .bynder_asset_ids()
        .iter()
        .map(|id| s.bynder_asset(id).unwrap())
        .collect();
    assert_eq!(assets.len(), 8);
    let about = |name: &str| {
        let a = assets.iter().find(|a| a["name"] == name).unwrap();
        (
            a["property_PartNumber"].as_str().unwrap().to_owned(),
            a["property_PartRevision"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(about("loop-the-loop-stunt"), ("ST-3001".into(), "B".into()));
    assert_eq!(about("track-unboxing"), ("ST-3002".into(), "A".into()));
    let tc: Vec<(String, String)> = s
        .teamcenter
        .revisions()
        .into_iter()
        .map(|r| (r.item_id, r.revision))
        .collect();
    assert!(tc.contains(&about("loop-the-loop-stunt")), "{tc:?}");
    assert!(tc.contains(&about("track-unboxing")), "{tc:?}");
    let chase = assets
        .iter()
        .find(|a| a["name"] == "chase-sequence-v3")
        .unwrap();
    assert_eq!(chase["property_PartNumber"], "TR-1001");
    assert_eq!(chase["property_PartRevision"], "B");
    assert_eq!(chase["property_SKU"][0], "ACM-TR-1001-RD");
    assert_eq!(chase["property_Campaign"][0], "Summer_Launch_26");
    assert!(
        assets
            .iter()
            .any(|a| a["name"] == "teaser-unknown-part" && a["property_PartNumber"] == "XX-9999")
    );
    // Every modified time is a whole-second UTC time in the past.
    let now = s.clock.now();
    for a in &assets {
        let t = chrono::DateTime::parse_from_rfc3339(a["dateModified"].as_str().unwrap()).unwrap();
        assert!(t < now);
    }
    s.shutdown().await;
}

/// Generated clips each tag one existing part revision, and some records share timestamps.
#[tokio::test]
async fn generated_data_is_consistent() {
    let s = sim(400, 400).await;
    let parts = s.windchill_parts();
    let keys: std::collections::HashSet<(String, String)> = parts
        .iter()
        .map(|p| {
            (
                p["Number"].as_str().unwrap().to_owned(),
                p["Revision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(keys.len(), parts.len(), "one entity per revision");
    // The story's Teamcenter clips are about Teamcenter revisions.
    let tc_keys: std::collections::HashSet<(String, String)> = s
        .teamcenter
        .revisions()
        .into_iter()
        .map(|r| (r.item_id, r.revision))
        .collect();
    let mut tagged = 0;
    for id in s.bynder_asset_ids() {
        let a = s.bynder_asset(&id).unwrap();
        let key = (
            a["property_PartNumber"].as_str().unwrap().to_owned(),
            a["property_PartRevision"].as_str().unwrap().to_owned(),
        );
        if key.0.starts_with("ST-") {
            assert!(tc_keys.contains(&key), "{key:?}");
        } else if key.0 != "XX-9999" {
            assert!(keys.contains(&key), "{key:?}");
            tagged += 1;
        }
    }
    assert_eq!(tagged, 405);
    let mut times: Vec<_> = parts
        .iter()
        .map(|p| p["LastModified"].as_str().unwrap().to_owned())
        .collect();
    let n = times.len();
    times.dedup();
    assert!(times.len() < n, "tie groups exist");
    s.shutdown().await;
}
