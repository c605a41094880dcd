//! 3DEXPERIENCE credentials as an [`Auth`]: the 3DSpace session (from a 3DPassport login, or agent
//! Basic credentials), the `SecurityContext` header on every call and the `ENO_CSRF_TOKEN` on
//! every write (docs/wire/threedx.md "Authentication").
//!
//! The session cookies the space host set during the login are sent as this session's own
//! `Cookie` header. That lets a request that failed because the session expired tell whether
//! another request already logged in again (the cookie it sent is no longer the current one):
//! when every request in flight gets a 401 at once there is one login, not one per request. The
//! CSRF token is renewed the same way. Nothing here (nor in any error or log line) shows the
//! password, the service secret, a cookie or the token; `Debug` shows the user name only.

mod login;

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use partreel_connector::error::ConnectorError;
use partreel_connector::http::oauth::set_basic;
use partreel_connector::http::{Auth, HttpClient, Request, Response};
use reqwest::Method;
use reqwest::header::{COOKIE, HeaderName, HeaderValue, LOCATION, SET_COOKIE};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use url::Url;

use crate::wire;

/// Header naming the security context (ws3dx `HttpRequestHeaders.cs`).
pub(crate) const SECURITY_CONTEXT: &str = "securitycontext";
/// CSRF header when the token answer names none usable.
const DEFAULT_CSRF_HEADER: &str = "eno_csrf_token";
/// What the CSRF request is called in errors.
const CSRF_WHAT: &str = "resources/v1/application/CSRF";

/// Resolved credentials (secrets in `SecretString`).
pub(crate) enum Credentials {
    /// 3DPassport CAS login.
    Cas {
        username: String,
        password: SecretString,
    },
    /// Batch-service transient ticket on behalf of `username`.
    BatchService {
        service_name: String,
        service_secret: SecretString,
        username: String,
    },
    /// Agent Basic credentials.
    Agent {
        username: String,
        password: SecretString,
    },
}

impl Credentials {
    fn username(&self) -> &str {
        match self {
            Self::Cas { username, .. }
            | Self::BatchService { username, .. }
            | Self::Agent { username, .. } => username,
        }
    }
}

/// The CSRF header and token of the current session.
struct Csrf {
    header: HeaderName,
    value: SecretString,
    /// When it was fetched (it is renewed ahead of a write once older than the maximum age).
    obtained: std::time::Instant,
}

#[derive(Default)]
struct State {
    /// Logged in (always true for agent credentials).
    live: bool,
    /// Cookies the space host set for this session (`a=1; b=2`).
    cookie: Option<SecretString>,
    csrf: Option<Csrf>,
    /// Bumped at every login, so a caller can tell whether a renewal happened meanwhile.
    generation: u64,
}

/// A 3DEXPERIENCE user's session. `Debug` shows the user name only.
pub struct ThreedxSession {
    creds: Credentials,
    passport: Option<Url>,
    space: Url,
    security_context: String,
    tenant: Option<String>,
    csrf_max_age: std::time::Duration,
    state: Mutex<State>,
    logins: AtomicU64,
    csrf_fetches: AtomicU64,
}

impl std::fmt::Debug for ThreedxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreedxSession")
            .field("username", &self.creds.username())
            .field("space", &self.space.as_str())
            .finish_non_exhaustive()
    }
}

impl ThreedxSession {
    /// The `SecurityContext` every request carries (`ctx::ROLE.ORGANIZATION.COLLABSPACE`).
    pub(crate) fn security_context(&self) -> &str {
        &self.security_context
    }

    pub(crate) fn new(
        creds: Credentials,
        passport: Option<Url>,
        space: Url,
        security_context: String,
        tenant: Option<String>,
        csrf_max_age: std::time::Duration,
    ) -> Self {
        let live = matches!(creds, Credentials::Agent { .. });
        ThreedxSession {
            creds,
            passport,
            space,
            security_context,
            tenant,
            csrf_max_age,
            state: Mutex::new(State {
                live,
                ..State::default()
            }),
            logins: AtomicU64::new(0),
            csrf_fetches: AtomicU64::new(0),
        }
    }

    /// Logins performed so far (for reports and tests).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// CSRF tokens fetched so far (for reports and tests).
    pub fn csrf_fetches(&self) -> u64 {
        self.csrf_fetches.load(Ordering::Relaxed)
    }

    /// The login generation now, logging in first when there is no session (see
    /// [`Self::renew_after`]).
    pub(crate) async fn live_generation(&self, http: &HttpClient) -> Result<u64, ConnectorError> {
        let mut st = self.state.lock().await;
        if !st.live {
            self.relogin(http, &mut st).await?;
        }
        Ok(st.generation)
    }

