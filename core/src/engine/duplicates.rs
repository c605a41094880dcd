//! Duplicate link records: several PLM records carrying one link id — made by hand (a copied
//! document), or by an older partreel whose processes shared a state under one identity. The
//! link-records feed reports a record other than the one the state knows
//! ([`Observed::OtherRecord`](crate::state::Observed)); every record with that link id is then
//! read at once, the oldest is kept, every other one is retired — never deleted — and each is
//! reported. When the kept record is not the one the state knew, the state follows it and the
//! clip is planned again.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::report::Duplicate;
use super::{EngineError, RunState, SyncEngine, count_write};
use crate::mapping::Entity;
use crate::model::{CanonicalValues, LinkId, LinkStatus, RemoteLink, canonical};
use crate::state::{StateStore, WorkItem};
use crate::telemetry;

/// Finds every record of each link id, keeps the oldest and retires the others.
pub(super) async fn settle(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    mut ids: Vec<LinkId>,
) -> Result<(), EngineError> {
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let mut by_id: BTreeMap<LinkId, Vec<RemoteLink>> = BTreeMap::new();
    for r in engine.plm().find_links(&ids).await? {
        by_id.entry(r.link_id.clone()).or_default().push(r);
    }
    for (id, mut records) in by_id {
        let Some(link) = store.link(&id).await? else {
            continue;
        };
        let known = link.remote_id.clone().unwrap_or_default();
        records.sort_by_key(|r| oldest_first(r, &known));
        records.dedup_by(|a, b| a.remote_id == b.remote_id);
        let Some((kept, others)) = records.split_first() else {
            continue;
        };
        for dup in others {
            if status_of(engine, dup).as_deref() == Some(LinkStatus::Retired.as_str()) {
                continue;
            }
            let outcome = retire(engine, run, dup).await?;
            tracing::warn!(
                system = engine.plm().system(),
                link = %id,
                kept = %kept.remote_id,
                duplicate = %dup.remote_id,
                outcome = %outcome,
                "duplicate link record: the oldest is kept, this one retired"
            );
            run.report.lock().await.duplicates.push(Duplicate {
                system: engine.plm().system().to_string(),
                link_id: id.to_string(),
                kept: kept.remote_id.clone(),
                retired: dup.remote_id.clone(),
                outcome,
            });
        }
        if kept.remote_id != known && !engine.opts().dry_run {
            // The state follows the record kept; planning the clip again brings it in line.
            let mut l = link.clone();
            l.remote_id = Some(kept.remote_id.clone());
            if let Some(p) = &kept.part_remote_id {
                l.part_remote_id = p.clone();
            }
            l.plm_modified = Some(kept.modified);
            if let Ok(values) = engine.maps().plm.to_canonical(Entity::Link, &kept.fields) {
                l.plm_values = values;
            }
            store.upsert_link(&l).await?;
            store
                .enqueue(&[WorkItem {
                    plm_system: l.plm_system.clone(),
                    dam_system: l.dam_system.clone(),
                    asset_id: l.asset_id.clone(),
                }])
                .await?;
        }
    }
    Ok(())
}

/// Sort key, oldest first: the creation time where the PLM gives it; then the record the
/// state knows (the one partreel made and has been syncing); then the PLM id.
fn oldest_first(r: &RemoteLink, known: &str) -> (DateTime<Utc>, bool, String) {
    (
        r.created.unwrap_or(DateTime::<Utc>::MAX_UTC),
        r.remote_id != known,
        r.remote_id.clone(),
    )
}

/// The record's link status, as the mapping reads it.
fn status_of(engine: &SyncEngine, r: &RemoteLink) -> Option<String> {
    engine
        .maps()
        .plm
        .to_canonical(Entity::Link, &r.fields)
        .ok()?
        .get(canonical::LINK_STATUS)
        .cloned()
}

/// Retires one duplicate record; returns what became of it for the report. A failure of the
/// record alone is reported (the next run that sees the record tries again); a failure of
/// the system ends the run.
async fn retire(
    engine: &SyncEngine,
    run: &Arc<RunState>,
    dup: &RemoteLink,
) -> Result<String, EngineError> {
    if engine.opts().dry_run {
        return Ok("would be retired (dry run)".into());
    }
    let mut changes = CanonicalValues::new();
    changes.insert(
        canonical::LINK_STATUS.into(),
        LinkStatus::Retired.as_str().into(),
    );
    let fields = match engine.maps().plm.to_remote(Entity::Link, &changes) {
        Ok(f) if !f.is_empty() => f,
        _ => {
            return Ok(format!(
                "left active: the mapping writes no {} on link records",
                canonical::LINK_STATUS
            ));
        }
    };
    let system = engine.plm().system();
    match engine.plm().update_link(dup, &fields).await {
        Ok(_) => {
            telemetry::operation("retire_duplicate", system, true);
            count_write(engine, run);
            run.report.lock().await.links_retired += 1;
            Ok("retired".into())
        }
        Err(e) if e.is_record_error() => {
            telemetry::operation("retire_duplicate", system, false);
            Ok(format!("not retired: {e}"))
        }
        Err(e) => {
            telemetry::operation("retire_duplicate", system, false);
            Err(e.into())
        }
    }
}
