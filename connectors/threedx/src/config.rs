//! The `threedx` connector's configuration: parsed and checked without any I/O
//! ([`ThreedxConfig::validate`]), then turned into a client once secrets are read
//! ([`ValidatedThreedx::build`]).

use partreel_connector::error::ConnectorError;
use partreel_connector::http::{HttpClient, HttpConfig, RateLimitConfig, SecretRef};
use serde::Deserialize;
use url::Url;

use crate::auth::{Credentials, ThreedxSession};
use crate::client::{ClientParts, ThreedxClient};

/// Default parent relation of link documents (plm-apis.md §3.3).
pub const DEFAULT_PARENT_REL_NAME: &str = "Reference Document";
/// Default `$top` of search requests: ws3dx's `MAX_VALS_PER_QUERY`.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// Largest `$top` partreel sends (ws3dx never asks for more).
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Default search string of the part scan (everything).
pub const DEFAULT_SEARCH_STRING: &str = "*";
/// Default search string that finds partreel's documents (their description names partreel).
pub const DEFAULT_LINK_SEARCH: &str = "partreel";
/// Default age of a CSRF token before it is renewed ahead of a write: 55 minutes, as ws3dx
/// (`EnoviaBaseService.CSRF_CACHE_INTERVAL`).
pub const DEFAULT_CSRF_MAX_AGE_SECS: u64 = 55 * 60;
/// Default "modified since" search predicate: the 3D search index's attribute syntax
/// (`[ds6w:modified]`, the 6W vocabulary's modification date) with an inclusive bound.
pub const DEFAULT_MODIFIED_PREDICATE: &str = "[ds6w:modified]>=\"{since}\"";
/// Default document attribute holding the link id.
pub const DEFAULT_LINK_ID_ATTRIBUTE: &str = "partreelLinkId";
/// Default document attribute holding the link status.
pub const DEFAULT_LINK_STATUS_ATTRIBUTE: &str = "partreelStatus";
/// Default client-side rate limit, requests per second (and burst): 3DEXPERIENCE publishes
/// none, so stay well below what one 3DSpace server handles.
pub const DEFAULT_REQUESTS_PER_SEC: u32 = 20;

/// How credentials are presented (`auth = { type = "…", … }`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// 3DPassport CAS login with a user's name and password.
    Cas {
        /// 3DEXPERIENCE user name.
        username: String,
        /// Where the password is read from.
        password: SecretRef,
    },
    /// The cloud batch-service ticket (`DS-Service-Name` / `DS-Service-Secret`) on behalf of a user.
    BatchService {
        /// Batch service name.
        service_name: String,
        /// Where the service secret is read from.
        service_secret: SecretRef,
        /// The user the service acts for (`identifier`).
        username: String,
    },
    /// Agent credentials sent as HTTP Basic on every 3DSpace call (no passport).
    Agent {
        /// Agent id.
        username: String,
        /// Where the agent secret is read from.
        password: SecretRef,
    },
}

/// What retiring a link does besides writing its status attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetireMode {
    /// Only the status attribute changes; the document stays under the item.
    #[default]
    Status,
    /// Also removes the parent relation (the document itself stays).
    Detach,
}

