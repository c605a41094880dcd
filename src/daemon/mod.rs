//! `partreel daemon`: the jobs of a configuration on their cron schedules, until stopped.
//!
//! - **Start.** The configuration is loaded and validated (every `jobs[i].schedule` parsed),
//!   the Prometheus recorder installed, the state store opened (an unreachable database fails
//!   here, naming it), the connectors built and the listener bound — any problem ends the
//!   process with a message naming the file, key or address, and a non-zero exit.
//! - **Schedule** ([`schedule`]). One loop per scheduled job: sleep until the next firing time
//!   plus a random jitter, run, repeat. A job never overlaps itself (its loop runs inline; a
//!   firing missed while it ran is skipped), and jobs on the same PLM/DAM pair share a lock,
//!   since they lease from the same work queue. `run_on_start` runs the job once at start.
//! - **Stop** ([`shutdown`]). SIGTERM/SIGINT sets the engines' stop signal (the batch in
//!   flight is finished and journaled, the rest stays queued), stops scheduling, and waits for
//!   the runs in flight up to `--shutdown-timeout-secs`; then the process exits 0. A second
//!   signal exits at once (the journal lets the next run recover).
//! - **Observe** ([`server`]). `/healthz`, `/readyz`, `/metrics`. Every log line of a run
//!   carries its run id through the engine's `sync` span, and the job name through the
//!   daemon's `job` span.

pub mod schedule;
pub mod server;
pub mod shutdown;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use partreel_core::engine::{StopSignal, SyncEngine};
use partreel_core::state::StateStore;
use partreel_core::telemetry::names;
use tokio::task::JoinSet;
use tracing::Instrument;

use self::schedule::Schedule;
use self::server::{AppState, JobStatus, Statuses, daemon_names};
use self::shutdown::{Drained, Shutdown};
use crate::cli::DaemonArgs;
use crate::config::{self, Job, Loaded};
use crate::wiring;

/// How often the recorder's histograms are maintained.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// One scheduled job, ready to run.
struct Scheduled {
    job: Job,
    schedule: Option<Schedule>,
    engine: Arc<SyncEngine>,
    /// Shared by jobs on the same PLM/DAM pair.
    pair: Arc<tokio::sync::Mutex<()>>,
    /// When a run counts as degraded.
    degraded: partreel_core::engine::DegradedRule,
}

