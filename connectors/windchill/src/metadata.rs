//! EDMX `$metadata` (OData v4 CSDL, WindchillCustomizationUsingWRS.html) → the properties of one
//! entity type, for [`partreel_connector::connector::RemoteSchema`].
//!
//! Soft attributes (IBAs) appear as ordinary `<Property>`s. Properties inherited through
//! `BaseType` from a type in the same document are included, base first. A property is
//! writable unless it is one WRS computes (`READ_ONLY`) or is annotated `Core.Computed` or
//! `PTC.ReadOnly`.

use std::collections::HashMap;

use partreel_connector::connector::PropertyInfo;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// Properties the server maintains itself.
const READ_ONLY: &[&str] = &[
    "ID",
    "LastModified",
    "CreatedOn",
    "Version",
    "Iteration",
    "Latest",
];

/// Annotation terms that mark a property read-only [INFERRED: OData Core vocabulary, PTC's own].
const READ_ONLY_TERMS: &[&str] = &[
    "Core.Computed",
    "Org.OData.Core.V1.Computed",
    "PTC.ReadOnly",
];

/// Longest `BaseType` chain followed (guards against a cycle).
const MAX_INHERITANCE: usize = 16;

#[derive(Default)]
struct EntityType {
    name: String,
    base: Option<String>,
    properties: Vec<PropertyInfo>,
}

/// The properties of entity type `entity` (local name, e.g. `Part`). The error says what went
/// wrong and at which byte.
pub(crate) fn properties(xml: &[u8], entity: &str) -> Result<Vec<PropertyInfo>, String> {
    let types = parse(xml)?;
    let start = types
        .values()
        .find(|t| t.name == entity)
        .ok_or_else(|| format!("no EntityType {entity}"))?;
    let mut chain = vec![start];
    while let Some(base) = chain.last().and_then(|t| t.base.as_ref()) {
        let Some(t) = types.get(base) else { break };
        if chain.len() >= MAX_INHERITANCE {
            return Err(format!("EntityType {entity}: BaseType chain too long"));
        }
        chain.push(t);
    }
    let mut out: Vec<PropertyInfo> = Vec::new();
    for t in chain.iter().rev() {
        for p in &t.properties {
            if !out.iter().any(|o| o.name == p.name) {
                out.push(p.clone());
            }
        }
    }
    Ok(out)
}

/// The local names of the entity types that derive, directly or through others, from the
/// entity type `base` (local name), sorted.
pub(crate) fn derived_types(xml: &[u8], base: &str) -> Result<Vec<String>, String> {
    let types = parse(xml)?;
    let mut out: Vec<String> = Vec::new();
    for t in types.values() {
        let mut at = t;
        for _ in 0..MAX_INHERITANCE {
            let Some(parent) = at.base.as_ref().and_then(|b| types.get(b)) else {
                break;
            };
            if parent.name == base {
                if !out.contains(&t.name) {
                    out.push(t.name.clone());
                }
                break;
            }
            at = parent;
        }
    }
    out.sort();
    Ok(out)
}

/// Every entity type, keyed by `Namespace.Name` and `Alias.Name`.
fn parse(xml: &[u8]) -> Result<HashMap<String, EntityType>, String> {
    let text =
        std::str::from_utf8(xml).map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut types = HashMap::new();
    let mut qualifiers: Vec<String> = Vec::new();
    let mut current: Option<EntityType> = None;
    let mut in_property = false;
    let mut depth: usize = 0;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        let attr = |e: &BytesStart, name: &str| {
            attribute(e, name).map_err(|m| format!("{m} at byte {at}"))
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                if !empty {
                    depth += 1;
                }
                match e.local_name().as_ref() {
                    b"Schema" => {
                        qualifiers = [attr(e, "Namespace")?, attr(e, "Alias")?]
                            .into_iter()
                            .flatten()
                            .collect();
                    }
                    b"EntityType" => {
                        let t = EntityType {
                            name: attr(e, "Name")?.unwrap_or_default(),
                            base: attr(e, "BaseType")?,
                            properties: Vec::new(),
                        };
                        if empty {
                            insert(&mut types, &qualifiers, t);
                        } else {
                            current = Some(t);
                        }
                    }
                    b"Property" => {
                        if let (Some(t), Some(name)) = (current.as_mut(), attr(e, "Name")?) {
                            t.properties.push(PropertyInfo {
                                writable: !READ_ONLY.contains(&name.as_str()),
                                kind: attr(e, "Type")?.unwrap_or_default(),
                                name,
                            });
                            in_property = !empty;
                        }
                    }
                    b"Annotation" if in_property => {
                        let term = attr(e, "Term")?.unwrap_or_default();
                        let on = attr(e, "Bool")?.is_none_or(|b| b != "false");
                        if on
                            && READ_ONLY_TERMS.contains(&term.as_str())
                            && let Some(p) = current.as_mut().and_then(|t| t.properties.last_mut())
                        {
                            p.writable = false;
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    b"Property" => in_property = false,
                    b"EntityType" => {
                        if let Some(t) = current.take() {
                            insert(&mut types, &qualifiers, t);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof if depth > 0 => {
                return Err(format!(
                    "document ends with {depth} element(s) still open at byte {}",
                    reader.buffer_position()
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(types)
}

fn insert(types: &mut HashMap<String, EntityType>, qualifiers: &[String], t: EntityType) {
    for q in qualifiers.iter().skip(1) {
        types.insert(
            format!("{q}.{}", t.name),
            EntityType {
                name: t.name.clone(),
                base: t.base.clone(),
                properties: t.properties.clone(),
            },
        );
    }
    let key = match qualifiers.first() {
        Some(ns) => format!("{ns}.{}", t.name),
        None => t.name.clone(),
    };
    types.insert(key, t);
}

fn attribute(e: &BytesStart, name: &str) -> Result<Option<String>, String> {
    let Some(a) = e.try_get_attribute(name).map_err(|err| err.to_string())? else {
        return Ok(None);
    };
    a.normalized_value(XmlVersion::Implicit1_0)
        .map(|v| Some(v.into_owned()))
        .map_err(|err| err.to_string())
}
