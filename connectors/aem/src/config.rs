//! The `aem` connector's configuration: what a user writes, the pure validation that turns it
//! into a [`ValidatedAem`], and the build step that reads secrets and makes an [`AemClient`].
//!
//! ```toml
//! base_url = "https://author-p12345-e67890.adobeaemcloud.com"
//! dam_root = "/content/dam/acme/video-experiments"
//! auth = { type = "ims", client_id = "…", client_secret = { env = "AEM_CLIENT_SECRET" } }
//! archive_property = "acme:archived"
//! ```

use partreel_connector::ConnectorError;
use partreel_connector::http::{HttpClient, HttpConfig, RateLimitConfig, SecretRef};
use serde::Deserialize;
use url::Url;

use crate::auth::AemAuth;
use crate::client::AemClient;
use crate::wire::DAM_PREFIX;

/// Adobe IMS token endpoint of OAuth server-to-server credentials (docs/wire/aem.md "Auth";
/// developer.adobe.com "OAuth Server-to-Server credential API Reference").
pub const DEFAULT_TOKEN_URL: &str = "https://ims-na1.adobelogin.com/ims/token/v3";

/// Scopes asked for by default: those the Adobe Developer Console grants an AEM as a Cloud
/// Service OAuth server-to-server credential [INF: copy the credential's own list when it
/// differs].
pub const DEFAULT_SCOPES: &[&str] = &[
    "AdobeID",
    "openid",
    "read_organizations",
    "additional_info.projectedProductContext",
];

/// Default `p.limit` of a QueryBuilder page.
pub const DEFAULT_PAGE_SIZE: u32 = 200;
/// Largest `p.limit` partreel sends (bounded response bodies; QueryBuilder itself has no cap).
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Most metadata writes confirmed by one QueryBuilder read (docs/wire/aem.md "Confirming
/// writes"); the read is split further when the paths would make its URL too long.
pub const MAX_WRITE_BATCH: u32 = 100;

/// Default client-side rate limit, requests per second (and burst). AEM publishes no quota for
/// the author tier [INF: research §A.1.5], so stay well below what one author instance serves.
pub const DEFAULT_REQUESTS_PER_SEC: u32 = 10;

/// Configuration of one AEM author instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AemConfig {
    /// The author instance, e.g. `https://author-p12345-e67890.adobeaemcloud.com`.
    pub base_url: String,
    /// The DAM folder holding the clips, e.g. `/content/dam/acme/video-experiments`; every
    /// `dam:Asset` below it is a clip.
    pub dam_root: String,
    /// How partreel authenticates: Adobe IMS server-to-server or a fixed bearer token.
    pub auth: AemAuthConfig,
    /// Assets per QueryBuilder page (`p.limit`, 1…1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Metadata property marking a clip as withdrawn (archived) when it reads `true`, e.g.
    /// `acme:archived`. Left out: no clip is archived (deleted ones still retire their links).
    #[serde(default)]
    pub archive_property: Option<String>,
    /// Metadata properties offered to mappings even when no clip holds them yet (the schema
    /// otherwise lists what the clips hold).
    #[serde(default)]
    pub metadata_properties: Vec<String>,
    /// Metadata writes confirmed together by one QueryBuilder read of their paths (1…100;
    /// 1 re-reads each asset on its own).
    #[serde(default = "default_write_batch")]
    pub write_batch: u32,
    /// HTTP settings; the rate limit defaults to 10 requests/s when `rate_limit` is left out.
    #[serde(default)]
    pub http: HttpConfig,
}

/// How partreel authenticates to AEM (`auth = { type = "…", … }`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AemAuthConfig {
    /// Adobe IMS OAuth server-to-server credential (client credentials grant).
    Ims {
        /// The credential's client id (also sent as `X-Api-Key` when `api_key` is true).
        client_id: String,
        /// Where the client secret is read from (`{ env = "…" }` or `{ file = "…" }`).
        client_secret: SecretRef,
        /// Scopes requested (sent comma-separated, as IMS expects).
        #[serde(default = "default_scopes")]
        scopes: Vec<String>,
        /// The IMS token endpoint.
        #[serde(default = "default_token_url")]
        token_url: String,
        /// Send `X-Api-Key: <client_id>` with every AEM request.
        #[serde(default = "default_true")]
        api_key: bool,
    },
    /// A fixed bearer token (a 24-hour local development token from the Developer Console).
    Bearer {
        /// Where the token is read from (`{ env = "…" }` or `{ file = "…" }`).
        token: SecretRef,
    },
}

fn default_page_size() -> u32 {
    DEFAULT_PAGE_SIZE
}

fn default_write_batch() -> u32 {
    50
}

fn default_scopes() -> Vec<String> {
    DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
}

fn default_token_url() -> String {
    DEFAULT_TOKEN_URL.to_string()
}

fn default_true() -> bool {
    true
}

/// The default client-side rate limit (see [`DEFAULT_REQUESTS_PER_SEC`]).
pub fn default_rate_limit() -> RateLimitConfig {
    RateLimitConfig {
        requests: DEFAULT_REQUESTS_PER_SEC,
        per_secs: 1,
        burst: Some(DEFAULT_REQUESTS_PER_SEC),
    }
}

