//! The state store: what partreel remembers between runs.
//!
//! It keeps the change-feed cursors, the last-seen copy of every part revision and clip the
//! feeds brought, each link with its three-way base (the values both sides agreed on when it
//! was last synced), the durable work queue of clips to plan, the write-ahead journal, the
//! quarantine and the run history. The engine talks to it through [`StateStore`]; SQLite
//! ([`sqlite::SqliteStore`]) is the embedded default.

pub mod owner;
pub mod postgres;
mod rules;
pub mod sqlite;
mod sqlite_view;
pub mod view;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CanonicalValues, LinkId, LinkStatus, WatermarkStatus};

/// A state store failure (I/O, corruption, a broken invariant in stored data).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database could not be opened or created.
    #[error("state store {location}: {message}")]
    Open {
        /// Path or URL (without password).
        location: String,
        /// Why.
        message: String,
    },
    /// A query failed.
    #[error("state store: {0}")]
    Query(String),
    /// Another process held the state longer than this one waits for it. Nothing was lost:
    /// what was being stored is stored again by the next run.
    #[error(
        "state busy: another partreel process held the state file's write lock for more than {waited_secs} s; nothing was lost — run again later, or raise [sync] state_wait_secs"
    )]
    Busy {
        /// How long this process waited.
        waited_secs: u64,
    },
    /// Stored data could not be decoded.
    #[error("state store: bad stored value in {table}.{column}: {message}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// Column.
        column: &'static str,
        /// Decoder message.
        message: String,
    },
}

/// Result alias for state store calls.
pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// A part revision as last pulled from the PLM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRecord {
    /// PLM system name.
    pub system: String,
    /// Part number.
    pub number: String,
    /// Revision.
    pub revision: String,
    /// PLM id of the revision.
    pub remote_id: String,
    /// Display name.
    pub name: String,
    /// Lifecycle state (display form).
    pub lifecycle_state: Option<String>,
    /// SKU (canonical), indexed for SKU → part resolution.
    pub sku: Option<String>,
    /// PLM modification time.
    pub modified: DateTime<Utc>,
    /// Canonical values read from the part through the mapping.
    pub values: CanonicalValues,
    /// When partreel first saw this revision (local clock): revisions first seen after a link
    /// was made are the ones links are carried forward to.
    pub first_seen: DateTime<Utc>,
}

/// A clip as last pulled from the DAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetRecord {
    /// DAM system name.
    pub system: String,
    /// Asset id.
    pub asset_id: String,
    /// Title.
    pub title: String,
    /// DAM modification time.
    pub modified: DateTime<Utc>,
    /// DAM version, if any.
    pub version: Option<String>,
    /// Archived in the DAM.
    pub archived: bool,
    /// Deleted in the DAM (found missing by a full scan).
    pub deleted: bool,
    /// Playable rendition URL.
    pub rendition_url: Option<String>,
    /// Canonical values read from the asset through the mapping.
    pub values: CanonicalValues,
    /// Watermark / provenance knowledge.
    pub watermark: WatermarkStatus,
}

/// How a link came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkOrigin {
    /// The clip names this part revision (or its SKU resolves to it).
    Tagged,
    /// Carried forward from an earlier revision when the part was revised.
    Carried,
}

impl LinkOrigin {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tagged => "tagged",
            Self::Carried => "carried",
        }
    }
}

/// A prompt-to-part link as partreel last synced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// Deterministic id.
    pub link_id: LinkId,
    /// DAM system.
    pub dam_system: String,
    /// Asset id.
    pub asset_id: String,
    /// PLM system.
    pub plm_system: String,
    /// Part number.
    pub part_number: String,
    /// Part revision.
    pub part_revision: String,
    /// PLM id of the part revision.
    pub part_remote_id: String,
    /// PLM id of the link record, once created.
    pub remote_id: Option<String>,
    /// Status.
    pub status: LinkStatus,
    /// Origin.
    pub origin: LinkOrigin,
    /// Three-way base: canonical values both sides agreed on at the last sync.
    pub base: CanonicalValues,
    /// Canonical values of the PLM link record as last seen.
    pub plm_values: CanonicalValues,
    /// PLM modification time of the link record as last seen.
    pub plm_modified: Option<DateTime<Utc>>,
    /// When partreel created the link.
    pub created_at: DateTime<Utc>,
    /// When partreel last changed it.
    pub updated_at: DateTime<Utc>,
    /// Run that last changed it.
    pub run_id: String,
}

/// State of a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalState {
    /// Intent recorded, remote write not known to be done.
    Pending,
    /// Remote write done and its result stored.
    Applied,
    /// Remote write failed for good.
    Failed,
    /// Superseded after a crash (the plan recomputed it).
    Abandoned,
}

impl JournalState {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
        }
    }
}

/// One journaled remote write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Sequence number.
    pub id: i64,
    /// Run that wrote it.
    pub run_id: String,
    /// Operation kind (`create_link`, `update_link`, `write_asset`).
    pub op: String,
    /// Target system.
    pub system: String,
    /// Link id or asset id.
    pub key: String,
    /// What was about to be written.
    pub payload: serde_json::Value,
    /// State.
    pub state: JournalState,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// What a journal entry was about to write; stored as its text ([`Self::as_str`]), so state
