//! Windchill credentials: HTTP Basic on every request, and the CSRF nonce that WRS requires on
//! every write (WCCG_RESTAPIsNonceTokenFunction.html).
//!
//! The nonce is fetched with `GET {base}/PTC/GetCSRFToken()` on the first write, cached, and
//! sent as `CSRF_NONCE: <nonce>`. It lives in the server session (the `JSESSIONID` cookie, kept
//! by the HTTP client's cookie jar); when the session is lost the server refuses the write
//! (400/403, code `INVALID_NONCE` or "A potential security problem was detected"), and the
//! session fetches a new nonce once and lets the client replay. Basic credentials never go
//! stale, so a 401 is final.

use async_trait::async_trait;
use partreel_connector::error::ConnectorError;
use partreel_connector::http::oauth::set_basic;
use partreel_connector::http::{Auth, HttpClient, Request, Response};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use url::Url;

use crate::wire;

/// Header the nonce travels in when the token answer names none usable.
const DEFAULT_NONCE_HEADER: &str = "csrf_nonce";
/// What the nonce request is called in errors.
const NONCE_WHAT: &str = "PTC/GetCSRFToken()";

/// A Windchill user: Basic credentials plus the cached CSRF nonce. `Debug` shows neither.
pub struct WindchillSession {
    basic: Basic,
    nonce_url: Url,
    nonce: Mutex<Option<Nonce>>,
}

struct Basic {
    username: String,
    password: SecretString,
}

struct Nonce {
    header: HeaderName,
    value: SecretString,
    /// The session the nonce belongs to (`Cookie` value, e.g. `JSESSIONID=…`), sent on every
    /// request from then on. The shared cookie jar cannot be trusted for this: when the
    /// server drops the session, every request then in flight comes back with a *different*
    /// new session cookie, and the jar keeps whichever arrived last — not the nonce's.
    session: Option<SecretString>,
}

impl std::fmt::Debug for WindchillSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindchillSession")
            .field("username", &self.basic.username)
            .finish_non_exhaustive()
    }
}

impl WindchillSession {
    /// A session for `username` on the WRS root `base` (…/Windchill/servlet/odata). No request
    /// is made until the first write.
    pub fn new(base: &Url, username: String, password: SecretString) -> Self {
        WindchillSession {
            basic: Basic { username, password },
            nonce_url: crate::odata::url(base, &["PTC", "GetCSRFToken()"], &[]),
            nonce: Mutex::new(None),
        }
    }

    /// WCCG_RESTAPIsNonceTokenFunction.html: `GET {base}/PTC/GetCSRFToken()` with Basic only.
    ///
    /// The request carries an empty `Cookie` header, so the cookie jar adds none and the server
    /// opens a fresh session; its `Set-Cookie` tells which session the nonce belongs to.
    async fn fetch_nonce(&self, http: &HttpClient) -> Result<Nonce, ConnectorError> {
        let mut req = Request::get(self.nonce_url.clone()).header("accept", "application/json");
        req.headers
            .insert(reqwest::header::COOKIE, HeaderValue::from_static(""));
        let resp = http.send(req, &self.basic).await?;
        let pairs: Vec<&str> = resp
            .headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::trim)
            .filter(|p| p.contains('='))
            .collect();
        let session = (!pairs.is_empty()).then(|| SecretString::from(pairs.join("; ")));
        // serde's messages may quote a value; name only the position, never the nonce.
        let token: wire::CsrfToken = serde_json::from_slice(&resp.body).map_err(|e| {
            malformed(
                http,
                format!(
                    "expected NonceKey and NonceValue strings (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let header = HeaderName::from_bytes(token.nonce_key.as_bytes())
            .unwrap_or_else(|_| HeaderName::from_static(DEFAULT_NONCE_HEADER));
        if token.nonce_value.is_empty() || HeaderValue::from_str(&token.nonce_value).is_err() {
            return Err(malformed(
                http,
                "NonceValue is empty or not a header value".into(),
            ));
        }
        tracing::debug!(system = %http.system(), "CSRF nonce obtained");
        Ok(Nonce {
            header,
            value: SecretString::from(token.nonce_value),
            session,
        })
    }
}

/// Sends the nonce's session cookie (marked sensitive); with none known the jar's is used.
fn set_session(req: &mut Request, n: &Nonce) {
    if let Some(s) = &n.session
        && let Ok(mut v) = HeaderValue::from_str(s.expose_secret())
    {
        v.set_sensitive(true);
        req.headers.insert(reqwest::header::COOKIE, v);
    }
}

fn malformed(http: &HttpClient, detail: String) -> ConnectorError {
    ConnectorError::Malformed {
        system: http.system().to_string(),
        what: NONCE_WHAT.into(),
        detail,
    }
}

/// True for the methods WRS wants a nonce on.
fn is_write(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// True when a refused write blames the nonce (code `INVALID_NONCE`, or the message mentions
/// the nonce or Windchill's "potential security problem" wording).
fn blames_nonce(resp: &Response) -> bool {
    if !matches!(resp.status.as_u16(), 400 | 403) {
        return false;
    }
    let (code, message) = match serde_json::from_slice::<wire::ErrorBody>(&resp.body) {
        Ok(b) => (b.error.code, b.error.message.unwrap_or_default()),
        Err(_) => (None, String::from_utf8_lossy(&resp.body).into_owned()),
    };
    let message = message.to_lowercase();
    code.as_deref() == Some("INVALID_NONCE")
        || message.contains("nonce")
        || message.contains("potential security problem")
}

#[async_trait]
impl Auth for Basic {
    async fn apply(&self, _: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        set_basic(req, &self.username, &self.password);
        Ok(())
    }

    async fn renew_if_stale(
        &self,
        _: &HttpClient,
        _: &Request,
        _: &Response,
    ) -> Result<bool, ConnectorError> {
        Ok(false)
    }
}

#[async_trait]
impl Auth for WindchillSession {
    async fn apply(&self, http: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        self.basic.apply(http, req).await?;
        let mut cached = self.nonce.lock().await;
        if !is_write(&req.method) {
            // Reads stay in the nonce's session too, so they never make the server open
            // another one.
            if let Some(n) = cached.as_ref() {
                set_session(req, n);
            }
            return Ok(());
        }
        if cached.is_none() {
            *cached = Some(self.fetch_nonce(http).await?);
        }
        if let Some(n) = cached.as_ref() {
            set_session(req, n);
            if let Ok(mut v) = HeaderValue::from_str(n.value.expose_secret()) {
                v.set_sensitive(true);
                req.headers.insert(n.header.clone(), v);
            }
        }
        Ok(())
    }

    async fn renew_if_stale(
        &self,
        http: &HttpClient,
        req: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError> {
        if !is_write(&req.method) || !blames_nonce(resp) {
            return Ok(false);
        }
        let mut cached = self.nonce.lock().await;
        if let Some(n) = cached.as_ref() {
            let sent = req.headers.get(&n.header).map(HeaderValue::as_bytes);
            if sent != Some(n.value.expose_secret().as_bytes()) {
                // Another request renewed it meanwhile: replay with the new one.
                return Ok(true);
            }
        }
        *cached = Some(self.fetch_nonce(http).await?);
        tracing::debug!(system = %http.system(), method = %req.method, path = %req.url.path(), "CSRF nonce refused; renewed");
        Ok(true)
    }
}
