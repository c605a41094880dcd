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

pub mod apply;
mod duplicates;
pub mod plan;
pub mod pull;
pub mod report;

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
    AssetRecord, JournalState, LinkOrigin, Observed, PartRecord, StateError, StateStore, WorkItem,
};

pub use report::{DegradedRule, SyncReport};

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

/// How a run behaves (from the `[sync]` table of the configuration and the command line).
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Plan and report only; write nothing remote and leave the state store untouched.
    pub dry_run: bool,
    /// Overlap held back behind the server clock when cursors move.
    pub overlap: Duration,
    /// Page size asked of change feeds.
    pub page_size: u32,
    /// Carry links forward to part revisions created after the link.
    pub carry_forward: bool,
    /// Clips planned and applied at once.
    pub concurrency: usize,
    /// List the whole DAM to find deleted clips in this run.
    pub full_scan: bool,
    /// Do a full listing when the last one is older than this.
    pub full_scan_interval: Option<Duration>,
    /// Work queue batch size.
    pub work_batch: usize,
    /// Lease length on queued work.
    pub lease: Duration,
    /// This process's identity in work leases and the journal: unique per process (see
    /// [`crate::state::owner`]).
    pub owner: String,
    /// Test-only: abort the process right after this many remote writes (crash-safety tests).
    pub crash_after_writes: Option<u64>,
    /// Every PLM system paired with this DAM in the configuration (this engine's included):
    /// a changed clip is queued for each, so jobs sharing a DAM each plan it.
    pub dam_peers: Vec<String>,
    /// Which clips this job is about; others are out of its scope.
    pub scope: Scope,
    /// Job name (reports, metrics).
    pub job: String,
    /// Set to stop the run early (SIGTERM): the writes in flight are finished and stored, no
    /// clip's next write starts, and the rest stays queued for the next run.
    pub stop: StopSignal,
    /// Told after each feed page is stored and each batch is applied (progress bars).
    pub progress: Option<Progress>,
    /// The provenance check of each new or changed clip file (None: trust the DAM's
    /// visible-watermark field alone, and say so on every link).
    pub provenance: Option<Arc<crate::provenance::Checker>>,
    /// How long a run may take: past it, the run stops between two clips as on a
    /// stop request, the rest of the queue waiting for the next run (None: no limit).
    pub deadline: Option<Duration>,
}

/// A step of a run, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A page of a feed (`system/stream`) was stored: `records` read in it.
    Page {
        /// Feed name.
        feed: String,
        /// Records in the page.
        records: u64,
    },
    /// Planning and applying starts: clips waiting in the queue (every job's).
    Queue {
        /// Queue length.
        queued: u64,
    },
    /// A batch was planned and applied; totals of this run so far.
    Batch {
        /// Clips taken from the queue.
        clips: u64,
        /// Clips planned.
        planned: u64,
        /// Remote writes made.
        writes: u64,
    },
}

/// A progress callback (cheap to clone).
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(&ProgressEvent) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// A shared flag asking running syncs to stop at the next safe point.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<std::sync::atomic::AtomicBool>);

impl StopSignal {
    /// Asks every run holding this signal to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`Self::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The clips a job is about, by the part numbers or SKUs they name (`*` matches any run of
/// characters). Empty lists mean everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scope {
    /// Part number patterns, e.g. `["TR-*", "DL-*"]`.
    pub part_numbers: Vec<String>,
    /// SKU patterns, for clips that name only a SKU.
    pub skus: Vec<String>,
}

impl Scope {
    /// True when a clip naming `part_number` (or, without one, `sku`) belongs to the job.
    pub fn admits(&self, part_number: Option<&str>, sku: Option<&str>) -> bool {
        match (part_number, sku) {
            (Some(n), _) => {
                self.part_numbers.is_empty() || self.part_numbers.iter().any(|p| glob(p, n))
            }
            (None, Some(s)) => self.skus.is_empty() || self.skus.iter().any(|p| glob(p, s)),
            (None, None) => true,
        }
    }
}

/// `*`-only glob matching, case-sensitive.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            dry_run: false,
            overlap: Duration::from_secs(30),
            page_size: 1000,
            carry_forward: true,
            concurrency: 8,
            full_scan: false,
            full_scan_interval: Some(Duration::from_secs(24 * 3600)),
            work_batch: 200,
            lease: Duration::from_secs(300),
            owner: "local".into(),
            crash_after_writes: None,
            dam_peers: Vec::new(),
            scope: Scope::default(),
            job: String::new(),
            stop: StopSignal::default(),
            progress: None,
            provenance: None,
            deadline: None,
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

