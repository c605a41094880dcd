//! `partreel doctor`: read-only preflight checks of one configured system against what a sync
//! needs, before the first sync — sign-in, read access, the server's clock, the change feeds'
//! sort order and modified-since filter (two small probes each), the mapping's properties and
//! their types, write access where the vendor can tell without writing, and the rate limits.
//!
//! Every check yields one [`Check`]: pass, warn or fail, with the reason and, when it is not a
//! pass, the fix. Nothing here writes to a remote system.

mod feed;
mod types;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::connector::{
    ChangeQuery, DamConnector, Page, PlmConnector, RateLimitReport, RemoteSchema, WriteAccess,
};
use crate::error::ConnectorError;
use crate::mapping::Mapping;

pub use types::{ValueClass, canonical_class, remote_class};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// What partreel needs holds.
    Pass,
    /// A sync will work, but something deserves a look.
    Warn,
    /// A sync would fail or lose data until this is fixed.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// The outcome of one check on one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The configured system name.
    pub system: String,
    /// What was checked (`auth`, `read`, `clock`, `feed-order:parts`, `mapping`, …).
    pub check: String,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it (always given unless the check passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn pass(system: &str, check: &str, detail: impl Into<String>) -> Check {
        Check {
            system: system.to_string(),
            check: check.to_string(),
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A warning, with what to do about it.
    pub fn warn(
        system: &str,
        check: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Warn,
            fix: Some(fix.into()),
            ..Check::pass(system, check, detail)
        }
    }

    /// A failure, with the fix.
    pub fn fail(
        system: &str,
        check: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Fail,
            fix: Some(fix.into()),
            ..Check::pass(system, check, detail)
        }
    }

    /// One line: `fail  bynder  feed-order:assets  detail — fix: …`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{:<4}  {:<12} {:<20} {}",
            self.status.as_str(),
            self.system,
            self.check,
            self.detail
        );
        if let Some(fix) = &self.fix {
            s.push_str(" — fix: ");
            s.push_str(fix);
        }
        s
    }
}

/// Limits of the probes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Records asked for per probe page (small: the probes are cheap).
    pub probe_page: u32,
    /// Clock difference above which the clock check warns.
    pub skew_warn: Duration,
    /// Clock difference above which it fails.
    pub skew_fail: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            probe_page: 20,
            skew_warn: Duration::from_secs(30),
            skew_fail: Duration::from_secs(300),
        }
    }
}

/// Checks a PLM: sign-in and read access, clock, the part and link feeds, the mapping against
/// the live schema, write access, rate limits. `kind` is the connector type (`windchill`, …),
/// used to point at its wire document.
pub async fn plm(
    conn: &dyn PlmConnector,
    kind: &str,
    mapping: &Mapping,
    opts: &Options,
) -> Vec<Check> {
    let system = conn.system().to_string();
    let mut out = Vec::new();
    let query = ChangeQuery {
        since: None,
        continuation: None,
        page_size: opts.probe_page,
    };
    let first = conn.changed_parts(&query).await;
    let Some(first) = signed_in(&system, kind, "part revisions", first, &mut out) else {
        return out;
    };
    out.push(clock(&system, first.server_time, opts));
    out.extend(
        feed::probe(
            &feed::Feed {
                system: &system,
                kind,
                name: "parts",
                page_size: opts.probe_page,
            },
            &first,
            |q| async move { conn.changed_parts(&q).await },
        )
        .await,
    );
    match conn.changed_links(&query).await {
        Ok(links) => {
            out.extend(
                feed::probe(
                    &feed::Feed {
                        system: &system,
                        kind,
                        name: "links",
                        page_size: opts.probe_page,
                    },
                    &links,
                    |q| async move { conn.changed_links(&q).await },
                )
                .await,
            );
        }
        Err(e) => out.push(Check::fail(
            &system,
            "read:links",
            format!("the link records could not be read: {e}"),
            format!(
                "give the account read access to the link records' type (docs/wire/{kind}.md \
                 lists the request)"
            ),
        )),
    }
    out.push(mapping_check(&system, mapping, conn.schema().await));
    out.push(write(&system, conn.write_access().await));
    out.push(rate_limit(
        &system,
        &conn.rate_limits(),
        conn.requests_for_links(PER_CLIPS, 0),
    ));
    out
}