/// files written before the enum read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalOp {
    /// A link record created in the PLM.
    CreateLink,
    /// A link record's fields updated (or the link retired) in the PLM.
    UpdateLink,
    /// A clip's own metadata written in the DAM.
    WriteAsset,
}

impl JournalOp {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateLink => "create_link",
            Self::UpdateLink => "update_link",
            Self::WriteAsset => "write_asset",
        }
    }

    /// From stored text (None: an operation this build does not know).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::CreateLink, Self::UpdateLink, Self::WriteAsset]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

impl JournalEntry {
    /// Its operation, when this build knows it.
    pub fn operation(&self) -> Option<JournalOp> {
        JournalOp::parse(&self.op)
    }
}

/// The kind of record set aside in quarantine; stored as its text ([`Self::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A PLM part revision.
    Part,
    /// A PLM link record.
    Link,
    /// A DAM clip.
    Asset,
}

impl RecordKind {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Part => "part",
            Self::Link => "link",
            Self::Asset => "asset",
        }
    }
}

/// A record set aside with the reason it could not be synced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// System the record belongs to.
    pub system: String,
    /// Record id (asset id, part id, link id).
    pub record_id: String,
    /// What kind of record (`asset`, `part`, `link`).
    pub kind: String,
    /// Why, naming the field.
    pub reason: String,
    /// When it was first quarantined.
    pub first_seen: DateTime<Utc>,
    /// When it was last quarantined.
    pub last_seen: DateTime<Utc>,
    /// How many runs quarantined it.
    pub attempts: u32,
    /// Last run that quarantined it.
    pub run_id: String,
}

/// A run in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, once finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// `ok`, `failed`, or None while running (or killed).
    pub outcome: Option<String>,
    /// The run report as JSON text.
    pub report: Option<String>,
}

/// What [`StateStore::observe_link`] made of a link record from a change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// No link of the state carries this link id.
    Unknown,
    /// The record the state knows for this link (an echo of partreel's own write, or a change
    /// now recorded and queued).
    Known,
    /// Another record carries the link id of a link whose record the state knows (this PLM id):
    /// a duplicate, nothing recorded.
    OtherRecord(String),
}

/// A clip waiting to be planned against one PLM (a clip may be queued for several PLMs when
/// several jobs share its DAM).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkItem {
    /// PLM system the clip is to be planned against.
    pub plm_system: String,
    /// DAM system.
    pub dam_system: String,
    /// Asset id.
    pub asset_id: String,
}

