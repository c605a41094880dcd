//! Link writes: creations and updates journaled first, then sent one by one (concurrently) or
//! in the PLM's batches; each outcome stored.

use super::*;

/// A link write ready to send (journaled, fields converted): a creation or an update. The
/// PLM takes them one by one (concurrently) or in batches, per [`dispatch`].
#[async_trait::async_trait]
pub(super) trait PreparedWrite: Send + Sync + Sized {
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
pub(super) async fn dispatch<P: PreparedWrite>(
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
pub(super) async fn defer(store: &Arc<dyn StateStore>, journal: i64) -> Result<(), EngineError> {
    close_journal(store, journal, JournalState::Abandoned).await?;
    Err(EngineError::Stopping)
}

/// A link creation ready to send: journaled, fields converted.
pub(super) struct PreparedCreate {
    clip: usize,
    journal: i64,
    link: LinkRecord,
    new: NewLink,
}

/// Creates links, journaling each first; one result per clip index.
pub(super) async fn create_links(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    clips: &[Planned],
    ops: Vec<(usize, Op)>,
) -> Vec<(usize, Result<(), EngineError>)> {
    let mut results = Vec::new();
    let mut prepared = Vec::new();
    for (i, op) in ops {
        if engine.halt(run).is_some() {
            results.push((i, Err(EngineError::Stopping)));
            continue;
        }
        match prepare_create(engine, store, run, &clips[i], i, op).await {
            Ok(Some(p)) => prepared.push(p),
            Ok(None) => {}
            Err(e) => results.push((i, Err(e))),
        }
    }
    if let Err(e) = mark_prior_attempts(engine, store, run, &mut prepared).await {
        // Without the journal's answer every creation counts as possibly done before.
        tracing::warn!(error = %e, "journal not readable; looking up every link before creating it");
        for p in &mut prepared {
            p.new.prior_attempt = true;
        }
    }
    results.extend(dispatch(engine, store, run, prepared).await);
    results
}

/// Marks the creations another run already journaled and did not settle (its process killed
/// mid-write beside this one, or an answer lost): the connector looks for those before
/// creating, so a batch never duplicates what that attempt may have made.
async fn mark_prior_attempts(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    prepared: &mut [PreparedCreate],
) -> Result<(), EngineError> {
    if prepared.is_empty() {
        return Ok(());
    }
    let system = engine.plm().system();
    let earlier: std::collections::HashSet<String> = store
        .journal_pending()
        .await?
        .into_iter()
        .filter(|e| {
            e.run_id != run.run_id && e.system == system && e.op == JournalOp::CreateLink.as_str()
        })
        .map(|e| e.key)
        .collect();
    for p in prepared.iter_mut() {
        p.new.prior_attempt = earlier.contains(p.new.link_id.as_str());
    }
    Ok(())
}

/// One link creation made ready to send: its fields mapped, the clip's lease held and the
/// intent journaled (so a crash after the remote write is recovered, never duplicated).
async fn prepare_create(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    clip: &Planned,
    i: usize,
    op: Op,
) -> Result<Option<PreparedCreate>, EngineError> {
    let Op::CreateLink {
        link_id,
        part,
        origin,
        status,
        values,
        base,
    } = op
    else {
        return Ok(None);
    };
    let plm_system = engine.plm().system().to_string();
    let asset = &clip.asset;
    let fields = to_remote(engine, Entity::Link, &values)?;
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
    engine.hold_lease(store, &clip.item).await?;
    let payload = serde_json::to_value(CreateIntent {
        owner: engine.opts().owner.clone(),
        link: link.clone(),
        fields: fields.clone(),
    })
    .unwrap_or_default();
    let journal = store
        .journal_begin(
            &run.run_id,
            JournalOp::CreateLink.as_str(),
            &plm_system,
            link_id.as_str(),
            &payload,
        )
        .await?;
    Ok(Some(PreparedCreate {
        clip: i,
        journal,
        link,
        new: NewLink {
            part: part_revision(&part),
            link_id,
            fields,
            prior_attempt: false,
        },
    }))
}

/// Stores the outcome of one link creation.
pub(super) async fn finish_create(
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
            telemetry::operation(JournalOp::CreateLink.as_str(), system, false);
            close_journal(store, p.journal, failed_state(&e)).await?;
            return Err(e.into());
        }
    };
    telemetry::operation(JournalOp::CreateLink.as_str(), system, true);
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
        plm.create_new(&self.new).await
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
pub(super) struct PreparedUpdate {
    clip: usize,
    journal: i64,
    link: LinkRecord,
    status: LinkStatus,
    changes: CanonicalValues,
    base: CanonicalValues,
    update: LinkUpdate,
}

/// Updates links, journaling each first; one result per clip index.
pub(super) async fn update_links(
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
                JournalOp::UpdateLink.as_str(),
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
pub(super) async fn finish_update(
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
        JournalOp::UpdateLink.as_str()
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

/// A write that failed for the record's own reasons is closed as failed; anything else stays
/// pending so recovery looks at it.
pub(super) fn failed_state(e: &ConnectorError) -> JournalState {
    if e.is_record_error() {
        JournalState::Failed
    } else {
        JournalState::Pending
    }
}