/// Mutable state of one run, shared by concurrent clip tasks.
pub(crate) struct RunState {
    pub run_id: String,
    pub report: Mutex<SyncReport>,
    pub writes: AtomicU64,
    /// Clip file downloads that failed in a row (reset by one that succeeds).
    pub download_failures: AtomicU64,
    /// When the run started (for the deadline).
    pub started: Instant,
}

impl RunState {
    /// Where this run downloads clip files to check them: one folder per run, so runs of
    /// several jobs in one daemon never remove each other's files.
    pub(crate) fn files_dir(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "{FILES_PREFIX}{}_{}",
            crate::state::owner::file_tag(),
            self.run_id
        ))
    }
}

/// Prefix of the runs' downloads folders, `partreel-files-MACHINE-PID-START_RUN`.
const FILES_PREFIX: &str = "partreel-files-";

/// Removes the downloads folders under `dir` left by runs of processes that ended (killed
/// mid-download): folders of this machine whose process is gone. Folders of live processes,
/// of other machines sharing the folder, and of any other name stay. Returns how many went.
pub(crate) fn sweep_stale_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(FILES_PREFIX)) else {
            continue;
        };
        let Some((tag, _run)) = rest.split_once('_') else {
            continue;
        };
        if crate::state::owner::tag_is_gone(tag) == Some(true)
            && entry.file_type().is_ok_and(|t| t.is_dir())
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