/// What partreel remembers between runs.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// A change-feed cursor (the safe watermark to query from).
    async fn cursor(&self, system: &str, stream: &str) -> Result<Option<DateTime<Utc>>>;
    /// Stores a change-feed cursor.
    async fn set_cursor(&self, system: &str, stream: &str, at: DateTime<Utc>) -> Result<()>;

    /// One part revision.
    async fn part(&self, system: &str, number: &str, revision: &str) -> Result<Option<PartRecord>>;
    /// Every known revision of a part number.
    async fn parts_by_number(&self, system: &str, number: &str) -> Result<Vec<PartRecord>>;
    /// Every known part revision with this SKU.
    async fn parts_by_sku(&self, system: &str, sku: &str) -> Result<Vec<PartRecord>>;
    /// Inserts or replaces part revisions (one transaction).
    async fn upsert_parts(&self, parts: &[PartRecord]) -> Result<()>;

    /// One clip.
    async fn asset(&self, system: &str, asset_id: &str) -> Result<Option<AssetRecord>>;
    /// Inserts or replaces clips and queues them for planning against each PLM system in
    /// `enqueue_for` (one transaction; an empty list queues nothing).
    async fn upsert_assets(&self, assets: &[AssetRecord], enqueue_for: &[String]) -> Result<()>;
    /// Asset ids of clips with at least one link that is not retired, after `after`, in id
    /// order (for the deletion scan).
    async fn linked_assets(
        &self,
        dam: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>>;

    /// Marks clips as seen by a full listing (`scan` names the listing).
    async fn mark_seen(&self, dam: &str, asset_ids: &[String], scan: &str) -> Result<()>;
    /// Clips with live links that the full listing `scan` did not see, after `after`, in id
    /// order.
    async fn unseen_linked_assets(
        &self,
        dam: &str,
        scan: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>>;
    /// Links in id order after `after` (for listings and reports).
    async fn links_page(&self, after: Option<&LinkId>, limit: usize) -> Result<Vec<LinkRecord>>;

    /// One link.
    async fn link(&self, id: &LinkId) -> Result<Option<LinkRecord>>;
    /// Links of a clip.
    async fn links_for_asset(&self, dam: &str, asset_id: &str) -> Result<Vec<LinkRecord>>;
    /// Links on a part number (every revision when `revision` is None).
    async fn links_for_part(
        &self,
        plm: &str,
        number: &str,
        revision: Option<&str>,
    ) -> Result<Vec<LinkRecord>>;
    /// Inserts or replaces a link.
    async fn upsert_link(&self, link: &LinkRecord) -> Result<()>;
    /// Records what the PLM link record looks like now (from a change feed) and queues its
    /// clip. A record other than the one the state knows for this link id is a duplicate: it
    /// is reported ([`Observed::OtherRecord`]) and nothing is recorded.
    async fn observe_link(
        &self,
        id: &LinkId,
        values: &CanonicalValues,
        modified: DateTime<Utc>,
        remote_id: &str,
    ) -> Result<Observed>;

    /// Queues clips for planning.
    async fn enqueue(&self, items: &[WorkItem]) -> Result<()>;
    /// Queues every stored clip of `dam` for planning against `plm` (a job's first run, when
    /// other jobs already read the DAM's feed); returns how many were queued.
    async fn enqueue_all_assets(&self, plm: &str, dam: &str) -> Result<u64>;
    /// Leases up to `limit` clips queued for the (`plm`, `dam`) pair for `lease_secs` to
    /// `owner` (expired leases are free again, so a dead process's work is picked up).
    async fn lease_work(
        &self,
        owner: &str,
        plm: &str,
        dam: &str,
        limit: usize,
        lease_secs: u64,
    ) -> Result<Vec<WorkItem>>;
    /// Extends `owner`'s lease on a queued clip by `lease_secs`, right before a remote write
    /// the lease covers. False when the clip is no longer leased to `owner` — its lease ran out
    /// and another process took it, or it left the queue: the write must not be made.
    async fn renew_lease(&self, owner: &str, item: &WorkItem, lease_secs: u64) -> Result<bool>;
    /// Processes holding unexpired leases on the (`plm`, `dam`) pair's queue, each with how
    /// many clips it holds, in owner order.
    async fn lease_holders(&self, plm: &str, dam: &str) -> Result<Vec<(String, u64)>>;
    /// Frees every lease `owner` holds (its process is gone, see [`owner::is_gone`]); returns
    /// how many were freed.
    async fn release_leases(&self, owner: &str) -> Result<u64>;
    /// Removes a clip from the queue once planned and applied by `owner`. A clip queued again
    /// while leased (a newer change arrived) is released instead, so the change is planned; a
    /// clip whose lease passed to another owner is left to that owner.
    async fn finish_work(&self, owner: &str, item: &WorkItem) -> Result<()>;
    /// Clips queued.
    async fn work_len(&self) -> Result<u64>;
    /// Clips queued for one job (its PLM and DAM).
    async fn work_len_for(&self, plm: &str, dam: &str) -> Result<u64>;

    /// Records the intent of a remote write before it is made; returns its id.
    async fn journal_begin(
        &self,
        run_id: &str,
        op: &str,
        system: &str,
        key: &str,
        payload: &serde_json::Value,
    ) -> Result<i64>;
    /// Closes a journal entry.
    async fn journal_end(&self, id: i64, state: JournalState) -> Result<()>;
    /// Entries still pending (a crash happened between intent and result).
    async fn journal_pending(&self) -> Result<Vec<JournalEntry>>;
    /// Takes a pending entry written by `from` (a process that is gone) over for `to`, so one
    /// process alone recovers it; false when it is no longer pending under `from` (another
    /// process took it over, or it was closed).
    async fn journal_take_over(&self, id: i64, from: &str, to: &str) -> Result<bool>;

    /// Quarantines a record (or bumps its attempt count).
    async fn quarantine_put(
        &self,
        system: &str,
        record_id: &str,
        kind: &str,
        reason: &str,
        run_id: &str,
    ) -> Result<()>;
    /// Releases a record from quarantine (it synced).
    async fn quarantine_clear(&self, system: &str, record_id: &str) -> Result<()>;
    /// Every quarantined record.
    async fn quarantine_list(&self) -> Result<Vec<QuarantineEntry>>;

    /// Records the start of a run with a provisional report (its job and process), which
    /// stays when the process is killed before [`Self::run_finished`].
    async fn run_started(&self, run_id: &str, at: DateTime<Utc>, report: &str) -> Result<()>;
    /// The writes a run completed, by journal operation (`create_link`, `update_link`,
    /// `write_asset`): what a run killed before its report did.
    async fn run_writes(&self, run_id: &str) -> Result<std::collections::BTreeMap<String, u64>>;
    /// Records the end of a run with its report.
    async fn run_finished(&self, run_id: &str, outcome: &str, report: &str) -> Result<()>;
    /// Latest runs first.
    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>>;

    /// Number of links by status.
    async fn link_counts(&self) -> Result<std::collections::BTreeMap<String, u64>>;

    /// A private copy of the whole state, for dry runs that must not change the real one.
    async fn scratch_copy(&self) -> Result<Box<dyn StateStore>>;
}

/// Formats a time the way stores keep it: fixed-width RFC 3339 UTC, so text order is time
/// order.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses a stored time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod tests;
