//! Applying a clip's plan: journal the intent, write, store the result, then let the clip leave
//! the work queue. Also the recovery of writes a crash interrupted.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::plan::{self, Op, PlanContext};
use super::report::PlannedOp;
use super::{
    EngineError, Resolution, RunState, SyncEngine, close_journal, count_write, join_errors,
};
use crate::error::ConnectorError;
use crate::mapping::Entity;
use crate::model::{CanonicalValues, LinkStatus, PartRevision, RemoteLink};
use crate::state::{AssetRecord, JournalState, LinkRecord, PartRecord, StateStore, WorkItem};

/// What a `create_link` journal entry holds: enough to finish the job after a crash.
#[derive(Debug, Serialize, Deserialize)]
struct CreateIntent {
    link: LinkRecord,
    fields: crate::model::RemoteFields,
}

/// What other journal entries hold.
#[derive(Debug, Serialize, Deserialize)]
struct WriteIntent {
    dam_system: String,
    asset_id: String,
    fields: crate::model::RemoteFields,
}

fn part_revision(p: &PartRecord) -> PartRevision {
    PartRevision {
        system: p.system.clone(),
        remote_id: p.remote_id.clone(),
        number: p.number.clone(),
        revision: p.revision.clone(),
        name: p.name.clone(),
        lifecycle_state: p.lifecycle_state.clone(),
        modified: p.modified,
        fields: Default::default(),
    }
}

fn remote_link(l: &LinkRecord) -> RemoteLink {
    RemoteLink {
        link_id: l.link_id.clone(),
        remote_id: l.remote_id.clone().unwrap_or_default(),
        part_remote_id: Some(l.part_remote_id.clone()),
        modified: l.plm_modified.unwrap_or_else(Utc::now),
        fields: Default::default(),
    }
}

/// Finishes or abandons writes a previous run journaled but did not see through.
pub(super) async fn recover(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
) -> Result<(), EngineError> {
    let pending = store.journal_pending().await?;
    if pending.is_empty() {
        return Ok(());
    }
    tracing::info!(
        entries = pending.len(),
        "recovering writes an interrupted run left pending"
    );
    let mut work = Vec::new();
    for entry in pending {
        match entry.op.as_str() {
            "create_link" => {
                let intent: CreateIntent = match serde_json::from_value(entry.payload.clone()) {
                    Ok(i) => i,
                    Err(e) => {
                        tracing::warn!(journal = entry.id, error = %e, "unreadable journal entry abandoned");
                        close_journal(store, entry.id, JournalState::Abandoned).await?;
                        continue;
                    }
                };
                let found = engine
                    .plm()
                    .find_links(std::slice::from_ref(&intent.link.link_id))
                    .await?;
                if let Some(remote) = found.into_iter().next() {
                    let part = store
                        .part(
                            &intent.link.plm_system,
                            &intent.link.part_number,
                            &intent.link.part_revision,
                        )
                        .await?;
                    if let Some(part) = part {
                        engine
                            .plm()
                            .ensure_attached(&part_revision(&part), &remote)
                            .await?;
                    }
                    let mut link = intent.link.clone();
                    settle_remote(engine, &mut link, &remote);
                    store.upsert_link(&link).await?;
                    close_journal(store, entry.id, JournalState::Applied).await?;
                    run.report.lock().await.recovered += 1;
                } else {
                    close_journal(store, entry.id, JournalState::Abandoned).await?;
                }
                work.push(WorkItem {
                    dam_system: intent.link.dam_system,
                    asset_id: intent.link.asset_id,
                });
            }
            _ => {
                // Updates and metadata writes set fixed values: the re-plan writes them again
                // if they did not land.
                if let Ok(intent) = serde_json::from_value::<WriteIntent>(entry.payload.clone()) {
                    work.push(WorkItem {
                        dam_system: intent.dam_system,
                        asset_id: intent.asset_id,
                    });
                }
                close_journal(store, entry.id, JournalState::Abandoned).await?;
            }
        }
    }
    store.enqueue(&work).await?;
    Ok(())
}

/// Stores what the PLM now holds for a link.
fn settle_remote(engine: &SyncEngine, link: &mut LinkRecord, remote: &RemoteLink) {
    link.remote_id = Some(remote.remote_id.clone());
    if let Some(p) = &remote.part_remote_id {
        link.part_remote_id = p.clone();
    }
    link.plm_modified = Some(remote.modified);
    if let Ok(values) = engine.maps().plm.to_canonical(Entity::Link, &remote.fields) {
        link.plm_values = values;
    }
}

