//! Table tests for planning: the three-way rule, link status, revision order, and
//! [`plan_clip`] on small mappings (one per ownership rule).

use std::cmp::Ordering;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::mapping::Mapping;
use crate::model::{ProvenanceState, WatermarkStatus};

// ---------------------------------------------------------------------------------------------
// three_way, link_status, revision_order
// ---------------------------------------------------------------------------------------------

#[test]
fn three_way_outcomes() {
    use ThreeWay::{Agreed, Conflict, ToDam, ToPlm};
    let s = |v: &str| Some(v.to_string());
    // (dam, plm, base, expected)
    type Row = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        ThreeWay,
    );
    let table: &[Row] = &[
        // Same on both sides: agreed, whatever the base says.
        (Some("a"), Some("a"), Some("a"), Agreed(s("a"))),
        (Some("a"), Some("a"), Some("old"), Agreed(s("a"))),
        (Some("a"), Some("a"), None, Agreed(s("a"))),
        (None, None, Some("old"), Agreed(None)),
        (None, None, None, Agreed(None)),
        // One side changed: it wins.
        (Some("new"), Some("a"), Some("a"), ToPlm(s("new"))),
        (Some("a"), Some("new"), Some("a"), ToDam(s("new"))),
        // A clear is a change too.
        (None, Some("a"), Some("a"), ToPlm(None)),
        (Some("a"), None, Some("a"), ToDam(None)),
        // Both changed differently.
        (Some("x"), Some("y"), Some("a"), Conflict),
        (None, Some("y"), Some("a"), Conflict),
        (Some("x"), None, Some("a"), Conflict),
        // No base (never synced): the side that has a value wins; two values conflict.
        (Some("a"), None, None, ToPlm(s("a"))),
        (None, Some("a"), None, ToDam(s("a"))),
        (Some("x"), Some("y"), None, Conflict),
    ];
    for (dam, plm, base, want) in table {
        assert_eq!(
            three_way(*dam, *plm, *base),
            *want,
            "three_way({dam:?}, {plm:?}, {base:?})"
        );
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("test date")
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test time")
}

const TODAY: (i32, u32, u32) = (2026, 3, 1);

fn today() -> NaiveDate {
    day(TODAY.0, TODAY.1, TODAY.2)
}

fn watermark(visible: Option<bool>, provenance: ProvenanceState) -> WatermarkStatus {
    WatermarkStatus {
        visible_field: visible,
        provenance,
        claim_generator: None,
        ..Default::default()
    }
}

#[test]
fn link_status_from_watermark_and_rights() {
    use LinkStatus::{Active, NonCompliant, RightsExpired};
    use ProvenanceState::{Invalid, Missing, Unchecked, Valid};
    // (visible watermark, provenance, rights expiry, expected)
    let table: &[(Option<bool>, ProvenanceState, Option<&str>, LinkStatus)] = &[
        (Some(true), Valid, None, Active),
        (Some(true), Unchecked, None, Active),
        // Watermark not preserved.
        (None, Valid, None, NonCompliant),
        (Some(false), Valid, None, NonCompliant),
        (Some(true), Invalid, None, NonCompliant),
        (Some(true), Missing, None, NonCompliant),
        // …wins over expired rights.
        (Some(false), Valid, Some("2020-01-01"), NonCompliant),
        // Rights expiry in the past.
        (Some(true), Valid, Some("2026-02-28"), RightsExpired),
        (
            Some(true),
            Valid,
            Some("2026-02-28T23:59:59Z"),
            RightsExpired,
        ),
        // Today, future, blank or unreadable: still active.
        (Some(true), Valid, Some("2026-03-01"), Active),
        (Some(true), Valid, Some("2027-01-01"), Active),
        (Some(true), Valid, Some(""), Active),
        (Some(true), Valid, Some("next spring"), Active),
    ];
    for (visible, provenance, expiry, want) in table {
        let mut a = asset(&[]);
        a.watermark = watermark(*visible, *provenance);
        if let Some(e) = expiry {
            a.values
                .insert(canonical::RIGHTS_EXPIRY.into(), e.to_string());
        }
        assert_eq!(
            link_status(&a, today()),
            *want,
            "visible={visible:?} provenance={provenance:?} expiry={expiry:?}"
        );
    }
}

