//! Deterministic seed data of the AEM emulator: its own story — a "holiday-gift-guide" campaign
//! about two of the Windchill story's parts (TR-1002 rev A, DL-2040 rev C), with a signed, a
//! stripped and an altered clip — and generated clips about a caller's part list.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use partreel_testkit::fixtures::ClipKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::store::{AemStore, Asset};

/// The metadata property that marks a clip archived (`archive_property` of the connector).
pub const ARCHIVE_PROPERTY: &str = "acme:archived";
/// Folder of the story clips, below the DAM root.
pub const STORY_FOLDER: &str = "holiday-gift-guide";
/// Folder of the generated clips, below the DAM root.
pub const GENERATED_FOLDER: &str = "generated";

/// One story clip: file, part number, revision, SKU, prompt, file kind, hours before the anchor.
type StoryClip = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    ClipKind,
    i64,
);

const STORY: &[StoryClip] = &[
    (
        "tr-1002-sleigh-race.mp4",
        "TR-1002",
        "A",
        "ACM-TR-1002-BL",
        "A blue 1:64 racer drifts around a snowy sleigh track at dusk, festive lights",
        ClipKind::Signed,
        30,
    ),
    (
        "dl-2040-snow-globe.mp4",
        "DL-2040",
        "C",
        "ACM-DL-2040",
        "The Sunset Doll inside a giant snow globe, slow orbit, warm rim light",
        ClipKind::Signed,
        26,
    ),
    (
        "tr-1002-unboxing.mp4",
        "TR-1002",
        "A",
        "ACM-TR-1002-BL",
        "Hands unwrap a gift box revealing the blue racer, macro shot",
        ClipKind::Stripped,
        20,
    ),
    (
        "dl-2040-fireplace.mp4",
        "DL-2040",
        "C",
        "ACM-DL-2040",
        "The doll by a fireplace with beach accessories packed for winter",
        ClipKind::Altered,
        20,
    ),
];

/// Metadata of one clip, with the customer's property names.
#[allow(clippy::too_many_arguments)]
pub(crate) fn metadata(
    title: &str,
    number: &str,
    revision: &str,
    sku: &str,
    prompt: &str,
    campaign: &str,
    model: &str,
    rights_expiry: DateTime<Utc>,
) -> BTreeMap<String, String> {
    let version = if model == "sora-2" { "2.0.3" } else { "3.1" };
    [
        ("dc:title", title),
        ("dc:format", "video/mp4"),
        ("dc:description", prompt),
        ("acme:sku", sku),
        ("acme:partNumber", number),
        ("acme:partRevision", revision),
        ("acme:campaign", campaign),
        ("acme:prompt", prompt),
        ("acme:model", model),
        ("acme:modelVersion", version),
        ("acme:reviewStatus", "Approved"),
        ("acme:rightsNotes", "Internal and paid social, worldwide"),
        (
            "acme:rightsExpiry",
            &rights_expiry.format("%Y-%m-%d").to_string(),
        ),
        ("acme:visibleWatermark", "Yes"),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn asset(
    path: String,
    meta: BTreeMap<String, String>,
    file: ClipKind,
    model: &str,
    modified: DateTime<Utc>,
    file_bytes: usize,
) -> Asset {
    let mut meta = meta;
    meta.insert("dam:size".to_owned(), file_bytes.to_string());
    let version = meta.get("acme:modelVersion").cloned().unwrap_or_default();
    Asset {
        path,
        created: modified - TimeDelta::hours(2),
        modified,
        metadata: meta,
        file,
        generator: format!("{model}/{version}"),
        uploads: 1,
    }
}

/// The story clips, last modified a day or so before `anchor`; two of them share a time.
pub(crate) fn story(store: &mut AemStore, root: &str, anchor: DateTime<Utc>) {
    let expiry = anchor + TimeDelta::days(180);
    for (file, number, rev, sku, prompt, kind, hours) in STORY {
        let title = file.trim_end_matches(".mp4").replace('-', " ");
        let meta = metadata(
            &title,
            number,
            rev,
            sku,
            prompt,
            "holiday-gift-guide",
            "sora-2",
            expiry,
        );
        let path = format!("{root}/{STORY_FOLDER}/{file}");
        let modified = anchor - TimeDelta::hours(*hours);
        store.put(asset(
            path,
            meta,
            *kind,
            "sora-2",
            modified,
            store.file_bytes,
        ));
    }
}

/// `count` generated clips about `parts` (number, revision, SKU), round-robin, under
/// `{root}/generated/`; modification times one minute apart in groups of three that share a
/// time, ending an hour before `anchor`. Mostly signed, some stripped or altered.
pub(crate) fn generated(
    store: &mut AemStore,
    root: &str,
    parts: &[(String, String, String)],
    count: usize,
    seed: u64,
    anchor: DateTime<Utc>,
) {
    if parts.is_empty() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0xAE11);
    let first = anchor - TimeDelta::hours(1) - TimeDelta::minutes(count as i64 / 3 + 1);
    let expiry = anchor + TimeDelta::days(90);
    let start = store.len();
    for i in 0..count {
        let (number, rev, sku) = &parts[i % parts.len()];
        let model = if rng.random_bool(0.5) {
            "sora-2"
        } else {
            "veo-3"
        };
        let kind = match rng.random::<f64>() {
            r if r < 0.9 => ClipKind::Signed,
            r if r < 0.95 => ClipKind::Stripped,
            _ => ClipKind::Altered,
        };
        let n = start + i;
        let title = format!("{number} {rev} clip {n:05}");
        let prompt = format!(
            "Clip {n} of {number}: product hero shot, variation {}",
            rng.random_range(1..100)
        );
        let meta = metadata(
            &title,
            number,
            rev,
            sku,
            &prompt,
            "always-on",
            model,
            expiry,
        );
        let path = format!("{root}/{GENERATED_FOLDER}/clip-{n:05}.mp4");
        let modified = first + TimeDelta::minutes(i as i64 / 3);
        store.put(asset(path, meta, kind, model, modified, store.file_bytes));
    }
}
