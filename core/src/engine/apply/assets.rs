//! Writes to a clip's own metadata in the DAM, journaled and confirmed.

use super::links::failed_state;
use super::*;

/// Writes a clip's own metadata and stores what the DAM then holds.
pub(super) async fn write_asset(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    clip: &Planned,
    changes: CanonicalValues,
) -> Result<(), EngineError> {
    let asset = &clip.asset;
    let fields = to_remote(engine, Entity::Asset, &changes)?;
    engine.hold_lease(store, &clip.item).await?;
    let payload = serde_json::to_value(WriteIntent {
        owner: engine.opts().owner.clone(),
        plm_system: engine.plm().system().to_string(),
        dam_system: asset.system.clone(),
        asset_id: asset.asset_id.clone(),
        fields: fields.clone(),
    })
    .unwrap_or_default();
    let jid = store
        .journal_begin(
            &run.run_id,
            JournalOp::WriteAsset.as_str(),
            &asset.system,
            &asset.asset_id,
            &payload,
        )
        .await?;
    let after = match engine.dam().write_fields(&asset.asset_id, &fields).await {
        Ok(v) => v,
        Err(e) => {
            telemetry::operation(JournalOp::WriteAsset.as_str(), &asset.system, false);
            close_journal(store, jid, failed_state(&e)).await?;
            return Err(e.into());
        }
    };
    telemetry::operation(JournalOp::WriteAsset.as_str(), &asset.system, true);
    count_write(engine, run);
    let record = match engine.asset_record(&after, Some(asset)) {
        Ok(r) => r,
        Err(reason) => return Err(EngineError::Record(reason)),
    };
    // The re-read may show an edit made in the DAM after this clip was pulled. Storing it would
    // mark that edit as seen without planning it (the next pull finds the same modified time
    // and skips the clip), so it would never reach the link: keep the pulled record instead,
    // and the next run finds the clip changed.
    let edited_meanwhile = record.title != asset.title
        || record.archived != asset.archived
        || record
            .values
            .keys()
            .chain(asset.values.keys())
            .filter(|k| !changes.contains_key(*k))
            .any(|k| record.values.get(k) != asset.values.get(k));
    if edited_meanwhile {
        tracing::info!(asset = %asset.asset_id, "clip edited in the DAM during the run; the next run plans it again");
    } else {
        store.upsert_assets(&[record], &[]).await?;
    }
    close_journal(store, jid, JournalState::Applied).await?;
    tracing::info!(asset = %asset.asset_id, fields = ?changes.keys().collect::<Vec<_>>(), "clip metadata written");
    run.report.lock().await.asset_writes += 1;
    Ok(())
}
