//! Wire records → partreel's model: a Part becomes a [`PartRevision`], a Document a
//! [`RemoteLink`]. Remote fields are every selected property as text: strings as they are,
//! numbers and booleans printed, enumerated values (`{"Value":…,"Display":…}`) as their
//! `Value`, null or absent left out, anything else as compact JSON.

use partreel_connector::connector::Rejected;
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use serde_json::{Map, Value};

use crate::wire;

/// A record that is not a JSON object.
const NOT_OBJECT: &str = "record: not a JSON object";

/// One Part record → a part revision, or the reason it is rejected.
pub(crate) fn part(system: &str, rec: &Value, select: &[String]) -> Result<PartRevision, Rejected> {
    let reject = |reason: String| Rejected {
        id: wire::id_of(rec),
        reason,
    };
    let map = rec.as_object().ok_or_else(|| reject(NOT_OBJECT.into()))?;
    let p = wire::Part::decode(map).map_err(reject)?;
    Ok(PartRevision {
        system: system.to_string(),
        remote_id: p.id,
        number: p.number,
        revision: p.revision,
        name: p.name,
        lifecycle_state: p.state.and_then(|s| s.display.or(Some(s.value))),
        modified: p.last_modified,
        fields: fields(map, select),
    })
}

/// One Document record → a link, `Ok(None)` when it carries no link id (not a partreel link),
/// or the reason it is rejected.
pub(crate) fn link(
    rec: &Value,
    link_id_property: &str,
    select: &[String],
) -> Result<Option<RemoteLink>, Rejected> {
    let reject = |reason: String| Rejected {
        id: wire::id_of(rec),
        reason,
    };
    let map = rec.as_object().ok_or_else(|| reject(NOT_OBJECT.into()))?;
    let d = wire::Document::decode(map, link_id_property).map_err(reject)?;
    Ok(d.link_id.map(|link_id| RemoteLink {
        link_id: LinkId(link_id),
        remote_id: d.id,
        part_remote_id: None,
        modified: d.last_modified,
        created: d.created,
        fields: fields(map, select),
    }))
}

/// The selected properties of a record as text.
pub(crate) fn fields(map: &Map<String, Value>, select: &[String]) -> RemoteFields {
    select
        .iter()
        .filter_map(|name| Some((name.clone(), text(map.get(name)?)?)))
        .collect()
}

/// One property value as text; None for null.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => match o.get("Value") {
            Some(inner) => text(inner),
            None => Some(v.to_string()),
        },
        Value::Array(_) => Some(v.to_string()),
    }
}
