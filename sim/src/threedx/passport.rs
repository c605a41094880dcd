//! The 3DPassport half of the emulator: the CAS login (`get_auth_params`, the login form, the
//! service redirect) and the batch-service transient ticket, per docs/wire/threedx.md
//! "Authentication" (ws3dx `UserPassport.cs`, `BatchServicePassport.cs`).

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::routes::{TxState, cookie_values, error, params_of};
use crate::framework::clock::lock;

/// Path of the passport root on the emulator.
pub const PASSPORT_PATH: &str = "/3dpassport";
/// Largest form accepted.
const MAX_FORM: usize = 64 << 10;

/// The passport routes, dispatched on method and the path below [`PASSPORT_PATH`].
pub(crate) async fn dispatch(State(st): State<TxState>, req: Request) -> Response {
    let path = req
        .uri()
        .path()
        .strip_prefix(PASSPORT_PATH)
        .unwrap_or_default()
        .to_string();
    let params = params_of(req.uri());
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), MAX_FORM)
        .await
        .unwrap_or_default();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (method, path.as_str()) {
        (Method::GET, "/login") if param("action").as_deref() == Some("get_auth_params") => {
            auth_params(&st)
        }
        (Method::GET, "/login") => sso(&st, &headers, param("service")),
        (Method::POST, "/login") => login_form(&st, &body, param("service")),
        (Method::GET, "/api/v2/batch/ticket") => batch_ticket(&st, &headers, param("identifier")),
        (Method::GET, "/api/login/cas/transient") => transient_login(&st, param("tgt")),
        _ => error(StatusCode::NOT_FOUND, "no such passport resource"),
    }
}

/// `GET /login?action=get_auth_params` → `{"response":"login","lt":…}` (+ the passport session).
fn auth_params(st: &TxState) -> Response {
    let mut store = lock(&st.store);
    let lt = store.token("LT");
    store.lts.insert(lt.clone());
    let sid = store.token("ps");
    let mut r = axum::Json(json!({"response": "login", "lt": lt})).into_response();
    set_cookie(
        &mut r,
        &format!("JSESSIONID={sid}; Path={PASSPORT_PATH}; HttpOnly"),
    );
    r
}

/// The CAS login page, as a browser would get it.
fn login_page() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        "<html><body><form id=\"loginForm\" method=\"post\">3DEXPERIENCE login</form></body></html>",
    )
        .into_response()
}

/// `GET /login?service=…`: with a valid `CASTGC`, straight back to the service with a ticket;
/// otherwise the login page.
fn sso(st: &TxState, headers: &HeaderMap, service: Option<String>) -> Response {
    let mut store = lock(&st.store);
    let tgt_ok = cookie_values(headers, "CASTGC").any(|v| store.tgts.contains(&v));
    match service {
        Some(s) if tgt_ok => match service_redirect(st, &mut store, &s) {
            Some(r) => r,
            None => error(
                StatusCode::BAD_REQUEST,
                "service is not a registered 3DSpace URL",
            ),
        },
        _ => login_page(),
    }
}

fn service_redirect(
    st: &TxState,
    store: &mut super::store::ThreedxStore,
    service: &str,
) -> Option<Response> {
    if !service.starts_with(&format!("{}{}", st.root, super::routes::SPACE_PATH)) {
        return None;
    }
    let ticket = store.token("ST");
    store.service_tickets.insert(ticket.clone());
    let sep = if service.contains('?') { '&' } else { '?' };
    let loc = format!("{service}{sep}ticket={ticket}");
    let mut r = StatusCode::FOUND.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(&loc).ok()?);
    Some(r)
}

/// `POST /login?service=…` form `lt, username, password, rememberMe`: `CASTGC` and a redirect
/// to the service; wrong credentials or a used `lt` → the login page again.
fn login_form(st: &TxState, body: &[u8], service: Option<String>) -> Response {
    let Ok(Query(form)) = Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{}", String::from_utf8_lossy(body))
            .parse()
            .unwrap_or_default(),
    ) else {
        return login_page();
    };
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut store = lock(&st.store);
    let lt_ok = field("lt").is_some_and(|lt| store.lts.remove(lt));
    let creds_ok = field("username") == Some(&st.creds.username)
        && field("password") == Some(&st.creds.password);
    if !(lt_ok && creds_ok) {
        return login_page();
    }
    let tgt = store.token("TGT");
    store.tgts.insert(tgt.clone());
    let mut r = match service {
        Some(s) => match service_redirect(st, &mut store, &s) {
            Some(r) => r,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "service is not a registered 3DSpace URL",
                );
            }
        },
        None => axum::Json(json!({"response": "logged"})).into_response(),
    };
    set_cookie(
        &mut r,
        &format!("CASTGC={tgt}; Path={PASSPORT_PATH}; HttpOnly"),
    );
    r
}

/// `GET /api/v2/batch/ticket?identifier=…` + `DS-Service-Name`/`DS-Service-Secret`.
fn batch_ticket(st: &TxState, headers: &HeaderMap, identifier: Option<String>) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let ok = h("DS-Service-Name").as_deref() == Some(&st.creds.service_name)
        && h("DS-Service-Secret").as_deref() == Some(&st.creds.service_secret)
        && identifier.as_deref() == Some(&st.creds.username);
    if !ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid batch service credentials",
        );
    }
    let mut store = lock(&st.store);
    let t = store.token("TT");
    store.transients.insert(t.clone());
    axum::Json(json!({"access_token": t, "token_type": "CAS_TRANSIENT", "expires_in": 30}))
        .into_response()
}

/// `GET /api/login/cas/transient?tgt=…` → `{"message":"authenticated"}` + `CASTGC`.
fn transient_login(st: &TxState, tgt: Option<String>) -> Response {
    let mut store = lock(&st.store);
    if !tgt.is_some_and(|t| store.transients.remove(&t)) {
        return error(StatusCode::UNAUTHORIZED, "invalid or used transient ticket");
    }
    let castgc = store.token("TGT");
    store.tgts.insert(castgc.clone());
    let mut r = axum::Json(json!({"message": "authenticated"})).into_response();
    set_cookie(
        &mut r,
        &format!("CASTGC={castgc}; Path={PASSPORT_PATH}; HttpOnly"),
    );
    r
}

pub(crate) fn set_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}
