//! State of the 3DEXPERIENCE emulator: Engineering Items, Documents with their parent relations,
//! and the login state (passport tickets, 3DSpace sessions, CSRF tokens). Every modification
//! stamps the sim-clock `modified` and a new `cestamp` (docs/wire/threedx.md).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::framework::clock::iso;

/// The custom attribute of the emulated document type that holds partreel's link id.
pub const LINK_ID_ATTRIBUTE: &str = "partreelLinkId";
/// Custom attributes of the emulated document type (where partreel keeps link fields).
pub const DOCUMENT_ATTRIBUTES: &[&str] = &[
    LINK_ID_ATTRIBUTE,
    "partreelStatus",
    "assetId",
    "assetSystem",
    "clipUrl",
    "prompt",
    "model",
    "modelVersion",
    "campaign",
    "reviewStatus",
    "rightsNotes",
    "rightsExpiry",
    "visibleWatermark",
    "watermarkPreserved",
    "provenanceState",
    "sku",
];
/// The customer extension (deployment extension of `Document`) that carries
/// [`DOCUMENT_ATTRIBUTES`] by default: a document has them once the extension is applied —
/// `DocumentData.extensions` (ws3dx.document `core/data.impl/DocumentData.cs`) names the
/// extensions of a document, and customer attributes come with them.
pub const LINK_EXTENSION: &str = "PromptToPartLinkExt";
/// Standard document attributes a client may write.
const DOCUMENT_WRITABLE: &[&str] = &["title", "description"];
/// Keys of `dataelements` that set the parent relation on create/update.
const PARENT_KEYS: &[&str] = &["parentId", "parentRelName", "parentDirection"];

/// One Engineering Item (one revision, its own physical id).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Physical id (32 hex digits).
    pub id: String,
    /// Internal name (`prd-…`).
    pub name: String,
    /// Display title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Revision label.
    pub revision: String,
    /// Lifecycle state (`IN_WORK`, `FROZEN`, `RELEASED`, `OBSOLETE`).
    pub state: String,
    /// Enterprise Item Number.
    pub part_number: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last modification.
    pub modified: DateTime<Utc>,
    /// Change stamp, new at every modification.
    pub cestamp: String,
    /// `customerAttributes`.
    pub customer: Map<String, Value>,
    /// `dseno:EnterpriseAttributes`.
    pub enterprise: Map<String, Value>,
}

/// One Document.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Physical id.
    pub id: String,
    /// Autonamed `Doc-…`.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Lifecycle state.
    pub state: String,
    /// Creation time.
    pub originated: DateTime<Utc>,
    /// Last modification.
    pub modified: DateTime<Utc>,
    /// Change stamp.
    pub cestamp: String,
    /// Custom attributes ([`DOCUMENT_ATTRIBUTES`]), present once the document's type or an
    /// applied extension carries them.
    pub attrs: BTreeMap<String, String>,
    /// Extensions applied to the document (`dataelements.extensions`).
    pub extensions: Vec<String>,
    /// Parent relations: (item id, relation name).
    pub parents: Vec<(String, String)>,
}

/// A refusal: HTTP status and message.
pub(crate) type Refusal = (u16, String);

