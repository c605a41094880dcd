//! The daemon's HTTP endpoints: `/healthz` (the process answers), `/readyz` (configuration
//! loaded, state store reachable, not shutting down — with each job's status as JSON) and
//! `/metrics` (Prometheus text format, rendered from the recorder installed at start).
//!
//! Nothing here carries a secret: labels are system and job names, and store errors name the
//! database without its password.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use partreel_core::state::StateStore;
use partreel_core::telemetry::names;
use serde::Serialize;

use super::shutdown::Shutdown;

/// How long `/readyz` waits for the state store.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The daemon's own series.
pub mod daemon_names {
    /// 1 while a run of the job is in flight, by job.
    pub const JOB_RUNNING: &str = "partreel_job_running";
    /// Unix time of the job's next scheduled run, by job.
    pub const NEXT_RUN: &str = "partreel_job_next_run_timestamp_seconds";
    /// 1 when the job's last run was degraded (most of its clips quarantined), by job.
    pub const JOB_DEGRADED: &str = "partreel_job_degraded";
}

/// Latency buckets of HTTP requests to the systems, in seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the Prometheus recorder as the global `metrics` recorder (once per process) and
/// describes partreel's series.
pub fn install_metrics() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::HTTP_DURATION.into()), HTTP_BUCKETS)?
        .install_recorder()?;
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        names::HTTP_REQUESTS,
        "HTTP requests sent, by system and status class"
    );
    describe_histogram!(
        names::HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency, by system"
    );
    describe_counter!(
        names::RATE_LIMIT_WAIT,
        Unit::Milliseconds,
        "Time waited on the client rate limit, by system"
    );
    describe_counter!(
        names::ERRORS,
        "Requests that failed for good (after retries), by system and kind"
    );
    describe_counter!(
        names::OPERATIONS,
        "Remote writes, by kind, system and outcome"
    );
    describe_counter!(names::RUNS, "Sync runs, by job and outcome");
    describe_gauge!(
        names::LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last successful run, by job"
    );
    describe_gauge!(names::QUARANTINE_SIZE, "Records in quarantine");
    describe_gauge!(names::WORK_QUEUE, "Clips waiting in the work queue");
    describe_gauge!(
        daemon_names::JOB_RUNNING,
        "1 while a run of the job is in flight"
    );
    describe_gauge!(
        daemon_names::JOB_DEGRADED,
        "1 when the job's last run quarantined every clip it handled, or more than the configured share"
    );
    describe_gauge!(
        daemon_names::NEXT_RUN,
        Unit::Seconds,
        "Unix time of the job's next scheduled run"
    );
    Ok(handle)
}

/// What `/readyz` reports of one job.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobStatus {
    /// Cron expression, if scheduled.
    pub schedule: Option<String>,
    /// A run is in flight.
    pub running: bool,
    /// Next scheduled run (jitter included).
    pub next_run: Option<DateTime<Utc>>,
    /// Last run's id.
    pub last_run_id: Option<String>,
    /// Last run's outcome (`ok`, `stopped`, `degraded`, `failed`).
    pub last_outcome: Option<String>,
    /// Why the last run was degraded, when it was.
    pub degraded: Option<String>,
    /// When the last run ended.
    pub last_finished: Option<DateTime<Utc>>,
}

/// Every job's status, shared by the job loops and the server.
pub type Statuses = Arc<Mutex<BTreeMap<String, JobStatus>>>;

/// What the handlers need.
#[derive(Clone)]
pub struct AppState {
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Checked by `/readyz`.
    pub store: Arc<dyn StateStore>,
    /// `/readyz` is 503 once shutting down.
    pub shutdown: Shutdown,
    /// Job statuses.
    pub jobs: Statuses,
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    state_store: String,
    shutting_down: bool,
    /// Jobs whose last run was degraded (the process is still ready: the next run may
    /// recover, and a restart would not help).
    degraded: Vec<String>,
    jobs: BTreeMap<String, JobStatus>,
}

async fn readyz(State(app): State<AppState>) -> Response {
    let store = match tokio::time::timeout(STORE_CHECK_TIMEOUT, app.store.work_len()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {}s",
            STORE_CHECK_TIMEOUT.as_secs()
        )),
    };
    let shutting_down = app.shutdown.is_triggered();
    let ready = store.is_ok() && !shutting_down;
    let jobs = app.jobs.lock().map(|j| j.clone()).unwrap_or_default();
    let body = Readiness {
        ready,
        state_store: store.err().unwrap_or_else(|| "ok".into()),
        shutting_down,
        degraded: jobs
            .iter()
            .filter(|(_, j)| j.degraded.is_some())
            .map(|(n, _)| n.clone())
            .collect(),
        jobs,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(app): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
