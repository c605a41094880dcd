//! The write half of [`WindchillClient`]: creating a link document, attaching it to a part
//! revision, and reading back what a write returned. Both creations are non-idempotent POSTs,
//! so an ambiguous failure is settled by looking at what the server holds.

use partreel_connector::error::{ConnectorError, Result};
use partreel_connector::http::Request;
use partreel_connector::model::{LinkId, RemoteFields, RemoteLink};
use reqwest::Method;
use serde_json::{Map, Value};

use super::{DESCRIBED_BY, WRITE_ROUNDS, WindchillClient};
use crate::{convert, odata, wire};

/// Characters of the prompt used in a document name.
const NAME_PROMPT_CHARS: usize = 40;

impl WindchillClient {
    /// A single Document entity (a write's answer) → link. An answer that omits the link id
    /// reads as carrying `fallback` when one is given (an update never changes it), else as no
    /// link (`None`, with the entity's ID).
    pub(super) fn entity_link(
        &self,
        body: &[u8],
        what: &str,
        fallback: Option<&LinkId>,
    ) -> Result<(String, Option<RemoteLink>)> {
        let rec: Value =
            serde_json::from_slice(body).map_err(|e| self.malformed(what, e.to_string()))?;
        let Value::Object(mut map) = rec else {
            return Err(self.malformed(what, "not a JSON object"));
        };
        let prop = &self.p.link_id_property;
        if let Some(f) = fallback
            && map.get(prop).is_none_or(Value::is_null)
        {
            map.insert(prop.clone(), Value::String(f.0.clone()));
        }
        let rec = Value::Object(map);
        let id = wire::id_of(&rec).unwrap_or_default();
        match convert::link(&rec, prop, &self.p.link_select) {
            Ok(l) => Ok((id, l)),
            Err(r) => Err(self.malformed(what, r.reason)),
        }
    }

    /// WCCG_RESTAccessExamplesCreateDocument: `POST {base}/DocMgmt/Documents` (+ CSRF_NONCE).
    pub(super) async fn post_document(
        &self,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        let body = self.document_body(link_id, fields).await?;
        let req = Request::new(Method::POST, self.url(&["DocMgmt", "Documents"], &[]))
            .header("accept", "application/json")
            .json(&body)?;
        let resp = self.p.http.send(req, &self.p.session).await?;
        self.created_document(&resp.body, link_id).await
    }

