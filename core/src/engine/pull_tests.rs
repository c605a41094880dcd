//! Tests for feed reading: cursor arithmetic, and [`read_feed`] against an in-memory feed with
//! the connectors' paging semantics (`since` inclusive, oldest first, a continuation that is an
//! offset within the same query).

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::{Ready, ready};

use chrono::TimeZone;

use super::*;
use crate::engine::EngineError;

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0)
        .single()
        .expect("time")
}

const OVERLAP: Duration = Duration::from_secs(30);

fn overlap() -> chrono::Duration {
    chrono::Duration::from_std(OVERLAP).expect("overlap")
}

#[test]
fn cursor_never_moves_back_and_holds_overlap() {
    let c = FeedCursor {
        start: Some(t(100)),
        overlap: OVERLAP,
    };
    assert_eq!(c.after_page(t(110)), t(100));
    assert_eq!(c.after_page(t(200)), t(170));
    assert_eq!(c.at_end(Some(t(500)), Some(t(200))), Some(t(470)));
    assert_eq!(c.at_end(None, Some(t(200))), Some(t(170)));
    assert_eq!(c.at_end(None, None), Some(t(100)));
    let fresh = FeedCursor {
        start: None,
        overlap: OVERLAP,
    };
    assert_eq!(fresh.at_end(None, None), None);
}

/// A record of the fake feed.
#[derive(Debug, Clone, PartialEq)]
struct Rec {
    id: String,
    t: DateTime<Utc>,
}

fn modified(r: &Rec) -> DateTime<Utc> {
    r.t
}

impl FeedRecord for Rec {
    fn feed_key(&self) -> &str {
        &self.id
    }
    fn feed_modified(&self) -> DateTime<Utc> {
        self.t
    }
}

/// An in-memory change feed. Its clock starts at `t(1000)` and ticks a second per page.
struct Feed {
    records: RefCell<Vec<Rec>>,
    clock: Cell<DateTime<Utc>>,
    queries: RefCell<Vec<ChangeQuery>>,
}

impl Feed {
    fn new(records: Vec<Rec>) -> Self {
        Feed {
            records: RefCell::new(records),
            clock: Cell::new(t(1000)),
            queries: RefCell::new(Vec::new()),
        }
    }

    /// Records modified at or after `since`, oldest first (ties by id), from the offset the
    /// continuation names.
    fn page(&self, q: &ChangeQuery) -> Page<Rec> {
        self.queries.borrow_mut().push(q.clone());
        let mut matching: Vec<Rec> = self
            .records
            .borrow()
            .iter()
            .filter(|r| q.since.is_none_or(|s| r.t >= s))
            .cloned()
            .collect();
        matching.sort_by(|a, b| (a.t, &a.id).cmp(&(b.t, &b.id)));
        let offset = q
            .continuation
            .as_deref()
            .map_or(0, |c| {
                c.parse::<usize>().expect("a continuation of this feed")
            })
            .min(matching.len());
        let end = (offset + q.page_size as usize).min(matching.len());
        let now = self.clock.get();
        self.clock.set(now + chrono::Duration::seconds(1));
        Page {
            items: matching[offset..end].to_vec(),
            rejected: Vec::new(),
            continuation: (end < matching.len()).then(|| end.to_string()),
            server_time: Some(now),
        }
    }

    /// Moves a record to a new modification time.
    fn touch(&self, id: &str, to: DateTime<Utc>) {
        let mut records = self.records.borrow_mut();
        let r = records
            .iter_mut()
            .find(|r| r.id == id)
            .expect("a record of this feed");
        r.t = to;
    }

    fn ids(&self) -> BTreeSet<String> {
        self.records.borrow().iter().map(|r| r.id.clone()).collect()
    }
}

/// `n` records named `{prefix}-NN` at time `at(i)`.
fn records(prefix: &str, n: usize, at: impl Fn(usize) -> DateTime<Utc>) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            id: format!("{prefix}-{i:02}"),
            t: at(i),
        })
        .collect()
}

/// What one read did.
#[derive(Debug)]
struct Read {
    handled: Vec<Rec>,
    commits: Vec<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    count: u64,
}

impl Read {
    fn seen(&self) -> BTreeSet<String> {
        self.handled.iter().map(|r| r.id.clone()).collect()
    }
}

