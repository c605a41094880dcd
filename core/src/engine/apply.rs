//! Applying a batch of clips' plans: check their files, plan, journal each intent, write, store
//! the result, then let the clips leave the work queue.
//!
//! `files`: the clips' files checked; `planning`: each clip planned; `assets`: writes to a
//! clip's own metadata; `links`: link creations and updates; `recover`: the writes a crash
//! interrupted.

mod assets;
mod files;
mod links;
mod planning;
mod recover;

use assets::write_assets;
use files::check_file;
use links::{create_links, update_links};
use planning::{ClipPlan, plan_owned, record_planned};
pub(crate) use recover::recover;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::plan::{self, Op, PlanContext};
use super::report::PlannedOp;
use super::{
    EngineError, Resolution, RunState, SyncEngine, close_journal, count_write, join_errors,
};
use crate::connector::{LinkUpdate, NewLink, PlmConnector};
use crate::error::ConnectorError;
use crate::mapping::Entity;
use crate::model::{CanonicalValues, LinkStatus, PartRevision, RemoteLink};
use crate::state::{
    AssetRecord, JournalOp, JournalState, LinkRecord, PartRecord, RecordKind, StateStore, WorkItem,
};
use crate::telemetry;

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
        created: None,
        fields: Default::default(),
    }
}

/// What a `create_link` journal entry holds: enough to finish the job after a crash.
#[derive(Debug, Serialize, Deserialize)]
struct CreateIntent {
    /// The process that journaled it (see [`is_recoverable`]).
    #[serde(default)]
    owner: String,
    link: LinkRecord,
    fields: crate::model::RemoteFields,
}

/// What other journal entries hold.
#[derive(Debug, Serialize, Deserialize)]
struct WriteIntent {
    /// The process that journaled it.
    #[serde(default)]
    owner: String,
    /// PLM system of the job that wrote it (empty in entries from before jobs).
    #[serde(default)]
    plm_system: String,
    dam_system: String,
    asset_id: String,
    fields: crate::model::RemoteFields,
}

/// Stores what the PLM now holds for a link after partreel's write, whose values the caller
/// has put in `link.plm_values`.
///
/// The PLM's answer is the whole record, and it may carry someone's edit made between
/// partreel's read and its write (no PLM here refuses such a write). Stored as partreel's own,
/// that edit would read as an echo on the next pull and never be planned. So when the answer
/// differs from what was written on a field partreel knows, the values written are kept: the
/// next pull sees the record differ from the state and plans the clip again.
fn settle_remote(engine: &SyncEngine, link: &mut LinkRecord, remote: &RemoteLink) {
    link.remote_id = Some(remote.remote_id.clone());
    if let Some(p) = &remote.part_remote_id {
        link.part_remote_id = p.clone();
    }
    link.plm_modified = Some(remote.modified);
    if let Ok(values) = engine.maps().plm.to_canonical(Entity::Link, &remote.fields) {
        let edited_meanwhile: Vec<&String> = link
            .plm_values
            .iter()
            // A field the answer leaves out is no evidence of an edit.
            .filter(|(k, v)| values.get(*k).is_some_and(|now| now != *v))
            .map(|(k, _)| k)
            .collect();
        if edited_meanwhile.is_empty() {
            link.plm_values = values;
        } else {
            tracing::info!(link = %link.link_id, fields = ?edited_meanwhile, "the PLM's answer carries an edit made since partreel read the record: planned again after the next pull");
        }
    }
}

/// What became of one clip of a batch.
enum Outcome {
    /// Everything applied.
    Done,
    /// The clip goes to quarantine with this reason; the rest of the batch goes on.
    Quarantine(String),
    /// A failure that ends the run (the clip stays queued for the next one).
    Fatal,
    /// The clip's lease passed to another process, which finishes it.
    LeftToOther,
    /// The run is stopping: the clip's remaining writes wait, queued, for the next run.
    Deferred,
    /// A write the DAM accepted did not show yet: the clip goes to the back of the queue and
    /// is planned again by the next run (this one does not take it again).
    Requeued,
}

/// A clip of the batch with its plan.
struct Planned {
    item: WorkItem,
    asset: AssetRecord,
    ops: Vec<Op>,
    outcome: Outcome,
}

