//! The `bynder` connector's configuration: what a user writes, the pure validation that turns
//! it into a [`ValidatedBynder`], and the build step that reads secrets and makes a
//! [`BynderClient`].
//!
//! ```toml
//! base_url = "https://acme.bynder.com"
//! auth = { type = "oauth2", client_id = "…", client_secret = { env = "BYNDER_SECRET" } }
//! page_size = 1000
//! ```

use partreel_connector::ConnectorError;
use partreel_connector::http::oauth::ClientAuthMethod;
use partreel_connector::http::{HttpClient, HttpConfig, RateLimitConfig, SecretRef};
use serde::Deserialize;
use url::Url;

use crate::auth::BynderAuth;
use crate::client::BynderClient;

/// Largest `limit` Bynder accepts on `GET /api/v4/media/` (docs/wire/bynder.md "Media").
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Most media confirmed by one `GET /api/v4/media/?ids=…` after their metadata writes
/// (docs/wire/bynder.md "Confirming writes"): 100 ids of 36 characters keep the query near
/// 3.7 KB, well inside the 8 KB request lines common servers and proxies accept.
pub const MAX_WRITE_BATCH: u32 = 100;

/// Bynder's published rate limit: 4,500 requests per 5 minutes per IP
/// (docs/wire/bynder.md "Rate limit"; research §A.2).
pub const RATE_LIMIT_REQUESTS: u32 = 4500;
/// The period of [`RATE_LIMIT_REQUESTS`], in seconds.
pub const RATE_LIMIT_PER_SECS: u32 = 300;
/// Burst allowed by the default limiter (Bynder's older help page: 15 requests/s per IP).
pub const RATE_LIMIT_BURST: u32 = 15;

/// Scopes asked for by default: read and write assets and their metaproperties.
pub const DEFAULT_SCOPES: &[&str] = &[
    "asset:read",
    "asset:write",
    "meta.assetbank:read",
    "meta.assetbank:write",
];

/// Configuration of one Bynder portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BynderConfig {
    /// The portal, e.g. `https://acme.bynder.com` (the API lives under `{base_url}/api`).
    pub base_url: String,
    /// How partreel authenticates: OAuth 2.0 client credentials or a permanent token.
    pub auth: BynderAuthConfig,
    /// Media per page of the change feed (`limit`, 1…1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Media type listed by the change feed (`type=`).
    #[serde(default = "default_media_type")]
    pub media_type: String,
    /// Re-reads after a metadata write (answered `202`, applied asynchronously) before giving
    /// up on seeing it.
    #[serde(default = "default_write_confirm_attempts")]
    pub write_confirm_attempts: u32,
    /// Milliseconds between two such re-reads.
    #[serde(default = "default_write_confirm_delay_ms")]
    pub write_confirm_delay_ms: u64,
    /// Metadata writes confirmed together by one listing of their ids (1…100; 1 confirms each
    /// write with its own read).
    #[serde(default = "default_write_batch")]
    pub write_batch: u32,
    /// HTTP settings; the rate limit defaults to Bynder's 4,500 requests per 300 s (burst 15)
    /// when the `rate_limit` table is left out.
    #[serde(default)]
    pub http: HttpConfig,
}

/// How partreel authenticates to Bynder (`auth = { type = "…", … }`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BynderAuthConfig {
    /// OAuth 2.0 client credentials of an app registered in the portal.
    Oauth2 {
        /// The app's client id.
        client_id: String,
        /// Where the client secret is read from (`{ env = "…" }` or `{ file = "…" }`).
        client_secret: SecretRef,
        /// Scopes requested with the token.
        #[serde(default = "default_scopes")]
        scopes: Vec<String>,
        /// How the client id and secret are sent: `request_body` (form fields, the default:
        /// how Bynder's own SDK sends them) or `basic` (HTTP Basic). Bynder's token endpoint
        /// takes either (`bynder-oauth2-openapi.json`, Token endpoint: "authorization either
        /// in the body or by sending the Authorization header").
        #[serde(default = "default_client_auth")]
        client_auth: ClientAuthMethod,
    },
    /// A permanent token created in the portal, sent as a bearer token.
    PermanentToken {
        /// Where the token is read from (`{ env = "…" }` or `{ file = "…" }`).
        token: SecretRef,
    },
}

fn default_page_size() -> u32 {
    MAX_PAGE_SIZE
}

fn default_media_type() -> String {
    "video".to_string()
}

fn default_write_confirm_attempts() -> u32 {
    5
}

fn default_write_confirm_delay_ms() -> u64 {
    500
}