/// Reads `feed` from `start`; `after_page(n, feed)` runs after the n-th page (0-based) was
/// served, to change the feed between pages.
async fn read(
    feed: &Feed,
    start: Option<DateTime<Utc>>,
    page_size: u32,
    after_page: &dyn Fn(usize, &Feed),
) -> Result<Read, EngineError> {
    let handled = RefCell::new(Vec::new());
    let commits = RefCell::new(Vec::new());
    let pages = Cell::new(0usize);
    let (end, count) = read_feed(
        FeedCursor {
            start,
            overlap: OVERLAP,
        },
        page_size,
        modified,
        |q| -> Ready<Result<Page<Rec>, ConnectorError>> {
            let page = feed.page(&q);
            after_page(pages.get(), feed);
            pages.set(pages.get() + 1);
            ready(Ok(page))
        },
        |page: Page<Rec>| -> Ready<Result<(), EngineError>> {
            handled.borrow_mut().extend(page.items);
            ready(Ok(()))
        },
        |at| -> Ready<Result<(), EngineError>> {
            commits.borrow_mut().push(at);
            ready(Ok(()))
        },
    )
    .await?;
    Ok(Read {
        handled: handled.into_inner(),
        commits: commits.into_inner(),
        end,
        count,
    })
}

fn no_change(_: usize, _: &Feed) {}

fn assert_commits_monotone(r: &Read, start: Option<DateTime<Utc>>) {
    for w in r.commits.windows(2) {
        assert!(w[0] <= w[1], "cursor moved back: {:?}", r.commits);
    }
    if let Some(s) = start {
        assert!(
            r.commits.iter().all(|c| *c >= s),
            "a commit went below the start {s}: {:?}",
            r.commits
        );
    }
}

#[tokio::test]
async fn every_record_is_read_and_the_cursor_ends_at_server_time_minus_overlap() {
    // Distinct times, with a few pairs sharing one.
    let feed = Feed::new(records("r", 35, |i| t(1 + (i as i64 / 2) * 3)));
    let r = read(&feed, None, 10, &no_change)
        .await
        .expect("read the feed");
    assert_eq!(r.seen(), feed.ids());
    assert!(r.count >= 35, "count {}", r.count);
    // The clock of the *first* page (t(1000)), not a later one: records committed while
    // the read went on may be behind the later clocks.
    assert_eq!(r.end, Some(t(1000) - overlap()));
    assert!(feed.queries.borrow().len() > 3, "paged");
    assert_commits_monotone(&r, None);
    let last = *r.commits.last().expect("commits");
    assert!(
        r.end.is_some_and(|end| end >= last),
        "final cursor behind {last}"
    );
}

#[tokio::test]
async fn a_stored_cursor_bounds_the_read_and_is_never_moved_back() {
    let feed = Feed::new(records("r", 30, |i| t(i as i64)));
    let r = read(&feed, Some(t(20)), 4, &no_change)
        .await
        .expect("read the feed");
    let want: BTreeSet<String> = (20..30).map(|i| format!("r-{i:02}")).collect();
    assert_eq!(r.seen(), want);
    assert_eq!(r.end, Some(t(1000) - overlap()));
    assert_commits_monotone(&r, Some(t(20)));

    // A cursor ahead of the server clock (skew) stays where it is.
    let r = read(&feed, Some(t(5000)), 4, &no_change)
        .await
        .expect("read the feed");
    assert!(r.handled.is_empty());
    assert_eq!(r.end, Some(t(5000)));
}

#[tokio::test]
async fn a_tie_group_larger_than_a_page_is_read_through_continuations() {
    let mut all = records("early", 3, |i| t(1 + i as i64));
    all.extend(records("tie", 25, |_| t(5)));
    all.extend(records("late", 5, |_| t(9)));
    let feed = Feed::new(all);
    let r = read(&feed, None, 10, &no_change)
        .await
        .expect("read the feed");
    assert_eq!(r.seen(), feed.ids());
    assert!(
        feed.queries
            .borrow()
            .iter()
            .any(|q| q.since == Some(t(5)) && q.continuation.is_some()),
        "the tie group was not followed through the server's continuation: {:?}",
        feed.queries.borrow()
    );
    assert_eq!(r.end, Some(t(1000) - overlap()));
    assert_commits_monotone(&r, None);
}