/// Plans and applies a batch of queued clips, then takes them off the queue.
///
/// Order: every clip's own metadata first (concurrently), then link creations and updates
/// across all clips — in batches when the PLM takes batches (Teamcenter), else concurrently —
/// then local-only records. A clip whose write fails for its own reasons is quarantined and its
/// remaining writes skipped; a failure of the system itself ends the run after the batch, with
/// the clips concerned left queued.
pub(super) async fn batch(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    items: Vec<WorkItem>,
) -> Result<(), EngineError> {
    let mut loaded = load(engine, store, items).await?;
    // The clips' files first: their verdicts feed the plans.
    if let Some(checker) = &engine.opts().provenance {
        loaded = check_files(engine, store, run, checker, loaded).await?;
    }
    let mut clips = plan_all(engine, store, run, loaded).await?;
    let mut fatal: Option<EngineError> = None;

    // 1. The clips' own metadata.
    let results = write_assets(engine, store, run, &clips).await;
    settle_outcomes(&mut clips, results, &mut fatal);

    // 2. Link creations, then updates.
    let creates: Vec<(usize, Op)> = take_ops(&mut clips, |op| matches!(op, Op::CreateLink { .. }));
    let results = create_links(engine, store, run, &clips, creates).await;
    settle_outcomes(&mut clips, results, &mut fatal);
    let updates: Vec<(usize, Op)> = take_ops(&mut clips, |op| matches!(op, Op::UpdateLink { .. }));
    let results = update_links(engine, store, run, &clips, updates).await;
    settle_outcomes(&mut clips, results, &mut fatal);

    // 3. Local-only records, and the queue.
    settle_all(engine, store, run, clips).await?;
    fatal.map_or(Ok(()), Err)
}

/// Reads the queued clips from the store (concurrently: a shared PostgreSQL store answers on
/// several sessions at once; SQLite takes them in turn); a clip no longer stored leaves the
/// queue.
async fn load(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    items: Vec<WorkItem>,
) -> Result<Vec<(WorkItem, AssetRecord)>, EngineError> {
    let assets = super::read_ahead(&items, engine.opts().concurrency.max(1), |item| {
        store.asset(&item.dam_system, &item.asset_id)
    })
    .await?;
    let mut loaded = Vec::with_capacity(items.len());
    for (item, asset) in items.into_iter().zip(assets) {
        match asset {
            Some(asset) => loaded.push((item, asset)),
            None => store.finish_work(&engine.opts().owner, &item).await?,
        }
    }
    Ok(loaded)
}

/// Checks the clips' files concurrently. A stop (or the deadline) between two downloads leaves
/// the clips not yet fetched queued for the next run.
async fn check_files(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    checker: &Arc<crate::provenance::Checker>,
    loaded: Vec<(WorkItem, AssetRecord)>,
) -> Result<Vec<(WorkItem, AssetRecord)>, EngineError> {
    let checked: Vec<Result<Option<(WorkItem, AssetRecord)>, EngineError>> =
        futures::stream::iter(loaded)
            .map(|(item, asset)| async move {
                if engine.halt(run).is_some() {
                    return Ok(None);
                }
                let asset = check_file(engine, store, run, checker, asset).await?;
                Ok(Some((item, asset)))
            })
            .buffer_unordered(engine.opts().concurrency.max(1))
            .collect()
            .await;
    Ok(checked
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect())
}

