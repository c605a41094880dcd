//! The 3DSpace half of the emulator: service-ticket validation, the session or agent check,
//! `SecurityContext`, `tenant`, the CSRF token, and the dseng and document services. Every
//! handler follows docs/wire/threedx.md; the paths carry `dseng:EngItem`, so one catch-all
//! route decodes the path and dispatches (see `modeler`).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;

use super::passport::{self, PASSPORT_PATH, set_cookie};
use super::store::ThreedxStore;
use super::{ExpiryResponse, ThreedxCredentials};
use crate::framework::base64;
use crate::framework::clock::{SimClock, lock};
use crate::framework::reqlog::System;
use crate::framework::server::vendor_error;

/// Path of the 3DSpace root on the emulator.
pub const SPACE_PATH: &str = "/3dspace";
/// Header names (ws3dx `HttpRequestHeaders.cs`).
const SECURITY_CONTEXT: &str = "SecurityContext";
const CSRF_HEADER: &str = "ENO_CSRF_TOKEN";
/// Largest request body accepted.
const MAX_BODY: usize = 8 << 20;

/// Shared state of the routes.
#[derive(Clone)]
pub(crate) struct TxState {
    pub(crate) store: Arc<Mutex<ThreedxStore>>,
    pub(crate) clock: SimClock,
    pub(crate) creds: Arc<ThreedxCredentials>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) root: Arc<str>,
    pub(crate) tenant: Option<Arc<str>>,
    pub(crate) expiry: Arc<Mutex<ExpiryResponse>>,
}

/// The error envelope of the document services, used for every refusal.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    vendor_error(System::Threedx, status, "", message)
}

/// The router: passport and space.
pub(crate) fn router(st: TxState) -> Router {
    Router::new()
        .route(
            &format!("{PASSPORT_PATH}/{{*rest}}"),
            any(passport::dispatch),
        )
        .route(SPACE_PATH, any(dispatch))
        .route(&format!("{SPACE_PATH}/"), any(dispatch))
        .route(&format!("{SPACE_PATH}/{{*rest}}"), any(dispatch))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .with_state(st)
}

/// True for requests that read data (they may get a malformed body from the fault switchboard).
pub(crate) fn is_data_read(method: &Method, path: &str) -> bool {
    *method == Method::GET && path.contains("/resources/v1/modeler/")
}

/// Query pairs of a URI, decoded.
pub(crate) fn params_of(uri: &Uri) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

/// Values of cookie `name` in the `Cookie` headers.
pub(crate) fn cookie_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |p| {
            let (k, v) = p.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// A request that passed authentication.
pub(crate) struct Ctx {
    pub(crate) st: TxState,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

impl Ctx {
    pub(crate) fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

async fn dispatch(State(st): State<TxState>, req: Request) -> Response {
    let uri = req.uri().clone();
    let method = req.method().clone();
    let headers = req.headers().clone();
    let mut params = params_of(&uri);
    let path = uri
        .path()
        .strip_prefix(SPACE_PATH)
        .unwrap_or_default()
        .to_string();
    // CAS service-ticket validation: a session cookie, then back to the URL without the ticket.
    if let Some(pos) = params.iter().position(|(k, _)| k == "ticket") {
        let (_, ticket) = params.remove(pos);
        return validate_ticket(&st, &uri, &path, &params, &ticket);
    }
    let key = {
        let store = lock(&st.store);
        let session = cookie_values(&headers, "JSESSIONID").find(|s| store.sessions.contains(s));
        session.or_else(|| agent_key(&st, &headers))
    };
    let Some(key) = key else {
        return expired(&st, &uri);
    };
    if path.is_empty() || path == "/" {
        return axum::Json(json!({"application": "3DSpace"})).into_response();
    }
    let ctx_ok = headers.get(SECURITY_CONTEXT).and_then(|v| v.to_str().ok())
        == Some(st.creds.security_context.as_str());
    if !ctx_ok {
        return error(
            StatusCode::FORBIDDEN,
            "SecurityContext header missing or not granted to this user",
        );
    }
    if let Some(t) = &st.tenant
        && params
            .iter()
            .find(|(k, _)| k == "tenant")
            .map(|(_, v)| v.as_str())
            != Some(t)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "tenant parameter missing or unknown",
        );
    }
    if method == Method::GET && path == "/resources/v1/application/CSRF" {
        let token = lock(&st.store).csrf_for(&key);
        return axum::Json(json!({"success": true, "statusCode": 200,
            "csrf": {"name": CSRF_HEADER, "value": token}, "data": [], "definitions": []}))
        .into_response();
    }
    if matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !lock(&st.store).accepts_csrf(&key, sent) {
            return error(StatusCode::FORBIDDEN, "Invalid CSRF token (ENO_CSRF_TOKEN)");
        }
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return error(StatusCode::BAD_REQUEST, "unreadable body"),
    };
    let decoded = urlencoding::decode(&path)
        .map(|p| p.into_owned())
        .unwrap_or(path);
    let ctx = Ctx { st, params, body };
    super::modeler::route(&ctx, &method, &decoded)
}

fn agent_key(st: &TxState, headers: &HeaderMap) -> Option<String> {
    let (user, secret) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(base64::basic_credentials)?;
    (user == st.creds.agent_id && secret == st.creds.agent_secret).then(|| format!("agent:{user}"))
}

fn validate_ticket(
    st: &TxState,
    uri: &Uri,
    path: &str,
    rest: &[(String, String)],
    ticket: &str,
) -> Response {
    let mut store = lock(&st.store);
    if !store.service_tickets.remove(ticket) {
        drop(store);
        return expired(st, uri);
    }
    let sid = store.token("JS");
    store.sessions.insert(sid.clone());
    store.logins += 1;
    let query: Vec<String> = rest
        .iter()
        .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
        .collect();
    let mut loc = format!("{}{SPACE_PATH}{path}", st.root);
    if !query.is_empty() {
        loc = format!("{loc}?{}", query.join("&"));
    }
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    set_cookie(
        &mut r,
        &format!("JSESSIONID={sid}; Path={SPACE_PATH}; HttpOnly"),
    );
    r
}

/// No session: 401, or a redirect to the passport login (as configured).
fn expired(st: &TxState, uri: &Uri) -> Response {
    match *lock(&st.expiry) {
        ExpiryResponse::Unauthorized => error(StatusCode::UNAUTHORIZED, "Authentication required"),
        ExpiryResponse::LoginRedirect => {
            let service = format!("{}{}", st.root, uri);
            let loc = format!(
                "{}{PASSPORT_PATH}/login?service={}",
                st.root,
                urlencoding::encode(&service)
            );
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&loc) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
    }
}