/// Configuration of one 3DEXPERIENCE system.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreedxConfig {
    /// 3DPassport root, e.g. `https://host/3dpassport` (needed by `cas` and `batch_service`).
    #[serde(default)]
    pub passport_url: Option<String>,
    /// 3DSpace root, e.g. `https://host/3dspace`.
    pub space_url: String,
    /// Credentials.
    pub auth: AuthConfig,
    /// `SecurityContext` header value, e.g. `ctx::VPLMProjectLeader.Company Name.Common Space`.
    pub security_context: String,
    /// Cloud tenant id, sent as `tenant=` on every 3DSpace call.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Relation between the item and its link documents.
    #[serde(default = "default_parent_rel_name")]
    pub parent_rel_name: String,
    /// `$searchStr` that finds every part to sync.
    #[serde(default = "default_search_string")]
    pub search_string: String,
    /// Search predicate for "modified since", with `{since}` where the UTC time goes
    /// (`2026-11-20T09:30:00Z`), AND-ed to `search_string` and `link_search`. Default: the 3D
    /// search index's own syntax, `[ds6w:modified]>="{since}"`. Empty: no predicate, the
    /// connector scans every result on each pull.
    #[serde(default = "default_modified_predicate")]
    pub modified_predicate: Option<String>,
    /// `searchStr` that finds partreel's link documents.
    #[serde(default = "default_link_search")]
    pub link_search: String,
    /// Document attribute holding the link id (must exist on the document type).
    #[serde(default = "default_link_id_attribute")]
    pub link_id_attribute: String,
    /// The customer extension of `Document` whose attributes hold the link id and the mapped
    /// fields: each created document is given it (`dataelements.extensions`, as ws3dx's
    /// `DocumentData` carries a document's extensions), so its attributes can be written. Unset:
    /// the attributes are the document type's own (added to the type, a specialisation's, or an
    /// extension the platform applies to every document by itself).
    #[serde(default)]
    pub link_extension: Option<String>,
    /// Document attribute holding the link status (read by `retire = "detach"`).
    #[serde(default = "default_link_status_attribute")]
    pub link_status_attribute: String,
    /// What retiring a link does.
    #[serde(default)]
    pub retire: RetireMode,
    /// `$top` of each search request, 1 to 1000.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Age after which the `ENO_CSRF_TOKEN` is fetched again before the next write, in seconds
    /// (ws3dx uses a token for 55 minutes); a token refused earlier is renewed at once.
    #[serde(default = "default_csrf_max_age_secs")]
    pub csrf_max_age_secs: u64,
    /// HTTP settings; the rate limit defaults to 20 requests/s with bursts of 20.
    #[serde(default)]
    pub http: HttpConfig,
}

fn default_parent_rel_name() -> String {
    DEFAULT_PARENT_REL_NAME.into()
}
fn default_search_string() -> String {
    DEFAULT_SEARCH_STRING.into()
}
fn default_csrf_max_age_secs() -> u64 {
    DEFAULT_CSRF_MAX_AGE_SECS
}
fn default_modified_predicate() -> Option<String> {
    Some(DEFAULT_MODIFIED_PREDICATE.into())
}
fn default_link_search() -> String {
    DEFAULT_LINK_SEARCH.into()
}
fn default_link_id_attribute() -> String {
    DEFAULT_LINK_ID_ATTRIBUTE.into()
}
fn default_link_status_attribute() -> String {
    DEFAULT_LINK_STATUS_ATTRIBUTE.into()
}
fn default_page_size() -> u32 {
    DEFAULT_PAGE_SIZE
}

/// The client rate limit when the configuration sets none (20 requests/s, bursts of 20).
pub fn default_rate_limit() -> RateLimitConfig {
    RateLimitConfig {
        requests: DEFAULT_REQUESTS_PER_SEC,
        per_secs: 1,
        burst: Some(DEFAULT_REQUESTS_PER_SEC),
    }
}

/// What the application gives [`build`](ValidatedThreedx::build): the shared
/// context of every PLM connector.
pub use partreel_connector::connector::PlmBuildContext as BuildContext;

/// A configuration that passed [`ThreedxConfig::validate`]; the factory of the client.
#[derive(Debug, Clone)]
pub struct ValidatedThreedx {
    config: ThreedxConfig,
    passport: Option<Url>,
    space: Url,
}

