//! The Windchill emulator's state: part revisions, documents, describe links and sessions, with
//! the indices that keep every list query at O(page + log n): `(LastModified, ID)` ordered sets,
//! part number → revisions, link id → documents.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::metadata::{
    EdmType, LINK_SOFT_TYPE, PART_PROPERTIES, PropDef, document_properties, prop_type,
};
use super::odata::{CollectionQuery, Entity, Val};
use crate::framework::clock::iso;
use crate::framework::paging::{Key, PageCursors, Walk};

/// Display text of a lifecycle state value.
pub(crate) fn state_display(value: &str) -> String {
    match value {
        "RELEASED" => "Released".into(),
        "INWORK" => "In Work".into(),
        "UNDERREVIEW" => "Under Review".into(),
        "OBSOLETE" => "Obsolete".into(),
        other => other.to_owned(),
    }
}

/// One part revision (its latest iteration).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    pub(crate) id: String,
    pub(crate) number: String,
    pub(crate) name: String,
    pub(crate) revision: String,
    pub(crate) iteration: u32,
    pub(crate) state: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    pub(crate) latest: bool,
    pub(crate) sku: Option<String>,
}

impl Entity for Part {
    fn val(&self, prop: &str) -> Val<'_> {
        match prop {
            "ID" => Val::Str(&self.id),
            "Number" => Val::Str(&self.number),
            "Name" => Val::Str(&self.name),
            "Revision" => Val::Str(&self.revision),
            "LastModified" => Val::Time(self.modified),
            "CreatedOn" => Val::Time(self.created),
            "Latest" => Val::Bool(self.latest),
            "Sku" => self.sku.as_deref().map_or(Val::Null, Val::Str),
            // Version and Iteration are derived strings; the filter parser refuses State.
            _ => Val::Null,
        }
    }
}

impl Part {
    /// The entity JSON, limited to `select` when given.
    pub(crate) fn to_json(&self, select: Option<&[String]>) -> Value {
        let all = json!({
            "ID": self.id,
            "Number": self.number,
            "Name": self.name,
            "Version": format!("{}.{}", self.revision, self.iteration),
            "Revision": self.revision,
            "Iteration": self.iteration.to_string(),
            "State": {"Value": self.state, "Display": state_display(&self.state)},
            "LastModified": iso(self.modified),
            "CreatedOn": iso(self.created),
            "Latest": self.latest,
            "Sku": self.sku,
        });
        select_props(all, select)
    }
}

/// A document (a clip's record on the PLM side).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub(crate) id: String,
    pub(crate) number: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    /// The soft type the document is an instance of (`@odata.type` `#PTC.DocMgmt.<name>`);
    /// None for a plain WTDocument.
    pub(crate) soft_type: Option<String>,
    /// Whether the document's type carries the link IBAs.
    pub(crate) ibas: bool,
    /// Every other declared property that has a value.
    pub(crate) fields: BTreeMap<String, Value>,
}

impl Entity for Document {
    fn val(&self, prop: &str) -> Val<'_> {
        match prop {
            "ID" => Val::Str(&self.id),
            "Number" => Val::Str(&self.number),
            "LastModified" => Val::Time(self.modified),
            "CreatedOn" => Val::Time(self.created),
            _ => match self.fields.get(prop) {
                Some(Value::String(s)) => Val::Str(s),
                Some(Value::Bool(b)) => Val::Bool(*b),
                _ => Val::Null,
            },
        }
    }
}

impl Document {
    /// The entity JSON (unset properties as `null`), limited to `select` when given.
    pub(crate) fn to_json(&self, select: Option<&[String]>) -> Value {
        let mut m = Map::new();
        if let Some(t) = &self.soft_type {
            // A derived-type instance names its type (OData JSON Format §4.5.3).
            m.insert("@odata.type".into(), json!(format!("#PTC.DocMgmt.{t}")));
        }
        for (prop, _, _) in self.properties() {
            let v = match *prop {
                "ID" => json!(self.id),
                "Number" => json!(self.number),
                "LastModified" => json!(iso(self.modified)),
                "CreatedOn" => json!(iso(self.created)),
                other => self.fields.get(other).cloned().unwrap_or(Value::Null),
            };
            m.insert((*prop).to_owned(), v);
        }
        select_props(Value::Object(m), select)
    }

