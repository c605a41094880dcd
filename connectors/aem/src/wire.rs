//! The paths, query parameters and JSON AEM speaks, as docs/wire/aem.md describes them: Siren
//! entities of the Assets HTTP API, the QueryBuilder JSON servlet's answer and the metadata
//! update body.
//!
//! Siren entities and QueryBuilder hits are kept as `serde_json::Value` where records live, and
//! read key by key in [`crate::convert`], so one odd asset is rejected on its own instead of
//! failing its whole page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Repository root of the DAM; `/api/assets/x` addresses `/content/dam/x` (Experience League
/// "Content Fragments Support in AEM Assets HTTP API", "Key Concepts").
pub const DAM_PREFIX: &str = "/content/dam";
/// Root of the Assets HTTP API (Experience League "Assets HTTP API", "Overview").
pub const API_PREFIX: &str = "/api/assets";
/// Extension of Siren reads (`GET /api/assets/myFolder.json`).
pub const JSON_EXTENSION: &str = ".json";
/// The QueryBuilder JSON servlet (Experience League "Query Builder API").
pub const QUERYBUILDER_PATH: &str = "/bin/querybuilder.json";
/// Path of the original binary below an asset [INF: research §A.1.3,
/// `{asset}/jcr:content/renditions/original`].
pub const ORIGINAL_RENDITION: &str = "jcr:content/renditions/original";

/// Node type of assets, the QueryBuilder `type` predicate.
pub const ASSET_NODE_TYPE: &str = "dam:Asset";
/// The modification time partreel orders and filters by (relative to the asset node).
pub const LAST_MODIFIED_PROPERTY: &str = "jcr:content/jcr:lastModified";
/// `p.nodedepth` of a feed page: the hit, `jcr:content` and its `metadata` child.
pub const FEED_NODE_DEPTH: u32 = 2;

/// Siren property holding the title (`jcr:title` is reported as `dc:title`).
pub const PROP_TITLE: &str = "dc:title";
/// Siren property holding the node name.
pub const PROP_NAME: &str = "name";
/// Siren property of the asset's `jcr:content/metadata` properties [INF].
pub const PROP_METADATA: &str = "metadata";
/// Modification time in a Siren asset or a `jcr:content` node.
pub const PROP_LAST_MODIFIED: &str = "jcr:lastModified";
/// Creation time of a node.
pub const PROP_CREATED: &str = "jcr:created";
/// Siren paging property (`{"total","offset","limit"}`).
pub const PROP_PAGING: &str = "srn:paging";
/// Hex SHA-1 of the original binary, written by AEM into the metadata on upload [INF]; used as
/// the clip's version.
pub const PROP_SHA1: &str = "dam:sha1";
/// The hit's repository path in QueryBuilder answers.
pub const HIT_PATH: &str = "jcr:path";
/// The asset's content node in a `p.hits=full` hit.
pub const HIT_CONTENT: &str = "jcr:content";

/// Siren `class` of an asset entity.
pub const CLASS_ASSET: &str = "assets/asset";
/// Siren `class` of a folder entity.
pub const CLASS_FOLDER: &str = "assets/folder";
/// Link relation of the entity itself.
pub const REL_SELF: &str = "self";
/// Link relation of the original binary ("The binary data of an asset is exposed as a SIREN
/// link of type `content`").
pub const REL_CONTENT: &str = "content";
/// Link relation of the next page.
pub const REL_NEXT: &str = "next";

/// One value or a list: Siren gives `class` and `rel` as arrays; a single string is accepted.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// No value.
    #[default]
    None,
    /// One string.
    One(String),
    /// Several strings.
    Many(Vec<String>),
}

impl OneOrMany {
    /// True when `name` is among the values.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            OneOrMany::None => false,
            OneOrMany::One(s) => s == name,
            OneOrMany::Many(v) => v.iter().any(|s| s == name),
        }
    }
}

/// A Siren link.
#[derive(Debug, Clone, Deserialize)]
pub struct SirenLink {
    /// Relations (`self`, `parent`, `content`, `thumbnail`, `next`, `prev`).
    #[serde(default)]
    pub rel: OneOrMany,
    /// Target URL (absolute or relative to the instance).
    pub href: String,
}

/// A Siren entity: a folder (with child entities) or an asset.
#[derive(Debug, Clone, Deserialize)]
pub struct SirenEntity {
    /// `assets/folder` or `assets/asset`.
    #[serde(default)]
    pub class: OneOrMany,
    /// Properties (a subset for child entities).
    #[serde(default)]
    pub properties: serde_json::Map<String, Value>,
    /// Child entities, kept raw so one odd child does not fail the listing.
    #[serde(default)]
    pub entities: Vec<Value>,
    /// Links.
    #[serde(default)]
    pub links: Vec<SirenLink>,
}

impl SirenEntity {
    /// The first link with relation `rel`.
    pub fn link(&self, rel: &str) -> Option<&str> {
        find_link(&self.links, rel)
    }
}

/// The first of `links` with relation `rel`.
pub fn find_link<'a>(links: &'a [SirenLink], rel: &str) -> Option<&'a str> {
    links
        .iter()
        .find(|l| l.rel.contains(rel))
        .map(|l| l.href.as_str())
}

/// Siren `srn:paging` (Experience League "Content Fragments Support…", "Paging").
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct SrnPaging {
    /// Child entities in all.
    #[serde(default)]
    pub total: u64,
    /// Offset of this page.
    #[serde(default)]
    pub offset: u64,
    /// Page size asked for.
    #[serde(default)]
    pub limit: u64,
}

/// The QueryBuilder JSON servlet's answer: `{"success","results","total","more","offset","hits"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct QueryResult {
    /// False when the query failed.
    #[serde(default = "yes")]
    pub success: bool,
    /// Hits on this page.
    #[serde(default)]
    pub results: Option<u64>,
    /// Total (a guess with `p.guessTotal`).
    #[serde(default)]
    pub total: Option<u64>,
    /// True when hits follow this page.
    #[serde(default)]
    pub more: Option<bool>,
    /// `p.offset` of this page.
    #[serde(default)]
    pub offset: Option<u64>,
    /// The hits, each rendered as `p.hits` asked.
    pub hits: Vec<Value>,
}

fn yes() -> bool {
    true
}

/// Body of a metadata update: `{"class":"asset","properties":{…}}` (Experience League "Assets
/// HTTP API", "Update metadata of an asset").
#[derive(Debug, Clone, Serialize)]
pub struct AssetUpdate<'a> {
    /// Always `asset`.
    pub class: &'static str,
    /// Properties to set, by full name (`dc:title`, `acme:sku`, …).
    pub properties: BTreeMap<&'a str, &'a str>,
}

/// The Siren error body (`{"class":"core/response","properties":{"status.code","status.message",…}}`).
#[derive(Debug, Clone, Deserialize)]
pub struct CoreResponse {
    /// Its properties.
    #[serde(default)]
    pub properties: serde_json::Map<String, Value>,
}

impl CoreResponse {
    /// `status.message`, when the body is this shape.
    pub fn message(body: &[u8]) -> Option<String> {
        let r: CoreResponse = serde_json::from_slice(body).ok()?;
        r.properties
            .get("status.message")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}
