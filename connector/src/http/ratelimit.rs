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

/// Share of the configured rate partreel uses (see [`Limiter::new`]).
pub const RATE_SHARE: f64 = 0.98;
/// Share of the configured burst partreel uses at once.
pub const BURST_SHARE: f64 = 0.9;

/// A token bucket shared by every request to one system.
#[derive(Debug)]
pub struct Limiter(DefaultDirectRateLimiter);

impl Limiter {
    /// Builds the bucket — at [`RATE_SHARE`] of the configured rate, with [`BURST_SHARE`] of
    /// its burst (at least 1) — zero values are a configuration error.
    pub fn new(cfg: &RateLimitConfig) -> Result<Self, String> {
        if cfg.requests == 0 || cfg.per_secs == 0 {
            return Err("http.rate_limit: requests and per_secs must be at least 1".into());
        }
        // A little headroom under the configured budget: a request delayed on its way arrives
        // closer to the next one than it left, and a server whose bucket partreel keeps empty
        // would answer it 429. The rate runs at RATE_SHARE of the limit and the burst leaves
        // BURST_SHARE of the server's in hand.
        let per_request =
            Duration::from_secs(u64::from(cfg.per_secs)).as_secs_f64() / f64::from(cfg.requests);
        let period = Duration::from_secs_f64(per_request / RATE_SHARE);
        let burst = cfg
            .burst
            .unwrap_or_else(|| (cfg.requests / cfg.per_secs).max(1));
        let burst = (f64::from(burst) * BURST_SHARE).floor() as u32;
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