/// Plans and applies one queued clip, then takes it off the queue.
pub(super) async fn clip(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    item: &WorkItem,
) -> Result<(), EngineError> {
    let Some(asset) = store.asset(&item.dam_system, &item.asset_id).await? else {
        store.finish_work(item).await?;
        return Ok(());
    };
    let outcome = clip_inner(engine, store, run, &asset).await;
    match outcome {
        Ok(()) => {
            store
                .quarantine_clear(&asset.system, &asset.asset_id)
                .await?;
        }
        Err(EngineError::Connector(e)) if e.is_record_error() => {
            engine
                .quarantine(
                    store,
                    run,
                    &asset.system,
                    &asset.asset_id,
                    "asset",
                    &e.to_string(),
                )
                .await?;
        }
        Err(EngineError::Record(reason)) => {
            engine
                .quarantine(store, run, &asset.system, &asset.asset_id, "asset", &reason)
                .await?;
        }
        Err(e) => return Err(e),
    }
    store.finish_work(item).await?;
    Ok(())
}

async fn clip_inner(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    asset: &AssetRecord,
) -> Result<(), EngineError> {
    let targets = match engine.resolve(store, asset).await? {
        Resolution::Targets(t) => t,
        Resolution::Untagged => {
            run.report.lock().await.untagged += 1;
            Vec::new()
        }
        Resolution::Unresolved(reason) => return Err(EngineError::Record(reason)),
    };
    run.report.lock().await.clips_planned += 1;
    let existing = store
        .links_for_asset(&asset.system, &asset.asset_id)
        .await?;
    let ctx = PlanContext {
        dam: engine.dam().system(),
        plm: engine.plm().system(),
        today: Utc::now().date_naive(),
    };
    let plan = plan::plan_clip(ctx, engine.maps(), asset, &targets, &existing);
    run.report
        .lock()
        .await
        .conflicts
        .extend(plan.conflicts.iter().cloned());
    for op in plan.ops {
        if engine.opts().dry_run {
            record_planned(engine, run, asset, &op).await;
            continue;
        }
        apply_op(engine, store, run, asset, op).await?;
    }
    Ok(())
}

async fn record_planned(engine: &SyncEngine, run: &Arc<RunState>, asset: &AssetRecord, op: &Op) {
    let mut report = run.report.lock().await;
    let planned = match op {
        Op::CreateLink {
            link_id,
            part,
            values,
            ..
        } => {
            report.links_created += 1;
            PlannedOp {
                op: "create_link".into(),
                system: engine.plm().system().into(),
                target: link_id.to_string(),
                summary: format!(
                    "clip {} ({}) → part {} rev {}",
                    asset.asset_id, asset.title, part.number, part.revision
                ),
                fields: values.clone().into_iter().collect(),
            }
        }
        Op::UpdateLink {
            link,
            status,
            changes,
            ..
        } => {
            let retire = *status == LinkStatus::Retired;
            if retire {
                report.links_retired += 1;
            } else {
                report.links_updated += 1;
            }
            PlannedOp {
                op: if retire { "retire_link" } else { "update_link" }.into(),
                system: engine.plm().system().into(),
                target: link.link_id.to_string(),
                summary: format!(
                    "clip {} → part {} rev {}",
                    asset.asset_id, link.part_number, link.part_revision
                ),
                fields: changes.clone().into_iter().collect(),
            }
        }
        Op::Record { .. } => return,
        Op::WriteAsset { changes } => {
            report.asset_writes += 1;
            PlannedOp {
                op: "write_asset".into(),
                system: engine.dam().system().into(),
                target: asset.asset_id.clone(),
                summary: format!("clip {} ({})", asset.asset_id, asset.title),
                fields: changes.clone().into_iter().collect(),
            }
        }
    };
    report.plan.push(planned);
}

fn to_remote(
    engine: &SyncEngine,
    entity: Entity,
    values: &CanonicalValues,
) -> Result<crate::model::RemoteFields, EngineError> {
    let mapping = if entity == Entity::Asset {
        &engine.maps().dam
    } else {
        &engine.maps().plm
    };
    mapping
        .to_remote(entity, values)
        .map_err(|errs| EngineError::Record(join_errors(&errs)))
}

