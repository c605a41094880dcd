//! HTTP routes of the Bynder emulator. Every handler cites docs/wire/bynder.md (Bynder API v4
//! reference and SDKs); errors use Bynder's `{"message":…,"statuscode":N}` body.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::files::{self, Rendition};
use super::store::{BynderStore, MediaQuery, Provenance};
use crate::framework::base64;
use crate::framework::clock::{SimClock, lock};
use crate::framework::reqlog::System;
use crate::framework::server::vendor_error;

/// Lifetime of an issued access token (`expires_in`).
const TOKEN_LIFETIME_SECS: i64 = 3600;
/// Default and largest `limit` of a listing.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
/// Scope granted when the client asks for none.
const DEFAULT_SCOPE: &str =
    "offline asset:read asset:write meta.assetbank:read meta.assetbank:write";

/// Shared state of the Bynder routes.
#[derive(Clone)]
pub(crate) struct ByState {
    pub(crate) store: Arc<Mutex<BynderStore>>,
    /// Absolute `{base}` (scheme, host and port).
    pub(crate) base: Arc<str>,
    pub(crate) client_id: Arc<str>,
    pub(crate) client_secret: Arc<str>,
    pub(crate) permanent_token: Arc<str>,
    pub(crate) clock: SimClock,
}

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;
type FormFields = Result<Form<Vec<(String, String)>>, FormRejection>;

fn error(status: StatusCode, message: &str) -> Response {
    vendor_error(System::Bynder, status, "", message)
}

/// The router.
pub(crate) fn router(st: ByState) -> Router {
    Router::new()
        .route("/v6/authentication/oauth2/token", post(token))
        .route("/api/v4/media/", get(list_media))
        .route("/api/v4/media", get(list_media))
        .route("/api/v4/media/{id}/", get(read_media).post(write_media))
        .route("/api/v4/media/{id}", get(read_media).post(write_media))
        .route("/api/v4/media/{id}/download/", get(download))
        .route("/api/v4/media/{id}/download", get(download))
        .route("/api/v4/metaproperties/", get(metaproperties))
        .route("/api/v4/metaproperties", get(metaproperties))
        .route("/api/v4/metaproperties/{id}/options/", post(create_option))
        .route("/api/v4/metaproperties/{id}/options", post(create_option))
        .route("/__sim/files/{id}/{file}", get(file))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
        .with_state(st)
}

/// Bearer check on every API call (docs/wire/bynder.md Auth): 401
/// `{"message":"Unauthorized","statuscode":401}` otherwise.
fn authorize(st: &ByState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let ok = match token {
        Some(t) if t == &*st.permanent_token => true,
        Some(t) => lock(&st.store).token_valid(t, st.clock.now()),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Box::new(error(StatusCode::UNAUTHORIZED, "Unauthorized")))
    }
}

/// `POST {base}/v6/authentication/oauth2/token`, client credentials as form fields or HTTP
/// Basic — `bynder-oauth2-openapi.json` (Token endpoint: authorization "either in the body or
/// by sending the Authorization header"; `scope` left out = every scope), docs/wire/bynder.md
/// Auth. The granted `scope` is the one requested.
async fn token(State(st): State<ByState>, headers: HeaderMap, form: FormFields) -> Response {
    let Ok(Form(fields)) = form else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    };
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if field("grant_type").as_deref() != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(base64::basic_credentials);
    let (id, secret) = match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (field("client_id"), field("client_secret")),
    };
    if id.as_deref() != Some(&*st.client_id) || secret.as_deref() != Some(&*st.client_secret) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let access = hex::encode(rand::random::<[u8; 20]>());
    let expiry = st.clock.now() + chrono::TimeDelta::seconds(TOKEN_LIFETIME_SECS);
    lock(&st.store).tokens.insert(access.clone(), expiry);
    let scope = field("scope")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SCOPE.to_owned());
    axum::Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "scope": scope,
    }))
    .into_response()
}

