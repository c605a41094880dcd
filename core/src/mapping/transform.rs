//! Applying transforms: remote text → canonical text when reading a record, and the inverse when
//! writing one.

use std::fmt::{self, Write as _};

use chrono::{DateTime, NaiveDate};

use super::{Entity, FieldError, FieldMapping, Mapping, Transform};
use crate::model::{CanonicalValues, RemoteFields};

/// The canonical date format (ISO 8601 calendar date).
const CANONICAL_DATE: &str = "%Y-%m-%d";

impl Transform {
    /// Converts one remote value to its canonical form; the error says what was expected.
    pub fn to_canonical(&self, value: &str) -> Result<String, String> {
        Ok(match self {
            Transform::Trim => value.trim().to_string(),
            Transform::Upper => value.to_uppercase(),
            Transform::Lower => value.to_lowercase(),
            Transform::ValueMap(map) => map.get(value).cloned().unwrap_or_else(|| value.into()),
            Transform::Boolean {
                true_words,
                false_words,
            } => {
                let word = value.trim();
                if true_words.iter().any(|w| same_word(w, word)) {
                    "true".into()
                } else if false_words.iter().any(|w| same_word(w, word)) {
                    "false".into()
                } else {
                    return Err(format!(
                        "value \"{value}\" is not a known yes/no word; expected one of {} (true) or {} (false)",
                        true_words.join(", "),
                        false_words.join(", ")
                    ));
                }
            }
            Transform::Date { format } => {
                let date = parse_date(value, format).ok_or_else(|| {
                    format!(
                        "value \"{value}\" is not a date in format \"{format}\"{} or an RFC 3339 timestamp",
                        example_date(format)
                    )
                })?;
                date.format(CANONICAL_DATE).to_string()
            }
            Transform::MaxLength(_) => value.to_string(),
        })
    }

    /// Converts one canonical value to its remote form (the inverse of
    /// [`Transform::to_canonical`]); the error says what was expected.
    pub fn to_remote(&self, value: &str) -> Result<String, String> {
        Ok(match self {
            Transform::Trim | Transform::Upper | Transform::Lower => self.to_canonical(value)?,
            Transform::ValueMap(map) => map
                .iter()
                .find(|(_, c)| *c == value)
                .map_or_else(|| value.to_string(), |(r, _)| r.clone()),
            Transform::Boolean {
                true_words,
                false_words,
            } => {
                let words = if same_word(value.trim(), "true") {
                    true_words
                } else if same_word(value.trim(), "false") {
                    false_words
                } else {
                    return Err(format!("value \"{value}\" is not \"true\" or \"false\""));
                };
                words.first().cloned().unwrap_or_default()
            }
            Transform::Date { format } => {
                let date = parse_date(value, CANONICAL_DATE)
                    .ok_or_else(|| format!("value \"{value}\" is not a date YYYY-MM-DD"))?;
                format_date(date, format)
                    .ok_or_else(|| format!("date format \"{format}\" cannot be written"))?
            }
            Transform::MaxLength(max) => truncate(value, *max).to_string(),
        })
    }
}

impl fmt::Display for Transform {
    /// Writes the transform as it is spelled in a mapping file (TOML that reads back the same).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transform::Trim => f.write_str("\"trim\""),
            Transform::Upper => f.write_str("\"upper\""),
            Transform::Lower => f.write_str("\"lower\""),
            Transform::ValueMap(map) => {
                let entries: Vec<String> = map
                    .iter()
                    .map(|(r, c)| format!("{} = {}", toml_str(r), toml_str(c)))
                    .collect();
                write!(f, "{{ value_map = {{ {} }} }}", entries.join(", "))
            }
            Transform::Boolean {
                true_words,
                false_words,
            } => write!(
                f,
                "{{ boolean = {{ true = {}, false = {} }} }}",
                toml_array(true_words),
                toml_array(false_words)
            ),
            Transform::Date { format } => {
                write!(f, "{{ date = {{ format = {} }} }}", toml_str(format))
            }
            Transform::MaxLength(n) => write!(f, "{{ max_length = {n} }}"),
        }
    }
}

