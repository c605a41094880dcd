//! The read half of [`ThreedxClient`]: paging through the Engineering Item and Document
//! searches to their end, `bulkfetch` of item details, and the enterprise-reference fallback.

use chrono::{DateTime, Utc};
use partreel_connector::error::Result;
use partreel_connector::http::Request;
use partreel_connector::model::RemoteLink;
use reqwest::Method;
use serde_json::Value;

use super::scan::Key;
use super::{ThreedxClient, docs_data};
use crate::{convert, wire};

/// What the item search is called in errors.
pub(super) const ITEM_SEARCH: &str = "dseng:EngItem/search";
/// What the document search is called in errors.
pub(super) const DOC_SEARCH: &str = "documents/search";
const BULKFETCH: &str = "dseng:EngItem/bulkfetch";
/// Ids per `bulkfetch` request.
const BULK_MAX: usize = 100;
/// Search pages followed in one pass before giving up on a server that never stops.
const MAX_PAGES: u32 = 100_000;
/// Mask of the search (ids and times only) and of `bulkfetch` (every attribute).
const DEFAULT_MASK: &str = "dsmveng:EngItemMask.Default";
const DETAILS_MASK: &str = "dsmveng:EngItemMask.Details";

impl ThreedxClient {
    /// `$searchStr` of the part feed: `search_string`, AND-ed with the configured predicate.
    pub(super) fn part_search(&self, since: Option<DateTime<Utc>>) -> String {
        self.since_search(&self.p.search_string, since)
    }

    /// `searchStr` of the link feed: `link_search`, AND-ed with the configured predicate.
    pub(super) fn link_feed_search(&self, since: Option<DateTime<Utc>>) -> String {
        self.since_search(&self.p.link_search, since)
    }

    /// `base`, AND-ed with the modified-since predicate when there is a bound and a predicate.
    fn since_search(&self, base: &str, since: Option<DateTime<Utc>>) -> String {
        let base = base.trim();
        match (&self.p.modified_predicate, since) {
            (Some(pred), Some(t)) => {
                let pred = pred.replace("{since}", &wire::format_time(t));
                if base == "*" {
                    pred
                } else {
                    format!("{base} AND {pred}")
                }
            }
            _ => base.to_string(),
        }
    }

    /// Every result of an item search, as `(modified, id)` keys; returns the server's clock at
    /// the first page.
    pub(super) async fn scan_items(
        &self,
        search: &str,
        f: impl FnMut(Key, ()),
    ) -> Result<Option<DateTime<Utc>>> {
        self.scan_items_limited(search, u32::MAX, f).await
    }

    /// EngItemService `Search`: `GET {modeler}/dseng/dseng:EngItem/search?$searchStr=…&$top=…
    /// &$skip=…&$mask=dsmveng:EngItemMask.Default` → `member[]`, until a short page (ws3dx
    /// `SearchService`) or `max` results.
    pub(super) async fn scan_items_limited(
        &self,
        search: &str,
        max: u32,
        mut f: impl FnMut(Key, ()),
    ) -> Result<Option<DateTime<Utc>>> {
        let top = self.p.page_size.min(max);
        let mut server_time = None;
        let mut seen = 0u32;
        for n in 0..MAX_PAGES {
            let url = self.modeler(
                &["dseng", "dseng:EngItem", "search"],
                &[
                    ("$searchStr", search.to_string()),
                    ("$top", top.to_string()),
                    ("$skip", (n * top).to_string()),
                    ("$mask", DEFAULT_MASK.to_string()),
                ],
            );
            let resp = self.send(Self::json_get(url)).await?;
            server_time = server_time.or(resp.server_time);
            let page: wire::Members = resp.json(&self.p.system, ITEM_SEARCH)?;
            let count = page.member.len() as u32;
            for rec in &page.member {
                match item_key(rec) {
                    Ok(k) => f(k, ()),
                    Err(reason) => {
                        tracing::warn!(system = %self.p.system, id = ?wire::id_of(rec), %reason, "search result skipped")
                    }
                }
            }
            seen = seen.saturating_add(count);
            if count < top || seen >= max {
                return Ok(server_time);
            }
        }
        Err(self.malformed(ITEM_SEARCH, format!("more than {MAX_PAGES} pages")))
    }