fn parse_query(params: &[(String, String)]) -> Result<(MediaQuery, bool), String> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let kind = match get("type") {
        None | Some("") => None,
        Some(t @ ("video" | "image" | "document" | "audio" | "3d")) => Some(t.to_owned()),
        Some(t) => return Err(format!("Invalid type '{t}'")),
    };
    let since = match get("dateModified") {
        None | Some("") => None,
        Some(s) => Some(parse_date(s).ok_or_else(|| format!("Invalid dateModified '{s}'"))?),
    };
    let order = match get("orderBy")
        .map(|o| o.split_whitespace().collect::<Vec<_>>())
        .as_deref()
    {
        None | Some([]) => ("dateCreated".to_owned(), true),
        Some([f @ ("dateModified" | "dateCreated" | "name")]) => ((*f).to_owned(), false),
        Some(
            [
                f @ ("dateModified" | "dateCreated" | "name"),
                d @ ("asc" | "desc"),
            ],
        ) => ((*f).to_owned(), *d == "desc"),
        Some(_) => {
            return Err(format!(
                "Invalid orderBy '{}'",
                get("orderBy").unwrap_or_default()
            ));
        }
    };
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(format!(
                    "limit must be between 1 and {MAX_LIMIT}, got '{l}'"
                ));
            }
        },
    };
    let page = match get("page") {
        None => 1,
        Some(p) => match p.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(format!("page must be 1 or more, got '{p}'")),
        },
    };
    let total = get("total").is_some_and(|t| t == "1" || t == "true");
    // `ids`: "Comma-separated list of asset ids. Will return an asset for each existing id"
    // (Bynder API reference, Retrieve assets, api.bynder.com/reference/get_api-v4-media): ids
    // that do not exist are left out, not refused; the other filters and paging still apply.
    let ids = get("ids").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    Ok((
        MediaQuery {
            kind,
            since,
            order,
            limit,
            page,
            ids,
        },
        total,
    ))
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .ok()
}

/// `GET {base}/api/v4/media/?type=video&dateModified=…&orderBy=…&limit=…&page=…[&total=1]`
/// [`&ids=…`] — docs/wire/bynder.md Media ("List, incremental", "Confirming writes").
async fn list_media(State(st): State<ByState>, headers: HeaderMap, params: Params) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    let params = params.map(|q| q.0).unwrap_or_default();
    let (mut q, total) = match parse_query(&params) {
        Ok(x) => x,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let mut store = lock(&st.store);
    if store.ignore_order {
        q.order = ("dateCreated".to_owned(), true);
    }
    if store.date_filter_exclusive {
        // Stored times are whole seconds: "after t" is "at or after t + 1 s".
        q.since = q.since.map(|t| t + chrono::TimeDelta::seconds(1));
    }
    let file_bytes = store.file_bytes;
    let (page, count) = store.list(&q, total);
    let media: Vec<Value> = page
        .iter()
        .map(|m| m.to_json(&st.base, false, file_bytes))
        .collect();
    match count {
        Some(n) => axum::Json(json!({"total": {"count": n}, "media": media})).into_response(),
        None => axum::Json(Value::Array(media)).into_response(),
    }
}

/// `GET {base}/api/v4/media/{id}/?versions=1` — docs/wire/bynder.md Media ("Read one").
async fn read_media(
    State(st): State<ByState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    let versions = params.is_ok_and(|q| q.0.iter().any(|(k, v)| k == "versions" && v == "1"));
    let mut store = lock(&st.store);
    let file_bytes = store.file_bytes;
    match store.media(&id) {
        Some(m) => axum::Json(m.to_json(&st.base, versions, file_bytes)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Media not found"),
    }
}

/// `POST {base}/api/v4/media/{id}/` form `metaproperty.<id>=<value>` → 202 — docs/wire/bynder.md
/// Media ("Write metadata").
async fn write_media(
    State(st): State<ByState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: FormFields,
) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    let Ok(Form(fields)) = form else {
        return error(
            StatusCode::BAD_REQUEST,
            "The body must be application/x-www-form-urlencoded",
        );
    };
    let now = st.clock.now();
    match lock(&st.store).write(&id, &fields, now) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"message": "Accepted", "statuscode": 202})),
        )
            .into_response(),
        Err((status, msg)) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &msg,
        ),
    }
}