/// The emulator's state.
#[derive(Debug, Default)]
pub struct ThreedxStore {
    pub(crate) items: BTreeMap<String, Item>,
    pub(crate) docs: BTreeMap<String, Doc>,
    counter: u64,
    /// Passport login tickets (`LT-…`), single use.
    pub(crate) lts: HashSet<String>,
    /// Passport ticket-granting tickets (`CASTGC` values).
    pub(crate) tgts: HashSet<String>,
    /// Batch-service transient tickets, single use.
    pub(crate) transients: HashSet<String>,
    /// CAS service tickets (`ST-…`), single use.
    pub(crate) service_tickets: HashSet<String>,
    /// Live 3DSpace sessions (`JSESSIONID` values).
    pub(crate) sessions: HashSet<String>,
    /// CSRF token per session key (session id, or `agent:<id>`).
    pub(crate) csrf: HashMap<String, String>,
    /// 3DSpace sessions opened (one per completed login).
    pub(crate) logins: u64,
    /// CSRF tokens issued.
    pub(crate) csrf_issued: u64,
    /// With a lifetime set: each CSRF token -> the session it was issued to and when (real
    /// time).
    pub(crate) csrf_issued_to: HashMap<String, (String, std::time::Instant)>,
    /// How long a CSRF token is accepted (None: for the session's life). Real time, like the
    /// rate limiter: the lifetime 3DSpace gives its tokens is not published [INFERRED]; ws3dx
    /// renews them after 55 minutes.
    pub(crate) csrf_lifetime: Option<std::time::Duration>,
    /// The extension whose attributes are [`DOCUMENT_ATTRIBUTES`]; None: they are attributes
    /// of the `Document` type itself (a specialisation's, or added to the type).
    pub(crate) link_extension: Option<String>,
    /// Attributes a document does not have are dropped silently instead of refused.
    pub(crate) ignore_unknown_attributes: bool,
    /// How long a new document stays out of `documents/search` (the 3D search index is
    /// updated after the write [INFERRED]; docs/wire/threedx.md "Search"); zero by default.
    pub(crate) search_lag: std::time::Duration,
    /// When each document created under a lag enters the index.
    indexed_at: std::collections::HashMap<String, std::time::Instant>,
    /// Edits to make to a document right after its next `GET documents/{id}` is answered:
    /// (attribute, value) by document id (see `ThreedxSim::edit_document_after_next_read`).
    pub(crate) edits_after_read: HashMap<String, Vec<(String, String)>>,
}

impl ThreedxStore {
    /// An empty store; the link attributes come with [`LINK_EXTENSION`].
    pub fn new() -> Self {
        ThreedxStore {
            link_extension: Some(LINK_EXTENSION.to_owned()),
            ..Self::default()
        }
    }

    /// Applies the extensions `dataelements.extensions` names (never removes one): the link
    /// extension brings its attributes (empty); an extension the platform does not know is
    /// refused, as an undeployed one would be.
    fn apply_extensions(&self, doc: &mut Doc, el: &Map<String, Value>) -> Result<(), Refusal> {
        let Some(list) = el.get("extensions") else {
            return Ok(());
        };
        let names = list.as_array().ok_or((
            400,
            "extensions must be a list of extension names".to_string(),
        ))?;
        for n in names {
            let name = n
                .as_str()
                .ok_or((400, format!("extensions: {n} is not an extension name")))?;
            if self.link_extension.as_deref() != Some(name) {
                return Err((
                    400,
                    format!("extension {name} is not deployed or does not apply to type Document"),
                ));
            }
            if !doc.extensions.iter().any(|e| e == name) {
                doc.extensions.push(name.to_owned());
                for a in DOCUMENT_ATTRIBUTES {
                    doc.attrs.entry((*a).to_owned()).or_default();
                }
            }
        }
        Ok(())
    }

    /// A fresh opaque value (`<prefix>-<hex>`), distinct from every earlier one.
    pub(crate) fn token(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let digest = Sha256::digest(format!("{prefix}:{}", self.counter).as_bytes());
        format!("{prefix}-{}", hex::encode(&digest[..12]))
    }

    fn cestamp(&mut self) -> String {
        self.counter += 1;
        let digest = Sha256::digest(format!("cestamp:{}", self.counter).as_bytes());
        hex::encode_upper(&digest[..16])
    }

    /// Adds an item (seed); its cestamp is set here.
    pub fn add_item(&mut self, mut item: Item) {
        item.cestamp = self.cestamp();
        self.items.insert(item.id.clone(), item);
    }

    /// Changes an item like a user would: `f`, then a new `modified` and `cestamp`.
    pub fn edit_item(&mut self, id: &str, now: DateTime<Utc>, f: impl FnOnce(&mut Item)) -> bool {
        let stamp = self.cestamp();
        let Some(item) = self.items.get_mut(id) else {
            return false;
        };
        f(item);
        item.modified = now;
        item.cestamp = stamp;
        true
    }

    /// A new revision of the latest revision of `number` (next letter, `IN_WORK`); its id.
    pub fn revise(&mut self, number: &str, now: DateTime<Utc>) -> Option<String> {
        let latest = self
            .items
            .values()
            .filter(|i| i.part_number == number)
            .max_by(|a, b| a.revision.cmp(&b.revision))?
            .clone();
        let next = latest
            .revision
            .chars()
            .next()
            .map_or('A', |c| char::from(c as u8 + 1));
        let id =
            hex::encode_upper(&Sha256::digest(format!("item:{number}:{next}").as_bytes())[..16]);
        self.add_item(Item {
            id: id.clone(),
            revision: next.to_string(),
            state: "IN_WORK".into(),
            created: now,
            modified: now,
            ..latest
        });
        Some(id)
    }

