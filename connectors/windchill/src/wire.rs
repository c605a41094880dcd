//! The JSON WRS speaks (docs/wire/windchill.md): OData collections, the Part and Document
//! entities, enumerated values, the CSRF token and the OData error body.
//!
//! Entities are read field by field from a JSON object rather than derived, so a record that
//! does not decode is rejected with a reason that names the field, and the rest of its page goes
//! on.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// An OData collection page: `{"value":[…],"@odata.nextLink":"…"}`. Records stay raw so each is
/// decoded on its own.
#[derive(Debug, Deserialize)]
pub(crate) struct Collection {
    /// The records.
    pub value: Vec<Value>,
    /// Absolute URL of the next page, absent on the last one.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// An enumerated property value, e.g. `"State": {"Value":"INWORK","Display":"In Work"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct State {
    /// Internal value.
    pub value: String,
    /// Localised display text.
    #[serde(default)]
    pub display: Option<String>,
}

/// `GET PTC/GetCSRFToken()` answer (WCCG_RESTAPIsNonceTokenFunction.html).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CsrfToken {
    /// Header name to send the nonce in (`CSRF_NONCE`).
    pub nonce_key: String,
    /// The nonce.
    pub nonce_value: String,
}

/// OData v4 error body `{"error":{"code":"…","message":"…"}}` (wccg_rest_error_codes.html).
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorDetail {
    /// Error code, e.g. `INVALID_NONCE`.
    #[serde(default)]
    pub code: Option<String>,
    /// Message.
    #[serde(default)]
    pub message: Option<String>,
}

/// The properties of a Part the connector itself needs.
#[derive(Debug)]
pub(crate) struct Part {
    pub id: String,
    pub number: String,
    pub name: String,
    pub revision: String,
    pub state: Option<State>,
    pub last_modified: DateTime<Utc>,
}

/// The properties of a Document the connector itself needs.
#[derive(Debug)]
pub(crate) struct Document {
    pub id: String,
    pub last_modified: DateTime<Utc>,
    /// `CreatedOn`, when the server gives it.
    pub created: Option<DateTime<Utc>>,
    /// The link id IBA; None when absent, null or blank.
    pub link_id: Option<String>,
}

impl Part {
    /// Reads a Part; the error names the field. `Revision` falls back to the revision half of
    /// `Version` (`B.1` → `B`), `Name` to empty.
    pub fn decode(rec: &Map<String, Value>) -> Result<Part, String> {
        let revision = match opt_str(rec, "Revision")? {
            Some(r) => r,
            None => opt_str(rec, "Version")?
                .and_then(|v| v.split('.').next().map(str::to_string))
                .filter(|r| !r.is_empty())
                .ok_or("Revision: missing")?,
        };
        let state = match rec.get("State") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                State::deserialize(v)
                    .map_err(|e| format!("State: not an enumerated value ({e})"))?,
            ),
        };
        Ok(Part {
            id: req_str(rec, "ID")?,
            number: req_str(rec, "Number")?,
            name: opt_str(rec, "Name")?.unwrap_or_default(),
            revision,
            state,
            last_modified: req_time(rec, "LastModified")?,
        })
    }
}

impl Document {
    /// Reads a Document; the error names the field.
    pub fn decode(rec: &Map<String, Value>, link_id_property: &str) -> Result<Document, String> {
        Ok(Document {
            id: req_str(rec, "ID")?,
            last_modified: req_time(rec, "LastModified")?,
            created: opt_time(rec, "CreatedOn")?,
            link_id: opt_str(rec, link_id_property)?.filter(|s| !s.trim().is_empty()),
        })
    }
}

/// The record's `ID`, when it is readable (for rejections).
pub(crate) fn id_of(rec: &Value) -> Option<String> {
    rec.get("ID").and_then(Value::as_str).map(str::to_string)
}

fn opt_str(rec: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match rec.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{field}: not a string")),
    }
}

fn req_str(rec: &Map<String, Value>, field: &str) -> Result<String, String> {
    opt_str(rec, field)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{field}: missing"))
}

fn opt_time(rec: &Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    match rec.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => req_time(rec, field).map(Some),
    }
}

fn req_time(rec: &Map<String, Value>, field: &str) -> Result<DateTime<Utc>, String> {
    let s = req_str(rec, field)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{field}: not an RFC 3339 date-time ({e})"))
}
