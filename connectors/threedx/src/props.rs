//! Property tests of what this connector parses from 3DEXPERIENCE: engineering items (search,
//! bulk fetch `member` collections), documents (the document service's `data` envelope with
//! `dataelements` and `relateddata.parents`), the document envelope's failure check, and the
//! 3DPassport/CSRF answers of the login. Properties: never panic; a rejected record names its
//! `id`; a failed envelope says so. Run longer with `scripts/props.sh`.

use partreel_testkit::props::{bytes, json, mutated, odd_text, record};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::convert::{link, part};
use crate::wire::{AuthParams, CsrfAnswer, DocsEnvelope, Members, TransientToken, parse_time};

const KEYS: &[&str] = &[
    "id",
    "type",
    "name",
    "title",
    "revision",
    "state",
    "modified",
    "created",
    "originated",
    "dseng:EnterpriseReference",
    "partNumber",
    "dataelements",
    "relateddata",
    "parents",
    "parentId",
    "partreelLinkId",
    "prompt",
    "extensions",
    "member",
    "data",
    "success",
    "statusCode",
    "message",
    "error",
    "totalItems",
    "lt",
    "response",
    "x3ds_transient_token",
    "csrf",
    "value",
];

fn good_item() -> Value {
    json!({"id": "E1", "type": "VPMReference", "name": "prd-1", "title": "Playset",
           "revision": "A.1", "state": "IN_WORK", "modified": "2026-11-21T08:00:00Z",
           "dseng:EnterpriseReference": {"partNumber": "PL-4001"}})
}

fn good_doc() -> Value {
    json!({"id": "D1", "type": "Document",
           "dataelements": {"title": "clip", "modified": "2026-11-21T08:00:00Z",
                            "originated": "2026-11-20T08:00:00Z", "partreelLinkId": "ptp-1",
                            "prompt": "a playset"},
           "relateddata": {"parents": [{"id": "E1"}]}})
}

fn raw_id(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_string)
}

fn check(v: &Value) {
    let props = ["prompt".to_string(), "title".to_string()];
    if let Err(r) = part("threedx", v, &props) {
        assert_eq!(
            r.id,
            raw_id(v),
            "the rejection names the item: {}",
            r.reason
        );
    }
    if let Err(r) = link(v, "partreelLinkId", &props) {
        assert_eq!(
            r.id,
            raw_id(v),
            "the rejection names the document: {}",
            r.reason
        );
    }
}

proptest! {
    #[test]
    fn prop_items_and_documents_never_panic(v in record(KEYS)) {
        check(&v);
    }

    #[test]
    fn prop_mutated_items_and_documents_never_panic(v in prop_oneof![mutated(good_item(), KEYS), mutated(good_doc(), KEYS)]) {
        check(&v);
    }

    #[test]
    fn prop_collections_and_envelopes_never_panic(v in json(KEYS)) {
        if let Ok(m) = serde_json::from_value::<Members>(v.clone()) {
            for rec in &m.member {
                check(rec);
            }
        }
        if let Ok(env) = serde_json::from_value::<DocsEnvelope>(v.clone()) {
            let failed = env.success == Some(false);
            prop_assert!(!failed || env.check().is_err(), "a failed envelope is an error");
            for rec in &env.data {
                check(rec);
            }
        }
    }

    #[test]
    fn prop_login_answers_of_any_bytes_never_panic(body in bytes()) {
        let _ = serde_json::from_slice::<AuthParams>(&body);
        let _ = serde_json::from_slice::<TransientToken>(&body);
        let _ = serde_json::from_slice::<CsrfAnswer>(&body);
        let _ = serde_json::from_slice::<DocsEnvelope>(&body);
    }

    #[test]
    fn prop_odd_times_never_panic(s in odd_text()) {
        let _ = parse_time(&s);
    }
}
