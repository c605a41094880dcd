//! The `teamcenter` connector's configuration: parsed and checked without any I/O
//! ([`TeamcenterConfig::validate`]), then turned into a client once the password is read
//! ([`ValidatedTeamcenter::build`]).

use partreel_connector::error::ConnectorError;
use partreel_connector::http::{HttpClient, HttpConfig, RateLimitConfig, SecretRef};
use serde::Deserialize;
use url::Url;

use crate::auth::{Credentials, TeamcenterSession};
use crate::client::{ClientParts, TeamcenterClient};

/// Default client-side rate limit, requests per second (and burst). Teamcenter publishes no
/// limit; the web tier hands each call to a pooled tcserver, and partreel's calls are batches,
/// so a low rate keeps a sync from crowding out interactive users.
pub const DEFAULT_REQUESTS_PER_SEC: u32 = 10;
/// Default revisions (or records) per change-feed page.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// Largest change-feed page.
pub const MAX_PAGE_SIZE: u32 = 5_000;
/// Default records per write call (createRelateAndSubmitObjects2, createRelations, setProperties).
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Largest records per write call.
pub const MAX_BATCH_SIZE: usize = 1_000;
/// Default UIDs per `loadObjects` call.
pub const DEFAULT_LOAD_CHUNK: usize = 500;

/// Configuration of one Teamcenter system. Every name below is a Teamcenter internal name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamcenterConfig {
    /// Web tier root, e.g. `https://plm.example.com/tc` (calls go to
    /// `{base_url}/JsonRestServices/…`).
    pub base_url: String,
    /// Teamcenter user partreel logs in as.
    pub username: String,
    /// Where that user's password is read from (`{ env = "…" }` or `{ file = "…" }`).
    pub password: SecretRef,
    /// Group to log in with (empty: the user's default group).
    #[serde(default)]
    pub group: String,
    /// Role to log in with (empty: the user's default role).
    #[serde(default)]
    pub role: String,
    /// Session locale.
    #[serde(default = "default_locale")]
    pub locale: String,
    /// Session discriminator (sent as the login's `descrimator` field).
    #[serde(default = "default_discriminator")]
    pub discriminator: String,
    /// Business object type of part revisions.
    #[serde(default = "default_part_type")]
    pub part_type: String,
    /// Business object type of the record partreel creates per link (a Form subtype by default).
    #[serde(default = "default_record_type")]
    pub record_type: String,
    /// GRM relation type tying a record (secondary) to its item revision (primary).
    #[serde(default = "default_relation_type")]
    pub relation_type: String,
    /// Record property holding the link id (string, writable).
    #[serde(default = "default_link_id_property")]
    pub link_id_property: String,
    /// Record property holding the link status (`active`, `retired`, …).
    #[serde(default = "default_link_status_property")]
    pub link_status_property: String,
    /// Property the change feeds filter and sort on.
    #[serde(default = "default_modified_property")]
    pub modified_property: String,
    /// The business object query operation of the change feeds and link look-ups.
    #[serde(default = "default_query_operation")]
    pub query_operation: String,
    /// Part revision property with the release statuses (its display values are the state).
    #[serde(default = "default_part_status_property")]
    pub part_status_property: String,
    /// Lifecycle state reported for a revision without a release status.
    #[serde(default = "default_unreleased_state")]
    pub unreleased_state: String,
    /// How a retired link is retired: `status` (write the status property) or
    /// `delete_relation` (also delete the GRM relation; the record stays).
    #[serde(default)]
    pub retire: Retire,
    /// Prefix of created record names (`<prefix>-<start of the prompt>`).
    #[serde(default = "default_record_name_prefix")]
    pub record_name_prefix: String,
    /// Revisions or records per change-feed page, 1 to 5000.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Records per write call, 1 to 1000.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// UIDs per `loadObjects` call, 1 to 5000.
    #[serde(default = "default_load_chunk")]
    pub load_chunk: usize,
    /// HTTP settings; the rate limit defaults to 10 requests/s with bursts of 10.
    #[serde(default)]
    pub http: HttpConfig,
}

