//! The connector compliance suite (feature `compliance`): one set of contract tests that every
//! [`PlmConnector`](partreel_connector::PlmConnector) and
//! [`DamConnector`](partreel_connector::DamConnector) runs against its emulator.
//!
//! A connector crate implements [`PlmFixture`] or [`DamFixture`] in a test file — start the
//! emulator, build the connector on it, edit a record as a user would, expire the sessions,
//! break the next answer — and invokes [`plm_compliance!`](crate::plm_compliance) or
//! [`dam_compliance!`](crate::dam_compliance), which write one `#[tokio::test]` per contract
//! item calling the functions of [`plm`] and [`dam`]. Every item is a real assertion on what the
//! traits promise in their doc comments: paging without loss or duplicates, the `since` bound
//! and its resumption (through tie groups larger than a page), idempotent creation by link id
//! (also when a request is cut short or refused with a 429), retirement, metadata writes read
//! back, the original file, transparent renewal of an expired session or token, retries counted
//! in the connector's stats, and typed errors for refused credentials and malformed answers.
//! `docs/testing.md` lists the items.
//!
//! A fault the emulator cannot inject (or an item that does not apply to the system) is
//! declared by the fixture returning [`Applies::No`] with the reason; the test then prints the
//! reason and passes, so the exemption is in the fixture's code, never a silent skip.

pub mod dam;
pub mod plm;

use chrono::{DateTime, Utc};
use partreel_connector::connector::{ChangeQuery, Page};
use partreel_connector::error::{ConnectorError, Result};

pub use dam::DamFixture;
pub use plm::PlmFixture;

/// Page size every paging item asks for: small, so a handful of records spans several pages.
pub const PAGE: u32 = 4;

/// Records (part revisions, clips) an item asks the fixture to seed beyond its own story:
/// more than three pages.
pub const RECORDS: usize = 3 * PAGE as usize + 3;

/// Pages a walk may take before the suite calls the feed endless.
const MAX_PAGES: usize = 1_000;

/// Whether a fixture can do what a contract item needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// It did (the fault is armed, the session expired).
    Yes,
    /// It cannot, and why (printed by the item, which then passes).
    No(&'static str),
}

impl Applies {
    /// True when the item goes on; prints the reason otherwise.
    pub(crate) fn proceed(self, system: &str, item: &str) -> bool {
        match self {
            Applies::Yes => true,
            Applies::No(reason) => {
                assert!(
                    !reason.trim().is_empty(),
                    "{system}: {item} declared not applicable without a reason"
                );
                eprintln!("{system}: {item}: not applicable: {reason}");
                false
            }
        }
    }
}

/// A feed record's identity and modification time, for the generic walks.
pub(crate) trait Keyed {
    fn key(&self) -> &str;
    fn at(&self) -> DateTime<Utc>;
}

impl Keyed for partreel_connector::model::PartRevision {
    fn key(&self) -> &str {
        &self.remote_id
    }
    fn at(&self) -> DateTime<Utc> {
        self.modified
    }
}

impl Keyed for partreel_connector::model::RemoteLink {
    fn key(&self) -> &str {
        &self.remote_id
    }
    fn at(&self) -> DateTime<Utc> {
        self.modified
    }
}

impl Keyed for partreel_connector::model::VideoExperiment {
    fn key(&self) -> &str {
        &self.asset_id
    }
    fn at(&self) -> DateTime<Utc> {
        self.modified
    }
}

/// Reads one query to its end by following the server's continuation only (the same
/// `since`): the pages, in order. Panics on an error, on a page larger than asked for and on a
/// feed that never ends.
pub(crate) async fn follow<T, F, Fut>(
    system: &str,
    what: &str,
    since: Option<DateTime<Utc>>,
    mut fetch: F,
) -> Vec<Page<T>>
where
    F: FnMut(ChangeQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let mut pages = Vec::new();
    let mut q = ChangeQuery {
        since,
        continuation: None,
        page_size: PAGE,
    };
    for _ in 0..MAX_PAGES {
        let page = fetch(q.clone())
            .await
            .unwrap_or_else(|e| panic!("{system}: {what} page {}: {e}", pages.len() + 1));
        assert!(
            page.items.len() <= PAGE as usize,
            "{system}: {what} page {} holds {} records, asked for {PAGE}",
            pages.len() + 1,
            page.items.len()
        );
        let next = page.continuation.clone();
        pages.push(page);
        match next {
            Some(c) => q.continuation = Some(c),
            None => return pages,
        }
    }
    panic!("{system}: {what} did not end within {MAX_PAGES} pages");
}

