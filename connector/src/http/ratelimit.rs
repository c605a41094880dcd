//! The client-side rate limit of one system, a `governor` token bucket.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

/// `requests` per `per_secs`, with bursts of up to `burst` (the `http.rate_limit` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests allowed per period.
    pub requests: u32,
    /// Period length in seconds.
    pub per_secs: u32,
    /// Largest burst; defaults to one second's worth.
    #[serde(default)]
    pub burst: Option<u32>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests: 50,
            per_secs: 1,
            burst: None,
        }
    }
}

/// A token bucket shared by every request to one system.
#[derive(Debug)]
pub struct Limiter(DefaultDirectRateLimiter);

impl Limiter {
    /// Builds the bucket; zero values are a configuration error.
    pub fn new(cfg: &RateLimitConfig) -> Result<Self, String> {
        if cfg.requests == 0 || cfg.per_secs == 0 {
            return Err("http.rate_limit: requests and per_secs must be at least 1".into());
        }
        let period = Duration::from_secs(u64::from(cfg.per_secs)) / cfg.requests;
        let burst = cfg
            .burst
            .unwrap_or_else(|| (cfg.requests / cfg.per_secs).max(1));
        let burst =
            NonZeroU32::new(burst.max(1)).ok_or("http.rate_limit: burst must be at least 1")?;
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .ok_or("http.rate_limit: period too short")?
            .allow_burst(burst);
        Ok(Limiter(RateLimiter::direct(quota)))
    }

    /// Waits for a token; returns how long it waited.
    pub async fn until_ready(&self) -> Duration {
        let start = Instant::now();
        self.0.until_ready().await;
        start.elapsed()
    }
}
