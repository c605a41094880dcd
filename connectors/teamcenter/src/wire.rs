//! The JSON Teamcenter's SOA services speak (docs/wire/teamcenter.md): operation paths, the
//! request envelope with its object property policy, `ServiceData` with model objects and
//! partial errors, the operation outputs partreel reads, and the exception bodies.
//!
//! Outputs are decoded leniently (missing arrays are empty): the server omits empty members, and
//! a record that lacks what partreel needs is rejected later, naming the property.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};

/// Operation paths under `{base}/JsonRestServices/`, each `{Library}-{YYYY}-{MM}-{Service}/{op}`.
pub(crate) mod op {
    /// Mendix `Constants.OPERATION_LOGIN`.
    pub const LOGIN: &str = "Core-2011-06-Session/login";
    /// Mendix `Constants.OPERATION_LOGOUT`.
    pub const LOGOUT: &str = "Core-2006-03-Session/logout";
    /// Mendix `Constants.OPERATION_GETTYPEDESCRIPTION`.
    pub const GET_TYPE_DESCRIPTIONS: &str = "Core-2011-06-Session/getTypeDescriptions";
    /// Mendix `Constants.OPERATION_GET_ITEM_FROM_ID`.
    pub const GET_ITEM_FROM_ID: &str = "Core-2007-01-DataManagement/getItemFromId";
    /// Mendix `Constants.OPERATION_LOAD_OBJECTS`.
    pub const LOAD_OBJECTS: &str = "Core-2007-09-DataManagement/loadObjects";
    /// Mendix `Constants.OPERATION_CREATEOBJECTS`.
    pub const CREATE_OBJECTS: &str = "Core-2015-07-DataManagement/createRelateAndSubmitObjects2";
    /// Mendix `Constants.OPERATION_CREATERELATIONS`.
    pub const CREATE_RELATIONS: &str = "Core-2006-03-DataManagement/createRelations";
    /// Mendix `Constants.OPERATION_EXPAND_GRM_RELATIONS_PRIMARY`.
    pub const EXPAND_PRIMARY: &str = "Core-2007-09-DataManagement/expandGRMRelationsForPrimary";
    /// Mendix `Constants.OPERATION_SETPROPERTIES`.
    pub const SET_PROPERTIES: &str = "Core-2010-09-DataManagement/setProperties";
    /// tcsoa `Core/_2006_03/DataManagement.deleteRelations`.
    pub const DELETE_RELATIONS: &str = "Core-2006-03-DataManagement/deleteRelations";
}

/// Namespace of the SOA exception QNames (Mendix `Constants.QNAME_*_EXP`).
pub(crate) const EXCEPTION_PREFIX: &str = "http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.";
/// The exception of an expired or missing session.
pub(crate) const INVALID_USER: &str = "InvalidUserException";
/// The exception of refused credentials.
pub(crate) const INVALID_CREDENTIALS: &str = "InvalidCredentialsException";
/// `setProperties` timestamp meaning "no optimistic check" (tcsoa `basics.py`).
pub(crate) const NULL_TIMESTAMP: &str = "0001-01-01T00:00:00";

/// The `header.state` partreel sends on every call but login (tcsoa / Mendix envelope).
fn state(locale: &str) -> Value {
    json!({"formatProperties": true, "stateless": true, "unloadObjects": false,
        "enableServerStateHeaders": true, "locale": locale})
}

/// An object property policy: for each type, the properties to return.
pub(crate) fn policy(types: &[(&str, &[String])]) -> Value {
    let types: Vec<Value> = types
        .iter()
        .map(|(name, props)| {
            let props: Vec<Value> = props.iter().map(|p| json!({"name": p})).collect();
            json!({"name": name, "properties": props})
        })
        .collect();
    json!({"useRefCount": false, "types": types})
}

