//! Fault injection: what can go wrong on the wire, and the switchboard tests use to make it go
//! wrong on purpose (a seeded random plan, a queue of "next n requests", malformed bodies,
//! expired sessions and the rate limit).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::clock::lock;
use super::ratelimit::{Bucket, RateLimit};

/// One kind of failure the emulators can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this 5xx status (500, 502, 503) before processing the request.
    ServerError(u16),
    /// Answer 429 before processing (Windchill adds `Retry-After: 1`, Bynder sends no header).
    RateLimited,
    /// Drop the connection without a complete response, before processing.
    Reset,
    /// Process the request, then send half of the declared body and drop the connection.
    Truncated,
    /// Wait this long, then process the request normally (JSON: milliseconds).
    Latency(#[serde(with = "millis")] Duration),
}

impl FaultKind {
    /// Short name used in the request log.
    pub fn label(&self) -> String {
        match self {
            FaultKind::ServerError(s) => format!("server_error_{s}"),
            FaultKind::RateLimited => "rate_limited".into(),
            FaultKind::Reset => "reset".into(),
            FaultKind::Truncated => "truncated".into(),
            FaultKind::Latency(d) => format!("latency_{}ms", d.as_millis()),
        }
    }
}

/// A random fault plan: each vendor request fails with probability `rate`, with a kind drawn
/// uniformly from `kinds`, from a generator seeded with `seed` (so a run can be replayed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Probability (0.0–1.0) that a request gets a fault.
    pub rate: f64,
    /// Kinds to draw from.
    pub kinds: Vec<FaultKind>,
    /// Seed of the draw.
    #[serde(default)]
    pub seed: u64,
}

/// How many faults of each kind were injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounters {
    /// Injected 5xx answers.
    pub server_errors: u64,
    /// Injected 429 answers.
    pub rate_limited: u64,
    /// 429 answers from the configured rate limit.
    pub throttled: u64,
    /// Connections dropped.
    pub resets: u64,
    /// Bodies cut short.
    pub truncated: u64,
    /// Requests delayed.
    pub latency: u64,
    /// Malformed JSON bodies sent.
    pub malformed: u64,
}

/// What the middleware does with one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decision {
    /// Process normally.
    Pass,
    /// Refuse with 429; the rate limit frees a slot after this long.
    Throttled(Duration),
    /// Inject this fault.
    Fault(FaultKind),
    /// Answer 200 with a body that is not valid JSON.
    Malformed,
}

#[derive(Debug, Default)]
struct FaultState {
    plan: Option<(FaultPlan, StdRng)>,
    queue: VecDeque<FaultKind>,
    malformed_next: usize,
    bucket: Option<Bucket>,
    counters: FaultCounters,
}

type ExpireHook = Arc<dyn Fn() + Send + Sync>;

/// The fault switchboard of one emulator; clones share state.
#[derive(Clone)]
pub struct FaultControl {
    state: Arc<Mutex<FaultState>>,
    expire: ExpireHook,
}

impl std::fmt::Debug for FaultControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultControl")
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

impl FaultControl {
    pub(crate) fn new(rate_limit: Option<RateLimit>, expire: ExpireHook) -> Self {
        let state = FaultState {
            bucket: rate_limit.map(Bucket::new),
            ..FaultState::default()
        };
        FaultControl {
            state: Arc::new(Mutex::new(state)),
            expire,
        }
    }

    /// Installs a random fault plan (replacing any previous one).
    pub fn set_plan(&self, plan: FaultPlan) {
        let rng = StdRng::seed_from_u64(plan.seed);
        lock(&self.state).plan = Some((plan, rng));
    }

    /// Removes the plan, the queued faults and pending malformed answers.
    pub fn clear(&self) {
        let mut s = lock(&self.state);
        s.plan = None;
        s.queue.clear();
        s.malformed_next = 0;
    }

    /// The next `n` vendor requests get `kind` (ahead of any plan).
    pub fn inject_next(&self, n: usize, kind: FaultKind) {
        lock(&self.state).queue.extend(std::iter::repeat_n(kind, n));
    }

    /// Windchill: drops every session and its CSRF nonce. Bynder: revokes every OAuth token
    /// issued so far (the permanent token stays valid).
    pub fn expire_sessions(&self) {
        (self.expire)();
    }

    /// Sets or removes the rate limit (a new limit starts with a full bucket).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        lock(&self.state).bucket = limit.map(Bucket::new);
    }

    /// The next `n` data reads (GET of lists and records) answer 200 with a body that is not
    /// valid JSON.
    pub fn set_malformed_next(&self, n: usize) {
        lock(&self.state).malformed_next = n;
    }

    /// Faults injected so far.
    pub fn counters(&self) -> FaultCounters {
        lock(&self.state).counters
    }

    /// Decides the fate of one vendor request and counts it.
    pub(crate) fn decide(&self, is_data_read: bool) -> Decision {
        let mut s = lock(&self.state);
        if let Some(bucket) = s.bucket.as_mut()
            && let Err(wait) = bucket.try_take()
        {
            s.counters.throttled += 1;
            return Decision::Throttled(wait);
        }
        let kind = match s.queue.pop_front() {
            Some(kind) => Some(kind),
            None if is_data_read && s.malformed_next > 0 => {
                s.malformed_next -= 1;
                s.counters.malformed += 1;
                return Decision::Malformed;
            }
            None => match s.plan.as_mut() {
                Some((plan, rng)) if !plan.kinds.is_empty() => {
                    if rng.random::<f64>() < plan.rate {
                        let i = rng.random_range(0..plan.kinds.len());
                        Some(plan.kinds[i])
                    } else {
                        None
                    }
                }
                _ => None,
            },
        };
        let Some(kind) = kind else {
            return Decision::Pass;
        };
        let c = &mut s.counters;
        match kind {
            FaultKind::ServerError(_) => c.server_errors += 1,
            FaultKind::RateLimited => c.rate_limited += 1,
            FaultKind::Reset => c.resets += 1,
            FaultKind::Truncated => c.truncated += 1,
            FaultKind::Latency(_) => c.latency += 1,
        }
        Decision::Fault(kind)
    }
}

/// Serde helper: a `Duration` as whole milliseconds.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
