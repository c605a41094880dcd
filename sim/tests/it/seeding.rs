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
    // The story's six Windchill clips, two Teamcenter and two 3DEXPERIENCE clips, then 300
    // generated ones.
    assert_eq!(a.bynder_asset_ids().len(), 310);
    assert_eq!(a.teamcenter.revisions(), b.teamcenter.revisions());
    let items = |s: &Sim| {
        s.threedx
            .items()
            .into_iter()
            .map(|mut i| {
                // Change stamps count every seeded record, times follow the clock.
                i.as_object_mut()
                    .unwrap()
                    .retain(|k, _| !matches!(k.as_str(), "cestamp" | "created" | "modified"));
                i
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(items(&a), items(&b));
    assert_eq!(a.aem.asset_paths(), b.aem.asset_paths());
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

/// The story: TR-1001 A released and B in work (latest), the five clips and the stray teaser,
/// the two clips about the Teamcenter emulator's Stunt Track revisions and the two about the
/// 3DEXPERIENCE emulator's playsets; the AEM emulator's own story clips.
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
    assert_eq!(assets.len(), 10);
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
    assert_eq!(about("garage-rooftop-ramp"), ("PL-4001".into(), "B".into()));
    assert_eq!(about("fire-station-rescue"), ("PL-4002".into(), "A".into()));
    let tdx: Vec<(String, String)> = s
        .threedx
        .items()
        .into_iter()
        .map(|i| {
            (
                i["dseng:EnterpriseReference"]["partNumber"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                i["revision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(tdx.contains(&about("garage-rooftop-ramp")), "{tdx:?}");
    assert!(tdx.contains(&about("fire-station-rescue")), "{tdx:?}");
    assert_eq!(s.aem.asset_paths().len(), 4, "the AEM story's four clips");
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
        } else if key.0.starts_with("PL-") {
            // The story's 3DEXPERIENCE clips (checked in `story_is_seeded`).
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

/// With `generated_plm` 3DEXPERIENCE, the generated revisions are 3DX items and every
/// generated Bynder clip is about one of them (number, revision and SKU); AEM clips are
/// generated about the Windchill story's revisions, with the configured file size.
#[tokio::test]
async fn generated_parts_in_threedx_and_aem_clips() {
    let s = Sim::start(SimConfig {
        parts: 30,
        clips: 60,
        aem_clips: 12,
        file_bytes: 4096,
        generated_plm: partreel_sim::GeneratedPlm::Threedx,
        story: false,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(s.windchill_parts().is_empty());
    let items: std::collections::HashSet<(String, String, String)> = s
        .threedx
        .items()
        .into_iter()
        .map(|i| {
            (
                i["dseng:EnterpriseReference"]["partNumber"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                i["revision"].as_str().unwrap().to_owned(),
                i["dseno:EnterpriseAttributes"]["c9Sku"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(items.len(), 30);
    let ids = s.bynder_asset_ids();
    assert_eq!(ids.len(), 60);
    for id in ids {
        let a = s.bynder_asset(&id).unwrap();
        let key = (
            a["property_PartNumber"].as_str().unwrap().to_owned(),
            a["property_PartRevision"].as_str().unwrap().to_owned(),
            a["property_SKU"][0].as_str().unwrap().to_owned(),
        );
        assert!(items.contains(&key), "{key:?}");
    }
    let paths = s.aem.asset_paths();
    assert_eq!(paths.len(), 12);
    for p in &paths {
        let a = s.aem.asset(p).unwrap();
        assert!(
            ["TR-1001", "TR-1002", "DL-2040"].contains(&a.metadata["acme:partNumber"].as_str()),
            "{:?}",
            a.metadata
        );
        assert_eq!(a.metadata["dam:size"], "4096");
    }
    s.shutdown().await;
}

/// The written configuration keeps its secrets in a folder only its owner may enter (0700),
/// each file its owner's only (0600).
#[cfg(unix)]
#[tokio::test]
async fn written_secrets_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let s = crate::util::sim(0, 0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    s.write_partreel_config(dir.path(), &Default::default())
        .expect("write config");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    let secrets = dir.path().join("secrets");
    assert_eq!(mode(&secrets), 0o700);
    for entry in std::fs::read_dir(&secrets).expect("secrets") {
        let path = entry.expect("entry").path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    s.shutdown().await;
}