#[test]
fn revision_order_is_length_then_text() {
    use Ordering::{Equal, Greater, Less};
    let table: &[(&str, &str, Ordering)] = &[
        ("A", "B", Less),
        ("B", "A", Greater),
        ("A", "A", Equal),
        ("Z", "AA", Less),
        ("AA", "AB", Less),
        ("1", "2", Less),
        ("2", "10", Less),
        ("10", "9", Greater),
    ];
    for (a, b, want) in table {
        assert_eq!(revision_order(a, b), *want, "{a} vs {b}");
    }
    let mut revs = vec!["AA", "B", "10", "A", "2", "Z", "1"];
    revs.sort_by(|a, b| revision_order(a, b));
    assert_eq!(revs, ["1", "2", "A", "B", "Z", "10", "AA"]);
}

// ---------------------------------------------------------------------------------------------
// plan_clip
// ---------------------------------------------------------------------------------------------

/// PLM side: sku and lifecycle_state read from the part; the link record holds link_id,
/// link_status, prompt (DAM-owned), campaign (newest), sku (PLM-owned) and the watermark flag.
const PLM_MAPPING: &str = r#"
system = "windchill"
side = "plm"

[[field]]
canonical = "sku"
entity = "part"
remote = "Sku"

[[field]]
canonical = "lifecycle_state"
entity = "part"
remote = "State"

[[field]]
canonical = "link_id"
entity = "link"
remote = "LinkId"

[[field]]
canonical = "link_status"
entity = "link"
remote = "LinkStatus"

[[field]]
canonical = "prompt"
entity = "link"
remote = "Prompt"

[[field]]
canonical = "campaign"
entity = "link"
remote = "Campaign"
owner = "newest"

[[field]]
canonical = "sku"
entity = "link"
remote = "LinkSku"

[[field]]
canonical = "watermark_preserved"
entity = "link"
remote = "Watermark"
"#;

const DAM_MAPPING: &str = r#"
system = "bynder"
side = "dam"

[[field]]
canonical = "sku"
entity = "asset"
remote = "SKU"

[[field]]
canonical = "part_number"
entity = "asset"
remote = "PartNumber"

[[field]]
canonical = "part_revision"
entity = "asset"
remote = "PartRevision"

[[field]]
canonical = "prompt"
entity = "asset"
remote = "Prompt"

[[field]]
canonical = "campaign"
entity = "asset"
remote = "Campaign"

[[field]]
canonical = "lifecycle_state"
entity = "asset"
remote = "Lifecycle"
"#;

const DAM: &str = "bynder";
const PLM: &str = "windchill";
const ASSET: &str = "vid-1";
const NUMBER: &str = "P-100";

fn maps() -> MappingSet {
    let plm = Mapping::parse(PLM_MAPPING, Path::new("plm.toml")).unwrap_or_else(|e| panic!("{e}"));
    let dam = Mapping::parse(DAM_MAPPING, Path::new("dam.toml")).unwrap_or_else(|e| panic!("{e}"));
    MappingSet::new(plm, dam).unwrap_or_else(|e| panic!("{e}"))
}

fn ctx() -> PlanContext<'static> {
    PlanContext {
        dam: DAM,
        plm: PLM,
        today: today(),
    }
}

