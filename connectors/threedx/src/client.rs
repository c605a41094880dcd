//! [`ThreedxClient`]: the [`PlmConnector`] for 3DSpace. Every request cites the ws3dx source of
//! `docs/wire/threedx.md` it follows.
//!
//! Parts are found with the Engineering Item search (ids and modification times, Default mask),
//! then read in batches with `bulkfetch` (Details mask). Search results come in no particular
//! order, so each feed page is chosen from a full pass over the results (`scan`). Links are
//! Documents under the item (`links`).

mod links;
mod read;
mod scan;

use async_trait::async_trait;
use partreel_connector::PlmConnector;
use partreel_connector::connector::{
    ChangeQuery, ConnectorStats, NewLink, Page, PropertyInfo, RemoteSchema, WriteAccess,
};
use partreel_connector::error::{ConnectorError, Result};
use partreel_connector::http::{HttpClient, Request, Response};
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use reqwest::header::CONTENT_TYPE;
use url::Url;

use crate::auth::ThreedxSession;
use crate::config::RetireMode;
use crate::{convert, wire};
use scan::Selection;

/// Everything the client is built from (assembled by `ValidatedThreedx::build`).
pub(crate) struct ClientParts {
    pub system: String,
    pub http: HttpClient,
    pub session: ThreedxSession,
    pub space: Url,
    pub tenant: Option<String>,
    pub parent_rel_name: String,
    pub search_string: String,
    pub modified_predicate: Option<String>,
    pub link_search: String,
    pub link_id_attribute: String,
    pub link_status_attribute: String,
    /// The extension carrying the link attributes, given to each created document.
    pub link_extension: Option<String>,
    pub retire: RetireMode,
    pub page_size: u32,
    pub part_properties: Vec<String>,
    pub link_properties: Vec<String>,
}

/// A connected 3DEXPERIENCE system. Build it with `ThreedxConfig::validate` then
/// `ValidatedThreedx::build`.
pub struct ThreedxClient {
    p: ClientParts,
}

impl std::fmt::Debug for ThreedxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreedxClient")
            .field("system", &self.p.system)
            .field("space", &self.p.space.as_str())
            .field("session", &self.p.session)
            .field("parent_rel_name", &self.p.parent_rel_name)
            .finish_non_exhaustive()
    }
}

/// What a `SecurityContext`'s role allows partreel to do.
pub(crate) fn role_access(context: &str) -> WriteAccess {
    let role = context
        .trim()
        .strip_prefix("ctx::")
        .unwrap_or(context)
        .split('.')
        .next()
        .unwrap_or_default();
    match role {
        "VPLMCreator" | "VPLMProjectLeader" | "VPLMProjectAdministrator" | "VPLMAdmin" => {
            WriteAccess::Allowed(format!(
                "the security context's role {role} may create and modify documents in its \
                 collaborative space"
            ))
        }
        "VPLMViewer" => WriteAccess::Denied(format!(
            "the security context's role {role} (Reader) may not create documents: set \
             security_context to a context with the Author (VPLMCreator) or Leader \
             (VPLMProjectLeader) role in the same collaborative space"
        )),
        other => WriteAccess::Unknown(format!(
            "the role {other:?} of the security context is not one partreel knows; the first \
             sync's first document creation will tell (Author, Leader and Owner may create)"
        )),
    }
}

/// Document attributes the server maintains (read-only in the schema).
pub(crate) const DOCUMENT_READ_ONLY: &[&str] = &[
    "name",
    "policy",
    "state",
    "stateNLS",
    "typeNLS",
    "revision",
    "isLatestRevision",
    "collabspace",
    "collabSpaceTitle",
    "originated",
    "modified",
    "reservedby",
    "hasDownloadAccess",
    "hasReviseAccess",
    "hasModifyAccess",
    "hasDeleteAccess",
    "parentId",
    "parentRelName",
    "parentDirection",
    "fileExtension",
    "imageId",
    "receipt",
];

