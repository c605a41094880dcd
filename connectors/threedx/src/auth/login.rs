//! The 3DPassport handshakes that open a 3DSpace session (docs/wire/threedx.md
//! "Authentication"): the CAS user login and the batch-service transient ticket, both ending in
//! a CAS service ticket that 3DSpace trades for its session cookies.
//!
//! partreel's HTTP client does not follow redirects (a credential must never be replayed to
//! another host), so the handshake follows `Location` itself, at most [`MAX_REDIRECTS`] hops and
//! only to the configured passport and space roots, with the client's cookie jar carrying the
//! passport cookies (`CASTGC`) from hop to hop.

use std::sync::Mutex as SyncMutex;

use async_trait::async_trait;
use partreel_connector::error::ConnectorError;
use partreel_connector::http::{Auth, HttpClient, Request, Response};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue, LOCATION, SET_COOKIE};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{Credentials, ThreedxSession, auth_error, merge_cookies};
use crate::wire;

/// Redirects followed after the login form or the ticket request.
const MAX_REDIRECTS: usize = 5;
/// Whole handshakes tried when one fails on the way (reset, 5xx, cut-short body).
const LOGIN_ATTEMPTS: u32 = 3;
/// Cookie that proves the passport login (ws3dx `CASCookieBasedPassport.IsCookieAuthenticated`).
const CASTGC: &str = "CASTGC";

/// Passport requests: adds fixed headers (the batch-service credentials) and keeps the
/// redirect answer the HTTP client reports as an error, so its `Location` can be read.
#[derive(Default)]
struct Hop {
    headers: Vec<(HeaderName, SecretString)>,
    redirect: SyncMutex<Option<Response>>,
}

#[async_trait]
impl Auth for Hop {
    async fn apply(&self, _: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        for (name, value) in &self.headers {
            if let Ok(mut v) = HeaderValue::from_str(value.expose_secret()) {
                v.set_sensitive(true);
                req.headers.insert(name.clone(), v);
            }
        }
        Ok(())
    }

    async fn renew_if_stale(
        &self,
        _: &HttpClient,
        _: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError> {
        if resp.status.is_redirection()
            && let Ok(mut slot) = self.redirect.lock()
        {
            *slot = Some(resp.clone());
        }
        Ok(false)
    }
}

/// Sends one request of the handshake; a redirect comes back as `Ok` like any answer.
async fn hop(http: &HttpClient, req: Request, auth: &Hop) -> Result<Response, ConnectorError> {
    match http.send(req, auth).await {
        Ok(r) => Ok(r),
        Err(e @ ConnectorError::Http { status, .. }) if (300..400).contains(&status) => auth
            .redirect
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .ok_or(e),
        Err(e) => Err(e),
    }
}

fn json_get(url: Url) -> Request {
    Request::get(url).header("accept", "application/json")
}

fn sets_cookie(resp: &Response, name: &str) -> bool {
    resp.headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.trim_start().starts_with(&format!("{name}=")))
}

