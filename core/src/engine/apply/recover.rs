//! Recovery of the writes a crash interrupted: pending journal entries are settled by looking
//! up their link id in the PLM (applied, or abandoned and planned again).

use super::*;

/// Finishes or abandons writes a previous run journaled but did not see through.
pub(crate) async fn recover(
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
    let mut creates: Vec<(i64, CreateIntent)> = Vec::new();
    for entry in pending {
        if !is_ours(engine, &entry) || !is_recoverable(engine, &entry) {
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
        if entry.operation() == Some(JournalOp::CreateLink) {
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
                engine.plm().system().to_string()
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
    if !creates.is_empty() {
        work.extend(recover_creates(engine, store, run, creates).await?);
    }
    store.enqueue(&work).await?;
    Ok(())
}

/// Whether a journal entry is this job's: entries of other jobs sharing this state are theirs
/// to recover.
fn is_ours(engine: &SyncEngine, entry: &crate::state::JournalEntry) -> bool {
    let plm_system = engine.plm().system();
    match entry.operation() {
        Some(JournalOp::CreateLink | JournalOp::UpdateLink) => entry.system == plm_system,
        Some(JournalOp::WriteAsset) | None => entry
            .payload
            .get("plm_system")
            .and_then(|v| v.as_str())
            .is_none_or(|p| p.is_empty() || p == plm_system),
    }
}

/// Creations: looks every pending link id up at once (the connector batches the lookup), then
/// the part revision of each one not found (its own records, authoritative where a search may
/// lag), adopts what the PLM has, abandons the rest; returns the clips to plan again (the re-plan
/// creates what was abandoned).
async fn recover_creates(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    creates: Vec<(i64, CreateIntent)>,
) -> Result<Vec<WorkItem>, EngineError> {
    let ids: Vec<_> = creates
        .iter()
        .map(|(_, i)| i.link.link_id.clone())
        .collect();
    let found = engine.plm().find_links(&ids).await?;
    let mut work = Vec::with_capacity(creates.len());
    for (journal, intent) in creates {
        let part = store
            .part(
                &intent.link.plm_system,
                &intent.link.part_number,
                &intent.link.part_revision,
            )
            .await?;
        let mut remote = found
            .iter()
            .find(|r| r.link_id == intent.link.link_id)
            .cloned();
        if remote.is_none()
            && let Some(part) = &part
        {
            // A search may not show a fresh write yet (3DEXPERIENCE's index lags), and the
            // re-plan creates without looking: ask the part revision itself before abandoning.
            remote = engine
                .plm()
                .links_on_part(&part.remote_id)
                .await?
                .into_iter()
                .find(|r| r.link_id == intent.link.link_id);
        }
        match remote {
            Some(remote) => {
                if let Some(part) = &part {
                    engine
                        .plm()
                        .ensure_attached(&part_revision(part), &remote)
                        .await?;
                }
                let mut link = intent.link.clone();
                settle_remote(engine, &mut link, &remote);
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
    Ok(work)
}

/// An entry is this process's to recover when this process wrote it, when the process that
/// wrote it is known to be gone (killed or crashed on this machine, see
/// [`crate::state::owner::is_gone`]), or when its writer has been silent longer than a lease —
/// a live process closes its entries within seconds, so a pending entry that old belongs to a
/// dead one elsewhere. Entries of other live processes sharing the state are left alone: their
/// writes may be in flight.
pub(super) fn is_recoverable(engine: &SyncEngine, entry: &crate::state::JournalEntry) -> bool {
    let owner = journal_owner(entry);
    if owner.is_empty() || owner == engine.opts().owner || crate::state::owner::is_gone(owner) {
        return true;
    }
    let lease = chrono::Duration::from_std(engine.opts().lease).unwrap_or_default();
    Utc::now() - entry.created_at > lease
}

/// The process that journaled an entry ("" in entries from before owners were recorded).
pub(super) fn journal_owner(entry: &crate::state::JournalEntry) -> &str {
    entry
        .payload
        .get("owner")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}