    /// The properties of the document's type.
    pub(crate) fn properties(&self) -> &'static [PropDef] {
        document_properties(self.ibas)
    }

    /// The qualified name of the document's type.
    pub(crate) fn type_name(&self) -> String {
        format!(
            "PTC.DocMgmt.{}",
            self.soft_type.as_deref().unwrap_or("Document")
        )
    }
}

fn select_props(all: Value, select: Option<&[String]>) -> Value {
    match (select, all) {
        (Some(names), Value::Object(mut m)) => {
            let mut out: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| k.starts_with('@'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for n in names {
                if let Some(v) = m.remove(n) {
                    out.insert(n.clone(), v);
                }
            }
            Value::Object(out)
        }
        (_, all) => all,
    }
}

/// A client error with its OData error code.
pub(crate) type Refusal = (u16, &'static str, String);

fn bad(message: String) -> Refusal {
    (400, "INVALID_PROPERTY", message)
}

/// Checks a create/update body against the properties of the document's type (`type_name`)
/// and returns the writable fields.
fn document_fields(
    body: &Map<String, Value>,
    props: &[PropDef],
    type_name: &str,
) -> Result<Vec<(String, Value)>, Refusal> {
    let mut out = Vec::new();
    for (k, v) in body {
        if k.starts_with('@') || k.contains("@odata.") {
            continue;
        }
        match props.iter().find(|p| p.0 == k) {
            None => {
                return Err(bad(format!(
                    "The property '{k}' does not exist in type '{type_name}'."
                )));
            }
            Some((_, _, true)) => return Err(bad(format!("The property '{k}' is read-only."))),
            Some((_, EdmType::Enum, _)) => {
                let value = v.get("Value").and_then(Value::as_str).or(v.as_str());
                let Some(value) = value else {
                    return Err(bad(format!("The property '{k}' needs a Value.")));
                };
                out.push((
                    k.clone(),
                    json!({"Value": value, "Display": state_display(value)}),
                ));
            }
            // Values as `$metadata` types them: a soft attribute typed Boolean takes a JSON
            // boolean, a DateTimeOffset an RFC 3339 string; a string for either is refused, as
            // an OData service refuses a literal it cannot convert.
            Some((_, EdmType::Boolean, _)) => match v {
                Value::Bool(_) | Value::Null => out.push((k.clone(), v.clone())),
                _ => {
                    return Err(bad(format!(
                        "Cannot convert the value {v} of property '{k}' to type Edm.Boolean."
                    )));
                }
            },
            Some((_, EdmType::DateTimeOffset, _)) => match v {
                Value::String(t) if DateTime::parse_from_rfc3339(t).is_ok() => {
                    out.push((k.clone(), v.clone()));
                }
                Value::Null => out.push((k.clone(), v.clone())),
                _ => {
                    return Err(bad(format!(
                        "Cannot convert the value {v} of property '{k}' to type Edm.DateTimeOffset."
                    )));
                }
            },
            Some(_) => match v {
                Value::String(_) | Value::Null => out.push((k.clone(), v.clone())),
                _ => {
                    return Err(bad(format!(
                        "The property '{k}' is of type Edm.String; got {v}."
                    )));
                }
            },
        }
    }
    Ok(out)
}

/// Everything the Windchill emulator holds (cloned to undo a failed `$batch` change set).
#[derive(Debug, Default, Clone)]
pub(crate) struct WindchillStore {
    parts: HashMap<String, Part>,
    parts_by_modified: BTreeSet<Key>,
    parts_by_number: HashMap<String, Vec<String>>,
    parts_gen: u64,
    docs: HashMap<String, Document>,
    docs_by_modified: BTreeSet<Key>,
    docs_by_link: HashMap<String, BTreeSet<String>>,
    docs_by_number: HashMap<String, String>,
    docs_order: Vec<String>,
    docs_gen: u64,
    /// (part id, document id) → link id.
    links: BTreeMap<(String, String), String>,
    /// Session id → CSRF nonce.
    sessions: HashMap<String, String>,
    cursors: PageCursors,
    next_part: u64,
    next_doc: u64,
    next_link: u64,
    /// Document id → (property, value) set just before its next PATCH is applied: a person's
    /// edit landing between a client's read and its write.
    pub(crate) edit_before_patch: HashMap<String, (String, Value)>,
    /// PATCH answers 204 even when asked for `return=representation` (a server that does not
    /// apply the preference).
    pub(crate) ignore_return_preference: bool,
    /// The soft type of WTDocument that carries the link IBAs (a derived entity type in
    /// `DocMgmt/$metadata`); None: the IBAs are WTDocument's own. Set before documents exist.
    pub(crate) soft_type: Option<String>,
    /// `$batch` answers 501: a server without batch support.
    pub(crate) batch_unsupported: bool,
}

/// First object ids; each class counts on its own.
const FIRST_PART_OID: u64 = 100_001;
const FIRST_DOC_OID: u64 = 500_001;
const FIRST_LINK_OID: u64 = 900_001;

impl WindchillStore {
    pub(crate) fn new() -> Self {
        WindchillStore {
            next_part: FIRST_PART_OID,
            next_doc: FIRST_DOC_OID,
            next_link: FIRST_LINK_OID,
            soft_type: Some(LINK_SOFT_TYPE.to_owned()),
            ..Default::default()
        }
    }

    // ---- parts ----

    /// Adds a part revision; its id is assigned here.
    pub(crate) fn add_part(&mut self, mut part: Part) -> String {
        part.id = format!("OR:wt.part.WTPart:{}", self.next_part);
        self.next_part += 1;
        let id = part.id.clone();
        self.parts_by_modified.insert((part.modified, id.clone()));
        self.parts_by_number
            .entry(part.number.clone())
            .or_default()
            .push(id.clone());
        self.parts.insert(id.clone(), part);
        self.parts_gen += 1;
        id
    }

    /// Changes a part and keeps the indices right (the caller sets `modified` if it should move).
    pub(crate) fn update_part(&mut self, id: &str, f: impl FnOnce(&mut Part)) -> bool {
        let Some(part) = self.parts.get_mut(id) else {
            return false;
        };
        self.parts_by_modified
            .remove(&(part.modified, id.to_owned()));
        f(part);
        self.parts_by_modified
            .insert((part.modified, id.to_owned()));
        self.parts_gen += 1;
        true
    }

    pub(crate) fn part(&self, id: &str) -> Option<&Part> {
        self.parts.get(id)
    }

    /// Revisions of a part number, oldest first.
    pub(crate) fn part_ids_by_number(&self, number: &str) -> Vec<String> {
        self.parts_by_number
            .get(number)
            .cloned()
            .unwrap_or_default()
    }

    /// Every part, in `(LastModified, ID)` order.
    pub(crate) fn all_parts(&self) -> Vec<&Part> {
        self.parts_by_modified
            .iter()
            .filter_map(|(_, id)| self.parts.get(id))
            .collect()
    }

    pub(crate) fn query_parts(&mut self, q: &CollectionQuery) -> (Vec<Value>, bool) {
        let by_number = &self.parts_by_number;
        let parts = &self.parts;
        let lookup = |prop: &str, v: &str| -> Vec<String> {
            match prop {
                "Number" => by_number.get(v).cloned().unwrap_or_default(),
                _ if parts.contains_key(v) => vec![v.to_owned()],
                _ => Vec::new(),
            }
        };
        let sig = format!("parts|{}", q.signature);
        let ids = run_query(
            parts,
            |_: &Part| true,
            &self.parts_by_modified,
            &["Number", "ID"],
            lookup,
            q,
            &sig,
            self.parts_gen,
            &mut self.cursors,
        );
        let select = q.select.as_deref();
        let (ids, more) = ids;
        let page = ids
            .iter()
            .filter_map(|id| parts.get(id))
            .map(|p| p.to_json(select))
            .collect();
        (page, more)
    }

    // ---- documents ----

    /// The type a create asks for — `@odata.type` in the body or the type-cast segment of the
    /// path (`cast`), fully qualified either way (wccg_restapis_wcsubtypes_in_OData.html) — as
    /// (soft type, carries the IBAs). A type the domain does not define is refused.
    fn requested_type(
        &self,
        body: &Map<String, Value>,
        cast: Option<&str>,
    ) -> Result<(Option<String>, bool), Refusal> {
        let annotated = match body.get("@odata.type") {
            None => None,
            Some(Value::String(t)) => Some(t.strip_prefix('#').unwrap_or(t)),
            Some(other) => return Err(bad(format!("Invalid @odata.type {other}."))),
        };
        let name = match (annotated, cast) {
            (Some(a), Some(c)) if a != c => {
                return Err(bad(format!(
                    "The @odata.type '{a}' does not match the type cast '{c}'."
                )));
            }
            (Some(t), _) | (None, Some(t)) => t,
            (None, None) => "PTC.DocMgmt.Document",
        };
        if name == "PTC.DocMgmt.Document" {
            return Ok((None, self.soft_type.is_none()));
        }
        match (&self.soft_type, name.strip_prefix("PTC.DocMgmt.")) {
            (Some(soft), Some(local)) if local == soft => Ok((Some(soft.clone()), true)),
            _ => Err((
                400,
                "INVALID_TYPE",
                format!(
                    "The type '{name}' is not defined in the domain or does not derive from 'PTC.DocMgmt.Document'."
                ),
            )),
        }
    }

    /// Whether `cast` (a qualified type name) is the soft type.
    pub(crate) fn is_soft_type(&self, cast: &str) -> bool {
        self.soft_type
            .as_deref()
            .is_some_and(|s| cast.strip_prefix("PTC.DocMgmt.") == Some(s))
    }

    /// Creates a document from a POST body, of the type `@odata.type` or the type cast names.
    pub(crate) fn create_document(
        &mut self,
        body: &Map<String, Value>,
        cast: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Value, Refusal> {
        let (soft_type, ibas) = self.requested_type(body, cast)?;
        let type_name = format!("PTC.DocMgmt.{}", soft_type.as_deref().unwrap_or("Document"));
        let fields = document_fields(body, document_properties(ibas), &type_name)?;
        if !body.get("Name").is_some_and(Value::is_string) {
            return Err(bad("The property 'Name' is required.".into()));
        }
        if let Some(bind) = body.get("Context@odata.bind") {
            let ok = bind
                .as_str()
                .is_some_and(|b| b.starts_with("Containers('") && b.ends_with("')"));
            if !ok {
                return Err((
                    400,
                    "INVALID_BIND",
                    format!("Cannot bind Context to {bind}."),
                ));
            }
        }
        let n = self.next_doc;
        self.next_doc += 1;
        let mut doc = Document {
            id: format!("OR:wt.doc.WTDocument:{n}"),
            number: format!("{n:010}"),
            created: now,
            modified: now,
            soft_type,
            ibas,
            fields: BTreeMap::new(),
        };
        doc.fields.insert(
            "State".into(),
            json!({"Value": "INWORK", "Display": state_display("INWORK")}),
        );
        for (k, v) in fields {
            doc.fields.insert(k, v);
        }
        let json = doc.to_json(None);
        self.insert_document(doc);
        Ok(json)
    }

    fn insert_document(&mut self, doc: Document) {
        self.index_doc(&doc);
        self.docs_order.push(doc.id.clone());
        self.docs_by_number
            .insert(doc.number.clone(), doc.id.clone());
        self.docs.insert(doc.id.clone(), doc);
        self.docs_gen += 1;
    }

    /// A copy of a document under a new id and number, created at `created` and modified at
    /// `now`, describing the same parts (a document copied by hand, or the duplicates an older
    /// partreel made); None for an unknown document.
    pub(crate) fn duplicate_document(
        &mut self,
        id: &str,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        self.copy_document(id, None, created, now)
    }

    /// Copies a document (new ID and number), attached to every part the original describes;
    /// with `link_id`, the copy's `PartreelLinkId` is that value.
    pub(crate) fn copy_document(
        &mut self,
        id: &str,
        link_id: Option<&str>,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let original = self.docs.get(id)?;
        let (soft_type, ibas) = (original.soft_type.clone(), original.ibas);
        let mut fields = original.fields.clone();
        if let Some(l) = link_id {
            fields.insert("PartreelLinkId".into(), Value::String(l.to_owned()));
        }
        let n = self.next_doc;
        self.next_doc += 1;
        let copy = Document {
            id: format!("OR:wt.doc.WTDocument:{n}"),
            number: format!("{n:010}"),
            created,
            modified: now,
            soft_type,
            ibas,
            fields,
        };
        let copy_id = copy.id.clone();
        self.insert_document(copy);
        let parts: Vec<String> = self
            .links
            .keys()
            .filter(|(_, d)| d == id)
            .map(|(p, _)| p.clone())
            .collect();
        for p in parts {
            let _ = self.link(&p, &copy_id);
        }
        Some(copy_id)
    }

    fn index_doc(&mut self, doc: &Document) {
        self.docs_by_modified.insert((doc.modified, doc.id.clone()));
        if let Some(Value::String(l)) = doc.fields.get("PartreelLinkId") {
            self.docs_by_link
                .entry(l.clone())
                .or_default()
                .insert(doc.id.clone());
        }
    }

    fn unindex_doc(&mut self, id: &str) {
        let Some(doc) = self.docs.get(id) else { return };
        self.docs_by_modified.remove(&(doc.modified, id.to_owned()));
        if let Some(Value::String(l)) = doc.fields.get("PartreelLinkId")
            && let Some(set) = self.docs_by_link.get_mut(l)
        {
            set.remove(id);
            if set.is_empty() {
                self.docs_by_link.remove(l);
            }
        }
    }

    /// Applies a PATCH body to a document, against the properties of the document's own type
    /// (OData v4: an entity keeps its type; a body's `@odata.type` must name it).
    pub(crate) fn patch_document(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, Refusal> {
        let Some(doc) = self.docs.get(id) else {
            return Err((404, "NOT_FOUND", format!("Document '{id}' does not exist.")));
        };
        let type_name = doc.type_name();
        if let Some(t) = body.get("@odata.type")
            && t.as_str().map(|t| t.trim_start_matches('#')) != Some(type_name.as_str())
        {
            return Err(bad(format!(
                "The @odata.type {t} is not the type of Document '{id}' ({type_name})."
            )));
        }
        let fields = document_fields(body, doc.properties(), &type_name)?;
        self.edit_document(id, |d| {
            for (k, v) in fields {
                d.fields.insert(k, v);
            }
            d.modified = now;
        });
        Ok(self
            .docs
            .get(id)
            .map(|d| d.to_json(None))
            .unwrap_or_default())
    }

    /// Changes a document and keeps the indices right.
    pub(crate) fn edit_document(&mut self, id: &str, f: impl FnOnce(&mut Document)) -> bool {
        if !self.docs.contains_key(id) {
            return false;
        }
        self.unindex_doc(id);
        let Some(mut doc) = self.docs.remove(id) else {
            return false;
        };
        f(&mut doc);
        self.index_doc(&doc);
        self.docs.insert(id.to_owned(), doc);
        self.docs_gen += 1;
        true
    }

    pub(crate) fn document(&self, id: &str) -> Option<&Document> {
        self.docs.get(id)
    }

    /// Every document, in creation order.
    pub(crate) fn all_documents(&self) -> Vec<&Document> {
        self.docs_order
            .iter()
            .filter_map(|id| self.docs.get(id))
            .collect()
    }

    /// One page of `Documents` (`cast`: of `Documents/PTC.DocMgmt.<soft type>`, its instances
    /// only).
    pub(crate) fn query_documents(
        &mut self,
        q: &CollectionQuery,
        cast: bool,
    ) -> (Vec<Value>, bool) {
        let by_link = &self.docs_by_link;
        let by_number = &self.docs_by_number;
        let docs = &self.docs;
        let lookup = |prop: &str, v: &str| -> Vec<String> {
            match prop {
                "PartreelLinkId" => by_link
                    .get(v)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default(),
                "Number" => by_number.get(v).cloned().into_iter().collect(),
                _ if docs.contains_key(v) => vec![v.to_owned()],
                _ => Vec::new(),
            }
        };
        let sig = format!("docs|{cast}|{}", q.signature);
        let (ids, more) = run_query(
            docs,
            |d: &Document| !cast || d.soft_type.is_some(),
            &self.docs_by_modified,
            &["PartreelLinkId", "Number", "ID"],
            lookup,
            q,
            &sig,
            self.docs_gen,
            &mut self.cursors,
        );
        let select = q.select.as_deref();
        let page = ids
            .iter()
            .filter_map(|id| docs.get(id))
            .map(|d| d.to_json(select))
            .collect();
        (page, more)
    }

    // ---- describe links ----

    /// Links a document to a part; `Err` when either is unknown or the link exists.
    pub(crate) fn link(&mut self, part_id: &str, doc_id: &str) -> Result<Value, Refusal> {
        if !self.parts.contains_key(part_id) {
            return Err((
                404,
                "NOT_FOUND",
                format!("Part '{part_id}' does not exist."),
            ));
        }
        let Some(doc) = self.docs.get(doc_id) else {
            return Err((
                400,
                "INVALID_BIND",
                format!("Document '{doc_id}' does not exist."),
            ));
        };
        let key = (part_id.to_owned(), doc_id.to_owned());
        if self.links.contains_key(&key) {
            return Err((
                400,
                "DUPLICATE_LINK",
                format!("Part '{part_id}' is already described by document '{doc_id}'."),
            ));
        }
        let link_id = format!("OR:wt.part.WTPartDescribeLink:{}", self.next_link);
        self.next_link += 1;
        let body = json!({"ID": link_id, "DescribedBy": doc.to_json(None)});
        self.links.insert(key, link_id);
        Ok(body)
    }

    /// The part's describe links: (link id, document).
    pub(crate) fn describe_links(&self, part_id: &str) -> Vec<(String, &Document)> {
        let from = (part_id.to_owned(), String::new());
        self.links
            .range(from..)
            .take_while(|((p, _), _)| p == part_id)
            .filter_map(|((_, d), link)| self.docs.get(d).map(|doc| (link.clone(), doc)))
            .collect()
    }

    /// Every (part id, document id) link.
    pub(crate) fn all_links(&self) -> Vec<(String, String)> {
        self.links.keys().cloned().collect()
    }

    // ---- sessions ----

    pub(crate) fn has_session(&self, sid: &str) -> bool {
        self.sessions.contains_key(sid)
    }

    pub(crate) fn open_session(&mut self, sid: String, nonce: String) {
        self.sessions.insert(sid, nonce);
    }

    pub(crate) fn nonce(&self, sid: &str) -> Option<&str> {
        self.sessions.get(sid).map(String::as_str)
    }

    pub(crate) fn expire_sessions(&mut self) {
        self.sessions.clear();
    }

    /// Every live session id and its nonce (for tests that check no secret reaches a log).
    pub(crate) fn session_secrets(&self) -> Vec<String> {
        self.sessions
            .iter()
            .flat_map(|(sid, nonce)| [sid.clone(), nonce.clone()])
            .collect()
    }
}

/// Ids of one page of a collection query, and whether more follow.
#[allow(clippy::too_many_arguments)]
fn run_query<E: Entity>(
    map: &HashMap<String, E>,
    admit: impl Fn(&E) -> bool,
    by_modified: &BTreeSet<Key>,
    indexed: &[&str],
    lookup: impl Fn(&str, &str) -> Vec<String>,
    q: &CollectionQuery,
    sig: &str,
    generation: u64,
    cursors: &mut PageCursors,
) -> (Vec<String>, bool) {
    let remaining = q.top.map_or(usize::MAX, |t| t.saturating_sub(q.offset));
    let limit = q.page_size.min(remaining);
    if limit == 0 {
        return (Vec::new(), false);
    }
    let keep = |id: &str| -> bool {
        match (&q.filter, map.get(id)) {
            (_, None) => false,
            (_, Some(e)) if !admit(e) => false,
            (None, Some(_)) => true,
            (Some(f), Some(e)) => f.eval(e, q.allow_time),
        }
    };
    let candidates = q.filter.as_ref().and_then(|f| f.index_lookups(indexed));
    let (keys, more) = match candidates {
        Some(lookups) => {
            let mut keys: BTreeSet<Key> = BTreeSet::new();
            for (prop, v) in lookups {
                for id in lookup(&prop, &v) {
                    if keep(&id)
                        && let Some(t) = map.get(&id).map(|e| modified_of(e))
                    {
                        keys.insert((t, id));
                    }
                }
            }
            let all: Vec<Key> = if q.desc {
                keys.into_iter().rev().collect()
            } else {
                keys.into_iter().collect()
            };
            let more = all.len() > q.offset + limit;
            (all.into_iter().skip(q.offset).take(limit).collect(), more)
        }
        None => {
            let hint = cursors.hint(sig, q.offset, generation);
            let walk = Walk {
                desc: q.desc,
                lower: q
                    .filter
                    .as_ref()
                    .and_then(|f| f.lower_bound("LastModified", q.allow_time)),
                offset: q.offset,
                limit,
                resume_after: hint.as_ref(),
            };
            walk.run(by_modified, |k| keep(&k.1))
        }
    };
    let more = more && q.offset + keys.len() < q.top.unwrap_or(usize::MAX);
    if more && let Some(last) = keys.last() {
        cursors.remember(sig, q.offset + keys.len(), generation, last.clone());
    }
    (keys.into_iter().map(|k| k.1).collect(), more)
}

fn modified_of<E: Entity>(e: &E) -> DateTime<Utc> {
    match e.val("LastModified") {
        Val::Time(t) => t,
        _ => DateTime::<Utc>::MIN_UTC,
    }
}

/// The declared type of a part property (for edits from tests).
pub(crate) fn part_prop(name: &str) -> Option<EdmType> {
    prop_type(PART_PROPERTIES, name)
}

/// The declared properties of a link document (its type carrying the IBAs).
pub(crate) fn document_props() -> &'static [PropDef] {
    document_properties(true)
}
