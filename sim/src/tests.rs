//! Unit tests of the emulators' internals: continuation hints never change what offset paging
//! returns, and the seed keeps its promised shapes.

use std::collections::{BTreeSet, HashMap};

use chrono::{TimeDelta, TimeZone, Utc};

use crate::bynder::store::PropValue;
use crate::framework::paging::{Key, PageCursors, Walk};
use crate::seed;

/// Bynder story clips: six about Windchill parts, two about Teamcenter's, two about
/// 3DEXPERIENCE's.
const STORY_CLIPS: usize = 10;

fn index(n: usize) -> BTreeSet<Key> {
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    // Ties of 7 on purpose.
    (0..n)
        .map(|i| (t0 + TimeDelta::seconds((i / 7) as i64), format!("id{i:05}")))
        .collect()
}

/// Walking with remembered cursors gives exactly the pages a counted offset gives, both ways.
#[test]
fn cursor_hints_match_offsets() {
    let idx = index(500);
    for desc in [false, true] {
        let mut cursors = PageCursors::default();
        let keep = |k: &Key| !k.1.ends_with('3');
        let mut offset = 0;
        loop {
            let counted = Walk {
                desc,
                lower: None,
                offset,
                limit: 33,
                resume_after: None,
            }
            .run(&idx, keep);
            let hint = cursors.hint("q", offset, 1);
            assert_eq!(hint.is_some(), offset > 0);
            let hinted = Walk {
                desc,
                lower: None,
                offset,
                limit: 33,
                resume_after: hint.as_ref(),
            }
            .run(&idx, keep);
            assert_eq!(counted, hinted, "offset {offset} desc {desc}");
            let (keys, more) = counted;
            if !more {
                break;
            }
            offset += keys.len();
            cursors.remember("q", offset, 1, keys[keys.len() - 1].clone());
        }
        // A changed generation ignores the hint.
        assert!(cursors.hint("q", 33, 2).is_none());
    }
}

/// A lower bound cuts the index; a resumed walk past it returns nothing more.
#[test]
fn lower_bound_and_resume() {
    let idx = index(70);
    let lower = idx.iter().nth(35).map(|k| k.0);
    let (keys, more) = Walk {
        desc: false,
        lower,
        offset: 0,
        limit: 100,
        resume_after: None,
    }
    .run(&idx, |_| true);
    assert_eq!(keys.len(), 35);
    assert!(!more);
    let last = idx.iter().next_back().cloned();
    let (keys, _) = Walk {
        desc: false,
        lower,
        offset: 5,
        limit: 10,
        resume_after: last.as_ref(),
    }
    .run(&idx, |_| true);
    assert!(keys.is_empty());
}

/// Tie groups never exceed 50 records, and all seeded times fall in the 30 days before the anchor.
#[test]
fn seed_tie_groups_and_window() {
    let anchor = Utc
        .with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let s = seed::generate(3000, 3000, true, 42, anchor, crate::GeneratedPlm::Windchill);
    assert_eq!(s.parts.len(), 3004);
    // The story's six Windchill clips, two Teamcenter and two 3DEXPERIENCE clips, then the
    // generated ones.
    assert_eq!(s.media.len(), 3000 + STORY_CLIPS);
    let mut groups: HashMap<_, usize> = HashMap::new();
    for p in &s.parts {
        assert!(p.modified < anchor && p.modified >= anchor - TimeDelta::days(30));
        *groups.entry(p.modified).or_default() += 1;
    }
    // Independent groups can land on the same second, so allow a little slack over 50.
    assert!(groups.values().any(|&n| n >= 10), "tie groups exist");
    assert!(groups.values().all(|&n| n <= 60));
    let no_watermark = s
        .media
        .iter()
        .filter(|m| matches!(m.props.get("VisibleWatermark"), Some(crate::bynder::store::PropValue::Options(o)) if o[0] == "No"))
        .count();
    assert!(
        (50..=250).contains(&no_watermark),
        "about 5% without watermark: {no_watermark}"
    );
}