/// Reads a feed to its end as the engine does (keyset paging): after a page that moved past
/// the lower bound, the query restarts from that page's newest time (at or after, so records
/// at that time come again); while one time fills whole pages, the server's continuation is
/// followed. Returns every record read, duplicates included.
pub(crate) async fn keyset_walk<T, F, Fut>(system: &str, what: &str, mut fetch: F) -> Vec<T>
where
    T: Keyed,
    F: FnMut(ChangeQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let mut out = Vec::new();
    let mut q = ChangeQuery {
        since: None,
        continuation: None,
        page_size: PAGE,
    };
    for _ in 0..MAX_PAGES {
        let page = fetch(q.clone())
            .await
            .unwrap_or_else(|e| panic!("{system}: {what} keyset walk: {e}"));
        let last = page.items.iter().map(Keyed::at).max();
        let next = page.continuation.clone();
        out.extend(page.items);
        let Some(next) = next else { return out };
        match (last, q.since) {
            (Some(t), Some(l)) if t > l => {
                q.since = Some(t);
                q.continuation = None;
            }
            (Some(t), None) => {
                q.since = Some(t);
                q.continuation = None;
            }
            _ => q.continuation = Some(next),
        }
    }
    panic!("{system}: {what} keyset walk did not end within {MAX_PAGES} pages");
}

/// Checks a walk's pages: no rejected record, none twice, oldest first; returns the records.
pub(crate) fn exactly_once<T: Keyed + Clone>(
    system: &str,
    what: &str,
    pages: &[Page<T>],
) -> Vec<T> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out: Vec<T> = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.rejected.is_empty(),
            "{system}: {what} page {} rejected records: {:?}",
            i + 1,
            page.rejected
        );
        for item in &page.items {
            assert!(
                seen.insert(item.key().to_string()),
                "{system}: {what}: record {} served twice while following continuations",
                item.key()
            );
            if let Some(prev) = out.last() {
                assert!(
                    prev.at() <= item.at(),
                    "{system}: {what}: record {} (modified {}) came after {} (modified {}): \
                     not oldest first",
                    item.key(),
                    item.at(),
                    prev.key(),
                    prev.at()
                );
            }
            out.push(item.clone());
        }
    }
    out
}

/// Checks that `err` is the typed error for a malformed answer, naming the system and what
/// could not be read.
pub(crate) fn assert_malformed(system: &str, call: &str, err: &ConnectorError) {
    match err {
        ConnectorError::Malformed {
            system: s,
            what,
            detail,
        } => {
            assert_eq!(s, system, "{call}: the error names the system");
            assert!(
                !what.trim().is_empty(),
                "{system}: {call}: the error names no request: {err}"
            );
            assert!(
                !detail.trim().is_empty(),
                "{system}: {call}: the error carries no parser message: {err}"
            );
        }
        other => panic!(
            "{system}: {call} on a malformed answer: expected ConnectorError::Malformed, got \
             {other:?}"
        ),
    }
}

/// Checks that a page carries the server's clock (its `Date` header) and that it is the
/// emulator's `now`, give or take a few seconds.
pub(crate) fn assert_server_time(
    system: &str,
    what: &str,
    got: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    let got = got.unwrap_or_else(|| {
        panic!("{system}: {what}: the page carries no server time (the emulator sends `Date`)")
    });
    assert!(
        (got - now).abs() <= chrono::TimeDelta::seconds(5),
        "{system}: {what}: server time {got} is not the server's clock ({now})"
    );
}