    /// Closes every 3DSpace session (and its CSRF token); passport tickets stay.
    pub fn expire_sessions(&mut self) {
        self.sessions.clear();
        self.invalidate_csrf();
    }

    /// Forgets every CSRF token (the next write of each session is refused).
    pub fn invalidate_csrf(&mut self) {
        self.csrf.clear();
        self.csrf_issued_to.clear();
    }

    /// The session's CSRF token, issuing one when it has none. With a lifetime set, every
    /// fetch issues a fresh token; earlier ones stay accepted until they age out.
    pub(crate) fn csrf_for(&mut self, key: &str) -> String {
        if self.csrf_lifetime.is_none()
            && let Some(t) = self.csrf.get(key)
        {
            return t.clone();
        }
        let t = self.token("csrf");
        self.csrf_issued += 1;
        self.csrf.insert(key.to_string(), t.clone());
        self.csrf_issued_to
            .insert(t.clone(), (key.to_string(), std::time::Instant::now()));
        t
    }

    /// Whether `sent` is a CSRF token this session may write with: its current one, or with a
    /// lifetime set any of its tokens younger than that.
    pub(crate) fn accepts_csrf(&mut self, key: &str, sent: Option<&str>) -> bool {
        let Some(sent) = sent else {
            return false;
        };
        let Some(life) = self.csrf_lifetime else {
            return self.csrf.get(key).map(String::as_str) == Some(sent);
        };
        self.csrf_issued_to.retain(|_, (_, at)| at.elapsed() < life);
        self.csrf_issued_to
            .get(sent)
            .is_some_and(|(owner, _)| owner == key)
    }

    /// Items matching a `$searchStr` (terms joined by ` AND `: `*`, `[ds6w:modified]>="<time>"`
    /// (any other text, e.g. a bare `modified>=…`, is a word like any other), or a
    /// word found in name, title or part number), in id order.
    pub(crate) fn search_items(&self, search: &str) -> Result<Vec<&Item>, Refusal> {
        let terms = parse_terms(search)?;
        Ok(self
            .items
            .values()
            .filter(|i| {
                terms.iter().all(|t| match t {
                    Term::All => true,
                    Term::Since(s) => i.modified >= *s,
                    Term::Word(w) => [&i.name, &i.title, &i.part_number]
                        .iter()
                        .any(|v| v.to_lowercase().contains(w)),
                })
            })
            .collect())
    }

    /// Documents matching a `searchStr` (words found in any attribute value), in id order.
    pub(crate) fn search_docs(&self, search: &str) -> Result<Vec<&Doc>, Refusal> {
        let terms = parse_terms(search)?;
        Ok(self
            .docs
            .values()
            .filter(|d| {
                self.indexed_at
                    .get(&d.id)
                    .is_none_or(|at| *at <= std::time::Instant::now())
            })
            .filter(|d| {
                terms.iter().all(|t| match t {
                    Term::All => true,
                    Term::Since(s) => d.modified >= *s,
                    Term::Word(w) => [&d.name, &d.title, &d.description]
                        .into_iter()
                        .chain(d.attrs.values())
                        .any(|v| v.to_lowercase().contains(w)),
                })
            })
            .collect())
    }

