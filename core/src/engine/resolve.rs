//! Resolving a queued clip to the part revisions it is about (part number and revision, part
//! number alone → latest revision, SKU → latest revision of each part with it), looking up
//! unknown part numbers in the PLM in batches.

use super::*;

/// What a clip resolves to.
pub(crate) enum Resolution {
    /// Link to these.
    Targets(Vec<plan::Target>),
    /// The clip names nothing.
    Untagged,
    /// The clip names a part the PLM does not have.
    Unresolved(String),
    /// The clip names a part outside this job's scope (another job's PLM).
    OutOfScope,
}

impl SyncEngine {
    /// Looks up, in one batch, the part numbers queued clips name that the state does not
    /// know yet.
    pub(crate) async fn prefetch_parts(
        &self,
        store: &Arc<dyn StateStore>,
        items: &[WorkItem],
    ) -> Result<(), EngineError> {
        let plm = self.plm.system();
        let mut missing: BTreeSet<String> = BTreeSet::new();
        for w in items {
            let Some(a) = store.asset(&w.dam_system, &w.asset_id).await? else {
                continue;
            };
            let Some(number) = a
                .values
                .get(canonical::PART_NUMBER)
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            if !self.opts.scope.admits(Some(number), None) {
                continue;
            }
            let known = match a
                .values
                .get(canonical::PART_REVISION)
                .filter(|s| !s.is_empty())
            {
                Some(rev) => store.part(plm, number, rev).await?.is_some(),
                None => !store.parts_by_number(plm, number).await?.is_empty(),
            };
            if !known {
                missing.insert(number.clone());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let numbers: Vec<String> = missing.into_iter().collect();
        let found = self.plm.parts_by_number(&numbers).await?;
        let now = Utc::now();
        let mut records = Vec::new();
        for p in &found {
            let first_seen = store
                .part(plm, &p.number, &p.revision)
                .await?
                .map_or(now, |s| s.first_seen);
            if let Ok(r) = self.part_record(p, first_seen) {
                records.push(r);
            }
        }
        store.upsert_parts(&records).await?;
        Ok(())
    }

    /// The part revisions a clip should be linked to, or why it cannot be resolved.
    pub(crate) async fn resolve(
        &self,
        store: &Arc<dyn StateStore>,
        asset: &AssetRecord,
    ) -> Result<Resolution, EngineError> {
        if asset.archived || asset.deleted {
            return Ok(Resolution::Targets(Vec::new()));
        }
        let value = |f: &str| asset.values.get(f).filter(|s| !s.is_empty()).cloned();
        if !self.opts.scope.admits(
            value(canonical::PART_NUMBER).as_deref(),
            value(canonical::SKU).as_deref(),
        ) {
            return Ok(Resolution::OutOfScope);
        }
        let tagged = match self.tagged_parts(store, &value).await? {
            Ok(parts) => parts,
            Err(unresolved) => return Ok(unresolved),
        };
        let mut targets: Vec<plan::Target> = tagged
            .iter()
            .map(|p| plan::Target {
                part: p.clone(),
                origin: LinkOrigin::Tagged,
            })
            .collect();
        if self.opts.carry_forward {
            targets.extend(self.carried(store, asset, &tagged).await?);
        }
        Ok(Resolution::Targets(targets))
    }

    /// The part revisions a clip's tags name: the exact revision, else the latest revision of
    /// the part number, else the latest revision of each part with the SKU. `Err` is the
    /// resolution when none is found (or the clip has no tag).
    async fn tagged_parts(
        &self,
        store: &Arc<dyn StateStore>,
        value: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Result<Vec<PartRecord>, Resolution>, EngineError> {
        let plm = self.plm.system();
        let unresolved = |why: String| Ok(Err(Resolution::Unresolved(why)));
        match (
            value(canonical::PART_NUMBER),
            value(canonical::PART_REVISION),
        ) {
            (Some(number), Some(rev)) => match store.part(plm, &number, &rev).await? {
                Some(p) => Ok(Ok(vec![p])),
                None => unresolved(format!("part {number} revision {rev} not found in {plm}")),
            },
            (Some(number), None) => match latest(store.parts_by_number(plm, &number).await?) {
                Some(p) => Ok(Ok(vec![p])),
                None => unresolved(format!("part {number} not found in {plm}")),
            },
            (None, _) => {
                let Some(sku) = value(canonical::SKU) else {
                    return Ok(Err(Resolution::Untagged));
                };
                let mut by_number: BTreeMap<String, Vec<PartRecord>> = BTreeMap::new();
                for p in store.parts_by_sku(plm, &sku).await? {
                    by_number.entry(p.number.clone()).or_default().push(p);
                }
                let parts: Vec<PartRecord> = by_number.into_values().filter_map(latest).collect();
                if parts.is_empty() {
                    return unresolved(format!("no part with SKU {sku} in {plm}"));
                }
                Ok(Ok(parts))
            }
        }
    }

    /// Carry-forward: the revisions newer than a tagged one that appeared after the clip was
    /// linked to it.
    async fn carried(
        &self,
        store: &Arc<dyn StateStore>,
        asset: &AssetRecord,
        tagged: &[PartRecord],
    ) -> Result<Vec<plan::Target>, EngineError> {
        let existing = store
            .links_for_asset(&asset.system, &asset.asset_id)
            .await?;
        let mut carried = Vec::new();
        for p in tagged {
            let Some(link) = existing
                .iter()
                .find(|l| l.part_number == p.number && l.part_revision == p.revision)
            else {
                continue;
            };
            for newer in store.parts_by_number(self.plm.system(), &p.number).await? {
                if plan::revision_order(&newer.revision, &p.revision).is_gt()
                    && newer.first_seen > link.created_at
                {
                    carried.push(plan::Target {
                        part: newer,
                        origin: LinkOrigin::Carried,
                    });
                }
            }
        }
        Ok(carried)
    }
}

/// The latest revision among revisions of one part number.
fn latest(parts: Vec<PartRecord>) -> Option<PartRecord> {
    parts
        .into_iter()
        .max_by(|a, b| plan::revision_order(&a.revision, &b.revision))
}