#[tokio::test]
async fn a_record_edited_during_the_read_is_not_lost() {
    // (record moved, page after which it moves, its new time)
    let cases: &[(&str, usize, i64)] = &[
        // Already read: an offset reader would now skip the record after the page boundary.
        ("r-03", 0, 40),
        // Not read yet: it moves ahead of the reader.
        ("r-15", 0, 40),
        // Moved to the very end of this read's window, and beyond the server clock.
        ("r-05", 1, 999),
        ("r-25", 1, 5000),
    ];
    for &(id, after, to) in cases {
        let feed = Feed::new(records("r", 30, |i| t(1 + i as i64)));
        let r = read(&feed, None, 10, &|n, f: &Feed| {
            if n == after {
                f.touch(id, t(to));
            }
        })
        .await
        .expect("read the feed");
        assert_eq!(
            r.seen(),
            feed.ids(),
            "{id} → t({to}): something was skipped"
        );
        let seen_at_new_time = r.handled.iter().any(|h| h.id == id && h.t == t(to));
        let next_read_sees_it = r.end.is_some_and(|end| t(to) >= end);
        assert!(
            seen_at_new_time || next_read_sees_it,
            "{id} moved to t({to}) is neither read nor ahead of the cursor {:?}",
            r.end
        );
        assert_commits_monotone(&r, None);
    }
}

#[tokio::test]
async fn a_repeated_continuation_stops_the_feed() {
    for items in [
        vec![],
        vec![Rec {
            id: "x".into(),
            t: t(5),
        }],
    ] {
        let calls = Cell::new(0);
        let commits = Cell::new(0);
        let result = read_feed(
            FeedCursor {
                start: Some(t(5)),
                overlap: OVERLAP,
            },
            10,
            modified,
            |_q| {
                calls.set(calls.get() + 1);
                ready(Ok::<_, ConnectorError>(Page {
                    items: items.clone(),
                    rejected: Vec::new(),
                    continuation: Some("same".to_string()),
                    server_time: Some(t(1000)),
                }))
            },
            |_page| ready(Ok::<_, EngineError>(())),
            |at| {
                assert!(at >= t(5), "cursor moved back to {at}");
                commits.set(commits.get() + 1);
                ready(Ok::<_, EngineError>(()))
            },
        )
        .await;
        // An empty page repeated: the continuation itself repeats; a page with records: its
        // records repeat first.
        let expected = if items.is_empty() {
            "continuation same twice"
        } else {
            "repeated record x"
        };
        match result {
            Err(EngineError::Feed(m)) => assert!(m.contains(expected), "{m}"),
            other => panic!("expected a feed error, got {other:?}"),
        }
        assert_eq!(calls.get(), 2, "stopped at the first repeat");
    }
}

#[tokio::test]
async fn the_cursor_does_not_move_past_a_page_that_failed_to_store() {
    let feed = Feed::new(records("r", 30, |i| t(1 + i as i64)));
    let pages = Cell::new(0);
    let commits = RefCell::new(Vec::new());
    let result = read_feed(
        FeedCursor {
            start: None,
            overlap: OVERLAP,
        },
        10,
        modified,
        |q| ready(Ok::<_, ConnectorError>(feed.page(&q))),
        |page: Page<Rec>| {
            pages.set(pages.get() + 1);
            ready(if pages.get() == 2 {
                Err(EngineError::Record(format!(
                    "disk full at {:?}",
                    page.items.first()
                )))
            } else {
                Ok(())
            })
        },
        |at| {
            commits.borrow_mut().push(at);
            ready(Ok::<_, EngineError>(()))
        },
    )
    .await;
    assert!(result.is_err(), "the store failure is returned");
    // Only the first page (r-00..r-09, last at t(10)) was committed.
    assert_eq!(*commits.borrow(), vec![t(10) - overlap()]);
}

