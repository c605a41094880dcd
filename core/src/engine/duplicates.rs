//! Duplicate link records: several live PLM records for one link — made by hand (a copied
//! document), or by an older partreel whose processes shared a state under one identity.
//!
//! Two ways in. The link-records feed reports a record other than the one the state knows
//! for its link id ([`Observed::OtherRecord`](crate::state::Observed)): every record with that
//! link id is read at once ([`settle`]). Or the feed reports a record under a link id the state
//! does not know, naming a clip the state links to a part revision under its own id: the part
//! revisions involved are read from the part's side ([`settle_strangers`]), and every clip
//! with more than one live record on one part revision is settled. Either way the oldest
//! record is kept, every other one is retired — never deleted — and each is reported. When the
//! kept record is not the one the state knew, the state follows it and the clip is planned
//! again (which also writes the link's own id onto a kept record that carried another).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::report::Duplicate;
use super::{EngineError, RunState, SyncEngine, count_write};
use crate::mapping::Entity;
use crate::model::{CanonicalValues, LinkId, LinkStatus, RemoteLink, canonical};
use crate::state::{LinkRecord, StateStore, WorkItem};
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
    for (id, records) in by_id {
        let Some(link) = store.link(&id).await? else {
            continue;
        };
        settle_group(engine, store, run, &id, Some(&link), records).await?;
    }
    Ok(())
}

/// Link records under ids the state does not know (`strangers`, with their canonical
/// values): each one naming a clip of this job's DAM that the state links to a part revision
/// of this PLM has that part revision read from the part's side (one read per part revision,
/// whatever the number of strangers on it); every clip with several live records there is
/// settled. Strangers naming no such clip — a fresh state meeting links made before, a link
/// of another DAM — cost nothing.
pub(super) async fn settle_strangers(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    strangers: &[(&RemoteLink, CanonicalValues)],
) -> Result<(), EngineError> {
    let (plm, dam) = (engine.plm().system(), engine.dam().system());
    let mut parts = BTreeSet::new();
    for (record, values) in strangers {
        if is_retired(values) {
            continue;
        }
        let Some(asset) = clip_of(values, dam) else {
            continue;
        };
        for l in store.links_for_asset(dam, asset).await? {
            let same_part = record
                .part_remote_id
                .as_deref()
                .is_none_or(|p| p == l.part_remote_id);
            if l.plm_system == plm && same_part {
                parts.insert(l.part_remote_id);
            }
        }
    }
    for part in parts {
        let on_part = match engine.plm().links_on_part(&part).await {
            Ok(records) => records,
            // The part revision alone cannot be read (deleted since): the next run that meets
            // a stranger on it tries again.
            Err(e) if e.is_record_error() => {
                tracing::warn!(system = engine.plm().system(), part = %part, error = %e, "link records of a part revision not read; duplicates on it are left for a later run");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut by_clip: BTreeMap<String, Vec<RemoteLink>> = BTreeMap::new();
        for r in on_part {
            let Ok(values) = engine.maps().plm.to_canonical(Entity::Link, &r.fields) else {
                continue;
            };
            if is_retired(&values) {
                continue;
            }
            if let Some(asset) = clip_of(&values, dam) {
                by_clip.entry(asset.to_string()).or_default().push(r);
            }
        }
        for (asset, records) in by_clip {
            if records.len() < 2 {
                continue;
            }
            let link = store
                .links_for_asset(dam, &asset)
                .await?
                .into_iter()
                .find(|l| l.plm_system == plm && l.part_remote_id == part);
            let id = match &link {
                Some(l) => l.link_id.clone(),
                None => records[0].link_id.clone(),
            };
            settle_group(engine, store, run, &id, link.as_ref(), records).await?;
        }
    }
    Ok(())
}

/// The clip a link record names, when it is one of `dam`'s (a record naming no DAM system is
/// taken to be of the job's DAM).
fn clip_of<'a>(values: &'a CanonicalValues, dam: &str) -> Option<&'a str> {
    let asset = values.get(canonical::ASSET_ID).filter(|a| !a.is_empty())?;
    match values.get(canonical::ASSET_SYSTEM) {
        Some(s) if !s.is_empty() && s != dam => None,
        _ => Some(asset),
    }
}

fn is_retired(values: &CanonicalValues) -> bool {
    values.get(canonical::LINK_STATUS).map(String::as_str) == Some(LinkStatus::Retired.as_str())
}

/// Settles the records of one link (`id`; `link` is the state's record of it, when it has
/// one): the oldest is kept, every other live one retired and reported; the state follows
/// the record kept.
async fn settle_group(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    id: &LinkId,
    link: Option<&LinkRecord>,
    mut records: Vec<RemoteLink>,
) -> Result<(), EngineError> {
    let known = link.and_then(|l| l.remote_id.clone()).unwrap_or_default();
    records.sort_by_key(|r| oldest_first(r, &known));
    records.dedup_by(|a, b| a.remote_id == b.remote_id);
    let Some((kept, others)) = records.split_first() else {
        return Ok(());
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
            duplicate_link_id = %dup.link_id,
            outcome = %outcome,
            "duplicate link record: the oldest is kept, this one retired"
        );
        run.report.lock().await.duplicates.push(Duplicate {
            system: engine.plm().system().to_string(),
            link_id: id.to_string(),
            kept: kept.remote_id.clone(),
            retired: dup.remote_id.clone(),
            retired_link_id: (dup.link_id != *id).then(|| dup.link_id.to_string()),
            outcome,
        });
    }
    let Some(link) = link else {
        return Ok(());
    };
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
