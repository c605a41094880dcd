//! The Teamcenter emulator's state: items and item revisions, clip records (a Form subtype),
//! GRM relations, sessions and injected partial errors, with the indices that keep queries at
//! O(result + log n): `(last_mod_date, uid)` ordered sets and link id → records.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::schema::{self, Declared};
use crate::framework::paging::Key;

/// The part revision type.
pub(crate) const REVISION_TYPE: &str = "ItemRevision";
/// The item type.
pub(crate) const ITEM_TYPE: &str = "Item";
/// The clip record type.
pub(crate) const RECORD_TYPE: &str = "PromptToPartForm";
/// The GRM relation type between a revision (primary) and a record (secondary).
pub(crate) const RELATION_TYPE: &str = "PromptToPart";
/// The record property holding the link id.
pub(crate) const LINK_ID_PROP: &str = "ptp_link_id";

/// One item revision.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Revision {
    pub(crate) uid: String,
    pub(crate) item_uid: String,
    pub(crate) item_id: String,
    pub(crate) revision: String,
    pub(crate) name: String,
    /// Release status names, e.g. `["Released"]`; empty while in work.
    pub(crate) status: Vec<String>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    /// Other string properties (`c9_sku`, `object_desc`).
    pub(crate) props: BTreeMap<String, String>,
}

/// One clip record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) uid: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    /// Its string properties (`object_name`, `ptp_*`).
    pub(crate) props: BTreeMap<String, String>,
}

/// One GRM relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub(crate) uid: String,
    pub(crate) primary: String,
    pub(crate) secondary: String,
}

/// A partial error waiting for the element it names (by clientId or index).
#[derive(Debug, Clone)]
pub(crate) struct Injected {
    pub(crate) key: String,
    pub(crate) message: String,
}

/// Everything the emulator holds.
#[derive(Debug, Default)]
pub(crate) struct TcStore {
    pub(crate) revisions: HashMap<String, Revision>,
    revs_by_modified: BTreeSet<Key>,
    /// item id → (item uid, revision uids in creation order).
    items: HashMap<String, (String, Vec<String>)>,
    pub(crate) records: HashMap<String, Record>,
    records_by_modified: BTreeSet<Key>,
    records_by_link: HashMap<String, BTreeSet<String>>,
    records_order: Vec<String>,
    /// relation uid → relation, and (primary, secondary) → relation uid.
    pub(crate) relations: BTreeMap<String, Relation>,
    relation_pairs: BTreeMap<(String, String), String>,
    sessions: HashSet<String>,
    pub(crate) logins: u64,
    pub(crate) fail_create: Vec<Injected>,
    pub(crate) fail_relation: Vec<Injected>,
    next_uid: u64,
}

impl TcStore {
    /// A new UID: a class letter and 13 digits (Teamcenter UIDs are 14 characters).
    fn uid(&mut self, class: char) -> String {
        self.next_uid += 1;
        format!("{class}{:013}", self.next_uid)
    }

    // ---- revisions ----

    /// Adds a revision (its item is created on first use); returns its UID.
    pub(crate) fn add_revision(&mut self, mut rev: Revision) -> String {
        let item_uid = match self.items.get(&rev.item_id) {
            Some((uid, _)) => uid.clone(),
            None => self.uid('Q'),
        };
        rev.uid = self.uid('R');
        rev.item_uid = item_uid.clone();
        let entry = self
            .items
            .entry(rev.item_id.clone())
            .or_insert_with(|| (item_uid, Vec::new()));
        entry.1.push(rev.uid.clone());
        self.revs_by_modified
            .insert((rev.modified, rev.uid.clone()));
        let uid = rev.uid.clone();
        self.revisions.insert(uid.clone(), rev);
        uid
    }

    /// Changes a revision and keeps the index right.
    pub(crate) fn edit_revision(&mut self, uid: &str, f: impl FnOnce(&mut Revision)) -> bool {
        let Some(rev) = self.revisions.get_mut(uid) else {
            return false;
        };
        self.revs_by_modified
            .remove(&(rev.modified, uid.to_owned()));
        f(rev);
        self.revs_by_modified.insert((rev.modified, uid.to_owned()));
        true
    }

    /// The item's UID and its revisions' UIDs, oldest first.
    pub(crate) fn item(&self, item_id: &str) -> Option<&(String, Vec<String>)> {
        self.items.get(item_id)
    }

    /// Every revision, in `(last_mod_date, uid)` order.
    pub(crate) fn revision_keys(&self) -> &BTreeSet<Key> {
        &self.revs_by_modified
    }

    // ---- records ----

