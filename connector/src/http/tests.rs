//! Unit tests for the HTTP plumbing: the retry table, the wait rules, [`HttpClient::send`]
//! against wiremock and a raw TCP server (cut-short bodies), re-authentication, the OAuth
//! client-credentials grant, secret references, and a log capture proving no secret is logged.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::oauth::{ClientAuthMethod, ClientCredentials, set_basic, set_bearer};
use super::retry::classify;
use super::secret::SecretError;
use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Retries fast so a test never waits on backoff (only on an explicit `Retry-After`).
fn fast() -> HttpConfig {
    HttpConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 1000,
            per_secs: 1,
            burst: Some(1000),
        }),
        retry: RetryConfig {
            max_attempts: 4,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            rate_limited_backoff_ms: 1,
            max_retry_after_secs: 5,
            max_timeouts: 2,
        },
        ..HttpConfig::default()
    }
}

fn client(config: &HttpConfig) -> HttpClient {
    HttpClient::new("testsys", config, &RateLimitConfig::default()).expect("build the test client")
}

use partreel_testkit::mock::server;

fn url(base: &str, p: &str) -> Url {
    Url::parse(&format!("{base}{p}")).expect("test url")
}

/// Requests the server received on `p`.
async fn hits(s: &MockServer, p: &str) -> usize {
    s.received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

/// Mounts `template` for the next `n` requests to `GET|POST p`, ahead of later mounts.
async fn first_n(s: &MockServer, p: &str, n: u64, template: ResponseTemplate) {
    Mock::given(path(p))
        .respond_with(template)
        .up_to_n_times(n)
        .with_priority(1)
        .expect(n)
        .mount(s)
        .await;
}

/// Mounts `template` for every request to `p` not answered by a higher-priority mock.
async fn always(s: &MockServer, p: &str, template: ResponseTemplate) {
    Mock::given(path(p))
        .respond_with(template)
        .with_priority(2)
        .mount(s)
        .await;
}

// ---------------------------------------------------------------------------------------------
// (a) retry::classify — one row per line of its doc comment
// ---------------------------------------------------------------------------------------------

#[test]
fn classify_follows_the_documented_policy() {
    use RetryAction::{Ambiguous, Fail, Retry};
    let ra = Some(Duration::from_secs(7));
    // (status, retry_after, idempotent, sent, expected)
    type Row = (Option<u16>, Option<Duration>, bool, bool, RetryAction);
    let table: &[Row] = &[
        // 429 and 503: not processed — retry any method, honouring Retry-After.
        (Some(429), None, true, true, Retry { after: None }),
        (Some(429), None, false, true, Retry { after: None }),
        (Some(429), ra, false, true, Retry { after: ra }),
        (Some(503), None, true, true, Retry { after: None }),
        (Some(503), None, false, true, Retry { after: None }),
        (Some(503), ra, true, true, Retry { after: ra }),
        (Some(503), ra, false, true, Retry { after: ra }),
        // 408/500/502/504: idempotent → retry; a sent non-idempotent write → ambiguous.
        (Some(500), None, true, true, Retry { after: None }),
        (Some(502), None, true, true, Retry { after: None }),
        (Some(504), ra, true, true, Retry { after: ra }),
        (Some(408), None, true, true, Retry { after: None }),
        (Some(500), None, false, true, Ambiguous),
        (Some(502), None, false, true, Ambiguous),
        (Some(504), ra, false, true, Ambiguous),
        (Some(408), None, false, true, Ambiguous),
        // …unless it never left: then retrying cannot apply it twice.
        (Some(500), None, false, false, Retry { after: None }),
        (Some(408), None, false, false, Retry { after: None }),
        // Transport failures (no status).
        (None, None, true, true, Retry { after: None }),
        (None, None, true, false, Retry { after: None }),
        (None, None, false, false, Retry { after: None }),
        (None, None, false, true, Ambiguous),
        // Everything else fails at once, whatever the method.
        (Some(400), None, true, true, Fail),
        (Some(401), None, true, true, Fail),
        (Some(403), None, true, true, Fail),
        (Some(404), None, true, true, Fail),
        (Some(409), None, false, true, Fail),
        (Some(422), None, false, true, Fail),
        (Some(404), ra, false, false, Fail),
        (Some(501), None, true, true, Fail),
    ];
    for &(status, after, idempotent, sent, want) in table {
        assert_eq!(
            classify(status, after, idempotent, sent),
            want,
            "classify({status:?}, {after:?}, idempotent={idempotent}, sent={sent})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (b) RetryConfig::wait and the backoff sequence
// ---------------------------------------------------------------------------------------------

#[test]
fn wait_rules() {
    let cfg = RetryConfig {
        max_attempts: 8,
        initial_backoff_ms: 200,
        max_backoff_ms: 30_000,
        rate_limited_backoff_ms: 5_000,
        max_retry_after_secs: 300,
        max_timeouts: 2,
    };
    let ms = Duration::from_millis;
    let s = Duration::from_secs;
    // (retry_after, backoff, status, expected)
    let table: &[(Option<Duration>, Duration, Option<u16>, Duration)] = &[
        // Retry-After wins over the backoff, whatever the status.
        (Some(s(3)), ms(50), Some(503), s(3)),
        (Some(s(3)), ms(9_000), Some(429), s(3)),
        // …capped at max_retry_after_secs.
        (Some(s(3_600)), ms(50), Some(503), s(300)),
        // A zero Retry-After still waits a little: the backoff, up to the first backoff.
        (Some(s(0)), ms(50), Some(503), ms(50)),
        (Some(s(0)), ms(9_000), Some(503), ms(200)),
        // A bare 429 waits the rate-limit backoff, or the backoff when that is longer.
        (None, ms(50), Some(429), ms(5_000)),
        (None, ms(8_000), Some(429), ms(8_000)),
        // Anything else waits the backoff.
        (None, ms(123), Some(503), ms(123)),
        (None, ms(123), Some(500), ms(123)),
        (None, ms(123), None, ms(123)),
    ];
    for &(after, backoff, status, want) in table {
        assert_eq!(
            cfg.wait(after, backoff, status),
            want,
            "wait({after:?}, {backoff:?}, {status:?})"
        );
    }
}

#[test]
fn backoff_grows_from_the_first_delay_and_never_exceeds_the_longest() {
    let cfg = RetryConfig {
        initial_backoff_ms: 100,
        max_backoff_ms: 1_000,
        ..RetryConfig::default()
    };
    let delays: Vec<Duration> = cfg.backoff().take(30).collect();
    assert_eq!(delays.len(), 30, "the sequence does not end by itself");
    for d in &delays {
        assert!(
            *d >= Duration::from_millis(100),
            "{d:?} below the first backoff"
        );
        assert!(*d <= cfg.max_backoff(), "{d:?} above max_backoff_ms");
    }
    // Late delays reach the cap region, early ones do not.
    assert!(delays[0] < Duration::from_millis(200), "{:?}", delays[0]);
    assert!(delays[29] >= Duration::from_millis(500), "{:?}", delays[29]);
}

// ---------------------------------------------------------------------------------------------
// (c) HttpClient::send
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn retry_after_is_honoured_and_counted() {
    let s = server().await;
    first_n(
        &s,
        "/x",
        1,
        ResponseTemplate::new(503).insert_header("Retry-After", "1"),
    )
    .await;
    always(&s, "/x", ResponseTemplate::new(200).set_body_string("ok")).await;
    let http = client(&fast());
    let started = Instant::now();
    let resp = http
        .send(Request::get(url(&s.uri(), "/x")), &NoAuth)
        .await
        .expect("succeeds after one retry");
    let elapsed = started.elapsed();
    assert_eq!(&resp.body[..], b"ok");
    assert!(
        elapsed >= Duration::from_millis(990),
        "Retry-After: 1 was not waited for ({elapsed:?})"
    );
    let stats = http.stats();
    assert_eq!((stats.requests, stats.retries), (2, 1));
    assert_eq!(hits(&s, "/x").await, 2);
}

#[tokio::test]
async fn a_429_without_retry_after_is_retried() {
    let s = server().await;
    first_n(&s, "/x", 1, ResponseTemplate::new(429)).await;
    always(&s, "/x", ResponseTemplate::new(200)).await;
    let http = client(&fast());
    // A POST too: a 429 means the server did not process it.
    let req = Request::new(Method::POST, url(&s.uri(), "/x"));
    http.send(req, &NoAuth).await.expect("retried after 429");
    assert_eq!(hits(&s, "/x").await, 2);
    assert_eq!(http.stats().retries, 1);
}

#[tokio::test]
async fn a_500_on_get_is_retried_until_success() {
    let s = server().await;
    first_n(&s, "/x", 2, ResponseTemplate::new(500)).await;
    always(
        &s,
        "/x",
        ResponseTemplate::new(200).set_body_string("third"),
    )
    .await;
    let http = client(&fast());
    let resp = http
        .send(Request::get(url(&s.uri(), "/x")), &NoAuth)
        .await
        .expect("retried until 200");
    assert_eq!(&resp.body[..], b"third");
    assert_eq!(hits(&s, "/x").await, 3);
    assert_eq!(http.stats().retries, 2);
}

#[tokio::test]
async fn a_500_on_post_is_ambiguous_after_one_request() {
    let s = server().await;
    always(
        &s,
        "/x",
        ResponseTemplate::new(500).set_body_json(serde_json::json!({"message": "boom"})),
    )
    .await;
    let http = client(&fast());
    let req = Request::new(Method::POST, url(&s.uri(), "/x"));
    let err = http.send(req, &NoAuth).await.expect_err("500 on POST");
    match &err {
        ConnectorError::Ambiguous {
            method, message, ..
        } => {
            assert_eq!(method, "POST");
            assert!(
                message.contains("500") && message.contains("boom"),
                "{message}"
            );
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert_eq!(hits(&s, "/x").await, 1);
    assert_eq!(http.stats().retries, 0);
}

#[tokio::test]
async fn a_404_fails_at_once_with_the_odata_message() {
    let s = server().await;
    always(
        &s,
        "/odata/Parts",
        ResponseTemplate::new(404).set_body_json(serde_json::json!({
            "error": {"code": "NOT_FOUND", "message": "Part 'P-1' was not found"}
        })),
    )
    .await;
    let http = client(&fast());
    let u = url(
        &s.uri(),
        "/odata/Parts?$filter=Number%20eq%20'secret-customer'",
    );
    let err = http.send(Request::get(u), &NoAuth).await.expect_err("404");
    match &err {
        ConnectorError::Http {
            status,
            message,
            path,
            ..
        } => {
            assert_eq!(*status, 404);
            assert_eq!(message, "Part 'P-1' was not found");
            assert_eq!(path, "/odata/Parts");
        }
        other => panic!("expected Http, got {other:?}"),
    }
    assert!(err.is_record_error());
    assert!(
        !err.to_string().contains("secret-customer"),
        "the query string leaked into the error: {err}"
    );
    assert_eq!(hits(&s, "/odata/Parts").await, 1);
}

#[tokio::test]
async fn exhausted_attempts_end_in_the_last_http_error() {
    let s = server().await;
    always(
        &s,
        "/x",
        ResponseTemplate::new(503).set_body_string("down for maintenance"),
    )
    .await;
    let mut config = fast();
    config.retry.max_attempts = 3;
    let http = client(&config);
    let err = http
        .send(Request::get(url(&s.uri(), "/x")), &NoAuth)
        .await
        .expect_err("never succeeds");
    match &err {
        ConnectorError::Http {
            status, message, ..
        } => {
            assert_eq!(*status, 503);
            assert_eq!(message, "down for maintenance");
        }
        other => panic!("expected Http, got {other:?}"),
    }
    assert_eq!(hits(&s, "/x").await, 3);
    assert_eq!(http.stats().retries, 2);
}

/// A response declaring 100 bytes and delivering 10 before the connection closes.
const CUT_SHORT: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789";
/// A complete response.
const COMPLETE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/// A raw HTTP server answering the n-th request with `script[n]` (the last one repeats) and
/// closing each connection. Returns its address and the count of requests read.
async fn raw_server(script: Vec<&'static [u8]>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    let count = Arc::new(AtomicUsize::new(0));
    let served = count.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            // Read the request head (the tests send no body).
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            if head.is_empty() {
                continue;
            }
            let n = served.fetch_add(1, Ordering::SeqCst);
            let answer = script[n.min(script.len() - 1)];
            let _ = sock.write_all(answer).await;
            let _ = sock.shutdown().await;
        }
    });
    (addr, count)
}

#[tokio::test]
async fn a_body_cut_short_is_retried_for_get() {
    let (addr, count) = raw_server(vec![CUT_SHORT, COMPLETE]).await;
    let http = client(&fast());
    let resp = http
        .send(Request::get(url(&format!("http://{addr}"), "/x")), &NoAuth)
        .await
        .expect("second attempt completes");
    assert_eq!(&resp.body[..], b"ok");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(http.stats().retries, 1);
}

#[tokio::test]
async fn a_body_cut_short_is_ambiguous_for_post() {
    let (addr, count) = raw_server(vec![CUT_SHORT, COMPLETE]).await;
    let http = client(&fast());
    let req = Request::new(Method::POST, url(&format!("http://{addr}"), "/x"));
    let err = http.send(req, &NoAuth).await.expect_err("cut short");
    match &err {
        ConnectorError::Ambiguous { message, .. } => {
            assert!(message.contains("cut short"), "{message}")
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "a POST must not be replayed"
    );
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_an_error() {
    let s = server().await;
    always(
        &s,
        "/big",
        ResponseTemplate::new(200).set_body_string("x".repeat(100)),
    )
    .await;
    let mut config = fast();
    config.max_body_bytes = 16;
    config.retry.max_attempts = 2;
    let http = client(&config);
    let err = http
        .send(Request::get(url(&s.uri(), "/big")), &NoAuth)
        .await
        .expect_err("body too large");
    // The server did answer: retrying cannot make the body smaller, so it is not retried.
    match &err {
        ConnectorError::Malformed { detail, .. } => {
            assert!(detail.contains("larger than 16 bytes"), "{detail}")
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert_eq!(http.stats().requests, 1, "an oversized body is not retried");
    // A body exactly at the limit is fine.
    always(
        &s,
        "/fits",
        ResponseTemplate::new(200).set_body_string("y".repeat(16)),
    )
    .await;
    let resp = http
        .send(Request::get(url(&s.uri(), "/fits")), &NoAuth)
        .await
        .expect("16 bytes fit");
    assert_eq!(resp.body.len(), 16);
}

/// Bearer `tok-<generation>`; a 401 renews (bumps the generation) and asks for a replay.
#[derive(Default)]
struct Renewing {
    generation: AtomicUsize,
    renewals: AtomicUsize,
}

#[async_trait]
impl Auth for Renewing {
    async fn apply(&self, _: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        let token = format!("tok-{}", self.generation.load(Ordering::SeqCst));
        set_bearer(req, &SecretString::from(token));
        Ok(())
    }

    async fn renew_if_stale(
        &self,
        _: &HttpClient,
        _: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError> {
        if resp.status.as_u16() != 401 {
            return Ok(false);
        }
        self.renewals.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
}

#[tokio::test]
async fn stale_credentials_are_renewed_and_the_request_replayed_once() {
    let s = server().await;
    Mock::given(path("/x"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("fresh"))
        .with_priority(1)
        .mount(&s)
        .await;
    always(&s, "/x", ResponseTemplate::new(401)).await;
    let http = client(&fast());
    let auth = Renewing::default();
    let resp = http
        .send(Request::get(url(&s.uri(), "/x")), &auth)
        .await
        .expect("replayed with the renewed token");
    assert_eq!(&resp.body[..], b"fresh");
    assert_eq!(auth.renewals.load(Ordering::SeqCst), 1);
    assert_eq!(hits(&s, "/x").await, 2);
}

#[tokio::test]
async fn a_second_401_after_renewal_is_final() {
    let s = server().await;
    always(
        &s,
        "/x",
        ResponseTemplate::new(401).set_body_json(serde_json::json!({"message": "token revoked"})),
    )
    .await;
    let http = client(&fast());
    let auth = Renewing::default();
    let err = http
        .send(Request::get(url(&s.uri(), "/x")), &auth)
        .await
        .expect_err("401 twice");
    match &err {
        ConnectorError::Auth { system, message } => {
            assert_eq!(system, "testsys");
            assert!(
                message.contains("401") && message.contains("token revoked"),
                "{message}"
            );
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert_eq!(auth.renewals.load(Ordering::SeqCst), 1, "renewed only once");
    assert_eq!(hits(&s, "/x").await, 2);
}

#[tokio::test]
async fn the_date_header_becomes_server_time() {
    let s = server().await;
    always(
        &s,
        "/x",
        ResponseTemplate::new(200).insert_header("Date", "Fri, 27 Nov 2026 17:22:12 GMT"),
    )
    .await;
    let http = client(&fast());
    let resp = http
        .send(Request::get(url(&s.uri(), "/x")), &NoAuth)
        .await
        .expect("200");
    let want = "2026-11-27T17:22:12Z"
        .parse::<DateTime<Utc>>()
        .expect("test time");
    assert_eq!(resp.server_time, Some(want));
    assert_eq!(parse_http_date("not a date"), None);
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let at = |h: &str, server: Option<&str>| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::RETRY_AFTER,
            reqwest::header::HeaderValue::from_str(h).expect("header"),
        );
        Response {
            status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
            headers,
            body: bytes::Bytes::new(),
            server_time: server.and_then(parse_http_date),
        }
        .retry_after()
    };
    let now = Some("Fri, 27 Nov 2026 17:22:12 GMT");
    assert_eq!(at("120", None), Some(Duration::from_secs(120)));
    assert_eq!(at(" 5 ", None), Some(Duration::from_secs(5)));
    assert_eq!(
        at("Fri, 27 Nov 2026 17:23:12 GMT", now),
        Some(Duration::from_secs(60))
    );
    // A date in the past is no wait at all.
    assert_eq!(at("Fri, 27 Nov 2026 17:20:00 GMT", now), None);
    assert_eq!(at("soon", None), None);
}

#[tokio::test]
async fn the_rate_limit_spaces_requests() {
    let s = server().await;
    always(&s, "/x", ResponseTemplate::new(200)).await;
    let mut config = fast();
    config.rate_limit = Some(RateLimitConfig {
        requests: 5,
        per_secs: 1,
        burst: Some(1),
    });
    let http = client(&config);
    let started = Instant::now();
    for _ in 0..6 {
        http.send(Request::get(url(&s.uri(), "/x")), &NoAuth)
            .await
            .expect("200");
    }
    let elapsed = started.elapsed();
    // One token at once, then one every 200 ms: five waits.
    assert!(
        elapsed >= Duration::from_millis(950),
        "6 requests at 5/s burst 1 took only {elapsed:?}"
    );
    let stats = http.stats();
    assert_eq!(stats.requests, 6);
    assert!(
        stats.rate_limit_wait_ms >= 800,
        "rate-limit wait not counted: {stats:?}"
    );
}

#[test]
fn a_zero_rate_limit_is_a_config_error() {
    let mut config = fast();
    if let Some(rl) = config.rate_limit.as_mut() {
        rl.requests = 0;
    }
    assert!(
        config
            .validate()
            .iter()
            .any(|e| e.starts_with("http.rate_limit"))
    );
    match HttpClient::new("testsys", &config, &RateLimitConfig::default()) {
        Err(ConnectorError::Config(m)) => assert!(m.contains("rate_limit"), "{m}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// (d) OAuth 2.0 client credentials
// ---------------------------------------------------------------------------------------------

const CLIENT_ID: &str = "partreel-client";
const CLIENT_SECRET: &str = "cl13nt-s3cr3t-value";
/// base64("partreel-client:cl13nt-s3cr3t-value").
const BASIC_CREDENTIAL: &str = "cGFydHJlZWwtY2xpZW50OmNsMTNudC1zM2NyM3QtdmFsdWU=";
const TOKEN_1: &str = "at-1-0f9e8d7c6b5a";
const TOKEN_2: &str = "at-2-a5b6c7d8e9f0";

fn token_body(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 3600
    }))
}

fn credentials(s: &MockServer, method: ClientAuthMethod) -> ClientCredentials {
    ClientCredentials::new(
        url(&s.uri(), "/token"),
        CLIENT_ID.into(),
        SecretString::from(CLIENT_SECRET),
        vec!["api".into()],
        method,
    )
}

/// The token endpoint: checks Basic credentials and the grant; answers `tokens` in order (the
/// last one repeats).
async fn mount_token_endpoint(s: &MockServer, tokens: &[&str]) {
    for (i, t) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        let mock = Mock::given(method("POST"))
            .and(path("/token"))
            .and(header(
                "authorization",
                format!("Basic {BASIC_CREDENTIAL}").as_str(),
            ))
            .and(body_string_contains("grant_type=client_credentials"))
            .respond_with(token_body(t))
            .with_priority(if last { 2 } else { 1 });
        let mock = if last { mock } else { mock.up_to_n_times(1) };
        mock.mount(s).await;
    }
}

/// The API: 200 for `good`, 401 for any other bearer.
async fn mount_api(s: &MockServer, good: &str) {
    Mock::given(path("/api"))
        .and(header("authorization", format!("Bearer {good}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string("data"))
        .with_priority(1)
        .mount(s)
        .await;
    always(
        s,
        "/api",
        ResponseTemplate::new(401).set_body_json(serde_json::json!({"message": "expired"})),
    )
    .await;
}

#[tokio::test]
async fn the_token_is_fetched_once_and_reused() {
    let s = server().await;
    mount_token_endpoint(&s, &[TOKEN_1]).await;
    mount_api(&s, TOKEN_1).await;
    let http = client(&fast());
    let auth = credentials(&s, ClientAuthMethod::Basic);
    for _ in 0..3 {
        let resp = http
            .send(Request::get(url(&s.uri(), "/api")), &auth)
            .await
            .expect("authorised");
        assert_eq!(&resp.body[..], b"data");
    }
    assert_eq!(hits(&s, "/token").await, 1);
    assert_eq!(hits(&s, "/api").await, 3);
}

#[tokio::test]
async fn the_token_is_renewed_on_401() {
    let s = server().await;
    mount_token_endpoint(&s, &[TOKEN_1, TOKEN_2]).await;
    // The server revoked TOKEN_1 early: only TOKEN_2 is accepted.
    mount_api(&s, TOKEN_2).await;
    let http = client(&fast());
    let auth = credentials(&s, ClientAuthMethod::Basic);
    http.send(Request::get(url(&s.uri(), "/api")), &auth)
        .await
        .expect("renewed and replayed");
    assert_eq!(hits(&s, "/token").await, 2);
    assert_eq!(hits(&s, "/api").await, 2);
    // The renewed token is kept.
    http.send(Request::get(url(&s.uri(), "/api")), &auth)
        .await
        .expect("uses the renewed token");
    assert_eq!(hits(&s, "/token").await, 2);
    assert_eq!(hits(&s, "/api").await, 3);
}

#[tokio::test]
async fn client_secret_post_sends_the_secret_in_the_form_only() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains(
            format!("client_secret={CLIENT_SECRET}").as_str(),
        ))
        .and(body_string_contains(
            format!("client_id={CLIENT_ID}").as_str(),
        ))
        .respond_with(token_body(TOKEN_1))
        .with_priority(1)
        .mount(&s)
        .await;
    mount_api(&s, TOKEN_1).await;
    let http = client(&fast());
    let auth = credentials(&s, ClientAuthMethod::RequestBody);
    http.send(Request::get(url(&s.uri(), "/api")), &auth)
        .await
        .expect("authorised");
    let requests = s.received_requests().await.expect("recording is on");
    let token_req = requests
        .iter()
        .find(|r| r.url.path() == "/token")
        .expect("a token request");
    assert!(
        !token_req.headers.contains_key("authorization"),
        "client_secret_post must not send Basic credentials too"
    );
}

#[tokio::test]
async fn a_refused_client_never_shows_its_secret() {
    for status in [400u16, 401] {
        let s = server().await;
        Mock::given(path("/token"))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(serde_json::json!({
                    "error": "invalid_client",
                    "error_description": "Client authentication failed"
                })),
            )
            .with_priority(1)
            .mount(&s)
            .await;
        let http = client(&fast());
        let auth = credentials(&s, ClientAuthMethod::Basic);
        let err = http
            .send(Request::get(url(&s.uri(), "/api")), &auth)
            .await
            .expect_err("the client is refused");
        assert!(
            matches!(err, ConnectorError::Auth { .. }),
            "{status}: expected Auth, got {err:?}"
        );
        let shown = format!("{err} {err:?} {auth:?}");
        assert!(shown.contains("testsys"), "{status}: {shown}");
        assert!(
            shown.contains(CLIENT_ID),
            "{status}: the Debug names the client"
        );
        for secret in [CLIENT_SECRET, BASIC_CREDENTIAL] {
            assert!(!shown.contains(secret), "{status}: secret shown in {shown}");
        }
        assert_eq!(hits(&s, "/api").await, 0, "{status}: the API was called");
        // No retry of a refused client: one token request.
        assert_eq!(hits(&s, "/token").await, 1, "{status}");
    }
}

#[test]
fn set_basic_and_set_bearer_write_sensitive_headers() {
    let mut r = Request::get(Url::parse("https://plm.example/x").expect("url"));
    set_basic(&mut r, "user", &SecretString::from("p@ss"));
    let v = r
        .headers
        .get(reqwest::header::AUTHORIZATION)
        .expect("authorization set");
    assert_eq!(v.to_str().expect("ascii"), "Basic dXNlcjpwQHNz");
    assert!(v.is_sensitive());
    assert!(!format!("{r:?}").contains("dXNlcjpwQHNz"), "{r:?}");

    set_basic(
        &mut r,
        "partreel-client",
        &SecretString::from(CLIENT_SECRET),
    );
    let v = r.headers.get(reqwest::header::AUTHORIZATION).expect("set");
    assert_eq!(
        v.to_str().expect("ascii"),
        format!("Basic {BASIC_CREDENTIAL}")
    );

    set_bearer(&mut r, &SecretString::from(TOKEN_1));
    let v = r.headers.get(reqwest::header::AUTHORIZATION).expect("set");
    assert_eq!(v.to_str().expect("ascii"), format!("Bearer {TOKEN_1}"));
    assert!(v.is_sensitive());
    assert!(!format!("{r:?}").contains(TOKEN_1));
    assert_eq!(r.headers.len(), 1, "replaced, not appended");
}

// ---------------------------------------------------------------------------------------------
// (e) SecretRef::resolve
// ---------------------------------------------------------------------------------------------

/// Set in the child process that runs the environment cases (see below).
const ENV_CHILD: &str = "PARTREEL_TEST_SECRET_ENV_CHILD";
const ENV_SET: &str = "PARTREEL_TEST_SECRET_SET";
const ENV_EMPTY: &str = "PARTREEL_TEST_SECRET_EMPTY";
const ENV_UNSET: &str = "PARTREEL_TEST_SECRET_UNSET";
const ENV_VALUE: &str = "env-s3cr3t-4711";

/// The environment cases run in a child process of this test binary with the variables set
/// there: changing this process's environment while other tests run is unsound.
#[test]
fn secret_from_env() {
    if std::env::var_os(ENV_CHILD).is_some() {
        return secret_from_env_in_child();
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args(["--exact", "http::tests::secret_from_env", "--nocapture"])
        .env(ENV_CHILD, "1")
        .env(ENV_SET, ENV_VALUE)
        .env(ENV_EMPTY, "")
        .env_remove(ENV_UNSET)
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child did not run the test:\n{stdout}"
    );
}

fn secret_from_env_in_child() {
    let base = Path::new("/nonexistent");
    let got = SecretRef::Env(ENV_SET.into())
        .resolve("plm.client_secret", base)
        .expect("set variable");
    assert_eq!(got.expose_secret(), ENV_VALUE);
    assert!(
        !format!("{got:?}").contains(ENV_VALUE),
        "Debug shows the value"
    );

    for var in [ENV_UNSET, ENV_EMPTY] {
        let err = SecretRef::Env(var.into())
            .resolve("plm.client_secret", base)
            .expect_err("unset or empty");
        assert!(matches!(err, SecretError::MissingEnv { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("plm.client_secret"), "{text}");
        assert!(text.contains(var), "{text}");
    }
}

#[test]
fn secret_from_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let value = "file-s3cr3t-0815";
    std::fs::write(dir.path().join("client.secret"), format!("{value}\r\n")).expect("write secret");
    std::fs::write(dir.path().join("blank.secret"), "\n").expect("write blank");

    // Relative to the configuration folder; the trailing line end is dropped.
    let got = SecretRef::File("client.secret".into())
        .resolve("dam.token", dir.path())
        .expect("relative file");
    assert_eq!(got.expose_secret(), value);

    // An absolute path ignores the base.
    let abs = SecretRef::File(dir.path().join("client.secret"))
        .resolve("dam.token", Path::new("/elsewhere"))
        .expect("absolute file");
    assert_eq!(abs.expose_secret(), value);

    for (file, reason) in [
        ("blank.secret", "the file is empty"),
        ("missing.secret", ""),
    ] {
        let err = SecretRef::File(file.into())
            .resolve("dam.token", dir.path())
            .expect_err("unusable file");
        assert!(matches!(err, SecretError::File { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("dam.token"), "{text}");
        assert!(
            text.contains(&dir.path().join(file).display().to_string()),
            "{text}"
        );
        assert!(text.contains(reason), "{text}");
        assert!(!text.contains(value), "{text}");
    }
}

#[test]
fn secret_refs_deserialize_from_configuration() {
    #[derive(serde::Deserialize)]
    struct Cfg {
        a: SecretRef,
        b: SecretRef,
    }
    let cfg: Cfg = toml::from_str("a = { env = \"PLM_SECRET\" }\nb = { file = \"token.txt\" }\n")
        .expect("valid references");
    assert_eq!(cfg.a, SecretRef::Env("PLM_SECRET".into()));
    assert_eq!(cfg.b, SecretRef::File("token.txt".into()));
    assert!(toml::from_str::<Cfg>("a = \"inline-secret\"\nb = { env = \"X\" }\n").is_err());
}

// ---------------------------------------------------------------------------------------------
// (f) no secret reaches a log
// ---------------------------------------------------------------------------------------------

use partreel_testkit::logs::Captured;

// current_thread (the default): the scoped subscriber sees every task of this test.
#[tokio::test]
async fn no_secret_or_token_reaches_the_logs() {
    let s = server().await;
    mount_token_endpoint(&s, &[TOKEN_1, TOKEN_2]).await;
    mount_api(&s, TOKEN_2).await;
    let buf = Captured::default();
    {
        let _guard = buf.install();
        let http = client(&fast());
        let auth = credentials(&s, ClientAuthMethod::Basic);
        http.send(Request::get(url(&s.uri(), "/api?q=1")), &auth)
            .await
            .expect("renewed and replayed");
    }
    let text = buf.text();
    // The capture worked: the renewal and both token fetches were logged.
    assert!(text.contains("credentials renewed"), "{text}");
    assert_eq!(text.matches("oauth2 token obtained").count(), 2, "{text}");
    for secret in [CLIENT_SECRET, BASIC_CREDENTIAL, TOKEN_1, TOKEN_2] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
}

/// A `Retry-After` longer than `max_retry_after_secs` stops the request at once (the run ends
/// cleanly and the next one resumes) instead of retrying early into the same limit.
#[tokio::test]
async fn a_retry_after_longer_than_the_cap_fails_without_retrying() {
    let s = server().await;
    always(
        &s,
        "/busy",
        ResponseTemplate::new(503).insert_header("Retry-After", "3600"),
    )
    .await;
    let mut config = fast();
    config.retry.max_retry_after_secs = 60;
    let http = client(&config);
    let started = std::time::Instant::now();
    let err = http
        .send(Request::get(url(&s.uri(), "/busy")), &NoAuth)
        .await
        .expect_err("gives up");
    assert!(
        matches!(err, ConnectorError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(http.stats().requests, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let message = err.to_string();
    assert!(
        message.contains("3600 s") && message.contains("max_retry_after_secs = 60"),
        "says why it gave up: {message}"
    );
}

/// A token endpoint answering 429 (its own rate limit) is reported as such after the retries,
/// not as a refused client (`invalid_request`).
#[tokio::test]
async fn a_rate_limited_token_endpoint_is_named_as_such() {
    let s = server().await;
    always(
        &s,
        "/token",
        ResponseTemplate::new(429).set_body_json(serde_json::json!({"message": "slow down"})),
    )
    .await;
    let http = client(&fast());
    let auth = credentials(&s, ClientAuthMethod::Basic);
    let err = http
        .send(Request::get(url(&s.uri(), "/api")), &auth)
        .await
        .expect_err("no token");
    let message = err.to_string();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    assert!(message.contains("429"), "{message}");
    assert!(!message.contains("invalid_request"), "{message}");
}

/// A server that takes connections and never answers: the request fails after
/// `http.retry.max_timeouts` attempts (not `max_attempts`), with a message naming both
/// settings; a server that answers after one timeout is still retried to success.
#[tokio::test]
async fn a_hung_server_fails_after_max_timeouts_not_every_attempt() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(sock);
        }
    });
    let mut cfg = fast();
    cfg.timeout_secs = 1;
    cfg.retry.max_attempts = 8;
    cfg.retry.max_timeouts = 2;
    let c = client(&cfg);
    let url = Url::parse(&format!("http://{addr}/hang")).expect("url");
    let err = c
        .send(Request::get(url), &NoAuth)
        .await
        .expect_err("a hung server fails");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "two attempts, not eight"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("does not answer")
            && msg.contains("http.timeout_secs")
            && msg.contains("http.retry.max_timeouts"),
        "{msg}"
    );
    assert!(!msg.contains("/hang?"), "{msg}");
    let mut bad = HttpConfig::default();
    bad.retry.max_timeouts = 0;
    assert!(
        bad.validate()
            .iter()
            .any(|e| e.starts_with("http.retry.max_timeouts"))
    );
}
