//! The change-feed probes: is the first page sorted oldest modification first, and does the
//! modified-since filter return exactly the records at or after the time asked for — the two
//! things the engine's keyset paging relies on (a cursor past unseen records loses them).

use std::future::Future;

use chrono::{DateTime, SecondsFormat, Utc};

use super::Check;
use crate::connector::{ChangeQuery, Page};
use crate::engine::pull::FeedRecord;
use crate::error::ConnectorError;

/// One feed of one system.
pub(super) struct Feed<'a> {
    pub system: &'a str,
    /// Connector type, for the wire document's name.
    pub kind: &'a str,
    /// `parts`, `links` or `assets`.
    pub name: &'a str,
    pub page_size: u32,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The order check on `first` (the feed's first page, read from the beginning) and the filter
/// check with one more request through `fetch`.
pub(super) async fn probe<T, F, Fut>(feed: &Feed<'_>, first: &Page<T>, fetch: F) -> Vec<Check>
where
    T: FeedRecord,
    F: FnOnce(ChangeQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>, ConnectorError>>,
{
    let order_id = format!("feed-order:{}", feed.name);
    let filter_id = format!("feed-filter:{}", feed.name);
    let mut out = Vec::new();
    if !first.rejected.is_empty() {
        let ids: Vec<&str> = first
            .rejected
            .iter()
            .map(|r| r.id.as_deref().unwrap_or("(no id)"))
            .take(5)
            .collect();
        out.push(Check::warn(
            feed.system,
            &format!("records:{}", feed.name),
            format!(
                "{} record(s) of the first page cannot be read as partreel needs (first: {}: \
                 {})",
                first.rejected.len(),
                ids.join(", "),
                first.rejected[0].reason
            ),
            "a sync quarantines them and goes on; `partreel quarantine list` shows them after \
             the first sync",
        ));
    }
    let times: Vec<DateTime<Utc>> = first.items.iter().map(T::feed_modified).collect();
    if let Some(i) = times.windows(2).position(|w| w[1] < w[0]) {
        let (a, b) = (&first.items[i], &first.items[i + 1]);
        out.push(Check::fail(
            feed.system,
            &order_id,
            format!(
                "the {} feed is not sorted oldest first: record {} (modified {}) came after \
                 record {} (modified {})",
                feed.name,
                b.feed_key(),
                iso(times[i + 1]),
                a.feed_key(),
                iso(times[i])
            ),
            format!(
                "the server ignored the sort partreel asks for (docs/wire/{}.md shows the request); \
                 check the server's version and any setting or proxy that rewrites the query — \
                 partreel refuses to sync an unsorted feed, as a cursor would skip records",
                feed.kind
            ),
        ));
        return out;
    }
    let distinct = {
        let mut d = times.clone();
        d.dedup();
        d
    };
    if distinct.len() < 2 {
        let why = format!(
            "{} record(s) on the first page, {} distinct modification time(s): too few to tell",
            times.len(),
            distinct.len()
        );
        let fix = "run doctor again once the system holds records changed at different times";
        out.push(Check::warn(feed.system, &order_id, why.clone(), fix));
        out.push(Check::warn(feed.system, &filter_id, why, fix));
        return out;
    }
    out.push(Check::pass(
        feed.system,
        &order_id,
        format!(
            "{} records, oldest modification first ({} … {})",
            times.len(),
            iso(times[0]),
            iso(times[times.len() - 1])
        ),
    ));
    // A bound with records before it: the median distinct time.
    let at = distinct[distinct.len() / 2];
    let Some(probe_record) = first.items.iter().find(|r| r.feed_modified() == at) else {
        return out;
    };
    let probe_key = probe_record.feed_key().to_string();
    let page = match fetch(ChangeQuery {
        since: Some(at),
        continuation: None,
        page_size: feed.page_size,
    })
    .await
    {
        Ok(p) => p,
        Err(e) => {
            out.push(Check::fail(
                feed.system,
                &filter_id,
                format!(
                    "asking for records modified at or after {} failed: {e}",
                    iso(at)
                ),
                format!("the filter partreel sends is in docs/wire/{}.md", feed.kind),
            ));
            return out;
        }
    };
    if let Some(older) = page.items.iter().find(|r| r.feed_modified() < at) {
        out.push(Check::fail(
            feed.system,
            &filter_id,
            format!(
                "asked for records modified at or after {}, the server returned record {} \
                 modified {}: the modified-since filter is ignored",
                iso(at),
                older.feed_key(),
                iso(older.feed_modified())
            ),
            format!(
                "the filter partreel sends is in docs/wire/{}.md; check that the \
                 property it filters on is indexed and filterable on this server",
                feed.kind
            ),
        ));
        return out;
    }
    let found = page.items.iter().any(|r| r.feed_key() == probe_key);
    let crowded = page.items.len() >= feed.page_size as usize
        && page.items.iter().all(|r| r.feed_modified() == at);
    if !found && !crowded {
        out.push(Check::fail(
            feed.system,
            &filter_id,
            format!(
                "asked for records modified at or after {}, the server left out record {} \
                 modified exactly then: records changed in the cursor's own second would be \
                 skipped",
                iso(at),
                probe_key
            ),
            format!(
                "the server's filter is exclusive where partreel asks for an inclusive one; \
                 docs/wire/{}.md names the setting for such a server, where the vendor has one",
                feed.kind
            ),
        ));
        return out;
    }
    out.push(Check::pass(
        feed.system,
        &filter_id,
        format!(
            "modified at or after {}: {} record(s), none older, record {} at the bound included",
            iso(at),
            page.items.len(),
            probe_key
        ),
    ));
    out
}
