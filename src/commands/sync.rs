//! `partreel sync`: one sync, its report on stdout (text or `--json`).

use std::process::ExitCode;

use crate::cli::SyncArgs;
use crate::{config, wiring};

/// Environment variable of the crash-safety tests: abort right after this many remote writes.
pub const CRASH_AFTER_WRITES_ENV: &str = "PARTREEL_TEST_CRASH_AFTER_WRITES";

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.config)?;
    let mut opts = cfg.sync_options();
    opts.dry_run = args.dry_run;
    opts.full_scan = args.full_scan;
    opts.crash_after_writes = std::env::var(CRASH_AFTER_WRITES_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    let (engine, _store) = wiring::engine(&cfg, opts)?;
    let report = engine.run().await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(ExitCode::SUCCESS)
}
