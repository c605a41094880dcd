//! HTTP routes of the AEM emulator. Every handler cites docs/wire/aem.md (Experience League
//! "Assets HTTP API", "Query Builder API", developer.adobe.com "OAuth Server-to-Server
//! credential API Reference"); errors use the Siren `core/response` body.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::store::{AemStore, DAM_PREFIX};
use super::{AemCredentials, json as render, query};
use crate::bynder::files;
use crate::framework::clock::{SimClock, lock};
use crate::framework::reqlog::System;
use crate::framework::server::vendor_error;

/// Path of the IMS token endpoint on the emulator's port.
pub const TOKEN_PATH: &str = "/ims/token/v3";
/// Path of the Granite CSRF token servlet.
pub const CSRF_TOKEN_PATH: &str = "/libs/granite/csrf/token.json";
/// Header a write carries the CSRF token in.
const CSRF_HEADER: &str = "csrf-token";
/// Life of a CSRF token [INF: Adobe's `granite.csrf.standalone` library fetches a new one every
/// 5 minutes; the token's own expiry is not documented].
const CSRF_LIFETIME_SECS: i64 = 600;
/// Default and largest `limit` of a folder listing [INF: AEM documents neither].
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Shared state of the AEM routes.
#[derive(Clone)]
pub(crate) struct AemState {
    pub(crate) store: Arc<Mutex<AemStore>>,
    /// Absolute `{base}` (scheme, host and port).
    pub(crate) base: Arc<str>,
    pub(crate) creds: Arc<AemCredentials>,
    pub(crate) clock: SimClock,
    pub(crate) token_lifetime_secs: i64,
    pub(crate) originals_require_auth: bool,
    pub(crate) csrf_filter: bool,
    pub(crate) siren_last_modified: bool,
}

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let code = status.canonical_reason().unwrap_or("Error");
    vendor_error(System::Aem, status, code, message)
}

/// The router.
pub(crate) fn router(st: AemState) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route(CSRF_TOKEN_PATH, get(csrf_token))
        .route("/api/assets/{*rest}", get(read).put(write))
        .route("/bin/querybuilder.json", get(query::handler))
        .route("/content/dam/{*rest}", get(original))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
        .with_state(st)
}

/// Bearer check on every AEM call (docs/wire/aem.md "Auth"): an IMS token this emulator issued
/// and that has not expired, or the configured development token; 401 otherwise.
pub(crate) fn authorize(st: &AemState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok = match token {
        Some(t) if t == st.creds.dev_token => true,
        Some(t) => lock(&st.store).token_valid(t, st.clock.now()),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Box::new(error(StatusCode::UNAUTHORIZED, "Unauthorized")))
    }
}

/// The Granite CSRF filter (Experience League "CSRF protection", AEM as a Cloud Service
/// developing guide): an authenticated POST, PUT or DELETE without a valid `CSRF-Token`
/// header is refused with `403 Forbidden`; GETs and anonymous requests pass. Off when the
/// emulator is set up without the filter.
fn check_csrf(st: &AemState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    if !st.csrf_filter {
        return Ok(());
    }
    let token = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if !token.is_empty() && lock(&st.store).csrf_valid(token, st.clock.now()) {
        Ok(())
    } else {
        Err(Box::new(error(StatusCode::FORBIDDEN, "Forbidden")))
    }
}

/// `GET /libs/granite/csrf/token.json` (authenticated) → `{"token":"…"}` — Experience League
/// "CSRF protection" (the token a client sends back as `CSRF-Token`).
async fn csrf_token(State(st): State<AemState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    let token = format!("eyJleHAiOjE3fQ.{}", hex::encode(rand::random::<[u8; 24]>()));
    let expiry = st.clock.now() + chrono::TimeDelta::seconds(CSRF_LIFETIME_SECS);
    lock(&st.store).csrf_tokens.insert(token.clone(), expiry);
    axum::Json(json!({ "token": token })).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /ims/token/v3`, form (or query) `grant_type=client_credentials&client_id&client_secret
/// &scope` → `{"access_token","token_type":"bearer","expires_in":86399}` — docs/wire/aem.md
/// "Auth" (developer.adobe.com "OAuth Server-to-Server credential API Reference").
async fn token(
    State(st): State<AemState>,
    params: Params,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let mut fields = params.map(|q| q.0).unwrap_or_default();
    if let Ok(Form(f)) = form {
        fields.extend(f);
    }
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    if field("client_id") != Some(st.creds.client_id.as_str())
        || field("client_secret") != Some(st.creds.client_secret.as_str())
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "invalid client_id or client_secret",
        );
    }
    if field("scope").is_none_or(str::is_empty) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope is required",
        );
    }
    let access = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}",
        hex::encode(rand::random::<[u8; 24]>())
    );
    let expiry = st.clock.now() + chrono::TimeDelta::seconds(st.token_lifetime_secs);
    {
        let mut store = lock(&st.store);
        store.tokens.insert(access.clone(), expiry);
        store.tokens_issued += 1;
    }
    axum::Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": st.token_lifetime_secs,
    }))
    .into_response()
}

