//! The JSON Bynder's API v4 speaks, as docs/wire/bynder.md describes it: media keys,
//! metaproperty definitions, the download answer and the `{"message","statuscode"}` envelope.
//!
//! Media are kept as `serde_json::Value` and read key by key in [`crate::convert`], so one odd
//! media is rejected on its own instead of failing its whole page.

use serde::Deserialize;

/// Media id (docs/wire/bynder.md "Media JSON").
pub const KEY_ID: &str = "id";
/// Media name, the clip title.
pub const KEY_NAME: &str = "name";
/// Last modification, ISO 8601 with `Z`.
pub const KEY_DATE_MODIFIED: &str = "dateModified";
/// Version number.
pub const KEY_VERSION: &str = "version";
/// `1` when archived.
pub const KEY_ARCHIVE: &str = "archive";
/// Preview transcodes, the first is used as the playable rendition.
pub const KEY_VIDEO_PREVIEW_URLS: &str = "videoPreviewURLs";
/// Prefix of metaproperty values: `property_<MetapropertyName>`.
pub const PROPERTY_PREFIX: &str = "property_";

/// One metaproperty definition from `GET /api/v4/metaproperties/` (a JSON object keyed by
/// metaproperty name; docs/wire/bynder.md "Metaproperties").
#[derive(Debug, Clone, Deserialize)]
pub struct MetapropertyDef {
    /// Metaproperty id, used in `metaproperty.<id>` form fields.
    pub id: String,
    /// Name, as in `property_<name>` (the object key when absent).
    #[serde(default)]
    pub name: Option<String>,
    /// Type: `select`, `multiselect`, `text`, `longtext`, `date`, `number`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// `1` when several options may be chosen.
    #[serde(rename = "isMultiselect", default)]
    pub is_multiselect: Option<serde_json::Value>,
    /// Options of a select type.
    #[serde(default)]
    pub options: Vec<OptionDef>,
}

/// One option of a select metaproperty.
#[derive(Debug, Clone, Deserialize)]
pub struct OptionDef {
    /// Option id, written as the value of a select metaproperty.
    pub id: String,
    /// Option name, as read back in `property_<name>` arrays.
    pub name: String,
}

/// Body of `POST /api/v4/metaproperties/{id}/options/`: form field `data` holding this as
/// JSON (docs/wire/bynder.md "Metaproperties"; bynder-js-sdk `saveNewMetaPropertyOption` sends
/// `{ data: JSON.stringify(params) }`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewOption<'a> {
    /// Option name.
    pub name: &'a str,
    /// Display label (partreel uses the name).
    pub label: &'a str,
}

/// Answer of `GET /api/v4/media/{id}/download/` (docs/wire/bynder.md "Original file", [INF] key).
#[derive(Debug, Clone, Deserialize)]
pub struct DownloadUrl {
    /// Signed URL of the original file.
    #[serde(default)]
    pub s3_file: Option<String>,
}

/// Bynder v4's status envelope: errors (`400/401/403/404`) and the `202` of a metadata write.
/// `statuscode` comes as a number or a string (research §A.2 "Errors").
#[derive(Debug, Clone, Deserialize)]
pub struct StatusMessage {
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// The status code repeated in the body.
    #[serde(default)]
    pub statuscode: Option<serde_json::Value>,
}

/// Metaproperty types whose values are option ids on write and option names on read. Bynder
/// also has `select2` and `autocomplete` select variants [INF].
pub fn is_option_type(kind: &str) -> bool {
    matches!(
        kind.to_ascii_lowercase().as_str(),
        "select" | "multiselect" | "select2" | "autocomplete"
    )
}
