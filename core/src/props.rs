//! Property tests of the mapping files (TOML an admin writes), their transforms, and the
//! provenance check of clip files (bytes a DAM serves). Properties: parsing never panics and
//! every error names the file, a key and a line and column inside the text; the shipped
//! mapping files, cut or shuffled line by line, still parse or fail cleanly; a transform
//! written in mapping syntax (its `Display`) reads back as the same transform; records
//! converted through the shipped mappings never panic and every conversion error names a
//! mapped field; each transform reads anything without panicking, and writing a canonical
//! value then reading it back gives the value (dates, yes/no words, value maps); the provenance
//! check of any file, or of a signed clip with bytes changed or cut, never panics and reports
//! the file's true size and hash. Run longer with `scripts/props.sh`; add a target as one more
//! `prop_…` test below.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use partreel_testkit::fixtures::{self, ClipKind, MediaFormat};
use partreel_testkit::props::{bytes, odd_text};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::mapping::{Entity, Mapping, Transform};
use crate::provenance::{Checker, ProvenancePolicy};

const SHIPPED: &[&str] = &[
    include_str!("../../mappings/windchill.toml"),
    include_str!("../../mappings/teamcenter.toml"),
    include_str!("../../mappings/threedx.toml"),
    include_str!("../../mappings/bynder.toml"),
    include_str!("../../mappings/aem.toml"),
];

const FILE: &str = "/etc/partreel/mappings/m.toml";

fn check(text: &str) {
    if let Err(errs) = Mapping::parse(text, Path::new(FILE)) {
        assert!(!errs.0.is_empty());
        // A span may point just past the last line (a table left open at the end).
        let lines = text.split('\n').count();
        for e in &errs.0 {
            assert_eq!(e.file, Path::new(FILE));
            assert!(!e.message.is_empty(), "{e}");
            assert!(!e.key.is_empty(), "the error names a key: {e}");
            assert!(
                e.line >= 1 && e.line <= lines,
                "line {} of {lines}: {e}",
                e.line
            );
            assert!(e.column >= 1, "{e}");
        }
        assert!(errs.to_string().contains(FILE));
    }
}

/// A mapping whose one field has these transforms, written in mapping syntax.
fn with_transforms(transforms: &[Transform]) -> String {
    let shown: Vec<String> = transforms.iter().map(ToString::to_string).collect();
    format!(
        "system = \"windchill\"\nside = \"plm\"\n[[field]]\ncanonical = \"x_f\"\nentity = \"link\"\nremote = \"F\"\ntransforms = [{}]\n",
        shown.join(", ")
    )
}

/// A transform the mapping parser accepts, with its texts drawn from `text` (value-map keys
/// and values, yes/no words: trimmed, non-blank, the two lists disjoint).
fn valid_transform(text: BoxedStrategy<String>) -> impl Strategy<Value = Transform> {
    let word = text
        .clone()
        .prop_map(|w| w.trim().to_string())
        .prop_filter("a non-blank word", |w| !w.is_empty());
    prop_oneof![
        Just(Transform::Trim),
        Just(Transform::Upper),
        Just(Transform::Lower),
        proptest::collection::btree_map(text.clone(), text, 1..4).prop_map(Transform::ValueMap),
        (
            proptest::collection::vec(word.clone(), 1..3),
            proptest::collection::vec(word, 1..3)
        )
            .prop_filter("disjoint lists", |(t, f)| {
                !t.iter()
                    .any(|w| f.iter().any(|x| x.to_lowercase() == w.to_lowercase()))
            })
            .prop_map(|(true_words, false_words)| Transform::Boolean {
                true_words,
                false_words
            }),
        proptest::sample::select(&["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%Y%m%d", "%d %B %Y"][..])
            .prop_map(|f| Transform::Date {
                format: f.to_string()
            }),
        prop_oneof![1usize..10_000, Just(i64::MAX as usize)].prop_map(Transform::MaxLength),
    ]
}

/// Remote fields a record of a shipped mapping might carry: its own property names (and
/// others) with any text.
fn remote_fields() -> impl Strategy<Value = (usize, BTreeMap<String, String>)> {
    (0..SHIPPED.len()).prop_flat_map(|i| {
        let m = Mapping::parse(SHIPPED[i], Path::new(FILE)).expect("a shipped mapping parses");
        let mut names: Vec<String> = m.fields.iter().map(|f| f.remote.clone()).collect();
        names.push("Unmapped".into());
        let value = prop_oneof![
            odd_text(),
            proptest::sample::select(
                &[
                    "yes",
                    "No",
                    "true",
                    "31.12.2026",
                    "2026-12-31",
                    "2026-12-31T10:00:00Z",
                    "RELEASED",
                    " "
                ][..]
            )
            .prop_map(str::to_string),
        ];
        (
            Just(i),
            proptest::collection::btree_map(proptest::sample::select(names), value, 0..8),
        )
    })
}

