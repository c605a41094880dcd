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
//!
//! Both rest on the server answering oldest first and paging without repeats, which no vendor
//! source guarantees for every deployment. So each page is checked before it is stored: a
//! record older than one already read in this feed (the server did not sort, or ignored the
//! lower bound's order), or a page reached through the server's continuation that repeats a
//! record of the page before (paging that does not advance), stops the feed with an error
//! naming the record — the cursor stays where it was, and the next run reads again from there.

mod assets;
mod links;
mod parts;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::connector::{ChangeQuery, Page};
use crate::error::ConnectorError;
use crate::model::{PartRevision, RemoteLink, VideoExperiment};

/// How the paging guards tell a feed's records apart.
pub trait FeedRecord {
    /// The record's id in its system.
    fn feed_key(&self) -> &str;
    /// When the record was last modified (what the feed sorts and filters on).
    fn feed_modified(&self) -> DateTime<Utc>;
}

impl FeedRecord for PartRevision {
    fn feed_key(&self) -> &str {
        &self.remote_id
    }
    fn feed_modified(&self) -> DateTime<Utc> {
        self.modified
    }
}

impl FeedRecord for RemoteLink {
    fn feed_key(&self) -> &str {
        &self.remote_id
    }
    fn feed_modified(&self) -> DateTime<Utc> {
        self.modified
    }
}

impl FeedRecord for VideoExperiment {
    fn feed_key(&self) -> &str {
        &self.asset_id
    }
    fn feed_modified(&self) -> DateTime<Utc> {
        self.modified
    }
}

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
///
/// `handle` may answer [`super::EngineError::Stopping`] after storing its page (a stop request,
/// or the run's deadline): the feed ends there, with its cursor committed after that page and
/// no final cursor.
pub async fn read_feed<T, F, Fut, H, HFut, C, CFut>(
    cursor: FeedCursor,
    page_size: u32,
    modified: fn(&T) -> DateTime<Utc>,
    mut fetch: F,
    mut handle: H,
    mut commit: C,
) -> Result<(Option<DateTime<Utc>>, u64), super::EngineError>
where
    T: FeedRecord,
    F: FnMut(ChangeQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>, ConnectorError>>,
    H: FnMut(Page<T>) -> HFut,
    HFut: Future<Output = Result<(), super::EngineError>>,
    C: FnMut(DateTime<Utc>) -> CFut,
    CFut: Future<Output = Result<(), super::EngineError>>,
{
    let mut keyset = Keyset {
        lower: cursor.start,
        continuation: None,
        followed: Default::default(),
    };
    let mut order = OrderCheck::default();
    let mut first_server_time: Option<DateTime<Utc>> = None;
    let mut last_seen: Option<DateTime<Utc>> = None;
    let mut count = 0u64;
    loop {
        let by_continuation = keyset.continuation.is_some();
        let page = fetch(ChangeQuery {
            since: keyset.lower,
            continuation: keyset.continuation.clone(),
            page_size,
        })
        .await?;
        if first_server_time.is_none() {
            first_server_time = page.server_time;
        }
        order.check(&page.items, modified, by_continuation)?;
        let page_last = page.items.iter().map(modified).max();
        let next = page.continuation.clone();
        count += page.items.len() as u64;
        let halted = match handle(page).await {
            Ok(()) => false,
            Err(super::EngineError::Stopping) => true,
            Err(e) => return Err(e),
        };
        if let Some(t) = page_last {
            last_seen = Some(last_seen.map_or(t, |l| l.max(t)));
            commit(cursor.after_page(t)).await?;
        }
        if halted {
            // The run is stopping: the cursor stays after this page, where the next run reads on.
            return Ok((None, count));
        }
        let Some(next) = next else { break };
        keyset.advance(page_last, next)?;
    }
    Ok((cursor.at_end(first_server_time, last_seen), count))
}

/// Where the next page of a feed is read from: a time bound (keyset paging on the
/// modification time) and, while one timestamp fills whole pages, the server's continuation.
struct Keyset {
    lower: Option<DateTime<Utc>>,
    continuation: Option<String>,
    /// Continuations followed since the last keyset restart: a server that cycles through them
    /// would never end the feed.
    followed: std::collections::HashSet<String>,
}

impl Keyset {
    /// Moves on after a page whose newest record is `page_last` and whose continuation is
    /// `next`.
    fn advance(
        &mut self,
        page_last: Option<DateTime<Utc>>,
        next: String,
    ) -> Result<(), super::EngineError> {
        match (page_last, self.lower) {
            // The page moved past the lower bound: restart the query from its last time.
            (Some(t), Some(l)) if t > l => self.restart(t),
            (Some(t), None) => self.restart(t),
            // One timestamp filled the page (or the page was empty): follow the server.
            _ => {
                if !self.followed.insert(next.clone()) {
                    return Err(super::EngineError::Feed(format!(
                        "the server returned continuation {next} twice; stopping this feed"
                    )));
                }
                self.continuation = Some(next);
            }
        }
        Ok(())
    }

    fn restart(&mut self, from: DateTime<Utc>) {
        self.lower = Some(from);
        self.continuation = None;
        self.followed.clear();
    }
}

/// Checks that a feed comes oldest first and that its continuations advance.
#[derive(Default)]
struct OrderCheck {
    /// The newest modification time read so far, and by which record.
    floor: Option<(DateTime<Utc>, String)>,
    /// The records of the page before (id, time), to catch a continuation that repeats them.
    previous: std::collections::HashSet<(String, DateTime<Utc>)>,
}

impl OrderCheck {
    fn check<T: FeedRecord>(
        &mut self,
        items: &[T],
        modified: fn(&T) -> DateTime<Utc>,
        by_continuation: bool,
    ) -> Result<(), super::EngineError> {
        for item in items {
            let (key, at) = (item.feed_key(), modified(item));
            if let Some((newest, by)) = &self.floor
                && at < *newest
            {
                return Err(super::EngineError::Feed(format!(
                    "the server answered out of modified order: record {key} (modified {at}) came \
                     after record {by} (modified {newest}); the feed is not sorted oldest first, so \
                     the cursor stays where it was and nothing past it is skipped"
                )));
            }
            if by_continuation && self.previous.contains(&(key.to_string(), at)) {
                return Err(super::EngineError::Feed(format!(
                    "the server's continuation repeated record {key} (modified {at}) of the page \
                     before; its paging does not advance, so the cursor stays where it was"
                )));
            }
            self.floor = Some((at, key.to_string()));
        }
        self.previous = items
            .iter()
            .map(|i| (i.feed_key().to_string(), modified(i)))
            .collect();
        Ok(())
    }
}

#[cfg(test)]
#[path = "pull_tests.rs"]
mod tests;
