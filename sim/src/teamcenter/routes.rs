//! HTTP routes of the Teamcenter emulator: one `POST {BASE_PATH}/JsonRestServices/{service}/
//! {operation}` route that reads the envelope, checks the `JSESSIONID` session (answering an
//! `InvalidUserException` body when there is none) and dispatches to the operation handlers in
//! `ops.rs` and `write.rs` (docs/wire/teamcenter.md).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::ops::{self, Ctx, Sd, qname};
use super::query;
use super::schema;
use super::store::TcStore;
use super::write;
use crate::framework::clock::{SimClock, lock};

/// Path of the web tier root on the server.
pub const BASE_PATH: &str = "/tc";
/// Session cookie name (the Java web tier's).
const SESSION_COOKIE: &str = "JSESSIONID";
/// Operations a malformed-body fault may hit (reads of objects).
const DATA_READS: &[&str] = &[
    "loadObjects",
    "executeBOQueriesWithSort",
    "getItemFromId",
    "expandGRMRelationsForPrimary",
];

/// Shared state of the Teamcenter routes.
#[derive(Clone)]
pub(crate) struct TcState {
    pub(crate) store: Arc<Mutex<TcStore>>,
    pub(crate) user: Arc<str>,
    pub(crate) password: Arc<str>,
    pub(crate) clock: SimClock,
}

/// The router: everything under `{BASE_PATH}/JsonRestServices/`.
pub(crate) fn router(st: TcState) -> Router {
    Router::new()
        .route(
            &format!("{BASE_PATH}/JsonRestServices/{{service}}/{{operation}}"),
            post(dispatch),
        )
        .fallback(|| async {
            exception(
                StatusCode::NOT_FOUND,
                "ServiceException",
                404,
                "No such service operation.",
            )
        })
        .with_state(st)
}

/// An SOA exception body (Mendix `Constants.QNAME_*_EXP`), with `status`.
fn exception(status: StatusCode, name: &str, code: i64, message: &str) -> Response {
    let body = json!({".QName": format!("http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.{name}"),
        "code": code, "level": 3, "message": message});
    (status, axum::Json(body)).into_response()
}

/// Mendix `Constants.InvalidUserException`: the answer to a call without a valid session.
fn invalid_user() -> Response {
    let body = json!({".QName": "http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.InvalidUserException",
        "ssoServerURL": "", "ssoAppID": "", "code": 1000, "level": 3, "tcresponse": "Teamcenter",
        "message": "User does not have a valid session."});
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn session_of(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix("JSESSIONID="))
        .map(str::to_owned)
        .collect()
}

async fn dispatch(
    State(st): State<TcState>,
    Path((service, operation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else {
        return exception(
            StatusCode::BAD_REQUEST,
            "ServiceException",
            400,
            "The request is not valid JSON.",
        );
    };
    let (Some(header_part), Some(input)) = (envelope.get("header"), envelope.get("body")) else {
        return exception(
            StatusCode::BAD_REQUEST,
            "ServiceException",
            400,
            "Expected {\"header\":…,\"body\":…}.",
        );
    };
    let op = format!("{service}/{operation}");
    if op == "Core-2011-06-Session/login" {
        return login(&st, input);
    }
    let mut store = lock(&st.store);
    let sid = session_of(&headers)
        .into_iter()
        .find(|s| store.has_session(s));
    let Some(sid) = sid else {
        return invalid_user();
    };
    if op == "Core-2006-03-Session/logout" {
        // Mendix `OPERATION_LOGOUT`: the ServiceData itself.
        store.close_session(&sid);
        let mut sd = Sd::default().json();
        sd[".QName"] = json!(qname("Soa/2006-03/Base.ServiceData"));
        return axum::Json(sd).into_response();
    }
    let policy = schema::policy(header_part);
    let mut ctx = Ctx {
        store: &mut store,
        policy: &policy,
        now: st.clock.now(),
    };
    let answer = match op.as_str() {
        "Core-2007-09-DataManagement/loadObjects" => ops::load_objects(&mut ctx, input),
        "Core-2007-01-DataManagement/getItemFromId" => ops::get_item_from_id(&mut ctx, input),
        "Core-2011-06-Session/getTypeDescriptions" => ops::get_type_descriptions(input),
        "Query-2019-06-SavedQuery/executeBOQueriesWithSort" => {
            query::execute_bo_queries(&mut ctx, input)
        }
        "Core-2015-07-DataManagement/createRelateAndSubmitObjects2" => {
            write::create_objects(&mut ctx, input)
        }
        "Core-2006-03-DataManagement/createRelations" => write::create_relations(&mut ctx, input),
        "Core-2007-09-DataManagement/expandGRMRelationsForPrimary" => {
            write::expand_primary(&mut ctx, input)
        }
        "Core-2010-09-DataManagement/setProperties" => write::set_properties(&mut ctx, input),
        "Core-2006-03-DataManagement/deleteRelations" => write::delete_relations(&mut ctx, input),
        _ => {
            return exception(
                StatusCode::NOT_FOUND,
                "ServiceException",
                404,
                &format!("The operation {op} is not available."),
            );
        }
    };
    axum::Json(answer).into_response()
}

/// `Core-2011-06-Session/login` — docs/wire/teamcenter.md, Session (Mendix `OPERATION_LOGIN`,
/// obsidian plugin; `descrimator` per tcsoa): sets `JSESSIONID`.
fn login(st: &TcState, input: &Value) -> Response {
    let c = input.get("credentials").cloned().unwrap_or_default();
    let field = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let has_all = ["user", "password", "group", "role", "locale", "descrimator"]
        .iter()
        .all(|k| c.get(*k).is_some_and(Value::is_string));
    if !has_all {
        return exception(
            StatusCode::OK,
            "ServiceException",
            214001,
            "credentials needs user, password, group, role, locale and descrimator.",
        );
    }
    if field("user") != *st.user || field("password") != *st.password {
        return exception(
            StatusCode::OK,
            "InvalidCredentialsException",
            515143,
            "The login attempt failed: either the user ID or the password is invalid.",
        );
    }
    let sid = hex::encode(rand::random::<[u8; 16]>()).to_uppercase();
    lock(&st.store).open_session(sid.clone());
    let body = json!({".QName": qname("Core/2011-06/Session.LoginResponse"),
        "serverInfo": {"Version": "P14000.0.0.20230518", "HostName": "partreel-sim",
            "LogFile": "", "Locale": field("locale"), "TcServerID": "partreel-sim-tcserver"},
        "ServiceData": Sd::default().json()});
    let mut resp = axum::Json(body).into_response();
    let cookie = format!("{SESSION_COOKIE}={sid}; Path={BASE_PATH}; HttpOnly");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// Requests the malformed-body fault may hit.
pub(crate) fn is_data_read(method: &Method, path: &str) -> bool {
    *method == Method::POST
        && DATA_READS
            .iter()
            .any(|op| path.ends_with(&format!("/{op}")))
}
