//! The viewer's errors and how each becomes a response: one [`AppError`] for pages (HTML) and
//! its [`ApiError`] wrapper for `/api/v1` (JSON). Internals (state store failures, upstream
//! details) are logged; the client gets a clean status and a short message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use partreel_core::state::StateError;

use super::pages;

/// The `WWW-Authenticate` challenge sent with every 401.
pub const CHALLENGE: &str = "Bearer realm=\"partreel\"";

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No credential, or one that does not check out. The body is a short text, never a page.
    #[error("authentication required")]
    Unauthorized {
        /// Whether a credential was presented (adds `error="invalid_token"`).
        presented: bool,
    },
    /// A part revision, clip or route that does not exist; `what` names it for the 404 page.
    #[error("{what} was not found")]
    NotFound {
        /// What was looked for, e.g. `part revision windchill / TR-9 / A`.
        what: String,
    },
    /// The proxy will not fetch this (a host outside the DAM list, directly or by redirect).
    #[error("{0}")]
    Forbidden(String),
    /// A byte range outside the file.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// File size, for `Content-Range: bytes */size`.
        size: u64,
    },
    /// The DAM failed or answered something the proxy cannot pass on.
    #[error("the DAM did not deliver the clip: {0}")]
    Upstream(String),
    /// The state store failed.
    #[error("state store: {0}")]
    Store(#[from] StateError),
}

impl AppError {
    /// Status code.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Store(_) => "internal error (see the server log)".into(),
            other => other.to_string(),
        }
    }

    /// Responses that are the same for pages and the API (401, 403, 416, 502 as short text).
    fn plain(&self) -> Option<Response> {
        let mut resp = match self {
            AppError::Unauthorized { presented } => {
                let mut r =
                    (StatusCode::UNAUTHORIZED, "401 authentication required\n").into_response();
                let challenge = if *presented {
                    format!("{CHALLENGE}, error=\"invalid_token\"")
                } else {
                    CHALLENGE.to_string()
                };
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                r
            }
            AppError::RangeNotSatisfiable { size } => {
                let mut r = (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "416 range not satisfiable\n",
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
            AppError::Forbidden(m) => {
                tracing::warn!(status = %self.status(), "media proxy: {m}");
                (
                    self.status(),
                    format!("{} {}\n", self.status().as_u16(), self),
                )
                    .into_response()
            }
            // The upstream's details (its address, a signed URL's query, its answer) go to the
            // log only, never to the browser.
            AppError::Upstream(m) => {
                tracing::warn!(status = %self.status(), "media proxy: {m}");
                (
                    self.status(),
                    "502 the DAM did not deliver the media (details in the server log)\n",
                )
                    .into_response()
            }
            _ => return None,
        };
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Some(resp)
    }

    fn log(&self) {
        if let AppError::Store(e) = self {
            tracing::error!(error = %e, "viewer: state store query failed");
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        if let Some(r) = self.plain() {
            return r;
        }
        let status = self.status();
        (status, pages::error_page(status, &self.public_message())).into_response()
    }
}

/// An [`AppError`] answered as JSON: `{"error": {"status": 404, "message": "…"}}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        ApiError(AppError::Store(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        if let Some(r) = self.0.plain() {
            return r;
        }
        let status = self.0.status();
        let body = serde_json::json!({
            "error": { "status": status.as_u16(), "message": self.0.public_message() }
        });
        (status, axum::Json(body)).into_response()
    }
}
