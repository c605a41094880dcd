//! The router: pages, API and media routes, the credential check in front of them and the
//! security headers on every response. GET (and HEAD) only: the viewer never writes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::ViewerState;
use super::api::{self, DEFAULT_SEARCH_LIMIT, SearchParams};
use super::auth;
use super::error::AppError;
use super::openapi;
use super::pages;
use super::proxy;

/// The whole app.
pub fn app(st: Arc<ViewerState>) -> Router {
    let guarded = Router::new()
        .route("/", get(search_page))
        .route("/parts/{system}/{number}/{revision}", get(part_page))
        .route("/clips/{system}/{asset_id}", get(clip_page))
        .route("/api/v1/search", get(api::search))
        .route("/api/v1/parts/{system}/{number}", get(api::revisions))
        .route("/api/v1/parts/{system}/{number}/{revision}", get(api::part))
        .route("/api/v1/clips/{system}/{asset_id}", get(api::clip))
        .route("/api/v1/openapi.json", get(openapi_doc))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(st.clone(), auth::require));
    // The media route checks its own signature or credential (see `proxy::media`).
    Router::new()
        .route("/media/{system}/{asset_id}", get(proxy::media))
        .merge(guarded)
        .layer(middleware::from_fn_with_state(st.clone(), security_headers))
        .with_state(st)
}

async fn search_page(
    State(st): State<Arc<ViewerState>>,
    Query(p): Query<SearchParams>,
) -> Result<Html<String>, AppError> {
    let hits = st
        .store
        .search(&p.q, p.limit.unwrap_or(DEFAULT_SEARCH_LIMIT))
        .await?;
    Ok(Html(pages::search(&p.q, &hits).into_string()))
}

async fn part_page(
    State(st): State<Arc<ViewerState>>,
    Path((system, number, revision)): Path<(String, String, String)>,
) -> Result<Html<String>, AppError> {
    let d = api::load_part(&st, &system, &number, &revision).await?;
    Ok(Html(
        pages::part(&d.part, d.plm_record_url.as_deref(), &d.clips, &d.revisions).into_string(),
    ))
}

async fn clip_page(
    State(st): State<Arc<ViewerState>>,
    Path((system, asset_id)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let (detail, entry, video_url) = api::load_clip(&st, &system, &asset_id).await?;
    Ok(Html(
        pages::clip(&detail, entry.as_ref(), video_url.as_deref()).into_string(),
    ))
}

async fn openapi_doc() -> impl IntoResponse {
    axum::Json(openapi::document())
}

async fn not_found(req: Request) -> AppError {
    AppError::NotFound {
        what: format!("page {}", req.uri().path()),
    }
}

/// CSP (with `frame-ancestors`), no sniffing, no referrer, no caching of pages.
async fn security_headers(
    State(st): State<Arc<ViewerState>>,
    req: Request,
    next: Next,
) -> Response {
    let media = req.uri().path().starts_with("/media/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, st.csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if st.config.frame_ancestors == "'none'" {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    let cache = if media {
        "private, max-age=300"
    } else {
        "no-store"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}
