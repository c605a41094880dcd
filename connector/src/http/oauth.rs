//! Bearer credentials: OAuth 2.0 client-credentials tokens fetched with the `oauth2` crate
//! through partreel's own [`HttpClient`] (so the token request is rate-limited and retried
//! like any other, and no second HTTP stack is built), refreshed before they expire; and
//! static bearer tokens (Bynder's permanent token).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::{Auth, HttpClient, NoAuth, Request, Response};
use crate::error::ConnectorError;

/// A token is renewed this long before the server said it expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Lifetime assumed when the token response carries no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// How the client id and secret travel to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic (`client_secret_basic`).
    #[default]
    Basic,
    /// In the form body (`client_secret_post`).
    RequestBody,
}

struct CachedToken {
    token: SecretString,
    renew_at: Instant,
    /// The scopes the token answer granted (`scope`, RFC 6749 §5.1), when it listed them.
    granted: Option<Vec<String>>,
}

/// OAuth 2.0 client credentials grant, with the token cached and renewed ahead of expiry.
pub struct ClientCredentials {
    token_url: url::Url,
    client_id: String,
    client_secret: SecretString,
    scopes: Vec<String>,
    method: ClientAuthMethod,
    cached: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// Sets up the grant; no request is made until the first API call.
    pub fn new(
        token_url: url::Url,
        client_id: String,
        client_secret: SecretString,
        scopes: Vec<String>,
        method: ClientAuthMethod,
    ) -> Self {
        ClientCredentials {
            token_url,
            client_id,
            client_secret,
            scopes,
            method,
            cached: Mutex::new(None),
        }
    }

    /// The scopes the current token was granted, fetching a token when none is cached: the
    /// token answer's `scope` when it lists one (RFC 6749 §5.1: it may be left out when it is
    /// the requested set, then the requested scopes are returned).
    pub async fn granted_scopes(&self, http: &HttpClient) -> Result<Vec<String>, ConnectorError> {
        self.token(http, false).await?;
        let cached = self.cached.lock().await;
        Ok(cached
            .as_ref()
            .and_then(|c| c.granted.clone())
            .unwrap_or_else(|| self.scopes.clone()))
    }

    async fn token(&self, http: &HttpClient, force: bool) -> Result<SecretString, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && !force
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch(http).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn fetch(&self, http: &HttpClient) -> Result<CachedToken, ConnectorError> {
        let system = http.system().to_string();
        let auth_err = |message: String| ConnectorError::Auth {
            system: system.clone(),
            message,
        };
        let token_url = TokenUrl::from_url(self.token_url.clone());
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                self.client_secret.expose_secret().to_string(),
            ))
            .set_auth_type(match self.method {
                ClientAuthMethod::Basic => AuthType::BasicAuth,
                ClientAuthMethod::RequestBody => AuthType::RequestBody,
            })
            .set_token_uri(token_url);
        let owned = http.clone();
        let bridge = move |req: oauth2::HttpRequest| {
            let h = owned.clone();
            async move { bridge(&h, req).await }
        };
        let mut exchange = client.exchange_client_credentials();
        for s in &self.scopes {
            exchange = exchange.add_scope(Scope::new(s.clone()));
        }
        let started = Instant::now();
        let resp = exchange.request_async(&bridge).await.map_err(|e| {
            // The oauth2 error shows the server's error code and description, never the
            // request; keep only that.
            match e {
                oauth2::RequestTokenError::ServerResponse(r) => {
                    auth_err(format!("token endpoint refused the client: {}", r.error()))
                }
                oauth2::RequestTokenError::Request(inner) => match inner {
                    BridgeError(ce) => auth_err(format!("token request failed: {ce}")),
                },
                oauth2::RequestTokenError::Parse(pe, _) => {
                    auth_err(format!("token response not understood: {pe}"))
                }
                oauth2::RequestTokenError::Other(o) => auth_err(format!("token request: {o}")),
            }
        })?;
        let lifetime = resp.expires_in().unwrap_or(DEFAULT_LIFETIME);
        let renew_in = lifetime.checked_sub(REFRESH_MARGIN).unwrap_or(lifetime / 2);
        tracing::debug!(system = %http.system(), lifetime_secs = lifetime.as_secs(), "oauth2 token obtained");
        let granted = resp
            .scopes()
            .map(|scopes| scopes.iter().map(|s| s.to_string()).collect());
        Ok(CachedToken {
            token: SecretString::from(resp.access_token().secret().to_string()),
            renew_at: started + renew_in,
            granted,
        })
    }
}

