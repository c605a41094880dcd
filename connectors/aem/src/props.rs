//! Property tests of what this connector parses from AEM: QueryBuilder results and their hits
//! (`p.hits=full`), Siren entities of the Assets HTTP API (with `srn:paging`), Sling/core
//! response bodies, and times. Properties: never panic; a rejected clip names its path; times
//! written as query bounds read back the same. Run longer with `scripts/props.sh`.

use chrono::{DateTime, TimeZone, Utc};
use partreel_testkit::props::{bytes, json, mutated, odd_text, record};
use proptest::prelude::*;
use serde_json::{Value, json};
use url::Url;

use crate::convert::{Convert, format_bound, metadata_fields, parse_time};
use crate::wire::{CoreResponse, QueryResult, SirenEntity};

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
}
