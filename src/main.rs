//! `partreel`: keeps AI video experiments in a DAM and part revisions in a PLM in step.
//!
//! The binary wires the connectors, the state store and the engine together from
//! configuration. `anyhow` lives here only; libraries return typed errors.

mod cli;
mod commands;
mod config;
mod daemon;
mod logging;
mod viewer;
mod wiring;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
