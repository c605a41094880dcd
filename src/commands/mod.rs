//! One module per subcommand; [`run`] dispatches.

mod demo;
mod doctor;
mod links;
mod mappings;
mod progress;
mod provenance;
mod quarantine;
mod runs;
pub mod serve;
mod sim;
mod sync;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand; the exit code says how it went.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sync(args) => sync::run(args).await,
        Command::Mappings(cmd) => mappings::run(cmd).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Provenance(cmd) => provenance::run(cmd).await,
        Command::Daemon(args) => crate::daemon::run(args).await,
        Command::Quarantine(cmd) => quarantine::run(cmd).await,
        Command::Runs(args) => runs::run(args).await,
        Command::Links(args) => links::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
