//! The watermark-preserved flag computed from the clip file during a sync: a clip re-uploaded
//! without its C2PA manifest turns its links non-compliant and the flag is written back to the
//! DAM; unchanged files are not downloaded again; a file that cannot be checked gets a clear
//! status and the run goes on.

use partreel_testkit::fixtures::ClipKind;
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
    assert_eq!(doc["WatermarkPreserved"], true, "{doc}");
    let asset = env.sim.bynder_asset(&id).expect("asset");
    assert_eq!(asset["property_WatermarkPreserved"], "Yes", "{asset}");

    env.sim.bynder_replace_file(&id, ClipKind::Stripped);
    let second = env.sync(&[]).await;
    assert!(second["links_updated"].as_u64() >= Some(1), "{second}");
    let doc = document(&env, &id);
    assert_eq!(doc["PartreelStatus"], "non_compliant", "{doc}");
    assert_eq!(doc["WatermarkPreserved"], false, "{doc}");
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

/// `partreel sync --json` with `TMPDIR` set (where clip files are downloaded to be checked).
async fn sync_in(env: &Env, tmpdir: &str) -> Value {
    let out = env
        .run(&["sync", "--json"], &[], &[("TMPDIR", tmpdir)])
        .await;
    assert!(
        out.status.success(),
        "sync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::util::parse_report(&out.stdout)
}

/// Two re-uploads that cannot be checked — a download cut short halfway (every time, so the
/// client's retries give up) and a file that is not media — each get a clear status on their
/// link, non-compliant; the other clips and the run go on and nothing is left in the downloads
/// folder. The cut-short file is tried again by the next run (the not-media one is not), and
/// once it downloads whole its link is compliant again.
#[tokio::test]
async fn cut_short_and_not_media_files_get_a_clear_status_and_the_run_goes_on() {
    use partreel_sim::FileFault;
    let env = Env::start(
        partreel_sim::SimConfig::default(),
        partreel_sim::config_writer::ConfigOptions {
            fast_retries: true,
            ..Default::default()
        },
    )
    .await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let tmpdir = tmp.path().to_string_lossy().into_owned();
    let first = sync_in(&env, &tmpdir).await;
    assert_eq!(first["links_created"], 5, "{first}");
    let cut = asset_id(&env, "chase-sequence-v3");
    let junk = asset_id(&env, "beach-day-playful");
    let fine = asset_id(&env, "beach-day-educational");
    env.sim.bynder_break_file(&cut, FileFault::CutShort);
    env.sim.bynder_break_file(&junk, FileFault::NotMedia);
    env.sim
        .bynder_edit(&fine, "Prompt", Some("educational tone, retake"));

    let second = sync_in(&env, &tmpdir).await;
    assert!(
        second["quarantined"].as_array().is_some_and(Vec::is_empty),
        "{second}"
    );
    let doc = document(&env, &cut);
    assert_eq!(doc["PartreelStatus"], "non_compliant", "{doc}");
    assert_eq!(doc["WatermarkPreserved"], false, "{doc}");
    let reason = doc["ProvenanceReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not checked") && reason.contains("download truncated"),
        "{reason}"
    );
    let doc = document(&env, &junk);
    assert_eq!(doc["PartreelStatus"], "non_compliant", "{doc}");
    let reason = doc["ProvenanceReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not checked") && reason.contains("not media"),
        "{reason}"
    );
    // The run went on: the third clip's edit reached its link.
    let doc = document(&env, &fine);
    assert_eq!(doc["PartreelStatus"], "active", "{doc}");
    assert_eq!(doc["Prompt"], "educational tone, retake", "{doc}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read tmp")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "downloads left behind: {left:?}");

    let downloads = |env: &Env| {
        env.sim
            .bynder
            .log
            .count_matching(|e| e.method == "GET" && e.path.ends_with("/download/"))
    };
    // The next run asks again for the file that was cut short (a broken download says nothing
    // lasting about the file), not for the one that is not media; nothing changed, so
    // nothing is written.
    let before = downloads(&env);
    let third = sync_in(&env, &tmpdir).await;
    assert_eq!(writes(&third), 0, "{third}");
    assert_eq!(
        downloads(&env),
        before + 1,
        "only the cut-short file is fetched again"
    );
    // Once the file downloads whole, its link is compliant again.
    env.sim.bynder_replace_file(&cut, ClipKind::Signed);
    let fourth = sync_in(&env, &tmpdir).await;
    assert_eq!(fourth["links_updated"], 1, "{fourth}");
    let doc = document(&env, &cut);
    assert_eq!(doc["PartreelStatus"], "active", "{doc}");
    assert_eq!(doc["WatermarkPreserved"], true, "{doc}");
}
