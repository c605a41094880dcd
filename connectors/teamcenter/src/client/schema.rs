//! Schema discovery: `getTypeDescriptions` of the part and record types, read into the
//! properties a mapping may use. The TypeSchema layout is not published (tcsoa marks it as
//! needing reverse engineering), so `propertyDescriptors` is read as an object keyed by name or
//! as an array, and a descriptor needs only its `name` (docs/wire/teamcenter.md, Schema discovery).

use partreel_connector::connector::{PropertyInfo, RemoteSchema};
use partreel_connector::error::Result;
use serde_json::{Value, json};

use super::TeamcenterClient;
use crate::wire::op;

impl TeamcenterClient {
    /// Mendix `OPERATION_GETTYPEDESCRIPTION`: `getTypeDescriptions {"typeNames":[part, record]}`.
    pub(super) async fn describe(&self) -> Result<RemoteSchema> {
        let c = self.cfg();
        let body = json!({"typeNames": [c.part_type, c.record_type]});
        let answer = self
            .call(op::GET_TYPE_DESCRIPTIONS, body, None, true)
            .await?;
        let types = answer
            .body
            .get("types")
            .and_then(Value::as_array)
            .ok_or_else(|| self.malformed(op::GET_TYPE_DESCRIPTIONS, "types: missing"))?;
        let mut schema = RemoteSchema::default();
        for (entity, ty) in [("part", &c.part_type), ("link", &c.record_type)] {
            let desc = types
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some(ty.as_str()))
                .ok_or_else(|| {
                    self.malformed(
                        op::GET_TYPE_DESCRIPTIONS,
                        format!("type {ty} not described"),
                    )
                })?;
            let mut props = properties(desc.get("propertyDescriptors"));
            props.sort_by(|a, b| a.name.cmp(&b.name));
            schema.entities.insert(entity.to_string(), props);
        }
        Ok(schema)
    }
}

/// The property descriptors of one type.
fn properties(descriptors: Option<&Value>) -> Vec<PropertyInfo> {
    let list: Vec<(Option<&str>, &Value)> = match descriptors {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
        Some(Value::Array(a)) => a.iter().map(|v| (None, v)).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .filter_map(|(key, d)| {
            let name = d.get("name").and_then(Value::as_str).or(key)?;
            let kind = d
                .get("valueType")
                .and_then(Value::as_i64)
                .map_or("unknown", value_type);
            let array = d.get("isArray").and_then(Value::as_bool).unwrap_or(false);
            Some(PropertyInfo {
                name: name.to_string(),
                kind: if array {
                    format!("{kind}[]")
                } else {
                    kind.to_string()
                },
                writable: d
                    .get("isModifiable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// ITK `PROP_value_type_e` names (docs/wire/teamcenter.md, Schema discovery).
fn value_type(code: i64) -> &'static str {
    match code {
        1 => "char",
        2 => "date",
        3 => "double",
        4 => "float",
        5 => "int",
        6 => "logical",
        7 => "short",
        8 => "string",
        9 => "typed_reference",
        10 => "untyped_reference",
        11 => "external_reference",
        12 => "note",
        13 => "typed_relation",
        14 => "untyped_relation",
        _ => "unknown",
    }
}
