//! [`WindchillClient`]: the [`PlmConnector`] for Windchill REST Services. Every request cites
//! the PTC page of `docs/wire/windchill.md` it follows.
//!
//! Reads are OData collection queries, paged by the server (`@odata.nextLink`). A link is a
//! WTDocument carrying the link id in an IBA, attached to the part revision by a describe link.
//! Creating one is two non-idempotent POSTs, so each is preceded — and, after an ambiguous
//! failure, followed — by a look for what is already there.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use partreel_connector::PlmConnector;
use partreel_connector::connector::{ChangeQuery, ConnectorStats, Page, Rejected, RemoteSchema};
use partreel_connector::error::{ConnectorError, Result};
use partreel_connector::http::{HttpClient, Request};
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use reqwest::Method;
use serde_json::Value;
use url::Url;

use crate::auth::WindchillSession;
use crate::{convert, metadata, odata, typed, wire};

mod batch;
mod links;

/// Values per `$filter … or …` query (keeps URLs well under server limits).
const FILTER_BATCH: usize = 20;
/// Rounds of look-then-write after an ambiguous POST.
const WRITE_ROUNDS: u32 = 3;
/// Pages followed in one call before giving up on a server that never stops paging.
const MAX_PAGES: usize = 10_000;
/// What paged reads are called in errors.
const PARTS_PAGE: &str = "ProdMgmt/Parts page";
const DOCS_PAGE: &str = "DocMgmt/Documents page";
const DESCRIBED_BY: &str = "ProdMgmt/Parts DescribedBy";

/// Everything the client is built from (assembled by `ValidatedWindchill::build`).
pub(crate) struct ClientParts {
    pub system: String,
    pub http: HttpClient,
    pub session: WindchillSession,
    pub base: Url,
    pub container: String,
    pub link_id_property: String,
    pub page_size: u32,
    pub rebase_next_link: bool,
    pub name_prefix: String,
    pub part_select: Vec<String>,
    pub link_select: Vec<String>,
    /// The soft type of the link documents (entity type name in `DocMgmt`), if any.
    pub doc_type: Option<String>,
    /// Document property → OData type, read from `DocMgmt/$metadata` before the first write.
    pub doc_types: tokio::sync::OnceCell<std::collections::HashMap<String, String>>,
    /// Links created per pair of `$batch` requests (1: no batches).
    pub batch_size: usize,
    /// Set when the server answered a `$batch` with 501, 404 or 405: single calls from then on.
    pub batch_unsupported: std::sync::atomic::AtomicBool,
}

/// A connected Windchill system. Build it with `WindchillConfig::validate` then
/// `ValidatedWindchill::build`.
pub struct WindchillClient {
    p: ClientParts,
}

impl std::fmt::Debug for WindchillClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindchillClient")
            .field("system", &self.p.system)
            .field("base", &self.p.base.as_str())
            .field("session", &self.p.session)
            .field("container", &self.p.container)
            .field("link_id_property", &self.p.link_id_property)
            .finish_non_exhaustive()
    }
}

/// One decoded collection page.
struct RawPage {
    records: Vec<Value>,
    next: Option<String>,
    server_time: Option<DateTime<Utc>>,
}

impl WindchillClient {
    pub(crate) fn new(p: ClientParts) -> Self {
        WindchillClient { p }
    }

