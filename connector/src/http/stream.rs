//! Streaming responses: [`HttpClient::send_streaming`] hands back the open response, so a large
//! body (an original video file) can be written to disk chunk by chunk instead of being read
//! into memory.
//!
//! Everything up to the status line gets the same treatment as [`HttpClient::send`]: the
//! credentials, the rate limit, one re-authentication and replay, and the retry policy of
//! [`super::retry::classify`] for error statuses and failed connections. An error response's
//! body is read (bounded by `max_body_bytes`) for its message. Once a 2xx arrived, the body is
//! the caller's: a failure while reading it is not retried here.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::retry::{self, RetryAction};
use super::{Auth, HttpClient, Request, Response, describe_reqwest_error};
use crate::error::ConnectorError;

/// The start of an error response's body kept for its message.
const ERROR_BODY_BYTES: usize = 64 * 1024;

impl HttpClient {
    /// Sends a request like [`HttpClient::send`], but returns the 2xx response with its body
    /// unread. Use for bodies too large for memory; read them with `chunk()`.
    pub async fn send_streaming(
        &self,
        req: Request,
        auth: &dyn Auth,
    ) -> Result<reqwest::Response, ConnectorError> {
        let mut delays = self.retry.backoff();
        let mut attempt: u32 = 0;
        let mut renewed = false;
        loop {
            attempt += 1;
            let mut r = req.clone();
            auth.apply(self, &mut r).await?;
            let (action, err) = match self.open(&r).await {
                Ok(resp) if resp.status().is_success() => {
                    if super::record::active() {
                        let head = Response {
                            status: resp.status(),
                            headers: resp.headers().clone(),
                            body: bytes::Bytes::from_static(b"[streamed body, not recorded]"),
                            server_time: None,
                        };
                        super::record::exchange(&self.system, &r, Ok(&head));
                    }
                    return Ok(resp);
                }
                Ok(resp) => {
                    let resp = read_error_response(resp).await;
                    if super::record::active() {
                        super::record::exchange(&self.system, &r, Ok(&resp));
                    }
                    if !renewed && auth.renew_if_stale(self, &r, &resp).await? {
                        renewed = true;
                        continue;
                    }
                    let retry_after = resp.retry_after();
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
                    let action = retry::classify(
                        Some(resp.status.as_u16()),
                        retry_after,
                        r.idempotent,
                        true,
                    );
                    (action, self.http_error(&r, &resp, retry_after))
                }
                Err(e) => {
                    let sent = !e.is_connect();
                    let action = retry::classify(None, None, r.idempotent, sent);
                    let err = ConnectorError::Transport {
                        system: self.system.to_string(),
                        method: r.method.to_string(),
                        path: r.url.path().to_string(),
                        message: describe_reqwest_error(&e),
                    };
                    (action, err)
                }
            };
            match action {
                RetryAction::Retry { after: Some(after) }
                    if after > Duration::from_secs(self.retry.max_retry_after_secs) =>
                {
                    return Err(err);
                }
                RetryAction::Retry { after } if attempt < self.retry.max_attempts => {
                    let backoff = delays.next().unwrap_or(self.retry.max_backoff());
                    let wait = self.retry.wait(after, backoff, err.status());
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(system = %self.system, method = %r.method, path = %r.url.path(), attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(err),
            }
        }
    }

    /// One attempt: rate limit (for an API request), then send; the body stays unread.
    async fn open(&self, r: &Request) -> Result<reqwest::Response, reqwest::Error> {
        self.wait_for_rate_limit(r).await;
        self.count(r);
        let mut builder = self
            .client
            .request(r.method.clone(), r.url.clone())
            .headers(r.headers.clone());
        if let Some(body) = &r.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, body.content_type)
                .body(body.bytes.clone());
        }
        let resp = builder.send().await?;
        tracing::debug!(system = %self.system, method = %r.method, path = %r.url.path(), status = resp.status().as_u16(), "http (streaming)");
        Ok(resp)
    }
}

/// Reads the start of an error response for its message; the rest is dropped.
async fn read_error_response(mut resp: reqwest::Response) -> Response {
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(ERROR_BODY_BYTES);
    let server_time = headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(super::parse_http_date);
    Response {
        status,
        headers,
        body: body.into(),
        server_time,
    }
}
