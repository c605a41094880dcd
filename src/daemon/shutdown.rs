//! Graceful shutdown: one flag every part of the daemon watches.
//!
//! On SIGTERM or SIGINT the daemon [`Shutdown::trigger`]s: the engines' [`StopSignal`] is set
//! (a run finishes the writes in flight and stops between two clips, leaving the rest queued),
//! job loops stop scheduling, `/readyz` turns 503, and [`drain`] waits for the runs in flight
//! up to the configured bound.

use std::time::Duration;

use partreel_core::engine::StopSignal;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The daemon's stop flag (cheap to clone).
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
    stop: StopSignal,
}

impl Shutdown {
    /// A flag that also sets the engines' `stop`.
    pub fn new(stop: StopSignal) -> Self {
        Shutdown {
            tx: watch::Sender::new(false),
            stop,
        }
    }

    /// Asks everything to stop.
    pub fn trigger(&self) {
        self.stop.stop();
        self.tx.send_replace(true);
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once triggered.
    pub async fn triggered(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }
}

/// How the wait for in-flight runs ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every job loop ended.
    Clean,
    /// The bound passed with runs still going (their writes are journaled; the next run's
    /// recovery settles them).
    TimedOut,
    /// A second signal asked not to wait.
    Interrupted,
}

/// Waits for every task of `loops` to end, at most `bound`, or until a second signal.
pub async fn drain(
    loops: &mut JoinSet<()>,
    bound: Duration,
    signals: &mut crate::commands::Shutdown,
) -> Drained {
    let all = async {
        while let Some(r) = loops.join_next().await {
            if let Err(e) = r
                && e.is_panic()
            {
                tracing::error!(error = %e, "a job loop panicked");
            }
        }
    };
    tokio::select! {
        () = all => Drained::Clean,
        () = tokio::time::sleep(bound) => Drained::TimedOut,
        () = signals.wait() => Drained::Interrupted,
    }
}