fn default_write_batch() -> u32 {
    50
}

fn default_client_auth() -> ClientAuthMethod {
    ClientAuthMethod::RequestBody
}

fn default_scopes() -> Vec<String> {
    DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
}

/// Bynder's published rate limit as a `governor` quota.
pub fn default_rate_limit() -> RateLimitConfig {
    RateLimitConfig {
        requests: RATE_LIMIT_REQUESTS,
        per_secs: RATE_LIMIT_PER_SECS,
        burst: Some(RATE_LIMIT_BURST),
    }
}

/// A configuration that passed [`BynderConfig::validate`]: URLs parsed, ranges checked.
#[derive(Debug, Clone)]
pub struct ValidatedBynder {
    pub(crate) base: Url,
    pub(crate) auth: BynderAuthConfig,
    pub(crate) page_size: u32,
    pub(crate) media_type: String,
    pub(crate) write_confirm_attempts: u32,
    pub(crate) write_confirm_delay_ms: u64,
    pub(crate) write_batch: u32,
    pub(crate) http: HttpConfig,
}

/// What the application gives [`build`](ValidatedBynder::build): the shared
/// context of every DAM connector.
pub use partreel_connector::connector::DamBuildContext as BuildContext;

impl BynderConfig {
    /// Checks the configuration without any I/O or secret reads. Every problem is reported,
    /// each naming its key.
    pub fn validate(&self) -> Result<ValidatedBynder, Vec<String>> {
        let mut errors = Vec::new();
        let base = match parse_base_url(&self.base_url) {
            Ok(u) => Some(u),
            Err(e) => {
                errors.push(format!("base_url: {e}"));
                None
            }
        };
        match &self.auth {
            BynderAuthConfig::Oauth2 {
                client_id,
                client_secret,
                scopes,
                ..
            } => {
                if client_id.trim().is_empty() {
                    errors.push("auth.client_id: must not be empty".into());
                }
                check_secret_ref("auth.client_secret", client_secret, &mut errors);
                if scopes
                    .iter()
                    .any(|s| s.trim().is_empty() || s.contains(' '))
                {
                    errors
                        .push("auth.scopes: scopes must be non-empty and contain no spaces".into());
                }
            }
            BynderAuthConfig::PermanentToken { token } => {
                check_secret_ref("auth.token", token, &mut errors);
            }
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            errors.push(format!(
                "page_size: must be between 1 and {MAX_PAGE_SIZE}, not {}",
                self.page_size
            ));
        }
        if self.media_type.trim().is_empty() {
            errors.push("media_type: must not be empty".into());
        }
        if self.write_confirm_attempts == 0 {
            errors.push("write_confirm_attempts: must be at least 1".into());
        }
        if !(1..=MAX_WRITE_BATCH).contains(&self.write_batch) {
            errors.push(format!(
                "write_batch: must be between 1 and {MAX_WRITE_BATCH}, not {}",
                self.write_batch
            ));
        }
        errors.extend(self.http.validate());
        match base {
            Some(base) if errors.is_empty() => Ok(ValidatedBynder {
                base,
                auth: self.auth.clone(),
                page_size: self.page_size,
                media_type: self.media_type.trim().to_string(),
                write_confirm_attempts: self.write_confirm_attempts,
                write_confirm_delay_ms: self.write_confirm_delay_ms,
                write_batch: self.write_batch,
                http: self.http.clone(),
            }),
            _ => Err(errors),
        }
    }
}

impl ValidatedBynder {
    /// Reads the secrets and builds the client. Errors name the key and the variable or file,
    /// never a value.
    pub fn build(self, ctx: BuildContext) -> Result<BynderClient, ConnectorError> {
        let auth = BynderAuth::from_config(&self.auth, &self.base, &ctx)?;
        let http = HttpClient::new(&ctx.system, &self.http, &default_rate_limit())?;
        Ok(BynderClient::new(self, http, auth))
    }
}

/// The portal URL, with a path ending in `/` so that API paths can be appended.
fn parse_base_url(raw: &str) -> Result<Url, String> {
    let mut url = Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "scheme must be https (or http), not {}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry a query or fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn check_secret_ref(key: &str, secret: &SecretRef, errors: &mut Vec<String>) {
    match secret {
        SecretRef::Env(var) if var.trim().is_empty() => {
            errors.push(format!("{key}: env must name a variable"));
        }
        SecretRef::File(path) if path.as_os_str().is_empty() => {
            errors.push(format!("{key}: file must name a path"));
        }
        _ => {}
    }
}
