//! Pulling change feeds with keyset paging and safe cursors.
//!
//! A feed is read oldest first from its cursor. After each page the query restarts from the
//! newest modification time seen (`>=`, so records sharing that time are read again and
//! deduplicated by the caller), which means a record edited during the run moves *ahead* of
//! the reader instead of shifting an offset page and being skipped. When one timestamp fills a
//! whole page the server's own continuation is followed until the timestamp is passed.
//!
//! Cursors only move after the page's records are stored, and they hold back an overlap window
//! behind the server's clock so late commits and clock skew lose nothing.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::connector::{ChangeQuery, Page};
use crate::error::ConnectorError;

/// Where a feed stands.
#[derive(Debug, Clone, Copy)]
pub struct FeedCursor {
    /// Stored cursor at the start (None: read everything).
    pub start: Option<DateTime<Utc>>,
    /// Overlap held back behind the server clock.
    pub overlap: Duration,
}

impl FeedCursor {
    /// The cursor to store after reading a page that ended at `last` (a crash after this
    /// resumes from here).
    pub fn after_page(&self, last: DateTime<Utc>) -> DateTime<Utc> {
        let c = last - chrono::Duration::from_std(self.overlap).unwrap_or_default();
        self.start.map_or(c, |s| s.max(c))
    }

    /// The cursor to store after the feed was read to its end. `server_time` is the server's
    /// clock when the first page was answered; every record committed before
    /// `server_time - overlap` has been seen.
    pub fn at_end(
        &self,
        server_time: Option<DateTime<Utc>>,
        last_seen: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let overlap = chrono::Duration::from_std(self.overlap).unwrap_or_default();
        let candidate = match (server_time, last_seen) {
            (Some(s), _) => Some(s - overlap),
            (None, Some(l)) => Some(l - overlap),
            (None, None) => None,
        };
        match (self.start, candidate) {
            (Some(s), Some(c)) => Some(s.max(c)),
            (s, c) => c.or(s),
        }
    }
}

/// Reads a feed to its end. `fetch` gets one page; `handle` stores a page (and returns the
/// records' modification times' maximum, or None for an empty page); `commit` stores an
/// intermediate cursor. Returns the final cursor to store and the number of records read.
pub async fn read_feed<T, F, Fut, H, HFut, C, CFut>(
    cursor: FeedCursor,
    page_size: u32,
    modified: fn(&T) -> DateTime<Utc>,
    mut fetch: F,
    mut handle: H,
    mut commit: C,
) -> Result<(Option<DateTime<Utc>>, u64), super::EngineError>
where
    F: FnMut(ChangeQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>, ConnectorError>>,
    H: FnMut(Page<T>) -> HFut,
    HFut: Future<Output = Result<(), super::EngineError>>,
    C: FnMut(DateTime<Utc>) -> CFut,
    CFut: Future<Output = Result<(), super::EngineError>>,
{
    let mut lower = cursor.start;
    let mut continuation: Option<String> = None;
    let mut first_server_time: Option<DateTime<Utc>> = None;
    let mut last_seen: Option<DateTime<Utc>> = None;
    let mut count = 0u64;
    // Continuations followed since the last keyset restart: a server that cycles through them
    // would never end the feed.
    let mut followed: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        let page = fetch(ChangeQuery {
            since: lower,
            continuation: continuation.clone(),
            page_size,
        })
        .await?;
        if first_server_time.is_none() {
            first_server_time = page.server_time;
        }
        let page_last = page.items.iter().map(modified).max();
        let next = page.continuation.clone();
        count += page.items.len() as u64;
        handle(page).await?;
        if let Some(t) = page_last {
            last_seen = Some(last_seen.map_or(t, |l| l.max(t)));
            commit(cursor.after_page(t)).await?;
        }
        let Some(next) = next else { break };
        match (page_last, lower) {
            // The page moved past the lower bound: restart the query from its last time.
            (Some(t), Some(l)) if t > l => {
                lower = Some(t);
                continuation = None;
                followed.clear();
            }
            (Some(t), None) => {
                lower = Some(t);
                continuation = None;
                followed.clear();
            }
            // One timestamp filled the page (or the page was empty): follow the server.
            _ => {
                if !followed.insert(next.clone()) {
                    return Err(super::EngineError::Feed(format!(
                        "the server returned continuation {next} twice; stopping this feed"
                    )));
                }
                continuation = Some(next);
            }
        }
    }
    Ok((cursor.at_end(first_server_time, last_seen), count))
}

#[cfg(test)]
#[path = "pull_tests.rs"]
mod tests;
