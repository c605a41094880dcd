//! Property tests of what this connector parses from Bynder: media records (`GET
//! /api/v4/media/`, pages of them), metaproperty definitions, the status envelope and the
//! download answer, times and option lists. Properties: never panic; a rejected media names its
//! id when it has one; times written then read give the same time; metaproperty definitions read
//! as written, and a value written through them (select options as ids) reads back from the
//! media as the value written. Strategies come from `partreel_testkit::props`; run them longer
//! with `scripts/props.sh`; add a target as one more `prop_…` test below.

use chrono::{DateTime, TimeZone, Utc};
use partreel_connector::model::RemoteFields;
use partreel_testkit::props::{bytes, deep, id_of, json, json_text, mutated, odd_text, record};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::convert::{format_time, media_to_experiment, parse_time, split_options};
use crate::metaprops::{Metaproperties, read_back_matches};
use crate::wire::{DownloadUrl, StatusMessage};

/// Bynder's media vocabulary.
const MEDIA_KEYS: &[&str] = &[
    "id",
    "name",
    "type",
    "dateModified",
    "dateCreated",
    "version",
    "archive",
    "videoPreviewURLs",
    "property_SKU",
    "property_Prompt",
    "property_Campaign",
    "extension",
];

/// Metaproperty definitions' vocabulary.
const METAPROP_KEYS: &[&str] = &[
    "id",
    "name",
    "label",
    "type",
    "isMultiselect",
    "isRequired",
    "options",
    "SKU",
    "Campaign",
];

fn good_media() -> Value {
    json!({
        "id": "A1", "name": "clip-A1", "type": "video", "extension": ["mp4"],
        "dateCreated": "2026-11-20T10:00:00Z", "dateModified": "2026-11-21T08:00:00Z",
        "archive": 0, "version": 3, "videoPreviewURLs": ["https://cdn.example/A1/preview.mp4"],
        "property_SKU": ["ACM-1"], "property_Prompt": "a red car",
    })
}

/// A select metaproperty's options (name → id, ids unique as Bynder's are), or none, with its
/// type.
fn definition() -> impl Strategy<Value = (String, Vec<(String, String)>)> {
    prop_oneof![
        (
            proptest::sample::select(&["select", "multiselect", "select2", "autocomplete"][..]),
            proptest::collection::btree_set("[A-Za-z0-9][A-Za-z0-9 _-]{0,8}[A-Za-z0-9]", 1..6),
        )
            .prop_map(|(kind, names)| {
                let options = names
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (n, format!("0C1E{i:04}-opt")))
                    .collect();
                (kind.to_string(), options)
            }),
        proptest::sample::select(&["text", "longtext", "date", "number", ""][..])
            .prop_map(|kind| (kind.to_string(), Vec::new())),
    ]
}

/// The value a write sends for a definition: some of its options, a date, or text.
fn value_for(kind: &str, options: &[(String, String)]) -> BoxedStrategy<String> {
    if !options.is_empty() {
        let names: Vec<String> = options.iter().map(|(n, _)| n.clone()).collect();
        return proptest::sample::subsequence(names.clone(), 1..=names.len())
            .prop_map(|picked| picked.join(", "))
            .boxed();
    }
    if kind == "date" {
        return (0i64..2_900_000)
            .prop_map(|d| {
                let date = chrono::NaiveDate::from_num_days_from_ce_opt(d as i32).expect("date");
                date.format("%Y-%m-%d").to_string()
            })
            .boxed();
    }
    "[ -~]{0,40}".boxed()
}

fn check_media(v: &Value) {
    match media_to_experiment("bynder", v) {
        Ok(exp) => assert_eq!(Some(exp.asset_id), id_of(v, "id")),
        Err(rejected) => {
            assert!(!rejected.reason.is_empty());
            assert_eq!(rejected.id, id_of(v, "id"), "the rejection names the media");
        }
    }
}

