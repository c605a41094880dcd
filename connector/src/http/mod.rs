//! The one HTTP client every connector uses.
//!
//! [`HttpClient::send`] does, for every request: add credentials through an [`Auth`], wait for
//! the system's `governor` rate limit, send with timeouts, read the body with a size bound,
//! renew stale credentials once and replay, and retry what [`retry::classify`] says is safe to
//! retry, with exponential backoff, jitter and the server's `Retry-After`. Spans and log lines
//! carry the system, method and path — never headers, bodies or query strings — so no secret
//! reaches a log.

pub mod auth;
pub mod oauth;
pub mod ratelimit;
pub mod record;
pub mod request;
pub mod retry;
pub mod secret;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::connector::{ConnectorStats, RateLimitReport};
use crate::error::ConnectorError;

pub use auth::{Auth, NoAuth};
pub use ratelimit::RateLimitConfig;
pub use request::{Request, Response};
pub use retry::{RetryAction, RetryConfig};
pub use secret::SecretRef;

/// Largest response body read into memory, unless configured otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// HTTP settings of one system (the `http` table of a connector's configuration).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Whole-request timeout.
    pub timeout_secs: u64,
    /// TCP connect timeout.
    pub connect_timeout_secs: u64,
    /// Client-side rate limit. Left out: the connector's own default (the vendor's published
    /// limit where there is one).
    pub rate_limit: Option<RateLimitConfig>,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout_secs: 60,
            connect_timeout_secs: 10,
            rate_limit: None,
            retry: RetryConfig::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl HttpConfig {
    /// Pure checks of the table; each problem names its key under `http.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(rl) = &self.rate_limit
            && (rl.requests == 0 || rl.per_secs == 0 || rl.burst == Some(0))
        {
            errors.push("http.rate_limit: requests, per_secs and burst must be at least 1".into());
        }
        if self.retry.max_attempts == 0 {
            errors.push("http.retry.max_attempts: must be at least 1".into());
        }
        if self.retry.max_timeouts == 0 {
            errors.push("http.retry.max_timeouts: must be at least 1".into());
        }
        if self.timeout_secs == 0 {
            errors.push("http.timeout_secs: must be at least 1".into());
        }
        if self.max_body_bytes == 0 {
            errors.push("http.max_body_bytes: must be at least 1".into());
        }
        errors
    }
}

#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    file_requests: AtomicU64,
    retries: AtomicU64,
    rate_limit_wait_ms: AtomicU64,
    /// Answers with status 429.
    throttled: AtomicU64,
    /// The latest value of each rate-limit header the server sent (name lower-cased).
    rate_limit_headers: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

/// Whether a response header is one servers use to announce a rate budget: `RateLimit-*`
/// (the IETF draft), `X-RateLimit-*` / `X-Rate-Limit-*` (common practice) and `Retry-After`.
/// `n` as the `http` crate keeps header names: lower-case.
fn is_rate_limit_header(n: &str) -> bool {
    n == "retry-after"
        || n.starts_with("ratelimit")
        || n.starts_with("x-ratelimit")
        || n.starts_with("x-rate-limit")
}

/// A rate-limited, retrying HTTP client bound to one remote system. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    system: Arc<str>,
    limiter: Arc<ratelimit::Limiter>,
    rate_limit: RateLimitConfig,
    retry: RetryConfig,
    max_body_bytes: usize,
    timeout_secs: u64,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("system", &self.system)
            .finish_non_exhaustive()
    }
}

/// A failure before a whole response was read.
struct TransportFailure {
    /// True when the request may have reached the server.
    sent: bool,
    /// False when trying again cannot help (the server answered, but with a body larger than
    /// partreel accepts).
    retryable: bool,
    /// The attempt ran out of time (no answer, or an answer that stalled).
    timed_out: bool,
    message: String,
}