fn vals(pairs: &[(&str, &str)]) -> CanonicalValues {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Part `P-100` at `revision` with canonical values.
fn part(revision: &str, values: &[(&str, &str)]) -> PartRecord {
    PartRecord {
        system: PLM.into(),
        number: NUMBER.into(),
        revision: revision.into(),
        remote_id: format!("OR:wt.part.WTPart:{revision}"),
        name: "Bike".into(),
        lifecycle_state: None,
        sku: values
            .iter()
            .find(|(k, _)| *k == canonical::SKU)
            .map(|(_, v)| v.to_string()),
        modified: at("2026-01-10T00:00:00Z"),
        values: vals(values),
        first_seen: at("2026-01-10T00:00:00Z"),
    }
}

fn part_a() -> PartRecord {
    part("A", &[("sku", "SKU-1"), ("lifecycle_state", "Released")])
}

fn part_b() -> PartRecord {
    part("B", &[("sku", "SKU-2"), ("lifecycle_state", "In Work")])
}

/// A live clip with a preserved watermark, tagged with `P-100` A, in sync with part A.
fn asset(extra: &[(&str, &str)]) -> AssetRecord {
    let mut values = vals(&[
        ("part_number", NUMBER),
        ("part_revision", "A"),
        ("prompt", "a red bike"),
        ("campaign", "spring"),
        ("sku", "SKU-1"),
        ("lifecycle_state", "Released"),
    ]);
    for (k, v) in extra {
        if v.is_empty() {
            values.remove(*k);
        } else {
            values.insert(k.to_string(), v.to_string());
        }
    }
    AssetRecord {
        system: DAM.into(),
        asset_id: ASSET.into(),
        title: "bike.mp4".into(),
        modified: at("2026-02-01T00:00:00Z"),
        version: None,
        archived: false,
        deleted: false,
        rendition_url: Some("https://dam.example/vid-1.mp4".into()),
        values,
        watermark: watermark(Some(true), ProvenanceState::Valid),
    }
}

fn link_id(revision: &str) -> LinkId {
    LinkId::new(DAM, ASSET, PLM, NUMBER, revision)
}

/// The link record values for part `p` and the default clip.
fn link_values(p: &PartRecord, extra: &[(&str, &str)]) -> CanonicalValues {
    let mut v = vals(&[
        ("link_id", link_id(&p.revision).as_str()),
        ("link_status", "active"),
        ("watermark_preserved", "true"),
        ("prompt", "a red bike"),
        ("campaign", "spring"),
        ("sku", p.values.get("sku").map(String::as_str).unwrap_or("")),
    ]);
    v.extend(vals(extra));
    v
}

/// A link created and synced earlier: the PLM record and the base hold `link_values`.
fn synced(p: &PartRecord, origin: LinkOrigin) -> LinkRecord {
    let values = link_values(p, &[]);
    LinkRecord {
        link_id: link_id(&p.revision),
        dam_system: DAM.into(),
        asset_id: ASSET.into(),
        plm_system: PLM.into(),
        part_number: NUMBER.into(),
        part_revision: p.revision.clone(),
        part_remote_id: p.remote_id.clone(),
        remote_id: Some(format!("OR:wt.doc.WTDocument:{}", p.revision)),
        status: LinkStatus::Active,
        origin,
        base: values.clone(),
        plm_values: values,
        plm_modified: Some(at("2026-02-01T00:00:00Z")),
        created_at: at("2026-02-01T00:00:00Z"),
        updated_at: at("2026-02-01T00:00:00Z"),
        run_id: "run-0".into(),
    }
}

fn target(p: PartRecord, origin: LinkOrigin) -> Target {
    Target { part: p, origin }
}

fn plan(asset: &AssetRecord, targets: &[Target], existing: &[LinkRecord]) -> Plan {
    plan_clip(ctx(), &maps(), asset, targets, existing)
}

#[test]
fn a_new_link_is_created_and_the_clip_takes_plm_values() {
    // The clip has a stale SKU and no lifecycle state yet.
    let a = asset(&[("sku", "OLD-1"), ("lifecycle_state", "")]);
    let got = plan(&a, &[target(part_a(), LinkOrigin::Tagged)], &[]);
    let values = link_values(&part_a(), &[]);
    let want = Plan {
        ops: vec![
            Op::WriteAsset {
                changes: vals(&[("sku", "SKU-1"), ("lifecycle_state", "Released")]),
            },
            Op::CreateLink {
                link_id: link_id("A"),
                part: part_a(),
                origin: LinkOrigin::Tagged,
                status: LinkStatus::Active,
                values: values.clone(),
                base: values,
            },
        ],
        conflicts: vec![],
    };
    assert_eq!(got, want);
}

#[test]
fn a_new_link_for_a_non_compliant_clip_says_so() {
    let mut a = asset(&[]);
    a.watermark = watermark(Some(false), ProvenanceState::Valid);
    let got = plan(&a, &[target(part_a(), LinkOrigin::Tagged)], &[]);
    match got.ops.as_slice() {
        [Op::CreateLink { status, values, .. }] => {
            assert_eq!(*status, LinkStatus::NonCompliant);
            assert_eq!(values["link_status"], "non_compliant");
            assert_eq!(values["watermark_preserved"], "false");
        }
        other => panic!("expected one CreateLink, got {other:?}"),
    }
}

#[test]
fn an_unchanged_link_plans_nothing() {
    let got = plan(
        &asset(&[]),
        &[target(part_a(), LinkOrigin::Tagged)],
        &[synced(&part_a(), LinkOrigin::Tagged)],
    );
    assert_eq!(got, Plan::default());
}

#[test]
fn a_dam_owned_change_updates_only_that_field() {
    let stored = synced(&part_a(), LinkOrigin::Tagged);
    let got = plan(
        &asset(&[("prompt", "a blue bike")]),
        &[target(part_a(), LinkOrigin::Tagged)],
        std::slice::from_ref(&stored),
    );
    let want = vec![Op::UpdateLink {
        link: stored,
        status: LinkStatus::Active,
        changes: vals(&[("prompt", "a blue bike")]),
        base: link_values(&part_a(), &[("prompt", "a blue bike")]),
    }];
    assert_eq!(got.ops, want);
    assert!(got.conflicts.is_empty());
}

#[test]
fn a_plm_owned_value_edited_in_the_dam_is_put_back() {
    for edited in ["SKU-9", ""] {
        let got = plan(
            &asset(&[("sku", edited)]),
            &[target(part_a(), LinkOrigin::Tagged)],
            &[synced(&part_a(), LinkOrigin::Tagged)],
        );
        assert_eq!(
            got.ops,
            vec![Op::WriteAsset {
                changes: vals(&[("sku", "SKU-1")])
            }],
            "DAM sku {edited:?}"
        );
    }
}

#[test]
fn a_part_change_reaches_link_and_clip() {
    let changed_a = part("A", &[("sku", "SKU-1B"), ("lifecycle_state", "Obsolete")]);
    let stored = synced(&part_a(), LinkOrigin::Tagged);
    let got = plan(
        &asset(&[]),
        &[target(changed_a, LinkOrigin::Tagged)],
        std::slice::from_ref(&stored),
    );
    let want = vec![
        Op::WriteAsset {
            changes: vals(&[("sku", "SKU-1B"), ("lifecycle_state", "Obsolete")]),
        },
        Op::UpdateLink {
            link: stored,
            status: LinkStatus::Active,
            changes: vals(&[("sku", "SKU-1B")]),
            base: link_values(&part_a(), &[("sku", "SKU-1B")]),
        },
    ];
    assert_eq!(got.ops, want);
}

#[test]
fn newest_changed_in_the_dam_only_goes_to_the_link() {
    let stored = synced(&part_a(), LinkOrigin::Tagged);
    let got = plan(
        &asset(&[("campaign", "summer")]),
        &[target(part_a(), LinkOrigin::Tagged)],
        std::slice::from_ref(&stored),
    );
    let want = vec![Op::UpdateLink {
        link: stored,
        status: LinkStatus::Active,
        changes: vals(&[("campaign", "summer")]),
        base: link_values(&part_a(), &[("campaign", "summer")]),
    }];
    assert_eq!(got.ops, want);
    assert!(got.conflicts.is_empty());
}

#[test]
fn newest_changed_on_the_plm_link_only_goes_to_the_clip() {
    let mut stored = synced(&part_a(), LinkOrigin::Tagged);
    stored.plm_values.insert("campaign".into(), "autumn".into());
    let got = plan(
        &asset(&[]),
        &[target(part_a(), LinkOrigin::Tagged)],
        std::slice::from_ref(&stored),
    );
    let mut recorded = stored.clone();
    recorded.base.insert("campaign".into(), "autumn".into());
    let want = vec![
        // The clip is written before the base moves (a failed clip write leaves the base).
        Op::WriteAsset {
            changes: vals(&[("campaign", "autumn")]),
        },
        // The link already holds the value: only the base moves.
        Op::Record { link: recorded },
    ];
    assert_eq!(got.ops, want);
    assert!(got.conflicts.is_empty());
}

#[test]
fn newest_changed_on_both_sides_is_a_conflict_and_writes_neither() {
    let mut stored = synced(&part_a(), LinkOrigin::Tagged);
    stored.plm_values.insert("campaign".into(), "autumn".into());
    let got = plan(
        &asset(&[("campaign", "summer")]),
        &[target(part_a(), LinkOrigin::Tagged)],
        std::slice::from_ref(&stored),
    );
    assert_eq!(
        got.ops,
        vec![],
        "nothing is written for a conflicting field"
    );
    assert_eq!(
        got.conflicts,
        vec![Conflict {
            kind: crate::engine::report::ConflictKind::ThreeWay,
            link_id: link_id("A").to_string(),
            asset_id: ASSET.into(),
            part: "P-100/A".into(),
            field: "campaign".into(),
            dam_value: Some("summer".into()),
            plm_value: Some("autumn".into()),
            base_value: Some("spring".into()),
        }]
    );
}

#[test]
fn a_conflict_does_not_hold_back_other_fields() {
    let mut stored = synced(&part_a(), LinkOrigin::Tagged);
    stored.plm_values.insert("campaign".into(), "autumn".into());
    let got = plan(
        &asset(&[("campaign", "summer"), ("prompt", "a blue bike")]),
        &[target(part_a(), LinkOrigin::Tagged)],
        std::slice::from_ref(&stored),
    );
    match got.ops.as_slice() {
        [Op::UpdateLink { changes, base, .. }] => {
            assert_eq!(*changes, vals(&[("prompt", "a blue bike")]));
            assert_eq!(base["campaign"], "spring", "the base of the conflict stays");
        }
        other => panic!("expected one UpdateLink, got {other:?}"),
    }
    assert_eq!(got.conflicts.len(), 1);
}

fn retired(stored: &LinkRecord) -> Op {
    let mut base = stored.base.clone();
    base.insert("link_status".into(), "retired".into());
    Op::UpdateLink {
        link: stored.clone(),
        status: LinkStatus::Retired,
        changes: vals(&[("link_status", "retired")]),
        base,
    }
}

#[test]
fn an_archived_clip_retires_its_links_and_is_not_written() {
    let stored = synced(&part_a(), LinkOrigin::Tagged);
    let mut a = asset(&[("sku", "SKU-9")]);
    a.archived = true;
    // resolve gives an archived clip no targets.
    let got = plan(&a, &[], std::slice::from_ref(&stored));
    assert_eq!(got.ops, vec![retired(&stored)]);

    // A deleted clip likewise; an already retired link is left alone.
    let mut a = asset(&[]);
    a.deleted = true;
    let mut gone = synced(&part_b(), LinkOrigin::Carried);
    gone.status = LinkStatus::Retired;
    assert_eq!(
        plan(&a, &[], &[stored.clone(), gone]).ops,
        vec![retired(&stored)]
    );
}

#[test]
fn a_link_no_longer_targeted_is_retired() {
    let stored = synced(&part_a(), LinkOrigin::Tagged);
    // The clip was re-tagged to revision B.
    let got = plan(
        &asset(&[("part_revision", "B")]),
        &[target(part_b(), LinkOrigin::Tagged)],
        std::slice::from_ref(&stored),
    );
    let creates: Vec<&LinkId> = got
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::CreateLink { link_id, .. } => Some(link_id),
            _ => None,
        })
        .collect();
    assert_eq!(creates, vec![&link_id("B")]);
    assert!(
        got.ops.contains(&retired(&stored)),
        "A not retired: {:?}",
        got.ops
    );
    // A link never created remotely is retired locally only.
    let mut local = stored.clone();
    local.remote_id = None;
    let got = plan(&asset(&[]), &[], std::slice::from_ref(&local));
    let mut want = local.clone();
    want.status = LinkStatus::Retired;
    assert_eq!(got.ops, vec![Op::Record { link: want }]);
}

