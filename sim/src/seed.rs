//! The deterministic seed generator: the demo story of docs DEMO-SCENARIO.md (Acme Toys' four
//! part revisions and five clips, plus one clip about a part the PLM does not know, and two
//! clips about the Teamcenter emulator's Stunt Track story parts), then `parts` generated part
//! revisions and `clips` generated video media.
//!
//! Generated part revisions live in Windchill or, with [`GeneratedPlm::Teamcenter`], in the
//! Teamcenter emulator (which seeds them itself: `ST-4001…`/`SC-4001…`, rev A); the generated
//! clips are about whichever PLM holds them.
//!
//! Everything is drawn from one RNG seeded with `seed`, and times are offsets from the start
//! of the sim clock's day, so the same seed gives the same ids and bodies all day long.
//! Modified times fall in the 30 days before that anchor, in whole seconds, and on purpose in
//! tie groups (runs of up to 50 records sharing one timestamp) to exercise keyset paging.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bynder::store::{Media, MetaKind, Metaproperty, PropValue, Provenance, format_id};
use crate::sim::GeneratedPlm;
use crate::windchill::store::Part;

/// Longest run of records sharing one modified time.
const MAX_TIE_GROUP: usize = 50;
/// How far back seeded modified times go.
const SPREAD_DAYS: i64 = 30;

/// Everything the emulators start with.
pub(crate) struct Seed {
    pub(crate) parts: Vec<Part>,
    pub(crate) metaproperties: Vec<Metaproperty>,
    pub(crate) media: Vec<Media>,
}

/// The seed's time anchor: midnight UTC of `now`'s day.
pub(crate) fn anchor(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// The metaproperties Bynder starts with (select options are added as media use them).
fn metaproperties() -> Vec<Metaproperty> {
    use MetaKind::*;
    let mut out = vec![
        Metaproperty::new("SKU", Select, true),
        Metaproperty::new("PartNumber", Text, false),
        Metaproperty::new("PartRevision", Text, false),
        Metaproperty::new("Campaign", Select, false),
        Metaproperty::new("Prompt", Longtext, false),
        Metaproperty::new("Model", Select, false),
        Metaproperty::new("ModelVersion", Text, false),
        Metaproperty::new("ReviewStatus", Select, false),
        Metaproperty::new("RightsNotes", Longtext, false),
        Metaproperty::new("RightsExpiry", Date, false),
        Metaproperty::new("VisibleWatermark", Select, false),
        Metaproperty::new("LifecycleState", Text, false),
        Metaproperty::new("PartName", Text, false),
        // Written by partreel: the computed watermark/provenance verdict.
        Metaproperty::new("WatermarkPreserved", Text, false),
        Metaproperty::new("ProvenanceStatus", Text, false),
    ];
    for mp in &mut out {
        let options: &[(&str, &str)] = match mp.name.as_str() {
            "ReviewStatus" => &[
                ("Draft", "Draft"),
                ("In Review", "In Review"),
                ("Approved", "Approved"),
                ("Rejected", "Rejected"),
            ],
            "VisibleWatermark" => &[("Yes", "Yes"), ("No", "No")],
            "Model" => &[
                ("sora-2", "Sora 2"),
                ("veo-3", "Veo 3"),
                ("runway-gen4", "Runway Gen-4"),
            ],
            "Campaign" => &[
                ("Summer_Launch_26", "Summer Launch 26"),
                ("Retail_Loops", "Retail Loops"),
                ("Tone_Test_ABC", "Tone Test A/B/C"),
            ],
            _ => &[],
        };
        for (name, label) in options {
            mp.ensure_option(name, label);
        }
    }
    out
}

/// Hands out modified times in tie groups.
struct Stamps {
    anchor: DateTime<Utc>,
    left: usize,
    current: DateTime<Utc>,
}

impl Stamps {
    fn next(&mut self, rng: &mut StdRng) -> DateTime<Utc> {
        if self.left == 0 {
            self.left = if rng.random_bool(0.25) {
                rng.random_range(2..=MAX_TIE_GROUP)
            } else {
                1
            };
            self.current =
                self.anchor - TimeDelta::seconds(rng.random_range(1..=SPREAD_DAYS * 86_400));
        }
        self.left -= 1;
        self.current
    }
}

#[allow(clippy::too_many_arguments)]
fn part(
    number: &str,
    rev: &str,
    name: &str,
    sku: &str,
    state: &str,
    latest: bool,
    modified: DateTime<Utc>,
    created: DateTime<Utc>,
) -> Part {
    Part {
        id: String::new(),
        number: number.into(),
        name: name.into(),
        revision: rev.into(),
        iteration: 1,
        state: state.into(),
        created,
        modified,
        latest,
        sku: Some(sku.into()),
    }
}

/// A clip's metadata before it becomes a media item.
struct Clip<'a> {
    file: &'a str,
    number: &'a str,
    revision: &'a str,
    sku: &'a str,
    prompt: &'a str,
    campaign: &'a str,
    model: &'a str,
    review: &'a str,
    watermark: &'a str,
    rights_expiry: DateTime<Utc>,
    rights_notes: &'a str,
    provenance: Provenance,
}

