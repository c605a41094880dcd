//! Behaviours the vendors' sources leave open, offered by the emulators as variants: partreel
//! works against each (docs/wire names the variant and what the connector does about it).

use std::time::Duration;

use serde_json::Value;

use crate::util::{Daemon, Env, add_job, add_to_section, text, writes};

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

/// Drops the configuration's `key = …` line (which must be there).
fn drop_setting(env: &Env, key: &str) {
    let text = std::fs::read_to_string(&env.config).expect("read config");
    let prefix = format!("{key} = ");
    assert!(text.contains(&prefix), "{text}");
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&env.config, kept).expect("write config");
}

/// Drops the `document_type` line: a configuration for a server whose link IBAs are
/// WTDocument's own.
fn without_document_type(env: &Env) {
    drop_setting(env, "document_type");
}

/// A Windchill whose link IBAs were added to WTDocument itself (the domain extended as PTC's
/// soft-attribute example shows): configured without `document_type`, partreel creates plain
/// WTDocuments through the base set, the doctor passes, and a second sync writes nothing.
#[tokio::test]
async fn windchill_ibas_on_wtdocument_sync_without_a_document_type() {
    let env = Env::story().await;
    env.sim.windchill_ibas_on_document(true);
    without_document_type(&env);
    let (ok, checks) = doctor(&env).await;
    assert!(ok, "{checks:#?}");
    let first = env.sync(&[]).await;
    assert!(writes(&first) > 0, "{first}");
    let docs = env.link_documents();
    assert!(!docs.is_empty());
    assert!(
        docs.iter().all(|d| d.get("@odata.type").is_none()),
        "plain WTDocuments: {docs:#?}"
    );
    env.sim.clock.advance(Duration::from_secs(120));
    let second = env.sync(&[]).await;
    assert_eq!(writes(&second), 0, "{second}");
}

/// On the default server the link IBAs are the soft type `PromptToPartLink`'s. A
/// configuration that does not name it (what partreel sent before `document_type` existed)
/// fails the doctor's mapping check with a fix naming the setting, and a sync stops at its
/// first read of the links feed (the server refuses the link id in a `$filter` on the base
/// set) with that answer, having created nothing — never a WTDocument without its link id that
/// the next run would not find.
#[tokio::test]
async fn a_soft_type_left_out_of_the_configuration_fails_loudly_and_creates_nothing() {
    let env = Env::story().await;
    without_document_type(&env);
    let (ok, checks) = doctor(&env).await;
    assert!(!ok, "{checks:#?}");
    let mapping = checks
        .iter()
        .find(|c| c["system"] == "windchill" && c["check"] == "mapping")
        .expect("the mapping check ran");
    assert_eq!(mapping["status"], "fail", "{checks:#?}");
    let fix = mapping["fix"].as_str().unwrap_or_default();
    assert!(
        fix.contains("document_type = \"PromptToPartLink\"") && fix.contains("[systems.windchill]"),
        "{mapping:#}"
    );
    let out = env.run(&["sync", "--json"], &[], &[]).await;
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("DocMgmt/Documents answered 400") && all.contains("'PartreelLinkId'"),
        "{all}"
    );
    assert!(env.sim.windchill_documents().is_empty(), "nothing created");
    // Named in the configuration, the next run links every clip.
    add_to_section(
        &env.config,
        "systems.windchill",
        "document_type = \"PromptToPartLink\"",
    );
    let report = env.sync(&[]).await;
    assert!(writes(&report) > 0, "{report}");
    assert!(!env.link_documents().is_empty());
}

// ---- 3DEXPERIENCE: where the link attributes live ------------------------------------------

/// The emulators seeded with generated 3DEXPERIENCE items and clips about them, `sync` on the
/// `threedx-bynder` job.
async fn threedx_env() -> Env {
    let cfg = partreel_sim::SimConfig {
        parts: 6,
        clips: 10,
        seed: 11,
        story: false,
        generated_plm: partreel_sim::GeneratedPlm::Threedx,
        ..partreel_sim::SimConfig::default()
    };
    let mut env = Env::start(cfg, partreel_sim::config_writer::ConfigOptions::default()).await;
    env.job = Some("threedx-bynder");
    env
}

