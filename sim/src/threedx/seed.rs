//! Deterministic seed data of the 3DEXPERIENCE emulator: the story family (`PL-4001` "Playset
//! garage" rev A Released and rev B In Work, `PL-4002` "Playset fire station" rev A), then
//! `parts` generated `PL-`/`PK-` revisions, and one non-partreel document (an assembly
//! instruction under `PL-4001` A) whose attributes show the document type's schema.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::ThreedxSimConfig;
use super::store::{Item, ThreedxStore};

/// Lifecycle states of generated revisions (3DEXPERIENCE maturity states).
const STATES: &[&str] = &["IN_WORK", "FROZEN", "RELEASED"];
/// Product words of generated titles.
const NOUNS: &[&str] = &[
    "garage",
    "fire station",
    "farm",
    "castle",
    "race track",
    "airport",
    "harbour",
    "school",
];

/// The physical id of revision `rev` of `number` (32 upper-case hex digits).
pub fn item_id(number: &str, rev: &str) -> String {
    hex::encode_upper(&Sha256::digest(format!("item:{number}:{rev}").as_bytes())[..16])
}

fn item(
    number: &str,
    rev: &str,
    title: &str,
    state: &str,
    sku: &str,
    weight: f64,
    modified: DateTime<Utc>,
) -> Item {
    let mut customer = Map::new();
    customer.insert("Weight".into(), json!(weight));
    customer.insert("Material".into(), Value::String("ABS".into()));
    let mut enterprise = Map::new();
    enterprise.insert("c9Sku".into(), Value::String(sku.into()));
    Item {
        id: item_id(number, rev),
        name: format!("prd-{}-{rev}", number.to_lowercase()),
        title: title.into(),
        description: format!("{title}, revision {rev}"),
        revision: rev.into(),
        state: state.into(),
        part_number: number.into(),
        created: modified - Duration::days(30),
        modified,
        cestamp: String::new(),
        customer,
        enterprise,
    }
}

/// Fills `st` per `cfg`, with times before `now`.
pub(crate) fn seed(st: &mut ThreedxStore, cfg: &ThreedxSimConfig, now: DateTime<Utc>) {
    let base = now - Duration::days(10);
    if cfg.story {
        let garage = "Playset garage";
        st.add_item(item(
            "PL-4001",
            "A",
            garage,
            "RELEASED",
            "PLY-GAR-4001",
            1.2,
            base,
        ));
        st.add_item(item(
            "PL-4001",
            "B",
            garage,
            "IN_WORK",
            "PLY-GAR-4001",
            1.25,
            base + Duration::hours(1),
        ));
        st.add_item(item(
            "PL-4002",
            "A",
            "Playset fire station",
            "IN_WORK",
            "PLY-FIR-4002",
            1.8,
            base + Duration::hours(2),
        ));
        let mut el = Map::new();
        el.insert(
            "title".into(),
            Value::String("Playset garage assembly instructions".into()),
        );
        el.insert(
            "description".into(),
            Value::String("Assembly steps for the garage playset".into()),
        );
        let parent = item_id("PL-4001", "A");
        let _ = st.create_doc(
            &el,
            &parent,
            "Reference Document",
            base + Duration::hours(3),
        );
    }
    for g in generated(cfg.parts, cfg.seed) {
        st.add_item(item(
            &g.number,
            &g.revision,
            &g.title,
            g.state,
            &g.sku,
            g.weight,
            base + Duration::seconds(g.offset_secs),
        ));
    }
}

/// One generated item revision, before it gets its times.
pub(crate) struct GeneratedItem {
    /// Part number (`PL-5000`, `PK-5001`, …).
    pub(crate) number: String,
    /// Revision letter.
    pub(crate) revision: String,
    /// Title (`Playset castle 5002`).
    pub(crate) title: String,
    /// Maturity state.
    pub(crate) state: &'static str,
    /// `c9Sku`.
    pub(crate) sku: String,
    /// `Weight`.
    pub(crate) weight: f64,
    /// Seconds after the seed's base time (ten days before now) of its `modified`.
    pub(crate) offset_secs: i64,
}

/// The `parts` generated item revisions for `seed`, in seeding order: numbers alternate `PL-`
/// and `PK-` from 5000, a third of them with a released rev A before their latest rev B.
pub(crate) fn generated(parts: usize, seed: u64) -> Vec<GeneratedItem> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(parts);
    let mut n = 0usize;
    while out.len() < parts {
        let prefix = if n.is_multiple_of(2) { "PL" } else { "PK" };
        let number = format!("{prefix}-{}", 5000 + n);
        let noun = NOUNS[rng.random_range(0..NOUNS.len())];
        let title = format!("Playset {noun} {}", 5000 + n);
        let revisions = if rng.random_range(0..3) == 0 { 2 } else { 1 };
        for r in 0..revisions {
            if out.len() == parts {
                break;
            }
            let state = if r + 1 < revisions {
                "RELEASED"
            } else {
                STATES[rng.random_range(0..STATES.len())]
            };
            // Drawn in this order (time, then weight) since the first seeds: keep it so the
            // same seed keeps giving the same items.
            let offset_secs = rng.random_range(0..86_400 * 5);
            let weight = rng.random_range(0.2..3.0);
            out.push(GeneratedItem {
                number: number.clone(),
                revision: char::from(b'A' + r as u8).to_string(),
                title: title.clone(),
                state,
                sku: format!("{prefix}Y-{}", 5000 + n),
                weight,
                offset_secs,
            });
        }
        n += 1;
    }
    out
}

/// The (part number, revision, SKU) of the `parts` item revisions the emulator generates for
/// `seed` (with [`ThreedxSimConfig::parts`] and [`ThreedxSimConfig::seed`]), in seeding order:
/// what clips seeded elsewhere (Bynder's, through `partreel_sim::Sim`) are about.
pub fn generated_parts(parts: usize, seed: u64) -> Vec<(String, String, String)> {
    generated(parts, seed)
        .into_iter()
        .map(|g| (g.number, g.revision, g.sku))
        .collect()
}
