//! The write (and relation) operations of the Teamcenter emulator: create records, relate
//! them, expand relations, set properties, delete relations. Every array input element is
//! handled on its own; a failing element becomes a partial error carrying its `clientId` and
//! `clientIndex`, the others go through (docs/wire/teamcenter.md, The clip record).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::ops::{Ctx, Sd, qname, reference, uid_of};
use super::schema;
use super::store::{RECORD_TYPE, RELATION_TYPE, TcStore};

/// Error codes of the emulator's partial errors [INFERRED; clients read the message].
const ERR_PROPERTY: i64 = 38015;
const ERR_TYPE: i64 = 39014;
const ERR_OBJECT: i64 = 515001;
const ERR_RELATION: i64 = 35010;
const ERR_INJECTED: i64 = 35011;
const ERR_NULL_REF: i64 = 515024;

/// SOA's null object reference: the null tag's UID ("AAAAAAAAAAAAAA"), never JSON `null` [the
/// emulator refuses `null` for a reference member; the code and message are INFERRED].
const NULL_TAG: &str = "AAAAAAAAAAAAAA";

/// A reference member that is not an object: `null` where the null tag is expected.
fn null_reference(input: &Value, member: &str) -> Option<String> {
    match input.get(member) {
        Some(Value::Object(o)) if o.get("uid").and_then(Value::as_str).is_some() => None,
        None => None,
        Some(_) => Some(format!(
            "{member} is not an object reference; send the null tag {{\"uid\": \"{NULL_TAG}\"}} for none."
        )),
    }
}

fn array<'a>(body: &'a Value, key: &str) -> Vec<&'a Value> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// The first value of a `["…"]` list (an empty list clears the property).
fn first(values: &Value) -> Option<String> {
    values.as_array()?.first()?.as_str().map(str::to_owned)
}

/// Checks a property write against the record type: declared and modifiable.
fn writable(name: &str) -> Result<(), String> {
    let decl = schema::declared(RECORD_TYPE).ok_or("record type missing")?;
    match decl.prop(name) {
        None => Err(format!(
            "The property {name} is not defined for type {RECORD_TYPE}."
        )),
        Some(p) if !p.modifiable => Err(format!("The property {name} is not modifiable.")),
        Some(_) => Ok(()),
    }
}

/// `Core-2015-07-DataManagement/createRelateAndSubmitObjects2` (Mendix
/// `OPERATION_CREATEOBJECTS`, Mendix docs `createInputs/createData/propertyNameValues`).
pub(crate) fn create_objects(ctx: &mut Ctx<'_>, body: &Value) -> Value {
    let mut sd = Sd::default();
    let mut output = Vec::new();
    for (i, input) in array(body, "createInputs").into_iter().enumerate() {
        let client_id = input
            .get("clientId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(msg) = TcStore::take_injected(&mut ctx.store.fail_create, client_id, i) {
            sd.error(Some(client_id), Some(i), None, ERR_INJECTED, &msg);
            continue;
        }
        if let Some(msg) = null_reference(input, "targetObject") {
            sd.error(Some(client_id), Some(i), None, ERR_NULL_REF, &msg);
            continue;
        }
        let data = input.get("createData").cloned().unwrap_or_default();
        let bo = data
            .get("boName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if bo != RECORD_TYPE {
            sd.error(
                Some(client_id),
                Some(i),
                None,
                ERR_TYPE,
                &format!("The type {bo} cannot be created here."),
            );
            continue;
        }
        let mut props = BTreeMap::new();
        let mut refused = None;
        for (k, v) in data
            .get("propertyNameValues")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Err(msg) = writable(k) {
                refused = Some(msg);
                break;
            }
            if let Some(v) = first(v) {
                props.insert(k.clone(), v);
            }
        }
        if let Some(msg) = refused {
            sd.error(Some(client_id), Some(i), None, ERR_PROPERTY, &msg);
            continue;
        }
        let uid = ctx.store.create_record(props, ctx.now);
        sd.created.push(uid.clone());
        sd.object(ctx, &uid);
        output.push(json!({"clientId": client_id, "objects": [reference(ctx.store, &uid)]}));
    }
    json!({".QName": qname("Core/2008-06/DataManagement.CreateResponse"), "output": output,
        "ServiceData": sd.json()})
}

/// `Core-2006-03-DataManagement/createRelations` (tcsoa `Relationship`, Mendix
/// `OPERATION_CREATERELATIONS`). An existing relation is a partial error.
pub(crate) fn create_relations(ctx: &mut Ctx<'_>, body: &Value) -> Value {
    let mut sd = Sd::default();
    let mut output = Vec::new();
    for (i, input) in array(body, "input").into_iter().enumerate() {
        let client_id = input
            .get("clientId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(msg) = TcStore::take_injected(&mut ctx.store.fail_relation, client_id, i) {
            sd.error(Some(client_id), Some(i), None, ERR_INJECTED, &msg);
            continue;
        }
        let ty = input
            .get("relationType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if ty != RELATION_TYPE {
            sd.error(
                Some(client_id),
                Some(i),
                None,
                ERR_TYPE,
                &format!("The relation type {ty} does not exist."),
            );
            continue;
        }
        if let Some(msg) = null_reference(input, "userData") {
            sd.error(Some(client_id), Some(i), None, ERR_NULL_REF, &msg);
            continue;
        }
        let primary = uid_of(input.get("primaryObject"));
        let secondary = uid_of(input.get("secondaryObject"));
        match ctx.store.relate(primary, secondary) {
            Ok(uid) => {
                sd.created.push(uid.clone());
                output.push(json!({"clientId": client_id,
                    "relation": {"uid": uid, "type": RELATION_TYPE, "className": "ImanRelation"}}));
            }
            Err(msg) => sd.error(Some(client_id), Some(i), None, ERR_RELATION, &msg),
        }
    }
    json!({".QName": qname("Core/2006-03/DataManagement.CreateRelationsResponse"),
        "output": output, "ServiceData": sd.json()})
}