/// `GET /api/assets/{path}.json[?offset=&limit=]` — an asset entity, or a folder listing with
/// `srn:paging` — docs/wire/aem.md "Read one" and "Folder listing".
async fn read(
    State(st): State<AemState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    let Some(rel) = rest.strip_suffix(".json") else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let path = format!("{DAM_PREFIX}/{}", rel.trim_matches('/'));
    let params = params.map(|q| q.0).unwrap_or_default();
    let num = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.parse::<usize>())
    };
    let offset = match num("offset") {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "offset must be a number"),
    };
    let limit = match num("limit") {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        _ => return error(StatusCode::BAD_REQUEST, "limit must be between 1 and 1000"),
    };
    let store = lock(&st.store);
    if let Some(a) = store.get(&path) {
        let mut entity = render::asset_entity(&st.base, a, true);
        if !st.siren_last_modified
            && let Some(props) = entity.get_mut("properties").and_then(Value::as_object_mut)
        {
            props.remove("jcr:lastModified");
        }
        return axum::Json(entity).into_response();
    }
    if !store.is_folder(&path) {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let children = store.children(&path);
    let entities: Vec<Value> = children
        .iter()
        .skip(offset)
        .take(limit)
        .filter_map(|(p, folder)| {
            if *folder {
                Some(render::folder_child(&st.base, p))
            } else {
                store
                    .get(p)
                    .map(|a| render::asset_entity(&st.base, a, false))
            }
        })
        .collect();
    axum::Json(render::folder_entity(
        &st.base,
        &path,
        entities,
        children.len(),
        offset,
        limit,
    ))
    .into_response()
}

/// `PUT /api/assets/{path}` (+ `CSRF-Token` while the CSRF filter is on) with
/// `{"class":"asset","properties":{…}}` → 200 / 404 / 403 — docs/wire/aem.md "Write metadata".
async fn write(
    State(st): State<AemState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Result<axum::Json<Value>, JsonRejection>,
) -> Response {
    if let Err(r) = authorize(&st, &headers).and_then(|()| check_csrf(&st, &headers)) {
        return *r;
    }
    let path = format!("{DAM_PREFIX}/{}", rest.trim_matches('/'));
    let Ok(axum::Json(body)) = body else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the body must be a Siren JSON entity",
        );
    };
    let (Some("asset"), Some(props)) = (
        body.get("class").and_then(Value::as_str),
        body.get("properties").and_then(Value::as_object),
    ) else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "expected {\"class\":\"asset\",\"properties\":{…}}",
        );
    };
    let mut values = BTreeMap::new();
    for (k, v) in props {
        if k.is_empty() || k.contains('/') || k.starts_with("jcr:") {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot set property {k:?}"),
            );
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        values.insert(k.clone(), text);
    }
    let now = st.clock.now();
    if !lock(&st.store).write(&path, &values, now) {
        return error(StatusCode::NOT_FOUND, "Asset not found");
    }
    let location = render::api_href(&st.base, &path, "");
    axum::Json(json!({"class": "core/response", "properties": {
        "path": path, "location": location, "status.code": 200, "status.message": "OK"}}))
    .into_response()
}

/// `GET /content/dam/{path}/jcr:content/renditions/original` (or the asset path itself): the
/// original binary, a real C2PA clip from `bynder::files` — docs/wire/aem.md "Original file".
async fn original(
    State(st): State<AemState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    if st.originals_require_auth
        && let Err(r) = authorize(&st, &headers)
    {
        return *r;
    }
    let rel = rest.trim_matches('/');
    let rel = rel
        .strip_suffix("/jcr:content/renditions/original")
        .unwrap_or(rel);
    let path = format!("{DAM_PREFIX}/{rel}");
    let found = {
        let store = lock(&st.store);
        store
            .get(&path)
            .map(|a| (a.file, a.generator.clone(), store.file_bytes))
    };
    let Some((kind, generator, size)) = found else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let provenance = files::provenance_of(kind);
    let made = tokio::task::spawn_blocking(move || {
        files::bytes(provenance, &generator, files::Rendition::Original, size)
    })
    .await;
    match made {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, "video/mp4")], bytes).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("sim file: {e}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("sim file: {e}")),
    }
}

/// Requests the malformed-body fault may hit: Siren reads and QueryBuilder pages.
pub(crate) fn is_data_read(method: &Method, path: &str) -> bool {
    *method == Method::GET && (path.starts_with("/api/assets/") || path == "/bin/querybuilder.json")
}