/// Runs the daemon until SIGTERM/SIGINT.
pub async fn run(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    // From the start: a SIGTERM while the daemon starts up is a graceful stop, not lost.
    let mut signals = crate::commands::Shutdown::listen();
    let cfg = config::load(&args.config)?;
    let jobs = daemon_jobs(&cfg)?;
    let metrics = server::install_metrics().context("cannot install the metrics recorder")?;
    // Names the file and `state` itself; an unreachable database fails here.
    let store = wiring::store(&cfg)?;
    // Each process leases under an identity of its own (`state::owner`), so daemons and
    // one-off syncs sharing the state never share leases.
    let stop = StopSignal::default();
    let engines = wiring::engines_with_store(&cfg, store.clone(), &jobs, |opts| {
        opts.stop = stop.clone();
    })?;
    let shutdown = Shutdown::new(stop);

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
    let addr = listener
        .local_addr()
        .with_context(|| format!("--listen {}", args.listen))?;

    register_series(&cfg, &jobs, store.as_ref()).await;
    let statuses: Statuses = Arc::default();
    let mut pairs: BTreeMap<(String, String), Arc<tokio::sync::Mutex<()>>> = BTreeMap::new();
    let mut scheduled = Vec::new();
    for (job, (_, engine)) in jobs.into_iter().zip(engines) {
        let schedule = job
            .schedule
            .as_deref()
            .map(schedule::parse)
            .transpose()
            .with_context(|| format!("{}: job {}", cfg.path.display(), job.name))?;
        let pair = pairs
            .entry((job.plm.clone(), job.dam.clone()))
            .or_default()
            .clone();
        if let Ok(mut s) = statuses.lock() {
            s.insert(
                job.name.clone(),
                JobStatus {
                    schedule: job.schedule.clone(),
                    ..JobStatus::default()
                },
            );
        }
        scheduled.push(Scheduled {
            job,
            schedule,
            engine: Arc::new(engine),
            pair,
            degraded: cfg.degraded_rule(),
        });
    }

    let app = server::router(AppState {
        metrics: metrics.clone(),
        store,
        shutdown: shutdown.clone(),
        jobs: statuses.clone(),
    });
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    let upkeep = tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP_EVERY).await;
            metrics.run_upkeep();
        }
    });

    println!("partreel daemon: listening on http://{addr} (/healthz, /readyz, /metrics)");
    for s in &scheduled {
        println!(
            "partreel daemon: job {} ({} ⇄ {}): {}{}",
            s.job.name,
            s.job.plm,
            s.job.dam,
            s.schedule
                .as_ref()
                .map_or("no schedule".to_string(), |c| format!(
                    "schedule {:?} UTC",
                    c.expr()
                )),
            if s.job.run_on_start { ", runs now" } else { "" }
        );
    }
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, jobs = scheduled.len(), "daemon started");

    let mut loops = JoinSet::new();
    for s in scheduled {
        loops.spawn(job_loop(s, shutdown.clone(), statuses.clone()));
    }

    signals.wait().await;
    let bound = Duration::from_secs(args.shutdown_timeout_secs);
    let running: Vec<String> = statuses
        .lock()
        .map(|s| {
            s.iter()
                .filter(|(_, j)| j.running)
                .map(|(n, _)| n.clone())
                .collect()
        })
        .unwrap_or_default();
    tracing::info!(
        in_flight = ?running,
        bound_secs = bound.as_secs(),
        "stop requested: finishing the batches in flight"
    );
    eprintln!(
        "partreel daemon: stopping ({} run(s) in flight, waiting up to {}s)",
        running.len(),
        bound.as_secs()
    );
    shutdown.trigger();
    let drained = shutdown::drain(&mut loops, bound, &mut signals).await;
    upkeep.abort();
    server.abort();
    match drained {
        Drained::Clean => {
            tracing::info!("daemon stopped");
            eprintln!("partreel daemon: stopped");
            Ok(ExitCode::SUCCESS)
        }
        Drained::TimedOut => {
            tracing::warn!(
                bound_secs = bound.as_secs(),
                "runs still in flight after the shutdown bound; their journaled writes are recovered by the next run"
            );
            eprintln!(
                "partreel daemon: stopped after {}s with runs in flight (the next run recovers their journaled writes)",
                bound.as_secs()
            );
            loops.abort_all();
            Ok(ExitCode::SUCCESS)
        }
        Drained::Interrupted => {
            eprintln!(
                "partreel daemon: second signal: exiting without waiting (the next run recovers journaled writes)"
            );
            loops.abort_all();
            Ok(ExitCode::from(130))
        }
    }
}

/// The jobs the daemon runs: those with a schedule or `run_on_start`.
fn daemon_jobs(cfg: &Loaded) -> anyhow::Result<Vec<Job>> {
    let jobs: Vec<Job> = cfg
        .jobs
        .iter()
        .filter(|j| j.schedule.is_some() || j.run_on_start)
        .cloned()
        .collect();
    if jobs.is_empty() {
        bail!(
            "{}: jobs: no job has a `schedule` (or `run_on_start = true`), so the daemon has \
             nothing to run; add e.g.\n  [[jobs]]\n  plm = \"{}\"\n  dam = \"{}\"\n  schedule = \"*/15 * * * *\"",
            cfg.path.display(),
            cfg.jobs.first().map_or("PLM", |j| j.plm.as_str()),
            cfg.jobs.first().map_or("DAM", |j| j.dam.as_str()),
        );
    }
    for j in cfg
        .jobs
        .iter()
        .filter(|j| !jobs.iter().any(|k| k.name == j.name))
    {
        tracing::warn!(job = %j.name, "job has no schedule: the daemon does not run it");
    }
    Ok(jobs)
}