/// Drops the `link_extension` line from the configuration.
fn without_link_extension(env: &Env) {
    drop_setting(env, "link_extension");
}

/// `partreel doctor --json --job threedx-bynder`: the 3DEXPERIENCE mapping check.
async fn threedx_mapping_check(env: &Env) -> Value {
    let out = env
        .run(&["doctor", "--json"], &["--job", "threedx-bynder"], &[])
        .await;
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}):\n{}", text(&out)));
    report["checks"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["system"] == "threedx" && c["check"] == "mapping")
                .cloned()
        })
        .unwrap_or_else(|| panic!("no mapping check: {report:#}"))
}

/// Documents that carry a link id.
fn threedx_links(env: &Env) -> Vec<Value> {
    env.sim
        .threedx
        .documents()
        .into_iter()
        .filter(|d| {
            d["dataelements"]["partreelLinkId"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .collect()
}

/// By default the link attributes come with a customer extension (`DocumentData.extensions`):
/// the doctor says they cannot be checked before a document carries it (a warning, not a
/// failure), every created document is given the extension, a second run writes nothing, and
/// afterwards the doctor checks the attributes on a link document and passes.
#[tokio::test]
async fn threedx_link_documents_are_given_the_customer_extension() {
    let env = threedx_env().await;
    let before = threedx_mapping_check(&env).await;
    assert_eq!(before["status"], "warn", "{before:#}");
    assert!(
        before["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("extension PromptToPartLinkExt"),
        "{before:#}"
    );
    let first = env.sync(&[]).await;
    assert!(writes(&first) > 0, "{first}");
    let links = threedx_links(&env);
    assert!(!links.is_empty());
    for d in &links {
        assert_eq!(
            d["dataelements"]["extensions"],
            serde_json::json!(["PromptToPartLinkExt"]),
            "{d:#}"
        );
    }
    env.sim.clock.advance(Duration::from_secs(120));
    let second = env.sync(&[]).await;
    assert_eq!(writes(&second), 0, "{second}");
    let after = threedx_mapping_check(&env).await;
    assert_eq!(after["status"], "pass", "{after:#}");
}

/// A platform where the link attributes are the `Document` type's own: configured without
/// `link_extension`, partreel names no extension, and converges.
#[tokio::test]
async fn threedx_attributes_on_the_type_sync_without_an_extension() {
    let env = threedx_env().await;
    env.sim.threedx.set_link_attributes_on_type(true);
    without_link_extension(&env);
    // No document exists yet to list the attributes from: said, not failed.
    let before = threedx_mapping_check(&env).await;
    assert_eq!(before["status"], "warn", "{before:#}");
    let first = env.sync(&[]).await;
    assert!(writes(&first) > 0, "{first}");
    let links = threedx_links(&env);
    assert!(!links.is_empty());
    assert!(
        links
            .iter()
            .all(|d| d["dataelements"]["extensions"] == serde_json::json!([])),
        "{links:#?}"
    );
    env.sim.clock.advance(Duration::from_secs(120));
    let second = env.sync(&[]).await;
    assert_eq!(writes(&second), 0, "{second}");
    let after = threedx_mapping_check(&env).await;
    assert_eq!(after["status"], "pass", "{after:#}");
}

/// The extension left out of the configuration. A platform that refuses the attributes makes
/// each create a record error naming the attribute, creating nothing. A platform that drops
/// them silently creates documents without the link id: each is read back, reported as a
/// record error naming the document and `link_extension`, and the next run posts nothing again
/// (the clips wait in quarantine), so no run adds another stray document.
#[tokio::test]
async fn threedx_a_missing_extension_is_caught_and_nothing_is_posted_twice() {
    let env = threedx_env().await;
    without_link_extension(&env);
    let out = env.run(&["sync", "--json"], &[], &[]).await;
    let all = text(&out);
    assert!(
        all.contains("attribute partreelLinkId is not defined on type Document")
            || all.contains("is not defined on type Document"),
        "{all}"
    );
    // A PLM refusing every write quarantines every clip: the run is degraded, exit code 4,
    // never a green exit 0.
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(
        all.contains("degraded run") && all.contains("quarantined"),
        "{all}"
    );
    assert!(threedx_links(&env).is_empty());
    let strays = |env: &Env| {
        env.sim
            .threedx
            .documents()
            .into_iter()
            .filter(|d| {
                d["dataelements"]["description"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("partreel prompt-to-part link"))
            })
            .count()
    };
    assert_eq!(strays(&env), 0, "a refused create leaves nothing");

    // The variant that drops unknown attributes: fresh emulators, same configuration.
    let env = threedx_env().await;
    without_link_extension(&env);
    env.sim.threedx.set_ignore_unknown_attributes(true);
    let out = env.run(&["sync", "--json"], &[], &[]).await;
    let all = text(&out);
    assert!(
        all.contains("does not read back its partreelLinkId") && all.contains("link_extension"),
        "{all}"
    );
    let after_first = strays(&env);
    assert!(
        after_first > 0,
        "documents without their link id were created"
    );
    env.sim.clock.advance(Duration::from_secs(120));
    let _ = env.run(&["sync", "--json"], &[], &[]).await;
    assert_eq!(strays(&env), after_first, "nothing was posted again");
}

/// The daemon says a degraded job so: its last run quarantined every clip it handled, so
/// `/readyz` lists the job as degraded with the reason, and `partreel_job_degraded` is 1.
#[tokio::test]
async fn the_daemon_reports_a_degraded_job() {
    let env = threedx_env().await;
    without_link_extension(&env);
    add_job(&env.config, "threedx-bynder", "0 0 0 1 1 *", true);
    let daemon = Daemon::start(&env.config, &[], &[]).await;
    daemon
        .wait_for_run("threedx-bynder", Duration::from_secs(120))
        .await;
    let (status, body) = daemon.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).expect("readyz JSON");
    assert_eq!(
        ready["degraded"],
        serde_json::json!(["threedx-bynder"]),
        "{body}"
    );
    let job = &ready["jobs"]["threedx-bynder"];
    assert_eq!(job["last_outcome"], "degraded", "{body}");
    assert!(
        job["degraded"]
            .as_str()
            .unwrap_or_default()
            .contains("quarantined"),
        "{body}"
    );
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("partreel_job_degraded{job=\"threedx-bynder\"} 1")),
        "{metrics}"
    );
}

/// Windchill link writes go in `$batch` requests (WCCG_RESTAPIsBatchSupport.html): a full
/// initial sync needs at most 40 Windchill requests per 1,000 links (2 per 100 links, plus the
/// feeds, `$metadata` and the nonce; it was 3 per link). A Windchill without `$batch` (501) gets
/// single calls instead, and the same final state: the same link documents on the same parts.
#[tokio::test]
async fn windchill_links_go_in_batches_and_one_by_one_without_batch_support() {
    let mut states = Vec::new();
    for unsupported in [false, true] {
        let sim = partreel_sim::SimConfig {
            parts: 300,
            clips: 300,
            story: false,
            ..partreel_sim::SimConfig::default()
        };
        let env = Env::start(sim, crate::util::fast()).await;
        env.sim.windchill_batch_unsupported(unsupported);
        let report = env.sync(&["--job", "windchill-bynder"]).await;
        let links = report["links_created"].as_u64().unwrap_or_default();
        assert!(links >= 250, "{report}");
        let requests = report["requests"]["windchill"]["requests"]
            .as_u64()
            .or_else(|| report["requests"]["windchill"].as_u64())
            .unwrap_or_else(|| panic!("windchill requests in {report}"));
        let log = env.sim.windchill.log.entries();
        let batches = log
            .iter()
            .filter(|e| e.method == "POST" && e.path.ends_with("/$batch"))
            .count();
        let singles = log
            .iter()
            .filter(|e| e.method == "POST" && e.path.ends_with("/DocMgmt/Documents"))
            .count();
        if unsupported {
            assert_eq!(batches, 1, "one refused $batch, then single calls");
            assert_eq!(singles as u64, links);
        } else {
            assert_eq!(singles, 0, "no single document create");
            assert!(
                requests * 1000 <= 40 * links,
                "{requests} Windchill requests for {links} links"
            );
        }
        let docs = env.link_documents();
        let link_of = |doc: &str| {
            docs.iter()
                .find(|d| d["ID"] == doc)
                .and_then(|d| d["PartreelLinkId"].as_str())
                .map(str::to_string)
        };
        let mut state: Vec<(String, Option<String>)> = env
            .sim
            .windchill_describe_links()
            .into_iter()
            .map(|(part, doc)| (part, link_of(&doc)))
            .collect();
        state.sort();
        assert_eq!(state.len() as u64, links, "one describe link per link");
        states.push(state);
    }
    assert_eq!(states[0], states[1], "the same final state either way");
}

/// Bynder's 202 writes are confirmed by listing the written media by ids, many per request
/// (docs/wire/bynder.md "Confirming writes"), and the originals' pre-signed storage URLs are
/// fetched outside the API's budget. A full initial sync needs at most 2,050 Bynder API requests
/// per 1,000 links — the minimum is one download URL and one write per clip, plus a listing
/// per 50 writes, the feed pages, the metaproperties and the token (it was 4 per clip, with a
/// re-read per write and the file fetch counted against the API).
#[tokio::test]
async fn bynder_writes_are_confirmed_in_listings_and_files_fetched_off_its_budget() {
    let sim = partreel_sim::SimConfig {
        parts: 300,
        clips: 300,
        story: false,
        ..partreel_sim::SimConfig::default()
    };
    let env = Env::start(sim, crate::util::fast()).await;
    let report = env.sync(&["--job", "windchill-bynder"]).await;
    let links = report["links_created"].as_u64().unwrap_or_default();
    let writes = report["asset_writes"].as_u64().unwrap_or_default();
    assert!(links >= 250 && writes >= 250, "{report}");
    let requests = crate::util::requests(&report, "bynder");
    assert!(
        requests * 1000 <= 2050 * links,
        "{requests} Bynder requests for {links} links: {report}"
    );
    let log = env.sim.bynder.log.entries();
    let per_media_reads = log
        .iter()
        .filter(|e| {
            e.method == "GET"
                && e.path.starts_with("/api/v4/media/")
                && e.path.trim_end_matches('/') != "/api/v4/media"
                && !e.path.contains("/download")
        })
        .count();
    assert_eq!(per_media_reads, 0, "no read per written clip");
    let listings = log
        .iter()
        .filter(|e| e.method == "GET" && e.query.contains("ids="))
        .count() as u64;
    assert!(
        listings >= 1 && listings * 20 <= writes,
        "{listings} confirmation listings for {writes} writes"
    );
    let files = log
        .iter()
        .filter(|e| e.method == "GET" && e.path.ends_with("/download/"))
        .count() as u64;
    assert!(files >= writes, "one download URL per clip file");
    assert_eq!(
        report["file_requests"]["bynder"].as_u64(),
        Some(files),
        "each URL's storage fetch counted apart from API requests: {report}"
    );
    assert_eq!(report["writes_unconfirmed"].as_u64(), Some(0), "{report}");
}

/// A Bynder that takes longer to apply its 202 writes than partreel's confirmation listings
/// wait: those clips are neither quarantined nor linked on the strength of an unseen write —
/// they go back in the queue, and the next run, once Bynder has caught up, finishes them.
#[tokio::test]
async fn a_bynder_write_not_visible_in_time_stays_queued_and_lands_next_run() {
    let sim = partreel_sim::SimConfig {
        parts: 12,
        clips: 12,
        story: false,
        ..partreel_sim::SimConfig::default()
    };
    let env = Env::start(sim, crate::util::fast()).await;
    // Five listings 0.5 s apart (the defaults) see nothing applied within 2 s.
    env.sim
        .bynder_set_write_delay(std::time::Duration::from_secs(6));
    let first = env.sync(&["--job", "windchill-bynder"]).await;
    let unconfirmed = first["writes_unconfirmed"].as_u64().unwrap_or_default();
    assert!(unconfirmed >= 10, "{first}");
    assert_eq!(first["links_created"].as_u64(), Some(0), "{first}");
    assert!(
        crate::util::list(&first, "quarantined").is_empty(),
        "{first}"
    );
    {
        use partreel_core::state::StateStore;
        let store = partreel_core::state::sqlite::SqliteStore::open(&env.state_path())
            .expect("state opens");
        // The job's queue: the finished run's leases freed (as the next run does for a process
        // that is gone), then leased for one second (expired before the next run).
        for (owner, _) in store
            .lease_holders("windchill", "bynder")
            .await
            .expect("holders")
        {
            store.release_leases(&owner).await.expect("release");
        }
        let queued = store
            .lease_work("test-observer", "windchill", "bynder", 1000, 1)
            .await
            .expect("lease");
        assert_eq!(
            queued.len() as u64,
            unconfirmed,
            "the clips are still queued"
        );
    }
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let second = env.sync(&["--job", "windchill-bynder"]).await;
    assert_eq!(
        second["links_created"].as_u64(),
        Some(unconfirmed),
        "{second}"
    );
    assert_eq!(second["writes_unconfirmed"].as_u64(), Some(0), "{second}");
    assert!(
        crate::util::list(&second, "quarantined").is_empty(),
        "{second}"
    );
}

/// With Bynder's emulator limited to R requests a second and partreel's Bynder limit set to the
/// same R, a run with work queued keeps Bynder busy at 95% of R or more and never meets a 429:
/// counted from the emulator's request log over the whole seconds between the run's first and
/// last Bynder request (more than 20 s: two requests per clip for 320 clips at 20 a second).
#[tokio::test]
async fn the_bynder_budget_is_used_whole_and_never_exceeded() {
    const R: u32 = 20;
    let sim = partreel_sim::SimConfig {
        parts: 320,
        clips: 320,
        story: false,
        ..partreel_sim::SimConfig::default()
    };
    let opts = partreel_sim::config_writer::ConfigOptions {
        requests_per_sec: Some(R),
        ..partreel_sim::config_writer::ConfigOptions::default()
    };
    let env = Env::start(sim, opts).await;
    env.sim
        .bynder
        .faults
        .set_rate_limit(Some(partreel_sim::RateLimit {
            requests: R,
            per: Duration::from_secs(1),
        }));
    let report = env.sync(&["--job", "windchill-bynder"]).await;
    assert!(
        report["links_created"].as_u64().unwrap_or_default() >= 300,
        "{report}"
    );
    let log = env.sim.bynder.log.entries();
    let throttled = log.iter().filter(|e| e.status == 429).count();
    let (Some(first), Some(last)) = (log.first(), log.last()) else {
        panic!("no Bynder request logged");
    };
    // The log's times are whole seconds: count the full seconds strictly inside the run.
    let from = first.at + chrono::TimeDelta::seconds(1);
    let to = last.at - chrono::TimeDelta::seconds(1);
    let seconds = (to - from).num_seconds() + 1;
    assert!(seconds >= 20, "a window of {seconds} s");
    let sent = log.iter().filter(|e| e.at >= from && e.at <= to).count() as f64;
    let rate = sent / seconds as f64;
    eprintln!("Bynder at {rate:.2} requests/s of {R} over {seconds} s, {throttled} answered 429");
    assert_eq!(throttled, 0, "no 429 at the configured limit");
    assert!(
        rate >= 0.95 * f64::from(R),
        "{rate:.2} requests/s over {seconds} s, below 95% of {R}"
    );
}

/// `sync --dry-run` ends with what applying its plan costs per system at the configured
/// limits, and names the binding one; the real run that follows sends about that many
/// requests (the estimate leaves out only the feeds, the sign-in and the definitions, a handful
/// per system).
#[tokio::test]
async fn a_dry_run_estimates_the_requests_and_time_the_run_then_takes() {
    let sim = partreel_sim::SimConfig {
        parts: 200,
        clips: 200,
        story: false,
        ..partreel_sim::SimConfig::default()
    };
    let env = Env::start(sim, crate::util::fast()).await;
    let plan = env.sync(&["--job", "windchill-bynder", "--dry-run"]).await;
    let estimate = plan["estimate"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no estimate in {plan}"));
    let of = |system: &str| {
        estimate
            .iter()
            .find(|e| e["system"] == system)
            .unwrap_or_else(|| panic!("no {system} estimate in {estimate:?}"))
            .clone()
    };
    let (wc, by) = (of("windchill"), of("bynder"));
    assert_eq!(by["binding"], true, "{estimate:?}");
    assert_eq!(wc["binding"], false, "{estimate:?}");
    let run = env.sync(&["--job", "windchill-bynder"]).await;
    assert!(
        run["links_created"].as_u64().unwrap_or_default() >= 190,
        "{run}"
    );
    for (system, e) in [("windchill", &wc), ("bynder", &by)] {
        let estimated = e["requests"].as_u64().unwrap_or_default();
        let sent = crate::util::requests(&run, system);
        assert!(
            estimated > 0 && estimated <= sent && sent <= estimated + 10,
            "{system}: estimated {estimated}, sent {sent}"
        );
        let seconds = e["seconds"].as_f64().unwrap_or_default();
        let per_sec = e["per_sec"].as_f64().unwrap_or_default();
        assert!((seconds * per_sec - estimated as f64).abs() < 1.0, "{e}");
    }
    let text = env
        .run(&["sync", "--dry-run"], &["--job", "windchill-bynder"], &[])
        .await;
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(
        out.contains("applying the plan, at the configured rate limits:"),
        "{out}"
    );
}

/// In a terminal, `partreel sync` draws bars that count this job's clips only (the queue holds
/// every Bynder job's copy of each clip), name the rate limit that binds with the time left at
/// the limits, and count files and writes as each is done rather than once a batch. Run under
/// `script`, which gives the process a terminal and records what it drew.
#[tokio::test]
async fn progress_bars_count_this_jobs_clips_and_move_as_work_is_done() {
    const CLIPS: u64 = 240;
    let sim = partreel_sim::SimConfig {
        parts: CLIPS as usize,
        clips: CLIPS as usize,
        story: false,
        ..partreel_sim::SimConfig::default()
    };
    let opts = partreel_sim::config_writer::ConfigOptions {
        requests_per_sec: Some(100),
        ..partreel_sim::config_writer::ConfigOptions::default()
    };
    let env = Env::start(sim, opts).await;
    let typescript = env.dir.path().join("typescript");
    let command = format!(
        "{} sync --config {} --job windchill-bynder",
        crate::util::bin().display(),
        env.config.display()
    );
    let out = tokio::process::Command::new("script")
        .args(["-q", "-e", "-c", &command])
        .arg(&typescript)
        .env("COLUMNS", "200")
        .env("LINES", "50")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run script");
    assert!(out.status.success(), "{}", text(&out));
    let drawn =
        String::from_utf8_lossy(&std::fs::read(&typescript).expect("typescript")).into_owned();
    assert!(
        drawn.contains(&format!("/{CLIPS} ")) || drawn.contains(&format!("/{CLIPS}\u{1b}")),
        "the plan bar counts this job's {CLIPS} clips: {drawn}"
    );
    assert!(
        !drawn.contains(&format!("/{} ", 3 * CLIPS)),
        "not every job's queue: {drawn}"
    );
    assert!(drawn.contains("bynder 98.0/s binds"), "{drawn}");
    assert!(drawn.contains("left at the limits"), "{drawn}");
    // The files-checked count is redrawn many times on its way up, not once a batch.
    let counts: std::collections::BTreeSet<u64> = drawn
        .split(" files checked")
        .filter_map(|before| {
            before
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .collect();
    assert!(
        counts.iter().filter(|n| **n > 0 && **n < CLIPS).count() >= 5,
        "files checked seen at {counts:?}"
    );
}
