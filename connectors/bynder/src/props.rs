//! Property tests of what this connector parses from Bynder: media records (`GET
//! /api/v4/media/`), metaproperty definitions, times and option lists. Properties: never panic;
//! a rejected media names its id when it has one; times written then read give the same time.
//! Strategies come from `partreel_testkit::props`; run them longer with `scripts/props.sh`.

use chrono::{DateTime, TimeZone, Utc};
use partreel_testkit::props::{bytes, id_of, json, mutated, odd_text, record};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::convert::{format_time, media_to_experiment, parse_time, split_options};
use crate::metaprops::Metaproperties;

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
}