    /// Logs in again unless another request did so since `generation` (a session that expired
    /// in a way the HTTP client cannot see, e.g. a `200` HTML login page).
    pub(crate) async fn renew_after(
        &self,
        http: &HttpClient,
        generation: u64,
    ) -> Result<(), ConnectorError> {
        if matches!(self.creds, Credentials::Agent { .. }) {
            return Err(auth_error(
                http,
                "3DSpace answered a login page to agent credentials",
            ));
        }
        let mut st = self.state.lock().await;
        if st.generation == generation {
            self.relogin(http, &mut st).await?;
        }
        Ok(())
    }

    async fn relogin(&self, http: &HttpClient, st: &mut State) -> Result<(), ConnectorError> {
        let cookie = self.login(http).await?;
        self.logins.fetch_add(1, Ordering::Relaxed);
        st.live = true;
        st.cookie = Some(cookie);
        st.csrf = None;
        st.generation += 1;
        tracing::debug!(system = %http.system(), generation = st.generation, "3DSpace session opened");
        Ok(())
    }

    /// ws3dx `EnoviaBaseService.GetNewTokenCache`: `GET {space}/resources/v1/application/CSRF`
    /// with the session's cookie (or Basic) and the SecurityContext. Cookies the answer sets join
    /// the session (agent credentials get their session here).
    async fn fetch_csrf(&self, http: &HttpClient, st: &mut State) -> Result<Csrf, ConnectorError> {
        let mut url = self.space.clone();
        url.path_segments_mut()
            .map_err(|_| ConnectorError::Config("space_url cannot take a path".into()))?
            .extend(["resources", "v1", "application", "CSRF"]);
        if let Some(t) = &self.tenant {
            url.query_pairs_mut().append_pair("tenant", t);
        }
        let mut req = Request::get(url).header("accept", "application/json");
        self.decorate(&mut req, st);
        if st.cookie.is_none() {
            // No session yet: an empty Cookie keeps the jar out, so the server opens one and
            // says which in Set-Cookie.
            req.headers.insert(COOKIE, HeaderValue::from_static(""));
        }
        let resp = http.send(req, &partreel_connector::http::NoAuth).await?;
        self.csrf_fetches.fetch_add(1, Ordering::Relaxed);
        merge_cookies(&mut st.cookie, &resp);
        // serde's messages may quote a value; name only the position, never the token.
        let answer: wire::CsrfAnswer = serde_json::from_slice(&resp.body).map_err(|e| {
            malformed(
                http,
                format!(
                    "expected csrf.name and csrf.value (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let header = answer
            .csrf
            .name
            .as_deref()
            .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .unwrap_or_else(|| HeaderName::from_static(DEFAULT_CSRF_HEADER));
        if answer.csrf.value.is_empty() || HeaderValue::from_str(&answer.csrf.value).is_err() {
            return Err(malformed(
                http,
                "csrf.value is empty or not a header value".into(),
            ));
        }
        tracing::debug!(system = %http.system(), "CSRF token obtained");
        Ok(Csrf {
            header,
            value: SecretString::from(answer.csrf.value),
            obtained: std::time::Instant::now(),
        })
    }

    /// SecurityContext, the session cookie or the agent's Basic credentials.
    fn decorate(&self, req: &mut Request, st: &State) {
        if let Ok(v) = HeaderValue::from_str(&self.security_context) {
            req.headers
                .insert(HeaderName::from_static(SECURITY_CONTEXT), v);
        }
        if let Credentials::Agent { username, password } = &self.creds {
            set_basic(req, username, password);
        }
        if let Some(c) = &st.cookie {
            set_sensitive(req, COOKIE, c);
        }
    }

    /// A fresh CSRF token; when the fetch meets an expired session, log in once and fetch again.
    async fn renew_csrf(&self, http: &HttpClient, st: &mut State) -> Result<(), ConnectorError> {
        let csrf = match self.fetch_csrf(http, st).await {
            Err(e) if session_error(&e) && !matches!(self.creds, Credentials::Agent { .. }) => {
                self.relogin(http, st).await?;
                self.fetch_csrf(http, st).await?
            }
            other => other?,
        };
        st.csrf = Some(csrf);
        Ok(())
    }

    /// True when `resp` says the session is gone: 401, or a redirect to the passport's login.
    fn login_required(&self, resp: &Response) -> bool {
        let status = resp.status.as_u16();
        if status == 401 {
            return true;
        }
        if !resp.status.is_redirection() {
            return false;
        }
        let Some(loc) = resp.headers.get(LOCATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Ok(target) = self.space.join(loc) else {
            return false;
        };
        match &self.passport {
            Some(p) => target
                .as_str()
                .starts_with(&format!("{}/login", p.as_str().trim_end_matches('/'))),
            None => target.path().ends_with("/login"),
        }
    }
}

/// True for errors that mean "log in again" (401 → Auth, a login redirect → Http 3xx).
fn session_error(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Auth { .. })
        || matches!(e, ConnectorError::Http { status, .. } if (300..400).contains(status))
}

/// True for the methods 3DSpace wants a CSRF token on.
pub(crate) fn is_write(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// A refused write that blames the CSRF token (403/400 whose body names it) [INFERRED].
fn blames_csrf(resp: &Response) -> bool {
    matches!(resp.status.as_u16(), 400 | 403)
        && String::from_utf8_lossy(&resp.body)
            .to_ascii_lowercase()
            .contains("csrf")
}

fn set_sensitive(req: &mut Request, name: HeaderName, value: &SecretString) {
    if let Ok(mut v) = HeaderValue::from_str(value.expose_secret()) {
        v.set_sensitive(true);
        req.headers.insert(name, v);
    }
}

/// Adds the `name=value` pairs of `resp`'s `Set-Cookie` headers to `jar` (later ones win).
pub(crate) fn merge_cookies(jar: &mut Option<SecretString>, resp: &Response) {
    let mut pairs: Vec<(String, String)> = jar
        .as_ref()
        .map(|c| {
            c.expose_secret()
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let before = pairs.len();
    let mut changed = false;
    for v in resp
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        let Some((k, val)) = v.split(';').next().and_then(|p| p.trim().split_once('=')) else {
            continue;
        };
        changed = true;
        match pairs.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = val.to_string(),
            None => pairs.push((k.to_string(), val.to_string())),
        }
    }
    if changed || pairs.len() != before {
        let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        *jar = Some(SecretString::from(joined.join("; ")));
    }
}

fn malformed(http: &HttpClient, detail: String) -> ConnectorError {
    ConnectorError::Malformed {
        system: http.system().to_string(),
        what: CSRF_WHAT.into(),
        detail,
    }
}

pub(crate) fn auth_error(http: &HttpClient, message: &str) -> ConnectorError {
    ConnectorError::Auth {
        system: http.system().to_string(),
        message: message.to_string(),
    }
}

#[async_trait]
impl Auth for ThreedxSession {
    async fn apply(&self, http: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        let mut st = self.state.lock().await;
        if !st.live {
            self.relogin(http, &mut st).await?;
        }
        let aged = st
            .csrf
            .as_ref()
            .is_none_or(|c| c.obtained.elapsed() >= self.csrf_max_age);
        if is_write(&req.method) && aged {
            if st.csrf.is_some() {
                tracing::debug!(system = %http.system(), "CSRF token older than csrf_max_age_secs; fetching a new one");
            }
            self.renew_csrf(http, &mut st).await?;
        }
        self.decorate(req, &st);
        if is_write(&req.method)
            && let Some(c) = &st.csrf
        {
            set_sensitive(req, c.header.clone(), &c.value);
        }
        Ok(())
    }

    async fn renew_if_stale(
        &self,
        http: &HttpClient,
        req: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError> {
        let agent = matches!(self.creds, Credentials::Agent { .. });
        if !agent && self.login_required(resp) {
            let mut st = self.state.lock().await;
            let sent = req.headers.get(COOKIE).map(HeaderValue::as_bytes);
            let current = st.cookie.as_ref().map(|c| c.expose_secret().as_bytes());
            if sent == current {
                tracing::info!(system = %http.system(), method = %req.method, path = %req.url.path(), "3DSpace session expired; logging in again");
                self.relogin(http, &mut st).await?;
            }
            return Ok(true);
        }
        if is_write(&req.method) && blames_csrf(resp) {
            let mut st = self.state.lock().await;
            let renewed_meanwhile = st.csrf.as_ref().is_none_or(|c| {
                req.headers.get(&c.header).map(HeaderValue::as_bytes)
                    != Some(c.value.expose_secret().as_bytes())
            });
            if !renewed_meanwhile {
                tracing::debug!(system = %http.system(), method = %req.method, path = %req.url.path(), "CSRF token refused; fetching a new one");
                self.renew_csrf(http, &mut st).await?;
            }
            return Ok(true);
        }
        Ok(false)
    }
}
