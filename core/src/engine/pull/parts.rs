//! The PLM's part feed: each page of part revisions stored, and the clips linked to a changed
//! part (or, with `carry_forward`, to an earlier revision of a new one) queued.

use crate::engine::*;

impl SyncEngine {
    /// Converts a pulled part into its stored form.
    pub(crate) fn part_record(
        &self,
        p: &PartRevision,
        first_seen: DateTime<Utc>,
    ) -> Result<PartRecord, String> {
        let values = self
            .maps
            .plm
            .to_canonical(Entity::Part, &p.fields)
            .map_err(|errs| join_errors(&errs))?;
        Ok(PartRecord {
            system: p.system.clone(),
            number: p.number.clone(),
            revision: p.revision.clone(),
            remote_id: p.remote_id.clone(),
            name: p.name.clone(),
            // The mapped value (one vocabulary across PLMs: 3DEXPERIENCE's `IN_WORK` reads as
            // Windchill's and Teamcenter's `In Work`), else the PLM's own.
            lifecycle_state: values
                .get(canonical::LIFECYCLE_STATE)
                .filter(|s| !s.is_empty())
                .cloned()
                .or_else(|| p.lifecycle_state.clone()),
            sku: values
                .get(canonical::SKU)
                .cloned()
                .filter(|s| !s.is_empty()),
            modified: p.modified,
            values,
            first_seen,
        })
    }

    pub(crate) async fn pull_parts(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        let system = self.plm.system().to_string();
        let start = store.cursor(&system, streams::PARTS).await?;
        let plm = self.plm.clone();
        let (end, count) = pull::read_feed(
            self.feed_cursor(start),
            self.opts.page_size,
            |p: &PartRevision| p.modified,
            |q| {
                let plm = plm.clone();
                async move { plm.changed_parts(&q).await }
            },
            |page: Page<PartRevision>| async move {
                let n = page.items.len();
                self.store_parts(store, run, page).await?;
                self.page_done(self.plm.system(), streams::PARTS, n);
                self.feed_goes_on(run)
            },
            |at| {
                let (store, system) = (store.clone(), system.clone());
                async move { Ok(store.set_cursor(&system, streams::PARTS, at).await?) }
            },
        )
        .await
        .map_err(|e| e.in_feed(&system, streams::PARTS))?;
        if let Some(end) = end {
            store.set_cursor(&system, streams::PARTS, end).await?;
        }
        run.report
            .lock()
            .await
            .pulled
            .insert(format!("{system}/{}", streams::PARTS), count);
        Ok(())
    }

    pub(crate) async fn store_parts(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        page: Page<PartRevision>,
    ) -> Result<(), EngineError> {
        let system = self.plm.system();
        self.quarantine_rejected(store, run, system, RecordKind::Part, &page.rejected)
            .await?;
        let now = Utc::now();
        let mut records = Vec::with_capacity(page.items.len());
        let mut affected: BTreeSet<(String, Option<String>)> = BTreeSet::new();
        let stored_all = read_ahead(&page.items, self.opts.concurrency, |p| {
            store.part(system, &p.number, &p.revision)
        })
        .await?;
        for (p, stored) in page.items.iter().zip(stored_all) {
            let first_seen = stored.as_ref().map_or(now, |s| s.first_seen);
            let rec = match self.part_record(p, first_seen) {
                Ok(r) => r,
                Err(reason) => {
                    let id = format!("{}/{}", p.number, p.revision);
                    self.quarantine(store, run, system, &id, RecordKind::Part, &reason)
                        .await?;
                    continue;
                }
            };
            // An echo of what is stored: same time *and* same content (an edit in the same
            // second as the last read keeps the time, so the content decides).
            if stored.as_ref().is_some_and(|s| *s == rec) {
                continue;
            }
            match &stored {
                Some(s)
                    if s.values != rec.values
                        || s.name != rec.name
                        || s.lifecycle_state != rec.lifecycle_state
                        || s.remote_id != rec.remote_id =>
                {
                    affected.insert((p.number.clone(), Some(p.revision.clone())));
                }
                Some(_) => {}
                // A new revision: clips linked to earlier revisions may carry forward.
                None if self.opts.carry_forward => {
                    affected.insert((p.number.clone(), None));
                }
                None => {}
            }
            records.push(rec);
        }
        store.upsert_parts(&records).await?;
        let mut work = Vec::new();
        for (number, revision) in affected {
            for l in store
                .links_for_part(system, &number, revision.as_deref())
                .await?
            {
                work.push(WorkItem {
                    plm_system: system.to_string(),
                    dam_system: l.dam_system,
                    asset_id: l.asset_id,
                });
            }
        }
        store.enqueue(&work).await?;
        Ok(())
    }
}
