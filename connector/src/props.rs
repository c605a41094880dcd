//! Property tests of what the HTTP plumbing reads from any server: `Retry-After` (seconds or an
//! HTTP date), `Date`, and the message of an error body (OData, SOA, Siren and plain shapes).
//! Also the link status text a PLM record carries. Properties: never panic; a message is
//! bounded; a date written in the HTTP form reads back the same, and as a `Retry-After` it is
//! the wait until then by the server's clock; a status written reads back the same. Run longer
//! with `scripts/props.sh`; add a target as one more `prop_…` test below.

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use partreel_testkit::props::{bytes, json, json_text, odd_text};
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use crate::http::{Response, parse_http_date};
use crate::model::LinkStatus;

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

/// The server's clock in [`response`].
const SERVER_SECS: i64 = 1_800_000_000;

fn response(retry_after: Option<&str>, body: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(RETRY_AFTER, v);
    }
    Response {
        status: StatusCode::TOO_MANY_REQUESTS,
        headers,
        body: Bytes::from(body),
        server_time: Some(Utc.timestamp_opt(SERVER_SECS, 0).single().expect("time")),
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

    #[test]
    fn prop_json_text_error_bodies_give_a_bounded_message(text in json_text(ERROR_KEYS)) {
        let r = response(None, text.into_bytes());
        prop_assert!(r.error_message().chars().count() <= 300);
        let _ = r.error_code();
    }

    #[test]
    fn prop_retry_after_dates_read_as_the_wait_until_then(ahead in -1_000_000i64..1_000_000) {
        let at = Utc.timestamp_opt(SERVER_SECS + ahead, 0).single().expect("time");
        let r = response(Some(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()), Vec::new());
        // A date in the past is no wait to honour; chrono's `to_std` refuses a negative span.
        let want = u64::try_from(ahead).ok().map(std::time::Duration::from_secs);
        prop_assert_eq!(r.retry_after(), want);
    }

    #[test]
    fn prop_link_statuses_round_trip(s in prop_oneof![
        proptest::sample::select(&["active", "retired", "non_compliant", "rights_expired"][..]).prop_map(str::to_string),
        odd_text(),
    ]) {
        if let Some(status) = LinkStatus::parse(&s) {
            prop_assert_eq!(status.as_str(), s.as_str());
            prop_assert_eq!(LinkStatus::parse(status.as_str()), Some(status));
        }
    }
}