fn media(id: String, c: &Clip<'_>, modified: DateTime<Utc>) -> Media {
    let (name, ext) = c.file.rsplit_once('.').unwrap_or((c.file, "mp4"));
    let opt = |v: &str| PropValue::Options(vec![v.to_owned()]);
    let text = |v: &str| PropValue::Text(v.to_owned());
    let version = if c.model == "sora-2" { "2.0.3" } else { "3.1" };
    let props = BTreeMap::from([
        ("SKU".to_owned(), opt(c.sku)),
        ("PartNumber".to_owned(), text(c.number)),
        ("PartRevision".to_owned(), text(c.revision)),
        ("Campaign".to_owned(), opt(c.campaign)),
        ("Prompt".to_owned(), text(c.prompt)),
        ("Model".to_owned(), opt(c.model)),
        ("ModelVersion".to_owned(), text(version)),
        ("ReviewStatus".to_owned(), opt(c.review)),
        ("RightsNotes".to_owned(), text(c.rights_notes)),
        (
            "RightsExpiry".to_owned(),
            text(&c.rights_expiry.format("%Y-%m-%d").to_string()),
        ),
        ("VisibleWatermark".to_owned(), opt(c.watermark)),
    ]);
    Media {
        id,
        name: name.to_owned(),
        extension: ext.to_owned(),
        created: modified - TimeDelta::hours(6),
        modified,
        archived: false,
        description: c.prompt.to_owned(),
        props,
        provenance: c.provenance,
        generator: format!("{}/{version}", c.model),
        version: 1,
    }
}