    fn malformed(&self, what: &str, detail: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            system: self.p.system.clone(),
            what: what.to_string(),
            detail: detail.into(),
        }
    }

    fn url<S: AsRef<str>>(&self, segments: &[S], query: &[(&str, String)]) -> Url {
        odata::url(&self.p.base, segments, query)
    }

    /// The path of the link documents: `DocMgmt/Documents`, or with a soft type its type cast
    /// `DocMgmt/Documents/PTC.DocMgmt.<type>` (wccg_restapis_wcsubtypes_in_OData.html), where
    /// the soft type's IBAs may be filtered and selected.
    fn documents_path(&self) -> Vec<String> {
        let mut path = vec!["DocMgmt".to_owned(), "Documents".to_owned()];
        path.extend(self.type_cast());
        path
    }

    /// One link document's path, through the type cast when there is a soft type.
    fn document_path(&self, id: &str) -> Vec<String> {
        let mut path = vec!["DocMgmt".to_owned(), odata::keyed("Documents", id)];
        path.extend(self.type_cast());
        path
    }

    fn type_cast(&self) -> Option<String> {
        self.p.doc_type.as_ref().map(|t| format!("PTC.DocMgmt.{t}"))
    }

    /// The `DocMgmt/$metadata` entity type of link documents.
    fn document_entity(&self) -> &str {
        self.p.doc_type.as_deref().unwrap_or("Document")
    }

    fn json_get(&self, url: Url) -> Request {
        Request::get(url).header("accept", "application/json")
    }

    /// WCCG_RESTAPIsODataPreferHeader.html: one page of a collection, `Prefer:
    /// odata.maxpagesize`; the body must be `{"value":[…]}`.
    async fn page(&self, url: Url, page_size: u32, what: &str) -> Result<RawPage> {
        let req = self
            .json_get(url)
            .header("prefer", &format!("odata.maxpagesize={page_size}"));
        let resp = self.p.http.send(req, &self.p.session).await?;
        let coll: wire::Collection = resp.json(&self.p.system, what)?;
        Ok(RawPage {
            records: coll.value,
            next: coll.next_link,
            server_time: resp.server_time,
        })
    }

    /// Every record of a query, following `@odata.nextLink` to the end.
    async fn all(&self, first: Url, what: &str) -> Result<Vec<Value>> {
        let mut url = first;
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.page(url.clone(), self.p.page_size, what).await?;
            out.extend(page.records);
            match page.next {
                None => return Ok(out),
                Some(next) => {
                    let next = odata::next_link(&self.p.base, &next, self.p.rebase_next_link)
                        .map_err(|e| self.malformed(what, e))?;
                    if next == url {
                        return Err(self.malformed(what, "@odata.nextLink repeats the request"));
                    }
                    url = next;
                }
            }
        }
        Err(self.malformed(what, format!("more than {MAX_PAGES} pages")))
    }

    /// The first page of a change feed, or the continuation the server gave.
    fn feed_url(
        &self,
        q: &ChangeQuery,
        what: &str,
        set: &[impl AsRef<str>],
        filter: Option<String>,
        select: &[String],
    ) -> Result<Url> {
        if let Some(next) = &q.continuation {
            return odata::next_link(&self.p.base, next, self.p.rebase_next_link)
                .map_err(|e| self.malformed(what, e));
        }
        let mut query = Vec::new();
        let timed = q.since.is_some();
        if let Some(f) = filter {
            query.push(("$filter", f));
        }
        if timed {
            query.push(("ptc.search.allowFilterOnTime", "true".to_string()));
        }
        query.push(("$orderby", "LastModified asc".to_string()));
        query.push(("$select", select.join(",")));
        Ok(self.url(set, &query))
    }

    /// The engine's page size when it asks for a smaller one, else the configured one.
    fn feed_page_size(&self, q: &ChangeQuery) -> u32 {
        match q.page_size {
            0 => self.p.page_size,
            n => n.min(self.p.page_size),
        }
    }

    /// Documents carrying any of `ids`, decoded strictly: a document that carries one of them
    /// but cannot be read is a record error (creating another would duplicate it).
    async fn documents_by_link_id(&self, ids: &[String]) -> Result<Vec<RemoteLink>> {
        let mut out = Vec::new();
        for batch in ids.chunks(FILTER_BATCH) {
            // WCCG_RESTAPIsSupportedQueryOptions.html: `$filter=P eq '…' or …`.
            let url = self.url(
                &self.documents_path(),
                &[
                    ("$filter", odata::any_eq(&self.p.link_id_property, batch)),
                    ("$select", self.p.link_select.join(",")),
                ],
            );
            for rec in self.all(url, DOCS_PAGE).await? {
                match convert::link(&rec, &self.p.link_id_property, &self.p.link_select) {
                    Ok(Some(l)) if batch.contains(&l.link_id.0) => out.push(l),
                    Ok(_) => {}
                    Err(r) => return Err(self.record_error(r)),
                }
            }
        }
        Ok(out)
    }

    fn record_error(&self, r: Rejected) -> ConnectorError {
        ConnectorError::Record {
            system: self.p.system.clone(),
            record: r.id.unwrap_or_else(|| "document".into()),
            message: r.reason,
        }
    }
}

#[async_trait]
impl PlmConnector for WindchillClient {
    fn system(&self) -> &str {
        &self.p.system
    }