impl ThreedxConfig {
    /// Checks the configuration without I/O (no secret is read). Every problem is listed, each
    /// starting with its key.
    pub fn validate(&self) -> Result<ValidatedThreedx, Vec<String>> {
        let mut errors = Vec::new();
        let space = parse_root(&self.space_url).map_err(|e| errors.push(format!("space_url: {e}")));
        let needs_passport = !matches!(self.auth, AuthConfig::Agent { .. });
        let passport = match (&self.passport_url, needs_passport) {
            (Some(p), _) => parse_root(p)
                .map(Some)
                .map_err(|e| errors.push(format!("passport_url: {e}"))),
            (None, true) => {
                errors.push("passport_url: required by auth types cas and batch_service".into());
                Err(())
            }
            (None, false) => Ok(None),
        };
        match &self.auth {
            AuthConfig::Cas { username, password } | AuthConfig::Agent { username, password } => {
                blank(&mut errors, "auth.username", username);
                secret_ref(&mut errors, "auth.password", password);
            }
            AuthConfig::BatchService {
                service_name,
                service_secret,
                username,
            } => {
                blank(&mut errors, "auth.service_name", service_name);
                blank(&mut errors, "auth.username", username);
                secret_ref(&mut errors, "auth.service_secret", service_secret);
            }
        }
        blank(&mut errors, "security_context", &self.security_context);
        if self.tenant.as_deref().is_some_and(|t| t.trim().is_empty()) {
            errors.push("tenant: must not be blank (leave it out instead)".into());
        }
        for (key, v) in [
            ("parent_rel_name", &self.parent_rel_name),
            ("search_string", &self.search_string),
            ("link_search", &self.link_search),
            ("link_id_attribute", &self.link_id_attribute),
            ("link_status_attribute", &self.link_status_attribute),
        ] {
            blank(&mut errors, key, v);
        }
        if let Some(x) = &self.link_extension
            && (x.is_empty() || !x.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            errors.push(format!(
                "link_extension: {x:?} is not an extension name (letters, digits, _), e.g. \
                 PromptToPartLinkExt"
            ));
        }
        if let Some(p) = &self.modified_predicate
            && !p.trim().is_empty()
            && !p.contains("{since}")
        {
            errors.push(format!(
                "modified_predicate: must contain {{since}}, e.g. {DEFAULT_MODIFIED_PREDICATE} \
                 (or \"\" for none)"
            ));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            errors.push(format!("page_size: must be between 1 and {MAX_PAGE_SIZE}"));
        }
        errors.extend(self.http.validate());
        match (space, passport) {
            (Ok(space), Ok(passport)) if errors.is_empty() => Ok(ValidatedThreedx {
                config: self.clone(),
                passport,
                space,
            }),
            _ => Err(errors),
        }
    }
}

fn blank(errors: &mut Vec<String>, key: &str, v: &str) {
    if v.trim().is_empty() {
        errors.push(format!("{key}: must not be empty"));
    }
}

fn secret_ref(errors: &mut Vec<String>, key: &str, r: &SecretRef) {
    match r {
        SecretRef::Env(var) if var.trim().is_empty() => {
            errors.push(format!("{key}: env must name a variable"))
        }
        SecretRef::File(path) if path.as_os_str().is_empty() => {
            errors.push(format!("{key}: file must name a path"))
        }
        _ => {}
    }
}

fn parse_root(s: &str) -> Result<Url, String> {
    const BAD: &str = "not an absolute http(s) URL";
    let mut url = Url::parse(s.trim()).map_err(|e| format!("{BAD} ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(BAD.into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry a query or fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (use auth)".into());
    }
    // No trailing slash: request URLs are built by appending segments.
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
    }
    Ok(url)
}

impl ValidatedThreedx {
    /// The checked configuration.
    pub fn config(&self) -> &ThreedxConfig {
        &self.config
    }

    /// Reads the secret and builds the client. No request is sent yet.
    pub fn build(self, ctx: BuildContext) -> Result<ThreedxClient, ConnectorError> {
        let system = ctx.system;
        let read = |key: &str, r: &SecretRef| {
            r.resolve(key, &ctx.config_dir)
                .map_err(|e| ConnectorError::Config(format!("{system}: {e}")))
        };
        let credentials = match &self.config.auth {
            AuthConfig::Cas { username, password } => Credentials::Cas {
                username: username.clone(),
                password: read("auth.password", password)?,
            },
            AuthConfig::BatchService {
                service_name,
                service_secret,
                username,
            } => Credentials::BatchService {
                service_name: service_name.clone(),
                service_secret: read("auth.service_secret", service_secret)?,
                username: username.clone(),
            },
            AuthConfig::Agent { username, password } => Credentials::Agent {
                username: username.clone(),
                password: read("auth.password", password)?,
            },
        };
        let http = HttpClient::new(&system, &self.config.http, &default_rate_limit())?;
        let c = self.config;
        let session = ThreedxSession::new(
            credentials,
            self.passport,
            self.space.clone(),
            c.security_context.trim().to_string(),
            c.tenant.clone(),
            std::time::Duration::from_secs(c.csrf_max_age_secs),
        );
        Ok(ThreedxClient::new(ClientParts {
            system,
            http,
            session,
            space: self.space,
            tenant: c.tenant,
            parent_rel_name: c.parent_rel_name,
            search_string: c.search_string,
            modified_predicate: c.modified_predicate.filter(|p| !p.trim().is_empty()),
            link_search: c.link_search,
            link_id_attribute: c.link_id_attribute,
            link_status_attribute: c.link_status_attribute,
            link_extension: c.link_extension,
            retire: c.retire,
            page_size: c.page_size,
            part_properties: ctx.part_properties,
            link_properties: ctx.link_properties,
        }))
    }
}
