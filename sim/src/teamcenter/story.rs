//! The Teamcenter emulator's deterministic seed: its own story product family (the Stunt Track
//! line, `ST-3001` rev A Released / rev B In Work and `ST-3002` rev A Released), then `parts`
//! generated item revisions numbered `ST-4001…` and `SC-4001…`, all from one RNG seeded with
//! `seed` and times offset from the sim clock's day, in tie groups that exercise paging.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::store::{Revision, TcStore};

/// Longest run of revisions sharing one modification time.
const MAX_TIE_GROUP: usize = 50;
/// How far back seeded modification times go.
const SPREAD_SECS: i64 = 30 * 86_400;
/// Status name of a released revision.
const RELEASED: &str = "Released";

const NAMES: &[&str] = &[
    "Stunt Track straight",
    "Stunt Track curve",
    "Stunt Car, blue",
    "Stunt Car, orange",
    "Stunt Track ramp",
    "Stunt Car launcher",
];

#[allow(clippy::too_many_arguments)]
fn revision(
    item: &str,
    rev: &str,
    name: &str,
    sku: &str,
    released: bool,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
) -> Revision {
    Revision {
        uid: String::new(),
        item_uid: String::new(),
        item_id: item.into(),
        revision: rev.into(),
        name: name.into(),
        status: if released {
            vec![RELEASED.into()]
        } else {
            Vec::new()
        },
        created,
        modified,
        props: BTreeMap::from([("c9_sku".to_owned(), sku.to_owned())]),
    }
}

/// Seeds `store`: the story first (when asked), then `parts` generated revisions.
pub(crate) fn seed(
    store: &mut TcStore,
    parts: usize,
    story: bool,
    seed: u64,
    anchor: DateTime<Utc>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let at = |days: i64, hours: i64| anchor - TimeDelta::days(days) + TimeDelta::hours(hours);
    if story {
        for r in [
            revision(
                "ST-3001",
                "A",
                "Stunt Track loop set",
                "ACM-ST-3001",
                true,
                at(70, 9),
                at(21, 10),
            ),
            revision(
                "ST-3001",
                "B",
                "Stunt Track loop set, double loop",
                "ACM-ST-3001",
                false,
                at(9, 14),
                at(3, 16),
            ),
            revision(
                "ST-3002",
                "A",
                "Stunt Track launcher",
                "ACM-ST-3002",
                true,
                at(40, 11),
                at(12, 8),
            ),
        ] {
            store.add_revision(r);
        }
    }
    let (mut left, mut current) = (0usize, anchor);
    for i in 0..parts {
        if left == 0 {
            left = if rng.random_bool(0.25) {
                rng.random_range(2..=MAX_TIE_GROUP)
            } else {
                1
            };
            current = anchor - TimeDelta::seconds(rng.random_range(1..=SPREAD_SECS));
        }
        left -= 1;
        let prefix = if i % 2 == 0 { "ST" } else { "SC" };
        let number = format!("{prefix}-{:04}", 4001 + i / 2);
        let name = NAMES[rng.random_range(0..NAMES.len())];
        let released = rng.random_bool(0.6);
        let sku = format!("ACM-{number}");
        store.add_revision(revision(
            &number,
            "A",
            name,
            &sku,
            released,
            current - TimeDelta::days(30),
            current,
        ));
    }
}
