//! Read-only queries for the viewer (`partreel serve`): what an engineer looks at when they open
//! a part revision or a clip.
//!
//! The sync writes through [`super::StateStore`]; the viewer only reads, through [`ViewStore`],
//! so it can run beside a daemon on the same state without ever taking a write lock. The view
//! structs are flat, serializable snapshots joined from the `parts`, `assets`, `links` and
//! `runs` tables; the viewer derives badges and URLs from them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{LinkOrigin, Result};
use crate::model::{CanonicalValues, LinkStatus, WatermarkStatus, canonical};

/// `%text%` for a `LIKE … ESCAPE '\'` (SQLite) or `ILIKE … ESCAPE '\'` (PostgreSQL) search,
/// with `%`, `_` and `\` in the text taken literally.
pub(super) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The most rows a search returns, whatever the caller asks.
pub const MAX_SEARCH_LIMIT: usize = 200;

/// A part revision found by a search, with how many clips hang on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartHit {
    /// PLM system name.
    pub system: String,
    /// Part number.
    pub number: String,
    /// Revision.
    pub revision: String,
    /// Display name.
    pub name: String,
    /// SKU.
    pub sku: Option<String>,
    /// Lifecycle state.
    pub lifecycle_state: Option<String>,
    /// Links on this revision that are not retired.
    pub clip_count: u64,
}

/// One revision of a part in a list of revisions (same shape as a search hit).
pub type PartSummary = PartHit;

/// A part revision as the viewer shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartView {
    /// PLM system name.
    pub system: String,
    /// Part number.
    pub number: String,
    /// Revision.
    pub revision: String,
    /// The PLM's id of the revision (for the link back to the PLM record).
    pub remote_id: String,
    /// Display name.
    pub name: String,
    /// SKU.
    pub sku: Option<String>,
    /// Lifecycle state.
    pub lifecycle_state: Option<String>,
    /// PLM modification time.
    pub modified: DateTime<Utc>,
    /// Canonical values read from the part.
    pub values: CanonicalValues,
}

/// A clip as the viewer shows it: the asset row with its canonical fields pulled out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipInfo {
    /// DAM system name.
    pub dam_system: String,
    /// Asset id.
    pub asset_id: String,
    /// Title.
    pub title: String,
    /// DAM modification time.
    pub modified: DateTime<Utc>,
    /// DAM version.
    pub version: Option<String>,
    /// Archived in the DAM.
    pub archived: bool,
    /// Deleted in the DAM.
    pub deleted: bool,
    /// Playable rendition URL as the DAM gave it.
    pub rendition_url: Option<String>,
    /// Prompt text.
    pub prompt: Option<String>,
    /// Generator model.
    pub model: Option<String>,
    /// Generator model version.
    pub model_version: Option<String>,
    /// Campaign.
    pub campaign: Option<String>,
    /// Review status.
    pub review_status: Option<String>,
    /// Rights notes.
    pub rights_notes: Option<String>,
    /// Rights expiry (YYYY-MM-DD as the mapping wrote it).
    pub rights_expiry: Option<String>,
    /// Watermark / provenance knowledge.
    pub watermark: WatermarkStatus,
    /// The derived flag ([`WatermarkStatus::watermark_preserved`]).
    pub watermark_preserved: bool,
}

impl ClipInfo {
    /// Builds the view of an asset row from its canonical values.
    #[allow(clippy::too_many_arguments)]
    pub fn from_values(
        dam_system: String,
        asset_id: String,
        title: String,
        modified: DateTime<Utc>,
        version: Option<String>,
        archived: bool,
        deleted: bool,
        rendition_url: Option<String>,
        values: &CanonicalValues,
        watermark: WatermarkStatus,
    ) -> Self {
        let get = |k: &str| values.get(k).filter(|v| !v.is_empty()).cloned();
        ClipInfo {
            dam_system,
            asset_id,
            title,
            modified,
            version,
            archived,
            deleted,
            rendition_url,
            prompt: get(canonical::PROMPT),
            model: get(canonical::MODEL),
            model_version: get(canonical::MODEL_VERSION),
            campaign: get(canonical::CAMPAIGN),
            review_status: get(canonical::REVIEW_STATUS),
            rights_notes: get(canonical::RIGHTS_NOTES),
            rights_expiry: get(canonical::RIGHTS_EXPIRY),
            watermark_preserved: watermark.watermark_preserved(),
            watermark,
        }
    }
}

/// A link as the viewer shows it: its status and when, by which run, it was last synced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkView {
    /// Deterministic link id.
    pub link_id: String,
    /// Status.
    pub status: LinkStatus,
    /// How the link came to be.
    pub origin: LinkOrigin,
    /// PLM system.
    pub plm_system: String,
    /// Part number.
    pub part_number: String,
    /// Part revision.
    pub part_revision: String,
    /// DAM system.
    pub dam_system: String,
    /// Asset id.
    pub asset_id: String,
    /// When partreel created the link.
    pub created_at: DateTime<Utc>,
    /// When partreel last synced (changed) it.
    pub synced_at: DateTime<Utc>,
    /// The run that last synced it.
    pub run_id: String,
    /// When that run finished (None while running, or when the run is not in the history).
    pub run_finished_at: Option<DateTime<Utc>>,
}

/// A clip linked to a part revision (the clip is None when its asset row is missing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipView {
    /// The link.
    pub link: LinkView,
    /// The clip.
    pub clip: Option<ClipInfo>,
}

/// A part revision a clip is linked to (the part is None when its row is missing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedPart {
    /// The link.
    pub link: LinkView,
    /// The part revision.
    pub part: Option<PartSummary>,
}

/// A clip and every part revision it is linked to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipDetail {
    /// The clip.
    pub clip: ClipInfo,
    /// Its links, in part number / revision order.
    pub links: Vec<LinkedPart>,
}

/// Read-only queries over the state the sync keeps.
#[async_trait]
pub trait ViewStore: Send + Sync {
    /// Part revisions whose number, SKU or name, or whose linked clips' campaign, prompt or
    /// title contain `q` (case-insensitive for ASCII); an empty `q` lists part revisions in
    /// number order. At most `limit` (capped at [`MAX_SEARCH_LIMIT`]) rows.
    async fn search(&self, q: &str, limit: usize) -> Result<Vec<PartHit>>;
    /// One part revision.
    async fn part_revision(
        &self,
        system: &str,
        number: &str,
        revision: &str,
    ) -> Result<Option<PartView>>;
    /// Every known revision of a part number, oldest revision label first.
    async fn part_revisions(&self, system: &str, number: &str) -> Result<Vec<PartSummary>>;
    /// The clips linked to a part revision (retired links too), newest sync first.
    async fn links_of_part(
        &self,
        system: &str,
        number: &str,
        revision: &str,
    ) -> Result<Vec<ClipView>>;
    /// One clip with the part revisions it is linked to.
    async fn clip(&self, dam_system: &str, asset_id: &str) -> Result<Option<ClipDetail>>;
}

pub use super::postgres::PostgresView;
pub use super::sqlite_view::SqliteView;
