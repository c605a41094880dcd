//! The write half of [`ThreedxClient`]: link documents under an Engineering Item
//! (ws3dx.document `DocumentService`: `Create`, `GetItemDocuments`, `Get`, `Update`).
//!
//! Creating is a non-idempotent POST, so it is preceded — and after an ambiguous failure,
//! followed — by a look at the item's documents (`documents/parentId`, a database read, not the
//! search index). Updating is optimistic: read the `cestamp`, PUT with it; a stale `cestamp`
//! means someone else changed the document in between, so the connector reads it again and
//! retries only when none of the attributes partreel maps changed meanwhile — never a blind
//! overwrite. A change to a mapped attribute it is not writing is refused too: the document the
//! retried PUT returns would carry that change as if it were partreel's own write, and the
//! engine, taking it for the echo of its write, would never plan it (a `newest` field edited in
//! 3DEXPERIENCE would never reach the DAM).

use partreel_connector::error::{ConnectorError, Result};
use partreel_connector::http::Request;
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{ThreedxClient, docs_data};
use crate::config::RetireMode;
use crate::{convert, wire};

/// Rounds of look-then-write after an ambiguous POST, and of re-read-then-PUT after a stale
/// `cestamp`.
const WRITE_ROUNDS: u32 = 3;
/// Direction of the parent relation (item → document).
const PARENT_DIRECTION: &str = "from";
/// Status value that retires a link.
const RETIRED: &str = "retired";
const PARENT_DOCS: &str = "documents/parentId";
const DOC_CREATE: &str = "documents create";
const DOC_READ: &str = "documents read";
const DOC_UPDATE: &str = "documents update";

