//! `partreel doctor`: read-only preflight of every system the configuration's jobs use (or one
//! job's two), plus the state store; the checks themselves are `partreel_core::doctor`.

use std::process::ExitCode;

use partreel_core::doctor::{self, Check, Status};
use serde_json::json;

use crate::cli::DoctorArgs;
use crate::config::{self, Side};
use crate::wiring;

pub async fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.record_wire {
        partreel_core::http::record::start(dir)
            .map_err(|e| anyhow::anyhow!("--record-wire {}: {e}", dir.display()))?;
    }
    let checks = checks(&args).await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&json!({
                "ok": doctor::all_passed(&checks),
                "checks": checks,
            }))?
        );
    } else {
        for c in &checks {
            println!("{}", c.line());
        }
        let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
        println!(
            "{} passed, {} warning(s), {} failed",
            count(Status::Pass),
            count(Status::Warn),
            count(Status::Fail)
        );
    }
    Ok(if doctor::all_passed(&checks) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn checks(args: &DoctorArgs) -> Vec<Check> {
    let file = args.config.display().to_string();
    let cfg = match config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::fail(
                &file,
                "config",
                format!("{e:#}"),
                "correct the configuration file as the message says",
            )];
        }
    };
    let jobs = match cfg.select_jobs(args.job.as_deref()) {
        Ok(j) => j,
        Err(e) => {
            return vec![Check::fail(
                &file,
                "config",
                format!("{e:#}"),
                "name a job the configuration defines",
            )];
        }
    };
    let mut out = vec![state(&cfg)];
    // Each system once, in the jobs' order.
    let mut systems: Vec<String> = Vec::new();
    for j in &jobs {
        for s in [&j.plm, &j.dam] {
            if !systems.contains(s) {
                systems.push(s.clone());
            }
        }
    }
    let opts = doctor::Options::default();
    for name in &systems {
        out.extend(system(&cfg, name, &opts).await);
    }
    out
}

/// The state store opens (and, for PostgreSQL, is reachable and migrated).
fn state(cfg: &config::Loaded) -> Check {
    let what = if cfg.state_url().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    match wiring::store(cfg) {
        Ok(_) => Check::pass("state", "state", format!("the {what} state store opens")),
        Err(e) => Check::fail(
            "state",
            "state",
            format!("{e:#}"),
            "correct `state` in the configuration: a writable SQLite path or a reachable \
             postgres:// URL",
        ),
    }
}

/// The checks of one system: its connector and mapping build, then the live checks.
async fn system(cfg: &config::Loaded, name: &str, opts: &doctor::Options) -> Vec<Check> {
    let Some(section) = cfg.systems.get(name) else {
        return vec![Check::fail(
            name,
            "config",
            format!("{}: no system named {name:?}", cfg.path.display()),
            "add the system's section or correct the job",
        )];
    };
    let kind = section.kind();
    let mapping = match wiring::mapping(cfg, name) {
        Ok(m) => m,
        Err(e) => {
            return vec![Check::fail(
                name,
                "mapping",
                format!("{e:#}"),
                "correct the mapping file at the line the message names",
            )];
        }
    };
    let config_fail = |e: anyhow::Error| {
        vec![Check::fail(
            name,
            "config",
            format!("{e:#}"),
            format!("correct [systems.{name}] as the message says"),
        )]
    };
    match section.side() {
        Side::Plm => match wiring::plm(cfg, name, &mapping) {
            Ok(conn) => {
                let checks = doctor::plm(conn.as_ref(), kind, &mapping, opts).await;
                conn.close().await;
                checks
            }
            Err(e) => config_fail(e),
        },
        Side::Dam => match wiring::dam(cfg, name) {
            Ok(conn) => doctor::dam(conn.as_ref(), kind, &mapping, opts).await,
            Err(e) => config_fail(e),
        },
    }
}
