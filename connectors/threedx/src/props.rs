//! Property tests of what this connector parses from 3DEXPERIENCE: engineering items (search,
//! bulk fetch `member` collections), documents (the document service's `data` envelope with
//! `dataelements` and `relateddata.parents`), the document envelope's failure check, and the
//! 3DPassport/CSRF answers of the login, the session cookies collected from the login's
//! `Set-Cookie` headers, and times. Properties: never panic; a rejected record names its `id`;
//! a failed envelope says so and names its status; the cookie jar reads back as the last value
//! each cookie was set to; a time written (search predicates, ENOVIA's classic form) reads back
//! the same. Run longer with `scripts/props.sh`; add a target as one more `prop_…` test below.

use chrono::{DateTime, TimeZone, Utc};
use partreel_connector::http::Response;
use partreel_testkit::props::{bytes, deep, json, json_text, mutated, odd_text, record};
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, SET_COOKIE};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::auth::merge_cookies;
use crate::convert::{link, part};
use crate::wire::{
    AuthParams, CsrfAnswer, DocsEnvelope, Members, TransientLogin, TransientToken, format_time,
    parse_time,
};

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

/// A `Set-Cookie` header value: `name=value` and attributes, or something odd.
fn set_cookie() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (
            proptest::sample::select(&["CASTGC", "JSESSIONID", "SERVERID", "afs", "x"][..]),
            "[A-Za-z0-9+/=_.-]{0,16}",
            proptest::sample::select(&["", "; Path=/", "; HttpOnly; Secure", "; Max-Age=0", ";"][..]),
        )
            .prop_map(|(n, v, attrs)| format!("{n}={v}{attrs}")),
        1 => "[ -~]{0,40}",
        1 => odd_text(),
    ]
}

/// The jar as `name → value`, in order, the way the next `merge_cookies` reads it.
fn jar_pairs(jar: &Option<SecretString>) -> Vec<(String, String)> {
    jar.as_ref()
        .map(|c| {
            c.expose_secret()
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
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

    #[test]
    fn prop_answers_as_text_never_panic(text in json_text(KEYS)) {
        let body = text.as_bytes();
        let _ = serde_json::from_slice::<AuthParams>(body);
        let _ = serde_json::from_slice::<TransientToken>(body);
        let _ = serde_json::from_slice::<TransientLogin>(body);
        let _ = serde_json::from_slice::<CsrfAnswer>(body);
        if let Ok(m) = serde_json::from_slice::<Members>(body) {
            for rec in &m.member {
                check(rec);
            }
        }
        if let Ok(env) = serde_json::from_slice::<DocsEnvelope>(body) {
            let _ = env.check();
        }
    }

    #[test]
    fn prop_deep_records_never_panic(v in deep(KEYS)) {
        check(&v);
    }

    #[test]
    fn prop_failed_envelopes_name_their_status(code in proptest::option::of(any::<i64>()), message in proptest::option::of(odd_text()), error in proptest::option::of(json(KEYS))) {
        let mut v = json!({"success": false, "data": []});
        if let Some(c) = code { v["statusCode"] = json!(c); }
        if let Some(m) = &message { v["message"] = json!(m); }
        if let Some(e) = &error { v["error"] = e.clone(); }
        let env: DocsEnvelope = serde_json::from_value(v).expect("an envelope");
        let err = env.check().expect_err("success: false is a failure");
        let prefix = format!("statusCode {}: ", code.unwrap_or(0));
        prop_assert!(err.starts_with(&prefix), "{}", err);
    }

    #[test]
    fn prop_session_cookies_read_back_as_last_set(rounds in proptest::collection::vec(proptest::collection::vec(set_cookie(), 0..5), 1..4)) {
        let mut jar: Option<SecretString> = None;
        let mut want: Vec<(String, String)> = Vec::new();
        for headers in rounds {
            let mut map = HeaderMap::new();
            for h in &headers {
                let Ok(v) = HeaderValue::from_str(h) else { continue };
                // What `merge_cookies` takes from a header it can read: the first `k=v`.
                if let Ok(text) = v.to_str()
                    && let Some((k, val)) = text.split(';').next().and_then(|p| p.trim().split_once('='))
                {
                    match want.iter_mut().find(|(n, _)| n == k) {
                        Some(slot) => slot.1 = val.to_string(),
                        None => want.push((k.to_string(), val.to_string())),
                    }
                }
                map.append(SET_COOKIE, v);
            }
            let resp = Response {
                status: StatusCode::FOUND,
                headers: map,
                body: Default::default(),
                server_time: None,
            };
            merge_cookies(&mut jar, &resp);
            prop_assert_eq!(jar_pairs(&jar), want.clone());
        }
    }

    #[test]
    fn prop_times_round_trip(secs in 0i64..253_402_300_799) {
        let t: DateTime<Utc> = Utc.timestamp_opt(secs, 0).single().expect("in range");
        prop_assert_eq!(parse_time(&format_time(t)), Some(t));
        // ENOVIA's classic form, read as UTC.
        prop_assert_eq!(parse_time(&t.format("%m/%d/%Y %I:%M:%S %p").to_string()), Some(t));
    }
}
