//! The simulated wall clock shared by every emulator.
//!
//! Every modified time the emulators stamp and every HTTP `Date` header they send comes from
//! here, so tests can move time forward (token expiry, "changed since" windows) without sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Real UTC time plus an offset that tests can advance; always whole seconds.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    offset: Arc<Mutex<TimeDelta>>,
}

impl SimClock {
    /// A clock that starts at real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// The simulated now, truncated to whole seconds.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = *lock(&self.offset);
        let t = Utc::now() + offset;
        t.duration_trunc(TimeDelta::seconds(1)).unwrap_or(t)
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let delta = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        let mut offset = lock(&self.offset);
        *offset = offset.checked_add(&delta).unwrap_or(*offset);
    }

    /// The simulated now in the RFC 7231 format of the HTTP `Date` header.
    pub fn http_date(&self) -> String {
        self.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the emulators' state
/// stays usable for the rest of a test run).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Formats a time as the vendors do: RFC 3339, whole seconds, `Z`.
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