/// Checks a DAM: sign-in and read access, clock, the asset feed, the mapping against the live
/// schema, write access, rate limits.
pub async fn dam(
    conn: &dyn DamConnector,
    kind: &str,
    mapping: &Mapping,
    opts: &Options,
) -> Vec<Check> {
    let system = conn.system().to_string();
    let mut out = Vec::new();
    let query = ChangeQuery {
        since: None,
        continuation: None,
        page_size: opts.probe_page,
    };
    let first = conn.changed_assets(&query).await;
    let Some(first) = signed_in(&system, kind, "assets", first, &mut out) else {
        return out;
    };
    out.push(clock(&system, first.server_time, opts));
    out.extend(
        feed::probe(
            &feed::Feed {
                system: &system,
                kind,
                name: "assets",
                page_size: opts.probe_page,
            },
            &first,
            |q| async move { conn.changed_assets(&q).await },
        )
        .await,
    );
    out.push(mapping_check(&system, mapping, conn.schema().await));
    out.push(write(&system, conn.write_access().await));
    out.push(rate_limit(
        &system,
        &conn.rate_limits(),
        conn.requests_for_clips(PER_CLIPS, PER_CLIPS),
    ));
    out
}

/// The first request: sign-in and read access. None (with the failure recorded) when the
/// remaining checks cannot run.
fn signed_in<T>(
    system: &str,
    kind: &str,
    what: &str,
    first: Result<Page<T>, ConnectorError>,
    out: &mut Vec<Check>,
) -> Option<Page<T>> {
    match first {
        Ok(page) => {
            out.push(Check::pass(system, "auth", "signed in"));
            out.push(Check::pass(
                system,
                "read",
                format!("read {} {what} (first page)", page.items.len()),
            ));
            Some(page)
        }
        Err(e @ ConnectorError::Auth { .. }) => {
            out.push(Check::fail(
                system,
                "auth",
                e.to_string(),
                format!(
                    "check the credentials under [systems.{system}.auth] (the secret's \
                     environment variable or file, the user or client id) and that the account \
                     is enabled on the server"
                ),
            ));
            None
        }
        Err(e @ ConnectorError::Transport { .. }) => {
            out.push(Check::fail(
                system,
                "auth",
                format!("the server could not be reached: {e}"),
                format!(
                    "check the URLs under [systems.{system}], the network path and any proxy \
                     between this host and the server"
                ),
            ));
            None
        }
        Err(e @ ConnectorError::Config(_)) => {
            out.push(Check::fail(
                system,
                "auth",
                e.to_string(),
                format!("correct [systems.{system}] as the message says"),
            ));
            None
        }
        Err(e) => {
            out.push(Check::pass(system, "auth", "signed in"));
            let fix = if e.status() == Some(403) {
                format!("give the account read access to the {what}")
            } else {
                format!(
                    "the request is in docs/wire/{kind}.md; run again with --record-wire DIR and \
                     compare the server's answer with it"
                )
            };
            out.push(Check::fail(
                system,
                "read",
                format!("the {what} could not be read: {e}"),
                fix,
            ));
            None
        }
    }
}

/// The server's clock (its `Date` header) against this host's.
fn clock(system: &str, server: Option<DateTime<Utc>>, opts: &Options) -> Check {
    let Some(server) = server else {
        return Check::warn(
            system,
            "clock",
            "the server sent no Date header",
            "none needed for syncing (cursors then follow the newest record's time); a proxy \
             that strips Date hides the server's clock",
        );
    };
    let skew = server - Utc::now();
    let secs = skew.num_seconds();
    let abs = Duration::from_secs(secs.unsigned_abs());
    let ahead = if secs >= 0 { "ahead of" } else { "behind" };
    let detail = format!("the server's clock is {}s {ahead} this host's", secs.abs());
    let fix = "synchronise this host's clock (NTP, chrony or systemd-timesyncd); tokens and \
               session tickets are dated by one clock and checked by the other";
    if abs > opts.skew_fail {
        Check::fail(system, "clock", detail, fix)
    } else if abs > opts.skew_warn {
        Check::warn(system, "clock", detail, fix)
    } else {
        Check::pass(system, "clock", detail)
    }
}