/// Error type of the oauth2 → HttpClient bridge.
#[derive(Debug)]
struct BridgeError(ConnectorError);

impl std::fmt::Display for BridgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BridgeError {}

/// Sends an oauth2 request through partreel's client. A token endpoint answering 4xx is
/// passed back to oauth2 (which parses the OAuth error body); transport failures after
/// retries become errors.
async fn bridge(
    http: &HttpClient,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, BridgeError> {
    let (parts, body) = req.into_parts();
    let url = url::Url::parse(&parts.uri.to_string())
        .map_err(|e| BridgeError(ConnectorError::Config(format!("token url: {e}"))))?;
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|e| BridgeError(ConnectorError::Config(e.to_string())))?;
    let mut r = Request::new(method, url).idempotent(true);
    for (name, value) in parts.headers.iter() {
        if let (Ok(n), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            if n == reqwest::header::CONTENT_TYPE {
                continue;
            }
            r.headers.insert(n, v);
        }
    }
    if !body.is_empty() {
        r.body = Some(super::request::Body {
            bytes: body.into(),
            content_type: "application/x-www-form-urlencoded",
        });
    }
    let resp = match http.send(r, &NoAuth).await {
        Ok(resp) => resp,
        // A 429 is the endpoint's rate limit, not a refused request: keep it as what it is.
        Err(ConnectorError::Http {
            status, message, ..
        }) if (400..500).contains(&status) && status != 429 => {
            let body = serde_json::json!({"error": if status == 401 { "invalid_client" } else { "invalid_request" }, "error_description": message});
            return oauth2::http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(body.to_string().into_bytes())
                .map_err(|e| BridgeError(ConnectorError::Config(e.to_string())));
        }
        Err(ConnectorError::Auth { system, message }) => {
            return Err(BridgeError(ConnectorError::Auth { system, message }));
        }
        Err(e) => return Err(BridgeError(e)),
    };
    let mut builder = oauth2::http::Response::builder().status(resp.status.as_u16());
    if let Some(ct) = resp.headers.get(reqwest::header::CONTENT_TYPE) {
        builder = builder.header("content-type", ct.as_bytes());
    }
    builder
        .body(resp.body.to_vec())
        .map_err(|e| BridgeError(ConnectorError::Config(e.to_string())))
}

#[async_trait]
impl Auth for ClientCredentials {
    async fn apply(&self, http: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        let token = self.token(http, false).await?;
        set_bearer(req, &token);
        Ok(())
    }

    async fn renew_if_stale(
        &self,
        http: &HttpClient,
        req: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError> {
        if resp.status.as_u16() != 401 {
            return Ok(false);
        }
        // When the token is revoked, every request in flight gets a 401 at once. Only the
        // first one to get here fetches a new token; the others see that the cached token is
        // no longer the one they sent and just replay with it (one token request, not one per
        // concurrent request).
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let sent = req
                .headers
                .get(reqwest::header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
            if sent != Some(c.token.expose_secret().as_bytes()) {
                return Ok(true);
            }
        }
        *cached = Some(self.fetch(http).await?);
        Ok(true)
    }
}

/// A long-lived bearer token (Bynder's permanent token). Never renewed: a 401 is final.
pub struct StaticBearer(pub SecretString);

impl std::fmt::Debug for StaticBearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticBearer(<redacted>)")
    }
}

#[async_trait]
impl Auth for StaticBearer {
    async fn apply(&self, _: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        set_bearer(req, &self.0);
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

/// Sets `Authorization: Bearer <token>`, marked sensitive so it is never printed.
pub fn set_bearer(req: &mut Request, token: &SecretString) {
    if let Ok(mut v) =
        reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
    {
        v.set_sensitive(true);
        req.headers.insert(reqwest::header::AUTHORIZATION, v);
    }
}

/// Sets `Authorization: Basic …`, marked sensitive so it is never printed.
pub fn set_basic(req: &mut Request, user: &str, password: &SecretString) {
    use std::io::Write;
    let mut raw = Vec::new();
    let _ = write!(raw, "{user}:{}", password.expose_secret());
    let encoded = base64_encode(&raw);
    if let Ok(mut v) = reqwest::header::HeaderValue::from_str(&format!("Basic {encoded}")) {
        v.set_sensitive(true);
        req.headers.insert(reqwest::header::AUTHORIZATION, v);
    }
}

/// Standard base64 with padding (RFC 4648), enough for Basic credentials.
fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64_encode;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"user:p@ss"), "dXNlcjpwQHNz");
    }
}
