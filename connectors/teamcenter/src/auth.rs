//! The Teamcenter session: `Core-2011-06-Session/login` with the user's credentials, then the
//! `JSESSIONID` cookie the web tier sets (kept by the HTTP client's cookie store) on every call;
//! `Core-2006-03-Session/logout` on shutdown (docs/wire/teamcenter.md, Session).
//!
//! An expired session is answered with an `InvalidUserException` body — usually with status
//! 200, which [`HttpClient::send`] hands back as a success — or with an HTML page. Both the
//! client's call wrapper (for 2xx answers) and [`Auth::renew_if_stale`] (for error statuses)
//! then log in again through [`TeamcenterSession::renew_after`], which lets only one caller
//! log in per expiry: callers that saw the same dead session wait for that login and replay.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use partreel_connector::error::ConnectorError;
use partreel_connector::http::{Auth, HttpClient, NoAuth, Request, Response};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use url::Url;

use crate::wire::{self, op};

/// What the login sends. `Debug` is written by hand: the password never shows.
pub(crate) struct Credentials {
    pub user: String,
    pub password: SecretString,
    pub group: String,
    pub role: String,
    pub locale: String,
    pub discriminator: String,
}

/// A Teamcenter user's session. `Debug` shows the user only.
pub struct TeamcenterSession {
    creds: Credentials,
    login_url: Url,
    logout_url: Url,
    /// Serialises logins (one login per expiry, whoever notices first).
    login_lock: Mutex<()>,
    /// Bumped by each successful login; 0 = never logged in.
    generation: AtomicU64,
    logins: AtomicU64,
}

impl std::fmt::Debug for TeamcenterSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamcenterSession")
            .field("user", &self.creds.user)
            .field("logins", &self.logins())
            .finish_non_exhaustive()
    }
}

/// `{base}/JsonRestServices/{operation}`.
pub(crate) fn op_url(base: &Url, operation: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty().push("JsonRestServices");
        for s in operation.split('/') {
            segs.push(s);
        }
    }
    url
}

impl TeamcenterSession {
    /// A session on the web tier root `base`; nothing is sent until the first call.
    pub(crate) fn new(base: &Url, creds: Credentials) -> Self {
        TeamcenterSession {
            creds,
            login_url: op_url(base, op::LOGIN),
            logout_url: op_url(base, op::LOGOUT),
            login_lock: Mutex::new(()),
            generation: AtomicU64::new(0),
            logins: AtomicU64::new(0),
        }
    }

    /// Successful logins so far (the first one included).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::SeqCst)
    }

    /// Which login the current session came from (0: none yet).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Logs in when no session was ever opened (or after a logout).
    pub(crate) async fn ensure(&self, http: &HttpClient) -> Result<(), ConnectorError> {
        if self.generation() == 0 {
            self.renew_after(http, 0).await?;
        }
        Ok(())
    }

    /// Logs in unless a login newer than `seen` already happened (then its session is used).
    pub(crate) async fn renew_after(
        &self,
        http: &HttpClient,
        seen: u64,
    ) -> Result<(), ConnectorError> {
        let _guard = self.login_lock.lock().await;
        if self.generation() != seen {
            return Ok(());
        }
        self.login(http).await?;
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.logins.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Mendix `OPERATION_LOGIN`, obsidian plugin: `POST …/Core-2011-06-Session/login` with
    /// `credentials{user,password,group,role,locale,descrimator}`; the answer sets `JSESSIONID`.
    async fn login(&self, http: &HttpClient) -> Result<(), ConnectorError> {
        let c = &self.creds;
        let body = json!({"header": {"state": {}, "policy": {}},
            "body": {"credentials": {"user": c.user, "password": c.password.expose_secret(),
                "group": c.group, "role": c.role, "locale": c.locale,
                "descrimator": c.discriminator}}});
        let req = Request::new(Method::POST, self.login_url.clone())
            .header("accept", "application/json")
            .json(&body)?
            .idempotent(true);
        let resp = http.send(req, &NoAuth).await?;
        let auth_error = |message: String| ConnectorError::Auth {
            system: http.system().to_string(),
            message,
        };
        let answer: Value = serde_json::from_slice(&resp.body)
            .map_err(|_| auth_error("login answered with a body that is not JSON".into()))?;
        if let Some(e) = wire::exception(&answer) {
            return Err(auth_error(format!(
                "login refused: {} (code {}): {}",
                e.name,
                e.code.unwrap_or_default(),
                e.message
            )));
        }
        tracing::info!(system = %http.system(), user = %c.user, "logged in to Teamcenter");
        Ok(())
    }

    /// Mendix `OPERATION_LOGOUT`: `POST …/Core-2006-03-Session/logout` with `{}`. Does nothing
    /// when never logged in; the answer is not read (logging out of a dead session answers
    /// with an XML ServiceData, per Mendix `TcConnection.getBody`).
    pub(crate) async fn logout(&self, http: &HttpClient) -> Result<(), ConnectorError> {
        let _guard = self.login_lock.lock().await;
        if self.generation() == 0 {
            return Ok(());
        }
        let body = json!({"header": {"state": {}, "policy": {}}, "body": {}});
        let req = Request::new(Method::POST, self.logout_url.clone())
            .header("accept", "application/json")
            .json(&body)?
            .idempotent(true);
        http.send(req, &NoAuth).await?;
        self.generation.store(0, Ordering::SeqCst);
        tracing::info!(system = %http.system(), "logged out of Teamcenter");
        Ok(())
    }
}

#[async_trait]
impl Auth for TeamcenterSession {
    /// Logs in before the first call; the cookie store adds `JSESSIONID` from then on.
    async fn apply(&self, http: &HttpClient, _: &mut Request) -> Result<(), ConnectorError> {
        self.ensure(http).await
    }

    /// An error status whose body is an `InvalidUserException` (or a page, with 401/403): log in again and
    /// replay (once; [`HttpClient::send`] counts).
    async fn renew_if_stale(
        &self,
        http: &HttpClient,
        req: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError> {
        // A page is a lost session only behind 401/403; a 502 page comes from a proxy.
        let stale = match resp.status.as_u16() {
            401 | 403 => wire::is_stale(&resp.body),
            _ => wire::is_invalid_user(&resp.body),
        };
        if !stale {
            return Ok(false);
        }
        tracing::info!(system = %http.system(), path = %req.url.path(), "Teamcenter session refused; logging in again");
        self.renew_after(http, self.generation()).await?;
        Ok(true)
    }
}
