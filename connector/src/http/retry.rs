//! The retry decision, as a pure function with a table of tests, and the backoff strategy.
//!
//! Policy ([`classify`]):
//! - 429 and 503: the server did not process the request — retry any method, after
//!   `Retry-After` when given.
//! - 408, 500, 502, 504, a reset or a cut-short body: retry when the request is idempotent; for
//!   a non-idempotent write the outcome is unknown, so report [`RetryAction::Ambiguous`] and let
//!   the caller look before writing again.
//! - a connection that never opened: retry any method.
//! - any other status: fail (4xx are the record's fault; retrying would not help).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::Deserialize;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// Try again, no sooner than `after` when the server said so.
    Retry {
        /// The server's `Retry-After`.
        after: Option<Duration>,
    },
    /// A write may have been applied; the caller must check before repeating it.
    Ambiguous,
    /// Give up.
    Fail,
}

/// Decides whether a failed attempt may be retried. `status` is None for transport failures;
/// `sent` tells whether the request may have reached the server.
pub fn classify(
    status: Option<u16>,
    retry_after: Option<Duration>,
    idempotent: bool,
    sent: bool,
) -> RetryAction {
    match status {
        Some(429 | 503) => RetryAction::Retry { after: retry_after },
        Some(408 | 500 | 502 | 504) | None if idempotent || !sent => {
            RetryAction::Retry { after: retry_after }
        }
        Some(408 | 500 | 502 | 504) | None => RetryAction::Ambiguous,
        Some(_) => RetryAction::Fail,
    }
}

/// Retry settings (the `http.retry` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff.
    pub initial_backoff_ms: u64,
    /// Longest backoff between two attempts.
    pub max_backoff_ms: u64,
    /// Wait after a 429 that carries no `Retry-After` (Bynder sends none).
    pub rate_limited_backoff_ms: u64,
    /// Longest `Retry-After` honoured; a longer one fails the request so the run can stop
    /// cleanly and resume later.
    pub max_retry_after_secs: u64,
    /// Attempts that may end in a timeout before the request fails: a server that accepts
    /// connections and never answers would otherwise hold the run for `max_attempts` times
    /// `http.timeout_secs`.
    pub max_timeouts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 8,
            initial_backoff_ms: 200,
            max_backoff_ms: 30_000,
            rate_limited_backoff_ms: 5_000,
            max_retry_after_secs: 300,
            max_timeouts: 2,
        }
    }
}

impl RetryConfig {
    /// The backoff sequence: exponential, doubled each time, with jitter, never longer than
    /// [`Self::max_backoff`] (backon adds its jitter after its own cap, so cap again).
    pub fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        let max = self.max_backoff();
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.initial_backoff_ms.max(1)))
            .with_max_delay(max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .map(move |d| d.min(max))
    }

    /// The longest backoff.
    pub fn max_backoff(&self) -> Duration {
        Duration::from_millis(self.max_backoff_ms.max(1))
    }

    /// How long to wait before the next attempt: the server's `Retry-After` when it gave one
    /// (capped; [`super::HttpClient::send`] gives up before waiting longer than the cap), the
    /// rate-limit backoff for a bare 429, else the jittered backoff.
    pub fn wait(
        &self,
        retry_after: Option<Duration>,
        backoff: Duration,
        status: Option<u16>,
    ) -> Duration {
        match (retry_after, status) {
            (Some(after), _) => after
                .min(Duration::from_secs(self.max_retry_after_secs))
                .max(backoff.min(Duration::from_millis(self.initial_backoff_ms))),
            (None, Some(429)) => Duration::from_millis(self.rate_limited_backoff_ms).max(backoff),
            _ => backoff,
        }
    }
}
