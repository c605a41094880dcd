//! The `windchill` connector's configuration: parsed and checked without any I/O
//! ([`WindchillConfig::validate`]), then turned into a client once secrets are read
//! ([`ValidatedWindchill::build`]).

use partreel_connector::error::ConnectorError;
use partreel_connector::http::{HttpClient, HttpConfig, RateLimitConfig, SecretRef};
use serde::Deserialize;
use url::Url;

use crate::auth::WindchillSession;
use crate::client::{ClientParts, WindchillClient};
use crate::odata;

/// Default IBA holding the link id on a document.
pub const DEFAULT_LINK_ID_PROPERTY: &str = "PartreelLinkId";
/// Default `batch_size`: 100 links per pair of `$batch` requests (2 requests per 100 links).
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Largest `batch_size`.
pub const MAX_BATCH_SIZE: usize = 500;
/// Default `Prefer: odata.maxpagesize` (the WRS default cap, per the Prefer header page).
pub const DEFAULT_PAGE_SIZE: u32 = 2000;
/// Largest page size WRS can be configured to serve (`maxPageSize` hard cap).
pub const MAX_PAGE_SIZE: u32 = 100_000;
/// Default prefix of the names of the documents partreel creates.
pub const DEFAULT_DOCUMENT_NAME_PREFIX: &str = "VX";
/// Default client-side rate limit, requests per second (and burst): WRS publishes no limit, so
/// stay well below what one Windchill method server handles.
pub const DEFAULT_REQUESTS_PER_SEC: u32 = 20;

/// Properties the connector itself reads from every part.
pub(crate) const PART_BUILTIN: &[&str] =
    &["ID", "Number", "Name", "Revision", "State", "LastModified"];
/// Properties the connector itself reads from every document (plus the link id property).
pub(crate) const LINK_BUILTIN: &[&str] = &["ID", "LastModified", "CreatedOn"];

/// Configuration of one Windchill system.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindchillConfig {
    /// WRS root, e.g. `https://plm.example.com/Windchill/servlet/odata` (no domain, no query).
    pub base_url: String,
    /// Windchill user the connector signs in as (HTTP Basic).
    pub username: String,
    /// Where that user's password is read from (`{ env = "…" }` or `{ file = "…" }`).
    pub password: SecretRef,
    /// OID of the container (product or library) link documents are created in, e.g.
    /// `OR:wt.pdmlink.PDMLinkProduct:48507000` — the OID only, not `Containers('…')`.
    pub container: String,
    /// Document IBA that holds the link id (must exist on the document type).
    #[serde(default = "default_link_id_property")]
    pub link_id_property: String,
    /// The soft type of WTDocument whose IBAs hold the link id and the mapped fields, as WRS
    /// names its entity type in `DocMgmt/$metadata` (e.g. `PromptToPartLink` for the Windchill
    /// type `com.acme.promptToPartLink`; `PTC.DocMgmt.PromptToPartLink` is accepted too). Link
    /// documents are then created as that type (`@odata.type`) and read through its type cast
    /// (`Documents/PTC.DocMgmt.PromptToPartLink`), where its IBAs can be filtered and selected.
    /// Unset: the IBAs are WTDocument's own.
    #[serde(default)]
    pub document_type: Option<String>,
    /// Records asked for per page (`Prefer: odata.maxpagesize`), 1 to 100000.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Prefix of created document names (`<prefix>-<start of the prompt>`).
    #[serde(default = "default_document_name_prefix")]
    pub document_name_prefix: String,
    /// Behind a reverse proxy Windchill may build `@odata.nextLink` from its own host name
    /// (`http://windchill-app:8080/Windchill/servlet/odata/…`). With `true`, a next link on
    /// another origin whose path lies under `base_url`'s path is followed on `base_url`'s own
    /// scheme, host and port (credentials never go to the other host); by default it is refused.
    #[serde(default)]
    pub rebase_next_link: bool,
    /// Link documents created per `$batch` round trip (WCCG_RESTAPIsBatchSupport.html): the
    /// documents in one `DocMgmt/$batch`, then their describe links in one `ProdMgmt/$batch`,
    /// each write a change set of its own. 1 sends every write alone; a server that answers
    /// `$batch` with 501 (or 404/405) gets single calls for the rest of the run either way.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// HTTP settings; the rate limit defaults to 20 requests/s with bursts of 20 when
    /// `http.rate_limit` is not given.
    #[serde(default)]
    pub http: HttpConfig,
}

fn default_link_id_property() -> String {
    DEFAULT_LINK_ID_PROPERTY.to_string()
}

fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}

fn default_page_size() -> u32 {
    DEFAULT_PAGE_SIZE
}

fn default_document_name_prefix() -> String {
    DEFAULT_DOCUMENT_NAME_PREFIX.to_string()
}

