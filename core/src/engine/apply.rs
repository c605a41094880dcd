//! Applying a clip's plan: journal the intent, write, store the result, then let the clip leave
//! the work queue. Also the recovery of writes a crash interrupted.

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
use crate::state::{AssetRecord, JournalState, LinkRecord, PartRecord, StateStore, WorkItem};
use crate::telemetry;

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
    let plm_system = engine.plm().system();
    let mut creates: Vec<(i64, CreateIntent)> = Vec::new();
    for entry in pending {
        // Entries of other jobs sharing this state are theirs to recover.
        let ours = match entry.op.as_str() {
            "create_link" | "update_link" => entry.system == plm_system,
            _ => entry
                .payload
                .get("plm_system")
                .and_then(|v| v.as_str())
                .is_none_or(|p| p.is_empty() || p == plm_system),
        };
        if !ours || !is_recoverable(engine, &entry) {
            continue;
        }
        // Another process recovering at the same time must not recover it too.
        let writer = journal_owner(&entry);
        if writer != engine.opts().owner
            && !store
                .journal_take_over(entry.id, writer, &engine.opts().owner)
                .await?
        {
            continue;
        }
        if entry.op == "create_link" {
            match serde_json::from_value::<CreateIntent>(entry.payload.clone()) {
                Ok(i) => creates.push((entry.id, i)),
                Err(e) => {
                    tracing::warn!(journal = entry.id, error = %e, "unreadable journal entry abandoned");
                    close_journal(store, entry.id, JournalState::Abandoned).await?;
                }
            }
            continue;
        }
        // Updates and metadata writes set fixed values: the re-plan writes them again if they
        // did not land.
        if let Ok(intent) = serde_json::from_value::<WriteIntent>(entry.payload.clone()) {
            let plm_system = if intent.plm_system.is_empty() {
                plm_system.to_string()
            } else {
                intent.plm_system
            };
            work.push(WorkItem {
                plm_system,
                dam_system: intent.dam_system,
                asset_id: intent.asset_id,
            });
        }
        close_journal(store, entry.id, JournalState::Abandoned).await?;
    }

    // Creations: look every pending link id up at once (the connector batches the lookup),
    // adopt what the PLM has, abandon the rest (the re-plan creates them).
    if !creates.is_empty() {
        let ids: Vec<_> = creates
            .iter()
            .map(|(_, i)| i.link.link_id.clone())
            .collect();
        let found = engine.plm().find_links(&ids).await?;
        for (journal, intent) in creates {
            match found.iter().find(|r| r.link_id == intent.link.link_id) {
                Some(remote) => {
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
                            .ensure_attached(&part_revision(&part), remote)
                            .await?;
                    }
                    let mut link = intent.link.clone();
                    settle_remote(engine, &mut link, remote);
                    store.upsert_link(&link).await?;
                    close_journal(store, journal, JournalState::Applied).await?;
                    run.report.lock().await.recovered += 1;
                }
                None => close_journal(store, journal, JournalState::Abandoned).await?,
            }
            work.push(WorkItem {
                plm_system: intent.link.plm_system,
                dam_system: intent.link.dam_system,
                asset_id: intent.link.asset_id,
            });
        }
    }
    store.enqueue(&work).await?;
    Ok(())
}

/// An entry is this process's to recover when this process wrote it, when the process that
/// wrote it is known to be gone (killed or crashed on this machine, see
/// [`crate::state::owner::is_gone`]), or when its writer has been silent longer than a lease —
/// a live process closes its entries within seconds, so a pending entry that old belongs to a
/// dead one elsewhere. Entries of other live processes sharing the state are left alone: their
/// writes may be in flight.
fn is_recoverable(engine: &SyncEngine, entry: &crate::state::JournalEntry) -> bool {
    let owner = journal_owner(entry);
    if owner.is_empty() || owner == engine.opts().owner || crate::state::owner::is_gone(owner) {
        return true;
    }
    let lease = chrono::Duration::from_std(engine.opts().lease).unwrap_or_default();
    Utc::now() - entry.created_at > lease
}