    /// Creates a document from a `data[]` entry under `parent` with `rel`.
    pub(crate) fn create_doc(
        &mut self,
        el: &Map<String, Value>,
        parent: &str,
        rel: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Refusal> {
        if !self.items.contains_key(parent) {
            return Err((404, format!("parent object {parent} not found")));
        }
        let number = self.docs.len() + 1;
        let id = self.token("doc").replace("doc-", "").to_uppercase();
        let mut doc = Doc {
            id: id.clone(),
            name: format!("Doc-{number:07}"),
            title: String::new(),
            description: String::new(),
            state: "IN_WORK".into(),
            originated: now,
            modified: now,
            cestamp: String::new(),
            attrs: match self.link_extension {
                Some(_) => BTreeMap::new(),
                None => DOCUMENT_ATTRIBUTES
                    .iter()
                    .map(|a| (a.to_string(), String::new()))
                    .collect(),
            },
            extensions: Vec::new(),
            parents: vec![(parent.to_string(), rel.to_string())],
        };
        self.apply_extensions(&mut doc, el)?;
        apply_elements(&mut doc, el, self.ignore_unknown_attributes)?;
        doc.cestamp = self.cestamp();
        self.docs.insert(id.clone(), doc);
        if !self.search_lag.is_zero() {
            self.indexed_at
                .insert(id.clone(), std::time::Instant::now() + self.search_lag);
        }
        Ok(id)
    }

    /// A copy of a document under a new id and name, created (`originated`) at `created` and
    /// modified at `now`, under the same parents with the same relation names (a document
    /// copied by hand, or the duplicates an older partreel made); with `link_id`, the copy's
    /// [`LINK_ID_ATTRIBUTE`] is that value instead of the original's (a copy whose link id was
    /// retyped). None for an unknown document. The parent relations live on the document
    /// itself, so `GET documents/parentId/{item}` lists the copy at once.
    pub fn duplicate_doc(
        &mut self,
        id: &str,
        link_id: Option<&str>,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let mut original = self.docs.get(id)?.clone();
        if let Some(l) = link_id {
            original
                .attrs
                .insert(LINK_ID_ATTRIBUTE.to_string(), l.to_string());
        }
        let number = self.docs.len() + 1;
        let copy_id = self.token("doc").replace("doc-", "").to_uppercase();
        let copy = Doc {
            id: copy_id.clone(),
            name: format!("Doc-{number:07}"),
            originated: created,
            modified: now,
            cestamp: self.cestamp(),
            ..original
        };
        self.docs.insert(copy_id.clone(), copy);
        Some(copy_id)
    }

    /// Updates a document; `cestamp` (when given) must be the current one.
    pub(crate) fn update_doc(
        &mut self,
        id: &str,
        cestamp: Option<&str>,
        el: &Map<String, Value>,
        parents: Option<&[Value]>,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let stamp = self.cestamp();
        let items: HashSet<String> = self.items.keys().cloned().collect();
        let mut with_extensions = self
            .docs
            .get(id)
            .ok_or((404, format!("document {id} not found")))?
            .clone();
        self.apply_extensions(&mut with_extensions, el)?;
        let doc = self
            .docs
            .get_mut(id)
            .ok_or((404, format!("document {id} not found")))?;
        if let Some(c) = cestamp
            && c != doc.cestamp
        {
            return Err((
                409,
                "cestamp mismatch: the object was modified by another user".into(),
            ));
        }
        let mut next = with_extensions;
        apply_elements(&mut next, el, self.ignore_unknown_attributes)?;
        if let Some(p) = el.get("parentId").and_then(Value::as_str) {
            if !items.contains(p) {
                return Err((404, format!("parent object {p} not found")));
            }
            let rel = el
                .get("parentRelName")
                .and_then(Value::as_str)
                .unwrap_or("Reference Document");
            if !next.parents.iter().any(|(i, r)| i == p && r == rel) {
                next.parents.push((p.to_string(), rel.to_string()));
            }
        }
        if let Some(ps) = parents {
            // Parents are managed per relation: the update names the one it manages
            // (`parentRelName`, DocumentData) and keeps, of that relation, the listed parents.
            let Some(rel) = el.get("parentRelName").and_then(Value::as_str) else {
                return Err((
                    400,
                    "parentRelName is required to manage relateddata.parents".into(),
                ));
            };
            next.parents.retain(|(i, r)| {
                r != rel
                    || ps
                        .iter()
                        .any(|v| v.get("id").and_then(Value::as_str) == Some(i))
            });
        }
        next.modified = now;
        next.cestamp = stamp;
        *doc = next;
        Ok(())
    }

    /// Edits one attribute of a document like a user would (new `modified` and `cestamp`).
    pub fn edit_document(&mut self, id: &str, attr: &str, value: &str, now: DateTime<Utc>) -> bool {
        let mut el = Map::new();
        el.insert(attr.to_string(), Value::String(value.to_string()));
        self.update_doc(id, None, &el, None, now).is_ok()
    }

    /// Makes the edits queued for document `id` by `edits_after_read`, if any (called once its
    /// read has been answered).
    pub(crate) fn after_read(&mut self, id: &str, now: DateTime<Utc>) {
        for (attr, value) in self.edits_after_read.remove(id).unwrap_or_default() {
            self.edit_document(id, &attr, &value, now);
        }
    }
}

enum Term {
    All,
    Since(DateTime<Utc>),
    Word(String),
}

fn parse_terms(search: &str) -> Result<Vec<Term>, Refusal> {
    let mut out = Vec::new();
    for t in search
        .split(" AND ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if t == "*" {
            out.push(Term::All);
        } else if let Some(rest) = t.strip_prefix("[ds6w:modified]") {
            // The 3D search index's attribute predicate: `[ds6w:modified]>="…Z"` (or `>`).
            let (inclusive, v) = match rest.strip_prefix(">=") {
                Some(v) => (true, v),
                None => match rest.strip_prefix('>') {
                    Some(v) => (false, v),
                    None => {
                        return Err((
                            400,
                            format!("unsupported predicate on [ds6w:modified]: {t}"),
                        ));
                    }
                },
            };
            let v = v.trim().trim_matches('"');
            let at = DateTime::parse_from_rfc3339(v)
                .map_err(|_| (400, format!("invalid date in search predicate: {v}")))?
                .with_timezone(&Utc);
            out.push(if inclusive {
                Term::Since(at)
            } else {
                Term::Since(at + chrono::TimeDelta::seconds(1))
            });
        } else {
            out.push(Term::Word(t.trim_end_matches('*').to_lowercase()));
        }
    }
    if out.is_empty() {
        return Err((400, "$searchStr is required".into()));
    }
    Ok(out)
}

