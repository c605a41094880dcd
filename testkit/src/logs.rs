//! Captured logs: a `tracing` subscriber at TRACE writing into a buffer, for the tests that
//! check no secret (password, token, session cookie) reaches a log line.

use std::sync::{Arc, Mutex};

/// A log buffer shared with the subscriber that writes into it.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Makes a TRACE subscriber (no colours) writing here this thread's default until the
    /// guard drops. Use it on a `current_thread` runtime (tokio's test default), so it sees
    /// every task of the test.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // Callsites first hit by a thread without a subscriber cache "never"; rebuild so this
        // thread's subscriber sees every event.
        tracing::callsite::rebuild_interest_cache();
        guard
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        match self.0.lock() {
            Ok(buf) => String::from_utf8_lossy(&buf).into_owned(),
            Err(poisoned) => String::from_utf8_lossy(&poisoned.into_inner()).into_owned(),
        }
    }
}