fn story(anchor: DateTime<Utc>, rng: &mut StdRng, seed: &mut Seed) {
    let at = |days: i64, hours: i64| anchor - TimeDelta::days(days) + TimeDelta::hours(hours);
    seed.parts.extend([
        part(
            "TR-1001",
            "A",
            "Turbo Racer 1:64, red",
            "ACM-TR-1001-RD",
            "RELEASED",
            false,
            at(25, 9),
            at(60, 9),
        ),
        part(
            "TR-1001",
            "B",
            "Turbo Racer 1:64, red, new spoiler",
            "ACM-TR-1001-RD",
            "INWORK",
            true,
            at(7, 9),
            at(8, 14),
        ),
        part(
            "TR-1002",
            "A",
            "Turbo Racer 1:64, blue",
            "ACM-TR-1002-BL",
            "RELEASED",
            true,
            at(20, 11),
            at(50, 10),
        ),
        part(
            "DL-2040",
            "C",
            "Sunset Doll with beach accessories",
            "ACM-DL-2040",
            "RELEASED",
            true,
            at(12, 16),
            at(90, 8),
        ),
    ]);
    let long = anchor + TimeDelta::days(180);
    let clip = |file, number, revision, sku, prompt, campaign, model, review, provenance| Clip {
        file,
        number,
        revision,
        sku,
        prompt,
        campaign,
        model,
        review,
        watermark: "Yes",
        rights_expiry: long,
        rights_notes: "Generated in-house; music bed licensed for paid social.",
        provenance,
    };
    let clips = [
        clip(
            "chase-sequence-v3.mp4",
            "TR-1001",
            "B",
            "ACM-TR-1001-RD",
            "12-second chase sequence on a desert track, show the new spoiler and both colourways, upbeat synth score",
            "Summer_Launch_26",
            "sora-2",
            "Approved",
            Provenance::Signed,
        ),
        clip(
            "spoiler-closeup.mp4",
            "TR-1001",
            "B",
            "ACM-TR-1001-RD",
            "macro shot of the spoiler snapping into place, studio light",
            "Summer_Launch_26",
            "veo-3",
            "In Review",
            Provenance::Missing,
        ),
        clip(
            "packaging-cameo.mp4",
            "TR-1002",
            "A",
            "ACM-TR-1002-BL",
            "the blue car sliding out of its blister pack",
            "Retail_Loops",
            "veo-3",
            "Approved",
            Provenance::Altered,
        ),
        clip(
            "beach-day-playful.mp4",
            "DL-2040",
            "C",
            "ACM-DL-2040",
            "playful tone: the doll's beach day, three accessories in use",
            "Tone_Test_ABC",
            "sora-2",
            "Approved",
            Provenance::Signed,
        ),
        Clip {
            rights_expiry: anchor + TimeDelta::days(7),
            rights_notes: "Stock beach footage licensed until next week only.",
            ..clip(
                "beach-day-educational.mp4",
                "DL-2040",
                "C",
                "ACM-DL-2040",
                "educational tone: how the sun hat folds",
                "Tone_Test_ABC",
                "sora-2",
                "Approved",
                Provenance::Signed,
            )
        },
        clip(
            "teaser-unknown-part.mp4",
            "XX-9999",
            "A",
            "ACM-XX-9999",
            "teaser: a mystery racer under a sheet, reveal cut before the unveil",
            "Summer_Launch_26",
            "veo-3",
            "Draft",
            Provenance::Signed,
        ),
    ];
    for (i, c) in clips.iter().enumerate() {
        let id = format_id(rng.random());
        let days = 6 - i64::try_from(i).unwrap_or(0);
        seed.media.push(media(id, c, at(days, 10)));
    }
}

/// Seed offset of the RNG behind the Teamcenter story clips' ids (their own RNG, so the
/// Windchill story and the generated records keep the ids they always had).
const TEAMCENTER_STORY_SEED: u64 = 0x7eac_e3de_5701_0001;

/// Two clips about the Teamcenter emulator's story parts (`ST-3001` rev B, `ST-3002` rev A).
fn teamcenter_story(anchor: DateTime<Utc>, seed_value: u64, seed: &mut Seed) {
    let mut rng = StdRng::seed_from_u64(seed_value ^ TEAMCENTER_STORY_SEED);
    let at = |days: i64, hours: i64| anchor - TimeDelta::days(days) + TimeDelta::hours(hours);
    let clips = [
        Clip {
            file: "loop-the-loop-stunt.mp4",
            number: "ST-3001",
            revision: "B",
            sku: "ACM-ST-3001",
            prompt: "10-second stunt: a car races through the new double loop, slow motion at the top, crowd cheer",
            campaign: "Stunt_Season",
            model: "sora-2",
            review: "Approved",
            watermark: "Yes",
            rights_expiry: anchor + TimeDelta::days(180),
            rights_notes: "Generated in-house; music bed licensed for paid social.",
            provenance: Provenance::Signed,
        },
        Clip {
            file: "track-unboxing.mp4",
            number: "ST-3002",
            revision: "A",
            sku: "ACM-ST-3002",
            prompt: "unboxing the Stunt Track launcher on a playroom floor, first launch",
            campaign: "Retail_Loops",
            model: "veo-3",
            review: "In Review",
            watermark: "Yes",
            rights_expiry: anchor + TimeDelta::days(180),
            rights_notes: "Generated in-house for organic social.",
            provenance: Provenance::Signed,
        },
    ];
    for (c, when) in clips.iter().zip([at(5, 14), at(2, 15)]) {
        let id = format_id(rng.random());
        seed.media.push(media(id, c, when));
    }
}

