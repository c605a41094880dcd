//! The request log every emulator keeps, so tests and benchmarks can count what a client sent.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::clock::lock;

pub use crate::registry::System;

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestEntry {
    /// The emulator that answered.
    pub system: System,
    /// HTTP method.
    pub method: String,
    /// Path, as sent (still percent-encoded).
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// Status sent; 0 when the connection was reset without a response.
    pub status: u16,
    /// Sim-clock time the request arrived.
    pub at: DateTime<Utc>,
    /// The fault injected into this request, if any (`server_error_503`, `reset`, …).
    pub fault: Option<String>,
}

/// Shared, append-only log of vendor requests (control routes under `/__sim/` are not logged).
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    entries: Arc<Mutex<Vec<RequestEntry>>>,
}

impl RequestLog {
    /// A copy of every entry so far, oldest first.
    pub fn entries(&self) -> Vec<RequestEntry> {
        lock(&self.entries).clone()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        lock(&self.entries).clear();
    }

    /// Number of entries.
    pub fn count(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Number of entries `pred` accepts.
    pub fn count_matching(&self, pred: impl Fn(&RequestEntry) -> bool) -> usize {
        lock(&self.entries).iter().filter(|e| pred(e)).count()
    }

    pub(crate) fn push(&self, entry: RequestEntry) {
        lock(&self.entries).push(entry);
    }
}