impl ThreedxClient {
    fn rel_query(&self) -> [(&'static str, String); 2] {
        [
            ("parentRelName", self.p.parent_rel_name.clone()),
            ("parentDirection", PARENT_DIRECTION.to_string()),
        ]
    }

    /// `GetItemDocuments`: `GET {modeler}/documents/parentId/{id}?parentRelName=…&parentDirection=from`.
    async fn documents_of(&self, part_id: &str) -> Result<Vec<Value>> {
        let url = self.modeler(&["documents", "parentId", part_id], &self.rel_query());
        let resp = self.send(Self::json_get(url)).await?;
        docs_data(self, &resp, PARENT_DOCS)
    }

    /// docs/wire/threedx.md "Documents of a part" (ws3dx.document `DocumentService.
    /// GetItemDocuments`): `GET {modeler}/documents/parentId/{id}?parentRelName=…
    /// &parentDirection=from`, one answer (the service takes no `$top`/`$skip`) → every
    /// document under the item that carries a link id, read as the link feed reads it
    /// (`convert::link`, `created` from `dataelements.originated`) and with the item as its
    /// part, whatever parent the document lists first. Documents without a link id (anyone's
    /// other documents on the item) are left out. A document that cannot be read is a record
    /// error naming it (the item's id when the document has none).
    pub(super) async fn links_under(&self, part_id: &str) -> Result<Vec<RemoteLink>> {
        let docs = self.documents_of(part_id).await?;
        let records = docs.iter().map(|rec| {
            let read = convert::link(rec, &self.p.link_id_attribute, &self.p.link_properties);
            (part_id.to_string(), read)
        });
        partreel_connector::connector::links_on_part_from(
            &self.p.system,
            part_id,
            records,
            |_, r| format!("document under engineering item {part_id} ({PARENT_DOCS}): {r}"),
        )
    }

    /// The partreel document carrying `link_id` under the item, if any (from [`Self::links_under`]).
    async fn find_under(&self, part_id: &str, link_id: &LinkId) -> Result<Option<RemoteLink>> {
        Ok(self
            .links_under(part_id)
            .await?
            .into_iter()
            .find(|l| &l.link_id == link_id))
    }

    pub(super) async fn create_document(
        &self,
        part: &PartRevision,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        let found = self.find_under(&part.remote_id, link_id).await?;
        self.post_until_known(part, link_id, fields, found).await
    }

    /// A creation no earlier attempt may have made (the engine's journal says so): posted
    /// without looking under the item first; an ambiguous failure still looks before posting
    /// again.
    pub(super) async fn post_new_document(
        &self,
        part: &PartRevision,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        self.post_until_known(part, link_id, fields, None).await
    }

    /// Posts the document unless `found` already holds it; after an ambiguous failure looks
    /// under the item before posting again, up to `WRITE_ROUNDS` posts.
    async fn post_until_known(
        &self,
        part: &PartRevision,
        link_id: &LinkId,
        fields: &RemoteFields,
        mut found: Option<RemoteLink>,
    ) -> Result<RemoteLink> {
        let mut round = 0;
        loop {
            if let Some(mut l) = found.take() {
                l.part_remote_id = Some(part.remote_id.clone());
                return Ok(l);
            }
            round += 1;
            match self.post_document(part, link_id, fields).await {
                Ok(l) => return Ok(l),
                Err(e @ ConnectorError::Ambiguous { .. }) => {
                    // The POST may have been applied: look before posting again.
                    found = self.find_under(&part.remote_id, link_id).await?;
                    if found.is_none() && round >= WRITE_ROUNDS {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `Create`: `POST {modeler}/documents?parentRelName=…&parentDirection=from` (+ CSRF) body
    /// `{"data":[{"type":"Document","dataelements":{…,"parentId":…}}]}` → `data[0]`.
    async fn post_document(
        &self,
        part: &PartRevision,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        let mut el = Map::new();
        el.insert("title".into(), Value::String(link_id.to_string()));
        el.insert(
            "description".into(),
            Value::String(format!("partreel prompt-to-part link {link_id}")),
        );
        for (k, v) in fields {
            el.insert(k.clone(), Value::String(v.clone()));
        }
        el.insert(
            self.p.link_id_attribute.clone(),
            Value::String(link_id.to_string()),
        );
        el.insert("parentId".into(), Value::String(part.remote_id.clone()));
        el.insert(
            "parentRelName".into(),
            Value::String(self.p.parent_rel_name.clone()),
        );
        el.insert(
            "parentDirection".into(),
            Value::String(PARENT_DIRECTION.into()),
        );
        if let Some(ext) = &self.p.link_extension {
            // `DocumentData.extensions`: the customer extension that carries the attributes.
            el.insert("extensions".into(), json!([ext]));
        }
        let body = json!({"data": [{"type": "Document", "dataelements": el}]});
        let url = self.modeler(&["documents"], &self.rel_query());
        let req = Request::new(Method::POST, url)
            .header("accept", "application/json")
            .json(&body)?;
        let resp = self.send(req).await?;
        let data = docs_data(self, &resp, DOC_CREATE)?;
        let created = data
            .first()
            .and_then(wire::id_of)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| self.malformed(DOC_CREATE, "data[0].id: missing"))?;
        let mut l = match self.first_link(data, DOC_CREATE) {
            Ok(l) if l.link_id == *link_id => l,
            // The answer does not show the link id: read the document back. One that does not
            // carry it would never be found again, and every later run would create another.
            _ => {
                let doc = self.read_document(&created).await?;
                match self.first_link(vec![doc], DOC_READ) {
                    Ok(l) if l.link_id == *link_id => l,
                    _ => {
                        return Err(ConnectorError::Record {
                            system: self.p.system.clone(),
                            record: created,
                            message: format!(
                                "the created document does not read back its {} ({link_id}); \
                                 check that the attribute is defined on the document type{} \
                                 and writable by this user",
                                self.p.link_id_attribute,
                                match &self.p.link_extension {
                                    Some(x) => format!(" (through the extension {x})"),
                                    None => " (or set link_extension to the customer \
                                             extension that carries it)"
                                        .to_string(),
                                }
                            ),
                        });
                    }
                }
            }
        };
        l.part_remote_id = Some(part.remote_id.clone());
        Ok(l)
    }

    fn first_link(&self, data: Vec<Value>, what: &str) -> Result<RemoteLink> {
        let rec = data
            .into_iter()
            .next()
            .ok_or_else(|| self.malformed(what, "data: empty"))?;
        match convert::link(&rec, &self.p.link_id_attribute, &self.p.link_properties) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => Err(self.malformed(what, format!("{}: missing", self.p.link_id_attribute))),
            Err(r) => Err(self.malformed(what, r.reason)),
        }
    }

    pub(super) async fn attach_document(
        &self,
        part: &PartRevision,
        link: &RemoteLink,
    ) -> Result<()> {
        let under = self.documents_of(&part.remote_id).await?;
        if under
            .iter()
            .any(|d| d.get("id").and_then(Value::as_str) == Some(&link.remote_id))
        {
            return Ok(());
        }
        let el = json!({"parentId": part.remote_id, "parentRelName": self.p.parent_rel_name,
            "parentDirection": PARENT_DIRECTION});
        self.put_document(&link.remote_id, None, el, false)
            .await
            .map(|_| ())
    }

    /// `Get`: `GET {modeler}/documents/{docId}` → `data[0]`.
    async fn read_document(&self, id: &str) -> Result<Value> {
        let url = self.modeler(&["documents", id], &[]);
        let resp = self.send(Self::json_get(url)).await?;
        docs_data(self, &resp, DOC_READ)?
            .into_iter()
            .next()
            .ok_or_else(|| self.malformed(DOC_READ, "data: empty"))
    }

    /// `Update`: `PUT {modeler}/documents/{docId}` (+ CSRF) body
    /// `{"data":[{"id","cestamp","dataelements":{…}[,"relateddata":{"parents":[]}]}]}`; a
    /// detaching update also names the relation in `dataelements` (`parentRelName`,
    /// `parentDirection`).
    async fn put_document(
        &self,
        id: &str,
        cestamp: Option<&str>,
        dataelements: Value,
        detach: bool,
    ) -> Result<RemoteLink> {
        let mut rec = json!({"id": id, "dataelements": dataelements});
        if let (Some(c), Some(m)) = (cestamp, rec.as_object_mut()) {
            m.insert("cestamp".into(), Value::String(c.to_string()));
        }
        if detach && let Some(m) = rec.as_object_mut() {
            // The relation whose parents the update manages travels in `DocumentData`
            // (`parentRelName`, `parentDirection`): an empty list then detaches from that
            // relation only.
            if let Some(el) = m.get_mut("dataelements").and_then(Value::as_object_mut) {
                el.insert(
                    "parentRelName".into(),
                    Value::String(self.p.parent_rel_name.clone()),
                );
                el.insert("parentDirection".into(), Value::String("from".into()));
            }
            m.insert("relateddata".into(), json!({"parents": []}));
        }
        let url = self.modeler(&["documents", id], &[]);
        let req = Request::new(Method::PUT, url)
            .header("accept", "application/json")
            .json(&json!({"data": [rec]}))?;
        let resp = self.send(req).await?;
        let data = docs_data(self, &resp, DOC_UPDATE)?;
        self.first_link(data, DOC_UPDATE)
    }

    /// The attributes of a document the engine sees (the mapped ones, every one when the
    /// mapping names none) that the server does not maintain and `fields` does not write.
    fn watched_others(&self, current: RemoteFields, fields: &RemoteFields) -> RemoteFields {
        convert::keep(current, &self.p.link_properties)
            .into_iter()
            .filter(|(k, _)| !fields.contains_key(k))
            .filter(|(k, _)| !super::DOCUMENT_READ_ONLY.contains(&k.as_str()))
            .collect()
    }

    /// The document changed on the server between partreel's read and its write.
    fn changed_meanwhile(&self, link: &RemoteLink) -> ConnectorError {
        ConnectorError::Record {
            system: self.p.system.clone(),
            record: link.link_id.to_string(),
            message: format!(
                "document {} was changed on the server while partreel updated it; not overwritten, re-planned on the next pull",
                link.remote_id
            ),
        }
    }

    pub(super) async fn update_document(
        &self,
        link: &RemoteLink,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        let detach = self.p.retire == RetireMode::Detach
            && fields
                .get(&self.p.link_status_attribute)
                .map(String::as_str)
                == Some(RETIRED);
        let mut before: Option<RemoteFields> = None;
        let mut others_before: Option<RemoteFields> = None;
        let mut round = 0;
        loop {
            round += 1;
            let rec = self.read_document(&link.remote_id).await?;
            let current = rec
                .as_object()
                .map(convert::document_fields)
                .unwrap_or_default();
            let now: RemoteFields = fields
                .keys()
                .map(|k| (k.clone(), current.get(k).cloned().unwrap_or_default()))
                .collect();
            let others = self.watched_others(current, fields);
            if others_before.as_ref().is_some_and(|b| b != &others) {
                // Someone changed a mapped attribute partreel is not writing: writing now
                // would hand the engine that change as partreel's own (see the module doc).
                return Err(self.changed_meanwhile(link));
            }
            others_before = Some(others);
            if &now == fields && !detach {
                // Already as wanted (nothing to do, or an earlier attempt of ours landed).
                let mut l = self.first_link(vec![rec], DOC_READ)?;
                l.part_remote_id = link.part_remote_id.clone();
                return Ok(l);
            }
            if before.as_ref().is_some_and(|b| b != &now) {
                // Someone changed an attribute partreel writes while it wrote: let the engine
                // see the new value on its next pull and plan again.
                return Err(self.changed_meanwhile(link));
            }
            before = Some(now);
            let cestamp = rec.get("cestamp").and_then(Value::as_str);
            let el = Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            );
            match self
                .put_document(&link.remote_id, cestamp, el, detach)
                .await
            {
                Ok(mut l) => {
                    // A write the platform accepted but did not apply is loud, never taken
                    // as done (the engine would store values the document does not hold).
                    let unapplied: Vec<&str> = fields
                        .iter()
                        .filter(|(k, _)| {
                            self.p.link_properties.is_empty() || self.p.link_properties.contains(k)
                        })
                        .filter(|(k, v)| l.fields.get(*k).map_or("", String::as_str) != v.as_str())
                        .map(|(k, _)| k.as_str())
                        .collect();
                    if !unapplied.is_empty() {
                        return Err(ConnectorError::not_applied(
                            &self.p.system,
                            &link.remote_id,
                            "attributes",
                            &unapplied,
                        ));
                    }
                    l.part_remote_id = if detach {
                        None
                    } else {
                        link.part_remote_id.clone()
                    };
                    return Ok(l);
                }
                Err(e) if is_stale(&e) && round < WRITE_ROUNDS => {
                    tracing::info!(system = %self.p.system, link = %link.link_id, round, "stale cestamp; reading the document again");
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A refusal because the `cestamp` sent is no longer the object's (409/412, or a 400 naming
/// it) [INFERRED].
fn is_stale(e: &ConnectorError) -> bool {
    match e {
        ConnectorError::Http {
            status: 409 | 412, ..
        } => true,
        ConnectorError::Http {
            status: 400,
            message,
            ..
        } => message.to_ascii_lowercase().contains("cestamp"),
        _ => false,
    }
}
