//! The types the Teamcenter emulator declares (ItemRevision, Item, the clip record Form
//! subtype), their property descriptors as `getTypeDescriptions` serves them, and model objects
//! as `ServiceData.modelObjects` carries them under an object property policy
//! (docs/wire/teamcenter.md, Transport and Schema discovery).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::store::{Record, Revision};

/// `valueType` codes (ITK `PROP_value_type_e`).
const DATE: i64 = 2;
const STRING: i64 = 8;
const TYPED_REFERENCE: i64 = 9;

/// One property descriptor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PropDef {
    pub(crate) name: &'static str,
    pub(crate) display: &'static str,
    pub(crate) value_type: i64,
    pub(crate) array: bool,
    pub(crate) modifiable: bool,
}

const fn p(name: &'static str, display: &'static str, value_type: i64, rw: bool) -> PropDef {
    PropDef {
        name,
        display,
        value_type,
        array: false,
        modifiable: rw,
    }
}

/// One declared business object type.
#[derive(Debug)]
pub(crate) struct Declared {
    pub(crate) name: &'static str,
    pub(crate) display: &'static str,
    /// Itself and its parents, nearest first (a policy on any of them applies).
    pub(crate) ancestors: &'static [&'static str],
    pub(crate) props: &'static [PropDef],
}

const WORKSPACE: [PropDef; 5] = [
    p("object_name", "Name", STRING, true),
    p("object_desc", "Description", STRING, true),
    p("object_type", "Type", STRING, false),
    p("creation_date", "Date Created", DATE, false),
    p("last_mod_date", "Date Modified", DATE, false),
];

static REVISION_PROPS: [PropDef; 9] = [
    WORKSPACE[0],
    WORKSPACE[1],
    WORKSPACE[2],
    WORKSPACE[3],
    WORKSPACE[4],
    p("item_id", "ID", STRING, false),
    p("item_revision_id", "Revision", STRING, false),
    PropDef {
        name: "release_status_list",
        display: "Release Status",
        value_type: TYPED_REFERENCE,
        array: true,
        modifiable: false,
    },
    p("c9_sku", "SKU", STRING, true),
];

static ITEM_PROPS: [PropDef; 6] = [
    WORKSPACE[0],
    WORKSPACE[1],
    WORKSPACE[2],
    WORKSPACE[3],
    WORKSPACE[4],
    p("item_id", "ID", STRING, false),
];

/// The clip record's own string properties (all writable).
pub(crate) const RECORD_STRINGS: &[(&str, &str)] = &[
    ("ptp_link_id", "Link ID"),
    ("ptp_status", "Link Status"),
    ("ptp_asset_id", "Asset ID"),
    ("ptp_asset_system", "Asset System"),
    ("ptp_clip_url", "Clip URL"),
    ("ptp_prompt", "Prompt"),
    ("ptp_model", "Model"),
    ("ptp_model_version", "Model Version"),
    ("ptp_campaign", "Campaign"),
    ("ptp_review_status", "Review Status"),
    ("ptp_rights_notes", "Rights Notes"),
    ("ptp_rights_expiry", "Rights Expiry"),
    ("ptp_visible_watermark", "Visible Watermark"),
    ("ptp_watermark_preserved", "Watermark Preserved"),
    ("ptp_provenance_state", "Provenance State"),
    ("ptp_sku", "SKU"),
];

static RECORD_PROPS: [PropDef; 21] = [
    WORKSPACE[0],
    WORKSPACE[1],
    WORKSPACE[2],
    WORKSPACE[3],
    WORKSPACE[4],
    p(RECORD_STRINGS[0].0, RECORD_STRINGS[0].1, STRING, true),
    p(RECORD_STRINGS[1].0, RECORD_STRINGS[1].1, STRING, true),
    p(RECORD_STRINGS[2].0, RECORD_STRINGS[2].1, STRING, true),
    p(RECORD_STRINGS[3].0, RECORD_STRINGS[3].1, STRING, true),
    p(RECORD_STRINGS[4].0, RECORD_STRINGS[4].1, STRING, true),
    p(RECORD_STRINGS[5].0, RECORD_STRINGS[5].1, STRING, true),
    p(RECORD_STRINGS[6].0, RECORD_STRINGS[6].1, STRING, true),
    p(RECORD_STRINGS[7].0, RECORD_STRINGS[7].1, STRING, true),
    p(RECORD_STRINGS[8].0, RECORD_STRINGS[8].1, STRING, true),
    p(RECORD_STRINGS[9].0, RECORD_STRINGS[9].1, STRING, true),
    p(RECORD_STRINGS[10].0, RECORD_STRINGS[10].1, STRING, true),
    p(RECORD_STRINGS[11].0, RECORD_STRINGS[11].1, STRING, true),
    p(RECORD_STRINGS[12].0, RECORD_STRINGS[12].1, STRING, true),
    p(RECORD_STRINGS[13].0, RECORD_STRINGS[13].1, STRING, true),
    p(RECORD_STRINGS[14].0, RECORD_STRINGS[14].1, STRING, true),
    p(RECORD_STRINGS[15].0, RECORD_STRINGS[15].1, STRING, true),
];