/// `GET {base}/api/v4/media/{id}/download/` → `{"s3_file":…}` — docs/wire/bynder.md Media
/// ("Original file").
async fn download(
    State(st): State<ByState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    let mut store = lock(&st.store);
    match store.media(&id) {
        Some(m) => {
            let sig = hex::encode(&Sha256::digest(m.id.as_bytes())[..8]);
            let url = format!(
                "{}/__sim/files/{}/{}.{}?X-Amz-Signature={sig}",
                st.base, m.id, m.name, m.extension
            );
            axum::Json(json!({"s3_file": url})).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Media not found"),
    }
}

/// The signed file URL itself (stands in for S3; not a Bynder API route, so no auth). Serves
/// real C2PA clips (see `files`): the original as the item's provenance says, previews and
/// thumbnails without a manifest.
async fn file(State(st): State<ByState>, Path((id, file)): Path<(String, String)>) -> Response {
    let found = {
        let mut store = lock(&st.store);
        let size = store.file_bytes;
        store
            .media(&id)
            .map(|m| (m.provenance, m.generator.clone(), size))
    };
    let Some((provenance, generator, size)) = found else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let rendition = Rendition::from_file_name(&file);
    let made =
        tokio::task::spawn_blocking(move || files::bytes(provenance, &generator, rendition, size))
            .await;
    match made {
        Ok(Ok(bytes)) if provenance == Provenance::CutShort && rendition == Rendition::Original => {
            cut_short(bytes, rendition.content_type())
        }
        Ok(Ok(bytes)) => {
            ([(header::CONTENT_TYPE, rendition.content_type())], bytes).into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("sim file: {e}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("sim file: {e}")),
    }
}

/// A download that announces all of `bytes` (`Content-Length`), sends the first half and
/// then fails, so the server drops the connection mid-body.
fn cut_short(bytes: bytes::Bytes, content_type: &'static str) -> Response {
    let total = bytes.len();
    let half = bytes.slice(..total / 2);
    let body = futures::stream::iter([
        Ok::<_, std::io::Error>(half),
        Err(std::io::Error::other(
            "sim: connection dropped mid-download",
        )),
    ]);
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, total.to_string()),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// `GET {base}/api/v4/metaproperties/` — docs/wire/bynder.md Metaproperties.
async fn metaproperties(State(st): State<ByState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    axum::Json(lock(&st.store).metaproperties_json()).into_response()
}

/// `POST {base}/api/v4/metaproperties/{id}/options/` form `data={"name":…,"label":…}` → 201 —
/// docs/wire/bynder.md Metaproperties (shape inferred).
async fn create_option(
    State(st): State<ByState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: FormFields,
) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    let data = form
        .ok()
        .and_then(|Form(f)| f.into_iter().find(|(k, _)| k == "data"))
        .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok());
    let Some(name) = data
        .as_ref()
        .and_then(|d| d.get("name"))
        .and_then(Value::as_str)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "Field data must be JSON with a name",
        );
    };
    let label = data
        .as_ref()
        .and_then(|d| d.get("label"))
        .and_then(Value::as_str)
        .unwrap_or(name);
    match lock(&st.store).create_option(&id, name, label) {
        Ok(option_id) => (
            StatusCode::CREATED,
            axum::Json(json!({"message": "Created", "statuscode": 201, "id": option_id})),
        )
            .into_response(),
        Err((status, msg)) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &msg,
        ),
    }
}

/// Requests the malformed-body fault may hit: media reads.
pub(crate) fn is_data_read(method: &Method, path: &str) -> bool {
    *method == Method::GET && path.starts_with("/api/v4/media") && !path.contains("/download")
}
