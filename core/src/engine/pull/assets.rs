//! The DAM's clip feed, and the full listing that finds clips deleted in the DAM.

use crate::engine::*;

impl SyncEngine {
    /// Converts a pulled clip into its stored form, keeping what partreel learned itself.
    pub(crate) fn asset_record(
        &self,
        v: &VideoExperiment,
        stored: Option<&AssetRecord>,
    ) -> Result<AssetRecord, String> {
        let mut values = self
            .maps
            .dam
            .to_canonical(Entity::Asset, &v.fields)
            .map_err(|errs| join_errors(&errs))?;
        // The clip's title is read by every DAM connector itself; it is the canonical `title`
        // unless the mapping takes it from a property of its own.
        if !v.title.is_empty() {
            values
                .entry(canonical::TITLE.to_string())
                .or_insert_with(|| v.title.clone());
        }
        let mut watermark = stored.map(|s| s.watermark.clone()).unwrap_or_default();
        watermark.visible_field = values
            .get(canonical::VISIBLE_WATERMARK)
            .and_then(|s| s.parse::<bool>().ok());
        Ok(AssetRecord {
            system: v.system.clone(),
            asset_id: v.asset_id.clone(),
            title: v.title.clone(),
            modified: v.modified,
            version: v.version.clone(),
            archived: v.archived,
            deleted: false,
            rendition_url: v.rendition_url.clone(),
            values,
            watermark,
        })
    }

    /// Pulls the clip feed; returns the id of the full listing when this run did one.
    pub(crate) async fn pull_assets(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<Option<String>, EngineError> {
        let system = self.dam.system().to_string();
        let cursor = store.cursor(&system, streams::ASSETS).await?;
        let last_scan = store.cursor(&system, streams::FULL_SCAN).await?;
        let scan_due = self.opts.full_scan
            || match (last_scan, self.opts.full_scan_interval) {
                (None, _) => cursor.is_none(),
                (Some(t), Some(every)) => {
                    Utc::now() - t > chrono::Duration::from_std(every).unwrap_or_default()
                }
                (Some(_), None) => false,
            };
        let scan_id = scan_due.then(|| run.run_id.clone());
        let start = if scan_due { None } else { cursor };
        let dam = self.dam.clone();
        let scan_ref = scan_id.clone();
        let (end, count) = pull::read_feed(
            self.feed_cursor(start),
            self.opts.page_size,
            |v: &VideoExperiment| v.modified,
            |q| {
                let dam = dam.clone();
                async move { dam.changed_assets(&q).await }
            },
            |page: Page<VideoExperiment>| {
                let scan = scan_ref.clone();
                async move {
                    let n = page.items.len();
                    self.store_assets(store, run, page, scan.as_deref()).await?;
                    self.page_done(self.dam.system(), streams::ASSETS, n);
                    self.feed_goes_on(run)
                }
            },
            |at| {
                let (store, system) = (store.clone(), system.clone());
                // A full listing restarts from the beginning; never move the cursor back.
                let keep = cursor;
                async move {
                    let at = keep.map_or(at, |k| k.max(at));
                    Ok(store.set_cursor(&system, streams::ASSETS, at).await?)
                }
            },
        )
        .await
        .map_err(|e| e.in_feed(&system, streams::ASSETS))?;
        if let Some(end) = end {
            let end = cursor.map_or(end, |c| c.max(end));
            store.set_cursor(&system, streams::ASSETS, end).await?;
        }
        run.report
            .lock()
            .await
            .pulled
            .insert(format!("{system}/{}", streams::ASSETS), count);
        Ok(scan_id)
    }

    pub(crate) async fn store_assets(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        page: Page<VideoExperiment>,
        scan: Option<&str>,
    ) -> Result<(), EngineError> {
        let system = self.dam.system();
        self.quarantine_rejected(store, run, system, RecordKind::Asset, &page.rejected)
            .await?;
        let mut records = Vec::with_capacity(page.items.len());
        let stored_all = read_ahead(&page.items, self.opts.concurrency, |v| {
            store.asset(system, &v.asset_id)
        })
        .await?;
        for (v, stored) in page.items.iter().zip(stored_all) {
            match self.asset_record(v, stored.as_ref()) {
                // An echo of what is stored. Modified times are whole seconds and metadata
                // edits need not bump the version, so an edit made in the same second as the
                // last read has the same (modified, version): compare the content as well, or
                // that edit is lost.
                Ok(r)
                    if stored.as_ref().is_some_and(|s| {
                        s.modified == v.modified
                            && s.version == v.version
                            && !s.deleted
                            && s.values == r.values
                            && s.title == r.title
                            && s.archived == r.archived
                            && s.rendition_url == r.rendition_url
                    }) => {}
                Ok(r) => records.push(r),
                Err(reason) => {
                    self.quarantine(store, run, system, &v.asset_id, RecordKind::Asset, &reason)
                        .await?;
                }
            }
        }
        store.upsert_assets(&records, &self.peers()).await?;
        if let Some(scan) = scan {
            let ids: Vec<String> = page.items.iter().map(|v| v.asset_id.clone()).collect();
            store.mark_seen(system, &ids, scan).await?;
        }
        Ok(())
    }

    /// After a full listing: clips with live links that the listing did not show are read one
    /// by one; those that are gone are marked deleted and their links retired.
    pub(crate) async fn find_deleted(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        scan: &str,
    ) -> Result<(), EngineError> {
        let system = self.dam.system().to_string();
        let mut after: Option<String> = None;
        loop {
            let ids = store
                .unseen_linked_assets(&system, scan, after.as_deref(), 200)
                .await?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            for id in ids {
                if self.halt(run).is_some() {
                    // The full-scan cursor stays: the next listing looks again.
                    return Ok(());
                }
                let stored = store.asset(&system, &id).await?;
                match self.dam.get_asset(&id).await? {
                    None => {
                        if let Some(mut rec) = stored {
                            tracing::info!(asset = %id, "clip deleted in the DAM; retiring its links");
                            rec.deleted = true;
                            store.upsert_assets(&[rec], &self.peers()).await?;
                        }
                    }
                    Some(v) => match self.asset_record(&v, stored.as_ref()) {
                        Ok(rec) => store.upsert_assets(&[rec], &self.peers()).await?,
                        Err(reason) => {
                            self.quarantine(store, run, &system, &id, RecordKind::Asset, &reason)
                                .await?
                        }
                    },
                }
                store
                    .mark_seen(&system, std::slice::from_ref(&id), scan)
                    .await?;
            }
            after = Some(last);
        }
        store
            .set_cursor(&system, streams::FULL_SCAN, Utc::now())
            .await?;
        Ok(())
    }
}