static TYPES: [Declared; 3] = [
    Declared {
        name: "ItemRevision",
        display: "Item Revision",
        ancestors: &[
            "ItemRevision",
            "WorkspaceObject",
            "POM_application_object",
            "BusinessObject",
        ],
        props: &REVISION_PROPS,
    },
    Declared {
        name: "Item",
        display: "Item",
        ancestors: &[
            "Item",
            "WorkspaceObject",
            "POM_application_object",
            "BusinessObject",
        ],
        props: &ITEM_PROPS,
    },
    Declared {
        name: "PromptToPartForm",
        display: "Prompt-to-Part Form",
        ancestors: &[
            "PromptToPartForm",
            "Form",
            "WorkspaceObject",
            "POM_application_object",
            "BusinessObject",
        ],
        props: &RECORD_PROPS,
    },
];

/// A declared type by name.
pub(crate) fn declared(name: &str) -> Option<&'static Declared> {
    TYPES.iter().find(|t| t.name == name)
}

impl Declared {
    /// A property descriptor by name.
    pub(crate) fn prop(&self, name: &str) -> Option<&'static PropDef> {
        self.props.iter().find(|p| p.name == name)
    }

    /// The `getTypeDescriptions` entry of this type.
    pub(crate) fn describe(&self) -> Value {
        let mut descs = Map::new();
        for p in self.props {
            descs.insert(
                p.name.into(),
                json!({"name": p.name, "displayName": p.display, "valueType": p.value_type,
                    "isArray": p.array, "isModifiable": p.modifiable,
                    "maxLength": if p.value_type == STRING { 4000 } else { 0 }}),
            );
        }
        json!({"name": self.name, "uid": format!("TYPE_{}", self.name), "className": self.name,
            "parentTypeName": self.ancestors.get(1).copied().unwrap_or_default(),
            "displayName": self.display, "propertyDescriptors": descs})
    }
}

/// A parsed `header.policy`: type name → property names.
pub(crate) type Policy = BTreeMap<String, BTreeSet<String>>;

/// Reads `header.policy` (`{"types":[{"name":…,"properties":[{"name":…}]}]}`).
pub(crate) fn policy(header: &Value) -> Policy {
    let mut out = Policy::new();
    let types = header
        .pointer("/policy/types")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in types {
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            continue;
        };
        let props = t
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned));
        out.entry(name.to_owned()).or_default().extend(props);
    }
    out
}

/// Date values as Teamcenter writes them: `dbValues` ISO with offset, `uiValues` display.
fn date(t: DateTime<Utc>) -> (String, String) {
    (
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        t.format("%d-%b-%Y %H:%M").to_string(),
    )
}

fn prop(db: Vec<String>, ui: Vec<String>) -> Value {
    json!({"dbValues": db, "uiValues": ui})
}

/// A model object of `ty` with the policy's properties, from a value lookup.
fn model_object(
    uid: &str,
    ty: &Declared,
    policy: &Policy,
    value: impl Fn(&str) -> Option<Value>,
) -> Value {
    let mut props = Map::new();
    for name in ty.ancestors.iter().filter_map(|a| policy.get(*a)).flatten() {
        if ty.prop(name).is_some()
            && let Some(v) = value(name)
        {
            props.insert(name.clone(), v);
        }
    }
    json!({"uid": uid, "objectID": uid, "type": ty.name, "className": ty.name, "props": props})
}

fn text(s: &str) -> Value {
    prop(vec![s.to_owned()], vec![s.to_owned()])
}

/// An item revision as a model object.
pub(crate) fn revision_object(r: &Revision, ty: &Declared, policy: &Policy) -> Value {
    model_object(&r.uid, ty, policy, |name| match name {
        "item_id" => Some(text(&r.item_id)),
        "item_revision_id" => Some(text(&r.revision)),
        "object_name" => Some(text(&r.name)),
        "object_type" => Some(text(ty.name)),
        "creation_date" | "last_mod_date" => {
            let t = if name == "creation_date" {
                r.created
            } else {
                r.modified
            };
            let (db, ui) = date(t);
            Some(prop(vec![db], vec![ui]))
        }
        "release_status_list" => {
            let uids = (0..r.status.len())
                .map(|i| format!("{}S{i}", r.uid))
                .collect();
            Some(prop(uids, r.status.clone()))
        }
        other => Some(match r.props.get(other) {
            Some(v) => text(v),
            None => prop(vec![], vec![]),
        }),
    })
}

/// A clip record as a model object.
pub(crate) fn record_object(r: &Record, ty: &Declared, policy: &Policy) -> Value {
    model_object(&r.uid, ty, policy, |name| match name {
        "object_type" => Some(text(ty.name)),
        "creation_date" | "last_mod_date" => {
            let t = if name == "creation_date" {
                r.created
            } else {
                r.modified
            };
            let (db, ui) = date(t);
            Some(prop(vec![db], vec![ui]))
        }
        other => Some(match r.props.get(other) {
            Some(v) => text(v),
            None => prop(vec![], vec![]),
        }),
    })
}

/// An item as a model object (only its id).
pub(crate) fn item_object(uid: &str, item_id: &str, policy: &Policy) -> Value {
    let Some(ty) = declared("Item") else {
        return json!({"uid": uid, "type": "Item"});
    };
    model_object(uid, ty, policy, |name| {
        (name == "item_id").then(|| text(item_id))
    })
}
