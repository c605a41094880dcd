//! Writes to clips' own metadata in the DAM, journaled and confirmed: one by one (several at
//! once), or in the DAM's batches when it confirms many writes with a few reads (Bynder).

use super::links::failed_state;
use super::*;
use crate::model::{RemoteFields, VideoExperiment};

/// A clip metadata write, journaled and ready to send.
struct PreparedWrite {
    /// Index of its clip in the batch being applied.
    clip: usize,
    /// Its journal entry.
    journal: i64,
    /// The fields, as the DAM names them.
    fields: RemoteFields,
    /// The canonical values it changes.
    changes: CanonicalValues,
}

/// Writes every clip's own metadata: in batches of the DAM's size when it takes batches, else
/// one by one, several at once. A stop skips the writes not yet sent (they stay queued).
pub(super) async fn write_assets(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    clips: &[Planned],
) -> Vec<(usize, Result<(), EngineError>)> {
    let writes: Vec<(usize, CanonicalValues)> = clips
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.ops.iter().filter_map(move |op| match op {
                Op::WriteAsset { changes } => Some((i, changes.clone())),
                _ => None,
            })
        })
        .collect();
    let max_batch = engine.dam().max_write_batch().max(1);
    if max_batch == 1 {
        return futures::stream::iter(writes)
            .map(|(i, changes)| async move {
                if engine.halt(run).is_some() {
                    return (i, Err(EngineError::Stopping));
                }
                let p = match prepare(engine, store, run, i, &clips[i], changes).await {
                    Ok(p) => p,
                    Err(e) => return (i, Err(e)),
                };
                let r = engine
                    .dam()
                    .write_fields(&clips[i].asset.asset_id, &p.fields)
                    .await;
                (i, finish(engine, store, run, &clips[i], p, r).await)
            })
            .buffer_unordered(engine.opts().concurrency.max(1))
            .collect()
            .await;
    }
    let mut results = Vec::with_capacity(writes.len());
    let mut rest = writes;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(max_batch));
        let chunk = std::mem::replace(&mut rest, tail);
        if engine.halt(run).is_some() {
            results.extend(
                chunk
                    .into_iter()
                    .map(|(i, _)| (i, Err(EngineError::Stopping))),
            );
            continue;
        }
        // Journal every intent of the chunk before the first write goes out.
        let prepared: Vec<Result<PreparedWrite, (usize, EngineError)>> =
            futures::stream::iter(chunk)
                .map(|(i, changes)| async move {
                    prepare(engine, store, run, i, &clips[i], changes)
                        .await
                        .map_err(|e| (i, e))
                })
                .buffered(engine.opts().concurrency.max(1))
                .collect()
                .await;
        let mut ready = Vec::with_capacity(prepared.len());
        for p in prepared {
            match p {
                Ok(p) => ready.push(p),
                Err((i, e)) => results.push((i, Err(e))),
            }
        }
        if ready.is_empty() {
            continue;
        }
        let batch: Vec<(String, RemoteFields)> = ready
            .iter()
            .map(|p| (clips[p.clip].asset.asset_id.clone(), p.fields.clone()))
            .collect();
        let mut answers = engine.dam().write_fields_batch(&batch).await.into_iter();
        for p in ready {
            let r = answers.next().unwrap_or_else(|| {
                Err(ConnectorError::Malformed {
                    system: engine.dam().system().to_string(),
                    what: "metadata write batch".into(),
                    detail: "fewer results than writes sent".into(),
                })
            });
            let i = p.clip;
            results.push((i, finish(engine, store, run, &clips[i], p, r).await));
        }
    }
    results
}

/// Converts the changes to the DAM's fields, checks the clip's lease and journals the intent.
async fn prepare(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    clip_index: usize,
    clip: &Planned,
    changes: CanonicalValues,
) -> Result<PreparedWrite, EngineError> {
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
    let journal = store
        .journal_begin(
            &run.run_id,
            JournalOp::WriteAsset.as_str(),
            &asset.system,
            &asset.asset_id,
            &payload,
        )
        .await?;
    Ok(PreparedWrite {
        clip: clip_index,
        journal,
        fields,
        changes,
    })
}

/// Stores what the DAM holds after a write and closes its journal entry. A write the DAM
/// accepted but did not yet show is left for the next run: its entry is abandoned (the
/// re-plan writes the same values again if they never landed) and the clip goes back in the
/// queue.
async fn finish(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    clip: &Planned,
    p: PreparedWrite,
    result: Result<VideoExperiment, ConnectorError>,
) -> Result<(), EngineError> {
    let asset = &clip.asset;
    let after = match result {
        Ok(v) => v,
        Err(e @ ConnectorError::Unconfirmed { .. }) => {
            telemetry::operation(JournalOp::WriteAsset.as_str(), &asset.system, false);
            tracing::warn!(asset = %asset.asset_id, error = %e, "metadata write not visible yet: the clip is queued again");
            close_journal(store, p.journal, JournalState::Abandoned).await?;
            return Err(EngineError::Connector(e));
        }
        Err(e) => {
            telemetry::operation(JournalOp::WriteAsset.as_str(), &asset.system, false);
            close_journal(store, p.journal, failed_state(&e)).await?;
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
            .filter(|k| !p.changes.contains_key(*k))
            .any(|k| record.values.get(k) != asset.values.get(k));
    if edited_meanwhile {
        tracing::info!(asset = %asset.asset_id, "clip edited in the DAM during the run; the next run plans it again");
    } else {
        store.upsert_assets(&[record], &[]).await?;
    }
    close_journal(store, p.journal, JournalState::Applied).await?;
    tracing::info!(asset = %asset.asset_id, fields = ?p.changes.keys().collect::<Vec<_>>(), "clip metadata written");
    run.report.lock().await.asset_writes += 1;
    Ok(())
}