impl HttpClient {
    /// Builds the client of one system. `default_rate_limit` applies when the configuration
    /// sets none. Redirects are not followed (a credential must never be replayed to another
    /// host); cookies are kept for session-based systems.
    pub fn new(
        system: &str,
        config: &HttpConfig,
        default_rate_limit: &RateLimitConfig,
    ) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .user_agent(concat!("partreel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConnectorError::Config(format!("{system}: cannot build HTTP client: {e}"))
            })?;
        let rate_limit = config
            .rate_limit
            .clone()
            .unwrap_or_else(|| default_rate_limit.clone());
        let limiter = ratelimit::Limiter::new(&rate_limit)
            .map_err(|e| ConnectorError::Config(format!("{system}: {e}")))?;
        Ok(HttpClient {
            client,
            system: Arc::from(system),
            limiter: Arc::new(limiter),
            rate_limit,
            retry: config.retry.clone(),
            max_body_bytes: config.max_body_bytes,
            timeout_secs: config.timeout_secs.max(1),
            stats: Arc::new(Stats::default()),
        })
    }

    /// The configured system name.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// Counters for the run report.
    pub fn stats(&self) -> ConnectorStats {
        ConnectorStats {
            requests: self.stats.requests.load(Ordering::Relaxed),
            retries: self.stats.retries.load(Ordering::Relaxed),
            rate_limit_wait_ms: self.stats.rate_limit_wait_ms.load(Ordering::Relaxed),
            file_requests: self.stats.file_requests.load(Ordering::Relaxed),
        }
    }

    /// The configured client-side limit and what the server said about its own so far.
    pub fn rate_limits(&self) -> RateLimitReport {
        let headers = self
            .rate_limit_headers()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        RateLimitReport {
            requests: self.rate_limit.requests,
            per_secs: self.rate_limit.per_secs,
            server_headers: headers,
            throttled: self.stats.throttled.load(Ordering::Relaxed),
        }
    }

    /// Sends a request with credentials, rate limit, re-authentication and retries. Returns a
    /// response with a 2xx status, or a typed error.
    pub async fn send(&self, req: Request, auth: &dyn Auth) -> Result<Response, ConnectorError> {
        let result = self.send_with_retries(req, auth).await;
        if let Err(e) = &result {
            crate::telemetry::error(&self.system, error_kind(e));
        }
        result
    }

    async fn send_with_retries(
        &self,
        req: Request,
        auth: &dyn Auth,
    ) -> Result<Response, ConnectorError> {
        let mut delays = self.retry.backoff();
        let mut attempt: u32 = 0;
        let mut timeouts: u32 = 0;
        let mut renewed = false;
        loop {
            attempt += 1;
            let mut r = req.clone();
            // The rate limit first, then the credentials: a token or CSRF token is checked for
            // age when the request is about to leave, not before a wait in the queue.
            self.wait_for_rate_limit(&r).await;
            auth.apply(self, &mut r).await?;
            let outcome = self.send_once(&r).await;
            let (action, err) = match outcome {
                Ok(resp) if resp.status.is_success() => return Ok(resp),
                Ok(resp) => {
                    if !renewed && auth.renew_if_stale(self, &r, &resp).await? {
                        renewed = true;
                        tracing::debug!(system = %self.system, method = %r.method, path = %r.url.path(), "credentials renewed, replaying");
                        continue;
                    }
                    let retry_after = resp.retry_after();
                    let action = retry::classify(
                        Some(resp.status.as_u16()),
                        retry_after,
                        r.idempotent,
                        true,
                    );
                    if resp.status.as_u16() == 401 {
                        return Err(ConnectorError::Auth {
                            system: self.system.to_string(),
                            message: format!(
                                "{} {} answered 401: {}",
                                r.method,
                                r.url.path(),
                                resp.error_message()
                            ),
                        });
                    }
                    (action, self.http_error(&r, &resp, retry_after))
                }
                Err(t) if !t.retryable => {
                    return Err(ConnectorError::Malformed {
                        system: self.system.to_string(),
                        what: format!("{} {}", r.method, r.url.path()),
                        detail: t.message,
                    });
                }
                Err(mut t) => {
                    let mut action = retry::classify(None, None, r.idempotent, t.sent);
                    if t.timed_out {
                        timeouts += 1;
                        if timeouts >= self.retry.max_timeouts
                            && matches!(action, RetryAction::Retry { .. })
                        {
                            // A hung server: it takes the connection and never answers. Fail
                            // now, with a bounded wait, instead of every attempt's timeout.
                            t.message = format!(
                                "no answer within {} s, {timeouts} time(s): the server takes \
                                 the connection but does not answer (http.timeout_secs, \
                                 http.retry.max_timeouts)",
                                self.timeout_secs
                            );
                            action = RetryAction::Fail;
                        }
                    }
                    let err = if matches!(action, RetryAction::Ambiguous) {
                        ConnectorError::Ambiguous {
                            system: self.system.to_string(),
                            method: r.method.to_string(),
                            path: r.url.path().to_string(),
                            message: t.message,
                        }
                    } else {
                        ConnectorError::Transport {
                            system: self.system.to_string(),
                            method: r.method.to_string(),
                            path: r.url.path().to_string(),
                            message: t.message,
                        }
                    };
                    (action, err)
                }
            };
            match action {
                // A server asking for a longer pause than configured: stop cleanly now (the
                // run fails, cursors stay, the next scheduled run resumes) instead of hammering
                // it early or blocking for an hour.
                RetryAction::Retry { after: Some(after) }
                    if after > Duration::from_secs(self.retry.max_retry_after_secs) =>
                {
                    tracing::warn!(system = %self.system, method = %r.method, path = %r.url.path(), retry_after_secs = after.as_secs(), "server asks to wait longer than http.retry.max_retry_after_secs; giving up for this run");
                    let mut err = err;
                    if let ConnectorError::Http { message, .. } = &mut err {
                        message.push_str(&format!(
                            " (the server asks to wait {} s, more than http.retry.max_retry_after_secs = {}: this run stops, the next one resumes)",
                            after.as_secs(),
                            self.retry.max_retry_after_secs
                        ));
                    }
                    return Err(err);
                }
                RetryAction::Retry { after } if attempt < self.retry.max_attempts => {
                    let backoff = delays.next().unwrap_or(self.retry.max_backoff());
                    let wait = self.retry.wait(after, backoff, err.status());
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(system = %self.system, method = %r.method, path = %r.url.path(), attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
                    tokio::time::sleep(wait).await;
                }
                RetryAction::Ambiguous => {
                    // A non-idempotent write may have been applied: the caller must look
                    // before writing again.
                    return Err(match err {
                        ConnectorError::Http {
                            system,
                            method,
                            path,
                            status,
                            message,
                            ..
                        } => ConnectorError::Ambiguous {
                            system,
                            method,
                            path,
                            message: format!("{status}: {message}"),
                        },
                        other => other,
                    });
                }
                _ => return Err(err),
            }
        }
    }

    /// The rate-limit headers seen so far.
    fn rate_limit_headers(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, String>> {
        self.stats
            .rate_limit_headers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers the rate-limit headers of an answer and counts 429s (for `doctor`).
    fn note_rate_limit(&self, status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) {
        if status.as_u16() == 429 {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        let seen: Vec<(String, String)> = headers
            .iter()
            .filter(|(name, _)| is_rate_limit_header(name.as_str()))
            .filter_map(|(name, v)| Some((name.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        if seen.is_empty() {
            return;
        }
        let mut map = self.rate_limit_headers();
        for (name, v) in seen {
            // A value is a number or a short list: a long one is not a rate-limit header.
            map.insert(name, v.chars().take(120).collect());
        }
    }

    fn http_error(
        &self,
        r: &Request,
        resp: &Response,
        retry_after: Option<Duration>,
    ) -> ConnectorError {
        ConnectorError::Http {
            system: self.system.to_string(),
            method: r.method.to_string(),
            path: r.url.path().to_string(),
            status: resp.status.as_u16(),
            message: resp.error_message(),
            retry_after,
        }
    }

    /// One attempt; with `--record-wire` on, the exchange is written down (redacted).
    async fn send_once(&self, r: &Request) -> Result<Response, TransportFailure> {
        let result = self.attempt(r).await;
        if record::active() {
            match &result {
                Ok(resp) => record::exchange(&self.system, r, Ok(resp)),
                Err(t) => record::exchange(&self.system, r, Err(&t.message)),
            }
        }
        result
    }

    /// Counts a request about to go on the wire: an API request, or one to file storage
    /// outside the API ([`Request::off_api`]).
    fn count(&self, r: &Request) {
        let counter = if r.off_api {
            &self.stats.file_requests
        } else {
            &self.stats.requests
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits for the system's rate limit before `r` (none for a request outside the API),
    /// counting the wait.
    async fn wait_for_rate_limit(&self, r: &Request) {
        if r.off_api {
            return;
        }
        let waited = self.limiter.until_ready().await;
        if !waited.is_zero() {
            self.stats
                .rate_limit_wait_ms
                .fetch_add(waited.as_millis() as u64, Ordering::Relaxed);
            crate::telemetry::rate_limit_wait(&self.system, waited);
        }
    }

    /// One request on the wire (the rate limit was waited for by the caller).
    async fn attempt(&self, r: &Request) -> Result<Response, TransportFailure> {
        self.count(r);
        let started = Instant::now();
        let mut builder = self
            .client
            .request(r.method.clone(), r.url.clone())
            .headers(r.headers.clone());
        if let Some(body) = &r.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, body.content_type)
                .body(body.bytes.clone());
        }
        let mut resp = builder.send().await.map_err(|e| {
            crate::telemetry::http_request(&self.system, None, started.elapsed());
            TransportFailure {
                sent: !e.is_connect(),
                retryable: true,
                timed_out: e.is_timeout(),
                message: describe_reqwest_error(&e),
            }
        })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        self.note_rate_limit(status, &headers);
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_body_bytes {
                        return Err(TransportFailure {
                            sent: true,
                            retryable: false,
                            timed_out: false,
                            message: format!(
                                "response body larger than {} bytes",
                                self.max_body_bytes
                            ),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(TransportFailure {
                        sent: true,
                        retryable: true,
                        timed_out: e.is_timeout(),
                        message: format!("response body cut short: {}", describe_reqwest_error(&e)),
                    });
                }
            }
        }
        crate::telemetry::http_request(&self.system, Some(status.as_u16()), started.elapsed());
        let server_time = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        tracing::debug!(system = %self.system, method = %r.method, path = %r.url.path(), status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, bytes = body.len(), "http");
        Ok(Response {
            status,
            headers,
            body: body.into(),
            server_time,
        })
    }
}

/// A short, fixed label for an error (a metric label: never the message).
fn error_kind(e: &ConnectorError) -> &'static str {
    match e {
        ConnectorError::Http { status, .. } if *status >= 500 => "http_5xx",
        ConnectorError::Http { status: 429, .. } => "rate_limited",
        ConnectorError::Http { .. } => "http_4xx",
        ConnectorError::Transport { .. } => "transport",
        ConnectorError::Ambiguous { .. } => "ambiguous",
        ConnectorError::Auth { .. } => "auth",
        ConnectorError::Malformed { .. } => "malformed",
        ConnectorError::Record { .. } => "record",
        ConnectorError::Unconfirmed { .. } => "unconfirmed",
        ConnectorError::Config(_) => "config",
    }
}

/// reqwest's Display includes the URL with its query string; keep only the kind of failure.
fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else if e.is_request() {
        "request failed"
    } else {
        "error"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Parses an HTTP `Date` header (RFC 7231 IMF-fixdate, e.g. `Fri, 27 Nov 2026 17:22:12 GMT`).
pub fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests;