    /// WCCG_RESTAPIsSupportedQueryOptions.html + WCCG_RESTAPIsDateTimeOffset.html:
    /// `GET {base}/ProdMgmt/Parts?$filter=LastModified ge …&ptc.search.allowFilterOnTime=true
    /// &$orderby=LastModified asc&$select=…`, paged per WCCG_RESTAPIsODataPreferHeader.html.
    async fn changed_parts(&self, q: &ChangeQuery) -> Result<Page<PartRevision>> {
        let filter = q
            .since
            .map(|t| format!("LastModified ge {}", odata::time(t)));
        let url = self.feed_url(
            q,
            PARTS_PAGE,
            &["ProdMgmt", "Parts"],
            filter,
            &self.p.part_select,
        )?;
        let raw = self.page(url, self.feed_page_size(q), PARTS_PAGE).await?;
        let mut page = Page::empty();
        for rec in &raw.records {
            match convert::part(&self.p.system, rec, &self.p.part_select) {
                Ok(p) => page.items.push(p),
                Err(r) => page.rejected.push(r),
            }
        }
        tracing::debug!(system = %self.p.system, count = page.items.len(), rejected = page.rejected.len(), "parts page");
        page.continuation = raw.next;
        page.server_time = raw.server_time;
        Ok(page)
    }

    /// WCCG_RESTAPIsSupportedQueryOptions.html: `$filter=Number eq 'A' or Number eq 'B'`,
    /// 20 numbers a query, every page.
    async fn parts_by_number(&self, numbers: &[String]) -> Result<Vec<PartRevision>> {
        let mut unique: Vec<String> = Vec::new();
        for n in numbers {
            if !unique.contains(n) {
                unique.push(n.clone());
            }
        }
        let mut out = Vec::new();
        for batch in unique.chunks(FILTER_BATCH) {
            let url = self.url(
                &["ProdMgmt", "Parts"],
                &[
                    ("$filter", odata::any_eq("Number", batch)),
                    ("$select", self.p.part_select.join(",")),
                ],
            );
            for rec in self.all(url, PARTS_PAGE).await? {
                match convert::part(&self.p.system, &rec, &self.p.part_select) {
                    Ok(p) => out.push(p),
                    Err(r) => {
                        tracing::warn!(system = %self.p.system, id = ?r.id, reason = %r.reason, "part skipped")
                    }
                }
            }
        }
        Ok(out)
    }

    /// WCCG_RESTAPIsSupportedQueryOptions.html + WCCG_RESTAPIsDateTimeOffset.html: `GET
    /// {base}/DocMgmt/Documents?$filter=LastModified ge … and <link id IBA> gt ''&…`, paged
    /// like parts. The page lists no `null` literal; a string comparison with `gt` is in the
    /// subset, and a comparison with an unset property is false (OData v4), so `gt ''` selects
    /// exactly the documents that carry a link id — whatever its value, so a copy whose id was
    /// retyped by hand is seen too.
    async fn changed_links(&self, q: &ChangeQuery) -> Result<Page<RemoteLink>> {
        let has_id = format!("{} gt {}", self.p.link_id_property, odata::literal(""));
        let filter = match q.since {
            Some(t) => format!("LastModified ge {} and {has_id}", odata::time(t)),
            None => has_id,
        };
        let url = self.feed_url(
            q,
            DOCS_PAGE,
            &self.documents_path(),
            Some(filter),
            &self.p.link_select,
        )?;
        let raw = self.page(url, self.feed_page_size(q), DOCS_PAGE).await?;
        let mut page = Page::empty();
        for rec in &raw.records {
            match convert::link(rec, &self.p.link_id_property, &self.p.link_select) {
                Ok(Some(l)) => page.items.push(l),
                Ok(None) => {}
                Err(r) => page.rejected.push(r),
            }
        }
        page.continuation = raw.next;
        page.server_time = raw.server_time;
        Ok(page)
    }

    /// WCCG_RESTAPIsSupportedQueryOptions.html: `GET {base}/DocMgmt/Documents?$filter=
    /// PartreelLinkId eq '…' or …`, 20 ids a query, every page.
    async fn find_links(&self, ids: &[LinkId]) -> Result<Vec<RemoteLink>> {
        let ids: Vec<String> = ids.iter().map(|i| i.0.clone()).collect();
        self.documents_by_link_id(&ids).await
    }

    /// `GET {base}/ProdMgmt/Parts('…')/DescribedBy?$expand=DescribedBy`, every page: the part's
    /// describe links, each with its document (PTC Help Center,
    /// example_sustainability_retrieve_enggmaterialpartdescribelinks.html,
    /// example_mfgprocplan_retrieve_DD_associatedwithresource.html). Each document is read as
    /// `changed_links` reads one, with `part_remote_id` = this part; documents without a link id
    /// are left out, one that cannot be read is a record error naming it.
    async fn links_on_part(&self, part_remote_id: &str) -> Result<Vec<RemoteLink>> {
        self.links_described(part_remote_id).await
    }

