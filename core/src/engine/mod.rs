//! The sync engine: pull → resolve → plan → apply → commit.
//!
//! 1. **Pull** each feed (PLM parts, PLM link records, DAM clips) from its cursor
//!    ([`pull`]); each page's records are stored and the clips they affect are put on the
//!    durable work queue *before* the cursor moves, so a crash loses nothing.
//! 2. **Resolve** each queued clip to the part revisions it is about (part number + revision,
//!    part number alone → latest revision, or SKU → latest revision of each part with it),
//!    looking up unknown part numbers in the PLM in batches.
//! 3. **Plan** its links and metadata against the three-way base ([`plan`]).
//! 4. **Apply** with bounded concurrency; each remote write is journaled first, and the link id
//!    stored on the remote record lets a retry or a restart find it instead of duplicating it
//!    ([`apply`]).
//! 5. **Commit**: the clip leaves the queue only after its writes and their results are stored.
//!
//! Records that fail for good go to quarantine with their reason; the run goes on.
//!
//! # Layout
//! - `run`: one run from start to end, its phases in order; `options`: how a run behaves.
//! - [`pull`]: reading a feed from its cursor; `pull/parts`, `pull/links`, `pull/assets`: the
//!   three feeds and the full listing.
//! - `queue`: draining the work queue in leased batches, stopping between clips.
//! - `resolve`: which part revisions a clip is about; [`plan`]: what to write.
//! - [`apply`]: the writes, journaled; `journal`: journal bookkeeping; `duplicates`: records
//!   that carry one link id twice.
//! - [`report`]: the run's report.

pub mod apply;
pub mod crash;
mod duplicates;
pub mod estimate;
mod journal;
mod options;
pub mod plan;
pub mod pull;
mod queue;
pub mod report;
mod resolve;
mod run;

#[cfg(test)]
mod files_tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::connector::{DamConnector, Page, PlmConnector, Rejected};
use crate::error::ConnectorError;
use crate::mapping::{Entity, MappingSet};
use crate::model::{PartRevision, RemoteLink, VideoExperiment, canonical};
use crate::state::{
    AssetRecord, JournalState, LinkOrigin, Observed, PartRecord, RecordKind, StateError,
    StateStore, WorkItem,
};

pub(crate) use journal::{close_journal, count_write};
pub use options::{Progress, ProgressEvent, Scope, StopSignal, SyncOptions};
pub use report::{DegradedRule, SyncReport};
pub(crate) use resolve::Resolution;
pub(crate) use run::RunState;

/// Feed names used for cursors.
pub mod streams {
    /// PLM part revisions.
    pub const PARTS: &str = "parts";
    /// PLM link records.
    pub const LINKS: &str = "links";
    /// DAM clips.
    pub const ASSETS: &str = "assets";
    /// Time of the last full DAM listing.
    pub const FULL_SCAN: &str = "full_scan";
}

/// An error that stops a run (records failing alone go to quarantine instead).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A remote system failed beyond retries.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// A change feed misbehaved.
    #[error("change feed: {0}")]
    Feed(String),
    /// One clip cannot be synced as it is; it goes to quarantine with this reason and the run
    /// goes on (this never ends a run).
    #[error("{0}")]
    Record(String),
    /// This process no longer holds the lease on a clip (it ran out and another process took
    /// it): the clip's remaining writes are left to that process (this never ends a run).
    #[error("lease on {0} passed to another process")]
    LeaseLost(String),
    /// The run is stopping (a stop request, or its deadline) before this clip's next write:
    /// the clip stays queued for the next run (this never ends a run by itself).
    #[error("the run is stopping; the clip waits for the next run")]
    Stopping,
}

/// Why a run stops before its queue is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Halt {
    /// A stop request (SIGTERM, Ctrl-C).
    Stop,
    /// `sync.run_deadline_secs` passed.
    Deadline,
}

impl EngineError {
    /// Names the system and stream of a change-feed error (other errors name theirs already).
    pub fn in_feed(self, system: &str, stream: &str) -> Self {
        match self {
            EngineError::Feed(m) => EngineError::Feed(format!("{system} {stream}: {m}")),
            other => other,
        }
    }
}

/// One PLM, one DAM, their mappings and the state store.
pub struct SyncEngine {
    plm: Arc<dyn PlmConnector>,
    dam: Arc<dyn DamConnector>,
    store: Arc<dyn StateStore>,
    maps: Arc<MappingSet>,
    opts: SyncOptions,
}