impl ThreedxClient {
    pub(crate) fn new(p: ClientParts) -> Self {
        ThreedxClient { p }
    }

    /// The session (login and CSRF counters).
    pub fn session(&self) -> &ThreedxSession {
        &self.p.session
    }

    fn malformed(&self, what: &str, detail: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            system: self.p.system.clone(),
            what: what.to_string(),
            detail: detail.into(),
        }
    }

    /// `{space}/resources/v1/modeler/<segments>?<query>[&tenant=…]`.
    fn modeler(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.p.space.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.extend(["resources", "v1", "modeler"]).extend(segments);
        }
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
            if let Some(t) = &self.p.tenant {
                q.append_pair("tenant", t);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    fn json_get(url: Url) -> Request {
        Request::get(url).header("accept", "application/json")
    }

    /// Sends through the session. A `200` HTML page is 3DPassport's login form (the session
    /// died in a way the status does not show): log in again once and replay.
    async fn send(&self, req: Request) -> Result<Response> {
        let generation = self.p.session.live_generation(&self.p.http).await?;
        let resp = self.p.http.send(req.clone(), &self.p.session).await?;
        if !is_html(&resp) {
            return Ok(resp);
        }
        self.p.session.renew_after(&self.p.http, generation).await?;
        let resp = self.p.http.send(req, &self.p.session).await?;
        if is_html(&resp) {
            return Err(crate::auth::auth_error(
                &self.p.http,
                "3DSpace keeps answering its login page",
            ));
        }
        Ok(resp)
    }

    /// The engine's page size when it asks for one, else the configured one.
    fn feed_page_size(&self, q: &ChangeQuery) -> usize {
        match q.page_size {
            0 => self.p.page_size as usize,
            n => n as usize,
        }
    }

    /// The continuation key of `q`, if it has one.
    fn after(&self, q: &ChangeQuery, what: &str) -> Result<Option<scan::Key>> {
        q.continuation
            .as_deref()
            .map(|c| {
                scan::decode(c).ok_or_else(|| self.malformed(what, "continuation not understood"))
            })
            .transpose()
    }
}

fn is_html(resp: &Response) -> bool {
    resp.headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/html"))
}

#[async_trait]
impl PlmConnector for ThreedxClient {
    fn system(&self) -> &str {
        &self.p.system
    }

    /// EngItemService search (`$searchStr` = `search_string` [AND `modified_predicate`]), every
    /// result page, the oldest `page_size` chosen; then `bulkfetch` of those ids.
    async fn changed_parts(&self, q: &ChangeQuery) -> Result<Page<PartRevision>> {
        let after = self.after(q, read::ITEM_SEARCH)?;
        let mut sel = Selection::new(self.feed_page_size(q), q.since, after);
        let search = self.part_search(q.since);
        let server_time = self
            .scan_items(&search, |key, ()| sel.offer(key, ()))
            .await?;
        let (keys, next) = sel.finish();
        let ids: Vec<String> = keys.into_iter().map(|(k, ())| k.1).collect();
        let mut page = Page::empty();
        for rec in self.details(&ids).await? {
            match convert::part(&self.p.system, &rec, &self.p.part_properties) {
                Ok(p) => page.items.push(p),
                Err(r) => page.rejected.push(r),
            }
        }
        page.items
            .sort_by(|a, b| (a.modified, &a.remote_id).cmp(&(b.modified, &b.remote_id)));
        page.continuation = next.as_ref().map(scan::encode);
        page.server_time = server_time;
        tracing::debug!(system = %self.p.system, count = page.items.len(), rejected = page.rejected.len(), "parts page");
        Ok(page)
    }

