//! Siren asset entity / QueryBuilder hit → [`VideoExperiment`]. Pure functions: an asset that
//! cannot be read becomes a [`Rejected`] naming the field, and the rest of its page goes on.
//!
//! Both shapes carry the same facts (docs/wire/aem.md "Asset record"):
//! - id: the asset's repository path (`/content/dam/…/clip.mp4`);
//! - title: `dc:title`, else the file name;
//! - modified: `jcr:lastModified` (ISO 8601 in Siren, the ECMA date format Sling's JSON writer
//!   uses in QueryBuilder hits: `Wed Nov 25 2026 10:00:00 GMT+0000`); a hit without it falls
//!   back to the node's `jcr:created`, an entity without it is read as a hit (see the client);
//! - version: `dam:sha1` of the original binary, when the metadata has it;
//! - archived: the configured `archive_property` reads `true`;
//! - fields: every metadata property by its full name (`acme:sku`), lists joined with `,`.

use chrono::{DateTime, NaiveDateTime, Utc};
use partreel_connector::connector::Rejected;
use partreel_connector::model::{RemoteFields, VideoExperiment};
use serde_json::{Map, Value};
use url::Url;

use crate::wire::{
    HIT_CONTENT, HIT_PATH, ORIGINAL_RENDITION, PROP_CREATED, PROP_LAST_MODIFIED, PROP_METADATA,
    PROP_NAME, PROP_SHA1, PROP_TITLE, SirenEntity,
};

/// Separator of several values of a multi-valued property, on read and write.
pub const VALUE_SEPARATOR: char = ',';

/// What converting needs besides the record.
#[derive(Debug, Clone)]
pub struct Convert {
    /// Configured system name.
    pub system: String,
    /// The instance URL (relative links resolve against it).
    pub base: Url,
    /// Metadata property meaning "archived" when `true`.
    pub archive_property: Option<String>,
}

impl Convert {
    /// True when a Siren asset entity carries `jcr:lastModified` (in its properties or its
    /// metadata) — Adobe's documentation does not promise it.
    pub fn has_modified(entity: &SirenEntity) -> bool {
        let present = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
        present(entity.properties.get(PROP_LAST_MODIFIED))
            || entity
                .properties
                .get(PROP_METADATA)
                .and_then(Value::as_object)
                .is_some_and(|m| present(m.get(PROP_LAST_MODIFIED)))
    }

    /// Reads a Siren asset entity (`GET /api/assets/{path}.json`) whose path is `path`.
    pub fn entity(&self, path: &str, entity: &SirenEntity) -> Result<VideoExperiment, Rejected> {
        let reject = |reason: String| Rejected {
            id: Some(path.to_string()),
            reason,
        };
        let empty = Map::new();
        let metadata = match entity.properties.get(PROP_METADATA) {
            Some(Value::Object(m)) => m,
            None | Some(Value::Null) => &empty,
            Some(_) => return Err(reject(format!("property {PROP_METADATA} is not an object"))),
        };
        let modified = entity
            .properties
            .get(PROP_LAST_MODIFIED)
            .or_else(|| metadata.get(PROP_LAST_MODIFIED));
        let modified = read_time(modified, PROP_LAST_MODIFIED).map_err(reject)?;
        let title = text(entity.properties.get(PROP_TITLE))
            .or_else(|| text(metadata.get(PROP_TITLE)))
            .or_else(|| text(entity.properties.get(PROP_NAME)))
            .unwrap_or_else(|| file_name(path).to_string());
        // The same URL as a feed hit gives (the original rendition), whatever the Siren
        // `content` link says: a clip read back after a write must compare equal to the same
        // clip read from the feed, or partreel's own write would look like a change.
        let rendition_url = self.original(path);
        Ok(self.experiment(path, title, modified, metadata, rendition_url))
    }