/// The process that journaled an entry ("" in entries from before owners were recorded).
fn journal_owner(entry: &crate::state::JournalEntry) -> &str {
    entry
        .payload
        .get("owner")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
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
    let concurrency = engine.opts().concurrency.max(1);
    // Reads and bookkeeping of different clips go to the store concurrently: a shared
    // (PostgreSQL) store answers them on several sessions at once; SQLite takes them in turn.
    let assets = super::read_ahead(&items, concurrency, |item| {
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
    // The clips' files first (concurrently): their verdicts feed the plans.
    if let Some(checker) = &engine.opts().provenance {
        // A stop (or the deadline) between two downloads leaves the clips not yet fetched
        // queued for the next run.
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
        loaded = checked
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
    }
    let mut clips: Vec<Planned> = Vec::with_capacity(loaded.len());
    let plans: Vec<_> = loaded
        .into_iter()
        .map(|(item, asset)| plan_owned(engine, store, run, item, asset))
        .collect();
    let plans: Vec<(WorkItem, AssetRecord, Result<ClipPlan, EngineError>)> =
        futures::stream::iter(plans)
            .buffered(concurrency)
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
                    .quarantine(store, run, &asset.system, &asset.asset_id, "asset", &reason)
                    .await?;
                store.finish_work(&engine.opts().owner, &item).await?;
            }
            Err(e) => return Err(e),
        }
    }
    let mut fatal: Option<EngineError> = None;

    // 1. The clips' own metadata.
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
    let results: Vec<(usize, Result<(), EngineError>)> = {
        let clips = &clips;
        futures::stream::iter(writes)
            .map(|(i, changes)| async move {
                if engine.halt(run).is_some() {
                    return (i, Err(EngineError::Stopping));
                }
                (i, write_asset(engine, store, run, &clips[i], changes).await)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await
    };
    settle_outcomes(&mut clips, results, &mut fatal);

    // 2. Link creations, then updates.
    let creates: Vec<(usize, Op)> = take_ops(&mut clips, |op| matches!(op, Op::CreateLink { .. }));
    let results = create_links(engine, store, run, &clips, creates).await;
    settle_outcomes(&mut clips, results, &mut fatal);
    let updates: Vec<(usize, Op)> = take_ops(&mut clips, |op| matches!(op, Op::UpdateLink { .. }));
    let results = update_links(engine, store, run, &clips, updates).await;
    settle_outcomes(&mut clips, results, &mut fatal);

    // 3. Local-only records, and the queue (clips done are settled concurrently).
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
        .buffer_unordered(concurrency)
        .collect()
        .await;
    settled.into_iter().collect::<Result<Vec<()>, _>>()?;
    for c in &mut clips {
        match &c.outcome {
            Outcome::Done => {}
            Outcome::Quarantine(reason) => {
                run.report.lock().await.clips_quarantined_after_planning += 1;
                engine
                    .quarantine(
                        store,
                        run,
                        &c.asset.system,
                        &c.asset.asset_id,
                        "asset",
                        reason,
                    )
                    .await?;
                store.finish_work(&engine.opts().owner, &c.item).await?;
            }
            // Left queued (and leased to this process, which takes them again next run;
            // another process takes them over once this one is gone).
            Outcome::Fatal | Outcome::LeftToOther | Outcome::Deferred => {}
        }
    }
    fatal.map_or(Ok(()), Err)
}

/// Clip file downloads failing one after another (after the HTTP client's retries) that end
/// the run as a DAM failure rather than a per-clip "download truncated".
const MAX_DOWNLOAD_FAILURES_IN_A_ROW: u64 = 5;

/// [`plan_one`] for a clip it keeps hold of.
async fn plan_owned(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    item: WorkItem,
    asset: AssetRecord,
) -> (WorkItem, AssetRecord, Result<ClipPlan, EngineError>) {
    let plan = plan_one(engine, store, run, &asset).await;
    (item, asset, plan)
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

/// Checks a clip's file when it is new or changed (by the DAM's file version, or its
/// modification time when the DAM has no versions), and stores what was found. A file that
/// cannot be checked (too large, cut short, not media, gone) gets a clear reason and a
/// not-preserved verdict; the run goes on. Only a failure of the DAM itself ends the run.
async fn check_file(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &RunState,
    checker: &Arc<crate::provenance::Checker>,
    mut asset: AssetRecord,
) -> Result<AssetRecord, EngineError> {
    use crate::provenance::ProvenanceError;
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
    if let Some(stored) = store.asset(&asset.system, &asset.asset_id).await?
        && stored.watermark.checked_version.as_deref() == Some(file_version.as_str())
    {
        let (w, s) = (&mut asset.watermark, stored.watermark);
        w.provenance = s.provenance;
        w.claim_generator = s.claim_generator;
        w.evidence = s.evidence;
        w.check_error = s.check_error;
        w.checked_version = s.checked_version;
        tracing::debug!(asset = %asset.asset_id, "clip file checked by another job already");
        return Ok(asset);
    }
    let dir = run.files_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| EngineError::Feed(format!("cannot create {}: {e}", dir.display())))?;
    let safe: String = asset
        .asset_id
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
    let outcome = match engine
        .dam()
        .download_original(&asset.asset_id, &dest, max)
        .await
    {
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
    // A cut-short download says nothing lasting about the file: it is fetched again next run
    // (the other outcomes are properties of this file version and are not re-checked).
    let transient = matches!(outcome, Err(ProvenanceError::Truncated { .. }));
    let _ = std::fs::remove_file(&dest);
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
    store
        .upsert_assets(std::slice::from_ref(&asset), &[])
        .await?;
    Ok(asset)
}

/// One clip's operations and the conflicts found while planning them.
struct ClipPlan {
    ops: Vec<Op>,
    conflicts: Vec<super::report::Conflict>,
}

impl ClipPlan {
    /// Adds the conflicts to the run's report; the operations are left to apply.
    async fn ops_reporting(self, run: &Arc<RunState>) -> Vec<Op> {
        if !self.conflicts.is_empty() {
            run.report.lock().await.conflicts.extend(self.conflicts);
        }
        self.ops
    }
}

/// Resolves and plans one clip.
async fn plan_one(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    asset: &AssetRecord,
) -> Result<ClipPlan, EngineError> {
    let targets = match engine.resolve(store, asset).await? {
        Resolution::Targets(t) => t,
        Resolution::Untagged => {
            run.report.lock().await.untagged += 1;
            Vec::new()
        }
        Resolution::OutOfScope => {
            run.report.lock().await.out_of_scope += 1;
            Vec::new()
        }
        Resolution::Unresolved(reason) => return Err(EngineError::Record(reason)),
    };
    run.report.lock().await.clips_planned += 1;
    let existing: Vec<LinkRecord> = store
        .links_for_asset(&asset.system, &asset.asset_id)
        .await?
        .into_iter()
        .filter(|l| l.plm_system == engine.plm().system())
        .collect();
    let ctx = PlanContext {
        dam: engine.dam().system(),
        plm: engine.plm().system(),
        today: Utc::now().date_naive(),
    };
    let mut plan = plan::plan_clip(ctx, engine.maps(), asset, &targets, &existing);
    // The DAM's hand-set visible-watermark field contradicting the verdict computed from the
    // file is reported (the field is corrected only where the DAM mapping gives the computed
    // value a field of its own).
    let w = &asset.watermark;
    if (w.evidence.is_some() || w.check_error.is_some())
        && !targets.is_empty()
        && let Some(visible) = w.visible_field
    {
        let verdict = w.verdict();
        if visible != verdict.preserved {
            plan.conflicts.push(super::report::Conflict {
                kind: "provenance",
                link_id: String::new(),
                asset_id: asset.asset_id.clone(),
                part: targets
                    .iter()
                    .map(|t| format!("{}/{}", t.part.number, t.part.revision))
                    .collect::<Vec<_>>()
                    .join(" "),
                field: crate::model::canonical::VISIBLE_WATERMARK.into(),
                dam_value: Some(visible.to_string()),
                plm_value: Some(format!(
                    "computed {}: {}",
                    verdict.preserved, verdict.reason
                )),
                base_value: None,
            });
        }
    }
    Ok(ClipPlan {
        ops: plan.ops,
        conflicts: plan.conflicts,
    })
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

/// A link write ready to send (journaled, fields converted): a creation or an update. The
/// PLM takes them one by one (concurrently) or in batches, per [`dispatch`].
#[async_trait::async_trait]
trait PreparedWrite: Send + Sync + Sized {
    /// What a batch of these is, for errors.
    const WHAT: &'static str;
    /// Index of its clip in the batch being applied.
    fn clip(&self) -> usize;
    /// Its journal entry.
    fn journal(&self) -> i64;
    /// Sends it alone.
    async fn send_one(&self, plm: &dyn PlmConnector) -> Result<RemoteLink, ConnectorError>;
    /// Sends a batch; one result per item, in order.
    async fn send_batch(
        batch: &[Self],
        plm: &dyn PlmConnector,
    ) -> Vec<Result<RemoteLink, ConnectorError>>;
    /// Stores the outcome.
    async fn finish(
        self,
        engine: &SyncEngine,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        result: Result<RemoteLink, ConnectorError>,
    ) -> Result<(), EngineError>;
}

/// Sends prepared link writes and stores each outcome: concurrently one by one when the PLM has
/// no batch operations, else in batches of its size. One result per clip index.
async fn dispatch<P: PreparedWrite>(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    prepared: Vec<P>,
) -> Vec<(usize, Result<(), EngineError>)> {
    let plm = engine.plm().as_ref();
    let max_batch = plm.max_batch().max(1);
    if max_batch == 1 {
        return futures::stream::iter(prepared)
            .map(|p| async move {
                let clip = p.clip();
                if engine.halt(run).is_some() {
                    return (clip, defer(store, p.journal()).await);
                }
                let r = p.send_one(plm).await;
                (clip, p.finish(engine, store, run, r).await)
            })
            .buffer_unordered(engine.opts().concurrency.max(1))
            .collect()
            .await;
    }
    let mut results = Vec::new();
    let mut rest = prepared;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(max_batch));
        let chunk = std::mem::replace(&mut rest, tail);
        if engine.halt(run).is_some() {
            for p in chunk {
                results.push((p.clip(), defer(store, p.journal()).await));
            }
            continue;
        }
        let mut answers = P::send_batch(&chunk, plm).await.into_iter();
        for p in chunk {
            let r = answers.next().unwrap_or_else(|| {
                Err(ConnectorError::Malformed {
                    system: plm.system().to_string(),
                    what: P::WHAT.into(),
                    detail: "fewer results than links sent".into(),
                })
            });
            let clip = p.clip();
            results.push((clip, p.finish(engine, store, run, r).await));
        }
    }
    results
}

/// A prepared write not sent because the run is stopping: its journal entry is closed (nothing
/// was sent) and the clip stays queued.
async fn defer(store: &Arc<dyn StateStore>, journal: i64) -> Result<(), EngineError> {
    close_journal(store, journal, JournalState::Abandoned).await?;
    Err(EngineError::Stopping)
}

/// A link creation ready to send: journaled, fields converted.
struct PreparedCreate {
    clip: usize,
    journal: i64,
    link: LinkRecord,
    new: NewLink,
}

/// Creates links, journaling each first; one result per clip index.
async fn create_links(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    clips: &[Planned],
    ops: Vec<(usize, Op)>,
) -> Vec<(usize, Result<(), EngineError>)> {
    let plm_system = engine.plm().system().to_string();
    let mut results = Vec::new();
    let mut prepared = Vec::new();
    for (i, op) in ops {
        if engine.halt(run).is_some() {
            results.push((i, Err(EngineError::Stopping)));
            continue;
        }
        let Op::CreateLink {
            link_id,
            part,
            origin,
            status,
            values,
            base,
        } = op
        else {
            continue;
        };
        let asset = &clips[i].asset;
        let fields = match to_remote(engine, Entity::Link, &values) {
            Ok(f) => f,
            Err(e) => {
                results.push((i, Err(e)));
                continue;
            }
        };
        let now = Utc::now();
        let link = LinkRecord {
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
        if let Err(e) = engine.hold_lease(store, &clips[i].item).await {
            results.push((i, Err(e)));
            continue;
        }
        let payload = serde_json::to_value(CreateIntent {
            owner: engine.opts().owner.clone(),
            link: link.clone(),
            fields: fields.clone(),
        })
        .unwrap_or_default();
        let journal = match store
            .journal_begin(
                &run.run_id,
                "create_link",
                &plm_system,
                link_id.as_str(),
                &payload,
            )
            .await
        {
            Ok(j) => j,
            Err(e) => {
                results.push((i, Err(e.into())));
                continue;
            }
        };
        prepared.push(PreparedCreate {
            clip: i,
            journal,
            link,
            new: NewLink {
                part: part_revision(&part),
                link_id,
                fields,
            },
        });
    }
    results.extend(dispatch(engine, store, run, prepared).await);
    results
}

/// Stores the outcome of one link creation.
async fn finish_create(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    mut p: PreparedCreate,
    result: Result<RemoteLink, ConnectorError>,
) -> Result<(), EngineError> {
    let system = engine.plm().system();
    let remote = match result {
        Ok(r) => r,
        Err(e) => {
            telemetry::operation("create_link", system, false);
            close_journal(store, p.journal, failed_state(&e)).await?;
            return Err(e.into());
        }
    };
    telemetry::operation("create_link", system, true);
    count_write(engine, run);
    settle_remote(engine, &mut p.link, &remote);
    store.upsert_link(&p.link).await?;
    close_journal(store, p.journal, JournalState::Applied).await?;
    tracing::info!(link = %p.link.link_id, asset = %p.link.asset_id, part = %p.link.part_number, revision = %p.link.part_revision, origin = p.link.origin.as_str(), "link created");
    run.report.lock().await.links_created += 1;
    Ok(())
}

#[async_trait::async_trait]
impl PreparedWrite for PreparedCreate {
    const WHAT: &'static str = "batch link creation";

    fn clip(&self) -> usize {
        self.clip
    }

    fn journal(&self) -> i64 {
        self.journal
    }

    async fn send_one(&self, plm: &dyn PlmConnector) -> Result<RemoteLink, ConnectorError> {
        plm.create_link(&self.new.part, &self.new.link_id, &self.new.fields)
            .await
    }

    async fn send_batch(
        batch: &[Self],
        plm: &dyn PlmConnector,
    ) -> Vec<Result<RemoteLink, ConnectorError>> {
        let links: Vec<NewLink> = batch.iter().map(|p| p.new.clone()).collect();
        plm.create_links(&links).await
    }

    async fn finish(
        self,
        engine: &SyncEngine,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        result: Result<RemoteLink, ConnectorError>,
    ) -> Result<(), EngineError> {
        finish_create(engine, store, run, self, result).await
    }
}

/// A link update ready to send.
struct PreparedUpdate {
    clip: usize,
    journal: i64,
    link: LinkRecord,
    status: LinkStatus,
    changes: CanonicalValues,
    base: CanonicalValues,
    update: LinkUpdate,
}

/// Updates links, journaling each first; one result per clip index.
async fn update_links(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    clips: &[Planned],
    ops: Vec<(usize, Op)>,
) -> Vec<(usize, Result<(), EngineError>)> {
    let plm_system = engine.plm().system().to_string();
    let mut results = Vec::new();
    let mut prepared = Vec::new();
    for (i, op) in ops {
        if engine.halt(run).is_some() {
            results.push((i, Err(EngineError::Stopping)));
            continue;
        }
        let Op::UpdateLink {
            link,
            status,
            changes,
            base,
        } = op
        else {
            continue;
        };
        let asset = &clips[i].asset;
        let fields = match to_remote(engine, Entity::Link, &changes) {
            Ok(f) => f,
            Err(e) => {
                results.push((i, Err(e)));
                continue;
            }
        };
        if let Err(e) = engine.hold_lease(store, &clips[i].item).await {
            results.push((i, Err(e)));
            continue;
        }
        let payload = serde_json::to_value(WriteIntent {
            owner: engine.opts().owner.clone(),
            plm_system: plm_system.clone(),
            dam_system: asset.system.clone(),
            asset_id: asset.asset_id.clone(),
            fields: fields.clone(),
        })
        .unwrap_or_default();
        let journal = match store
            .journal_begin(
                &run.run_id,
                "update_link",
                &plm_system,
                link.link_id.as_str(),
                &payload,
            )
            .await
        {
            Ok(j) => j,
            Err(e) => {
                results.push((i, Err(e.into())));
                continue;
            }
        };
        let update = LinkUpdate {
            link: remote_link(&link),
            fields,
        };
        prepared.push(PreparedUpdate {
            clip: i,
            journal,
            link,
            status,
            changes,
            base,
            update,
        });
    }
    results.extend(dispatch(engine, store, run, prepared).await);
    results
}

#[async_trait::async_trait]
impl PreparedWrite for PreparedUpdate {
    const WHAT: &'static str = "batch link update";

    fn clip(&self) -> usize {
        self.clip
    }

    fn journal(&self) -> i64 {
        self.journal
    }

    async fn send_one(&self, plm: &dyn PlmConnector) -> Result<RemoteLink, ConnectorError> {
        plm.update_link(&self.update.link, &self.update.fields)
            .await
    }

    async fn send_batch(
        batch: &[Self],
        plm: &dyn PlmConnector,
    ) -> Vec<Result<RemoteLink, ConnectorError>> {
        let updates: Vec<LinkUpdate> = batch.iter().map(|p| p.update.clone()).collect();
        plm.update_links(&updates).await
    }

    async fn finish(
        self,
        engine: &SyncEngine,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        result: Result<RemoteLink, ConnectorError>,
    ) -> Result<(), EngineError> {
        finish_update(engine, store, run, self, result).await
    }
}

/// Stores the outcome of one link update.
async fn finish_update(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    p: PreparedUpdate,
    result: Result<RemoteLink, ConnectorError>,
) -> Result<(), EngineError> {
    let system = engine.plm().system();
    let kind = if p.status == LinkStatus::Retired {
        "retire_link"
    } else {
        "update_link"
    };
    let remote = match result {
        Ok(r) => r,
        Err(e) => {
            telemetry::operation(kind, system, false);
            close_journal(store, p.journal, failed_state(&e)).await?;
            return Err(e.into());
        }
    };
    telemetry::operation(kind, system, true);
    count_write(engine, run);
    let mut link = p.link;
    let retired = p.status == LinkStatus::Retired && link.status != LinkStatus::Retired;
    for (k, v) in &p.changes {
        if v.is_empty() {
            link.plm_values.remove(k);
        } else {
            link.plm_values.insert(k.clone(), v.clone());
        }
    }
    settle_remote(engine, &mut link, &remote);
    link.status = p.status;
    link.base = p.base;
    link.updated_at = Utc::now();
    link.run_id = run.run_id.clone();
    store.upsert_link(&link).await?;
    close_journal(store, p.journal, JournalState::Applied).await?;
    let mut report = run.report.lock().await;
    if retired {
        tracing::info!(link = %link.link_id, asset = %link.asset_id, "link retired");
        report.links_retired += 1;
    } else {
        tracing::info!(link = %link.link_id, fields = ?p.changes.keys().collect::<Vec<_>>(), "link updated");
        report.links_updated += 1;
    }
    Ok(())
}

/// Writes a clip's own metadata and stores what the DAM then holds.
async fn write_asset(
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
            "write_asset",
            &asset.system,
            &asset.asset_id,
            &payload,
        )
        .await?;
    let after = match engine.dam().write_fields(&asset.asset_id, &fields).await {
        Ok(v) => v,
        Err(e) => {
            telemetry::operation("write_asset", &asset.system, false);
            close_journal(store, jid, failed_state(&e)).await?;
            return Err(e.into());
        }
    };
    telemetry::operation("write_asset", &asset.system, true);
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

/// A write that failed for the record's own reasons is closed as failed; anything else stays
/// pending so recovery looks at it.
fn failed_state(e: &ConnectorError) -> JournalState {
    if e.is_record_error() {
        JournalState::Failed
    } else {
        JournalState::Pending
    }
}