    /// Look (`find_links`), else `POST DocMgmt/Documents` (WCCG_RESTAccessExamplesCreateDocument)
    /// — after an ambiguous failure look again before posting, at most 3 rounds — then attach
    /// with `POST Parts('…')/DescribedBy` (wrs_ProdMgmt_domain_12_0_2_23.html).
    async fn create_link(
        &self,
        part: &PartRevision,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        let lookup = std::slice::from_ref(link_id);
        let mut found = self.find_links(lookup).await?.into_iter().next();
        let mut round = 0;
        let mut doc = loop {
            if let Some(d) = found.take() {
                break d;
            }
            round += 1;
            match self.post_document(link_id, fields).await {
                Ok(d) => break d,
                Err(e @ ConnectorError::Ambiguous { .. }) => {
                    // The POST may have been applied: look before posting again.
                    found = self.find_links(lookup).await?.into_iter().next();
                    if found.is_none() && round >= WRITE_ROUNDS {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        };
        self.attach(&part.remote_id, &doc.remote_id).await?;
        doc.part_remote_id = Some(part.remote_id.clone());
        Ok(doc)
    }

    /// `GET {base}/ProdMgmt/Parts('…')/DescribedBy?$expand=DescribedBy` (the describe links,
    /// each with its document; example_sustainability_retrieve_enggmaterialpartdescribelinks.html)
    /// and attach when the document is not among the expanded documents — the links' own IDs
    /// are never compared with the document's.
    /// Batches of `batch_size` links: two `$batch` requests each (client/batch.rs).
    async fn create_links(
        &self,
        batch: &[partreel_connector::connector::NewLink],
    ) -> Vec<Result<RemoteLink>> {
        self.create_links_batched(batch).await
    }

    fn max_batch(&self) -> usize {
        if self
            .p
            .batch_unsupported
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            1
        } else {
            self.p.batch_size.max(1)
        }
    }

    /// Two `$batch` requests per batch of creations (the documents, then their describe
    /// links; docs/wire/windchill.md), three per link without `$batch` (look-up, document,
    /// describe link); a PATCH per update.
    fn requests_for_links(&self, creates: u64, updates: u64) -> u64 {
        let batch = self.max_batch() as u64;
        let creating = if batch > 1 {
            2 * creates.div_ceil(batch)
        } else {
            3 * creates
        };
        creating + updates
    }

    async fn ensure_attached(&self, part: &PartRevision, link: &RemoteLink) -> Result<()> {
        if self
            .described_by(&part.remote_id)
            .await?
            .contains(&link.remote_id)
        {
            return Ok(());
        }
        self.attach(&part.remote_id, &link.remote_id).await
    }

    /// WCCG_RESTAccessExamplesUpdateaDocument.html: `PATCH {base}/DocMgmt/Documents('…')`
    /// (+ CSRF_NONCE) with the changed properties and `Prefer: return=representation`
    /// (WCCG_RESTAPIsODataPreferHeader.html) → 200 with the entity; a server that does not
    /// apply the preference answers 204 (PATCH's default), and the entity is read back.
    async fn update_link(&self, link: &RemoteLink, fields: &RemoteFields) -> Result<RemoteLink> {
        if fields.is_empty() {
            return Ok(link.clone());
        }
        let url = self.url(&self.document_path(&link.remote_id), &[]);
        let types = self.document_types().await?;
        let body = self.typed_body(types, fields, &link.link_id)?;
        let req = Request::new(Method::PATCH, url.clone())
            .header("accept", "application/json")
            .header("prefer", "return=representation")
            .json(&body)?;
        let resp = self.p.http.send(req, &self.p.session).await?;
        let body = if resp.status.as_u16() == 204 || resp.body.is_empty() {
            let read = url_with_select(url, &self.p.link_select);
            self.p
                .http
                .send(self.json_get(read), &self.p.session)
                .await?
                .body
        } else {
            resp.body
        };
        let what = "DocMgmt/Documents update";
        let (_, updated) = self.entity_link(&body, what, Some(&link.link_id))?;
        let mut updated = updated.ok_or_else(|| self.malformed(what, "no link id"))?;
        updated.part_remote_id = link.part_remote_id.clone();
        // A write the server accepted but did not apply is loud, never taken as done.
        let stale: Vec<&str> = fields
            .iter()
            .filter(|(k, v)| {
                let kind = types.get(*k).map_or("", String::as_str);
                !typed::same(kind, updated.fields.get(*k).map_or("", String::as_str), v)
            })
            .map(|(k, _)| k.as_str())
            .collect();
        if !stale.is_empty() {
            return Err(ConnectorError::not_applied(
                &self.p.system,
                &link.remote_id,
                "properties",
                &stale,
            ));
        }
        Ok(updated)
    }

    /// WindchillCustomizationUsingWRS.html: `GET {base}/ProdMgmt/$metadata` and
    /// `GET {base}/DocMgmt/$metadata` (EDMX).
    async fn schema(&self) -> Result<RemoteSchema> {
        let mut schema = RemoteSchema::default();
        for (entity, domain, ty) in [
            ("part", "ProdMgmt", "Part"),
            ("link", "DocMgmt", self.document_entity()),
        ] {
            let url = self.url(&[domain, "$metadata"], &[]);
            let path = url.path().to_string();
            let req = Request::get(url).header("accept", "application/xml");
            let resp = self.p.http.send(req, &self.p.session).await?;
            let props =
                metadata::properties(&resp.body, ty).map_err(|e| self.malformed(&path, e))?;
            if entity == "link" && self.p.doc_type.is_none() {
                schema
                    .hints
                    .extend(self.soft_type_hints(&resp.body, &props, &path)?);
            }
            schema.entities.insert(entity.to_string(), props);
        }
        Ok(schema)
    }

    fn stats(&self) -> ConnectorStats {
        self.p.http.stats()
    }

    fn rate_limits(&self) -> partreel_connector::connector::RateLimitReport {
        self.p.http.rate_limits()
    }

    async fn write_access(&self) -> Result<partreel_connector::connector::WriteAccess> {
        Ok(partreel_connector::connector::write_access_unknown(
            "Windchill REST Services",
        ))
    }
}

impl WindchillClient {
    /// With no `document_type`: the soft types of `Document` in `DocMgmt/$metadata` that carry
    /// link properties `Document` lacks (the IBAs are on a subtype the configuration does not
    /// name: every create would be refused), each as a hint naming the setting.
    fn soft_type_hints(
        &self,
        xml: &[u8],
        document: &[partreel_connector::connector::PropertyInfo],
        path: &str,
    ) -> Result<Vec<String>> {
        let mut hints = Vec::new();
        for name in metadata::derived_types(xml, "Document").map_err(|e| self.malformed(path, e))? {
            let props = metadata::properties(xml, &name).map_err(|e| self.malformed(path, e))?;
            let only_there: Vec<&str> = self
                .p
                .link_select
                .iter()
                .filter(|l| !document.iter().any(|p| &p.name == *l))
                .filter(|l| props.iter().any(|p| &p.name == *l))
                .map(String::as_str)
                .collect();
            if !only_there.is_empty() {
                hints.push(format!(
                    "{} are IBAs of the soft type {name} (BaseType PTC.DocMgmt.Document in \
                     DocMgmt/$metadata): set document_type = \"{name}\" in [systems.{}]",
                    only_there.join(", "),
                    self.p.system
                ));
            }
        }
        Ok(hints)
    }

    /// The OData type of every document property, from `GET {base}/DocMgmt/$metadata`
    /// (WindchillCustomizationUsingWRS.html), read once per run before the first write.
    async fn document_types(&self) -> Result<&std::collections::HashMap<String, String>> {
        self.p
            .doc_types
            .get_or_try_init(|| async {
                let url = self.url(&["DocMgmt", "$metadata"], &[]);
                let path = url.path().to_string();
                let req = Request::get(url).header("accept", "application/xml");
                let resp = self.p.http.send(req, &self.p.session).await?;
                let props = metadata::properties(&resp.body, self.document_entity())
                    .map_err(|e| self.malformed(&path, e))?;
                Ok(props.into_iter().map(|p| (p.name, p.kind)).collect())
            })
            .await
    }

    /// A create or update body: each field as its declared type; a value the type cannot take
    /// is a record error naming the property (nothing is sent).
    fn typed_body(
        &self,
        types: &std::collections::HashMap<String, String>,
        fields: &RemoteFields,
        link_id: &LinkId,
    ) -> Result<serde_json::Map<String, Value>> {
        let mut body = serde_json::Map::new();
        for (k, v) in fields {
            let kind = types.get(k).map_or("", String::as_str);
            let value = typed::value(kind, v).map_err(|e| ConnectorError::Record {
                system: self.p.system.clone(),
                record: link_id.to_string(),
                message: format!("property {k}: {e} (its type in DocMgmt/$metadata)"),
            })?;
            body.insert(k.clone(), value);
        }
        Ok(body)
    }
}

fn url_with_select(mut url: Url, select: &[String]) -> Url {
    url.set_query(Some(&format!(
        "$select={}",
        urlencoding::encode(&select.join(","))
    )));
    url
}