#[test]
fn a_carried_target_does_not_write_the_clip() {
    // Revision B is newer: the link is carried there. Its SKU and lifecycle state differ from
    // the clip's, which stays with its tagged revision A.
    let got = plan(
        &asset(&[]),
        &[
            target(part_a(), LinkOrigin::Tagged),
            target(part_b(), LinkOrigin::Carried),
        ],
        &[synced(&part_a(), LinkOrigin::Tagged)],
    );
    match got.ops.as_slice() {
        [
            Op::CreateLink {
                link_id: id,
                origin,
                values,
                ..
            },
        ] => {
            assert_eq!(*id, link_id("B"));
            assert_eq!(*origin, LinkOrigin::Carried);
            assert_eq!(*values, link_values(&part_b(), &[]));
        }
        other => panic!("expected only the carried CreateLink, got {other:?}"),
    }
}

/// Applies a plan's link ops to the stored links the way apply does on success.
fn applied(mut links: Vec<LinkRecord>, plan: &Plan) -> Vec<LinkRecord> {
    for op in &plan.ops {
        let (id, new) = match op {
            Op::Record { link } => (link.link_id.clone(), link.clone()),
            Op::UpdateLink {
                link,
                status,
                changes,
                base,
            } => {
                let mut l = link.clone();
                l.status = *status;
                l.plm_values.extend(changes.clone());
                l.base = base.clone();
                (l.link_id.clone(), l)
            }
            _ => continue,
        };
        if let Some(slot) = links.iter_mut().find(|l| l.link_id == id) {
            *slot = new;
        }
    }
    links
}

#[test]
fn a_plm_edit_on_a_carried_link_is_kept_across_runs() {
    // A PLM user changed the campaign on the carried link B; the clip keeps its own.
    let mut carried = synced(&part_b(), LinkOrigin::Carried);
    carried
        .plm_values
        .insert("campaign".into(), "autumn".into());
    let targets = [
        target(part_a(), LinkOrigin::Tagged),
        target(part_b(), LinkOrigin::Carried),
    ];
    let mut links = vec![synced(&part_a(), LinkOrigin::Tagged), carried];
    for run in 1..=3 {
        let p = plan(&asset(&[]), &targets, &links);
        assert!(
            !p.ops.iter().any(|op| matches!(op, Op::WriteAsset { .. })),
            "run {run}: the clip was written from a carried link: {:?}",
            p.ops
        );
        assert!(
            !p.ops.iter().any(|op| matches!(op, Op::UpdateLink { .. })),
            "run {run}: the PLM edit was overwritten: {:?}",
            p.ops
        );
        links = applied(links, &p);
        assert_eq!(links[1].plm_values["campaign"], "autumn", "run {run}");
    }
}