/// The Teamcenter emulator's generated item revisions (as `teamcenter::story` seeds them:
/// `ST-4001`, `SC-4001`, `ST-4002`, … rev A, SKU `ACM-<item id>`), as clip targets.
fn teamcenter_targets(n: usize) -> Vec<Target> {
    (0..n)
        .map(|i| {
            let prefix = if i % 2 == 0 { "ST" } else { "SC" };
            let number = format!("{prefix}-{:04}", 4001 + i / 2);
            Target {
                sku: format!("ACM-{number}"),
                name: format!("Stunt Track part {number}"),
                number,
                revision: "A".into(),
            }
        })
        .collect()
}

/// A generated part revision clips can be about.
struct Target {
    number: String,
    revision: String,
    sku: String,
    name: String,
}

const COLOURS: &[(&str, &str)] = &[
    ("red", "RD"),
    ("blue", "BL"),
    ("green", "GN"),
    ("yellow", "YL"),
    ("black", "BK"),
    ("silver", "SV"),
    ("orange", "OR"),
    ("purple", "PU"),
];
const DOLLS: &[&str] = &[
    "Sunrise",
    "Meadow",
    "Harbor",
    "Starlight",
    "Canyon",
    "Aurora",
];
const KITS: &[&str] = &[
    "camping set",
    "city outfit",
    "garden kit",
    "ski gear",
    "picnic basket",
];
const TRACKS: &[&str] = &[
    "loop-the-loop",
    "jump ramp",
    "spiral tower",
    "crash junction",
    "drag strip",
];

fn generated_parts(
    n: usize,
    anchor: DateTime<Utc>,
    rng: &mut StdRng,
    seed: &mut Seed,
) -> Vec<Target> {
    let mut stamps = Stamps {
        anchor,
        left: 0,
        current: anchor,
    };
    let mut counters = [100u32; 3];
    let mut targets = Vec::with_capacity(n);
    let mut made = 0;
    let mut i = 0usize;
    while made < n {
        let fam = i % 3;
        i += 1;
        let c = counters[fam];
        counters[fam] += 1;
        let (prefix, digit) = [("TR", 1), ("DL", 2), ("RC", 3)][fam];
        let number = if c < 1000 {
            format!("{prefix}-{digit}{c:03}")
        } else {
            format!("{prefix}-{digit}{c}")
        };
        let (base_name, sku) = match fam {
            0 => {
                let (colour, code) = COLOURS[rng.random_range(0..COLOURS.len())];
                (
                    format!("Turbo Racer 1:64, {colour}"),
                    format!("ACM-{number}-{code}"),
                )
            }
            1 => (
                format!(
                    "{} Doll with {}",
                    DOLLS[rng.random_range(0..DOLLS.len())],
                    KITS[rng.random_range(0..KITS.len())]
                ),
                format!("ACM-{number}"),
            ),
            _ => (
                format!("Stunt Track {}", TRACKS[rng.random_range(0..TRACKS.len())]),
                format!("ACM-{number}"),
            ),
        };
        let revs = rng.random_range(1..=3usize).min(n - made);
        for r in 0..revs {
            let letter = char::from(b'A' + u8::try_from(r).unwrap_or(0)).to_string();
            let latest = r + 1 == revs;
            let state = if !latest || rng.random_bool(0.6) {
                "RELEASED"
            } else {
                "INWORK"
            };
            let name = if r == 0 {
                base_name.clone()
            } else {
                format!("{base_name}, rev {letter} update")
            };
            let modified = stamps.next(rng);
            let created = modified - TimeDelta::seconds(rng.random_range(0..60 * 86_400));
            seed.parts.push(part(
                &number, &letter, &name, &sku, state, latest, modified, created,
            ));
            targets.push(Target {
                number: number.clone(),
                revision: letter,
                sku: sku.clone(),
                name,
            });
            made += 1;
        }
    }
    targets
}