/// A stop during a feed (the page's `handle` answers `Stopping`): that page is committed, no
/// further page is fetched, and there is no final cursor, so the next run reads on from there.
#[tokio::test]
async fn a_stop_ends_the_feed_after_the_page_in_hand() {
    let feed = Feed::new(records("r", 30, |i| t(1 + i as i64)));
    let pages = Cell::new(0);
    let commits = RefCell::new(Vec::new());
    let result = read_feed(
        FeedCursor {
            start: None,
            overlap: OVERLAP,
        },
        10,
        modified,
        |q| {
            pages.set(pages.get() + 1);
            ready(Ok::<_, ConnectorError>(feed.page(&q)))
        },
        |_page: Page<Rec>| ready(Err(EngineError::Stopping)),
        |at| {
            commits.borrow_mut().push(at);
            ready(Ok::<_, EngineError>(()))
        },
    )
    .await;
    let (end, count) = result.expect("a stop is not an error");
    assert_eq!((end, count), (None, 10));
    assert_eq!(pages.get(), 1, "no page fetched after the stop");
    assert_eq!(*commits.borrow(), vec![t(10) - overlap()]);
}

/// Reads `pages` (each a list of (id, time)) as a server would answer them, following
/// continuations; returns the result and the cursors committed.
async fn read_pages(
    pages: Vec<Vec<(&'static str, i64)>>,
) -> (
    Result<(Option<DateTime<Utc>>, u64), EngineError>,
    Vec<DateTime<Utc>>,
    usize,
) {
    let served = Cell::new(0usize);
    let stored = Cell::new(0usize);
    let commits = RefCell::new(Vec::new());
    let n = pages.len();
    let result = read_feed(
        FeedCursor {
            start: Some(t(0)),
            overlap: Duration::from_secs(0),
        },
        10,
        modified,
        |_q| {
            let i = served.get();
            served.set(i + 1);
            let items = pages
                .get(i)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|(id, at)| Rec {
                    id: id.to_string(),
                    t: t(at),
                })
                .collect();
            ready(Ok::<_, ConnectorError>(Page {
                items,
                rejected: Vec::new(),
                continuation: (i + 1 < n).then(|| format!("page-{}", i + 1)),
                server_time: Some(t(1000)),
            }))
        },
        |page: Page<Rec>| {
            stored.set(stored.get() + page.items.len());
            ready(Ok::<_, EngineError>(()))
        },
        |at| {
            commits.borrow_mut().push(at);
            ready(Ok::<_, EngineError>(()))
        },
    )
    .await;
    let c = commits.borrow().clone();
    (result, c, stored.get())
}

#[tokio::test]
async fn a_page_out_of_modified_order_stops_the_feed_before_it_is_stored() {
    let (result, commits, stored) = read_pages(vec![vec![("a", 5), ("b", 9), ("c", 7)]]).await;
    match result {
        Err(EngineError::Feed(m)) => {
            assert!(m.contains("out of modified order"), "{m}");
            assert!(m.contains("record c") && m.contains("record b"), "{m}");
        }
        other => panic!("expected a feed error, got {other:?}"),
    }
    assert!(commits.is_empty(), "the cursor did not move: {commits:?}");
    assert_eq!(stored, 0, "nothing of the page was taken as read");
}

#[tokio::test]
async fn a_later_page_older_than_the_one_before_stops_the_feed_at_the_last_good_page() {
    // The second page (a keyset restart from t(5)) goes back in time.
    let (result, commits, stored) =
        read_pages(vec![vec![("a", 5), ("b", 5)], vec![("c", 3)]]).await;
    assert!(
        matches!(&result, Err(EngineError::Feed(m)) if m.contains("out of modified order")),
        "{result:?}"
    );
    assert_eq!(stored, 2);
    assert!(commits.iter().all(|c| *c <= t(5)), "{commits:?}");
}

#[tokio::test]
async fn a_continuation_repeating_the_page_before_stops_the_feed() {
    // Every record at the lower bound's time: the server's continuation is followed.
    let (result, _, stored) =
        read_pages(vec![vec![("a", 0), ("b", 0)], vec![("b", 0), ("c", 0)]]).await;
    match result {
        Err(EngineError::Feed(m)) => assert!(m.contains("repeated record b"), "{m}"),
        other => panic!("expected a feed error, got {other:?}"),
    }
    assert_eq!(stored, 2, "the repeating page is not stored");
}

#[tokio::test]
async fn equal_times_and_a_keyset_restart_pass_the_guards() {
    let (result, _, stored) = read_pages(vec![
        vec![("a", 5), ("b", 5), ("c", 6)],
        vec![("c", 6), ("d", 8)],
    ])
    .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(stored, 5);
}