/// The signatures the provenance check recognises, and none.
const MEDIA_HEADS: &[&[u8]] = &[
    b"",
    b"\0\0\0\x18ftypmp42",
    b"\0\0\0\x14ftypqt  ",
    b"\xFF\xD8\xFF\xE0",
    b"\x89PNG\r\n\x1a\n",
    b"RIFF\0\0\0\0WEBP",
    b"RIFF\0\0\0\0WAVE",
    b"RIFF\0\0\0\0AVI ",
    b"II*\0",
    b"MM\0*",
    b"GIF89a",
    b"ID3",
];

/// One checker for every case (building one reads the trust settings).
fn checker() -> &'static Checker {
    static CHECKER: OnceLock<Checker> = OnceLock::new();
    CHECKER.get_or_init(|| Checker::new(&ProvenancePolicy::default()).expect("a checker"))
}

/// A signed clip of each format, signed once.
fn signed(format: MediaFormat) -> &'static [u8] {
    static MP4: OnceLock<Vec<u8>> = OnceLock::new();
    static JPEG: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = match format {
        MediaFormat::Mp4 => &MP4,
        MediaFormat::Jpeg => &JPEG,
    };
    cell.get_or_init(|| {
        fixtures::clip(ClipKind::Signed, format, 4096, b"props", "sora-2/2.0.3")
            .expect("a signed clip")
    })
}

/// Checks `bytes` as a file: never a panic; on `Ok` the evidence gives the file's size and hash.
fn check_clip(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clip");
    std::fs::write(&path, bytes).expect("write");
    match checker().check(&path) {
        Ok(ev) => {
            prop_assert_eq!(ev.size_bytes, bytes.len() as u64);
            prop_assert_eq!(ev.sha256, hex::encode(Sha256::digest(bytes)));
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

/// A value a mapping key might be given: right, wrong type, or odd.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(
            &[
                "\"sku\"",
                "\"part_number\"",
                "\"asset\"",
                "\"link\"",
                "\"part\"",
                "\"plm\"",
                "\"dam\"",
                "\"newest\"",
                "true",
                "false",
                "0",
                "-1",
                "1e400",
                "[]",
                "[\"trim\", \"upper\"]",
                "[\"date:%d.%m.%Y\"]",
                "[\"boolean\"]",
                "[\"max_length:0\"]",
                "[\"max_length:18446744073709551616\"]",
                "[\"map\"]",
                "{ a = \"b\" }",
                "\"\"",
                "\"plm\"",
            ][..],
        )
        .prop_map(str::to_string),
        odd_text().prop_map(|s| format!("{s:?}")),
    ]
}

/// Mapping files built from the keys a mapping uses.
fn mapping_text() -> impl Strategy<Value = String> {
    let key = proptest::sample::select(
        &[
            "canonical",
            "entity",
            "remote",
            "owner",
            "transforms",
            "required",
            "values",
            "nope",
        ][..],
    );
    let field = proptest::collection::vec((key, toml_value()), 0..7).prop_map(|kv| {
        let mut s = String::from("[[field]]\n");
        for (k, v) in kv {
            s.push_str(&format!("{k} = {v}\n"));
        }
        s
    });
    (
        proptest::sample::select(&["windchill", "bynder", "", "x"][..]),
        proptest::sample::select(&["plm", "dam", "both"][..]),
        proptest::collection::vec(field, 0..6),
    )
        .prop_map(|(system, side, fields)| {
            format!(
                "system = \"{system}\"\nside = \"{side}\"\n\n{}",
                fields.join("\n")
            )
        })
}

/// A shipped mapping file with lines dropped, repeated or swapped.
fn shuffled_shipped() -> impl Strategy<Value = String> {
    (
        0..SHIPPED.len(),
        proptest::collection::vec((any::<usize>(), 0u8..3), 1..8),
    )
        .prop_map(|(i, edits)| {
            let mut lines: Vec<&str> = SHIPPED[i].lines().collect();
            for (at, op) in edits {
                if lines.is_empty() {
                    break;
                }
                let k = at % lines.len();
                match op {
                    0 => {
                        lines.remove(k);
                    }
                    1 => lines.insert(k, lines[k]),
                    _ => {
                        let n = lines.len();
                        lines.swap(k, (k + 1) % n);
                    }
                }
            }
            lines.join("\n")
        })
}

fn transform() -> impl Strategy<Value = Transform> {
    prop_oneof![
        Just(Transform::Trim),
        Just(Transform::Upper),
        Just(Transform::Lower),
        proptest::collection::btree_map(odd_text(), odd_text(), 0..4).prop_map(Transform::ValueMap),
        (
            proptest::collection::vec("[a-zA-Z]{1,6}", 1..3),
            proptest::collection::vec("[a-zA-Z]{1,6}", 1..3)
        )
            .prop_map(|(true_words, false_words)| Transform::Boolean {
                true_words,
                false_words
            }),
        proptest::sample::select(
            &[
                "%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%Y%m%d", "%e %B %Y", "%", "%Q"
            ][..]
        )
        .prop_map(|f| Transform::Date {
            format: f.to_string()
        }),
        (0usize..64).prop_map(Transform::MaxLength),
    ]
}

