//! Property tests of what this connector parses from AEM: QueryBuilder results and their hits
//! (`p.hits=full`), Siren entities of the Assets HTTP API (with `srn:paging`), Sling/core
//! response bodies, `srn:paging`, and times. Properties: never panic; a rejected clip names its
//! path; times written as query bounds, or in the ECMA form Sling's JSON writer uses, read back
//! the same; metadata written in an asset update reads back from the asset as written. Run
//! longer with `scripts/props.sh`; add a target as one more `prop_…` test below.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use partreel_testkit::props::{bytes, deep, json, json_text, mutated, odd_text, record};
use proptest::prelude::*;
use serde_json::{Value, json};
use url::Url;

use crate::convert::{Convert, format_bound, metadata_fields, parse_time};
use crate::wire::{AssetUpdate, CoreResponse, QueryResult, SirenEntity, SrnPaging};

const KEYS: &[&str] = &[
    "jcr:path",
    "jcr:content",
    "jcr:created",
    "jcr:lastModified",
    "jcr:primaryType",
    "metadata",
    "dc:title",
    "dc:format",
    "dam:sha1",
    "name",
    "class",
    "properties",
    "entities",
    "links",
    "rel",
    "href",
    "srn:paging",
    "total",
    "offset",
    "hits",
    "more",
    "results",
    "success",
    "status.message",
    "partreel:sku",
];

fn convert() -> Convert {
    Convert {
        system: "aem".into(),
        base: Url::parse("https://author.example.com/").expect("url"),
        archive_property: Some("partreel:archived".into()),
    }
}

fn good_hit() -> Value {
    json!({"jcr:path": "/content/dam/acme/video-experiments/a.mp4",
           "jcr:created": "2026-11-20T08:00:00.000Z",
           "jcr:content": {"jcr:lastModified": "2026-11-21T08:00:00.000Z",
                           "metadata": {"dc:title": "a", "partreel:sku": "ACM-1",
                                        "partreel:archived": false}}})
}

fn check_hit(v: &Value) {
    let path = v
        .get("jcr:path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    match convert().hit(v) {
        Ok(exp) => assert_eq!(Some(exp.asset_id), path),
        Err(r) => assert_eq!(r.id, path, "the rejection names the path: {}", r.reason),
    }
}

proptest! {
    #[test]
    fn prop_query_hits_never_panic(v in record(KEYS)) {
        check_hit(&v);
    }

    #[test]
    fn prop_mutated_hits_never_panic(v in mutated(good_hit(), KEYS)) {
        check_hit(&v);
    }

    #[test]
    fn prop_query_results_and_siren_entities_never_panic(v in json(KEYS)) {
        if let Ok(q) = serde_json::from_value::<QueryResult>(v.clone()) {
            for hit in &q.hits {
                check_hit(hit);
            }
        }
        if let Ok(e) = serde_json::from_value::<SirenEntity>(v.clone()) {
            let _ = Convert::has_modified(&e);
            let _ = e.link("self");
            match convert().entity("/content/dam/acme/x.mp4", &e) {
                Ok(exp) => prop_assert_eq!(exp.asset_id, "/content/dam/acme/x.mp4"),
                Err(r) => prop_assert_eq!(r.id.as_deref(), Some("/content/dam/acme/x.mp4")),
            }
        }
        if let Some(m) = v.as_object() {
            let _ = metadata_fields(m);
        }
    }

    #[test]
    fn prop_bodies_of_any_bytes_never_panic(body in bytes()) {
        let _ = CoreResponse::message(&body);
        let _ = serde_json::from_slice::<QueryResult>(&body);
        let _ = serde_json::from_slice::<SirenEntity>(&body);
    }

    #[test]
    fn prop_query_bounds_round_trip(ms in 0i64..32_503_680_000_000) {
        let t: DateTime<Utc> = Utc.timestamp_millis_opt(ms).single().expect("in range");
        prop_assert_eq!(parse_time(&format_bound(t)), Some(t));
    }

    #[test]
    fn prop_odd_times_never_panic(s in odd_text()) {
        let _ = parse_time(&s);
    }

    #[test]
    fn prop_bodies_as_text_never_panic(text in json_text(KEYS)) {
        let _ = CoreResponse::message(text.as_bytes());
        if let Ok(q) = serde_json::from_str::<QueryResult>(&text) {
            for hit in &q.hits {
                check_hit(hit);
            }
        }
        if let Ok(e) = serde_json::from_str::<SirenEntity>(&text)
            && let Some(p) = e.properties.get("srn:paging")
        {
            let _ = serde_json::from_value::<SrnPaging>(p.clone());
        }
    }

    #[test]
    fn prop_deep_hits_never_panic(v in deep(KEYS)) {
        check_hit(&v);
        if let Some(m) = v.as_object() {
            let _ = metadata_fields(m);
        }
    }

    #[test]
    fn prop_sling_dates_round_trip(secs in 0i64..253_402_300_799, offset_min in -14 * 60i32..=14 * 60, millis in 0u32..1000) {
        let t: DateTime<Utc> = Utc.timestamp_opt(secs, 0).single().expect("in range");
        let zone = FixedOffset::east_opt(offset_min * 60).expect("offset");
        let local = t.with_timezone(&zone);
        prop_assert_eq!(parse_time(&local.format("%a %b %d %Y %H:%M:%S GMT%z").to_string()), Some(t));
        let with_ms = t + chrono::Duration::milliseconds(i64::from(millis));
        prop_assert_eq!(
            parse_time(&with_ms.with_timezone(&zone).format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()),
            Some(with_ms)
        );
    }

    #[test]
    fn prop_metadata_updates_read_back_as_written(
        props in proptest::collection::btree_map("(dc|acme|partreel|dam):[a-zA-Z][a-zA-Z0-9_]{0,10}", odd_text(), 0..8)
    ) {
        let update = AssetUpdate {
            class: "asset",
            properties: props.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        };
        let body = serde_json::to_value(&update).expect("json");
        let metadata = body["properties"].as_object().expect("properties");
        let read = metadata_fields(metadata);
        let want: BTreeMap<String, String> = props.clone();
        prop_assert_eq!(read.into_iter().collect::<BTreeMap<_, _>>(), want);
    }
}
