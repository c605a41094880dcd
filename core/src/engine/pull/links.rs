//! The PLM's link-record feed: what the PLM holds for each link observed against the state;
//! records carrying one link id twice, and link records partreel does not know, settled.

use crate::engine::*;

impl SyncEngine {
    pub(crate) async fn pull_links(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        let system = self.plm.system().to_string();
        let start = store.cursor(&system, streams::LINKS).await?;
        let plm = self.plm.clone();
        let (end, count) = pull::read_feed(
            self.feed_cursor(start),
            self.opts.page_size,
            |l: &RemoteLink| l.modified,
            |q| {
                let plm = plm.clone();
                async move { plm.changed_links(&q).await }
            },
            |page: Page<RemoteLink>| async move {
                self.quarantine_rejected(
                    store,
                    run,
                    self.plm.system(),
                    RecordKind::Link,
                    &page.rejected,
                )
                .await?;
                let mut strangers = Vec::new();
                let mut duplicated = Vec::new();
                for l in &page.items {
                    let values = match self.maps.plm.to_canonical(Entity::Link, &l.fields) {
                        Ok(v) => v,
                        Err(errs) => {
                            let reason = join_errors(&errs);
                            self.quarantine(
                                store,
                                run,
                                self.plm.system(),
                                &l.remote_id,
                                RecordKind::Link,
                                &reason,
                            )
                            .await?;
                            continue;
                        }
                    };
                    match store
                        .observe_link(&l.link_id, &values, l.modified, &l.remote_id)
                        .await?
                    {
                        Observed::Unknown => strangers.push((l, values)),
                        Observed::Known => {}
                        Observed::OtherRecord(_) => duplicated.push(l.link_id.clone()),
                    }
                }
                run.report.lock().await.unknown_link_records += strangers.len() as u64;
                duplicates::settle(self, store, run, duplicated).await?;
                duplicates::settle_strangers(self, store, run, &strangers).await?;
                self.page_done(self.plm.system(), streams::LINKS, page.items.len());
                self.feed_goes_on(run)
            },
            |at| {
                let (store, system) = (store.clone(), system.clone());
                async move { Ok(store.set_cursor(&system, streams::LINKS, at).await?) }
            },
        )
        .await
        .map_err(|e| e.in_feed(&system, streams::LINKS))?;
        if let Some(end) = end {
            store.set_cursor(&system, streams::LINKS, end).await?;
        }
        run.report
            .lock()
            .await
            .pulled
            .insert(format!("{system}/{}", streams::LINKS), count);
        Ok(())
    }
}
