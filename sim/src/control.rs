//! The `/__sim/` control API each emulator serves beside the vendor routes, for a sim that runs
//! as a separate process (`partreel sim`): read the request log, set or clear faults, move the
//! clock, expire sessions. Every emulator (Windchill, Teamcenter, 3DEXPERIENCE, Bynder, AEM)
//! serves its own copy on its own port, so nothing here dispatches by system; the clock is the
//! one they all share. These routes are never faulted, rate-limited or logged.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::framework::clock::SimClock;
use crate::framework::faults::{FaultControl, FaultPlan};
use crate::framework::ratelimit::RateLimit;
use crate::framework::reqlog::RequestLog;

/// What the control routes act on.
#[derive(Clone)]
pub(crate) struct ControlState {
    pub(crate) faults: FaultControl,
    pub(crate) log: RequestLog,
    pub(crate) clock: SimClock,
}

/// The `/__sim/` routes.
pub(crate) fn router(cs: ControlState) -> Router {
    Router::new()
        .route("/__sim/requests", get(requests).delete(clear_requests))
        .route(
            "/__sim/faults",
            get(counters).post(set_faults).delete(clear_faults),
        )
        .route("/__sim/faults/malformed", post(malformed))
        .route("/__sim/rate-limit", post(rate_limit))
        .route("/__sim/clock", get(clock_now))
        .route("/__sim/clock/advance", post(advance))
        .route("/__sim/sessions/expire", post(expire))
        .with_state(cs)
}

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

/// `GET /__sim/requests`: the request log as JSON.
async fn requests(State(cs): State<ControlState>) -> Response {
    Json(cs.log.entries()).into_response()
}

/// `DELETE /__sim/requests`: forget the log.
async fn clear_requests(State(cs): State<ControlState>) -> StatusCode {
    cs.log.clear();
    StatusCode::NO_CONTENT
}

/// `GET /__sim/faults`: counters of injected faults.
async fn counters(State(cs): State<ControlState>) -> Response {
    Json(cs.faults.counters()).into_response()
}

/// `POST /__sim/faults` with a JSON [`FaultPlan`], e.g.
/// `{"rate":0.1,"kinds":[{"server_error":503},"reset",{"latency":200}],"seed":7}`.
async fn set_faults(
    State(cs): State<ControlState>,
    plan: Result<Json<FaultPlan>, JsonRejection>,
) -> Response {
    match plan {
        Ok(Json(plan)) => {
            cs.faults.set_plan(plan);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad(e.body_text()),
    }
}

/// `DELETE /__sim/faults`: no more faults.
async fn clear_faults(State(cs): State<ControlState>) -> StatusCode {
    cs.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Count {
    n: usize,
}

/// `POST /__sim/faults/malformed?n=N`: the next N data reads get a malformed body.
async fn malformed(
    State(cs): State<ControlState>,
    q: Result<Query<Count>, QueryRejection>,
) -> Response {
    match q {
        Ok(Query(c)) => {
            cs.faults.set_malformed_next(c.n);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => bad("expected ?n=<count>".into()),
    }
}

/// `POST /__sim/rate-limit` with `{"requests":N,"per_ms":M}` or `null` to lift it.
async fn rate_limit(
    State(cs): State<ControlState>,
    body: Result<Json<Option<RateLimit>>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(limit)) => {
            cs.faults.set_rate_limit(limit);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad(e.body_text()),
    }
}

/// `GET /__sim/clock`: the sim clock's now.
async fn clock_now(State(cs): State<ControlState>) -> Response {
    Json(json!({"now": crate::framework::clock::iso(cs.clock.now())})).into_response()
}

#[derive(Deserialize)]
struct Secs {
    secs: u64,
}

/// `POST /__sim/clock/advance?secs=N`.
async fn advance(
    State(cs): State<ControlState>,
    q: Result<Query<Secs>, QueryRejection>,
) -> Response {
    match q {
        Ok(Query(s)) => {
            cs.clock.advance(std::time::Duration::from_secs(s.secs));
            Json(json!({"now": crate::framework::clock::iso(cs.clock.now())})).into_response()
        }
        Err(_) => bad("expected ?secs=<seconds>".into()),
    }
}

/// `POST /__sim/sessions/expire`: this emulator's sessions — Windchill sessions and nonces,
/// Teamcenter `JSESSIONID`s, 3DEXPERIENCE 3DSpace sessions and CSRF tokens, Bynder OAuth
/// tokens or AEM IMS tokens.
async fn expire(State(cs): State<ControlState>) -> StatusCode {
    cs.faults.expire_sessions();
    StatusCode::NO_CONTENT
}