    /// EngItemService `BulkFetch`: `POST {modeler}/dseng/dseng:EngItem/bulkfetch?$mask=…Details
    /// &$mva=true` body `["id",…]` (a read: safe to repeat), 100 ids a request; records missing
    /// their enterprise reference get it from `GET …/{id}/dseng:EnterpriseReference`.
    pub(super) async fn details(&self, ids: &[String]) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BULK_MAX) {
            let url = self.modeler(
                &["dseng", "dseng:EngItem", "bulkfetch"],
                &[("$mask", DETAILS_MASK.into()), ("$mva", "true".into())],
            );
            let req = Request::new(Method::POST, url)
                .header("accept", "application/json")
                .json(chunk)?
                .idempotent(true);
            let resp = self.send(req).await?;
            let page: wire::Members = resp.json(&self.p.system, BULKFETCH)?;
            for mut rec in page.member {
                if rec.get(wire::ENTERPRISE_REFERENCE).is_none()
                    && let Some(id) = wire::id_of(&rec)
                    && let Some(reference) = self.enterprise_reference(&id).await?
                    && let Some(map) = rec.as_object_mut()
                {
                    map.insert(wire::ENTERPRISE_REFERENCE.into(), reference);
                }
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// EngItemService `GetEnterpriseReference`: `GET {modeler}/dseng/dseng:EngItem/{id}/
    /// dseng:EnterpriseReference` → `member[0]`; None when the item has none (404 or empty).
    async fn enterprise_reference(&self, id: &str) -> Result<Option<Value>> {
        let url = self.modeler(
            &["dseng", "dseng:EngItem", id, wire::ENTERPRISE_REFERENCE],
            &[],
        );
        match self.send(Self::json_get(url)).await {
            Ok(resp) => {
                let m: wire::Members = resp.json(&self.p.system, wire::ENTERPRISE_REFERENCE)?;
                Ok(m.member.into_iter().next())
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// DocumentService search: `GET {modeler}/documents/search?searchStr=…&$top=…&$skip=…` →
    /// `data[]`, every page; partreel's documents (a link id) as links keyed by `(modified, id)`.
    pub(super) async fn scan_documents(
        &self,
        search: &str,
        mut f: impl FnMut(Key, RemoteLink),
    ) -> Result<Option<DateTime<Utc>>> {
        let top = self.p.page_size;
        let mut server_time = None;
        for n in 0..MAX_PAGES {
            let data = self
                .document_page(search, top, n * top, &mut server_time)
                .await?;
            let count = data.len() as u32;
            for rec in &data {
                match convert::link(rec, &self.p.link_id_attribute, &self.p.link_properties) {
                    Ok(Some(l)) => f((l.modified, l.remote_id.clone()), l),
                    Ok(None) => {}
                    Err(r) => {
                        tracing::warn!(system = %self.p.system, id = ?r.id, reason = %r.reason, "document skipped")
                    }
                }
            }
            if count < top {
                return Ok(server_time);
            }
        }
        Err(self.malformed(DOC_SEARCH, format!("more than {MAX_PAGES} pages")))
    }

    async fn document_page(
        &self,
        search: &str,
        top: u32,
        skip: u32,
        server_time: &mut Option<DateTime<Utc>>,
    ) -> Result<Vec<Value>> {
        let url = self.modeler(
            &["documents", "search"],
            &[
                ("searchStr", search.to_string()),
                ("$top", top.to_string()),
                ("$skip", skip.to_string()),
            ],
        );
        let resp = self.send(Self::json_get(url)).await?;
        *server_time = server_time.or(resp.server_time);
        docs_data(self, &resp, DOC_SEARCH)
    }

    /// One document to read the attribute names from: a partreel one, else any.
    pub(super) async fn sample_document(&self) -> Result<Option<Value>> {
        let mut t = None;
        for search in [self.p.link_search.as_str(), "*"] {
            if let Some(d) = self
                .document_page(search, 1, 0, &mut t)
                .await?
                .into_iter()
                .next()
            {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }
}

/// `(modified, id)` of a search result.
fn item_key(rec: &Value) -> std::result::Result<Key, String> {
    let id = wire::id_of(rec)
        .filter(|s| !s.is_empty())
        .ok_or("id: missing")?;
    let modified = rec
        .get("modified")
        .and_then(Value::as_str)
        .ok_or("modified: missing")?;
    let t = wire::parse_time(modified)
        .ok_or_else(|| format!("modified: not a date-time ({modified:?})"))?;
    Ok((t, id))
}