    /// One search per number (each revision is its own item), then `bulkfetch`; only exact
    /// part-number matches are kept.
    async fn parts_by_number(&self, numbers: &[String]) -> Result<Vec<PartRevision>> {
        let mut ids: Vec<String> = Vec::new();
        let mut unique: Vec<&String> = Vec::new();
        for n in numbers {
            if unique.contains(&n) {
                continue;
            }
            unique.push(n);
            self.scan_items(n, |key, ()| {
                if !ids.contains(&key.1) {
                    ids.push(key.1);
                }
            })
            .await?;
        }
        let mut out = Vec::new();
        for rec in self.details(&ids).await? {
            match convert::part(&self.p.system, &rec, &self.p.part_properties) {
                Ok(p) if unique.contains(&&p.number) => out.push(p),
                Ok(_) => {}
                Err(r) => {
                    tracing::warn!(system = %self.p.system, id = ?r.id, reason = %r.reason, "part skipped")
                }
            }
        }
        Ok(out)
    }

    /// DocumentService search (`searchStr` = `link_search` [AND `modified_predicate`]), every
    /// page, the oldest `page_size` partreel documents chosen.
    async fn changed_links(&self, q: &ChangeQuery) -> Result<Page<RemoteLink>> {
        let after = self.after(q, read::DOC_SEARCH)?;
        let mut sel = Selection::new(self.feed_page_size(q), q.since, after);
        let search = self.link_feed_search(q.since);
        let server_time = self
            .scan_documents(&search, |key, link| sel.offer(key, link))
            .await?;
        let (items, next) = sel.finish();
        let mut page = Page::empty();
        page.items = items.into_iter().map(|(_, l)| l).collect();
        page.continuation = next.as_ref().map(scan::encode);
        page.server_time = server_time;
        Ok(page)
    }

    /// DocumentService search with each link id as `searchStr`; exact matches only.
    async fn find_links(&self, ids: &[LinkId]) -> Result<Vec<RemoteLink>> {
        let mut out: Vec<RemoteLink> = Vec::new();
        for id in ids {
            self.scan_documents(id.as_str(), |_, link| {
                if &link.link_id == id && !out.iter().any(|l| l.remote_id == link.remote_id) {
                    out.push(link);
                }
            })
            .await?;
        }
        Ok(out)
    }

    /// ws3dx.document `DocumentService.GetItemDocuments` (docs/wire/threedx.md "Documents of
    /// a part"): `GET documents/parentId/{id}?parentRelName=…&parentDirection=from`, one read,
    /// the same one `create_link` and `ensure_attached` make; every document under the
    /// engineering item that carries a link id, converted as `changed_links` converts it, with
    /// `part_remote_id` = the item (see `links::links_under`).
    async fn links_on_part(&self, part_remote_id: &str) -> Result<Vec<RemoteLink>> {
        self.links_under(part_remote_id).await
    }

    /// Look under the item (`GET documents/parentId/{id}`), else `POST documents`; after an
    /// ambiguous failure look again before posting (see `links`).
    async fn create_link(
        &self,
        part: &PartRevision,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        self.create_document(part, link_id, fields).await
    }

    /// `POST documents` straight away when the journal knows of no earlier attempt (the look
    /// under the item would be a second request per link, docs/wire/threedx.md "Fewest
    /// requests"); else as `create_link`, looking first.
    async fn create_new(&self, new: &NewLink) -> Result<RemoteLink> {
        if new.prior_attempt {
            self.create_document(&new.part, &new.link_id, &new.fields)
                .await
        } else {
            self.post_new_document(&new.part, &new.link_id, &new.fields)
                .await
        }
    }

    /// One `POST documents` per creation; an update reads the document for its `cestamp`
    /// and PUTs it (docs/wire/threedx.md).
    fn requests_for_links(&self, creates: u64, updates: u64) -> u64 {
        creates + 2 * updates
    }

    /// `GET documents/parentId/{id}`, and attach with `PUT documents/{docId}` when missing.
    async fn ensure_attached(&self, part: &PartRevision, link: &RemoteLink) -> Result<()> {
        self.attach_document(part, link).await
    }

