//! Checking a clip's file: its original streamed to disk and its C2PA manifest read, once per
//! file version (shared by the jobs on one DAM).

use super::*;

/// Clip file downloads failing one after another (after the HTTP client's retries) that end
/// the run as a DAM failure rather than a per-clip "download truncated".
pub(super) const MAX_DOWNLOAD_FAILURES_IN_A_ROW: u64 = 5;

/// Checks a clip's file when it is new or changed (by the DAM's file version, or its
/// modification time when the DAM has no versions), and stores what was found. A file that
/// cannot be checked (too large, cut short, not media, gone) gets a clear reason and a
/// not-preserved verdict; the run goes on. Only a failure of the DAM itself ends the run.
pub(super) async fn check_file(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &RunState,
    checker: &Arc<crate::provenance::Checker>,
    mut asset: AssetRecord,
) -> Result<AssetRecord, EngineError> {
    if asset.archived || asset.deleted {
        return Ok(asset);
    }
    let file_version = asset
        .version
        .clone()
        .unwrap_or_else(|| crate::state::fmt_time(asset.modified));
    if asset.watermark.checked_version.as_deref() == Some(file_version.as_str()) {
        return Ok(asset);
    }
    // One job at a time per file version (jobs on one DAM share the checker): a job that
    // waited finds the verdict the other stored, and downloads nothing.
    let _turn = checker
        .turn(format!(
            "{}\u{0}{}\u{0}{file_version}",
            asset.system, asset.asset_id
        ))
        .await;
    if took_stored_verdict(store, &mut asset, &file_version).await? {
        return Ok(asset);
    }
    let outcome = download_and_check(engine, run, checker, &asset.asset_id).await?;
    run.files.fetch_add(1, Ordering::Relaxed);
    engine.work_done(run);
    record_verdict(&mut asset, outcome, file_version);
    store
        .upsert_assets(std::slice::from_ref(&asset), &[])
        .await?;
    Ok(asset)
}

/// Takes the verdict another job stored for this file version, if there is one.
async fn took_stored_verdict(
    store: &Arc<dyn StateStore>,
    asset: &mut AssetRecord,
    file_version: &str,
) -> Result<bool, EngineError> {
    let Some(stored) = store.asset(&asset.system, &asset.asset_id).await? else {
        return Ok(false);
    };
    if stored.watermark.checked_version.as_deref() != Some(file_version) {
        return Ok(false);
    }
    let (w, s) = (&mut asset.watermark, stored.watermark);
    w.provenance = s.provenance;
    w.claim_generator = s.claim_generator;
    w.evidence = s.evidence;
    w.check_error = s.check_error;
    w.checked_version = s.checked_version;
    tracing::debug!(asset = %asset.asset_id, "clip file checked by another job already");
    Ok(true)
}

/// Streams the clip's original to this run's files folder (at most the policy's size), reads
/// its manifest and removes the file. The outer error ends the run (the DAM is failing); the
/// inner one is this clip's verdict.
async fn download_and_check(
    engine: &SyncEngine,
    run: &RunState,
    checker: &Arc<crate::provenance::Checker>,
    asset_id: &str,
) -> Result<Result<crate::provenance::Evidence, crate::provenance::ProvenanceError>, EngineError> {
    use crate::provenance::ProvenanceError;
    let dir = run.files_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| EngineError::Feed(format!("cannot create {}: {e}", dir.display())))?;
    let safe: String = asset_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dest = dir.join(format!("{safe}.bin"));
    let max = checker.policy().max_file_bytes;
    let outcome = match engine.dam().download_original(asset_id, &dest, max).await {
        Ok(Some(_)) => checker.check_bounded(&dest).await,
        Ok(None) => Err(ProvenanceError::io(
            &dest,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the DAM has no original file for this clip",
            ),
        )),
        // A download that keeps failing after the client's retries (server error, connection
        // dropped before the body) is this clip's problem — "download truncated", checked
        // again next run — unless downloads keep failing one after another: then the DAM
        // itself is failing, which ends the run with nothing recorded (the clips stay queued).
        Err(ProvenanceError::Http(e)) if !e.is_record_error() => {
            let _ = std::fs::remove_file(&dest);
            let failed = run.download_failures.fetch_add(1, Ordering::SeqCst) + 1;
            if failed >= MAX_DOWNLOAD_FAILURES_IN_A_ROW {
                return Err(e.into());
            }
            Err(ProvenanceError::Truncated {
                detail: e.to_string(),
            })
        }
        Err(e) => Err(e),
    };
    if outcome.is_ok() {
        run.download_failures.store(0, Ordering::SeqCst);
    }
    let _ = std::fs::remove_file(&dest);
    Ok(outcome)
}

/// Puts the check's outcome on the clip's watermark record. A cut-short download says nothing
/// lasting about the file: it is fetched again next run (the other outcomes are properties of
/// this file version and are not re-checked).
fn record_verdict(
    asset: &mut AssetRecord,
    outcome: Result<crate::provenance::Evidence, crate::provenance::ProvenanceError>,
    file_version: String,
) {
    use crate::provenance::ProvenanceError;
    let transient = matches!(outcome, Err(ProvenanceError::Truncated { .. }));
    let w = &mut asset.watermark;
    match outcome {
        Ok(ev) => {
            tracing::info!(asset = %asset.asset_id, manifest = ev.manifest.as_str(), generator = ev.claim_generator.as_deref().unwrap_or("-"), "clip file checked");
            w.provenance = ev.provenance_state();
            w.claim_generator = ev.claim_generator.clone();
            w.evidence = Some(ev);
            w.check_error = None;
        }
        Err(e) => {
            tracing::warn!(asset = %asset.asset_id, error = %e, "clip file could not be checked");
            w.evidence = None;
            w.check_error = Some(e.to_string());
        }
    }
    w.checked_version = if transient { None } else { Some(file_version) };
}
