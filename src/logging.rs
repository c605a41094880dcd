//! Log setup: human-readable or JSON lines on stderr, filtered by `--log-level`.
//!
//! Every line of a sync carries its run id through the engine's `sync` span. Nothing logged by
//! partreel carries a secret: credentials live in `secrecy` types and sensitive headers.

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::cli::{GlobalArgs, LogFormat};

/// partreel's own crates besides the connectors (those come from the system registry):
/// `partreel_connector` holds the HTTP plumbing every connector uses (its `http` events: method,
/// path, status, never a query or a credential).
const CORE_CRATES: &[&str] = &["partreel", "partreel_core", "partreel_connector"];
/// The emulators' crate, after the connectors.
const SIM_CRATE: &str = "partreel_sim";

/// partreel's own crates: a bare `--log-level` applies to these in full. The connector crates
/// are the registry's ([`crate::systems::SYSTEMS`]).
fn own_crates() -> impl Iterator<Item = &'static str> {
    CORE_CRATES
        .iter()
        .copied()
        .chain(crate::systems::connector_crates())
        .chain(std::iter::once(SIM_CRATE))
}

/// Crates whose debug and trace events print credentials (`cookie_store`: every `Set-Cookie`,
/// Windchill's and Teamcenter's `JSESSIONID`, 3DPassport's `CASTGC`): never shown above `info`,
/// whatever the filter says.
const NEVER_VERBOSE: &[&str] = &["cookie_store"];

/// The second gate every event passes, after `--log-level`: a span directive such as
/// `[sync]=trace` enables every crate's events inside the span, so here a dependency's debug
/// and trace events pass only when the filter names that crate (`hyper=trace`), and those of
/// [`NEVER_VERBOSE`] crates never.
fn dependency_gate(spec: &str) -> impl Fn(&tracing::Metadata<'_>) -> bool + Send + Sync + 'static {
    let named: Vec<String> = spec
        .split(',')
        .map(str::trim)
        .filter(|d| !d.starts_with('['))
        .filter_map(|d| d.split_once('=').map(|(t, _)| t))
        .map(|t| t.split('[').next().unwrap_or(t).trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    move |m| {
        if *m.level() <= tracing::Level::INFO {
            return true;
        }
        let target = m.target();
        let krate = target.split("::").next().unwrap_or(target);
        if NEVER_VERBOSE.contains(&krate) {
            return false;
        }
        own_crates().any(|c| c == krate) || named.iter().any(|n| target.starts_with(n.as_str()))
    }
}

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
                let own = own_crates().map(|c| format!(",{c}={level}"));
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
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = EnvFilter::try_new(scoped_filter(&args.log_level))
        .with_context(|| format!("--log-level {:?} is not a valid filter", args.log_level))?;
    let gate = filter_fn(dependency_gate(&args.log_level));
    let registry = tracing_subscriber::registry().with(filter);
    let text = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    match args.log_format {
        LogFormat::Text => registry.with(text.with_filter(gate)).try_init(),
        LogFormat::Json => registry
            .with(
                text.json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_filter(gate),
            )
            .try_init(),
    }
    .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_crates_cover_every_connector_of_the_registry() {
        let own: Vec<&str> = own_crates().collect();
        for s in crate::systems::SYSTEMS {
            assert!(own.contains(&s.krate), "{} is not logged in full", s.krate);
        }
        for c in [
            "partreel",
            "partreel_core",
            "partreel_connector",
            "partreel_sim",
        ] {
            assert!(own.contains(&c), "{c}");
        }
    }

    #[test]
    fn a_bare_level_applies_to_each_connector_crate() {
        let filter = scoped_filter("debug");
        for s in crate::systems::SYSTEMS {
            assert!(filter.contains(&format!(",{}=debug", s.krate)), "{filter}");
        }
        assert!(filter.starts_with("info,partreel=debug,"), "{filter}");
    }
}
