//! `partreel`: keeps AI video experiments in a DAM and part revisions in a PLM in step.
//!
//! The binary wires the connectors, the state store and the engine together from
//! configuration. `anyhow` lives here only; libraries return typed errors.

mod cli;
mod commands;
mod config;
mod daemon;
mod logging;
mod systems;
mod viewer;
mod wiring;

#[cfg(test)]
mod props;

use std::process::ExitCode;

use clap::Parser;

/// Large buffers go straight back to the system when freed.
///
/// glibc raises its mmap threshold each time a large mapped block is freed, after which blocks
/// of that size come from per-thread arenas that keep them: checking 20 MB clips on the
/// blocking threads grew the resident set to 340 MiB of freed memory (86 MiB with the
/// threshold fixed, same throughput; benches/provenance.sh).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_mmap_threshold() {
    // SAFETY: mallopt only changes allocator tuning; called first thing in `main`, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_mmap_threshold() {}

fn main() -> ExitCode {
    fix_mmap_threshold();
    let cli = cli::Cli::parse();
    if let Err(e) = logging::init(&cli.global) {
        eprintln!("partreel: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("partreel: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("partreel: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