/// Series that exist from the start (at zero), so dashboards and alerts see them before the
/// first run: runs by job and outcome, rate-limit waits by system, the queue and quarantine.
async fn register_series(cfg: &Loaded, jobs: &[Job], store: &dyn StateStore) {
    for job in jobs {
        for outcome in ["ok", "failed"] {
            metrics::counter!(names::RUNS, "job" => job.name.clone(), "outcome" => outcome)
                .increment(0);
        }
        metrics::gauge!(daemon_names::JOB_RUNNING, "job" => job.name.clone()).set(0.0);
    }
    for system in cfg.systems.keys() {
        metrics::counter!(names::RATE_LIMIT_WAIT, "system" => system.clone()).increment(0);
    }
    if let Ok(q) = store.quarantine_list().await {
        metrics::gauge!(names::QUARANTINE_SIZE).set(q.len() as f64);
    }
    if let Ok(n) = store.work_len().await {
        metrics::gauge!(names::WORK_QUEUE).set(n as f64);
    }
}

fn set_status(statuses: &Statuses, job: &str, f: impl FnOnce(&mut JobStatus)) {
    if let Ok(mut s) = statuses.lock()
        && let Some(j) = s.get_mut(job)
    {
        f(j);
    }
}

/// One job: wait for its time, run, repeat, until shutdown.
async fn job_loop(s: Scheduled, shutdown: Shutdown, statuses: Statuses) {
    let name = s.job.name.clone();
    let mut run_now = s.job.run_on_start;
    loop {
        if !run_now {
            let Some(schedule) = &s.schedule else {
                break;
            };
            let now = Utc::now();
            let Some(next) = schedule.next_after(now) else {
                tracing::warn!(job = %name, "the schedule has no further firing time");
                break;
            };
            let wait = (next - now).to_std().unwrap_or_default() + schedule::jitter(s.job.jitter);
            let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
            set_status(&statuses, &name, |j| j.next_run = Some(at));
            metrics::gauge!(daemon_names::NEXT_RUN, "job" => name.clone())
                .set(at.timestamp() as f64);
            tracing::debug!(job = %name, next_run = %at, "waiting for the next run");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.triggered() => break,
            }
        }
        run_now = false;
        // Jobs on the same PLM/DAM pair lease from one queue: one at a time.
        let _pair = tokio::select! {
            guard = s.pair.lock() => guard,
            () = shutdown.triggered() => break,
        };
        if shutdown.is_triggered() {
            break;
        }
        run_once(&s, &statuses)
            .instrument(tracing::info_span!("job", job = %name))
            .await;
        if shutdown.is_triggered() {
            break;
        }
    }
    set_status(&statuses, &name, |j| j.next_run = None);
}

/// One run of a job, its outcome logged and kept for `/readyz`.
async fn run_once(s: &Scheduled, statuses: &Statuses) {
    let name = &s.job.name;
    set_status(statuses, name, |j| j.running = true);
    metrics::gauge!(daemon_names::JOB_RUNNING, "job" => name.clone()).set(1.0);
    let result = s.engine.run().await;
    metrics::gauge!(daemon_names::JOB_RUNNING, "job" => name.clone()).set(0.0);
    let mut degraded = None;
    let (run_id, outcome) = match &result {
        Ok(r) => {
            degraded = r.degraded(&s.degraded);
            let outcome = if degraded.is_some() {
                "degraded"
            } else if r.stopped_early {
                "stopped"
            } else {
                "ok"
            };
            if let Some(why) = &degraded {
                tracing::warn!(run_id = %r.run_id, "degraded run: {why}");
            }
            tracing::info!(
                run_id = %r.run_id,
                outcome,
                writes = r.writes(),
                quarantined = r.quarantined.len() as u64 + r.quarantined_not_listed,
                duration_ms = r.duration_ms,
                "run ended"
            );
            (Some(r.run_id.clone()), outcome)
        }
        Err(e) => {
            tracing::error!(error = %e, "run failed; the next scheduled run tries again");
            (None, "failed")
        }
    };
    metrics::gauge!(daemon_names::JOB_DEGRADED, "job" => name.clone()).set(if degraded.is_some() {
        1.0
    } else {
        0.0
    });
    set_status(statuses, name, |j| {
        j.running = false;
        j.degraded = degraded;
        if run_id.is_some() {
            j.last_run_id = run_id;
        }
        j.last_outcome = Some(outcome.to_string());
        j.last_finished = Some(Utc::now());
    });
}
