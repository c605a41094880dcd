//! Behaviours the vendors' sources leave open, offered by the emulators as variants: partreel
//! works against each (docs/wire names the variant and what the connector does about it).

use std::time::Duration;

use serde_json::Value;

use crate::util::{Env, text};

/// `partreel doctor --json --job windchill-bynder`: (exit success, checks).
async fn doctor(env: &Env) -> (bool, Vec<Value>) {
    let out = env
        .run(&["doctor", "--json"], &["--job", "windchill-bynder"], &[])
        .await;
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}):\n{}", text(&out)));
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    (out.status.success(), checks)
}

/// A Windchill that answers every document PATCH `204 No Content`, the preference
/// `return=representation` not applied: the connector reads each updated document back, and
/// an edit still reaches its link (and is checked as applied).
#[tokio::test]
async fn windchill_patch_answering_204_is_read_back() {
    let env = Env::story().await;
    env.sim.windchill_ignore_return_preference(true);
    env.sync(&[]).await;
    let asset = env
        .link_documents()
        .iter()
        .find_map(|d| d["AssetId"].as_str().map(str::to_string))
        .expect("a linked clip");
    env.sim.clock.advance(Duration::from_secs(5));
    env.sim
        .bynder_edit(&asset, "Prompt", Some("read back after a 204"));
    env.sim.clock.advance(Duration::from_secs(120));
    env.sim.windchill.log.clear();
    let report = env.sync(&[]).await;
    assert!(
        report["links_updated"].as_u64().unwrap_or_default() >= 1,
        "{report}"
    );
    let log = env.sim.windchill.log.entries();
    let patches: Vec<_> = log.iter().filter(|e| e.method == "PATCH").collect();
    assert!(!patches.is_empty());
    assert!(patches.iter().all(|e| e.status == 204), "{patches:?}");
    for d in env
        .link_documents()
        .iter()
        .filter(|d| d["AssetId"].as_str() == Some(asset.as_str()))
    {
        assert_eq!(d["Prompt"], "read back after a 204", "{d}");
    }
    // The default answer (the preference applied): 200 with the entity, no read-back.
    env.sim.windchill_ignore_return_preference(false);
    env.sim.clock.advance(Duration::from_secs(5));
    env.sim
        .bynder_edit(&asset, "Prompt", Some("answered with the entity"));
    env.sim.clock.advance(Duration::from_secs(120));
    env.sim.windchill.log.clear();
    env.sync(&[]).await;
    let log = env.sim.windchill.log.entries();
    let patches: Vec<_> = log.iter().filter(|e| e.method == "PATCH").collect();
    assert!(!patches.is_empty());
    assert!(patches.iter().all(|e| e.status == 200), "{patches:?}");
}

/// A portal whose `dateModified` reads "strictly after": partreel's widened bound still brings
/// back the record at the bound (the filter probe passes), and a clip edited after a sync
/// reaches its link on the next one.
#[tokio::test]
async fn an_exclusive_bynder_date_filter_passes_the_probe_and_loses_no_edit() {
    let env = Env::story().await;
    env.sim.bynder_date_filter_exclusive(true);
    let (ok, checks) = doctor(&env).await;
    assert!(ok, "{checks:#?}");
    let filter = checks
        .iter()
        .find(|c| c["system"] == "bynder" && c["check"] == "feed-filter:assets")
        .expect("the filter probe ran");
    assert_eq!(filter["status"], "pass", "{checks:#?}");
    env.sync(&[]).await;
    let docs = env.link_documents();
    let asset = docs
        .iter()
        .find_map(|d| d["AssetId"].as_str().map(str::to_string))
        .expect("a linked clip");
    env.sim.clock.advance(Duration::from_secs(5));
    env.sim
        .bynder_edit(&asset, "Prompt", Some("edited under an exclusive filter"));
    env.sim.clock.advance(Duration::from_secs(120));
    let report = env.sync(&[]).await;
    assert!(
        report["links_updated"].as_u64().unwrap_or_default() >= 1,
        "{report}"
    );
    for d in env
        .link_documents()
        .iter()
        .filter(|d| d["AssetId"].as_str() == Some(asset.as_str()))
    {
        assert_eq!(d["Prompt"], "edited under an exclusive filter", "{d}");
    }
}
