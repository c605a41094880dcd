//! Planning one clip: which links it should have, and what to write where.
//!
//! Pure: it reads the clip, the part revisions it resolves to, its existing links and the
//! mappings, and returns operations. No I/O, so every ownership rule is table-tested.
//!
//! Per canonical field `f` (see [`crate::mapping::MappingSet::owner`]):
//! - derived fields (link id, status, watermark flag, clip URL …) are computed here;
//! - `dam`: the link record takes the clip's value;
//! - `plm`: the clip takes the part's value (or the link record's, for a field only the link
//!   record holds), and so does the link record when it maps the field;
//! - `newest`: three-way against the base value agreed at the last sync — whichever side changed
//!   wins; both changed to different values is a [`Conflict`] and neither side is written.
//!
//! The clip's own metadata is written from its *tagged* link only (a carried-forward link on a
//! newer revision does not overwrite the clip's lifecycle state).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::report::Conflict;
use crate::mapping::{Entity, MappingSet, Owner};
use crate::model::{CanonicalValues, LinkId, LinkStatus, canonical};
use crate::state::{AssetRecord, LinkOrigin, LinkRecord, PartRecord};

/// A part revision the clip should be linked to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The part revision.
    pub part: PartRecord,
    /// Why.
    pub origin: LinkOrigin,
}

/// A remote write to make.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Create the link record on the part revision.
    CreateLink {
        /// Link id.
        link_id: LinkId,
        /// Part revision.
        part: PartRecord,
        /// Origin.
        origin: LinkOrigin,
        /// Status.
        status: LinkStatus,
        /// Canonical values of the link record.
        values: CanonicalValues,
        /// Base values to store once created.
        base: CanonicalValues,
    },
    /// Change fields (or the status) of an existing link record.
    UpdateLink {
        /// The link as stored.
        link: LinkRecord,
        /// New status.
        status: LinkStatus,
        /// Canonical fields to write ("" clears).
        changes: CanonicalValues,
        /// Base values to store once written.
        base: CanonicalValues,
    },
    /// Only the local record changes (base or status) — no remote write.
    Record {
        /// The link with its new base/status.
        link: LinkRecord,
    },
    /// Write metadata to the clip in the DAM.
    WriteAsset {
        /// Canonical fields to write ("" clears).
        changes: CanonicalValues,
    },
}

/// The plan of one clip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Writes: the clip's own metadata first, then its links.
    pub ops: Vec<Op>,
    /// Fields changed on both sides.
    pub conflicts: Vec<Conflict>,
}

/// Everything planning needs besides the mappings.
#[derive(Debug, Clone, Copy)]
pub struct PlanContext<'a> {
    /// DAM system name.
    pub dam: &'a str,
    /// PLM system name.
    pub plm: &'a str,
    /// Today (for rights expiry).
    pub today: NaiveDate,
}

fn get<'v>(v: &'v CanonicalValues, f: &str) -> Option<&'v str> {
    v.get(f).map(String::as_str).filter(|s| !s.is_empty())
}