/// Plans every clip (concurrently, reported in queue order). A dry run records the plan and
/// takes the clip off the queue; a clip that cannot be planned for its own reasons is
/// quarantined; the rest are returned to be applied.
async fn plan_all(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    loaded: Vec<(WorkItem, AssetRecord)>,
) -> Result<Vec<Planned>, EngineError> {
    let mut clips: Vec<Planned> = Vec::with_capacity(loaded.len());
    let plans: Vec<_> = loaded
        .into_iter()
        .map(|(item, asset)| plan_owned(engine, store, run, item, asset))
        .collect();
    let plans: Vec<(WorkItem, AssetRecord, Result<ClipPlan, EngineError>)> =
        futures::stream::iter(plans)
            .buffered(engine.opts().concurrency.max(1))
            .collect()
            .await;
    for (item, asset, plan) in plans {
        // Conflicts reach the report in queue order, whatever order the plans finished in.
        let plan = match plan {
            Ok(p) => Ok(p.ops_reporting(run).await),
            Err(e) => Err(e),
        };
        match plan {
            Ok(ops) if engine.opts().dry_run => {
                for op in &ops {
                    record_planned(engine, run, &asset, op).await;
                }
                store.finish_work(&engine.opts().owner, &item).await?;
            }
            Ok(ops) => clips.push(Planned {
                item,
                asset,
                ops,
                outcome: Outcome::Done,
            }),
            Err(EngineError::Record(reason)) => {
                engine
                    .quarantine(
                        store,
                        run,
                        &asset.system,
                        &asset.asset_id,
                        RecordKind::Asset,
                        &reason,
                    )
                    .await?;
                store.finish_work(&engine.opts().owner, &item).await?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(clips)
}

/// Settles each clip by its outcome: one whose writes all went through stores its local-only
/// records and leaves the queue (concurrently); one refused for its own reasons is
/// quarantined; the others stay queued (leased to this process, which takes them again next
/// run; another process takes them over once this one is gone).
async fn settle_all(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    mut clips: Vec<Planned>,
) -> Result<(), EngineError> {
    let mut done = Vec::new();
    for c in &mut clips {
        if matches!(c.outcome, Outcome::Done) {
            let w = &c.asset.watermark;
            done.push(Settle {
                recheck: w.check_error.is_some() && w.checked_version.is_none(),
                ops: std::mem::take(&mut c.ops),
                system: c.asset.system.clone(),
                asset_id: c.asset.asset_id.clone(),
                item: c.item.clone(),
            });
        }
    }
    let settles: Vec<_> = done
        .into_iter()
        .map(|d| settle_clip(engine, store, d))
        .collect();
    let settled: Vec<Result<(), EngineError>> = futures::stream::iter(settles)
        .buffer_unordered(engine.opts().concurrency.max(1))
        .collect()
        .await;
    settled.into_iter().collect::<Result<Vec<()>, _>>()?;
    for c in &clips {
        if matches!(c.outcome, Outcome::Requeued) {
            run.report.lock().await.writes_unconfirmed += 1;
            store.finish_work(&engine.opts().owner, &c.item).await?;
            store.enqueue(std::slice::from_ref(&c.item)).await?;
        }
        if let Outcome::Quarantine(reason) = &c.outcome {
            run.report.lock().await.clips_quarantined_after_planning += 1;
            engine
                .quarantine(
                    store,
                    run,
                    &c.asset.system,
                    &c.asset.asset_id,
                    RecordKind::Asset,
                    reason,
                )
                .await?;
            store.finish_work(&engine.opts().owner, &c.item).await?;
        }
    }
    Ok(())
}

/// What is left to do locally for a clip whose remote writes all went through.
struct Settle {
    /// The clip's file could not be downloaded whole: it is queued again for the next run.
    recheck: bool,
    ops: Vec<Op>,
    system: String,
    asset_id: String,
    item: WorkItem,
}

/// Stores a finished clip's local-only records, clears its quarantine entry and takes it off
/// the queue.
async fn settle_clip(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    d: Settle,
) -> Result<(), EngineError> {
    for op in d.ops {
        if let Op::Record { mut link } = op {
            link.updated_at = Utc::now();
            store.upsert_link(&link).await?;
        }
    }
    store.quarantine_clear(&d.system, &d.asset_id).await?;
    store.finish_work(&engine.opts().owner, &d.item).await?;
    if d.recheck {
        store.enqueue(std::slice::from_ref(&d.item)).await?;
    }
    Ok(())
}

/// Records per-clip results: the first system failure is kept to end the run with.
fn settle_outcomes(
    clips: &mut [Planned],
    results: Vec<(usize, Result<(), EngineError>)>,
    fatal: &mut Option<EngineError>,
) {
    for (i, r) in results {
        let Some(c) = clips.get_mut(i) else { continue };
        match r {
            Ok(()) => {}
            Err(EngineError::Record(reason)) => {
                if matches!(c.outcome, Outcome::Done) {
                    c.outcome = Outcome::Quarantine(reason);
                }
            }
            Err(EngineError::LeaseLost(_)) => c.outcome = Outcome::LeftToOther,
            Err(EngineError::Stopping) => {
                if matches!(c.outcome, Outcome::Done) {
                    c.outcome = Outcome::Deferred;
                }
            }
            Err(EngineError::Connector(ConnectorError::Unconfirmed { .. })) => {
                if matches!(c.outcome, Outcome::Done) {
                    c.outcome = Outcome::Requeued;
                }
            }
            Err(EngineError::Connector(e)) if e.is_record_error() => {
                if matches!(c.outcome, Outcome::Done) {
                    c.outcome = Outcome::Quarantine(e.to_string());
                }
            }
            Err(e) => {
                c.outcome = Outcome::Fatal;
                if fatal.is_none() {
                    *fatal = Some(e);
                }
            }
        }
    }
}

/// Takes the matching operations of every clip still in good standing.
fn take_ops(clips: &mut [Planned], pick: impl Fn(&Op) -> bool) -> Vec<(usize, Op)> {
    let mut out = Vec::new();
    for (i, c) in clips.iter_mut().enumerate() {
        if !matches!(c.outcome, Outcome::Done) {
            continue;
        }
        let (taken, kept): (Vec<Op>, Vec<Op>) =
            std::mem::take(&mut c.ops).into_iter().partition(&pick);
        c.ops = kept;
        out.extend(taken.into_iter().map(|op| (i, op)));
    }
    out
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
