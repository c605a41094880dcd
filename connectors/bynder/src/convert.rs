//! Media JSON → [`VideoExperiment`]. Pure functions: a media that cannot be read becomes a
//! [`Rejected`] naming the field, and the rest of its page goes on.

use chrono::{DateTime, NaiveDateTime, Utc};
use partreel_connector::connector::Rejected;
use partreel_connector::model::{RemoteFields, VideoExperiment};
use serde_json::Value;

use crate::wire::{
    KEY_ARCHIVE, KEY_DATE_MODIFIED, KEY_ID, KEY_NAME, KEY_VERSION, KEY_VIDEO_PREVIEW_URLS,
    PROPERTY_PREFIX,
};

/// Separator of several option names in one field value (read and write).
pub const OPTION_SEPARATOR: char = ',';

/// Reads one media of `GET /api/v4/media/` or `GET /api/v4/media/{id}/`.
pub fn media_to_experiment(system: &str, media: &Value) -> Result<VideoExperiment, Rejected> {
    let id = media
        .get(KEY_ID)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let reject = |reason: String| Rejected {
        id: id.map(str::to_string),
        reason,
    };
    let Some(obj) = media.as_object() else {
        return Err(reject("media is not a JSON object".into()));
    };
    let Some(id) = id else {
        return Err(reject(format!("field {KEY_ID} is missing or not a string")));
    };
    let title = match obj.get(KEY_NAME) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(_) => return Err(reject(format!("field {KEY_NAME} is not a string"))),
    };
    let modified = match obj.get(KEY_DATE_MODIFIED).and_then(Value::as_str) {
        Some(s) => parse_time(s).ok_or_else(|| {
            reject(format!(
                "field {KEY_DATE_MODIFIED} is not an ISO 8601 time: {s:?}"
            ))
        })?,
        None => {
            return Err(reject(format!(
                "field {KEY_DATE_MODIFIED} is missing or not a string"
            )));
        }
    };
    let version = match obj.get(KEY_VERSION) {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let archived = match obj.get(KEY_ARCHIVE) {
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "true"),
        _ => false,
    };
    let rendition_url = obj
        .get(KEY_VIDEO_PREVIEW_URLS)
        .and_then(Value::as_array)
        .and_then(|urls| urls.iter().find_map(Value::as_str))
        .map(str::to_string);
    let mut fields = RemoteFields::new();
    for (key, value) in obj {
        if let Some(name) = key.strip_prefix(PROPERTY_PREFIX)
            && !name.is_empty()
            && let Some(text) = value_text(value)
        {
            fields.insert(name.to_string(), text);
        }
    }
    Ok(VideoExperiment {
        system: system.to_string(),
        asset_id: id.to_string(),
        title,
        modified,
        version,
        archived,
        rendition_url,
        fields,
    })
}

/// A metaproperty value as text: arrays of option names joined with `,`, strings as they are,
/// numbers and booleans printed; null is "unset".
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let sep = OPTION_SEPARATOR.to_string();
            Some(
                items
                    .iter()
                    .filter_map(value_text)
                    .collect::<Vec<_>>()
                    .join(&sep),
            )
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(_) => Some(value.to_string()),
    }
}

/// ISO 8601 with an offset (`2026-11-21T08:00:00Z`); a time without one is taken as UTC [INF].
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// The `dateModified` filter text: ISO 8601, whole seconds, `Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Option names of a select value: split on `,`, trimmed, empties dropped.
pub fn split_options(value: &str) -> Vec<&str> {
    value
        .split(OPTION_SEPARATOR)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}
