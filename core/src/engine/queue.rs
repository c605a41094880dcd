//! The durable work queue: drained in leased batches; a stop request or the run's deadline
//! stops it between two clips; the work of processes that are gone is taken over.

use super::*;

impl SyncEngine {
    /// Whether the run must stop at its next safe point — between two clips' writes, or
    /// between batches — and why.
    pub(crate) fn halt(&self, run: &RunState) -> Option<Halt> {
        if self.opts.stop.is_stopping() {
            return Some(Halt::Stop);
        }
        match self.opts.deadline {
            Some(limit) if run.started.elapsed() >= limit => Some(Halt::Deadline),
            _ => None,
        }
    }

    /// After a page of a feed: Ok to read on, [`EngineError::Stopping`] to end the feed there.
    pub(crate) fn feed_goes_on(&self, run: &RunState) -> Result<(), EngineError> {
        match self.halt(run) {
            Some(_) => Err(EngineError::Stopping),
            None => Ok(()),
        }
    }

    /// Plans and applies every queued clip.
    pub(crate) async fn drain(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        // Items this run handled, by a 64-bit hash (8 bytes each: a million-clip run keeps
        // about 10 MB here, not the items themselves). Two items sharing a hash would make
        // the second wait for the next run, nothing worse.
        let mut seen_in_run: std::collections::HashSet<u64> = std::collections::HashSet::new();
        self.take_over_gone(store, run).await?;
        if self.opts.progress.is_some() {
            let queued = store
                .work_len_for(self.plm.system(), self.dam.system())
                .await?;
            let estimate = super::estimate::for_writes(
                self.plm.as_ref(),
                self.dam.as_ref(),
                queued,
                0,
                queued,
                queued,
            );
            self.progress(ProgressEvent::Queue { queued, estimate });
        }
        loop {
            if self.stops_here(run).await {
                break;
            }
            let items = store
                .lease_work(
                    &self.opts.owner,
                    self.plm.system(),
                    self.dam.system(),
                    self.opts.work_batch,
                    self.opts.lease.as_secs(),
                )
                .await?;
            // Items this run already handled and that came back (re-queued by a concurrent
            // feed) wait for the next run, so a run always ends.
            let items: Vec<WorkItem> = items
                .into_iter()
                .filter(|w| !seen_in_run.contains(&item_key(w)))
                .collect();
            if items.is_empty() {
                // What is left is leased by other processes; one that died meanwhile leaves
                // its clips to this run.
                if self.take_over_gone(store, run).await? > 0 {
                    continue;
                }
                break;
            }
            seen_in_run.extend(items.iter().map(item_key));
            self.prefetch_parts(store, &items).await?;
            apply::batch(self, store, run, items).await?;
            if self.opts.progress.is_some() {
                let r = run.report.lock().await;
                self.progress(ProgressEvent::Batch {
                    clips: seen_in_run.len() as u64,
                    planned: r.clips_planned,
                    writes: r.writes(),
                });
            }
        }
        self.requeue_conflicts(store, run).await?;
        self.report_others(store, run).await
    }

    /// Whether a stop request or the run's deadline ends the drain here (said in the log and
    /// the report; the rest of the queue waits for the next run).
    async fn stops_here(&self, run: &Arc<RunState>) -> bool {
        match self.halt(run) {
            Some(Halt::Stop) => {
                tracing::info!("stop requested: the rest of the queue waits for the next run");
                run.report.lock().await.stopped_early = true;
                true
            }
            Some(Halt::Deadline) => {
                tracing::warn!(
                    deadline_secs = self.opts.deadline.map_or(0, |d| d.as_secs()),
                    "the run reached its deadline (sync.run_deadline_secs): the rest of the queue waits for the next run"
                );
                let mut r = run.report.lock().await;
                r.stopped_early = true;
                r.deadline_reached = true;
                true
            }
            None => false,
        }
    }

    /// A conflict stays until someone settles it: its clip is queued again (after this run's
    /// drain, so it cannot hold the queue up) so the next run plans it again and reports the
    /// conflict again, still writing nothing.
    async fn requeue_conflicts(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        let conflicted: Vec<WorkItem> = run
            .report
            .lock()
            .await
            .conflicts
            .iter()
            .filter(|c| c.kind == report::ConflictKind::ThreeWay)
            .map(|c| WorkItem {
                plm_system: self.plm.system().to_string(),
                dam_system: self.dam.system().to_string(),
                asset_id: c.asset_id.clone(),
            })
            .collect();
        store.enqueue(&conflicted).await?;
        Ok(())
    }

    /// Says (log and report) how many of this job's clips other processes sharing the state
    /// hold leases on.
    async fn report_others(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        let others = self.other_holders(store).await?;
        let held: u64 = others.iter().map(|(_, n)| n).sum();
        if held > 0 {
            let owners: Vec<&str> = others.iter().map(|(o, _)| o.as_str()).collect();
            tracing::info!(
                clips = held,
                processes = ?owners,
                "other partreel processes sharing this state are working on clips of this job: left to them"
            );
            run.report.lock().await.left_to_others = held;
        }
        Ok(())
    }

    /// Other processes holding leases on this job's queue.
    pub(crate) async fn other_holders(
        &self,
        store: &Arc<dyn StateStore>,
    ) -> Result<Vec<(String, u64)>, EngineError> {
        let mut holders = store
            .lease_holders(self.plm.system(), self.dam.system())
            .await?;
        holders.retain(|(owner, _)| *owner != self.opts.owner);
        Ok(holders)
    }

    /// Takes over the work of processes known to be gone (killed, crashed): frees their leases,
    /// so their clips are planned now rather than when the leases run out, and finishes or
    /// abandons the writes they journaled. Returns how many clips were freed.
    pub(crate) async fn take_over_gone(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<u64, EngineError> {
        let mut total = 0;
        for (owner, clips) in self.other_holders(store).await? {
            if crate::state::owner::is_gone(&owner) {
                let freed = store.release_leases(&owner).await?;
                tracing::info!(
                    process = %owner,
                    clips,
                    freed,
                    "freed the leases of a partreel process that is gone"
                );
                total += freed;
            }
        }
        if total > 0 && !self.opts.dry_run {
            apply::recover(self, store, run).await?;
        }
        Ok(total)
    }

    /// Checks, right before a remote write, that this process still holds the lease on the
    /// clip the write is for, and extends it: a lease that ran out may have passed to another
    /// process, which then makes the write itself.
    pub(crate) async fn hold_lease(
        &self,
        store: &Arc<dyn StateStore>,
        item: &WorkItem,
    ) -> Result<(), EngineError> {
        if store
            .renew_lease(&self.opts.owner, item, self.opts.lease.as_secs())
            .await?
        {
            Ok(())
        } else {
            tracing::warn!(asset = %item.asset_id, "this process's lease on the clip ran out and another process took it: its writes are left to that process");
            Err(EngineError::LeaseLost(format!(
                "{}/{}",
                item.dam_system, item.asset_id
            )))
        }
    }
}

/// A work item's key in a run's set of handled items (`DefaultHasher::new()` has fixed keys:
/// the same item always hashes the same).
fn item_key(w: &WorkItem) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    w.hash(&mut h);
    h.finish()
}