/// Status of a live link from the clip's facts.
pub fn link_status(asset: &AssetRecord, today: NaiveDate) -> LinkStatus {
    if !asset.watermark.watermark_preserved() {
        return LinkStatus::NonCompliant;
    }
    let expired = get(&asset.values, canonical::RIGHTS_EXPIRY)
        .and_then(|d| NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d").ok())
        .is_some_and(|d| d < today);
    if expired {
        LinkStatus::RightsExpired
    } else {
        LinkStatus::Active
    }
}

/// Values partreel computes itself for a link.
fn derived(asset: &AssetRecord, link_id: &LinkId, status: LinkStatus) -> CanonicalValues {
    let mut v = clip_derived(asset);
    v.insert(canonical::LINK_ID.into(), link_id.to_string());
    v.insert(canonical::LINK_STATUS.into(), status.as_str().into());
    v
}

/// Values partreel computes for a clip itself (the same on every link of it).
pub fn clip_derived(asset: &AssetRecord) -> CanonicalValues {
    let mut v = CanonicalValues::new();
    let verdict = asset.watermark.verdict();
    v.insert(canonical::ASSET_ID.into(), asset.asset_id.clone());
    v.insert(canonical::ASSET_SYSTEM.into(), asset.system.clone());
    v.insert(
        canonical::WATERMARK_PRESERVED.into(),
        verdict.preserved.to_string(),
    );
    v.insert(canonical::PROVENANCE_REASON.into(), verdict.reason);
    let state = asset
        .watermark
        .evidence
        .as_ref()
        .map_or(asset.watermark.provenance, |e| e.provenance_state());
    v.insert(canonical::PROVENANCE_STATE.into(), state.as_str().into());
    if let Some(ev) = &asset.watermark.evidence {
        if let Some(g) = &ev.claim_generator {
            v.insert(canonical::CLAIM_GENERATOR.into(), g.clone());
        }
        v.insert(canonical::FILE_SHA256.into(), ev.sha256.clone());
    }
    if let Some(url) = &asset.rendition_url {
        v.insert(canonical::CLIP_URL.into(), url.clone());
    }
    v
}

/// Outcome of the three-way rule for one `newest` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreeWay {
    /// Both sides hold this value.
    Agreed(Option<String>),
    /// The DAM changed: write this to the PLM.
    ToPlm(Option<String>),
    /// The PLM changed: write this to the DAM.
    ToDam(Option<String>),
    /// Both changed differently.
    Conflict,
}

/// The three-way rule: `dam` and `plm` now, `base` at the last sync.
pub fn three_way(dam: Option<&str>, plm: Option<&str>, base: Option<&str>) -> ThreeWay {
    let own = |s: Option<&str>| s.map(str::to_string);
    if dam == plm {
        return ThreeWay::Agreed(own(dam));
    }
    match base {
        _ if plm == base => ThreeWay::ToPlm(own(dam)),
        _ if dam == base => ThreeWay::ToDam(own(plm)),
        // A link record not written yet has no PLM side.
        None if plm.is_none() => ThreeWay::ToPlm(own(dam)),
        None if dam.is_none() => ThreeWay::ToDam(own(plm)),
        _ => ThreeWay::Conflict,
    }
}

/// Plans one clip. `targets` are the part revisions it should be linked to (empty when the clip
/// is archived, deleted or untagged); `existing` are its links as stored.
///
/// By step: for each target, the link record's values ([`Planner::link_values`]), then its
/// create or update ([`Planner::link_op`]) and, from the tagged revision, what the clip takes
/// ([`Planner::clip_takes`]); then the retirements ([`Planner::retire`]); the clip's own write
/// goes first.
pub fn plan_clip(
    ctx: PlanContext<'_>,
    maps: &MappingSet,
    asset: &AssetRecord,
    targets: &[Target],
    existing: &[LinkRecord],
) -> Plan {
    let fields = Fields::of(maps);
    let mut p = Planner {
        maps,
        asset,
        fields: &fields,
        status: link_status(asset, ctx.today),
        plan: Plan::default(),
        dam_changes: CanonicalValues::new(),
    };
    for target in targets {
        let part = &target.part;
        let link_id = LinkId::new(
            ctx.dam,
            &asset.asset_id,
            ctx.plm,
            &part.number,
            &part.revision,
        );
        let stored = existing.iter().find(|l| l.link_id == link_id);
        let (desired, new_base) = p.link_values(target, &link_id, stored);
        let op = p.link_op(target, link_id, stored, desired, new_base);
        p.plan.ops.extend(op);
        if target.origin == LinkOrigin::Tagged {
            p.clip_takes(part, stored);
        }
    }
    let live = !(asset.archived || asset.deleted);
    p.retire(existing, targets, live);

    // The clip is written first: link bases record values the clip is about to take, so a
    // failed clip write must leave them unstored, or the next run would read the clip's old
    // value as a DAM-side change and write it over the PLM's.
    let mut plan = p.plan;
    if live && !p.dam_changes.is_empty() {
        plan.ops.insert(
            0,
            Op::WriteAsset {
                changes: p.dam_changes,
            },
        );
    }
    plan
}

/// The canonical fields each side's mapping holds.
struct Fields {
    /// On the PLM's link record.
    link: Vec<String>,
    /// On the PLM's part revision.
    part: Vec<String>,
    /// On the DAM's clip.
    dam: Vec<String>,
}