/// Every mapped property exists on the live schema, is writable where partreel writes, and has
/// a type the canonical value fits.
fn mapping_check(
    system: &str,
    mapping: &Mapping,
    schema: Result<RemoteSchema, ConnectorError>,
) -> Check {
    let schema = match schema {
        Ok(s) => s,
        Err(e) => {
            return Check::fail(
                system,
                "mapping",
                format!("the schema could not be read: {e}"),
                "give the account read access to the type definitions (the schema request is in \
                 docs/wire)",
            );
        }
    };
    let mut problems: Vec<String> = mapping
        .validate_against(&schema)
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut warnings = Vec::new();
    // Types matter where partreel writes: a value read is taken as the server renders it.
    for f in mapping.fields.iter().filter(|f| mapping.writes(f)) {
        let Some(prop) = schema
            .entities
            .get(f.entity.as_str())
            .and_then(|props| props.iter().find(|p| p.name == f.remote))
        else {
            continue;
        };
        let at = format!("{}:{}", mapping.path.display(), f.line);
        match types::compatible(&f.canonical, &prop.kind) {
            types::Fit::Yes => {}
            types::Fit::No(why) => problems.push(format!(
                "{at}: {} → {}.{} ({}): {why}",
                f.canonical,
                f.entity.as_str(),
                f.remote,
                prop.kind
            )),
            types::Fit::Doubtful(why) => warnings.push(format!(
                "{at}: {} → {}.{} ({}): {why}",
                f.canonical,
                f.entity.as_str(),
                f.remote,
                prop.kind
            )),
        }
    }
    let mut fix = format!(
        "add the property to the type on {system}, or correct `remote` in {} — `partreel \
         mappings discover {system}` lists the properties that exist, with their types",
        mapping.path.display()
    );
    if !schema.hints.is_empty() {
        fix = format!("{}; otherwise {fix}", schema.hints.join("; "));
    }
    if !problems.is_empty() {
        return Check::fail(system, "mapping", problems.join("; "), fix);
    }
    warnings.extend(schema.caveats.iter().cloned());
    if !warnings.is_empty() {
        return Check::warn(system, "mapping", warnings.join("; "), fix);
    }
    Check::pass(
        system,
        "mapping",
        format!(
            "{} mapped properties exist with compatible types ({})",
            mapping.fields.len(),
            mapping.path.display()
        ),
    )
}

/// What the connector could tell about write access.
fn write(system: &str, access: Result<WriteAccess, ConnectorError>) -> Check {
    match access {
        Ok(WriteAccess::Allowed(why)) => Check::pass(system, "write", why),
        Ok(WriteAccess::Denied(why)) => Check::fail(
            system,
            "write",
            "the account may not write where partreel writes",
            why,
        ),
        Ok(WriteAccess::Unknown(why)) => Check::warn(system, "write", "not told", why),
        Err(e) => Check::fail(
            system,
            "write",
            format!("asking for the account's rights failed: {e}"),
            "see the message; docs/wire lists the request",
        ),
    }
}

/// New clips the rate-limit check's estimate is given for.
const PER_CLIPS: u64 = 1000;

/// The client-side limit, what a first sync of [`PER_CLIPS`] new clips needs at it (`needs`
/// requests), and what the server announced or enforced during the checks.
fn rate_limit(system: &str, r: &RateLimitReport, needs: u64) -> Check {
    let estimate = crate::engine::estimate::at_limit(system, needs, r);
    let configured = format!(
        "partreel sends at most {} request(s) per {}s; a first sync of {PER_CLIPS} new clips \
         needs about {needs} requests here, {} at this limit",
        r.requests,
        r.per_secs,
        crate::engine::estimate::duration(estimate.seconds)
    );
    let fix = format!(
        "set [systems.{system}.http.rate_limit] to the budget the vendor grants this account \
         (requests, per_secs)"
    );
    if r.throttled > 0 {
        return Check::warn(
            system,
            "rate-limit",
            format!(
                "{configured}, yet the server answered 429 {} time(s) during these few checks",
                r.throttled
            ),
            fix,
        );
    }
    if r.server_headers.is_empty() {
        return Check::pass(
            system,
            "rate-limit",
            format!("{configured}; the server sent no rate-limit headers"),
        );
    }
    let seen: Vec<String> = r
        .server_headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    Check::pass(
        system,
        "rate-limit",
        format!("{configured}; the server announced {}", seen.join(", ")),
    )
}

/// The exit status a set of checks calls for: success only when none failed.
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Fail)
}

#[cfg(test)]
mod tests;
