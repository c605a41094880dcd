//! The JSON 3DPassport and 3DSpace speak (docs/wire/threedx.md): the login answers, the CSRF
//! answer, the modeler collection `{"member":[…]}`, the document-service envelope
//! `{"success","statusCode","csrf","data":[…]}`, and the fields of an Engineering Item and a
//! Document that the connector itself needs.
//!
//! Records stay raw `serde_json::Value`s and are read field by field, so a record that does not
//! decode is rejected with a reason naming the field while the rest of its page goes on. Types
//! that hold a secret (the CSRF token, the transient ticket) have no `Debug`.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `GET {passport}/login?action=get_auth_params` (ws3dx `TicketInfo.cs`).
#[derive(Debug, Deserialize)]
pub(crate) struct AuthParams {
    /// `"login"` when the passport is ready for a login.
    #[serde(default)]
    pub response: String,
    /// The login ticket.
    #[serde(default)]
    pub lt: Option<String>,
}

/// `GET {passport}/api/v2/batch/ticket` (ws3dx `BatchServiceTransientToken.cs`).
#[derive(Deserialize)]
pub(crate) struct TransientToken {
    /// The transient ticket (a secret).
    pub access_token: String,
    /// `"CAS_TRANSIENT"`.
    #[serde(default)]
    pub token_type: String,
}

/// `GET {passport}/api/login/cas/transient` (ws3dx `BatchServicePassportAuthentication.cs`).
#[derive(Debug, Deserialize)]
pub(crate) struct TransientLogin {
    /// `"authenticated"` on success.
    #[serde(default)]
    pub message: String,
}

/// `GET {space}/resources/v1/application/CSRF` (ws3dx `CsrfToken.cs`).
#[derive(Deserialize)]
pub(crate) struct CsrfAnswer {
    /// The token.
    pub csrf: CsrfToken,
}

/// `{"name":"ENO_CSRF_TOKEN","value":"…"}`.
#[derive(Deserialize)]
pub(crate) struct CsrfToken {
    /// Header name.
    #[serde(default)]
    pub name: Option<String>,
    /// The token (a secret).
    pub value: String,
}

/// A modeler collection `{"totalItems":N,"member":[…]}` (ws3dx `NlsLabeledItemSet`).
#[derive(Debug, Deserialize)]
pub(crate) struct Members {
    /// The records.
    #[serde(default)]
    pub member: Vec<Value>,
}

/// The document-service envelope (ws3dx.document `DocumentsResponse.cs`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocsEnvelope {
    /// False on failure.
    #[serde(default)]
    pub success: Option<bool>,
    /// The service's status.
    #[serde(default)]
    pub status_code: Option<i64>,
    /// The records.
    #[serde(default)]
    pub data: Vec<Value>,
    /// Failure text (field name varies) [INFERRED].
    #[serde(default)]
    pub error: Option<Value>,
    /// Failure text, the other spelling.
    #[serde(default)]
    pub message: Option<String>,
}

impl DocsEnvelope {
    /// `Err(text)` when the envelope says the call failed despite a 2xx status.
    pub fn check(&self) -> Result<(), String> {
        if self.success == Some(false) {
            let text = self
                .message
                .clone()
                .or_else(|| {
                    self.error
                        .as_ref()
                        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                })
                .unwrap_or_else(|| "success: false".into());
            return Err(format!(
                "statusCode {}: {text}",
                self.status_code.unwrap_or(0)
            ));
        }
        Ok(())
    }
}

/// The fields of an Engineering Item the connector needs (Default/Details masks).
#[derive(Debug)]
pub(crate) struct EngItem {
    pub id: String,
    pub modified: DateTime<Utc>,
    pub title: String,
    pub revision: String,
    pub state: Option<String>,
    /// `dseng:EnterpriseReference.partNumber`, when the answer carried it.
    pub part_number: Option<String>,
}

/// The fields of a Document the connector needs.
#[derive(Debug)]
pub(crate) struct Document {
    pub id: String,
    pub modified: DateTime<Utc>,
    /// `dataelements.originated` (creation time), when the server gives it.
    pub created: Option<DateTime<Utc>>,
    /// The link id attribute; None when absent or blank.
    pub link_id: Option<String>,
    /// The first parent's id.
    pub parent: Option<String>,
}

/// Key of the enterprise reference object in a Details answer.
pub(crate) const ENTERPRISE_REFERENCE: &str = "dseng:EnterpriseReference";

impl EngItem {
    /// Reads an item; the error names the field.
    pub fn decode(rec: &Map<String, Value>) -> Result<EngItem, String> {
        let part_number = match rec.get(ENTERPRISE_REFERENCE) {
            Some(Value::Object(r)) => opt_str(r, "partNumber")?.filter(|s| !s.trim().is_empty()),
            _ => None,
        };
        let name = opt_str(rec, "name")?.unwrap_or_default();
        Ok(EngItem {
            id: req_str(rec, "id")?,
            modified: req_time(rec, "modified")?,
            title: opt_str(rec, "title")?
                .filter(|t| !t.is_empty())
                .unwrap_or(name),
            revision: req_str(rec, "revision")?,
            state: opt_str(rec, "state")?,
            part_number,
        })
    }
}

impl Document {
    /// Reads a document record (`id`, `cestamp`, `dataelements`, `relateddata`).
    pub fn decode(rec: &Map<String, Value>, link_id_attribute: &str) -> Result<Document, String> {
        let empty = Map::new();
        let data = match rec.get("dataelements") {
            Some(Value::Object(d)) => d,
            None | Some(Value::Null) => &empty,
            Some(_) => return Err("dataelements: not an object".into()),
        };
        let parent = rec
            .get("relateddata")
            .and_then(|r| r.get("parents"))
            .and_then(Value::as_array)
            .and_then(|ps| ps.first())
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(opt_str(data, "parentId")?.filter(|s| !s.is_empty()));
        Ok(Document {
            id: req_str(rec, "id")?,
            modified: req_time(data, "modified").map_err(|e| format!("dataelements.{e}"))?,
            // The document services call a document's creation time `originated`.
            created: match data.get("originated") {
                None | Some(Value::Null) => None,
                Some(_) => {
                    Some(req_time(data, "originated").map_err(|e| format!("dataelements.{e}"))?)
                }
            },
            link_id: opt_str(data, link_id_attribute)?.filter(|s| !s.trim().is_empty()),
            parent,
        })
    }
}

/// The record's `id`, when it is readable (for rejections).
pub(crate) fn id_of(rec: &Value) -> Option<String> {
    rec.get("id").and_then(Value::as_str).map(str::to_string)
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

fn req_time(rec: &Map<String, Value>, field: &str) -> Result<DateTime<Utc>, String> {
    let s = req_str(rec, field)?;
    parse_time(&s).ok_or_else(|| format!("{field}: not a date-time ({s:?})"))
}

/// RFC 3339, or the classic ENOVIA `11/20/2026 9:30:00 AM` (read as UTC) [INFERRED].
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s.trim(), "%m/%d/%Y %I:%M:%S %p")
        .ok()
        .map(|t| t.and_utc())
}

/// Formats a time for a search predicate: RFC 3339, whole seconds, `Z`.
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