/// The client rate limit when the configuration sets none: 20 requests/s, bursts of 20 (WRS
/// publishes no limit; this keeps a sync from crowding out interactive users).
pub fn default_rate_limit() -> RateLimitConfig {
    RateLimitConfig {
        requests: DEFAULT_REQUESTS_PER_SEC,
        per_secs: 1,
        burst: Some(DEFAULT_REQUESTS_PER_SEC),
    }
}

/// What the application gives [`build`](ValidatedWindchill::build): the shared
/// context of every PLM connector.
pub use partreel_connector::connector::PlmBuildContext as BuildContext;

/// A configuration that passed [`WindchillConfig::validate`]; the factory of the client.
#[derive(Debug, Clone)]
pub struct ValidatedWindchill {
    config: WindchillConfig,
    base: Url,
}

impl WindchillConfig {
    /// Checks the configuration without I/O (no secret is read). Every problem is listed, each
    /// starting with its key.
    pub fn validate(&self) -> Result<ValidatedWindchill, Vec<String>> {
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
        let container = self.container.trim();
        if container.is_empty() {
            errors.push("container: must not be empty".into());
        } else if container.starts_with("Containers(") || container.contains('\'') {
            errors.push(
                "container: give the OID only, e.g. OR:wt.pdmlink.PDMLinkProduct:48507000".into(),
            );
        }
        if !odata::is_identifier(&self.link_id_property) {
            errors.push(format!(
                "link_id_property: {:?} is not an OData property name (letters, digits, _)",
                self.link_id_property
            ));
        }
        if let Some(t) = &self.document_type
            && document_type_name(t).is_none()
        {
            errors.push(format!(
                "document_type: {t:?} is not a WRS entity type name; give the name \
                 DocMgmt/$metadata shows (a Windchill type com.acme.promptToPartLink appears \
                 as PromptToPartLink: letters and digits, the domain prefix removed)"
            ));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            errors.push(format!("page_size: must be between 1 and {MAX_PAGE_SIZE}"));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            errors.push(format!(
                "batch_size: must be between 1 and {MAX_BATCH_SIZE}"
            ));
        }
        if self.document_name_prefix.trim().is_empty() {
            errors.push("document_name_prefix: must not be empty".into());
        }
        errors.extend(self.http.validate());
        match base {
            Ok(base) if errors.is_empty() => Ok(ValidatedWindchill {
                config: self.clone(),
                base,
            }),
            _ => Err(errors),
        }
    }
}

/// The entity type name of `document_type` (without `PTC.DocMgmt.`), when it is one.
fn document_type_name(t: &str) -> Option<&str> {
    let local = t.trim().strip_prefix("PTC.DocMgmt.").unwrap_or(t.trim());
    let mut chars = local.chars();
    (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric()))
    .then_some(local)
}

fn parse_base_url(s: &str) -> Result<Url, String> {
    const BAD: &str = "not an absolute http(s) URL";
    let url = Url::parse(s.trim()).map_err(|e| format!("{BAD} ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(BAD.into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry a query or fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (use username and password)".into());
    }
    // Keep no trailing slash: request URLs are built by appending segments.
    let mut url = url;
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
    }
    Ok(url)
}

impl ValidatedWindchill {
    /// The checked configuration.
    pub fn config(&self) -> &WindchillConfig {
        &self.config
    }

    /// Reads the password and builds the client. No request is sent yet.
    pub fn build(self, ctx: BuildContext) -> Result<WindchillClient, ConnectorError> {
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
            .filter(|p| !odata::is_identifier(p))
            .collect();
        if !bad.is_empty() {
            return Err(ConnectorError::Config(format!(
                "{system}: not OData property names: {bad:?}"
            )));
        }
        let http = HttpClient::new(&system, &self.config.http, &default_rate_limit())?;
        let session = WindchillSession::new(&self.base, self.config.username.clone(), password);
        let link_prop = self.config.link_id_property.clone();
        let part_select = select_list(PART_BUILTIN, &[], &ctx.part_properties);
        let link_select = select_list(LINK_BUILTIN, &[link_prop.as_str()], &ctx.link_properties);
        Ok(WindchillClient::new(ClientParts {
            system,
            http,
            session,
            base: self.base,
            container: self.config.container.trim().to_string(),
            link_id_property: link_prop,
            page_size: self.config.page_size,
            rebase_next_link: self.config.rebase_next_link,
            name_prefix: self.config.document_name_prefix,
            part_select,
            link_select,
            doc_type: self
                .config
                .document_type
                .as_deref()
                .and_then(document_type_name)
                .map(str::to_owned),
            doc_types: Default::default(),
            batch_size: self.config.batch_size,
            batch_unsupported: Default::default(),
        }))
    }
}

/// Built-in properties first, then the mapping's, each once.
fn select_list(builtin: &[&str], more: &[&str], mapped: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in builtin
        .iter()
        .chain(more)
        .map(|s| s.to_string())
        .chain(mapped.iter().cloned())
    {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}
