//! Property tests of what the HTTP plumbing reads from any server: `Retry-After` (seconds or an
//! HTTP date), `Date`, and the message of an error body (OData, SOA, Siren and plain shapes).
//! Properties: never panic; a message is bounded; a date written in the HTTP form reads back
//! the same. Run longer with `scripts/props.sh`.

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use partreel_testkit::props::{bytes, json, odd_text};
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use crate::http::{Response, parse_http_date};

const ERROR_KEYS: &[&str] = &[
    "error",
    "message",
    "code",
    "value",
    "errors",
    "status.message",
    "title",
    "detail",
];

fn response(retry_after: Option<&str>, body: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(RETRY_AFTER, v);
    }
    Response {
        status: StatusCode::TOO_MANY_REQUESTS,
        headers,
        body: Bytes::from(body),
        server_time: Some(Utc.timestamp_opt(1_800_000_000, 0).single().expect("time")),
    }
}

proptest! {
    #[test]
    fn prop_retry_after_and_error_bodies_never_panic(v in odd_text(), body in bytes()) {
        let r = response(Some(&v), body);
        let _ = r.retry_after();
        // Bounded: a few hundred characters of the server's words, whatever it sent.
        prop_assert!(r.error_message().chars().count() <= 400);
    }

    #[test]
    fn prop_json_error_bodies_give_a_bounded_message(v in json(ERROR_KEYS)) {
        let r = response(None, serde_json::to_vec(&v).expect("json"));
        prop_assert!(r.error_message().chars().count() <= 400);
    }

    #[test]
    fn prop_retry_after_seconds_read_as_given(secs in 0u64..10_000_000) {
        let r = response(Some(&secs.to_string()), Vec::new());
        prop_assert_eq!(r.retry_after(), Some(std::time::Duration::from_secs(secs)));
    }

    #[test]
    fn prop_http_dates_round_trip(secs in 0i64..253_402_300_799) {
        let t = Utc.timestamp_opt(secs, 0).single().expect("time");
        let text = t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        prop_assert_eq!(parse_http_date(&text), Some(t));
    }
}
