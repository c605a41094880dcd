//! Planning each clip of a batch: resolved to its part revisions and planned against the
//! three-way base (the conflicts found reported in queue order); a dry run records the plan.

use super::*;

/// [`plan_one`] for a clip it keeps hold of.
pub(super) async fn plan_owned(
    engine: &SyncEngine,
    store: &Arc<dyn StateStore>,
    run: &Arc<RunState>,
    item: WorkItem,
    asset: AssetRecord,
) -> (WorkItem, AssetRecord, Result<ClipPlan, EngineError>) {
    let plan = plan_one(engine, store, run, &asset).await;
    (item, asset, plan)
}

/// One clip's operations and the conflicts found while planning them.
pub(super) struct ClipPlan {
    ops: Vec<Op>,
    conflicts: Vec<crate::engine::report::Conflict>,
}

impl ClipPlan {
    /// Adds the conflicts to the run's report; the operations are left to apply.
    pub(super) async fn ops_reporting(self, run: &Arc<RunState>) -> Vec<Op> {
        if !self.conflicts.is_empty() {
            run.report.lock().await.add_conflicts(self.conflicts);
        }
        self.ops
    }
}

/// Resolves and plans one clip.
pub(super) async fn plan_one(
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
            plan.conflicts.push(crate::engine::report::Conflict {
                kind: crate::engine::report::ConflictKind::Provenance,
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

pub(super) async fn record_planned(
    engine: &SyncEngine,
    run: &Arc<RunState>,
    asset: &AssetRecord,
    op: &Op,
) {
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
    report.add_planned(planned);
}