    /// `GET documents/{docId}` for the `cestamp`, then `PUT documents/{docId}` with it.
    async fn update_link(&self, link: &RemoteLink, fields: &RemoteFields) -> Result<RemoteLink> {
        self.update_document(link, fields).await
    }

    /// A Details-mask read of one item (`customerAttributes`, `dseno:EnterpriseAttributes`) and
    /// the `dataelements` of one document (plm-apis.md §3.6: read and diff).
    async fn schema(&self) -> Result<RemoteSchema> {
        let mut schema = RemoteSchema::default();
        let mut first: Option<String> = None;
        self.scan_items_limited(&self.p.search_string, 1, |key, ()| {
            first.get_or_insert(key.1);
        })
        .await?;
        let mut part_props = Vec::new();
        if let Some(id) = first {
            for rec in self.details(&[id]).await? {
                if let Some(map) = rec.as_object() {
                    part_props = convert::item_fields(map).into_keys().collect();
                }
            }
        }
        let part = part_props.into_iter().map(|name| PropertyInfo {
            name,
            kind: "string".into(),
            writable: false,
        });
        schema.entities.insert("part".into(), part.collect());
        let doc = self.sample_document().await?;
        let mut names: Vec<String> = doc
            .as_ref()
            .and_then(|d| d.as_object())
            .map(|m| convert::document_fields(m).into_keys().collect())
            .unwrap_or_default();
        // The attributes show only on a document that has them: with a customer extension,
        // one that carries it. When none read does (no link created yet, or no document at
        // all), take the mapped ones as the configuration names them and say they are
        // unchecked.
        let unseen = match (&self.p.link_extension, &doc) {
            (ext, None) => Some(format!(
                "no document could be read to list the document attributes{}",
                ext.as_ref()
                    .map(|x| format!(" (the link attributes come with the extension {x})"))
                    .unwrap_or_default()
            )),
            (Some(ext), Some(d)) if !convert::has_extension(d, ext) => Some(format!(
                "the link attributes come with the extension {ext}, and no document read \
                 carries it yet"
            )),
            _ => None,
        };
        if let Some(why) = unseen {
            for n in &self.p.link_properties {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
            schema.caveats.push(format!(
                "{why}: the mapped attributes are checked when the first link is created (a \
                 create the platform refuses, or that does not read back its {}, is a record \
                 error naming the attribute)",
                self.p.link_id_attribute
            ));
        }
        for n in ["title", "description", self.p.link_id_attribute.as_str()] {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
        let link = names.into_iter().map(|name| PropertyInfo {
            writable: !DOCUMENT_READ_ONLY.contains(&name.as_str()),
            name,
            kind: "string".into(),
        });
        schema.entities.insert("link".into(), link.collect());
        Ok(schema)
    }

    fn stats(&self) -> ConnectorStats {
        self.p.http.stats()
    }

    fn rate_limits(&self) -> partreel_connector::connector::RateLimitReport {
        self.p.http.rate_limits()
    }

    /// From the role of the configured `SecurityContext` (`ctx::ROLE.ORGANIZATION.SPACE`):
    /// Reader may not create documents; Author, Leader and Owner may (3DEXPERIENCE roles in a
    /// collaborative space, docs/wire/threedx.md "Auth"). The role is the one the server
    /// checks every request against; whether this user holds it there, the first sign-in
    /// (the read checks before this one) already told.
    async fn write_access(&self) -> Result<WriteAccess> {
        Ok(role_access(self.p.session.security_context()))
    }
}

/// A document-service answer's records, after checking `success`.
pub(crate) fn docs_data(
    c: &ThreedxClient,
    resp: &Response,
    what: &str,
) -> Result<Vec<serde_json::Value>> {
    let env: wire::DocsEnvelope = resp.json(&c.p.system, what)?;
    env.check().map_err(|e| c.malformed(what, e))?;
    Ok(env.data)
}