impl Fields {
    fn of(maps: &MappingSet) -> Self {
        let names = |m: &crate::mapping::Mapping, e: Entity| -> Vec<String> {
            m.fields_for(e).map(|f| f.canonical.clone()).collect()
        };
        Self {
            link: names(&maps.plm, Entity::Link),
            part: names(&maps.plm, Entity::Part),
            dam: names(&maps.dam, Entity::Asset),
        }
    }
}

/// One clip's planning in progress.
struct Planner<'a> {
    maps: &'a MappingSet,
    asset: &'a AssetRecord,
    fields: &'a Fields,
    /// The status its live links should have.
    status: LinkStatus,
    plan: Plan,
    /// What to write to the clip (all its links together).
    dam_changes: CanonicalValues,
}

impl Planner<'_> {
    /// Step 1, fields: the values the link record on `target` should hold, and the base to
    /// store with them. A `newest` field the PLM changed goes to the clip (tagged link only);
    /// one changed on both sides is a conflict and written nowhere.
    fn link_values(
        &mut self,
        target: &Target,
        link_id: &LinkId,
        stored: Option<&LinkRecord>,
    ) -> (CanonicalValues, CanonicalValues) {
        let empty = CanonicalValues::new();
        let plm_now = stored.map_or(&empty, |l| &l.plm_values);
        let base = stored.map_or(&empty, |l| &l.base);
        let computed = derived(self.asset, link_id, self.status);
        let mut desired = CanonicalValues::new();
        let mut new_base = base.clone();
        let fields = self.fields;
        for f in &fields.link {
            if canonical::DERIVED.contains(&f.as_str()) {
                if let Some(v) = computed.get(f) {
                    desired.insert(f.clone(), v.clone());
                    new_base.insert(f.clone(), v.clone());
                }
                continue;
            }
            let Some(value) = self.link_value(f, target, link_id, plm_now, base) else {
                continue;
            };
            match value {
                Some(s) => {
                    desired.insert(f.clone(), s.clone());
                    new_base.insert(f.clone(), s);
                }
                None => {
                    desired.insert(f.clone(), String::new());
                    new_base.remove(f);
                }
            }
        }
        (desired, new_base)
    }

    /// The value field `f` of the link record takes by its owner: `Some(None)` clears it,
    /// `None` leaves the link's value (and its base) as they are.
    fn link_value(
        &mut self,
        f: &str,
        target: &Target,
        link_id: &LinkId,
        plm_now: &CanonicalValues,
        base: &CanonicalValues,
    ) -> Option<Option<String>> {
        let (asset, part) = (self.asset, &target.part);
        let on_part = self.fields.part.iter().any(|p| p == f);
        let on_dam = self.fields.dam.iter().any(|d| d == f);
        match self.maps.owner(f) {
            Owner::Dam => Some(get(&asset.values, f).map(str::to_string)),
            Owner::Plm if on_part => Some(get(&part.values, f).map(str::to_string)),
            // Only the link record holds it and the PLM owns it: PLM users edit it there.
            Owner::Plm => None,
            Owner::Newest => {
                let other = if on_dam {
                    get(&asset.values, f)
                } else if on_part {
                    get(&part.values, f)
                } else {
                    None
                };
                match three_way(other, get(plm_now, f), get(base, f)) {
                    ThreeWay::Agreed(v) | ThreeWay::ToPlm(v) => Some(v),
                    ThreeWay::ToDam(v) if on_dam && target.origin == LinkOrigin::Tagged => {
                        self.dam_changes
                            .insert(f.to_string(), v.clone().unwrap_or_default());
                        Some(v)
                    }
                    // The other side is not written from this link (a carried link, or a
                    // field the DAM does not hold): the link keeps its value and the base
                    // stays, or the next run would take the old value for a change and
                    // overwrite the PLM edit with it.
                    ThreeWay::ToDam(_) => None,
                    ThreeWay::Conflict => {
                        self.plan.conflicts.push(Conflict {
                            kind: super::report::ConflictKind::ThreeWay,
                            link_id: link_id.to_string(),
                            asset_id: asset.asset_id.clone(),
                            part: format!("{}/{}", part.number, part.revision),
                            field: f.to_string(),
                            dam_value: other.map(str::to_string),
                            plm_value: get(plm_now, f).map(str::to_string),
                            base_value: get(base, f).map(str::to_string),
                        });
                        None
                    }
                }
            }
        }
    }

    /// Step 2, create or update: the link record is created when it has no remote record yet,
    /// updated with the fields that differ, or only re-recorded locally when nothing remote
    /// changes but its status, base or origin does.
    fn link_op(
        &self,
        target: &Target,
        link_id: LinkId,
        stored: Option<&LinkRecord>,
        desired: CanonicalValues,
        new_base: CanonicalValues,
    ) -> Option<Op> {
        let status = self.status;
        match stored {
            Some(l) if l.remote_id.is_some() => {
                let changes: CanonicalValues = desired
                    .into_iter()
                    .filter(|(f, v)| {
                        get(&l.plm_values, f) != Some(v.as_str()).filter(|s| !s.is_empty())
                    })
                    .collect();
                if !changes.is_empty() {
                    Some(Op::UpdateLink {
                        link: l.clone(),
                        status,
                        changes,
                        base: new_base,
                    })
                } else if l.status != status || l.base != new_base || l.origin != target.origin {
                    let mut rec = l.clone();
                    rec.status = status;
                    rec.base = new_base;
                    rec.origin = target.origin;
                    Some(Op::Record { link: rec })
                } else {
                    None
                }
            }
            _ => Some(Op::CreateLink {
                link_id,
                part: target.part.clone(),
                origin: target.origin,
                status,
                values: desired.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
                base: new_base,
            }),
        }
    }

    /// Step 3, clip writes: the clip takes PLM-owned values from its tagged part revision (or
    /// its link record, for a field only that holds), and the values partreel computes (the
    /// watermark verdict) where the DAM mapping gives them a field.
    fn clip_takes(&mut self, part: &PartRecord, stored: Option<&LinkRecord>) {
        let asset = self.asset;
        let empty = CanonicalValues::new();
        let plm_now = stored.map_or(&empty, |l| &l.plm_values);
        let computed = clip_derived(asset);
        let fields = self.fields;
        for f in &fields.dam {
            let want = if canonical::DERIVED.contains(&f.as_str()) {
                computed
                    .get(f)
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
            } else if self.maps.owner(f) != Owner::Plm {
                continue;
            } else if self.fields.part.contains(f) {
                get(&part.values, f)
            } else if self.fields.link.contains(f) {
                get(plm_now, f)
            } else {
                continue;
            };
            if let Some(want) = want
                && Some(want) != get(&asset.values, f)
            {
                self.dam_changes.insert(f.clone(), want.to_string());
            }
        }
    }

    /// Step 4, retirements: links the clip should no longer have are retired, never deleted —
    /// remotely when the link record maps a status and exists, else in the local record only.
    fn retire(&mut self, existing: &[LinkRecord], targets: &[Target], live: bool) {
        let retired = LinkStatus::Retired.as_str();
        let maps_status = self.fields.link.iter().any(|f| f == canonical::LINK_STATUS);
        for l in existing {
            let wanted = live
                && targets
                    .iter()
                    .any(|t| t.part.number == l.part_number && t.part.revision == l.part_revision);
            if wanted || l.status == LinkStatus::Retired {
                continue;
            }
            if l.remote_id.is_some() && maps_status {
                let changes =
                    CanonicalValues::from([(canonical::LINK_STATUS.into(), retired.into())]);
                let mut base = l.base.clone();
                base.insert(canonical::LINK_STATUS.into(), retired.into());
                self.plan.ops.push(Op::UpdateLink {
                    link: l.clone(),
                    status: LinkStatus::Retired,
                    changes,
                    base,
                });
            } else {
                let mut rec = l.clone();
                rec.status = LinkStatus::Retired;
                self.plan.ops.push(Op::Record { link: rec });
            }
        }
    }
}

/// Orders revision labels: shorter first, then by text (A < B < … < Z < AA; 1 < 2 < 10).
pub fn revision_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Field values of an op for display.
pub fn display_fields(values: &CanonicalValues) -> BTreeMap<String, String> {
    values.clone()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