fn new_run_id() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!(
        "{}-{:06x}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        n & 0xff_ffff
    )
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

    /// Runs one sync and returns its report.
    pub async fn run(&self) -> Result<SyncReport, EngineError> {
        let run_id = new_run_id();
        let span = tracing::info_span!("sync", run_id = %run_id);
        self.run_inner(run_id).instrument(span).await
    }

    async fn run_inner(&self, run_id: String) -> Result<SyncReport, EngineError> {
        let started = Instant::now();
        // Connectors may be shared by several jobs: report this run's requests only.
        let stats_before = [self.plm.stats(), self.dam.stats()];
        let store: Arc<dyn StateStore> = if self.opts.dry_run {
            Arc::from(self.store.scratch_copy().await?)
        } else {
            self.store.clone()
        };
        let run = Arc::new(RunState {
            run_id: run_id.clone(),
            report: Mutex::new(SyncReport {
                run_id: run_id.clone(),
                job: self.opts.job.clone(),
                process: self.opts.owner.clone(),
                dry_run: self.opts.dry_run,
                started_at: Some(Utc::now()),
                ..Default::default()
            }),
            writes: AtomicU64::new(0),
            download_failures: AtomicU64::new(0),
            started,
        });
        // A provisional report (job, process): what `partreel runs` shows of a run killed
        // before its end, with the writes its journal holds.
        let provisional = serde_json::to_string(&*run.report.lock().await).unwrap_or_default();
        store.run_started(&run_id, Utc::now(), &provisional).await?;
        tracing::info!(
            plm = self.plm.system(),
            dam = self.dam.system(),
            dry_run = self.opts.dry_run,
            "sync started"
        );

        // Downloads folders of earlier runs killed mid-download.
        let swept = sweep_stale_files(&std::env::temp_dir());
        if swept > 0 {
            tracing::info!(folders = swept, "removed downloads folders of ended runs");
        }
        let result = self.phases(&store, &run).await;
        // The run's downloads folder (each file is removed once checked; a run that failed
        // mid-download may leave one behind).
        let _ = std::fs::remove_dir_all(run.files_dir());

        let mut report = run.report.lock().await.clone();
        for ((system, stats), before) in [
            (self.plm.system(), self.plm.stats()),
            (self.dam.system(), self.dam.stats()),
        ]
        .into_iter()
        .zip(stats_before)
        {
            report.requests.insert(
                system.to_string(),
                stats.requests.saturating_sub(before.requests),
            );
            report.retries.insert(
                system.to_string(),
                stats.retries.saturating_sub(before.retries),
            );
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        if !self.opts.dry_run {
            let quarantined = store.quarantine_list().await.ok().map(|q| q.len() as u64);
            let queued = store.work_len().await.ok();
            crate::telemetry::run_finished(&self.opts.job, result.is_ok(), quarantined, queued);
        }
        let json = serde_json::to_string(&report).unwrap_or_default();
        store.run_finished(&run_id, outcome, &json).await?;
        match result {
            Ok(()) => {
                tracing::info!(
                    links_created = report.links_created,
                    links_updated = report.links_updated,
                    links_retired = report.links_retired,
                    asset_writes = report.asset_writes,
                    quarantined = report.quarantined.len(),
                    conflicts = report.conflicts.len(),
                    "sync finished"
                );
                Ok(report)
            }
            Err(e) => {
                tracing::error!(error = %e, "sync failed");
                Err(e)
            }
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

    /// A job's first run queues every clip other jobs already read from its DAM.
    async fn bootstrap(&self, store: &Arc<dyn StateStore>) -> Result<(), EngineError> {
        let (plm, dam) = (self.plm.system(), self.dam.system());
        let marker = format!("job:{plm}");
        if store.cursor(dam, &marker).await?.is_none() {
            let n = store.enqueue_all_assets(plm, dam).await?;
            if n > 0 {
                tracing::info!(
                    clips = n,
                    "first run of this job: queued the clips already known"
                );
            }
            store.set_cursor(dam, &marker, Utc::now()).await?;
        }
        Ok(())
    }

    async fn phases(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        if !self.opts.dry_run {
            apply::recover(self, store, run).await?;
        }
        self.bootstrap(store).await?;
        // A stop or the deadline during the feeds skips to `drain`, which reports it: the
        // feeds' cursors stay after their last page read.
        self.pull_parts(store, run).await?;
        if self.halt(run).is_none() {
            self.pull_links(store, run).await?;
        }
        if self.halt(run).is_none() {
            let scan = self.pull_assets(store, run).await?;
            // A listing cut short says nothing of the clips it did not reach.
            if let Some(scan_id) = scan
                && self.halt(run).is_none()
            {
                self.find_deleted(store, run, &scan_id).await?;
            }
        }
        self.drain(store, run).await
    }

    fn progress(&self, event: ProgressEvent) {
        if let Some(p) = &self.opts.progress {
            (p.0)(&event);
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
        kind: &str,
        reason: &str,
    ) -> Result<(), EngineError> {
        tracing::warn!(system, record, reason, "quarantined");
        store
            .quarantine_put(system, record, kind, reason, &run.run_id)
            .await?;
        let mut r = run.report.lock().await;
        if kind == "asset" {
            r.clips_quarantined += 1;
        }
        r.quarantined.push(report::Quarantined {
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
        kind: &str,
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

    /// Converts a pulled part into its stored form.
    fn part_record(
        &self,
        p: &PartRevision,
        first_seen: DateTime<Utc>,
    ) -> Result<PartRecord, String> {
        let values = self
            .maps
            .plm
            .to_canonical(Entity::Part, &p.fields)
            .map_err(|errs| join_errors(&errs))?;
        Ok(PartRecord {
            system: p.system.clone(),
            number: p.number.clone(),
            revision: p.revision.clone(),
            remote_id: p.remote_id.clone(),
            name: p.name.clone(),
            // The mapped value (one vocabulary across PLMs: 3DEXPERIENCE's `IN_WORK` reads as
            // Windchill's and Teamcenter's `In Work`), else the PLM's own.
            lifecycle_state: values
                .get(canonical::LIFECYCLE_STATE)
                .filter(|s| !s.is_empty())
                .cloned()
                .or_else(|| p.lifecycle_state.clone()),
            sku: values
                .get(canonical::SKU)
                .cloned()
                .filter(|s| !s.is_empty()),
            modified: p.modified,
            values,
            first_seen,
        })
    }

    async fn pull_parts(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        let system = self.plm.system().to_string();
        let start = store.cursor(&system, streams::PARTS).await?;
        let plm = self.plm.clone();
        let (end, count) = pull::read_feed(
            self.feed_cursor(start),
            self.opts.page_size,
            |p: &PartRevision| p.modified,
            |q| {
                let plm = plm.clone();
                async move { plm.changed_parts(&q).await }
            },
            |page: Page<PartRevision>| async move {
                let n = page.items.len();
                self.store_parts(store, run, page).await?;
                self.page_done(self.plm.system(), streams::PARTS, n);
                self.feed_goes_on(run)
            },
            |at| {
                let (store, system) = (store.clone(), system.clone());
                async move { Ok(store.set_cursor(&system, streams::PARTS, at).await?) }
            },
        )
        .await
        .map_err(|e| e.in_feed(&system, streams::PARTS))?;
        if let Some(end) = end {
            store.set_cursor(&system, streams::PARTS, end).await?;
        }
        run.report
            .lock()
            .await
            .pulled
            .insert(format!("{system}/{}", streams::PARTS), count);
        Ok(())
    }

    async fn store_parts(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        page: Page<PartRevision>,
    ) -> Result<(), EngineError> {
        let system = self.plm.system();
        self.quarantine_rejected(store, run, system, "part", &page.rejected)
            .await?;
        let now = Utc::now();
        let mut records = Vec::with_capacity(page.items.len());
        let mut affected: BTreeSet<(String, Option<String>)> = BTreeSet::new();
        let stored_all = read_ahead(&page.items, self.opts.concurrency, |p| {
            store.part(system, &p.number, &p.revision)
        })
        .await?;
        for (p, stored) in page.items.iter().zip(stored_all) {
            let first_seen = stored.as_ref().map_or(now, |s| s.first_seen);
            let rec = match self.part_record(p, first_seen) {
                Ok(r) => r,
                Err(reason) => {
                    let id = format!("{}/{}", p.number, p.revision);
                    self.quarantine(store, run, system, &id, "part", &reason)
                        .await?;
                    continue;
                }
            };
            // An echo of what is stored: same time *and* same content (an edit in the same
            // second as the last read keeps the time, so the content decides).
            if stored.as_ref().is_some_and(|s| *s == rec) {
                continue;
            }
            match &stored {
                Some(s)
                    if s.values != rec.values
                        || s.name != rec.name
                        || s.lifecycle_state != rec.lifecycle_state
                        || s.remote_id != rec.remote_id =>
                {
                    affected.insert((p.number.clone(), Some(p.revision.clone())));
                }
                Some(_) => {}
                // A new revision: clips linked to earlier revisions may carry forward.
                None if self.opts.carry_forward => {
                    affected.insert((p.number.clone(), None));
                }
                None => {}
            }
            records.push(rec);
        }
        store.upsert_parts(&records).await?;
        let mut work = Vec::new();
        for (number, revision) in affected {
            for l in store
                .links_for_part(system, &number, revision.as_deref())
                .await?
            {
                work.push(WorkItem {
                    plm_system: system.to_string(),
                    dam_system: l.dam_system,
                    asset_id: l.asset_id,
                });
            }
        }
        store.enqueue(&work).await?;
        Ok(())
    }

    async fn pull_links(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        let system = self.plm.system().to_string();
        let start = store.cursor(&system, streams::LINKS).await?;
        let plm = self.plm.clone();
        let (end, count) = pull::read_feed(
            self.feed_cursor(start),
            self.opts.page_size,
            |l: &RemoteLink| l.modified,
            |q| {
                let plm = plm.clone();
                async move { plm.changed_links(&q).await }
            },
            |page: Page<RemoteLink>| async move {
                self.quarantine_rejected(store, run, self.plm.system(), "link", &page.rejected)
                    .await?;
                let mut strangers = Vec::new();
                let mut duplicated = Vec::new();
                for l in &page.items {
                    let values = match self.maps.plm.to_canonical(Entity::Link, &l.fields) {
                        Ok(v) => v,
                        Err(errs) => {
                            let reason = join_errors(&errs);
                            self.quarantine(
                                store,
                                run,
                                self.plm.system(),
                                &l.remote_id,
                                "link",
                                &reason,
                            )
                            .await?;
                            continue;
                        }
                    };
                    match store
                        .observe_link(&l.link_id, &values, l.modified, &l.remote_id)
                        .await?
                    {
                        Observed::Unknown => strangers.push((l, values)),
                        Observed::Known => {}
                        Observed::OtherRecord(_) => duplicated.push(l.link_id.clone()),
                    }
                }
                run.report.lock().await.unknown_link_records += strangers.len() as u64;
                duplicates::settle(self, store, run, duplicated).await?;
                duplicates::settle_strangers(self, store, run, &strangers).await?;
                self.page_done(self.plm.system(), streams::LINKS, page.items.len());
                self.feed_goes_on(run)
            },
            |at| {
                let (store, system) = (store.clone(), system.clone());
                async move { Ok(store.set_cursor(&system, streams::LINKS, at).await?) }
            },
        )
        .await
        .map_err(|e| e.in_feed(&system, streams::LINKS))?;
        if let Some(end) = end {
            store.set_cursor(&system, streams::LINKS, end).await?;
        }
        run.report
            .lock()
            .await
            .pulled
            .insert(format!("{system}/{}", streams::LINKS), count);
        Ok(())
    }

    /// Converts a pulled clip into its stored form, keeping what partreel learned itself.
    fn asset_record(
        &self,
        v: &VideoExperiment,
        stored: Option<&AssetRecord>,
    ) -> Result<AssetRecord, String> {
        let mut values = self
            .maps
            .dam
            .to_canonical(Entity::Asset, &v.fields)
            .map_err(|errs| join_errors(&errs))?;
        // The clip's title is read by every DAM connector itself; it is the canonical `title`
        // unless the mapping takes it from a property of its own.
        if !v.title.is_empty() {
            values
                .entry(canonical::TITLE.to_string())
                .or_insert_with(|| v.title.clone());
        }
        let mut watermark = stored.map(|s| s.watermark.clone()).unwrap_or_default();
        watermark.visible_field = values
            .get(canonical::VISIBLE_WATERMARK)
            .and_then(|s| s.parse::<bool>().ok());
        Ok(AssetRecord {
            system: v.system.clone(),
            asset_id: v.asset_id.clone(),
            title: v.title.clone(),
            modified: v.modified,
            version: v.version.clone(),
            archived: v.archived,
            deleted: false,
            rendition_url: v.rendition_url.clone(),
            values,
            watermark,
        })
    }

    /// Pulls the clip feed; returns the id of the full listing when this run did one.
    async fn pull_assets(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<Option<String>, EngineError> {
        let system = self.dam.system().to_string();
        let cursor = store.cursor(&system, streams::ASSETS).await?;
        let last_scan = store.cursor(&system, streams::FULL_SCAN).await?;
        let scan_due = self.opts.full_scan
            || match (last_scan, self.opts.full_scan_interval) {
                (None, _) => cursor.is_none(),
                (Some(t), Some(every)) => {
                    Utc::now() - t > chrono::Duration::from_std(every).unwrap_or_default()
                }
                (Some(_), None) => false,
            };
        let scan_id = scan_due.then(|| run.run_id.clone());
        let start = if scan_due { None } else { cursor };
        let dam = self.dam.clone();
        let scan_ref = scan_id.clone();
        let (end, count) = pull::read_feed(
            self.feed_cursor(start),
            self.opts.page_size,
            |v: &VideoExperiment| v.modified,
            |q| {
                let dam = dam.clone();
                async move { dam.changed_assets(&q).await }
            },
            |page: Page<VideoExperiment>| {
                let scan = scan_ref.clone();
                async move {
                    let n = page.items.len();
                    self.store_assets(store, run, page, scan.as_deref()).await?;
                    self.page_done(self.dam.system(), streams::ASSETS, n);
                    self.feed_goes_on(run)
                }
            },
            |at| {
                let (store, system) = (store.clone(), system.clone());
                // A full listing restarts from the beginning; never move the cursor back.
                let keep = cursor;
                async move {
                    let at = keep.map_or(at, |k| k.max(at));
                    Ok(store.set_cursor(&system, streams::ASSETS, at).await?)
                }
            },
        )
        .await
        .map_err(|e| e.in_feed(&system, streams::ASSETS))?;
        if let Some(end) = end {
            let end = cursor.map_or(end, |c| c.max(end));
            store.set_cursor(&system, streams::ASSETS, end).await?;
        }
        run.report
            .lock()
            .await
            .pulled
            .insert(format!("{system}/{}", streams::ASSETS), count);
        Ok(scan_id)
    }

    async fn store_assets(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        page: Page<VideoExperiment>,
        scan: Option<&str>,
    ) -> Result<(), EngineError> {
        let system = self.dam.system();
        self.quarantine_rejected(store, run, system, "asset", &page.rejected)
            .await?;
        let mut records = Vec::with_capacity(page.items.len());
        let stored_all = read_ahead(&page.items, self.opts.concurrency, |v| {
            store.asset(system, &v.asset_id)
        })
        .await?;
        for (v, stored) in page.items.iter().zip(stored_all) {
            match self.asset_record(v, stored.as_ref()) {
                // An echo of what is stored. Modified times are whole seconds and metadata
                // edits need not bump the version, so an edit made in the same second as the
                // last read has the same (modified, version): compare the content as well, or
                // that edit is lost.
                Ok(r)
                    if stored.as_ref().is_some_and(|s| {
                        s.modified == v.modified
                            && s.version == v.version
                            && !s.deleted
                            && s.values == r.values
                            && s.title == r.title
                            && s.archived == r.archived
                            && s.rendition_url == r.rendition_url
                    }) => {}
                Ok(r) => records.push(r),
                Err(reason) => {
                    self.quarantine(store, run, system, &v.asset_id, "asset", &reason)
                        .await?;
                }
            }
        }
        store.upsert_assets(&records, &self.peers()).await?;
        if let Some(scan) = scan {
            let ids: Vec<String> = page.items.iter().map(|v| v.asset_id.clone()).collect();
            store.mark_seen(system, &ids, scan).await?;
        }
        Ok(())
    }

    /// After a full listing: clips with live links that the listing did not show are read one
    /// by one; those that are gone are marked deleted and their links retired.
    async fn find_deleted(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
        scan: &str,
    ) -> Result<(), EngineError> {
        let system = self.dam.system().to_string();
        let mut after: Option<String> = None;
        loop {
            let ids = store
                .unseen_linked_assets(&system, scan, after.as_deref(), 200)
                .await?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            for id in ids {
                if self.halt(run).is_some() {
                    // The full-scan cursor stays: the next listing looks again.
                    return Ok(());
                }
                let stored = store.asset(&system, &id).await?;
                match self.dam.get_asset(&id).await? {
                    None => {
                        if let Some(mut rec) = stored {
                            tracing::info!(asset = %id, "clip deleted in the DAM; retiring its links");
                            rec.deleted = true;
                            store.upsert_assets(&[rec], &self.peers()).await?;
                        }
                    }
                    Some(v) => match self.asset_record(&v, stored.as_ref()) {
                        Ok(rec) => store.upsert_assets(&[rec], &self.peers()).await?,
                        Err(reason) => {
                            self.quarantine(store, run, &system, &id, "asset", &reason)
                                .await?
                        }
                    },
                }
                store
                    .mark_seen(&system, std::slice::from_ref(&id), scan)
                    .await?;
            }
            after = Some(last);
        }
        store
            .set_cursor(&system, streams::FULL_SCAN, Utc::now())
            .await?;
        Ok(())
    }

    /// Whether the run must stop at its next safe point — between two clips' writes, or
    /// between batches — and why.
    pub(crate) fn halt(&self, run: &RunState) -> Option<Halt> {
        if self.opts.stop.is_stopping() {
            return Some(Halt::Stop);
        }
        match self.opts.deadline {
            Some(limit) if run.started.elapsed() >= limit => Some(Halt::Deadline),
            _ => None,
        }
    }

    /// After a page of a feed: Ok to read on, [`EngineError::Stopping`] to end the feed there.
    fn feed_goes_on(&self, run: &RunState) -> Result<(), EngineError> {
        match self.halt(run) {
            Some(_) => Err(EngineError::Stopping),
            None => Ok(()),
        }
    }

    /// Plans and applies every queued clip.
    async fn drain(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<(), EngineError> {
        let mut seen_in_run: BTreeSet<WorkItem> = BTreeSet::new();
        self.take_over_gone(store, run).await?;
        if self.opts.progress.is_some() {
            let queued = store.work_len().await?;
            self.progress(ProgressEvent::Queue { queued });
        }
        loop {
            match self.halt(run) {
                Some(Halt::Stop) => {
                    tracing::info!("stop requested: the rest of the queue waits for the next run");
                    run.report.lock().await.stopped_early = true;
                    break;
                }
                Some(Halt::Deadline) => {
                    tracing::warn!(
                        deadline_secs = self.opts.deadline.map_or(0, |d| d.as_secs()),
                        "the run reached its deadline (sync.run_deadline_secs): the rest of the queue waits for the next run"
                    );
                    let mut r = run.report.lock().await;
                    r.stopped_early = true;
                    r.deadline_reached = true;
                    break;
                }
                None => {}
            }
            let items = store
                .lease_work(
                    &self.opts.owner,
                    self.plm.system(),
                    self.dam.system(),
                    self.opts.work_batch,
                    self.opts.lease.as_secs(),
                )
                .await?;
            // Items this run already handled and that came back (re-queued by a concurrent
            // feed) wait for the next run, so a run always ends.
            let items: Vec<WorkItem> = items
                .into_iter()
                .filter(|w| !seen_in_run.contains(w))
                .collect();
            if items.is_empty() {
                // What is left is leased by other processes; one that died meanwhile leaves
                // its clips to this run.
                if self.take_over_gone(store, run).await? > 0 {
                    continue;
                }
                break;
            }
            seen_in_run.extend(items.iter().cloned());
            self.prefetch_parts(store, &items).await?;
            apply::batch(self, store, run, items).await?;
            if self.opts.progress.is_some() {
                let r = run.report.lock().await;
                self.progress(ProgressEvent::Batch {
                    clips: seen_in_run.len() as u64,
                    planned: r.clips_planned,
                    writes: r.writes(),
                });
            }
        }
        // A conflict stays until someone settles it: queue its clip again (after this run's
        // drain, so it cannot hold the queue up) so the next run plans it again and reports
        // the conflict again, still writing nothing.
        let conflicted: Vec<WorkItem> = run
            .report
            .lock()
            .await
            .conflicts
            .iter()
            .filter(|c| c.kind == "three_way")
            .map(|c| WorkItem {
                plm_system: self.plm.system().to_string(),
                dam_system: self.dam.system().to_string(),
                asset_id: c.asset_id.clone(),
            })
            .collect();
        store.enqueue(&conflicted).await?;
        let others = self.other_holders(store).await?;
        let held: u64 = others.iter().map(|(_, n)| n).sum();
        if held > 0 {
            let owners: Vec<&str> = others.iter().map(|(o, _)| o.as_str()).collect();
            tracing::info!(
                clips = held,
                processes = ?owners,
                "other partreel processes sharing this state are working on clips of this job: left to them"
            );
            run.report.lock().await.left_to_others = held;
        }
        Ok(())
    }

    /// Other processes holding leases on this job's queue.
    async fn other_holders(
        &self,
        store: &Arc<dyn StateStore>,
    ) -> Result<Vec<(String, u64)>, EngineError> {
        let mut holders = store
            .lease_holders(self.plm.system(), self.dam.system())
            .await?;
        holders.retain(|(owner, _)| *owner != self.opts.owner);
        Ok(holders)
    }

    /// Takes over the work of processes known to be gone (killed, crashed): frees their leases,
    /// so their clips are planned now rather than when the leases run out, and finishes or
    /// abandons the writes they journaled. Returns how many clips were freed.
    async fn take_over_gone(
        &self,
        store: &Arc<dyn StateStore>,
        run: &Arc<RunState>,
    ) -> Result<u64, EngineError> {
        let mut total = 0;
        for (owner, clips) in self.other_holders(store).await? {
            if crate::state::owner::is_gone(&owner) {
                let freed = store.release_leases(&owner).await?;
                tracing::info!(
                    process = %owner,
                    clips,
                    freed,
                    "freed the leases of a partreel process that is gone"
                );
                total += freed;
            }
        }
        if total > 0 && !self.opts.dry_run {
            apply::recover(self, store, run).await?;
        }
        Ok(total)
    }

    /// Checks, right before a remote write, that this process still holds the lease on the
    /// clip the write is for, and extends it: a lease that ran out may have passed to another
    /// process, which then makes the write itself.
    pub(crate) async fn hold_lease(
        &self,
        store: &Arc<dyn StateStore>,
        item: &WorkItem,
    ) -> Result<(), EngineError> {
        if store
            .renew_lease(&self.opts.owner, item, self.opts.lease.as_secs())
            .await?
        {
            Ok(())
        } else {
            tracing::warn!(asset = %item.asset_id, "this process's lease on the clip ran out and another process took it: its writes are left to that process");
            Err(EngineError::LeaseLost(format!(
                "{}/{}",
                item.dam_system, item.asset_id
            )))
        }
    }

    /// Looks up, in one batch, the part numbers queued clips name that the state does not
    /// know yet.
    async fn prefetch_parts(
        &self,
        store: &Arc<dyn StateStore>,
        items: &[WorkItem],
    ) -> Result<(), EngineError> {
        let plm = self.plm.system();
        let mut missing: BTreeSet<String> = BTreeSet::new();
        for w in items {
            let Some(a) = store.asset(&w.dam_system, &w.asset_id).await? else {
                continue;
            };
            let Some(number) = a
                .values
                .get(canonical::PART_NUMBER)
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            if !self.opts.scope.admits(Some(number), None) {
                continue;
            }
            let known = match a
                .values
                .get(canonical::PART_REVISION)
                .filter(|s| !s.is_empty())
            {
                Some(rev) => store.part(plm, number, rev).await?.is_some(),
                None => !store.parts_by_number(plm, number).await?.is_empty(),
            };
            if !known {
                missing.insert(number.clone());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let numbers: Vec<String> = missing.into_iter().collect();
        let found = self.plm.parts_by_number(&numbers).await?;
        let now = Utc::now();
        let mut records = Vec::new();
        for p in &found {
            let first_seen = store
                .part(plm, &p.number, &p.revision)
                .await?
                .map_or(now, |s| s.first_seen);
            if let Ok(r) = self.part_record(p, first_seen) {
                records.push(r);
            }
        }
        store.upsert_parts(&records).await?;
        Ok(())
    }

    /// The part revisions a clip should be linked to, or why it cannot be resolved.
    pub(crate) async fn resolve(
        &self,
        store: &Arc<dyn StateStore>,
        asset: &AssetRecord,
    ) -> Result<Resolution, EngineError> {
        if asset.archived || asset.deleted {
            return Ok(Resolution::Targets(Vec::new()));
        }
        let plm = self.plm.system();
        let value = |f: &str| asset.values.get(f).filter(|s| !s.is_empty()).cloned();
        if !self.opts.scope.admits(
            value(canonical::PART_NUMBER).as_deref(),
            value(canonical::SKU).as_deref(),
        ) {
            return Ok(Resolution::OutOfScope);
        }
        let tagged: Vec<PartRecord> = match (
            value(canonical::PART_NUMBER),
            value(canonical::PART_REVISION),
        ) {
            (Some(number), Some(rev)) => match store.part(plm, &number, &rev).await? {
                Some(p) => vec![p],
                None => {
                    return Ok(Resolution::Unresolved(format!(
                        "part {number} revision {rev} not found in {plm}"
                    )));
                }
            },
            (Some(number), None) => match latest(store.parts_by_number(plm, &number).await?) {
                Some(p) => vec![p],
                None => {
                    return Ok(Resolution::Unresolved(format!(
                        "part {number} not found in {plm}"
                    )));
                }
            },
            (None, _) => match value(canonical::SKU) {
                Some(sku) => {
                    let mut by_number: BTreeMap<String, Vec<PartRecord>> = BTreeMap::new();
                    for p in store.parts_by_sku(plm, &sku).await? {
                        by_number.entry(p.number.clone()).or_default().push(p);
                    }
                    let parts: Vec<PartRecord> =
                        by_number.into_values().filter_map(latest).collect();
                    if parts.is_empty() {
                        return Ok(Resolution::Unresolved(format!(
                            "no part with SKU {sku} in {plm}"
                        )));
                    }
                    parts
                }
                None => return Ok(Resolution::Untagged),
            },
        };
        let mut targets: Vec<plan::Target> = tagged
            .iter()
            .map(|p| plan::Target {
                part: p.clone(),
                origin: LinkOrigin::Tagged,
            })
            .collect();
        if self.opts.carry_forward {
            let existing = store
                .links_for_asset(&asset.system, &asset.asset_id)
                .await?;
            for p in &tagged {
                let Some(link) = existing
                    .iter()
                    .find(|l| l.part_number == p.number && l.part_revision == p.revision)
                else {
                    continue;
                };
                for newer in store.parts_by_number(plm, &p.number).await? {
                    if plan::revision_order(&newer.revision, &p.revision).is_gt()
                        && newer.first_seen > link.created_at
                    {
                        targets.push(plan::Target {
                            part: newer,
                            origin: LinkOrigin::Carried,
                        });
                    }
                }
            }
        }
        Ok(Resolution::Targets(targets))
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

/// What a clip resolves to.
pub(crate) enum Resolution {
    /// Link to these.
    Targets(Vec<plan::Target>),
    /// The clip names nothing.
    Untagged,
    /// The clip names a part the PLM does not have.
    Unresolved(String),
    /// The clip names a part outside this job's scope (another job's PLM).
    OutOfScope,
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

/// The latest revision among revisions of one part number.
fn latest(parts: Vec<PartRecord>) -> Option<PartRecord> {
    parts
        .into_iter()
        .max_by(|a, b| plan::revision_order(&a.revision, &b.revision))
}

/// Joins field errors into one reason naming each field.
pub(crate) fn join_errors(errs: &[crate::mapping::FieldError]) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Marks a journal entry closed, logging instead of failing when the store hiccups after the
/// remote write (the next run's recovery will settle it).
pub(crate) async fn close_journal(
    store: &Arc<dyn StateStore>,
    id: i64,
    state: JournalState,
) -> Result<(), EngineError> {
    store.journal_end(id, state).await?;
    Ok(())
}

/// Counts a remote write and, in crash-safety tests, aborts right after the configured one.
pub(crate) fn count_write(engine: &SyncEngine, run: &RunState) {
    let n = run.writes.fetch_add(1, Ordering::SeqCst) + 1;
    if engine.opts.crash_after_writes == Some(n) {
        eprintln!("partreel: test crash after remote write {n}");
        std::process::abort();
    }
}