    /// The body that creates the link document `link_id` with `fields`.
    pub(super) async fn document_body(
        &self,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<Value> {
        let types = self.document_types().await?;
        let mut body = Map::new();
        if let Some(cast) = self.type_cast() {
            // wccg_restapis_wcsubtypes_in_OData.html: a subtype instance is created with the
            // fully qualified entity type name in `@odata.type`.
            body.insert("@odata.type".into(), Value::String(format!("#{cast}")));
        }
        body.insert(
            "Name".into(),
            Value::String(self.document_name(link_id, fields)),
        );
        body.insert(
            "Description".into(),
            Value::String(format!("partreel prompt-to-part link {link_id}")),
        );
        body.extend(self.typed_body(types, fields, link_id)?);
        body.insert(
            "Context@odata.bind".into(),
            Value::String(odata::keyed("Containers", &self.p.container)),
        );
        body.insert(
            self.p.link_id_property.clone(),
            Value::String(link_id.0.clone()),
        );
        Ok(Value::Object(body))
    }

    /// The link a document creation answered with `body`. An answer that does not show the
    /// link id is read back: a document that does not carry it would never be found again, and
    /// every later run would create another.
    pub(super) async fn created_document(
        &self,
        body: &[u8],
        link_id: &LinkId,
    ) -> Result<RemoteLink> {
        let (id, created) = self.entity_link(body, "DocMgmt/Documents create", None)?;
        if let Some(l) = created.filter(|l| l.link_id == *link_id) {
            return Ok(l);
        }
        if id.is_empty() {
            return Err(self.malformed("DocMgmt/Documents create", "no ID in the answer"));
        }
        let read =
            super::url_with_select(self.url(&self.document_path(&id), &[]), &self.p.link_select);
        let body = self
            .p
            .http
            .send(self.json_get(read), &self.p.session)
            .await?
            .body;
        match self.entity_link(&body, "DocMgmt/Documents read", None)? {
            (_, Some(l)) if l.link_id == *link_id => Ok(l),
            _ => Err(ConnectorError::Record {
                system: self.p.system.clone(),
                record: id,
                message: format!(
                    "the created document does not read back its {} ({link_id}); check that the \
                     attribute is defined on the document type and writable by this user",
                    self.p.link_id_property
                ),
            }),
        }
    }

    /// `<prefix>-<first 40 characters of the prompt, or the link id>`, on one line.
    fn document_name(&self, link_id: &LinkId, fields: &RemoteFields) -> String {
        let prompt = fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("prompt"))
            .or_else(|| {
                fields
                    .iter()
                    .find(|(k, _)| k.to_ascii_lowercase().ends_with("prompt"))
            })
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| link_id.0.clone());
        let short: String = prompt.chars().take(NAME_PROMPT_CHARS).collect();
        format!("{}-{}", self.p.name_prefix, short.trim_end())
    }

    /// The documents describing a part revision: `GET {base}/ProdMgmt/Parts('…')/DescribedBy
    /// ?$expand=DescribedBy`, every page. The navigation yields describe-link entities
    /// (`OR:wt.part.WTPartDescribeLink:…`), not documents; each link's document comes under its
    /// own `DescribedBy` (PTC Help Center,
    /// example_sustainability_retrieve_enggmaterialpartdescribelinks.html;
    /// example_mfgprocplan_retrieve_DD_associatedwithresource.html expands the same navigation
    /// of a manufacturing resource). No nested `$select` in the `$expand`: no PTC example shows
    /// one, and the expanded document carries every property (`CreatedOn`, the IBAs). A link entity
    /// without an expanded document is malformed: taking the link's ID for the document's would
    /// attach the document again on every run.
    pub(super) async fn described_documents(&self, part_id: &str) -> Result<Vec<Value>> {
        let part = odata::keyed("Parts", part_id);
        let url = self.url(
            &["ProdMgmt", &part, "DescribedBy"],
            &[("$expand", "DescribedBy".into())],
        );
        let links = self.all(url, DESCRIBED_BY).await?;
        links
            .into_iter()
            .map(|mut l| match l.get_mut("DescribedBy").map(Value::take) {
                Some(doc @ Value::Object(_)) => Ok(doc),
                _ => Err(self.malformed(
                    DESCRIBED_BY,
                    format!(
                        "describe link {} has no expanded DescribedBy document",
                        wire::id_of(&l).unwrap_or_default()
                    ),
                )),
            })
            .collect()
    }

    /// IDs of the documents a part revision is described by.
    pub(super) async fn described_by(&self, part_id: &str) -> Result<Vec<String>> {
        Ok(self
            .described_documents(part_id)
            .await?
            .iter()
            .filter_map(wire::id_of)
            .collect())
    }

    /// Every link document describing a part revision, read as the link feed reads documents,
    /// with the part as its `part_remote_id`; documents without a link id are left out, one
    /// that cannot be read is a record error naming it.
    pub(super) async fn links_described(&self, part_id: &str) -> Result<Vec<RemoteLink>> {
        let docs = self.described_documents(part_id).await?;
        let records = docs.iter().map(|doc| {
            let read = convert::link(doc, &self.p.link_id_property, &self.p.link_select);
            (part_id.to_string(), read)
        });
        partreel_connector::connector::links_on_part_from(
            &self.p.system,
            part_id,
            records,
            |_, r| r.to_string(),
        )
    }

    /// wrs_ProdMgmt_domain_12_0_2_23.html (describe links, ProdMgmt v7) and
    /// example_prodmgmt_createpartdescribelink_between_partanddocument.html: `POST
    /// {base}/ProdMgmt/Parts('…')/DescribedBy` (+ CSRF_NONCE). A refusal (400, e.g.
    /// DUPLICATE_LINK) or an ambiguous failure is settled by reading the part's links: core's
    /// error keeps the server message but not the OData code, and the listing is authoritative.
    pub(super) async fn attach(&self, part_id: &str, doc_id: &str) -> Result<()> {
        let part = odata::keyed("Parts", part_id);
        let url = self.url(&["ProdMgmt", &part, "DescribedBy"], &[]);
        let body = serde_json::json!({"DescribedBy@odata.bind": odata::keyed("Documents", doc_id)});
        let mut round = 0;
        loop {
            round += 1;
            let req = Request::new(Method::POST, url.clone())
                .header("accept", "application/json")
                .json(&body)?;
            match self.p.http.send(req, &self.p.session).await {
                Ok(_) => return Ok(()),
                Err(e @ ConnectorError::Http { status: 400, .. }) => {
                    return self.attached_or(part_id, doc_id, e).await;
                }
                Err(e @ ConnectorError::Ambiguous { .. }) => {
                    if self
                        .described_by(part_id)
                        .await?
                        .iter()
                        .any(|d| d == doc_id)
                    {
                        return Ok(());
                    }
                    if round == WRITE_ROUNDS {
                        return Err(e);
                    }
                    tracing::warn!(system = %self.p.system, round, "describe link outcome unknown and absent; posting again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A refused describe link (400, e.g. DUPLICATE_LINK) is settled by the part's links: Ok
    /// when the document is among them, else `refused`.
    pub(super) async fn attached_or(
        &self,
        part_id: &str,
        doc_id: &str,
        refused: ConnectorError,
    ) -> Result<()> {
        if self
            .described_by(part_id)
            .await?
            .iter()
            .any(|d| d == doc_id)
        {
            return Ok(());
        }
        Err(refused)
    }
}
