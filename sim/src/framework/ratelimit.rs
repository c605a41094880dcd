//! A token-bucket rate limiter, one per emulator, configured like the vendors' published limits
//! (for example Bynder's 4,500 requests per 5 minutes).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// At most `requests` requests per `per`, refilled continuously.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window (also the burst size).
    pub requests: u32,
    /// Window length.
    #[serde(with = "crate::framework::faults::millis", rename = "per_ms")]
    pub per: Duration,
}

/// The live bucket behind a [`RateLimit`] (real time, not the sim clock: tests that hit the
/// limit should not have to advance the clock to recover).
#[derive(Debug)]
pub(crate) struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn new(limit: RateLimit) -> Self {
        Bucket {
            limit,
            tokens: f64::from(limit.requests),
            last: Instant::now(),
        }
    }

    /// Takes one token, or says how long until one is available.
    pub(crate) fn try_take(&mut self) -> Result<(), Duration> {
        let capacity = f64::from(self.limit.requests.max(1));
        let per_sec = capacity / self.limit.per.as_secs_f64().max(0.001);
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * per_sec;
        self.tokens = (self.tokens + refill).min(capacity);
        self.last = now;
        if self.limit.requests > 0 && self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens).max(0.0) / per_sec,
            ))
        }
    }
}