/// How a link is retired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retire {
    /// Write the status property only.
    #[default]
    Status,
    /// Write the status property and delete the GRM relation.
    DeleteRelation,
}

fn default_locale() -> String {
    "en_US".into()
}
fn default_discriminator() -> String {
    "partreel".into()
}
fn default_part_type() -> String {
    "ItemRevision".into()
}
fn default_record_type() -> String {
    "PromptToPartForm".into()
}
fn default_relation_type() -> String {
    "PromptToPart".into()
}
fn default_link_id_property() -> String {
    "ptp_link_id".into()
}
fn default_link_status_property() -> String {
    "ptp_status".into()
}
/// The creation time every Teamcenter business object has (POM_application_object).
pub(crate) const CREATION_DATE: &str = "creation_date";

fn default_modified_property() -> String {
    "last_mod_date".into()
}
fn default_query_operation() -> String {
    "Query-2019-06-SavedQuery/executeBOQueriesWithSort".into()
}
fn default_part_status_property() -> String {
    "release_status_list".into()
}
fn default_unreleased_state() -> String {
    "In Work".into()
}
fn default_record_name_prefix() -> String {
    "VX".into()
}
fn default_page_size() -> u32 {
    DEFAULT_PAGE_SIZE
}
fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}
fn default_load_chunk() -> usize {
    DEFAULT_LOAD_CHUNK
}

/// The client rate limit when the configuration sets none: 10 requests/s, bursts of 10.
pub fn default_rate_limit() -> RateLimitConfig {
    RateLimitConfig {
        requests: DEFAULT_REQUESTS_PER_SEC,
        per_secs: 1,
        burst: Some(DEFAULT_REQUESTS_PER_SEC),
    }
}

/// What the application gives [`build`](ValidatedTeamcenter::build): the shared
/// context of every PLM connector.
pub use partreel_connector::connector::PlmBuildContext as BuildContext;

/// A configuration that passed [`TeamcenterConfig::validate`]; the factory of the client.
#[derive(Debug, Clone)]
pub struct ValidatedTeamcenter {
    config: TeamcenterConfig,
    base: Url,
}

/// True for a Teamcenter internal name (letters, digits, `_`; not starting with a digit).
pub(crate) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True for `Library-YYYY-MM-Service/operation` (docs/wire/teamcenter.md, Transport).
pub(crate) fn is_operation(s: &str) -> bool {
    let Some((service, op)) = s.split_once('/') else {
        return false;
    };
    let parts: Vec<&str> = service.split('-').collect();
    parts.len() >= 4
        && parts
            .iter()
            .all(|p| is_name(p) || p.chars().all(|c| c.is_ascii_digit()))
        && parts[parts.len() - 3].len() == 4
        && parts[parts.len() - 2].len() == 2
        && is_name(op)
}