async fn apply_op(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    asset: &AssetRecord,
    op: Op,
) -> Result<(), EngineError> {
    let plm_system = engine.plm().system().to_string();
    match op {
        Op::CreateLink {
            link_id,
            part,
            origin,
            status,
            values,
            base,
        } => {
            let fields = to_remote(engine, Entity::Link, &values)?;
            let now = Utc::now();
            let mut link = LinkRecord {
                link_id: link_id.clone(),
                dam_system: asset.system.clone(),
                asset_id: asset.asset_id.clone(),
                plm_system: plm_system.clone(),
                part_number: part.number.clone(),
                part_revision: part.revision.clone(),
                part_remote_id: part.remote_id.clone(),
                remote_id: None,
                status,
                origin,
                base,
                plm_values: values,
                plm_modified: None,
                created_at: now,
                updated_at: now,
                run_id: run.run_id.clone(),
            };
            let intent = CreateIntent {
                link: link.clone(),
                fields: fields.clone(),
            };
            let payload = serde_json::to_value(&intent).unwrap_or_default();
            let jid = store
                .journal_begin(
                    &run.run_id,
                    "create_link",
                    &plm_system,
                    link_id.as_str(),
                    &payload,
                )
                .await?;
            let remote = match engine
                .plm()
                .create_link(&part_revision(&part), &link_id, &fields)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    close_journal(store, jid, failed_state(&e)).await?;
                    return Err(e.into());
                }
            };
            count_write(engine, run);
            settle_remote(engine, &mut link, &remote);
            store.upsert_link(&link).await?;
            close_journal(store, jid, JournalState::Applied).await?;
            tracing::info!(link = %link_id, asset = %asset.asset_id, part = %part.number, revision = %part.revision, origin = origin.as_str(), "link created");
            run.report.lock().await.links_created += 1;
        }
        Op::UpdateLink {
            mut link,
            status,
            changes,
            base,
        } => {
            let fields = to_remote(engine, Entity::Link, &changes)?;
            let payload = serde_json::to_value(WriteIntent {
                dam_system: asset.system.clone(),
                asset_id: asset.asset_id.clone(),
                fields: fields.clone(),
            })
            .unwrap_or_default();
            let jid = store
                .journal_begin(
                    &run.run_id,
                    "update_link",
                    &plm_system,
                    link.link_id.as_str(),
                    &payload,
                )
                .await?;
            let remote = match engine.plm().update_link(&remote_link(&link), &fields).await {
                Ok(r) => r,
                Err(e) => {
                    close_journal(store, jid, failed_state(&e)).await?;
                    return Err(e.into());
                }
            };
            count_write(engine, run);
            let retired = status == LinkStatus::Retired && link.status != LinkStatus::Retired;
            let mut merged = link.plm_values.clone();
            for (k, v) in &changes {
                if v.is_empty() {
                    merged.remove(k);
                } else {
                    merged.insert(k.clone(), v.clone());
                }
            }
            link.plm_values = merged;
            settle_remote(engine, &mut link, &remote);
            link.status = status;
            link.base = base;
            link.updated_at = Utc::now();
            link.run_id = run.run_id.clone();
            store.upsert_link(&link).await?;
            close_journal(store, jid, JournalState::Applied).await?;
            let mut report = run.report.lock().await;
            if retired {
                tracing::info!(link = %link.link_id, asset = %asset.asset_id, "link retired");
                report.links_retired += 1;
            } else {
                tracing::info!(link = %link.link_id, fields = ?changes.keys().collect::<Vec<_>>(), "link updated");
                report.links_updated += 1;
            }
        }
        Op::Record { mut link } => {
            link.updated_at = Utc::now();
            store.upsert_link(&link).await?;
        }
        Op::WriteAsset { changes } => {
            let fields = to_remote(engine, Entity::Asset, &changes)?;
            let payload = serde_json::to_value(WriteIntent {
                dam_system: asset.system.clone(),
                asset_id: asset.asset_id.clone(),
                fields: fields.clone(),
            })
            .unwrap_or_default();
            let jid = store
                .journal_begin(
                    &run.run_id,
                    "write_asset",
                    &asset.system,
                    &asset.asset_id,
                    &payload,
                )
                .await?;
            let after = match engine.dam().write_fields(&asset.asset_id, &fields).await {
                Ok(v) => v,
                Err(e) => {
                    close_journal(store, jid, failed_state(&e)).await?;
                    return Err(e.into());
                }
            };
            count_write(engine, run);
            let record = match engine.asset_record(&after, Some(asset)) {
                Ok(r) => r,
                Err(reason) => return Err(EngineError::Record(reason)),
            };
            // The re-read may show an edit made in the DAM after this clip was pulled. Storing
            // it would mark that edit as seen without planning it (the next pull finds the
            // same modified time and skips the clip), so it would never reach the link: keep
            // the pulled record instead, and the next run finds the clip changed.
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
                store.upsert_assets(&[record], false).await?;
            }
            close_journal(store, jid, JournalState::Applied).await?;
            tracing::info!(asset = %asset.asset_id, fields = ?changes.keys().collect::<Vec<_>>(), "clip metadata written");
            run.report.lock().await.asset_writes += 1;
        }
    }
    Ok(())
}

/// A write that failed for the record's own reasons is closed as failed; anything else stays
/// pending so recovery looks at it.
fn failed_state(e: &ConnectorError) -> JournalState {
    if e.is_record_error() {
        JournalState::Failed
    } else {
        JournalState::Pending
    }
}