impl ThreedxSession {
    /// Opens a 3DSpace session and returns its cookies; retries a handshake that failed on the
    /// way, never one the passport refused.
    pub(super) async fn login(&self, http: &HttpClient) -> Result<SecretString, ConnectorError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match &self.creds {
                Credentials::Cas { username, password } => {
                    self.cas_login(http, username, password).await
                }
                Credentials::BatchService {
                    service_name,
                    service_secret,
                    username,
                } => {
                    self.batch_login(http, service_name, service_secret, username)
                        .await
                }
                Credentials::Agent { .. } => {
                    return Err(auth_error(http, "agent credentials have no login"));
                }
            };
            match result {
                Err(e @ ConnectorError::Auth { .. }) => return Err(e),
                Err(e) if attempt < LOGIN_ATTEMPTS => {
                    tracing::warn!(system = %http.system(), attempt, error = %e, "3DPassport login failed on the way; starting over");
                }
                other => return other,
            }
        }
    }

    fn passport(&self, http: &HttpClient, segments: &[&str]) -> Result<Url, ConnectorError> {
        let mut url = self
            .passport
            .clone()
            .ok_or_else(|| auth_error(http, "passport_url is not configured"))?;
        url.path_segments_mut()
            .map_err(|_| auth_error(http, "passport_url cannot take a path"))?
            .extend(segments);
        Ok(url)
    }

    /// The CAS service URL: the 3DSpace root with a trailing slash.
    fn service(&self) -> String {
        format!("{}/", self.space.as_str().trim_end_matches('/'))
    }

    /// ws3dx `UserPassport.CASLoginWithRedirection`.
    async fn cas_login(
        &self,
        http: &HttpClient,
        username: &str,
        password: &SecretString,
    ) -> Result<SecretString, ConnectorError> {
        // Step 1: `GET {passport}/login?action=get_auth_params` → `{"response":"login","lt":…}`.
        let mut url = self.passport(http, &["login"])?;
        url.query_pairs_mut()
            .append_pair("action", "get_auth_params");
        let resp = hop(http, json_get(url), &Hop::default()).await?;
        let params: wire::AuthParams = resp.json(http.system(), "3DPassport get_auth_params")?;
        let lt = match params.lt {
            Some(lt) if params.response == "login" && !lt.is_empty() => lt,
            _ => {
                return Err(auth_error(
                    http,
                    "3DPassport did not offer a login ticket (response != \"login\")",
                ));
            }
        };
        // Step 2: form POST `{passport}/login?service=…` with lt, username, password.
        let mut url = self.passport(http, &["login"])?;
        url.query_pairs_mut()
            .append_pair("service", &self.service());
        let form = [
            ("lt".to_string(), lt),
            ("username".to_string(), username.to_string()),
            ("password".to_string(), password.expose_secret().to_string()),
            ("rememberMe".to_string(), "false".to_string()),
        ];
        let req = Request::new(Method::POST, url)
            .form(&form)
            .header("accept", "application/json");
        let resp = hop(http, req, &Hop::default()).await?;
        if !sets_cookie(&resp, CASTGC) {
            return Err(auth_error(
                http,
                "3DPassport refused the credentials (no CASTGC cookie)",
            ));
        }
        self.follow(http, resp).await
    }

    /// ws3dx `BatchServicePassport.CASLogin`, then the CAS service ticket for 3DSpace.
    async fn batch_login(
        &self,
        http: &HttpClient,
        service_name: &str,
        service_secret: &SecretString,
        username: &str,
    ) -> Result<SecretString, ConnectorError> {
        // `GET {passport}/api/v2/batch/ticket?identifier=<user>` + DS-Service-Name/-Secret.
        let mut url = self.passport(http, &["api", "v2", "batch", "ticket"])?;
        url.query_pairs_mut().append_pair("identifier", username);
        let creds = Hop {
            headers: vec![
                (
                    HeaderName::from_static("ds-service-name"),
                    SecretString::from(service_name.to_string()),
                ),
                (
                    HeaderName::from_static("ds-service-secret"),
                    service_secret.clone(),
                ),
            ],
            ..Hop::default()
        };
        let resp = hop(http, json_get(url), &creds).await?;
        let token: wire::TransientToken = serde_json::from_slice(&resp.body).map_err(|e| {
            auth_error(
                http,
                &format!(
                    "batch ticket answer not understood (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if token.token_type != "CAS_TRANSIENT" || token.access_token.is_empty() {
            return Err(auth_error(
                http,
                "3DPassport refused the batch service (no CAS_TRANSIENT ticket)",
            ));
        }
        // `GET {passport}/api/login/cas/transient?tgt=<ticket>` → CASTGC.
        let mut url = self.passport(http, &["api", "login", "cas", "transient"])?;
        url.query_pairs_mut()
            .append_pair("tgt", &token.access_token);
        let resp = hop(http, json_get(url), &Hop::default()).await?;
        let login: wire::TransientLogin = resp.json(http.system(), "3DPassport cas/transient")?;
        if !login.message.eq_ignore_ascii_case("authenticated") || !sets_cookie(&resp, CASTGC) {
            return Err(auth_error(http, "3DPassport refused the transient ticket"));
        }
        // `GET {passport}/login?service=…` with CASTGC → 302 to 3DSpace with a service ticket.
        let mut url = self.passport(http, &["login"])?;
        url.query_pairs_mut()
            .append_pair("service", &self.service());
        let resp = hop(http, json_get(url), &Hop::default()).await?;
        self.follow(http, resp).await
    }

    /// Follows redirects from `resp` within the configured roots and collects the cookies the
    /// space host sets; the session is open when a 2xx arrives and the space set a cookie.
    async fn follow(
        &self,
        http: &HttpClient,
        mut resp: Response,
    ) -> Result<SecretString, ConnectorError> {
        let mut cookies: Option<SecretString> = None;
        let mut at: Option<Url> = None;
        for _ in 0..=MAX_REDIRECTS {
            if at.as_ref().is_some_and(|u| self.on_space(u)) {
                merge_cookies(&mut cookies, &resp);
            }
            if !resp.status.is_redirection() {
                return match cookies {
                    Some(c) if resp.status.is_success() => Ok(c),
                    _ => Err(auth_error(
                        http,
                        "3DSpace opened no session after the login",
                    )),
                };
            }
            let base = at.clone().unwrap_or_else(|| self.space.clone());
            let next = resp
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| base.join(l).ok())
                .ok_or_else(|| auth_error(http, "login redirect without a usable Location"))?;
            if !self.on_space(&next) && !self.on_passport(&next) {
                return Err(auth_error(
                    http,
                    "login redirect to a host that is not configured; not followed",
                ));
            }
            resp = hop(http, json_get(next.clone()), &Hop::default()).await?;
            at = Some(next);
        }
        Err(auth_error(http, "too many redirects after the login"))
    }

    fn on_space(&self, u: &Url) -> bool {
        within(&self.space, u)
    }

    fn on_passport(&self, u: &Url) -> bool {
        self.passport.as_ref().is_some_and(|p| within(p, u))
    }
}

/// True when `u` has `root`'s origin and its path lies under `root`'s path.
fn within(root: &Url, u: &Url) -> bool {
    let base = root.path().trim_end_matches('/');
    root.origin() == u.origin() && (u.path() == base || u.path().starts_with(&format!("{base}/")))
}