/// The request envelope `{"header":{"state":…,"policy":…},"body":…}`.
pub(crate) fn envelope(body: Value, policy: Option<&Value>, locale: &str) -> Value {
    json!({"header": {"state": state(locale), "policy": policy.cloned().unwrap_or(json!({}))},
        "body": body})
}

/// An object reference in a request.
pub(crate) fn obj_ref(uid: &str, ty: &str) -> Value {
    json!({"uid": uid, "type": ty})
}

/// UID of SOA's null tag (plm-apis.md §1.1, tcsoa: the null reference is the tag
/// "AAAAAAAAAAAAAA", not JSON `null`).
pub const NULL_TAG_UID: &str = "AAAAAAAAAAAAAA";

/// The null object reference, as SOA serializes it.
pub(crate) fn null_ref() -> Value {
    json!({"uid": NULL_TAG_UID, "type": "unknownType", "className": "unknownClass"})
}

/// An object reference in an answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ObjRef {
    /// The object's UID.
    pub uid: String,
}

/// One property value: `dbValues` (internal) and `uiValues` (display).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Prop {
    #[serde(default)]
    pub db_values: Vec<Option<String>>,
    #[serde(default)]
    pub ui_values: Vec<Option<String>>,
}

impl Prop {
    /// The internal values, nulls dropped.
    pub fn db(&self) -> Vec<&str> {
        self.db_values
            .iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// The display values, nulls dropped.
    pub fn ui(&self) -> Vec<&str> {
        self.ui_values
            .iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

/// A model object in `ServiceData.modelObjects`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModelObject {
    /// UID.
    pub uid: String,
    /// The properties the policy asked for.
    #[serde(default)]
    pub props: HashMap<String, Prop>,
}

/// One error of a partial error stack.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorValue {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub level: Option<i64>,
}

/// A failure of one input element of a batch call.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PartialError {
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// A number or a numeric string, depending on the server.
    #[serde(default)]
    pub client_index: Option<Value>,
    #[serde(default)]
    pub error_values: Vec<ErrorValue>,
}

impl PartialError {
    /// The input position it names, if any.
    pub fn index(&self) -> Option<usize> {
        match self.client_index.as_ref()? {
            Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The server's messages with their codes, e.g. `Property … is invalid (code 38015)`.
    pub fn message(&self) -> String {
        let parts: Vec<String> = self
            .error_values
            .iter()
            .map(|e| match e.code {
                Some(c) => format!("{} (code {c})", e.message.trim()),
                None => e.message.trim().to_string(),
            })
            .collect();
        if parts.is_empty() {
            "partial error without a message".into()
        } else {
            parts.join("; ")
        }
    }

    /// True when any of its errors is at level error (3) or user error (4), or has no level.
    pub fn is_error(&self) -> bool {
        self.error_values.is_empty()
            || self
                .error_values
                .iter()
                .any(|e| e.level.is_none_or(|l| l >= 3))
    }
}

/// `ServiceData` (tcsoa `gen/Server.py`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceData {
    #[serde(default)]
    pub partial_errors: Vec<PartialError>,
    #[serde(default)]
    pub model_objects: HashMap<String, ModelObject>,
}

impl ServiceData {
    /// The partial errors that are errors (warnings and infos dropped).
    pub fn errors(&self) -> impl Iterator<Item = &PartialError> {
        self.partial_errors.iter().filter(|e| e.is_error())
    }
}

/// The `ServiceData` of an answer: its `ServiceData` member, or the answer itself when the
/// operation's output is a bare ServiceData.
pub(crate) fn service_data(answer: &Value) -> Result<ServiceData, String> {
    let sd = match answer.get("ServiceData") {
        Some(v) => v,
        None => answer,
    };
    ServiceData::deserialize(sd).map_err(|e| format!("ServiceData: {e}"))
}

/// The ServiceData of a `setProperties` answer: `{"data": ServiceData, "objPropMap": {…}}`
/// (`Teamcenter.Soa.Core._2010_09.DataManagement.setProperties`, SetPropertyResponse, as the TC
/// 2512 API browser lists it). An answer that carries the ServiceData the way other operations
/// do is read too; one with neither is malformed, never read as "nothing refused".
pub(crate) fn set_property_service_data(answer: &Value) -> Result<ServiceData, String> {
    let sd = answer
        .get("data")
        .filter(|v| v.is_object())
        .or_else(|| answer.get("ServiceData"))
        .ok_or_else(|| "neither data nor ServiceData in the answer".to_string())?;
    ServiceData::deserialize(sd).map_err(|e| format!("data: {e}"))
}

/// A whole-call exception (`.QName` under [`EXCEPTION_PREFIX`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exception {
    /// Short name, e.g. `InvalidUserException`.
    pub name: String,
    /// Error code.
    pub code: Option<i64>,
    /// Message.
    pub message: String,
}

