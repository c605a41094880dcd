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

/// Listens for Ctrl-C and SIGTERM from the moment it is made, so a signal that arrives before
/// [`Shutdown::wait`] is first awaited is not lost. (A `ctrl_c()` future registers only when
/// first polled, and once tokio has taken SIGINT over, a signal no listener sees is dropped: a
/// command that printed "Ctrl-C to stop" and was interrupted before it awaited would never
/// stop.) Make it at the start of a command and wait on the same one throughout.
pub struct Shutdown {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Shutdown {
    /// Starts listening now.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Self { signals }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the next Ctrl-C or SIGTERM (one that came since [`Shutdown::listen`] returns
    /// at once).
    pub async fn wait(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.signals {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::Shutdown;
    use std::time::Duration;

    /// A signal that comes after `listen` but before anyone awaits `wait` is still seen (the
    /// demo printed "Ctrl-C to stop" and was interrupted before it awaited: it never stopped).
    #[tokio::test]
    async fn a_signal_before_the_wait_is_not_lost() {
        let mut shutdown = Shutdown::listen();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::time::timeout(Duration::from_secs(5), shutdown.wait())
            .await
            .expect("the signal sent before the wait ends it");
    }
}
