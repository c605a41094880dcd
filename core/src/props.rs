//! Property tests of the mapping files (TOML an admin writes) and their transforms. Properties:
//! parsing never panics and every error names the file (and a line and key); the shipped
//! mapping files, cut or shuffled line by line, still parse or fail cleanly; each transform
//! reads anything without panicking, and writing a canonical value then reading it back gives
//! the value (dates, yes/no words, value maps). Run longer with `scripts/props.sh`.

use std::path::Path;

use partreel_testkit::props::odd_text;
use proptest::prelude::*;

use crate::mapping::{Mapping, Transform};

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
        for e in &errs.0 {
            assert_eq!(e.file, Path::new(FILE));
            assert!(!e.message.is_empty(), "{e}");
        }
        assert!(errs.to_string().contains(FILE));
    }
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
}