/// The exception an answer carries instead of an output, if any.
pub(crate) fn exception(answer: &Value) -> Option<Exception> {
    let qname = answer.get(".QName")?.as_str()?;
    let name = qname.strip_prefix(EXCEPTION_PREFIX)?;
    Some(Exception {
        name: name.to_string(),
        code: answer.get("code").and_then(Value::as_i64),
        message: answer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

/// True when a body is an `InvalidUserException` (Mendix `Constants.InvalidUserException`).
pub(crate) fn is_invalid_user(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| exception(&v))
        .is_some_and(|e| e.name == INVALID_USER)
}

/// True when a body says the session is gone: an `InvalidUserException`, or an HTML/XML page
/// where JSON was expected (tcsoa `backend.py`: without a valid session the web tier may answer
/// with a page). A JSON body cut short is not this: it is a malformed answer.
pub(crate) fn is_stale(body: &[u8]) -> bool {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| body[i]) {
        Some(b'<') => true,
        Some(b'{') => is_invalid_user(body),
        _ => false,
    }
}

/// `executeBOQueriesWithSort` → `SavedQueriesResponse` (tcsoa `Query/_2007_09`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryResponse {
    #[serde(default)]
    pub array_of_results: Vec<QueryResults>,
}

/// One query's result UIDs.
#[derive(Debug, Deserialize)]
pub(crate) struct QueryResults {
    #[serde(rename = "objectUIDS", default)]
    pub object_uids: Vec<String>,
}

/// `getItemFromId` output (obsidian plugin, tcsoa).
#[derive(Debug, Deserialize)]
pub(crate) struct ItemFromIdResponse {
    #[serde(default)]
    pub output: Vec<ItemFromIdOutput>,
}

/// One item and its revisions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemFromIdOutput {
    #[serde(default)]
    pub item_rev_output: Vec<ItemRevOutput>,
}

/// One revision of an item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemRevOutput {
    pub item_revision: ObjRef,
}

/// `createRelateAndSubmitObjects2` → `CreateResponse`.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateResponse {
    #[serde(default)]
    pub output: Vec<CreateOut>,
}

/// The objects created for one input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateOut {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub objects: Vec<ObjRef>,
}

/// `createRelations` → `CreateRelationsResponse`.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateRelationsResponse {
    #[serde(default)]
    pub output: Vec<RelationOut>,
}

/// The relation created for one input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RelationOut {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub relation: Option<ObjRef>,
}

/// `expandGRMRelationsForPrimary` → `ExpandGRMRelationsResponse2` (tcsoa `Core/_2007_09`).
#[derive(Debug, Deserialize)]
pub(crate) struct ExpandResponse {
    #[serde(default)]
    pub output: Vec<ExpandOutput>,
}

/// The relations of one primary object.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExpandOutput {
    pub input_object: ObjRef,
    #[serde(default)]
    pub relationship_data: Vec<ExpandData>,
}

/// Relations of one type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExpandData {
    #[serde(default)]
    pub relationship_objects: Vec<Relationship>,
}

/// One related object (the relation itself is not needed).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Relationship {
    pub other_side_object: ObjRef,
}
