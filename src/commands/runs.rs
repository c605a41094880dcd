//! `partreel runs [--limit N]`: the run history, latest first, each with its report.

use std::collections::BTreeMap;
use std::process::ExitCode;

use partreel_core::state::owner::owner_is_gone;
use partreel_core::state::{JournalOp, RunRecord, StateStore};
use serde_json::{Value, json};

use crate::cli::RunsArgs;
use crate::{config, wiring};

pub async fn run(args: RunsArgs) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.state.config)?;
    let store = wiring::store(&cfg)?;
    let runs = store.runs(args.limit).await?;
    let mut shown = Vec::with_capacity(runs.len());
    for r in &runs {
        shown.push(Shown::of(r, store.as_ref()).await?);
    }
    if args.state.json {
        let out: Vec<Value> = runs
            .iter()
            .zip(&shown)
            .map(|(r, s)| run_json(r, s))
            .collect();
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
    let mut unended = false;
    for (r, s) in runs.iter().zip(&shown) {
        let rep = &s.report;
        let n = |k: &str| rep.get(k).and_then(Value::as_u64).unwrap_or(0);
        let duration = r
            .finished_at
            .map(|f| {
                format!(
                    "{:.1}s",
                    (f - r.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "-".into());
        let (created, updated, retired, assets, quarantined) = match &s.journal {
            // A run without an end: what its journal says it completed (retirements are
            // updates there).
            Some(w) => {
                unended = true;
                let w = |op: &str| w.get(op).copied().unwrap_or(0).to_string();
                (
                    w(JournalOp::CreateLink.as_str()),
                    w(JournalOp::UpdateLink.as_str()),
                    "-".to_string(),
                    w(JournalOp::WriteAsset.as_str()),
                    "-".to_string(),
                )
            }
            None => (
                n("links_created").to_string(),
                n("links_updated").to_string(),
                n("links_retired").to_string(),
                n("asset_writes").to_string(),
                rep.get("quarantined")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
                    .to_string(),
            ),
        };
        println!(
            "{:<24} {:<20} {:<9} {:>9} {:>8} {:>8} {:>8} {:>7} {:>5}  {}",
            r.run_id,
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            s.outcome,
            duration,
            created,
            updated,
            retired,
            assets,
            quarantined,
            rep.get("job").and_then(Value::as_str).unwrap_or("")
        );
    }
    if unended {
        println!(
            "(a run without an end: `running` — its process runs; `killed` — its process ended \
             without recording an end; `running?` — another machine's, or an older partreel's. \
             Its counts are the writes its journal records, retirements among the updates.)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `runs` shows of one run.
struct Shown {
    /// `ok`, `stopped`, `degraded`…, or for a run without an end `running`, `killed`,
    /// `running?`.
    outcome: String,
    /// The report (the provisional one of a run without an end).
    report: Value,
    /// For a run without an end: its completed writes by journal operation.
    journal: Option<BTreeMap<String, u64>>,
}

impl Shown {
    async fn of(r: &RunRecord, store: &dyn StateStore) -> anyhow::Result<Shown> {
        let report = report(r);
        if let Some(o) = r.outcome.as_deref() {
            let outcome = match (o, report.get("stopped_early")) {
                ("ok", Some(Value::Bool(true))) => "stopped",
                (o, _) => o,
            };
            return Ok(Shown {
                outcome: outcome.to_string(),
                report,
                journal: None,
            });
        }
        let outcome = match report
            .get("process")
            .and_then(Value::as_str)
            .and_then(owner_is_gone)
        {
            Some(true) => "killed",
            Some(false) => "running",
            None => "running?",
        };
        Ok(Shown {
            outcome: outcome.to_string(),
            journal: Some(store.run_writes(&r.run_id).await?),
            report,
        })
    }
}

/// The stored report, parsed (null when none was stored).
fn report(r: &RunRecord) -> Value {
    r.report
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

fn run_json(r: &RunRecord, s: &Shown) -> Value {
    json!({
        "run_id": r.run_id,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "outcome": r.outcome,
        "state": s.outcome,
        "report": s.report,
        "journal_writes": s.journal,
    })
}