/// Checks that `err` is the typed error for refused credentials, naming the system.
pub(crate) fn assert_auth(system: &str, call: &str, err: &ConnectorError) {
    match err {
        ConnectorError::Auth { system: s, message } => {
            assert_eq!(s, system, "{call}: the error names the system");
            assert!(
                !message.trim().is_empty(),
                "{system}: {call}: the error says nothing of the refusal"
            );
        }
        other => panic!(
            "{system}: {call} with refused credentials: expected ConnectorError::Auth, got \
             {other:?}"
        ),
    }
}

/// The ids of a list of records, as a set.
pub(crate) fn ids<T: Keyed>(items: &[T]) -> std::collections::BTreeSet<String> {
    items.iter().map(|i| i.key().to_string()).collect()
}

/// A failure on the wire the suite asks the emulator for (see `PlmFixture::inject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 Service Unavailable` before the request is processed.
    ServerError,
    /// The connection dropped before any answer.
    Reset,
    /// `429 Too Many Requests` before the request is processed.
    RateLimited,
    /// The request is processed, then its answer cut off halfway and the connection dropped.
    CutShort,
}

impl Fault {
    /// The faults a retried read must get past, each alone.
    pub(crate) const TRANSIENT: [Fault; 4] = [
        Fault::ServerError,
        Fault::Reset,
        Fault::RateLimited,
        Fault::CutShort,
    ];
}

/// Each transient fault in turn on the first request of `read`: the read succeeds, the
/// connector's counters show the extra request and the retry, and a 429 is counted as
/// throttled. `counters` gives (requests, retries, throttled) so far; `clear` removes what a
/// read left unspent.
pub(crate) async fn retried_reads<Fut, T>(
    system: &str,
    inject: impl Fn(usize, Fault) -> Applies,
    clear: impl Fn(),
    counters: impl Fn() -> (u64, u64, u64),
    read: impl Fn() -> Fut,
) where
    Fut: Future<Output = Result<T>>,
{
    // Sign in first, so the fault meets a data request.
    read()
        .await
        .unwrap_or_else(|e| panic!("{system}: a first read: {e}"));
    for fault in Fault::TRANSIENT {
        let (requests, retries, throttled) = counters();
        if !inject(0, fault).proceed(system, "transient_faults_are_retried_and_counted") {
            continue;
        }
        read()
            .await
            .unwrap_or_else(|e| panic!("{system}: a read after one {fault:?}: {e}"));
        clear();
        let (requests_after, retries_after, throttled_after) = counters();
        assert!(
            requests_after >= requests + 2,
            "{system}: {fault:?}: the failed attempt and its retry are counted as requests \
             ({requests} before, {requests_after} after)"
        );
        assert!(
            retries_after > retries,
            "{system}: {fault:?}: the retry is counted ({retries} before, {retries_after} after)"
        );
        if fault == Fault::RateLimited {
            assert_eq!(
                throttled_after,
                throttled + 1,
                "{system}: the 429 is counted in rate_limits().throttled"
            );
        }
    }
}

/// Checks that a schema has `entity` and that each of `names` is a writable property of it.
pub(crate) fn assert_writable(
    system: &str,
    schema: &partreel_connector::connector::RemoteSchema,
    entity: &str,
    names: &[String],
) {
    let props = schema.entities.get(entity).unwrap_or_else(|| {
        panic!(
            "{system}: the schema has no entity {entity:?} (it has {:?})",
            schema.entities.keys().collect::<Vec<_>>()
        )
    });
    for name in names {
        let p = props
            .iter()
            .find(|p| &p.name == name)
            .unwrap_or_else(|| panic!("{system}: the schema's {entity} has no property {name}"));
        assert!(
            p.writable,
            "{system}: the schema says {entity}.{name}, which the connector writes, is read-only"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::Applies;

    #[test]
    fn an_item_goes_on_when_it_applies() {
        assert!(Applies::Yes.proceed("sys", "item"));
    }

    #[test]
    fn an_item_not_applicable_passes_with_its_reason() {
        assert!(!Applies::No("the emulator has no such fault").proceed("sys", "item"));
    }

    #[test]
    #[should_panic(expected = "declared not applicable without a reason")]
    fn an_exemption_without_a_reason_fails() {
        Applies::No("  ").proceed("sys", "item");
    }
}