    /// Reads a QueryBuilder hit rendered with `p.hits=full&p.nodedepth=2`.
    pub fn hit(&self, hit: &Value) -> Result<VideoExperiment, Rejected> {
        let path = hit
            .get(HIT_PATH)
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty());
        let reject = |reason: String| Rejected {
            id: path.map(str::to_string),
            reason,
        };
        let Some(obj) = hit.as_object() else {
            return Err(reject("hit is not a JSON object".into()));
        };
        let Some(path) = path else {
            return Err(reject(format!("{HIT_PATH} is missing or not a string")));
        };
        let Some(content) = obj.get(HIT_CONTENT).and_then(Value::as_object) else {
            return Err(reject(format!("{HIT_CONTENT} is missing or not an object")));
        };
        let empty = Map::new();
        let metadata = match content.get(PROP_METADATA) {
            Some(Value::Object(m)) => m,
            None | Some(Value::Null) => &empty,
            Some(_) => {
                return Err(reject(format!(
                    "{HIT_CONTENT}/{PROP_METADATA} is not an object"
                )));
            }
        };
        // An asset never modified since it was created may lack `jcr:content/jcr:lastModified`
        // [INF]: its creation time stands in.
        let modified = match content.get(PROP_LAST_MODIFIED) {
            None | Some(Value::Null) if obj.get(PROP_CREATED).is_some_and(|v| !v.is_null()) => {
                read_time(obj.get(PROP_CREATED), PROP_CREATED)
            }
            v => read_time(v, "jcr:content/jcr:lastModified"),
        }
        .map_err(reject)?;
        let title = text(metadata.get(PROP_TITLE))
            .or_else(|| text(content.get("jcr:title")))
            .unwrap_or_else(|| file_name(path).to_string());
        let rendition_url = self.original(path);
        Ok(self.experiment(path, title, modified, metadata, rendition_url))
    }

    fn experiment(
        &self,
        path: &str,
        title: String,
        modified: DateTime<Utc>,
        metadata: &Map<String, Value>,
        rendition_url: Option<String>,
    ) -> VideoExperiment {
        let fields = metadata_fields(metadata);
        let archived = self
            .archive_property
            .as_ref()
            .and_then(|p| fields.get(p))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        VideoExperiment {
            system: self.system.clone(),
            asset_id: path.to_string(),
            title,
            modified,
            version: fields.get(PROP_SHA1).filter(|v| !v.is_empty()).cloned(),
            archived,
            rendition_url,
            fields,
        }
    }

    /// `{base}{path}/jcr:content/renditions/original`.
    pub fn original(&self, path: &str) -> Option<String> {
        self.base
            .join(&format!("{path}/{ORIGINAL_RENDITION}"))
            .ok()
            .map(String::from)
    }
}

/// Metadata properties as text, by full name. Node bookkeeping (`jcr:*`) and child nodes
/// (objects) are left out; null is "unset".
pub fn metadata_fields(metadata: &Map<String, Value>) -> RemoteFields {
    metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("jcr:"))
        .filter_map(|(k, v)| value_text(v).map(|t| (k.clone(), t)))
        .collect()
}

/// A property value as text: lists joined with `,`, numbers and booleans printed.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Object(_) => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(value_text)
                .collect::<Vec<_>>()
                .join(&VALUE_SEPARATOR.to_string()),
        ),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn read_time(v: Option<&Value>, key: &str) -> Result<DateTime<Utc>, String> {
    match v {
        Some(Value::String(s)) => {
            parse_time(s).ok_or_else(|| format!("{key} is not a date: {s:?}"))
        }
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| format!("{key} is not a date: {n}")),
        _ => Err(format!("{key} is missing")),
    }
}

/// The last path segment.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// ISO 8601 with an offset (`2026-11-25T10:00:00.000Z`, `…+0100`), or the ECMA format of
/// Sling's JSON writer (`Wed Nov 25 2026 10:00:00 GMT+0000`); a time without offset is UTC [INF].
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%a %b %d %Y %H:%M:%S GMT%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// A `daterange.lowerBound`: ISO 8601 with milliseconds and `Z` (`YYYY-MM-DDTHH:mm:ss.SSSZ`).
pub fn format_bound(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