/// A TOML basic string: quote, backslash and the control characters escaped as TOML spells them
/// (Rust's `{:?}` writes `\0` or `\u{7f}`, which TOML refuses); everything else as it is.
fn toml_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML array of basic strings.
fn toml_array(words: &[String]) -> String {
    let items: Vec<String> = words.iter().map(|w| toml_str(w)).collect();
    format!("[{}]", items.join(", "))
}

/// Case-insensitive comparison of yes/no words.
pub(super) fn same_word(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Formats a date, or None when the format is invalid (chrono would otherwise panic).
pub(super) fn format_date(date: NaiveDate, format: &str) -> Option<String> {
    let mut out = String::new();
    write!(out, "{}", date.format(format)).ok()?;
    Some(out)
}

/// Parses a date in `format`, or the date part of an RFC 3339 timestamp.
fn parse_date(value: &str, format: &str) -> Option<NaiveDate> {
    let value = value.trim();
    NaiveDate::parse_from_str(value, format).ok().or_else(|| {
        DateTime::parse_from_rfc3339(value)
            .ok()
            .map(|t| t.date_naive())
    })
}

/// ` (e.g. 31.12.2026)` for error messages.
fn example_date(format: &str) -> String {
    NaiveDate::from_ymd_opt(2026, 12, 31)
        .and_then(|d| format_date(d, format))
        .map(|s| format!(" (e.g. {s})"))
        .unwrap_or_default()
}

/// The longest prefix of at most `max` bytes that ends on a character boundary.
fn truncate(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

fn field_error(f: &FieldMapping, message: String) -> FieldError {
    FieldError {
        canonical: f.canonical.clone(),
        remote: f.remote.clone(),
        message,
    }
}

/// See [`Mapping::to_canonical`].
pub(super) fn to_canonical(
    mapping: &Mapping,
    entity: Entity,
    remote: &RemoteFields,
) -> Result<CanonicalValues, Vec<FieldError>> {
    let mut values = CanonicalValues::new();
    let mut errors = Vec::new();
    for f in mapping.fields_for(entity) {
        let raw = remote.get(&f.remote).filter(|v| !v.trim().is_empty());
        let Some(raw) = raw else {
            if f.required {
                let msg = "required, but the record has no value".to_string();
                errors.push(field_error(f, msg));
            }
            continue;
        };
        let converted = f
            .transforms
            .iter()
            .try_fold(raw.clone(), |v, t| t.to_canonical(&v));
        match converted {
            Ok(v) if v.trim().is_empty() => {
                if f.required {
                    let msg =
                        format!("required, but the value \"{raw}\" is blank after transforms");
                    errors.push(field_error(f, msg));
                }
            }
            Ok(v) => {
                values.insert(f.canonical.clone(), v);
            }
            Err(msg) => errors.push(field_error(f, msg)),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// See [`Mapping::to_remote`].
pub(super) fn to_remote(
    mapping: &Mapping,
    entity: Entity,
    values: &CanonicalValues,
) -> Result<RemoteFields, Vec<FieldError>> {
    let mut fields = RemoteFields::new();
    let mut errors = Vec::new();
    for f in mapping.fields_for(entity) {
        let Some(value) = values.get(&f.canonical) else {
            continue;
        };
        if value.trim().is_empty() {
            fields.insert(f.remote.clone(), String::new());
            continue;
        }
        let converted = f
            .transforms
            .iter()
            .rev()
            .try_fold(value.clone(), |v, t| t.to_remote(&v));
        match converted {
            Ok(v) => {
                fields.insert(f.remote.clone(), v);
            }
            Err(msg) => errors.push(field_error(f, msg)),
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    }
}
