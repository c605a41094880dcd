//! What partreel measures, in one place: each function records one observable thing as a
//! metric through the `metrics` facade (a no-op until a recorder is installed — the daemon
//! installs the Prometheus one and serves it on `/metrics`). Labels carry system names, job
//! names and kinds only: never record ids, URLs or anything that could hold a secret.

use std::time::Duration;

/// Metric names (Prometheus conventions: base units, `_total` for counters).
pub mod names {
    /// HTTP requests sent, by system and status class (`2xx` … `5xx`, `error`).
    pub const HTTP_REQUESTS: &str = "partreel_http_requests_total";
    /// HTTP request latency in seconds, by system.
    pub const HTTP_DURATION: &str = "partreel_http_request_duration_seconds";
    /// Milliseconds spent waiting on the client rate limit, by system.
    pub const RATE_LIMIT_WAIT: &str = "partreel_rate_limit_wait_milliseconds_total";
    /// Requests that failed for good (after retries), by system and error kind.
    pub const ERRORS: &str = "partreel_errors_total";
    /// Remote writes, by kind (`create_link`, `update_link`, `retire_link`, `write_asset`),
    /// system and outcome (`ok`, `failed`).
    pub const OPERATIONS: &str = "partreel_operations_total";
    /// Sync runs, by job and outcome (`ok`, `failed`).
    pub const RUNS: &str = "partreel_runs_total";
    /// Unix time of the last successful run, by job.
    pub const LAST_SUCCESS: &str = "partreel_last_success_timestamp_seconds";
    /// Records in quarantine.
    pub const QUARANTINE_SIZE: &str = "partreel_quarantine_records";
    /// Clips waiting in the work queue.
    pub const WORK_QUEUE: &str = "partreel_work_queue_clips";
}

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "error",
    }
}

/// One HTTP attempt finished (`status` None: transport failure).
pub fn http_request(system: &str, status: Option<u16>, elapsed: Duration) {
    metrics::counter!(names::HTTP_REQUESTS, "system" => system.to_string(), "status" => status_class(status))
        .increment(1);
    metrics::histogram!(names::HTTP_DURATION, "system" => system.to_string())
        .record(elapsed.as_secs_f64());
}

/// Time spent waiting on the client rate limit.
pub fn rate_limit_wait(system: &str, waited: Duration) {
    metrics::counter!(names::RATE_LIMIT_WAIT, "system" => system.to_string())
        .increment(waited.as_millis() as u64);
}

/// A request failed for good.
pub fn error(system: &str, kind: &'static str) {
    metrics::counter!(names::ERRORS, "system" => system.to_string(), "kind" => kind).increment(1);
}

/// A remote write was made (or failed).
pub fn operation(kind: &'static str, system: &str, ok: bool) {
    metrics::counter!(
        names::OPERATIONS,
        "kind" => kind,
        "system" => system.to_string(),
        "outcome" => if ok { "ok" } else { "failed" }
    )
    .increment(1);
}

/// A run ended.
pub fn run_finished(job: &str, ok: bool, quarantine_size: Option<u64>, work_queue: Option<u64>) {
    metrics::counter!(names::RUNS, "job" => job.to_string(), "outcome" => if ok { "ok" } else { "failed" })
        .increment(1);
    if ok {
        let now = chrono::Utc::now().timestamp() as f64;
        metrics::gauge!(names::LAST_SUCCESS, "job" => job.to_string()).set(now);
    }
    if let Some(n) = quarantine_size {
        metrics::gauge!(names::QUARANTINE_SIZE).set(n as f64);
    }
    if let Some(n) = work_queue {
        metrics::gauge!(names::WORK_QUEUE).set(n as f64);
    }
}
