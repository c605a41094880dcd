//! The Granite CSRF token AEM wants on every authenticated write (Experience League, "CSRF
//! protection": a POST, PUT or DELETE without a valid token is refused with `403 Forbidden`;
//! GETs need none). The token comes from `GET {base}/libs/granite/csrf/token.json` →
//! `{"token":"…"}` and travels back as the `CSRF-Token` header.
//!
//! It is fetched before the first write and then renewed every 5 minutes, as Adobe's own
//! `granite.csrf.standalone` client library does [INF: the token's lifetime is not documented],
//! and once more when a write is refused with 403 (the client then replays the write). An
//! instance without the token servlet (404 — a filter that excludes this caller, or a
//! publish-like setup) is remembered as having no CSRF filter: writes then go without it.

use std::time::{Duration, Instant};

use partreel_connector::ConnectorError;
use partreel_connector::http::{Auth, HttpClient, Request, Response};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

/// Path of the token servlet below the instance root.
pub const TOKEN_PATH: &str = "libs/granite/csrf/token.json";
/// Header the token travels in.
pub const HEADER: &str = "csrf-token";
/// Age after which the token is fetched again before a write.
pub const RENEW_AFTER: Duration = Duration::from_secs(300);
/// What the token request is called in errors.
const WHAT: &str = "/libs/granite/csrf/token.json";

/// The CSRF state of one AEM instance. `Debug` never shows the token.
pub struct Csrf {
    url: Url,
    state: Mutex<State>,
}

enum State {
    /// Not asked yet (or dropped after a 403).
    Unknown,
    /// A token and when it was fetched.
    Token(SecretString, Instant),
    /// The instance has no token servlet: writes go without.
    NotRequired,
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csrf")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

/// True for the methods the CSRF filter covers.
pub fn is_write(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

impl Csrf {
    /// The CSRF state of the instance at `base`; nothing is fetched yet.
    pub fn new(base: &Url) -> Result<Self, url::ParseError> {
        let mut root = base.clone();
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        Ok(Csrf {
            url: root.join(TOKEN_PATH)?,
            state: Mutex::new(State::Unknown),
        })
    }

    /// Puts a current token on `req` when it is a write, fetching one (with `creds`) when there
    /// is none or it is older than [`RENEW_AFTER`].
    pub async fn apply(
        &self,
        http: &HttpClient,
        creds: &dyn Auth,
        req: &mut Request,
    ) -> Result<(), ConnectorError> {
        if !is_write(&req.method) {
            return Ok(());
        }
        let mut state = self.state.lock().await;
        let stale = match &*state {
            State::Unknown => true,
            State::Token(_, at) => at.elapsed() >= RENEW_AFTER,
            State::NotRequired => false,
        };
        if stale {
            *state = self.fetch(http, creds).await?;
        }
        if let State::Token(token, _) = &*state
            && let Ok(mut v) = HeaderValue::from_str(token.expose_secret())
        {
            v.set_sensitive(true);
            req.headers.insert(HeaderName::from_static(HEADER), v);
        }
        Ok(())
    }

    /// After a write refused with 403: drops the token so the replay fetches a new one. True
    /// when a replay may help (a token was in use, or none was asked for yet).
    pub async fn refused(&self, http: &HttpClient, req: &Request, resp: &Response) -> bool {
        if !is_write(&req.method) || resp.status.as_u16() != 403 {
            return false;
        }
        let mut state = self.state.lock().await;
        let retry = matches!(*state, State::Token(..));
        if retry {
            tracing::debug!(system = %http.system(), "write refused with 403: fetching a new CSRF token");
            *state = State::Unknown;
        }
        retry
    }

    /// Forgets the token (the session it belonged to was renewed); the instance's lack of a
    /// token servlet is remembered.
    pub async fn reset(&self) {
        let mut state = self.state.lock().await;
        if matches!(*state, State::Token(..)) {
            *state = State::Unknown;
        }
    }

    async fn fetch(&self, http: &HttpClient, creds: &dyn Auth) -> Result<State, ConnectorError> {
        let req = Request::get(self.url.clone()).header("accept", "application/json");
        let resp = match http.send(req, creds).await {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => {
                tracing::info!(system = %http.system(), "no CSRF token servlet: writes go without a CSRF token");
                return Ok(State::NotRequired);
            }
            Err(e) => return Err(e),
        };
        // serde's messages may quote a value; name only the position, never the token.
        let body: TokenBody = serde_json::from_slice(&resp.body).map_err(|e| {
            malformed(
                http,
                format!(
                    "expected {{\"token\": string}} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if body.token.is_empty() || HeaderValue::from_str(&body.token).is_err() {
            return Err(malformed(
                http,
                "the token is empty or not a header value".into(),
            ));
        }
        tracing::debug!(system = %http.system(), "CSRF token obtained");
        Ok(State::Token(SecretString::from(body.token), Instant::now()))
    }
}

fn malformed(http: &HttpClient, detail: String) -> ConnectorError {
    ConnectorError::Malformed {
        system: http.system().to_string(),
        what: WHAT.into(),
        detail,
    }
}
