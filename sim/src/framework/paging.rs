//! Keyset walks over a `(modified, id)` index, with offset-style continuations that stay cheap.
//!
//! Both vendors page by offset (`$skiptoken=<offset>`, `page=N`). Counting `offset` records
//! from the start costs O(offset), so each store remembers where a served page ended: when the
//! next page of the same query arrives and the collection has not changed since, the walk
//! resumes right after that key in O(log n). After any change it falls back to counting, so the
//! answer is always exactly what offset paging means.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use chrono::{DateTime, Utc};

/// Index key: modified time, then id (the tie-breaker).
pub(crate) type Key = (DateTime<Utc>, String);

/// Cap on remembered continuations before the cache is reset.
const MAX_CURSORS: usize = 8192;

/// Where served pages ended: (query signature, offset) → (collection generation, last key).
#[derive(Debug, Default, Clone)]
pub(crate) struct PageCursors {
    map: HashMap<(String, usize), (u64, Key)>,
}

impl PageCursors {
    /// The key the page starting at `offset` resumes after, if still valid for `generation`.
    pub(crate) fn hint(&self, sig: &str, offset: usize, generation: u64) -> Option<Key> {
        match self.map.get(&(sig.to_owned(), offset)) {
            Some((g, key)) if *g == generation => Some(key.clone()),
            _ => None,
        }
    }

    /// Remembers that the page ending before `offset` ended on `key`.
    pub(crate) fn remember(&mut self, sig: &str, offset: usize, generation: u64, key: Key) {
        if self.map.len() >= MAX_CURSORS {
            self.map.clear();
        }
        self.map.insert((sig.to_owned(), offset), (generation, key));
    }
}

/// One page walk over `index`.
pub(crate) struct Walk<'a> {
    /// Newest first instead of oldest first.
    pub(crate) desc: bool,
    /// Only keys at or after this time.
    pub(crate) lower: Option<DateTime<Utc>>,
    /// Kept keys to skip (ignored when `resume_after` is set).
    pub(crate) offset: usize,
    /// Page size.
    pub(crate) limit: usize,
    /// Resume strictly after this key (it stood at `offset`).
    pub(crate) resume_after: Option<&'a Key>,
}

impl Walk<'_> {
    /// The page's keys, and whether more kept keys follow.
    pub(crate) fn run(
        &self,
        index: &BTreeSet<Key>,
        mut keep: impl FnMut(&Key) -> bool,
    ) -> (Vec<Key>, bool) {
        let low = match (self.lower, self.resume_after) {
            (_, Some(k)) if !self.desc => Bound::Excluded(k.clone()),
            (Some(t), _) => Bound::Included((t, String::new())),
            (None, _) => Bound::Unbounded,
        };
        let high = match self.resume_after {
            Some(k) if self.desc => Bound::Excluded(k.clone()),
            _ => Bound::Unbounded,
        };
        // A resumed walk from a lower bound can end up with low > high; BTreeSet panics then.
        if let (Bound::Excluded(l) | Bound::Included(l), Bound::Excluded(h)) = (&low, &high)
            && l >= h
        {
            return (Vec::new(), false);
        }
        let skip = if self.resume_after.is_some() {
            0
        } else {
            self.offset
        };
        let range = index.range((low, high));
        let iter: Box<dyn Iterator<Item = &Key>> = if self.desc {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut out: Vec<Key> = iter
            .filter(|k| keep(k))
            .skip(skip)
            .take(self.limit + 1)
            .cloned()
            .collect();
        let more = out.len() > self.limit;
        out.truncate(self.limit);
        (out, more)
    }
}
