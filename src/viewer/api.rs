//! The JSON API under `/api/v1/`: the same data the pages show, described by
//! [`super::openapi`]. Read-only; every call needs a credential.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use partreel_core::state::view::{ClipDetail, PartHit, PartSummary, PartView};
use serde::{Deserialize, Serialize};

use super::ViewerState;
use super::error::{ApiError, AppError};
use super::present::{Badge, ClipEntry};

/// Rows a search returns when `limit` is not given.
pub const DEFAULT_SEARCH_LIMIT: usize = 50;

/// `?q=&limit=`.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    /// Text to look for.
    #[serde(default)]
    pub q: String,
    /// Most rows.
    pub limit: Option<usize>,
}

/// `GET /api/v1/search`.
#[derive(Debug, Serialize)]
pub struct SearchResponse {
    /// The query.
    pub query: String,
    /// Matching part revisions.
    pub results: Vec<PartHit>,
}

/// A part revision with its clips and sibling revisions.
#[derive(Debug, Serialize)]
pub struct PartResponse {
    /// The revision.
    pub part: PartView,
    /// Link to the PLM record, when configured.
    pub plm_record_url: Option<String>,
    /// Linked clips, live first.
    pub clips: Vec<ClipEntry>,
    /// Every revision of the part number.
    pub revisions: Vec<PartSummary>,
}

/// A part number's revisions.
#[derive(Debug, Serialize)]
pub struct RevisionsResponse {
    /// PLM system.
    pub system: String,
    /// Part number.
    pub number: String,
    /// Revisions.
    pub revisions: Vec<PartSummary>,
}

/// A clip with its badges and links.
#[derive(Debug, Serialize)]
pub struct ClipResponse {
    /// The clip and the part revisions it is linked to.
    #[serde(flatten)]
    pub detail: ClipDetail,
    /// Badges (judged on the clip's first live link, else its first link).
    pub badges: Vec<Badge>,
    /// Where it plays from.
    pub video_url: Option<String>,
}

/// Loads a part revision page's data (pages and API).
pub async fn load_part(
    st: &ViewerState,
    system: &str,
    number: &str,
    revision: &str,
) -> Result<PartResponse, AppError> {
    let part = st
        .store
        .part_revision(system, number, revision)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: format!("part revision {system} / {number} / {revision}"),
        })?;
    let today = chrono::Utc::now().date_naive();
    let clips = st
        .store
        .links_of_part(system, number, revision)
        .await?
        .into_iter()
        .map(|v| st.entry(v, today))
        .collect();
    let revisions = st.store.part_revisions(system, number).await?;
    Ok(PartResponse {
        plm_record_url: st.plm_record_url(system, number, revision, &part.remote_id),
        part,
        clips,
        revisions,
    })
}

/// Loads a clip page's data (pages and API): the detail and the entry its badges come from.
pub async fn load_clip(
    st: &ViewerState,
    system: &str,
    asset_id: &str,
) -> Result<(ClipDetail, Option<ClipEntry>, Option<String>), AppError> {
    let detail = st
        .store
        .clip(system, asset_id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: format!("clip {system} / {asset_id}"),
        })?;
    let primary = detail
        .links
        .iter()
        .find(|l| l.link.status != partreel_core::model::LinkStatus::Retired)
        .or(detail.links.first())
        .map(|l| partreel_core::state::view::ClipView {
            link: l.link.clone(),
            clip: Some(detail.clip.clone()),
        });
    let entry = primary.map(|v| st.entry(v, chrono::Utc::now().date_naive()));
    let video_url = st.video_url(&detail.clip);
    Ok((detail, entry, video_url))
}

/// `GET /api/v1/search?q=&limit=`.
pub async fn search(
    State(st): State<Arc<ViewerState>>,
    Query(p): Query<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let results = st
        .store
        .search(&p.q, p.limit.unwrap_or(DEFAULT_SEARCH_LIMIT))
        .await?;
    Ok(Json(SearchResponse {
        query: p.q,
        results,
    }))
}

/// `GET /api/v1/parts/{system}/{number}/{revision}`.
pub async fn part(
    State(st): State<Arc<ViewerState>>,
    Path((system, number, revision)): Path<(String, String, String)>,
) -> Result<Json<PartResponse>, ApiError> {
    Ok(Json(load_part(&st, &system, &number, &revision).await?))
}

/// `GET /api/v1/parts/{system}/{number}`.
pub async fn revisions(
    State(st): State<Arc<ViewerState>>,
    Path((system, number)): Path<(String, String)>,
) -> Result<Json<RevisionsResponse>, ApiError> {
    let revisions = st.store.part_revisions(&system, &number).await?;
    if revisions.is_empty() {
        return Err(AppError::NotFound {
            what: format!("part {system} / {number}"),
        }
        .into());
    }
    Ok(Json(RevisionsResponse {
        system,
        number,
        revisions,
    }))
}

/// `GET /api/v1/clips/{system}/{asset_id}`.
pub async fn clip(
    State(st): State<Arc<ViewerState>>,
    Path((system, asset_id)): Path<(String, String)>,
) -> Result<Json<ClipResponse>, ApiError> {
    let (detail, entry, video_url) = load_clip(&st, &system, &asset_id).await?;
    Ok(Json(ClipResponse {
        detail,
        badges: entry.map(|e| e.badges).unwrap_or_default(),
        video_url,
    }))
}