impl SyncEngine {
    /// Puts the pieces together.
    pub fn new(
        plm: Arc<dyn PlmConnector>,
        dam: Arc<dyn DamConnector>,
        store: Arc<dyn StateStore>,
        maps: Arc<MappingSet>,
        opts: SyncOptions,
    ) -> Self {
        SyncEngine {
            plm,
            dam,
            store,
            maps,
            opts,
        }
    }

    /// PLM systems a changed clip of this job's DAM is queued for.
    fn peers(&self) -> Vec<String> {
        let own = self.plm.system().to_string();
        let mut peers = self.opts.dam_peers.clone();
        if !peers.contains(&own) {
            peers.push(own);
        }
        peers
    }

    fn progress(&self, event: ProgressEvent) {
        if let Some(p) = &self.opts.progress {
            (p.0)(&event);
        }
    }

    /// A file checked or a remote write made: the run's totals so far, for bars that move
    /// within seconds rather than once a batch.
    fn work_done(&self, run: &RunState) {
        if self.opts.progress.is_some() {
            self.progress(ProgressEvent::Work {
                files: run.files.load(std::sync::atomic::Ordering::Relaxed),
                writes: run.writes.load(std::sync::atomic::Ordering::Relaxed),
            });
        }
    }

    fn page_done(&self, system: &str, stream: &str, records: usize) {
        if self.opts.progress.is_some() {
            self.progress(ProgressEvent::Page {
                feed: format!("{system}/{stream}"),
                records: records as u64,
            });
        }
    }

    async fn quarantine(
        &self,
        store: &Arc<dyn StateStore>,
        run: &RunState,
        system: &str,
        record: &str,
        kind: RecordKind,
        reason: &str,
    ) -> Result<(), EngineError> {
        tracing::warn!(system, record, reason, "quarantined");
        store
            .quarantine_put(system, record, kind.as_str(), reason, &run.run_id)
            .await?;
        let mut r = run.report.lock().await;
        if kind == RecordKind::Asset {
            r.clips_quarantined += 1;
        }
        r.add_quarantined(report::Quarantined {
            system: system.to_string(),
            record: record.to_string(),
            reason: reason.to_string(),
        });
        Ok(())
    }

    async fn quarantine_rejected(
        &self,
        store: &Arc<dyn StateStore>,
        run: &RunState,
        system: &str,
        kind: RecordKind,
        rejected: &[Rejected],
    ) -> Result<(), EngineError> {
        for r in rejected {
            let id = r.id.clone().unwrap_or_else(|| "(unknown id)".into());
            self.quarantine(store, run, system, &id, kind, &r.reason)
                .await?;
        }
        Ok(())
    }

    fn feed_cursor(&self, start: Option<DateTime<Utc>>) -> pull::FeedCursor {
        pull::FeedCursor {
            start,
            overlap: self.opts.overlap,
        }
    }

    /// The PLM connector (shared with the other jobs on the same system), e.g. to close its
    /// session on shutdown.
    pub fn plm(&self) -> &Arc<dyn PlmConnector> {
        &self.plm
    }

    pub(crate) fn dam(&self) -> &Arc<dyn DamConnector> {
        &self.dam
    }

    pub(crate) fn maps(&self) -> &MappingSet {
        &self.maps
    }

    pub(crate) fn opts(&self) -> &SyncOptions {
        &self.opts
    }
}

/// What the store holds for each record of a page, in page order, read `concurrency` at a
/// time (a shared store answers on several sessions at once).
async fn read_ahead<'a, T, R, F, Fut>(
    items: &'a [T],
    concurrency: usize,
    read: F,
) -> Result<Vec<R>, crate::state::StateError>
where
    F: Fn(&'a T) -> Fut,
    Fut: std::future::Future<Output = Result<R, crate::state::StateError>>,
{
    use futures::{StreamExt, TryStreamExt};
    // The futures are made before they are streamed (no closure lives in the stream, which
    // keeps the engine's future `Send` for every lifetime the daemon's spawn asks for).
    let reads: Vec<Fut> = items.iter().map(read).collect();
    futures::stream::iter(reads)
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// Joins field errors into one reason naming each field.
pub(crate) fn join_errors(errs: &[crate::mapping::FieldError]) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