/// With the generated parts in Teamcenter, Windchill holds only its story and every generated
/// clip tags a Teamcenter item (`ST-4…`/`SC-4…`, rev A); the story clips keep their ids.
#[test]
fn seed_generated_parts_in_teamcenter() {
    let anchor = Utc
        .with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let wc = seed::generate(10, 10, true, 42, anchor, crate::GeneratedPlm::Windchill);
    let tc = seed::generate(500, 500, true, 42, anchor, crate::GeneratedPlm::Teamcenter);
    assert_eq!(tc.parts.len(), 4, "Windchill keeps only its story parts");
    assert_eq!(tc.media.len(), 500 + STORY_CLIPS);
    let ids = |s: &seed::Seed| {
        s.media
            .iter()
            .take(STORY_CLIPS)
            .map(|m| m.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&wc),
        ids(&tc),
        "story clip ids do not depend on the generated PLM"
    );
    for m in tc.media.iter().skip(STORY_CLIPS) {
        let Some(crate::bynder::store::PropValue::Text(n)) = m.props.get("PartNumber") else {
            panic!("clip {} has no part number", m.id);
        };
        assert!(n.starts_with("ST-4") || n.starts_with("SC-4"), "{n}");
        let n: usize = n[3..].parse().unwrap_or(0);
        assert!((4001..=4250).contains(&n), "{n}");
    }
}

/// The Bynder story ids of the Windchill and Teamcenter clips did not move when the
/// 3DEXPERIENCE clips were added (tests and demo text name them).
#[test]
fn seed_story_ids_are_stable() {
    let anchor = Utc
        .with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let s = seed::generate(0, 0, true, 42, anchor, crate::GeneratedPlm::Windchill);
    let part = |m: &crate::bynder::store::Media| match m.props.get("PartNumber") {
        Some(PropValue::Text(n)) => n.clone(),
        _ => String::new(),
    };
    let numbers: Vec<String> = s.media.iter().map(part).collect();
    assert_eq!(
        numbers,
        [
            "TR-1001", "TR-1001", "TR-1002", "DL-2040", "DL-2040", "XX-9999", "ST-3001", "ST-3002",
            "PL-4001", "PL-4002"
        ]
    );
    // Quoted in README.md and the `quarantine` help text.
    assert_eq!(s.media[1].id, "67E92D78-FD76-30B2-A2EF6071DE5134D1");
    assert_eq!(s.media[5].id, "8193012E-994E-AC09-EEA11039D26BAE37");
    let threedx: Vec<_> = s.media.iter().skip(8).collect();
    assert!(
        threedx
            .iter()
            .all(|m| m.provenance == crate::bynder::store::Provenance::Signed)
    );
    assert_eq!(
        threedx[0].props.get("PartRevision"),
        Some(&PropValue::Text("B".into()))
    );
    assert_eq!(
        threedx[1].props.get("SKU"),
        Some(&PropValue::Options(vec!["PLY-FIR-4002".into()]))
    );
}

/// With the generated parts in 3DEXPERIENCE, Windchill holds only its story, every generated
/// clip tags one of the revisions the 3DEXPERIENCE emulator seeds for the same count and seed,
/// and the AEM clips fall back to the Windchill story's parts.
#[test]
fn seed_generated_parts_in_threedx() {
    let anchor = Utc
        .with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let s = seed::generate(40, 300, true, 7, anchor, crate::GeneratedPlm::Threedx);
    assert_eq!(s.parts.len(), 4, "Windchill keeps only its story parts");
    assert_eq!(s.media.len(), 300 + STORY_CLIPS);
    let items: BTreeSet<(String, String, String)> =
        crate::threedx::generated_parts(40, 7).into_iter().collect();
    assert_eq!(items.len(), 40);
    for m in s.media.iter().skip(STORY_CLIPS) {
        let text = |k: &str| match m.props.get(k) {
            Some(PropValue::Text(v)) => v.clone(),
            Some(PropValue::Options(o)) => o.join(","),
            _ => String::new(),
        };
        let key = (text("PartNumber"), text("PartRevision"), text("SKU"));
        assert!(items.contains(&key), "{key:?} is not a 3DX item");
    }
    let aem: Vec<&str> = s.aem_parts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(aem, ["TR-1001", "TR-1001", "TR-1002", "DL-2040"]);
}

/// With the generated parts in Windchill, the AEM clips are about exactly those revisions.
#[test]
fn aem_parts_follow_generated_windchill_parts() {
    let anchor = Utc
        .with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let s = seed::generate(25, 0, true, 42, anchor, crate::GeneratedPlm::Windchill);
    let generated: Vec<(String, String, String)> = s
        .parts
        .iter()
        .skip(4)
        .map(|p| {
            (
                p.number.clone(),
                p.revision.clone(),
                p.sku.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(generated.len(), 25);
    assert_eq!(s.aem_parts, generated);
}
