//! `partreel runs [--limit N]`: the run history, latest first, each with its report.

use std::process::ExitCode;

use partreel_core::state::RunRecord;
use serde_json::{Value, json};

use crate::cli::RunsArgs;
use crate::{config, wiring};

pub async fn run(args: RunsArgs) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.state.config)?;
    let store = wiring::store(&cfg)?;
    let runs = store.runs(args.limit).await?;
    if args.state.json {
        let out: Vec<Value> = runs.iter().map(run_json).collect();
        println!("{}", serde_json::to_string(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("no runs yet");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:<20} {:<9} {:>9} {:>8} {:>8} {:>8} {:>7} {:>5}  job",
        "run",
        "started (UTC)",
        "outcome",
        "duration",
        "created",
        "updated",
        "retired",
        "assets",
        "quar."
    );
    for r in &runs {
        let rep = report(r);
        let n = |k: &str| rep.get(k).and_then(Value::as_u64).unwrap_or(0);
        let outcome = match (r.outcome.as_deref(), rep.get("stopped_early")) {
            (Some("ok"), Some(Value::Bool(true))) => "stopped",
            (Some(o), _) => o,
            (None, _) => "running?",
        };
        let duration = r
            .finished_at
            .map(|f| {
                format!(
                    "{:.1}s",
                    (f - r.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<24} {:<20} {:<9} {:>9} {:>8} {:>8} {:>8} {:>7} {:>5}  {}",
            r.run_id,
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            outcome,
            duration,
            n("links_created"),
            n("links_updated"),
            n("links_retired"),
            n("asset_writes"),
            rep.get("quarantined")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
            rep.get("job").and_then(Value::as_str).unwrap_or("")
        );
    }
    println!("(`running?`: no end recorded — still running, or the process was killed)");
    Ok(ExitCode::SUCCESS)
}

/// The stored report, parsed (null when none was stored).
fn report(r: &RunRecord) -> Value {
    r.report
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

fn run_json(r: &RunRecord) -> Value {
    json!({
        "run_id": r.run_id,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "outcome": r.outcome,
        "report": report(r),
    })
}
