//! Crash injection for the crash-safety tests: which remote write to abort after.
//!
//! Only a build with the `crash-injection` feature (the one `cargo test` makes, through the
//! binary's dev-dependency) reads [`CRASH_AFTER_WRITES_ENV`]; in any other build
//! [`after_writes`] is `None` without looking at the environment, and the engine holds no
//! abort (see `journal::count_write`).

/// Environment variable of the crash-safety tests: abort right after this many remote writes.
pub const CRASH_AFTER_WRITES_ENV: &str = "PARTREEL_TEST_CRASH_AFTER_WRITES";

/// Whether this build can crash on purpose.
pub const ENABLED: bool = cfg!(feature = "crash-injection");

/// The remote write to abort after, from [`CRASH_AFTER_WRITES_ENV`] — in a crash-injection
/// build only.
pub fn after_writes() -> Option<u64> {
    if !ENABLED {
        return None;
    }
    std::env::var(CRASH_AFTER_WRITES_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
}
