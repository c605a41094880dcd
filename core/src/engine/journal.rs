//! Journal bookkeeping shared by the writes: closing an entry, and counting remote writes
//! (where crash-safety tests abort on purpose).

use super::*;

/// Marks a journal entry closed, logging instead of failing when the store hiccups after the
/// remote write (the next run's recovery will settle it).
pub(crate) async fn close_journal(
    store: &Arc<dyn StateStore>,
    id: i64,
    state: JournalState,
) -> Result<(), EngineError> {
    store.journal_end(id, state).await?;
    Ok(())
}

/// Counts a remote write and, in a crash-safety test build (feature `crash-injection`), aborts
/// right after the configured one.
pub(crate) fn count_write(engine: &SyncEngine, run: &RunState) {
    let n = run.writes.fetch_add(1, Ordering::SeqCst) + 1;
    engine.work_done(run);
    #[cfg(feature = "crash-injection")]
    if engine.opts.crash_after_writes == Some(n) {
        eprintln!("partreel: test crash after remote write {n}");
        std::process::abort();
    }
    #[cfg(not(feature = "crash-injection"))]
    let _ = (engine, n);
}
