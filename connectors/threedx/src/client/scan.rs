//! Turns search results, which come in the search engine's order, into the engine's keyset
//! pages: the `limit` oldest records by `(modified, id)` at or after the cursor (and after the
//! continuation key), kept in a bounded heap while the result pages stream by
//! (docs/wire/threedx.md "Incremental sync").

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};

/// Sort key of a record.
pub(crate) type Key = (DateTime<Utc>, String);

/// One candidate: its key and whatever the caller keeps with it.
struct Entry<T> {
    key: Key,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// The oldest `limit` records seen so far (plus one, to know whether more follow).
pub(crate) struct Selection<T> {
    limit: usize,
    lower: Option<DateTime<Utc>>,
    after: Option<Key>,
    heap: BinaryHeap<Entry<T>>,
}

impl<T> Selection<T> {
    /// Keeps records with `modified >= lower` and key `> after`.
    pub(crate) fn new(limit: usize, lower: Option<DateTime<Utc>>, after: Option<Key>) -> Self {
        Selection {
            limit: limit.max(1),
            lower,
            after,
            heap: BinaryHeap::new(),
        }
    }

    /// Offers one record.
    pub(crate) fn offer(&mut self, key: Key, item: T) {
        if self.lower.is_some_and(|l| key.0 < l) || self.after.as_ref().is_some_and(|a| &key <= a) {
            return;
        }
        self.heap.push(Entry { key, item });
        if self.heap.len() > self.limit + 1 {
            self.heap.pop();
        }
    }

    /// The page oldest first, and the continuation key when more records follow.
    pub(crate) fn finish(self) -> (Vec<(Key, T)>, Option<Key>) {
        let mut all: Vec<(Key, T)> = self
            .heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| (e.key, e.item))
            .collect();
        let more = all.len() > self.limit;
        all.truncate(self.limit);
        let next = if more {
            all.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        (all, next)
    }
}

/// `<RFC 3339 with nanoseconds>|<id>`.
pub(crate) fn encode(key: &Key) -> String {
    format!(
        "{}|{}",
        key.0.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        key.1
    )
}

/// Reads a continuation written by [`encode`].
pub(crate) fn decode(s: &str) -> Option<Key> {
    let (t, id) = s.split_once('|')?;
    let t = DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc);
    Some((t, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + i64::from(s), 0).unwrap_or_default()
    }

    #[test]
    fn keeps_the_oldest_in_order_and_says_more_follow() {
        let mut s = Selection::new(2, Some(t(1)), None);
        for (sec, id) in [(5, "e"), (0, "old"), (1, "b"), (3, "c"), (1, "a")] {
            s.offer((t(sec), id.to_string()), ());
        }
        let (page, next) = s.finish();
        let ids: Vec<&str> = page.iter().map(|(k, _)| k.1.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(next, Some((t(1), "b".to_string())));
    }

    #[test]
    fn continuation_resumes_after_the_key_and_round_trips() {
        let key = (t(1), "b".to_string());
        assert_eq!(decode(&encode(&key)), Some(key.clone()));
        let mut s = Selection::new(5, Some(t(1)), Some(key));
        for id in ["a", "b", "c"] {
            s.offer((t(1), id.to_string()), ());
        }
        let (page, next) = s.finish();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].0.1, "c");
        assert_eq!(next, None);
    }
}
