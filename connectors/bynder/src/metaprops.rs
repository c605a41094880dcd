//! Metaproperty definitions (name → id, type, options), cached for the client's life.
//!
//! Writes name metaproperties by id and select values by option id, while partreel's fields use
//! names. The definitions come from `GET /api/v4/metaproperties/` (docs/wire/bynder.md
//! "Metaproperties"; bynder-python-sdk `AssetBankClient.meta_properties`) and are loaded once,
//! then reloaded when a write names a property or option the cache does not know.

use std::collections::BTreeMap;

use partreel_connector::model::RemoteFields;
use serde_json::Value;

use crate::convert::{OPTION_SEPARATOR, split_options};
use crate::wire::{MetapropertyDef, is_option_type};

/// One metaproperty definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metaproperty {
    /// Id used in `metaproperty.<id>` form fields.
    pub id: String,
    /// Name, as in `property_<name>`.
    pub name: String,
    /// Bynder type (`select`, `text`, `longtext`, `date`, …).
    pub kind: String,
    /// True when values are options (written as option ids, read as option names).
    pub option_based: bool,
    /// Options: name → id.
    pub options: BTreeMap<String, String>,
}

/// Every metaproperty of the portal, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metaproperties {
    by_name: BTreeMap<String, Metaproperty>,
}

/// Something a write needs that the definitions lack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No metaproperty of this name.
    Property(String),
    /// A select metaproperty has no option of this name.
    Option {
        /// Metaproperty name.
        property: String,
        /// Option name.
        option: String,
    },
}

/// One form field of a metadata write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedField {
    /// Metaproperty definition.
    pub property: Metaproperty,
    /// The value as partreel holds it (option names for selects).
    pub value: String,
    /// The value sent: option ids joined with `,` for selects, the text otherwise.
    pub form_value: String,
}

impl Metaproperties {
    /// Decodes the answer of `GET /api/v4/metaproperties/`: an object keyed by name (an array
    /// of definitions is accepted too). A definition without an id is skipped with a warning.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let entries: Vec<(Option<String>, Value)> = match value {
            Value::Object(map) => map.into_iter().map(|(k, v)| (Some(k), v)).collect(),
            Value::Array(items) => items.into_iter().map(|v| (None, v)).collect(),
            _ => return Err("expected a JSON object of metaproperties".into()),
        };
        let mut by_name = BTreeMap::new();
        for (key, entry) in entries {
            let def: MetapropertyDef = match serde_json::from_value(entry) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(metaproperty = key.as_deref().unwrap_or("?"), error = %e, "metaproperty definition skipped");
                    continue;
                }
            };
            let Some(name) = def.name.clone().or(key).filter(|n| !n.is_empty()) else {
                continue;
            };
            let kind = def.kind.clone().unwrap_or_default();
            let option_based = is_option_type(&kind) || !def.options.is_empty();
            let options = def.options.into_iter().map(|o| (o.name, o.id)).collect();
            by_name.insert(
                name.clone(),
                Metaproperty {
                    id: def.id,
                    name,
                    kind,
                    option_based,
                    options,
                },
            );
        }
        Ok(Metaproperties { by_name })
    }

    /// The definition of a name.
    pub fn get(&self, name: &str) -> Option<&Metaproperty> {
        self.by_name.get(name)
    }

    /// Every definition, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Metaproperty> {
        self.by_name.values()
    }

    /// Maps fields (metaproperty name → value) to form fields, or lists what is missing.
    pub fn plan(&self, fields: &RemoteFields) -> Result<Vec<PlannedField>, Vec<Missing>> {
        let mut planned = Vec::with_capacity(fields.len());
        let mut missing = Vec::new();
        for (name, value) in fields {
            let Some(prop) = self.get(name) else {
                missing.push(Missing::Property(name.clone()));
                continue;
            };
            let form_value = if prop.option_based {
                let mut ids = Vec::new();
                for option in split_options(value) {
                    match prop.options.get(option) {
                        Some(id) if !ids.contains(id) => ids.push(id.clone()),
                        Some(_) => {}
                        None => missing.push(Missing::Option {
                            property: name.clone(),
                            option: option.to_string(),
                        }),
                    }
                }
                ids.join(&OPTION_SEPARATOR.to_string())
            } else {
                value.clone()
            };
            planned.push(PlannedField {
                property: prop.clone(),
                value: value.clone(),
                form_value,
            });
        }
        if missing.is_empty() {
            Ok(planned)
        } else {
            Err(missing)
        }
    }
}

/// True when a value read back equals the value written: option names compared as sets for
/// selects; dates by their `YYYY-MM-DD` part (Bynder may add a time) [INF]; text exactly.
/// An empty written value matches an unset property.
pub fn read_back_matches(field: &PlannedField, read: Option<&str>) -> bool {
    let read = read.unwrap_or("");
    if field.property.option_based {
        let want: std::collections::BTreeSet<&str> =
            split_options(&field.value).into_iter().collect();
        let got: std::collections::BTreeSet<&str> = split_options(read).into_iter().collect();
        return want == got;
    }
    if field.property.kind.eq_ignore_ascii_case("date") {
        let day = |s: &str| {
            s.trim()
                .get(..10)
                .map(str::to_string)
                .unwrap_or_else(|| s.trim().to_string())
        };
        return day(&field.value) == day(read);
    }
    field.value == read
}
