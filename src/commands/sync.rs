//! `partreel sync`: one sync of every job (or `--job NAME`), the report on stdout (text or
//! `--json`).

use std::io::IsTerminal;
use std::process::ExitCode;

use partreel_core::engine::SyncReport;
use serde_json::json;

use crate::cli::SyncArgs;
use crate::{config, wiring};

/// Exit code of a run that stopped at `sync.run_deadline_secs` (work left queued).
pub const DEADLINE_EXIT: u8 = 3;
/// Exit code of a degraded run: it quarantined every clip it handled, or more than the
/// configured share.
pub const DEGRADED_EXIT: u8 = 4;

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.config)?;
    if let Some(dir) = &args.record_wire {
        partreel_core::http::record::start(dir)
            .map_err(|e| anyhow::anyhow!("--record-wire {}: {e}", dir.display()))?;
    }
    let jobs = cfg.select_jobs(args.job.as_deref())?;
    let crash_after = partreel_core::engine::crash::after_writes();
    // Progress bars only for a person watching: a terminal, a text report.
    let bars = (!args.json && !args.no_progress && std::io::stdout().is_terminal())
        .then(super::progress::Bars::new);
    let wired = wiring::engines(&cfg, &jobs, |opts| {
        opts.dry_run = args.dry_run;
        opts.full_scan = args.full_scan;
        opts.crash_after_writes = crash_after;
        opts.progress = bars.as_ref().map(|b| b.hook(&opts.job));
    })?;
    let mut reports = Vec::new();
    for (name, engine) in &wired {
        let result = engine.run().await;
        if let Some(b) = &bars {
            b.finish();
        }
        let mut report = match result {
            Ok(r) => r,
            Err(e) => {
                wiring::close(&wired).await;
                return Err(e.into());
            }
        };
        report.job = name.clone();
        reports.push(report);
    }
    // Shutdown: end PLM sessions (Teamcenter's logout).
    wiring::close(&wired).await;
    if args.json {
        println!("{}", serde_json::to_string(&json_report(&reports))?);
    } else {
        for r in &reports {
            print!("{}", r.render());
        }
    }
    let rule = cfg.degraded_rule();
    let degraded: Vec<String> = reports
        .iter()
        .filter_map(|r| r.degraded(&rule).map(|why| format!("job {}: {why}", r.job)))
        .collect();
    if !degraded.is_empty() {
        for d in &degraded {
            eprintln!(
                "partreel: degraded run — {d}; `partreel quarantine list` gives each reason \
                 ([sync] degraded_min_clips, degraded_share)"
            );
        }
        return Ok(ExitCode::from(DEGRADED_EXIT));
    }
    if let Some(r) = reports.iter().find(|r| r.deadline_reached) {
        eprintln!(
            "partreel: job {} reached sync.run_deadline_secs ({} s) and stopped between \
             batches; what it did is kept, the rest waits for the next run",
            r.job, cfg.config.sync.run_deadline_secs
        );
        return Ok(ExitCode::from(DEADLINE_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

/// One job: its report. Several: the totals, with each job's report under `jobs`.
pub fn json_report(reports: &[SyncReport]) -> serde_json::Value {
    match reports {
        [one] => serde_json::to_value(one).unwrap_or_default(),
        many => {
            let mut total = SyncReport::default();
            for r in many {
                total.absorb(r);
            }
            total.run_id = many
                .iter()
                .map(|r| r.run_id.as_str())
                .collect::<Vec<_>>()
                .join(",");
            let mut v = serde_json::to_value(&total).unwrap_or_default();
            if let Some(obj) = v.as_object_mut() {
                obj.insert("jobs".into(), json!(many));
            }
            v
        }
    }
}