proptest! {
    #[test]
    fn prop_mapping_of_any_text_names_the_file(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn prop_generated_mappings_never_panic(text in mapping_text()) {
        check(&text);
    }

    #[test]
    fn prop_shipped_mappings_cut_and_shuffled_never_panic(text in shuffled_shipped()) {
        check(&text);
    }

    #[test]
    fn prop_transforms_read_and_write_anything(t in transform(), value in odd_text()) {
        let _ = t.to_canonical(&value);
        if let Ok(remote) = t.to_remote(&value)
            && let Transform::MaxLength(n) = t
        {
            prop_assert!(remote.len() <= n && value.starts_with(&remote));
        }
    }

    #[test]
    fn prop_dates_round_trip(days in 0i64..2_900_000, format in proptest::sample::select(&["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%Y%m%d"][..])) {
        let date = chrono::NaiveDate::from_num_days_from_ce_opt(days as i32).expect("date");
        let canonical = date.format("%Y-%m-%d").to_string();
        let t = Transform::Date { format: format.to_string() };
        let remote = t.to_remote(&canonical).expect("a canonical date is written");
        prop_assert_eq!(t.to_canonical(&remote).expect("read back"), canonical);
    }

    #[test]
    fn prop_booleans_and_value_maps_round_trip(
        // Disjoint, as the mapping parser insists (a word in both lists is refused there).
        true_words in proptest::collection::vec("[a-mA-M]{1,6}", 1..3),
        false_words in proptest::collection::vec("[n-zN-Z]{1,6}", 1..3),
        map in proptest::collection::btree_map("[a-z]{1,4}", "[A-Z]{1,4}", 1..5),
    ) {
        let b = Transform::Boolean { true_words, false_words };
        for v in ["true", "false"] {
            let remote = b.to_remote(v).expect("written");
            prop_assert_eq!(b.to_canonical(&remote).expect("read back"), v);
        }
        let canonical: Vec<String> = map.values().cloned().collect();
        let m = Transform::ValueMap(map.clone());
        for c in canonical {
            let remote = m.to_remote(&c).expect("written");
            prop_assert_eq!(m.to_canonical(&remote).expect("read back"), c);
        }
    }

    #[test]
    fn prop_transforms_written_read_back_the_same(
        transforms in proptest::collection::vec(valid_transform("[ -~é漢字🦀]{0,12}".boxed()), 1..4)
    ) {
        let text = with_transforms(&transforms);
        let m = Mapping::parse(&text, Path::new(FILE));
        prop_assert!(m.is_ok(), "{}\n{}", text, m.err().map(|e| e.to_string()).unwrap_or_default());
        let m = m.expect("checked");
        prop_assert_eq!(&m.fields[0].transforms, &transforms);
    }

    #[test]
    fn prop_transforms_of_any_text_written_read_back_the_same(
        transforms in proptest::collection::vec(valid_transform(odd_text().boxed()), 1..4)
    ) {
        let text = with_transforms(&transforms);
        let m = Mapping::parse(&text, Path::new(FILE));
        prop_assert!(m.is_ok(), "{}\n{}", text, m.err().map(|e| e.to_string()).unwrap_or_default());
        let m = m.expect("checked");
        prop_assert_eq!(&m.fields[0].transforms, &transforms);
    }

    #[test]
    fn prop_records_through_shipped_mappings_name_the_field((i, fields) in remote_fields()) {
        let m = Mapping::parse(SHIPPED[i], Path::new(FILE)).expect("a shipped mapping parses");
        let named = |e: &crate::mapping::FieldError| {
            m.fields.iter().any(|f| f.canonical == e.canonical && f.remote == e.remote)
        };
        for entity in [Entity::Part, Entity::Link, Entity::Asset] {
            match m.to_canonical(entity, &fields) {
                Ok(values) => {
                    if let Err(errs) = m.to_remote(entity, &values) {
                        prop_assert!(errs.iter().all(named), "{:?}", errs);
                    }
                }
                Err(errs) => prop_assert!(errs.iter().all(named), "{:?}", errs),
            }
        }
    }
}

proptest! {
    // Each case writes a file and runs the C2PA reader: 32 in `cargo test`, or as many as
    // PROPTEST_CASES says.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32),
        ..ProptestConfig::default()
    })]

    #[test]
    fn prop_provenance_of_any_file_never_panics(
        head in proptest::sample::select(MEDIA_HEADS),
        rest in bytes(),
    ) {
        let mut file = head.to_vec();
        file.extend_from_slice(&rest);
        check_clip(&file)?;
    }

    #[test]
    fn prop_provenance_of_changed_signed_clips_never_panics(
        jpeg in any::<bool>(),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<proptest::sample::Index>()),
    ) {
        let format = if jpeg { MediaFormat::Jpeg } else { MediaFormat::Mp4 };
        let mut file = signed(format).to_vec();
        for (at, byte) in flips {
            let i = at.index(file.len());
            file[i] ^= byte;
        }
        if let Some(at) = cut {
            file.truncate(at.index(file.len()));
        }
        check_clip(&file)?;
    }
}
