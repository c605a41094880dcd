//! The read operations of the Teamcenter emulator and the `ServiceData` builder every operation
//! shares. Each handler cites the section of docs/wire/teamcenter.md (and its source) it follows.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::schema::{self, Policy};
use super::store::{RECORD_TYPE, REVISION_TYPE, TcStore};

/// What every operation handler gets.
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a mut TcStore,
    pub(crate) policy: &'a Policy,
    pub(crate) now: DateTime<Utc>,
}

/// `http://teamcenter.com/Schemas/{rest}`, e.g. `Core/2011-06/Session.LoginResponse`.
pub(crate) fn qname(rest: &str) -> String {
    format!("http://teamcenter.com/Schemas/{rest}")
}

/// A `ServiceData` under construction (tcsoa `gen/Server.py`).
#[derive(Default)]
pub(crate) struct Sd {
    model: Map<String, Value>,
    plain: Vec<String>,
    pub(crate) created: Vec<String>,
    pub(crate) updated: Vec<String>,
    pub(crate) deleted: Vec<String>,
    partial: Vec<Value>,
}

impl Sd {
    /// Adds an object (with the policy's properties) to `modelObjects`.
    pub(crate) fn object(&mut self, ctx: &Ctx<'_>, uid: &str) {
        let obj = if let Some(r) = ctx.store.revisions.get(uid) {
            schema::declared(REVISION_TYPE).map(|t| schema::revision_object(r, t, ctx.policy))
        } else if let Some(r) = ctx.store.records.get(uid) {
            schema::declared(RECORD_TYPE).map(|t| schema::record_object(r, t, ctx.policy))
        } else {
            None
        };
        if let Some(obj) = obj {
            self.model.insert(uid.to_owned(), obj);
        }
    }

    /// Adds an object and lists it as `plain`.
    pub(crate) fn plain(&mut self, ctx: &Ctx<'_>, uid: &str) {
        self.object(ctx, uid);
        self.plain.push(uid.to_owned());
    }

    /// Adds a prebuilt model object.
    pub(crate) fn raw(&mut self, uid: &str, obj: Value) {
        self.model.insert(uid.to_owned(), obj);
    }

    /// Adds a partial error (level 3).
    pub(crate) fn error(
        &mut self,
        client_id: Option<&str>,
        index: Option<usize>,
        uid: Option<&str>,
        code: i64,
        message: &str,
    ) {
        let mut e = json!({"errorValues": [{"code": code, "level": 3, "message": message}]});
        if let Some(c) = client_id {
            e["clientId"] = json!(c);
        }
        if let Some(i) = index {
            e["clientIndex"] = json!(i);
        }
        if let Some(u) = uid {
            e["uid"] = json!(u);
        }
        self.partial.push(e);
    }

    /// The JSON.
    pub(crate) fn json(self) -> Value {
        json!({"plain": self.plain, "created": self.created, "updated": self.updated,
            "deleted": self.deleted, "partialErrors": self.partial, "modelObjects": self.model})
    }
}

/// A reference `{uid,type,className}` to a known object.
pub(crate) fn reference(store: &TcStore, uid: &str) -> Value {
    let ty = store.type_of(uid).map_or("unknownType", |t| t.name);
    json!({"uid": uid, "type": ty, "className": ty})
}

/// The `uid` of an object reference in a request.
pub(crate) fn uid_of(v: Option<&Value>) -> &str {
    v.and_then(|o| o.get("uid"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `Core-2007-09-DataManagement/loadObjects` — docs/wire/teamcenter.md, Properties (Mendix
/// `OPERATION_LOAD_OBJECTS`): the ServiceData itself, unknown UIDs as partial errors.
pub(crate) fn load_objects(ctx: &mut Ctx<'_>, body: &Value) -> Value {
    let mut sd = Sd::default();
    let uids = body
        .get("uids")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, u) in uids.iter().enumerate() {
        let uid = u.as_str().unwrap_or_default();
        if ctx.store.type_of(uid).is_some() {
            sd.plain(ctx, uid);
        } else {
            sd.error(
                None,
                Some(i),
                Some(uid),
                515001,
                &format!("The object with UID {uid} does not exist."),
            );
        }
    }
    let mut out = sd.json();
    out[".QName"] = json!(qname("Soa/2006-03/Base.ServiceData"));
    out
}

/// `Core-2007-01-DataManagement/getItemFromId` — docs/wire/teamcenter.md, Part revisions
/// (Mendix `OPERATION_GET_ITEM_FROM_ID`, obsidian plugin). Empty `revIds`: every revision.
pub(crate) fn get_item_from_id(ctx: &mut Ctx<'_>, body: &Value) -> Value {
    let mut sd = Sd::default();
    let mut output = Vec::new();
    let infos = body
        .get("infos")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, info) in infos.iter().enumerate() {
        let id = info
            .get("itemId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let wanted: Vec<&str> = info
            .get("revIds")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some((item_uid, revs)) = ctx.store.item(id).cloned() else {
            sd.error(
                None,
                Some(i),
                None,
                214100,
                &format!("The Item ID {id} was not found."),
            );
            continue;
        };
        let mut rev_out = Vec::new();
        for uid in &revs {
            let Some(rev) = ctx.store.revisions.get(uid) else {
                continue;
            };
            if !wanted.is_empty() && !wanted.contains(&rev.revision.as_str()) {
                continue;
            }
            rev_out.push(json!({"itemRevision": reference(ctx.store, uid), "datasets": []}));
            sd.plain(ctx, uid);
        }
        sd.raw(&item_uid, schema::item_object(&item_uid, id, ctx.policy));
        output.push(
            json!({"item": {"uid": item_uid, "type": "Item", "className": "Item"},
            "itemRevOutput": rev_out}),
        );
    }
    json!({".QName": qname("Core/2007-01/DataManagement.GetItemFromIdResponse"),
        "output": output, "ServiceData": sd.json()})
}

/// `Core-2011-06-Session/getTypeDescriptions` — docs/wire/teamcenter.md, Schema discovery
/// (Mendix `OPERATION_GETTYPEDESCRIPTION`; layout inferred).
pub(crate) fn get_type_descriptions(body: &Value) -> Value {
    let mut sd = Sd::default();
    let mut types = Vec::new();
    let names = body
        .get("typeNames")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, n) in names.iter().enumerate() {
        let name = n.as_str().unwrap_or_default();
        match schema::declared(name) {
            Some(t) => types.push(t.describe()),
            None => sd.error(
                None,
                Some(i),
                None,
                39014,
                &format!("The type {name} does not exist."),
            ),
        }
    }
    json!({".QName": qname("Core/2011-06/Session.TypeSchema"), "types": types, "ServiceData": sd.json()})
}
