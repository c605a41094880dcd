//! Property tests of what this connector parses from Teamcenter's SOA JSON: `ServiceData`
//! (model objects with `dbValues`/`uiValues`, `partialErrors` with their client indexes),
//! exceptions, the session-expiry and invalid-user bodies, and item revisions and link records
//! read from model objects. Properties: never panic; a rejected model object names its uid;
//! a partial error's index is one the body gave. Run longer with `scripts/props.sh`.

use partreel_testkit::props::{bytes, json, mutated};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::convert::{Names, link, part};
use crate::wire::{exception, is_invalid_user, is_stale, service_data, set_property_service_data};

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
                      "last_mod_date": prop("2026-11-21T08:00:00+0000"),
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
            let _ = link(obj, &props, &names());
        }
        for e in sd.errors() {
            let _ = e.message();
            let _ = e.index();
        }
    }
    let _ = exception(answer);
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
    fn prop_partial_error_indexes_come_from_the_body(i in 0u64..1_000_000, as_text in any::<bool>()) {
        let index = if as_text { json!(i.to_string()) } else { json!(i) };
        let answer = json!({"ServiceData": {"partialErrors": [
            {"clientIndex": index, "errorValues": [{"message": "no", "code": 1, "level": 3}]}]}});
        let sd = service_data(&answer).expect("a ServiceData");
        let e = sd.partial_errors.first().expect("one error");
        if let Some(got) = e.index() {
            prop_assert_eq!(got as u64, i);
        }
    }
}
