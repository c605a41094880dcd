//! The write half of [`WindchillClient`]: creating a link document, attaching it to a part
//! revision, and reading back what a write returned. Both creations are non-idempotent POSTs,
//! so an ambiguous failure is settled by looking at what the server holds.

use partreel_core::error::{ConnectorError, Result};
use partreel_core::http::Request;
use partreel_core::model::{LinkId, RemoteFields, RemoteLink};
use reqwest::Method;
use serde_json::{Map, Value};

use super::{DESCRIBED_BY, WRITE_ROUNDS, WindchillClient};
use crate::{convert, odata, wire};

/// Characters of the prompt used in a document name.
const NAME_PROMPT_CHARS: usize = 40;

impl WindchillClient {
    /// A single Document entity (a write's answer) → link; `fallback` when it omits the id.
    pub(super) fn entity_link(
        &self,
        body: &[u8],
        what: &str,
        fallback: &LinkId,
    ) -> Result<RemoteLink> {
        let rec: Value =
            serde_json::from_slice(body).map_err(|e| self.malformed(what, e.to_string()))?;
        let Value::Object(mut map) = rec else {
            return Err(self.malformed(what, "not a JSON object"));
        };
        let prop = &self.p.link_id_property;
        if map.get(prop).is_none_or(Value::is_null) {
            map.insert(prop.clone(), Value::String(fallback.0.clone()));
        }
        match convert::link(&Value::Object(map), prop, &self.p.link_select) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => Err(self.malformed(what, format!("{prop}: blank"))),
            Err(r) => Err(self.malformed(what, r.reason)),
        }
    }

    /// WCCG_RESTAccessExamplesCreateDocument: `POST {base}/DocMgmt/Documents` (+ CSRF_NONCE).
    pub(super) async fn post_document(
        &self,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        let mut body = Map::new();
        body.insert(
            "Name".into(),
            Value::String(self.document_name(link_id, fields)),
        );
        body.insert(
            "Description".into(),
            Value::String(format!("partreel prompt-to-part link {link_id}")),
        );
        for (k, v) in fields {
            body.insert(k.clone(), Value::String(v.clone()));
        }
        body.insert(
            "Context@odata.bind".into(),
            Value::String(odata::keyed("Containers", &self.p.container)),
        );
        body.insert(
            self.p.link_id_property.clone(),
            Value::String(link_id.0.clone()),
        );
        let req = Request::new(Method::POST, self.url(&["DocMgmt", "Documents"], &[]))
            .header("accept", "application/json")
            .json(&Value::Object(body))?;
        let resp = self.p.http.send(req, &self.p.session).await?;
        self.entity_link(&resp.body, "DocMgmt/Documents create", link_id)
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

    /// IDs of the documents a part revision is described by (`GET Parts('…')/DescribedBy`).
    pub(super) async fn described_by(&self, part_id: &str) -> Result<Vec<String>> {
        let part = odata::keyed("Parts", part_id);
        let url = self.url(
            &["ProdMgmt", &part, "DescribedBy"],
            &[("$select", "ID".into())],
        );
        let recs = self.all(url, DESCRIBED_BY).await?;
        Ok(recs.iter().filter_map(wire::id_of).collect())
    }

    /// wrs_ProdMgmt_domain_12_0_2_23.html (describe links, ProdMgmt v7): `POST
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
                    if self
                        .described_by(part_id)
                        .await?
                        .iter()
                        .any(|d| d == doc_id)
                    {
                        return Ok(());
                    }
                    return Err(e);
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
}
