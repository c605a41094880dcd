//! Wire records → partreel's model: an Engineering Item becomes a [`PartRevision`], a Document a
//! [`RemoteLink`].
//!
//! Remote field names: an item's top-level attributes by their own name (`title`, `state`,
//! `description`, …) and the attributes of its dictionaries as `<dictionary>/<name>`
//! (`customerAttributes/Weight`, `dseno:EnterpriseAttributes/c9Sku`,
//! `dseng:EnterpriseReference/partNumber`); a document's `dataelements` by their own name.
//! Values as text: strings as they are, numbers and booleans printed, arrays (multi-value
//! attributes, `$mva=true`) as compact JSON; null or absent left out.

use partreel_connector::connector::Rejected;
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use serde_json::{Map, Value};

use crate::wire;

/// Dictionaries of an item whose entries are mappable attributes (plm-apis.md §3.6).
pub(crate) const DICTIONARIES: &[&str] = &[
    "customerAttributes",
    "dseno:EnterpriseAttributes",
    wire::ENTERPRISE_REFERENCE,
];

/// A record that is not a JSON object.
const NOT_OBJECT: &str = "record: not a JSON object";

/// One item record (Details mask) → a part revision, or the reason it is rejected.
pub(crate) fn part(system: &str, rec: &Value, props: &[String]) -> Result<PartRevision, Rejected> {
    let reject = |reason: String| Rejected {
        id: wire::id_of(rec),
        reason,
    };
    let map = rec.as_object().ok_or_else(|| reject(NOT_OBJECT.into()))?;
    let item = wire::EngItem::decode(map).map_err(reject)?;
    let number = item.part_number.ok_or_else(|| {
        reject(format!(
            "{}.partNumber: missing",
            wire::ENTERPRISE_REFERENCE
        ))
    })?;
    Ok(PartRevision {
        system: system.to_string(),
        remote_id: item.id,
        number,
        revision: item.revision,
        name: item.title,
        lifecycle_state: item.state,
        modified: item.modified,
        fields: keep(item_fields(map), props),
    })
}

/// One document record → a link, `Ok(None)` when it carries no link id (not partreel's), or
/// the reason it is rejected.
pub(crate) fn link(
    rec: &Value,
    link_id_attribute: &str,
    props: &[String],
) -> Result<Option<RemoteLink>, Rejected> {
    let reject = |reason: String| Rejected {
        id: wire::id_of(rec),
        reason,
    };
    let map = rec.as_object().ok_or_else(|| reject(NOT_OBJECT.into()))?;
    let doc = wire::Document::decode(map, link_id_attribute).map_err(reject)?;
    Ok(doc.link_id.map(|link_id| RemoteLink {
        link_id: LinkId(link_id),
        remote_id: doc.id,
        part_remote_id: doc.parent,
        modified: doc.modified,
        created: doc.created,
        fields: keep(document_fields(map), props),
    }))
}

/// Every attribute of an item record, dictionaries flattened.
pub(crate) fn item_fields(map: &Map<String, Value>) -> RemoteFields {
    let mut out = RemoteFields::new();
    for (k, v) in map {
        match v {
            Value::Object(inner) if DICTIONARIES.contains(&k.as_str()) => {
                for (ik, iv) in inner {
                    if let Some(t) = text(iv) {
                        out.insert(format!("{k}/{ik}"), t);
                    }
                }
            }
            Value::Object(_) => {}
            _ => {
                if let Some(t) = text(v) {
                    out.insert(k.clone(), t);
                }
            }
        }
    }
    out
}

/// Every attribute of a document record's `dataelements`.
pub(crate) fn document_fields(map: &Map<String, Value>) -> RemoteFields {
    map.get("dataelements")
        .and_then(Value::as_object)
        .map(|d| {
            d.iter()
                // Lists (`extensions`, `fileExtension`) describe the document, not a field.
                .filter(|(_, v)| !v.is_object() && !v.is_array())
                .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a document's `dataelements.extensions` lists `ext`.
pub(crate) fn has_extension(doc: &Value, ext: &str) -> bool {
    doc.pointer("/dataelements/extensions")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|e| e.as_str() == Some(ext)))
}

/// Only `props` when the mapping named any; everything otherwise.
pub(crate) fn keep(fields: RemoteFields, props: &[String]) -> RemoteFields {
    if props.is_empty() {
        return fields;
    }
    fields
        .into_iter()
        .filter(|(k, _)| props.contains(k))
        .collect()
}

/// One value as text; None for null.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(_) | Value::Object(_) => Some(v.to_string()),
    }
}