const CAMPAIGNS: &[&str] = &[
    "Summer_Launch_26",
    "Retail_Loops",
    "Tone_Test_ABC",
    "Holiday_Gifting_26",
    "Back_To_School",
    "Creator_Collab",
    "Spring_Refresh_27",
    "Store_Screens",
];
const TONES: &[&str] = &[
    "playful",
    "educational",
    "dramatic",
    "cinematic",
    "retro",
    "calm",
];
const SHOTS: &[&str] = &[
    "hero shot",
    "close-up",
    "chase sequence",
    "unboxing",
    "360 turntable",
    "lifestyle scene",
];
const SETTINGS: &[&str] = &[
    "on a desert track",
    "in a sunlit kitchen",
    "on a studio sweep",
    "at the beach",
    "in a toy store aisle",
    "on a city rooftop",
];
const MODELS: &[&str] = &["sora-2", "veo-3", "runway-gen4"];
const REVIEWS: &[&str] = &[
    "Draft",
    "In Review",
    "Approved",
    "Approved",
    "Approved",
    "Rejected",
];

fn generated_clips(
    n: usize,
    targets: &[Target],
    anchor: DateTime<Utc>,
    rng: &mut StdRng,
    seed: &mut Seed,
) {
    if targets.is_empty() {
        return;
    }
    let mut stamps = Stamps {
        anchor,
        left: 0,
        current: anchor,
    };
    for i in 0..n {
        let t = &targets[rng.random_range(0..targets.len())];
        let tone = TONES[rng.random_range(0..TONES.len())];
        let shot = SHOTS[rng.random_range(0..SHOTS.len())];
        let setting = SETTINGS[rng.random_range(0..SETTINGS.len())];
        let secs = rng.random_range(6..=20);
        let prompt = format!(
            "{secs}-second {shot} of the {}, {tone} tone, {setting}",
            t.name
        );
        let file = format!(
            "{}-{}-{}-{i:06}.mp4",
            t.number.to_lowercase(),
            tone,
            shot.replace(' ', "-")
        );
        let provenance = file_kind(rng.random());
        let clip = Clip {
            file: &file,
            number: &t.number,
            revision: &t.revision,
            sku: &t.sku,
            prompt: &prompt,
            campaign: CAMPAIGNS[rng.random_range(0..CAMPAIGNS.len())],
            model: MODELS[rng.random_range(0..MODELS.len())],
            review: REVIEWS[rng.random_range(0..REVIEWS.len())],
            watermark: if rng.random_bool(0.05) { "No" } else { "Yes" },
            rights_expiry: anchor + TimeDelta::days(rng.random_range(14..=365)),
            rights_notes: "Generated in-house for organic social.",
            provenance,
        };
        let id = format_id(rng.random());
        let modified = stamps.next(rng);
        seed.media.push(media(id, &clip, modified));
    }
}

/// The file a generated clip carries, from a uniform roll in [0, 1): about 3% stripped (no
/// provenance), 2% altered after signing, the rest signed.
fn file_kind(roll: f64) -> Provenance {
    if roll < 0.03 {
        Provenance::Missing
    } else if roll < 0.05 {
        Provenance::Altered
    } else {
        Provenance::Signed
    }
}

/// Generates the seed for `parts` part revisions (in `generated_plm`) and `clips` media (plus
/// the story if asked).
pub(crate) fn generate(
    parts: usize,
    clips: usize,
    story_too: bool,
    seed: u64,
    anchor: DateTime<Utc>,
    generated_plm: GeneratedPlm,
) -> Seed {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Seed {
        parts: Vec::with_capacity(parts + 4),
        metaproperties: metaproperties(),
        media: Vec::with_capacity(clips + 6),
    };
    if story_too {
        story(anchor, &mut rng, &mut out);
        teamcenter_story(anchor, seed, &mut out);
    }
    let mut targets = match generated_plm {
        GeneratedPlm::Windchill => generated_parts(parts, anchor, &mut rng, &mut out),
        GeneratedPlm::Teamcenter => teamcenter_targets(parts),
    };
    if targets.is_empty() {
        // No generated parts: generated clips are about the story's part revisions.
        targets = out
            .parts
            .iter()
            .map(|p| Target {
                number: p.number.clone(),
                revision: p.revision.clone(),
                sku: p.sku.clone().unwrap_or_default(),
                name: p.name.clone(),
            })
            .collect();
    }
    generated_clips(clips, &targets, anchor, &mut rng, &mut out);
    out
}
