//! The watermark-preserved flag computed from the clip file during a sync: a clip re-uploaded
//! without its C2PA manifest turns its links non-compliant and the flag is written back to the
//! DAM; unchanged files are not downloaded again; a file that cannot be checked gets a clear
//! status and the run goes on.

use partreel_core::provenance::fixtures::ClipKind;
use serde_json::Value;

use crate::util::{Env, writes};

/// The Bynder id of the story clip with this name.
fn asset_id(env: &Env, name: &str) -> String {
    env.sim
        .bynder_asset_ids()
        .into_iter()
        .find(|id| {
            env.sim
                .bynder_asset(id)
                .is_some_and(|a| a["name"].as_str() == Some(name))
        })
        .unwrap_or_else(|| panic!("no clip named {name}"))
}

/// The Windchill link document of a clip.
fn document(env: &Env, asset: &str) -> Value {
    env.link_documents()
        .into_iter()
        .find(|d| d["AssetId"].as_str() == Some(asset))
        .unwrap_or_else(|| panic!("no link document for {asset}"))
}

/// A clip re-uploaded stripped of its manifest: the next sync flips its link to non-compliant
/// in the PLM (with the reason) and writes the computed flag back to the DAM.
#[tokio::test]
async fn stripped_reupload_flips_links_non_compliant_and_writes_back() {
    let env = Env::story().await;
    let first = env.sync(&[]).await;
    assert_eq!(first["links_created"], 5, "{first}");
    let id = asset_id(&env, "chase-sequence-v3");
    let doc = document(&env, &id);
    assert_eq!(doc["PartreelStatus"], "active", "{doc}");
    assert_eq!(doc["WatermarkPreserved"], "true", "{doc}");
    let asset = env.sim.bynder_asset(&id).expect("asset");
    assert_eq!(asset["property_WatermarkPreserved"], "Yes", "{asset}");

    env.sim.bynder_replace_file(&id, ClipKind::Stripped);
    let second = env.sync(&[]).await;
    assert!(second["links_updated"].as_u64() >= Some(1), "{second}");
    let doc = document(&env, &id);
    assert_eq!(doc["PartreelStatus"], "non_compliant", "{doc}");
    assert_eq!(doc["WatermarkPreserved"], "false", "{doc}");
    assert_eq!(doc["ProvenanceState"], "missing", "{doc}");
    let reason = doc["ProvenanceReason"].as_str().unwrap_or_default();
    assert!(reason.contains("no provenance"), "{reason}");
    let asset = env.sim.bynder_asset(&id).expect("asset");
    assert_eq!(asset["property_WatermarkPreserved"], "No", "{asset}");
    assert_eq!(asset["property_ProvenanceStatus"], "missing", "{asset}");
    // The DAM still says a visible watermark is there: reported, not silently overwritten.
    let conflicts = second["conflicts"].as_array().cloned().unwrap_or_default();
    assert!(
        conflicts
            .iter()
            .any(|c| c["kind"] == "provenance" && c["asset_id"] == id.as_str()),
        "{second}"
    );
}

/// Files are downloaded once per file version: a metadata edit does not download again, a new
/// upload does.
#[tokio::test]
async fn unchanged_files_are_not_downloaded_again() {
    let env = Env::story().await;
    env.sync(&[]).await;
    let downloads = |env: &Env| {
        env.sim
            .bynder
            .log
            .count_matching(|e| e.method == "GET" && e.path.ends_with("/download/"))
    };
    let after_first = downloads(&env);
    let clips = env.sim.bynder_asset_ids().len();
    assert_eq!(after_first, clips, "one download per clip");
    let id = asset_id(&env, "beach-day-playful");
    env.sim
        .bynder_edit(&id, "Prompt", Some("playful tone, retake"));
    let second = env.sync(&[]).await;
    assert_eq!(second["links_updated"], 1, "{second}");
    assert_eq!(
        downloads(&env),
        after_first,
        "a metadata edit re-downloads nothing"
    );
    env.sim.bynder_replace_file(&id, ClipKind::Signed);
    env.sync(&[]).await;
    assert_eq!(
        downloads(&env),
        after_first + 1,
        "a new upload is checked again"
    );
}

/// A file over the configured limit: every clip gets "not checked: file larger than …" on its
/// link, marked non-compliant, and the run completes.
#[tokio::test]
async fn oversized_files_get_a_clear_status_and_the_run_goes_on() {
    let env = Env::story().await;
    let mut text = std::fs::read_to_string(&env.config).expect("config");
    text.push_str("\n[provenance]\nmax_file_bytes = 64\n");
    std::fs::write(&env.config, text).expect("config");
    let report = env.sync(&[]).await;
    assert_eq!(report["links_created"], 5, "{report}");
    for doc in env.link_documents() {
        assert_eq!(doc["PartreelStatus"], "non_compliant", "{doc}");
        let reason = doc["ProvenanceReason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("not checked") && reason.contains("larger than 64 bytes"),
            "{reason}"
        );
    }
    assert_eq!(writes(&env.sync(&[]).await), 0);
}