impl TeamcenterConfig {
    /// Checks the configuration without I/O (no secret is read). Every problem is listed, each
    /// starting with its key.
    pub fn validate(&self) -> Result<ValidatedTeamcenter, Vec<String>> {
        let mut errors = Vec::new();
        let base =
            parse_base_url(&self.base_url).map_err(|e| errors.push(format!("base_url: {e}")));
        if self.username.trim().is_empty() {
            errors.push("username: must not be empty".into());
        }
        match &self.password {
            SecretRef::Env(var) if var.trim().is_empty() => {
                errors.push("password: env must name a variable".into())
            }
            SecretRef::File(path) if path.as_os_str().is_empty() => {
                errors.push("password: file must name a path".into())
            }
            _ => {}
        }
        for (key, value) in [
            ("part_type", &self.part_type),
            ("record_type", &self.record_type),
            ("relation_type", &self.relation_type),
            ("link_id_property", &self.link_id_property),
            ("link_status_property", &self.link_status_property),
            ("modified_property", &self.modified_property),
            ("part_status_property", &self.part_status_property),
        ] {
            if !is_name(value) {
                errors.push(format!(
                    "{key}: {value:?} is not a Teamcenter internal name (letters, digits, _)"
                ));
            }
        }
        if self.link_id_property == self.link_status_property {
            errors.push("link_status_property: must differ from link_id_property".into());
        }
        if !is_operation(&self.query_operation) {
            errors.push(format!(
                "query_operation: {:?} is not Library-YYYY-MM-Service/operation",
                self.query_operation
            ));
        }
        if self.locale.trim().is_empty() {
            errors.push("locale: must not be empty".into());
        }
        if self.record_name_prefix.trim().is_empty() {
            errors.push("record_name_prefix: must not be empty".into());
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            errors.push(format!("page_size: must be between 1 and {MAX_PAGE_SIZE}"));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            errors.push(format!(
                "batch_size: must be between 1 and {MAX_BATCH_SIZE}"
            ));
        }
        if !(1..=MAX_PAGE_SIZE as usize).contains(&self.load_chunk) {
            errors.push(format!("load_chunk: must be between 1 and {MAX_PAGE_SIZE}"));
        }
        errors.extend(self.http.validate());
        match base {
            Ok(base) if errors.is_empty() => Ok(ValidatedTeamcenter {
                config: self.clone(),
                base,
            }),
            _ => Err(errors),
        }
    }
}

fn parse_base_url(s: &str) -> Result<Url, String> {
    const BAD: &str = "not an absolute http(s) URL";
    let mut url = Url::parse(s.trim()).map_err(|e| format!("{BAD} ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(BAD.into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry a query or fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (use username and password)".into());
    }
    if url.path().contains("JsonRestServices") {
        return Err("give the web tier root (…/tc), without /JsonRestServices".into());
    }
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
    }
    Ok(url)
}

impl ValidatedTeamcenter {
    /// The checked configuration.
    pub fn config(&self) -> &TeamcenterConfig {
        &self.config
    }

    /// Reads the password and builds the client. No request is sent yet (the first call logs
    /// in).
    pub fn build(self, ctx: BuildContext) -> Result<TeamcenterClient, ConnectorError> {
        let system = ctx.system;
        let password = self
            .config
            .password
            .resolve("password", &ctx.config_dir)
            .map_err(|e| ConnectorError::Config(format!("{system}: {e}")))?;
        let bad: Vec<&String> = ctx
            .part_properties
            .iter()
            .chain(&ctx.link_properties)
            .filter(|p| !is_name(p))
            .collect();
        if !bad.is_empty() {
            return Err(ConnectorError::Config(format!(
                "{system}: not Teamcenter property names: {bad:?}"
            )));
        }
        let c = self.config;
        let http = HttpClient::new(&system, &c.http, &default_rate_limit())?;
        let session = TeamcenterSession::new(
            &self.base,
            Credentials {
                user: c.username.clone(),
                password,
                group: c.group.clone(),
                role: c.role.clone(),
                locale: c.locale.clone(),
                discriminator: c.discriminator.clone(),
            },
        );
        let part_props = prop_list(
            &[
                "item_id",
                "item_revision_id",
                "object_name",
                &c.modified_property,
                &c.part_status_property,
            ],
            &ctx.part_properties,
        );
        let link_props = prop_list(
            &[
                &c.modified_property,
                // Creation time: of several records carrying one link id, the oldest is kept.
                CREATION_DATE,
                &c.link_id_property,
                &c.link_status_property,
            ],
            &ctx.link_properties,
        );
        Ok(TeamcenterClient::new(ClientParts {
            system,
            http,
            session,
            base: self.base,
            part_props,
            link_props,
            config: c,
        }))
    }
}

/// Built-in properties first, then the mapping's, each once.
fn prop_list(builtin: &[&str], mapped: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in builtin
        .iter()
        .map(|s| s.to_string())
        .chain(mapped.iter().cloned())
    {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}
