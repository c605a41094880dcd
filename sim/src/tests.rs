//! Unit tests of the emulators' internals: continuation hints never change what offset paging
//! returns, and the seed keeps its promised shapes.

use std::collections::{BTreeSet, HashMap};

use chrono::{TimeDelta, TimeZone, Utc};

use crate::framework::paging::{Key, PageCursors, Walk};
use crate::seed;

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
    // The story's six Windchill clips and two Teamcenter clips, then the generated ones.
    assert_eq!(s.media.len(), 3008);
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
    assert_eq!(tc.media.len(), 508);
    let ids = |s: &seed::Seed| {
        s.media
            .iter()
            .take(8)
            .map(|m| m.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&wc),
        ids(&tc),
        "story clip ids do not depend on the generated PLM"
    );
    for m in tc.media.iter().skip(8) {
        let Some(crate::bynder::store::PropValue::Text(n)) = m.props.get("PartNumber") else {
            panic!("clip {} has no part number", m.id);
        };
        assert!(n.starts_with("ST-4") || n.starts_with("SC-4"), "{n}");
        let n: usize = n[3..].parse().unwrap_or(0);
        assert!((4001..=4250).contains(&n), "{n}");
    }
}
