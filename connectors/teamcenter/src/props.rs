//! Property tests of what this connector parses from Teamcenter's SOA JSON: `ServiceData`
//! (model objects with `dbValues`/`uiValues`, `partialErrors` with their client indexes),
//! exceptions, the session-expiry and invalid-user bodies, and item revisions and link records
//! read from model objects, and the operation outputs (query results, created objects and
//! relations, expanded relations). Properties: never panic; a rejected part names its uid and
//! a rejected link its link id; a partial error's index is the one the body gave, and its
//! message carries every code; a query time written then read gives the same time. Run longer
//! with `scripts/props.sh`; add a target as one more `prop_…` test below, with this vocabulary.

use chrono::{DateTime, TimeZone, Utc};
use partreel_testkit::props::{bytes, deep, json, json_text, mutated, odd_text};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::convert::{Names, link, parse_time, part, query_time};
use crate::wire::{
    CreateRelationsResponse, CreateResponse, ExpandResponse, ItemFromIdResponse, QueryResponse,
    exception, is_invalid_user, is_stale, service_data, set_property_service_data,
};

const SOA_KEYS: &[&str] = &[
    "ServiceData",
    "modelObjects",
    "partialErrors",
    "plain",
    "uid",
    "className",
    "type",
    "props",
    "dbValues",
    "uiValues",
    "item_id",
    "item_revision_id",
    "object_name",
    "last_mod_date",
    "creation_date",
    "release_status_list",
    "partreel_link_id",
    "clientId",
    "clientIndex",
    "errorValues",
    "message",
    "code",
    "level",
    ".QName",
    "output",
    "arrayOfResults",
    "objectUIDS",
    "itemRevOutput",
    "itemRevision",
    "objects",
    "relation",
    "inputObject",
    "relationshipData",
    "relationshipObjects",
    "otherSideObject",
    "data",
];

fn names() -> Names {
    Names {
        modified: "last_mod_date".into(),
        part_status: "release_status_list".into(),
        unreleased_state: "In Work".into(),
        link_id: "partreel_link_id".into(),
    }
}

fn good_answer() -> Value {
    let prop = |v: &str| json!({"dbValues": [v], "uiValues": [v]});
    json!({"ServiceData": {
        "plain": ["R1"],
        "modelObjects": {"R1": {"uid": "R1", "className": "ItemRevision", "type": "ItemRevision",
            "props": {"item_id": prop("ST-1"), "item_revision_id": prop("A"),
                      "object_name": prop("Stunt track"),
                      "last_mod_date": prop("2026-11-21T08:00:00+00:00"),
                      "partreel_link_id": prop("ptp-1")}}},
        "partialErrors": [{"clientId": "", "clientIndex": 0, "uid": "R2",
            "errorValues": [{"message": "Access denied", "code": 515001, "level": 3}]}]
    }})
}

fn check(answer: &Value) {
    let props = ["object_name".to_string()];
    for sd in [service_data(answer), set_property_service_data(answer)]
        .into_iter()
        .flatten()
    {
        for obj in sd.model_objects.values() {
            if let Err(r) = part("teamcenter", obj, &props, &names()) {
                assert_eq!(r.id.as_deref(), Some(obj.uid.as_str()), "names the object");
            }
            if let Err(r) = link(obj, &props, &names()) {
                let link_id = obj
                    .props
                    .get("partreel_link_id")
                    .and_then(|p| p.db().first().map(|s| s.to_string()));
                assert_eq!(r.id, link_id, "names the link: {}", r.reason);
            }
        }
        for e in sd.errors() {
            let message = e.message();
            for code in e.error_values.iter().filter_map(|v| v.code) {
                assert!(message.contains(&format!("(code {code})")), "{message}");
            }
            let _ = e.index();
        }
    }
    let _ = exception(answer);
    let _ = serde_json::from_value::<QueryResponse>(answer.clone());
    let _ = serde_json::from_value::<ItemFromIdResponse>(answer.clone());
    let _ = serde_json::from_value::<CreateResponse>(answer.clone());
    let _ = serde_json::from_value::<CreateRelationsResponse>(answer.clone());
    let _ = serde_json::from_value::<ExpandResponse>(answer.clone());
}

proptest! {
    #[test]
    fn prop_soa_answers_never_panic(v in json(SOA_KEYS)) {
        check(&v);
    }

    #[test]
    fn prop_mutated_service_data_never_panics(v in mutated(good_answer(), SOA_KEYS)) {
        check(&v);
    }

    #[test]
    fn prop_session_bodies_of_any_bytes_never_panic(body in bytes()) {
        let _ = is_invalid_user(&body);
        let _ = is_stale(&body);
        if let Ok(v) = serde_json::from_slice::<Value>(&body) {
            check(&v);
        }
    }

    #[test]
    fn prop_partial_error_indexes_come_from_the_body(i in 0u64..1_000_000, as_text in any::<bool>(), pad in "[ \t]{0,2}") {
        let index = if as_text { json!(format!("{pad}{i}{pad}")) } else { json!(i) };
        let answer = json!({"ServiceData": {"partialErrors": [
            {"clientIndex": index, "errorValues": [{"message": "no", "code": 1, "level": 3}]}]}});
        let sd = service_data(&answer).expect("a ServiceData");
        let e = sd.partial_errors.first().expect("one error");
        prop_assert_eq!(e.index(), usize::try_from(i).ok());
    }

    #[test]
    fn prop_answers_as_text_never_panic(text in json_text(SOA_KEYS)) {
        let _ = is_invalid_user(text.as_bytes());
        let _ = is_stale(text.as_bytes());
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            check(&v);
        }
    }

    #[test]
    fn prop_deep_answers_never_panic(v in deep(SOA_KEYS)) {
        check(&v);
    }

    #[test]
    fn prop_query_times_round_trip(secs in -62_135_596_800i64..253_402_300_799) {
        let t: DateTime<Utc> = Utc.timestamp_opt(secs, 0).single().expect("in range");
        prop_assert_eq!(parse_time(&query_time(t)), Some(t));
    }

    #[test]
    fn prop_odd_times_never_panic(s in odd_text()) {
        let _ = parse_time(&s);
    }
}