proptest! {
    #[test]
    fn prop_media_records_never_panic_and_rejections_name_the_media(v in record(MEDIA_KEYS)) {
        check_media(&v);
    }

    #[test]
    fn prop_mutated_media_never_panic(v in mutated(good_media(), MEDIA_KEYS)) {
        check_media(&v);
    }

    #[test]
    fn prop_any_json_as_media_never_panics(v in json(MEDIA_KEYS)) {
        check_media(&v);
    }

    #[test]
    fn prop_metaproperties_parse_any_body(body in bytes()) {
        let _ = Metaproperties::parse(&body);
    }

    #[test]
    fn prop_metaproperties_parse_any_json(v in json(METAPROP_KEYS)) {
        let body = serde_json::to_vec(&v).expect("serialise");
        if let Ok(m) = Metaproperties::parse(&body) {
            // Every definition read has a name.
            prop_assert!(m.iter().all(|p| !p.name.is_empty()));
        }
    }

    #[test]
    fn prop_times_round_trip(secs in 0i64..32_503_680_000) {
        let t: DateTime<Utc> = Utc.timestamp_opt(secs, 0).single().expect("in range");
        prop_assert_eq!(parse_time(&format_time(t)), Some(t));
    }

    #[test]
    fn prop_odd_times_and_option_lists_never_panic(s in odd_text()) {
        let _ = parse_time(&s);
        for option in split_options(&s) {
            prop_assert!(!option.is_empty() && option.trim() == option);
        }
    }

    #[test]
    fn prop_pages_and_envelopes_as_text_never_panic(text in json_text(MEDIA_KEYS)) {
        if let Ok(page) = serde_json::from_str::<Vec<Value>>(&text) {
            for media in &page {
                check_media(media);
            }
        }
        let _ = serde_json::from_str::<StatusMessage>(&text);
        let _ = serde_json::from_str::<DownloadUrl>(&text);
        let _ = Metaproperties::parse(text.as_bytes());
    }

    #[test]
    fn prop_deep_media_never_panic(v in deep(MEDIA_KEYS)) {
        check_media(&v);
    }

    #[test]
    fn prop_values_written_read_back_as_written(
        (name, kind, options, value) in ("[A-Za-z][A-Za-z0-9_]{0,10}", definition())
            .prop_flat_map(|(name, (kind, options))| {
                let value = value_for(&kind, &options);
                (Just(name), Just(kind), Just(options), value)
            })
    ) {
        // The definitions as Bynder serves them, read as written.
        let opts: Vec<Value> = options.iter().map(|(n, id)| json!({"id": id, "name": n})).collect();
        let body = json!({ name.clone(): {"id": "MP-1", "name": name, "type": kind, "options": opts} });
        let defs = Metaproperties::parse(body.to_string().as_bytes()).expect("definitions");
        let def = defs.get(&name).expect("the metaproperty");
        prop_assert_eq!(def.options.len(), options.len());
        for (n, id) in &options {
            prop_assert_eq!(def.options.get(n), Some(id));
        }
        // The write, and what Bynder then holds and answers on the media.
        let fields: RemoteFields = [(name.clone(), value.clone())].into_iter().collect();
        let planned = defs.plan(&fields).expect("every option is known");
        let field = planned.first().expect("one field");
        let stored = if def.option_based {
            let by_id: std::collections::BTreeMap<&str, &str> = options.iter().map(|(n, id)| (id.as_str(), n.as_str())).collect();
            let names: Vec<&str> = field.form_value.split(',').filter_map(|id| by_id.get(id).copied()).collect();
            json!(names)
        } else if kind == "date" {
            json!(format!("{}T00:00:00Z", field.form_value))
        } else {
            json!(field.form_value)
        };
        let media = json!({"id": "A1", "dateModified": "2026-11-21T08:00:00Z", format!("property_{name}"): stored});
        let read = media_to_experiment("bynder", &media).expect("the media");
        prop_assert!(
            read_back_matches(field, read.fields.get(&name).map(String::as_str)),
            "wrote {:?} as {:?}, read {:?}", value, field.form_value, read.fields.get(&name)
        );
    }
}
