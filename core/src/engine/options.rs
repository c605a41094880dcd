//! How a run behaves: [`SyncOptions`] (the `[sync]` table and the command line), progress
//! events, the stop signal, and a job's scope.

use super::*;

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
    /// Crash-safety tests: abort the process right after this many remote writes. Honoured only
    /// in a build with the `crash-injection` feature (see [`super::crash`]); ignored otherwise.
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

/// A step of a run, for progress displays.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    /// A page of a feed (`system/stream`) was stored: `records` read in it.
    Page {
        /// Feed name.
        feed: String,
        /// Records in the page.
        records: u64,
    },
    /// Planning and applying starts: this job's clips waiting in the queue, and what applying
    /// all of them would take at most (a file check, a metadata write and a link each).
    Queue {
        /// This job's queue length.
        queued: u64,
        /// Requests and time per system for the whole queue; the binding one marked.
        estimate: Vec<super::estimate::Estimate>,
    },
    /// A clip file was checked or a remote write made: the run's totals so far.
    Work {
        /// Clip files fetched and checked.
        files: u64,
        /// Remote writes made.
        writes: u64,
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

/// `*`-only glob matching, case-sensitive. Scope patterns are part numbers with `*` (`TR-*`);
/// a glob crate (globset brings regex and aho-corasick) would add a dozen crates for this loop,
/// so it stays here, tested with the scope rules.
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