/// Writes `dataelements` onto a document; unknown or read-only attributes are refused.
/// With `ignore_unknown`, an attribute the document does not have is dropped without a word
/// (a server that answers 200 and stores what it knows) instead of refused.
fn apply_elements(
    doc: &mut Doc,
    el: &Map<String, Value>,
    ignore_unknown: bool,
) -> Result<(), Refusal> {
    for (k, v) in el {
        if PARENT_KEYS.contains(&k.as_str()) || k == "extensions" {
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        match k.as_str() {
            "title" => doc.title = text,
            "description" => doc.description = text,
            _ if doc.attrs.contains_key(k) => {
                doc.attrs.insert(k.clone(), text);
            }
            _ if DOCUMENT_WRITABLE.contains(&k.as_str()) => {}
            _ if ignore_unknown => {}
            _ => {
                return Err((
                    400,
                    format!("attribute {k} is not defined on type Document or is read-only"),
                ));
            }
        }
    }
    Ok(())
}

impl Item {
    /// The item as a mask returns it (`details`: the Details mask).
    pub fn to_json(&self, details: bool) -> Value {
        let mut v = json!({"id": self.id, "type": "VPMReference", "name": self.name,
            "title": self.title, "description": self.description, "revision": self.revision,
            "state": self.state, "owner": "partreel", "organization": "Company Name",
            "collabspace": "Common Space", "created": iso(self.created),
            "modified": iso(self.modified), "cestamp": self.cestamp});
        if details && let Some(m) = v.as_object_mut() {
            m.insert(
                "dseng:EnterpriseReference".into(),
                json!({"partNumber": self.part_number}),
            );
            m.insert(
                "customerAttributes".into(),
                Value::Object(self.customer.clone()),
            );
            m.insert(
                "dseno:EnterpriseAttributes".into(),
                Value::Object(self.enterprise.clone()),
            );
        }
        v
    }
}

impl Doc {
    /// The document as the document services return it.
    pub fn to_json(&self) -> Value {
        let mut el = json!({"name": self.name, "title": self.title,
            "description": self.description, "policy": "Document Release", "state": self.state,
            "revision": "A", "isLatestRevision": "TRUE", "originated": iso(self.originated),
            "modified": iso(self.modified)});
        if let Some(m) = el.as_object_mut() {
            for (k, v) in &self.attrs {
                m.insert(k.clone(), Value::String(v.clone()));
            }
            m.insert("extensions".into(), json!(self.extensions));
        }
        let parents: Vec<Value> = self
            .parents
            .iter()
            .map(|(id, rel)| json!({"id": id, "relationshipName": rel}))
            .collect();
        json!({"id": self.id, "type": "Document", "cestamp": self.cestamp, "dataelements": el,
            "relateddata": {"parents": parents, "files": []}})
    }
}