/// `Core-2007-09-DataManagement/expandGRMRelationsForPrimary` (tcsoa `ExpandGRMRelationsPref2`,
/// `ExpandGRMRelationsOutput2`; an empty `info` is error 214160).
pub(crate) fn expand_primary(ctx: &mut Ctx<'_>, body: &Value) -> Value {
    let mut sd = Sd::default();
    let mut output = Vec::new();
    let filters = body
        .pointer("/pref/info")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if filters.is_empty() {
        sd.error(
            None,
            None,
            None,
            214160,
            "The relation and type filter input is empty.",
        );
    }
    for (i, primary) in array(body, "primaryObjects").into_iter().enumerate() {
        if filters.is_empty() {
            break;
        }
        let uid = uid_of(Some(primary)).to_owned();
        if !ctx.store.revisions.contains_key(&uid) {
            sd.error(
                None,
                Some(i),
                Some(&uid),
                ERR_OBJECT,
                &format!("The object with UID {uid} does not exist."),
            );
            continue;
        }
        let mut data = Vec::new();
        for f in &filters {
            let name = f
                .get("relationTypeName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let types: Vec<&str> = f
                .get("otherSideObjectTypes")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let wanted = name.is_empty() || name == RELATION_TYPE;
            let type_ok =
                types.is_empty() || types.contains(&RECORD_TYPE) || types.contains(&"Form");
            let objects: Vec<Value> = if wanted && type_ok {
                ctx.store.related(&uid).into_iter().map(|(rel, sec)| {
                    sd.object(ctx, &sec);
                    json!({"otherSideObject": reference(ctx.store, &sec),
                        "relation": {"uid": rel, "type": RELATION_TYPE, "className": "ImanRelation"}})
                }).collect()
            } else {
                Vec::new()
            };
            data.push(json!({"relationName": name, "relationshipObjects": objects}));
        }
        sd.plain(ctx, &uid);
        output.push(json!({"inputObject": reference(ctx.store, &uid), "relationshipData": data}));
    }
    json!({".QName": qname("Core/2007-09/DataManagement.ExpandGRMRelationsResponse2"),
        "output": output, "ServiceData": sd.json()})
}

/// `Core-2010-09-DataManagement/setProperties` (tcsoa `basics.py`, Mendix
/// `OPERATION_SETPROPERTIES`): each `info` element is applied whole or refused whole.
pub(crate) fn set_properties(ctx: &mut Ctx<'_>, body: &Value) -> Value {
    let mut sd = Sd::default();
    for (i, info) in array(body, "info").into_iter().enumerate() {
        let uid = uid_of(info.get("object")).to_owned();
        if !ctx.store.records.contains_key(&uid) {
            sd.error(
                None,
                Some(i),
                Some(&uid),
                ERR_OBJECT,
                &format!("The object with UID {uid} does not exist."),
            );
            continue;
        }
        let mut changes = Vec::new();
        let mut refused = None;
        for nv in info
            .get("vecNameVal")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = nv.get("name").and_then(Value::as_str).unwrap_or_default();
            if let Err(msg) = writable(name) {
                refused = Some(msg);
                break;
            }
            changes.push((name.to_owned(), nv.get("values").and_then(first)));
        }
        if let Some(msg) = refused {
            sd.error(None, Some(i), Some(&uid), ERR_PROPERTY, &msg);
            continue;
        }
        let now = ctx.now;
        ctx.store.edit_record(&uid, |r| {
            for (k, v) in changes {
                match v {
                    Some(v) => r.props.insert(k, v),
                    None => r.props.remove(&k),
                };
            }
            r.modified = now;
        });
        sd.updated.push(uid.clone());
        sd.object(ctx, &uid);
    }
    // SetPropertyResponse is `{data, objPropMap}` (Teamcenter.Soa.Core._2010_09.DataManagement,
    // TC 2512 API browser): the ServiceData under `data`, not `ServiceData`.
    json!({".QName": qname("Core/2010-09/DataManagement.SetPropertyResponse"),
        "data": sd.json(), "objPropMap": {}})
}

/// `Core-2006-03-DataManagement/deleteRelations` (tcsoa): the ServiceData itself.
pub(crate) fn delete_relations(ctx: &mut Ctx<'_>, body: &Value) -> Value {
    let mut sd = Sd::default();
    for (i, input) in array(body, "input").into_iter().enumerate() {
        let client_id = input.get("clientId").and_then(Value::as_str);
        let primary = uid_of(input.get("primaryObject"));
        let secondary = uid_of(input.get("secondaryObject"));
        let related = ctx
            .store
            .related(primary)
            .into_iter()
            .find(|(_, s)| s == secondary);
        match related {
            Some((rel, _)) if ctx.store.unrelate(primary, secondary) => sd.deleted.push(rel),
            _ => sd.error(
                client_id,
                Some(i),
                None,
                ERR_RELATION,
                &format!("No {RELATION_TYPE} relation between {primary} and {secondary}."),
            ),
        }
    }
    let mut out = sd.json();
    out[".QName"] = json!(qname("Soa/2006-03/Base.ServiceData"));
    out
}