    /// Creates a record from property values (already checked against the schema).
    pub(crate) fn create_record(
        &mut self,
        props: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> String {
        let uid = self.uid('F');
        let rec = Record {
            uid: uid.clone(),
            created: now,
            modified: now,
            props,
        };
        self.index_record(&rec);
        self.records_order.push(uid.clone());
        self.records.insert(uid.clone(), rec);
        uid
    }

    /// A copy of a record under a new uid, created at `created` and modified at `now`, related
    /// to the same item revisions (a record copied by hand, or the duplicates an older
    /// partreel made); with `link_id`, the copy's link id property is that instead of the
    /// original's (a second record for the same clip and part revision under another id). The
    /// indices follow the copy's own properties. None for an unknown record.
    pub(crate) fn duplicate_record(
        &mut self,
        uid: &str,
        link_id: Option<&str>,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let mut props = self.records.get(uid)?.props.clone();
        if let Some(l) = link_id {
            props.insert(LINK_ID_PROP.to_owned(), l.to_owned());
        }
        let copy = self.create_record(props, now);
        self.edit_record(&copy, |r| r.created = created);
        let primaries: Vec<String> = self
            .relations
            .values()
            .filter(|r| r.secondary == uid)
            .map(|r| r.primary.clone())
            .collect();
        for p in primaries {
            let _ = self.relate(&p, &copy);
        }
        Some(copy)
    }

    fn index_record(&mut self, rec: &Record) {
        self.records_by_modified
            .insert((rec.modified, rec.uid.clone()));
        if let Some(l) = rec.props.get(LINK_ID_PROP) {
            self.records_by_link
                .entry(l.clone())
                .or_default()
                .insert(rec.uid.clone());
        }
    }

    fn unindex_record(&mut self, uid: &str) {
        let Some(rec) = self.records.get(uid) else {
            return;
        };
        self.records_by_modified
            .remove(&(rec.modified, uid.to_owned()));
        if let Some(l) = rec.props.get(LINK_ID_PROP)
            && let Some(set) = self.records_by_link.get_mut(l)
        {
            set.remove(uid);
            if set.is_empty() {
                self.records_by_link.remove(l);
            }
        }
    }

    /// Changes a record and keeps the indices right.
    pub(crate) fn edit_record(&mut self, uid: &str, f: impl FnOnce(&mut Record)) -> bool {
        if !self.records.contains_key(uid) {
            return false;
        }
        self.unindex_record(uid);
        let Some(mut rec) = self.records.remove(uid) else {
            return false;
        };
        f(&mut rec);
        self.index_record(&rec);
        self.records.insert(uid.to_owned(), rec);
        true
    }

    /// Every record, in creation order.
    pub(crate) fn all_records(&self) -> Vec<&Record> {
        self.records_order
            .iter()
            .filter_map(|u| self.records.get(u))
            .collect()
    }

    /// Every record, in `(last_mod_date, uid)` order.
    pub(crate) fn record_keys(&self) -> &BTreeSet<Key> {
        &self.records_by_modified
    }

    /// Records carrying this link id.
    pub(crate) fn records_with_link(&self, link_id: &str) -> Vec<String> {
        self.records_by_link
            .get(link_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    // ---- relations ----

    /// Relates a record to a revision; `Err` with a message when it cannot.
    pub(crate) fn relate(&mut self, primary: &str, secondary: &str) -> Result<String, String> {
        if !self.revisions.contains_key(primary) {
            return Err(format!("The primary object {primary} does not exist."));
        }
        if !self.records.contains_key(secondary) {
            return Err(format!("The secondary object {secondary} does not exist."));
        }
        let key = (primary.to_owned(), secondary.to_owned());
        if self.relation_pairs.contains_key(&key) {
            return Err(format!(
                "A {RELATION_TYPE} relation between {primary} and {secondary} already exists."
            ));
        }
        let uid = self.uid('L');
        self.relation_pairs.insert(key, uid.clone());
        self.relations.insert(
            uid.clone(),
            Relation {
                uid: uid.clone(),
                primary: primary.to_owned(),
                secondary: secondary.to_owned(),
            },
        );
        Ok(uid)
    }

    /// Removes a relation; false when there was none.
    pub(crate) fn unrelate(&mut self, primary: &str, secondary: &str) -> bool {
        match self
            .relation_pairs
            .remove(&(primary.to_owned(), secondary.to_owned()))
        {
            Some(uid) => self.relations.remove(&uid).is_some(),
            None => false,
        }
    }

    /// (relation uid, record uid) of the records related to a revision.
    pub(crate) fn related(&self, primary: &str) -> Vec<(String, String)> {
        let from = (primary.to_owned(), String::new());
        self.relation_pairs
            .range(from..)
            .take_while(|((p, _), _)| p == primary)
            .map(|((_, s), r)| (r.clone(), s.clone()))
            .collect()
    }

    // ---- sessions ----

    pub(crate) fn open_session(&mut self, sid: String) {
        self.logins += 1;
        self.sessions.insert(sid);
    }

    pub(crate) fn has_session(&self, sid: &str) -> bool {
        self.sessions.contains(sid)
    }

    /// The live session ids (so tests can check none reaches a log).
    pub(crate) fn session_ids(&self) -> Vec<String> {
        self.sessions.iter().cloned().collect()
    }

    pub(crate) fn close_session(&mut self, sid: &str) {
        self.sessions.remove(sid);
    }

    pub(crate) fn expire_sessions(&mut self) {
        self.sessions.clear();
    }

    /// Takes the injected partial error naming `client_id` or `index`, if any.
    pub(crate) fn take_injected(
        list: &mut Vec<Injected>,
        client_id: &str,
        index: usize,
    ) -> Option<String> {
        let pos = list
            .iter()
            .position(|i| i.key == client_id || i.key == index.to_string())?;
        Some(list.remove(pos).message)
    }

    /// The declared type of an object (for policies and references).
    pub(crate) fn type_of(&self, uid: &str) -> Option<&'static Declared> {
        if self.revisions.contains_key(uid) {
            schema::declared(REVISION_TYPE)
        } else if self.records.contains_key(uid) {
            schema::declared(RECORD_TYPE)
        } else if self.items.values().any(|(u, _)| u == uid) {
            schema::declared(ITEM_TYPE)
        } else {
            None
        }
    }
}
