//! One run from start to end: its id and report, its downloads folder, recovery of an earlier
//! crash, the phases in order, and the run history.

use super::*;

/// Mutable state of one run, shared by concurrent clip tasks.
pub(crate) struct RunState {
    pub run_id: String,
    pub report: Mutex<SyncReport>,
    pub writes: AtomicU64,
    /// Clip files fetched and checked so far.
    pub files: AtomicU64,
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
    /// Runs one sync and returns its report.
    pub async fn run(&self) -> Result<SyncReport, EngineError> {
        let run_id = new_run_id();
        let span = tracing::info_span!("sync", run_id = %run_id);
        self.run_inner(run_id).instrument(span).await
    }

    pub(crate) async fn run_inner(&self, run_id: String) -> Result<SyncReport, EngineError> {
        let started = Instant::now();
        // Connectors may be shared by several jobs: report this run's requests only.
        let stats_before = [self.plm.stats(), self.dam.stats()];
        let store: Arc<dyn StateStore> = if self.opts.dry_run {
            Arc::from(self.store.scratch_copy().await?)
        } else {
            self.store.clone()
        };
        let run = self.start_run(&store, &run_id, started).await?;

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
        report.files_checked = run.files.load(Ordering::Relaxed);
        self.count_requests(&mut report, stats_before);
        if self.opts.dry_run {
            self.estimate_plan(&mut report);
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
                    quarantined = report.quarantined.len() as u64 + report.quarantined_not_listed,
                    conflicts = report.conflicts.len() as u64 + report.conflicts_not_listed,
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

    /// The run's shared state, and its start recorded with a provisional report (job,
    /// process): what `partreel runs` shows of a run killed before its end, with the writes
    /// its journal holds.
    async fn start_run(
        &self,
        store: &Arc<dyn StateStore>,
        run_id: &str,
        started: Instant,
    ) -> Result<Arc<RunState>, EngineError> {
        let run = Arc::new(RunState {
            run_id: run_id.to_string(),
            report: Mutex::new(SyncReport {
                run_id: run_id.to_string(),
                job: self.opts.job.clone(),
                process: self.opts.owner.clone(),
                dry_run: self.opts.dry_run,
                started_at: Some(Utc::now()),
                ..Default::default()
            }),
            writes: AtomicU64::new(0),
            files: AtomicU64::new(0),
            download_failures: AtomicU64::new(0),
            started,
        });
        let provisional = serde_json::to_string(&*run.report.lock().await).unwrap_or_default();
        store.run_started(run_id, Utc::now(), &provisional).await?;
        tracing::info!(
            plm = self.plm.system(),
            dam = self.dam.system(),
            dry_run = self.opts.dry_run,
            "sync started"
        );
        Ok(run)
    }

    /// A dry run's estimate: the requests its planned writes and file checks need per system,
    /// and their time at the configured limits.
    fn estimate_plan(&self, report: &mut SyncReport) {
        // A dry run counts what it plans in the same counters a run counts what it writes;
        // the files it checked (in a scratch copy of the state) the run checks again.
        report.estimate = super::estimate::for_writes(
            self.plm.as_ref(),
            self.dam.as_ref(),
            report.links_created,
            report.links_updated + report.links_retired,
            report.files_checked,
            report.asset_writes,
        );
    }

    /// This run's requests and retries per system: the connectors' counters since
    /// `before` (a connector may be shared by several jobs).
    fn count_requests(
        &self,
        report: &mut SyncReport,
        before: [crate::connector::ConnectorStats; 2],
    ) {
        for ((system, stats), before) in [
            (self.plm.system(), self.plm.stats()),
            (self.dam.system(), self.dam.stats()),
        ]
        .into_iter()
        .zip(before)
        {
            report.requests.insert(
                system.to_string(),
                stats.requests.saturating_sub(before.requests),
            );
            report.retries.insert(
                system.to_string(),
                stats.retries.saturating_sub(before.retries),
            );
            let files = stats.file_requests.saturating_sub(before.file_requests);
            if files > 0 {
                report.file_requests.insert(system.to_string(), files);
            }
        }
    }

    /// A job's first run queues every clip other jobs already read from its DAM.
    pub(crate) async fn bootstrap(&self, store: &Arc<dyn StateStore>) -> Result<(), EngineError> {
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

    pub(crate) async fn phases(
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
}
