//! Log setup: human-readable or JSON lines on stderr, filtered by `--log-level`.
//!
//! Every line of a sync carries its run id through the engine's `sync` span. Nothing logged by
//! partreel carries a secret: credentials live in `secrecy` types and sensitive headers.

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::cli::{GlobalArgs, LogFormat};

/// partreel's own crates: a bare `--log-level` applies to these in full.
const OWN_CRATES: &[&str] = &[
    "partreel",
    "partreel_core",
    "partreel_windchill",
    "partreel_bynder",
    "partreel_sim",
];

/// Turns each bare level of a `--log-level` filter (`trace`, `debug`, …) into that level for
/// partreel's own crates and at most `info` for every other crate. Dependencies log secrets at
/// debug and trace: `cookie_store` prints every `Set-Cookie` (the Windchill `JSESSIONID`) at
/// debug. A dependency logs more only when the filter names it (`trace,hyper=trace`).
fn scoped_filter(spec: &str) -> String {
    use tracing_subscriber::filter::LevelFilter;
    spec.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.parse::<LevelFilter>() {
            Ok(level) if !d.contains('=') => {
                let deps = level.min(LevelFilter::INFO);
                let own = OWN_CRATES.iter().map(|c| format!(",{c}={level}"));
                // c2pa warns about optional features (thumbnails) on every signing the
                // emulators do; only its errors matter here.
                let quiet = level.min(LevelFilter::ERROR);
                std::iter::once(deps.to_string())
                    .chain(own)
                    .chain(std::iter::once(format!(",c2pa={quiet}")))
                    .collect::<String>()
            }
            _ => d.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Installs the global subscriber.
pub fn init(args: &GlobalArgs) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(scoped_filter(&args.log_level))
        .with_context(|| format!("--log-level {:?} is not a valid filter", args.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    }
    .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