/// A configuration that passed [`AemConfig::validate`]: URLs parsed, paths and ranges checked.
#[derive(Debug, Clone)]
pub struct ValidatedAem {
    pub(crate) base: Url,
    pub(crate) dam_root: String,
    pub(crate) auth: AemAuthConfig,
    pub(crate) token_url: Option<Url>,
    pub(crate) page_size: u32,
    pub(crate) write_batch: u32,
    pub(crate) archive_property: Option<String>,
    pub(crate) metadata_properties: Vec<String>,
    pub(crate) http: HttpConfig,
}

/// What the application gives [`build`](ValidatedAem::build): the shared
/// context of every DAM connector.
pub use partreel_connector::connector::DamBuildContext as BuildContext;

impl AemConfig {
    /// Checks the configuration without any I/O or secret reads. Every problem is reported,
    /// each naming its key.
    pub fn validate(&self) -> Result<ValidatedAem, Vec<String>> {
        let mut errors = Vec::new();
        let base = parse_url(&self.base_url)
            .map_err(|e| errors.push(format!("base_url: {e}")))
            .ok();
        let dam_root = parse_dam_root(&self.dam_root)
            .map_err(|e| errors.push(format!("dam_root: {e}")))
            .ok();
        let mut token_url = None;
        match &self.auth {
            AemAuthConfig::Ims {
                client_id,
                client_secret,
                scopes,
                token_url: raw,
                ..
            } => {
                if client_id.trim().is_empty() {
                    errors.push("auth.client_id: must not be empty".into());
                }
                check_secret_ref("auth.client_secret", client_secret, &mut errors);
                if scopes.is_empty() {
                    errors.push("auth.scopes: name at least one scope".into());
                }
                if scopes
                    .iter()
                    .any(|s| s.trim().is_empty() || s.contains([' ', ',']))
                {
                    errors.push(
                        "auth.scopes: scopes must be non-empty and contain no spaces or commas"
                            .into(),
                    );
                }
                match parse_url(raw) {
                    Ok(u) => token_url = Some(u),
                    Err(e) => errors.push(format!("auth.token_url: {e}")),
                }
            }
            AemAuthConfig::Bearer { token } => check_secret_ref("auth.token", token, &mut errors),
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            errors.push(format!(
                "page_size: must be between 1 and {MAX_PAGE_SIZE}, not {}",
                self.page_size
            ));
        }
        if !(1..=MAX_WRITE_BATCH).contains(&self.write_batch) {
            errors.push(format!(
                "write_batch: must be between 1 and {MAX_WRITE_BATCH}, not {}",
                self.write_batch
            ));
        }
        if let Some(p) = &self.archive_property
            && !is_property_name(p)
        {
            errors.push(format!(
                "archive_property: {p:?} is not a metadata property name"
            ));
        }
        for p in &self.metadata_properties {
            if !is_property_name(p) {
                errors.push(format!(
                    "metadata_properties: {p:?} is not a metadata property name"
                ));
            }
        }
        errors.extend(self.http.validate());
        match (base, dam_root) {
            (Some(base), Some(dam_root)) if errors.is_empty() => Ok(ValidatedAem {
                base,
                dam_root,
                auth: self.auth.clone(),
                token_url,
                page_size: self.page_size,
                write_batch: self.write_batch,
                archive_property: self.archive_property.clone(),
                metadata_properties: self.metadata_properties.clone(),
                http: self.http.clone(),
            }),
            _ => Err(errors),
        }
    }
}

impl ValidatedAem {
    /// Reads the secrets and builds the client. Errors name the key and the variable or file,
    /// never a value.
    pub fn build(self, ctx: BuildContext) -> Result<AemClient, ConnectorError> {
        let auth = AemAuth::from_config(&self.auth, &self.base, self.token_url.as_ref(), &ctx)?;
        let http = HttpClient::new(&ctx.system, &self.http, &default_rate_limit())?;
        Ok(AemClient::new(self, http, auth))
    }
}

/// An http(s) URL without query, fragment or credentials; the path keeps no trailing `/`.
fn parse_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
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
    Ok(url)
}

/// `/content/dam/…`, no trailing slash, no empty, `.` or `..` segment.
fn parse_dam_root(raw: &str) -> Result<String, String> {
    let root = raw.trim().trim_end_matches('/');
    let Some(rest) = root.strip_prefix(DAM_PREFIX) else {
        return Err(format!("must start with {DAM_PREFIX}/, not {raw:?}"));
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err(format!("must start with {DAM_PREFIX}/, not {raw:?}"));
    }
    if rest
        .split('/')
        .skip(1)
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!("{raw:?} has an empty, . or .. segment"));
    }
    Ok(root.to_string())
}

/// A JCR property name partreel accepts: non-empty, no `/`, no whitespace.
fn is_property_name(p: &str) -> bool {
    !p.is_empty() && !p.contains('/') && !p.contains(char::is_whitespace)
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
