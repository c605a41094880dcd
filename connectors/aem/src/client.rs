//! [`AemClient`]: the [`DamConnector`] over AEM's Assets HTTP API and QueryBuilder.
//!
//! Every request below cites docs/wire/aem.md (the contract the emulator in `sim/` follows
//! too) and the Experience League page it comes from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use async_trait::async_trait;
use partreel_connector::ConnectorError;
use partreel_connector::connector::{
    ChangeQuery, ConnectorStats, DamConnector, Page, PropertyInfo, RemoteSchema, in_flight,
};
use partreel_connector::error::Result;
use partreel_connector::http::{Auth, HttpClient, Request, Response};
use partreel_connector::model::{RemoteFields, VideoExperiment};
use partreel_connector::provenance::{DownloadInfo, ProvenanceError};
use reqwest::Method;
use url::Url;

use crate::auth::AemAuth;
use crate::config::{MAX_PAGE_SIZE, ValidatedAem};
use crate::convert::{Convert, format_bound};
use crate::wire::{
    API_PREFIX, ASSET_NODE_TYPE, AssetUpdate, CLASS_ASSET, DAM_PREFIX, FEED_NODE_DEPTH, HIT_PATH,
    JSON_EXTENSION, LAST_MODIFIED_PROPERTY, PROP_TITLE, QUERYBUILDER_PATH, QueryResult,
    SirenEntity,
};

/// The connector of one AEM author instance. Build it with [`ValidatedAem::build`].
pub struct AemClient {
    pub(crate) base: Url,
    dam_root: String,
    pub(crate) http: HttpClient,
    auth: AemAuth,
    pub(crate) page_size: u32,
    write_batch: usize,
    declared: Vec<String>,
    convert: Convert,
}

/// What a QueryBuilder read covers.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// The `dam:Asset`s under a path (and the node at it, with `self_too`).
    Under { path: &'a str, self_too: bool },
    /// These assets, by path: `group.p.or=true` with `group.N_path=<asset>` and
    /// `group.N_path.self=true` (PredicateGroupEvaluator; "Query Builder Predicate Reference",
    /// group), inside `dam_root`.
    Assets(&'a [&'a str]),
}

impl std::fmt::Debug for AemClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AemClient")
            .field("system", &self.http.system())
            .field("base", &self.base.as_str())
            .field("dam_root", &self.dam_root)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl AemClient {
    pub(crate) fn new(cfg: ValidatedAem, http: HttpClient, auth: AemAuth) -> Self {
        let convert = Convert {
            system: http.system().to_string(),
            base: cfg.base.clone(),
            archive_property: cfg.archive_property,
        };
        AemClient {
            base: cfg.base,
            dam_root: cfg.dam_root,
            http,
            auth,
            page_size: cfg.page_size,
            write_batch: cfg.write_batch.max(1) as usize,
            declared: cfg.metadata_properties,
            convert,
        }
    }

    fn system_name(&self) -> String {
        self.http.system().to_string()
    }

    fn record_err(&self, record: &str, message: String) -> ConnectorError {
        ConnectorError::Record {
            system: self.system_name(),
            record: record.to_string(),
            message,
        }
    }

    /// `{base}/api/assets/<path below /content/dam>[.json]`. Paths outside `dam_root` are
    /// refused: an asset id never sends the token anywhere else.
    pub(crate) fn api_url(&self, dam_path: &str, json: bool) -> Result<Url> {
        let inside = dam_path == self.dam_root
            || dam_path
                .strip_prefix(&self.dam_root)
                .is_some_and(|rest| rest.starts_with('/'));
        let segments: Vec<&str> = dam_path
            .strip_prefix(DAM_PREFIX)
            .unwrap_or_default()
            .split('/')
            .skip(1)
            .collect();
        if !inside || segments.iter().any(|s| s.is_empty() || *s == "..") {
            return Err(self.record_err(
                dam_path,
                format!("not an asset path under {}", self.dam_root),
            ));
        }
        let mut url = self.base.clone();
        {
            let mut seg = url.path_segments_mut().map_err(|()| {
                ConnectorError::Config(format!(
                    "{}: base_url cannot take a path",
                    self.system_name()
                ))
            })?;
            seg.pop_if_empty();
            seg.extend(API_PREFIX.trim_start_matches('/').split('/'));
            let (last, parents) = segments.split_last().unwrap_or((&"", &[]));
            seg.extend(parents);
            if json {
                seg.push(&format!("{last}{JSON_EXTENSION}"));
            } else {
                seg.push(last);
            }
        }
        Ok(url)
    }

    pub(crate) async fn send(&self, req: Request) -> Result<Response> {
        self.http.send(req, &self.auth).await
    }

    /// Reads one Siren entity; `None` on 404.
    async fn read_entity(&self, dam_path: &str) -> Result<Option<(SirenEntity, Response)>> {
        // docs/wire/aem.md "Read one": GET {base}/api/assets/{path}.json → 200 Siren / 404
        // (Experience League "Assets HTTP API", "Retrieve a folder listing": follow `self`).
        let url = self.api_url(dam_path, true)?;
        let resp = match self.send(Request::get(url)).await {
            Ok(resp) => resp,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let entity: SirenEntity = resp.json(self.http.system(), "Siren entity")?;
        Ok(Some((entity, resp)))
    }

    /// One page of a QueryBuilder feed under `dam_root`, oldest `jcr:lastModified` first.
    async fn query_page(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
        offset: u64,
        limit: u32,
    ) -> Result<(QueryResult, Response)> {
        self.query(
            Scope::Under {
                path: &self.dam_root,
                self_too: false,
            },
            since,
            offset,
            limit,
        )
        .await
    }

    /// The QueryBuilder hit of one asset (`path=<asset>&path.self=true`, PathPredicateEvaluator:
    /// the subtree including the node itself) — the facts the feed gives, for an asset whose
    /// Siren JSON lacks `jcr:lastModified`.
    async fn hit_of(&self, asset_id: &str) -> Result<Option<VideoExperiment>> {
        self.api_url(asset_id, false)?;
        let scope = Scope::Under {
            path: asset_id,
            self_too: true,
        };
        let (result, _) = self.query(scope, None, 0, 1).await?;
        let Some(hit) = result
            .hits
            .iter()
            .find(|h| h.get(HIT_PATH).and_then(serde_json::Value::as_str) == Some(asset_id))
        else {
            return Ok(None);
        };
        self.convert
            .hit(hit)
            .map(Some)
            .map_err(|r| self.record_err(asset_id, r.reason))
    }

    /// One QueryBuilder page of the `dam:Asset`s in `scope`.
    async fn query(
        &self,
        scope: Scope<'_>,
        since: Option<chrono::DateTime<chrono::Utc>>,
        offset: u64,
        limit: u32,
    ) -> Result<(QueryResult, Response)> {
        // docs/wire/aem.md "Changed since": GET {base}/bin/querybuilder.json?path=…&type=dam:Asset
        // &daterange.property=jcr:content/jcr:lastModified&daterange.lowerBound=…
        // &daterange.lowerOperation=>=&orderby=@jcr:content/jcr:lastModified&orderby.sort=asc
        // &p.offset=…&p.limit=…&p.guessTotal=true&p.hits=full&p.nodedepth=2
        // (Experience League "Query Builder API" and "Query Builder Predicate Reference";
        // DateRangePredicateEvaluator javadoc for lowerOperation).
        let mut url = self.base.join(QUERYBUILDER_PATH).map_err(|e| {
            ConnectorError::Config(format!("{}: querybuilder URL: {e}", self.system_name()))
        })?;
        {
            let mut q = url.query_pairs_mut();
            match scope {
                Scope::Under { path, self_too } => {
                    q.append_pair("path", path);
                    if self_too {
                        q.append_pair("path.self", "true");
                    }
                }
                Scope::Assets(paths) => {
                    q.append_pair("path", &self.dam_root);
                    q.append_pair("group.p.or", "true");
                    for (i, p) in paths.iter().enumerate() {
                        q.append_pair(&format!("group.{}_path", i + 1), p);
                        q.append_pair(&format!("group.{}_path.self", i + 1), "true");
                    }
                }
            }
            q.append_pair("type", ASSET_NODE_TYPE);
            if let Some(since) = since {
                q.append_pair("daterange.property", LAST_MODIFIED_PROPERTY)
                    .append_pair("daterange.lowerBound", &format_bound(since))
                    .append_pair("daterange.lowerOperation", ">=");
            }
            q.append_pair("orderby", &format!("@{LAST_MODIFIED_PROPERTY}"))
                .append_pair("orderby.sort", "asc")
                .append_pair("p.offset", &offset.to_string())
                .append_pair("p.limit", &limit.to_string())
                .append_pair("p.guessTotal", "true")
                .append_pair("p.hits", "full")
                .append_pair("p.nodedepth", &FEED_NODE_DEPTH.to_string());
        }
        let resp = self.send(Request::get(url)).await?;
        let result: QueryResult = resp.json(self.http.system(), "querybuilder page")?;
        if !result.success {
            return Err(ConnectorError::Malformed {
                system: self.system_name(),
                what: "querybuilder page".into(),
                detail: "success is false".into(),
            });
        }
        Ok((result, resp))
    }

    /// docs/wire/aem.md "Write metadata": PUT {base}/api/assets/{path} with
    /// {"class":"asset","properties":{…}} → 200 / 404 / 412 (Experience League "Assets HTTP
    /// API", "Update metadata of an asset"). A PUT of fixed values is idempotent. Nothing to
    /// write sends nothing.
    async fn put_metadata(&self, asset_id: &str, fields: &RemoteFields) -> Result<()> {
        if fields.is_empty() {
            return Ok(());
        }
        let body = AssetUpdate {
            class: "asset",
            properties: fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<BTreeMap<_, _>>(),
        };
        let url = self.api_url(asset_id, false)?;
        let req = Request::new(Method::PUT, url).json(&body)?.idempotent(true);
        match self.send(req).await {
            Ok(_) => Ok(()),
            Err(ConnectorError::Http {
                status,
                ref message,
                ..
            }) if matches!(status, 400 | 404 | 409 | 412 | 422) => Err(self.record_err(
                asset_id,
                format!("metadata update refused ({status}): {message}"),
            )),
            Err(e) => Err(e),
        }
    }

    /// The asset as read after a write, when it shows every written field; else the record
    /// error naming those it does not (AEM applied the PUT before answering, so a field that
    /// reads back different was not written).
    fn confirmed(
        &self,
        asset_id: &str,
        fields: &RemoteFields,
        asset: VideoExperiment,
    ) -> Result<VideoExperiment> {
        let stale: Vec<&str> = fields
            .iter()
            .filter(|(k, v)| asset.fields.get(*k).map_or("", String::as_str) != v.as_str())
            .map(|(k, _)| k.as_str())
            .collect();
        if stale.is_empty() {
            Ok(asset)
        } else {
            Err(self.record_err(
                asset_id,
                format!(
                    "write not visible when re-read (fields {})",
                    stale.join(", ")
                ),
            ))
        }
    }

    /// The QueryBuilder hits of these assets, by path, in one read; a hit that cannot be read
    /// is that asset's record error.
    async fn read_assets(
        &self,
        paths: &[&str],
    ) -> Result<BTreeMap<String, Result<VideoExperiment>>> {
        for p in paths {
            self.api_url(p, false)?;
        }
        let limit = u32::try_from(paths.len()).unwrap_or(MAX_PAGE_SIZE).max(1);
        let (result, _) = self.query(Scope::Assets(paths), None, 0, limit).await?;
        let mut out = BTreeMap::new();
        for hit in &result.hits {
            let Some(path) = hit.get(HIT_PATH).and_then(serde_json::Value::as_str) else {
                continue;
            };
            if !paths.contains(&path) {
                continue;
            }
            let read = self
                .convert
                .hit(hit)
                .map_err(|r| self.record_err(path, r.reason));
            out.insert(path.to_string(), read);
        }
        Ok(out)
    }

    /// `{base}{path}/jcr:content/renditions/original`, for a path under `dam_root`.
    fn original_rendition_url(&self, asset_id: &str) -> Result<Url> {
        self.api_url(asset_id, false)?;
        self.convert
            .original(asset_id)
            .and_then(|u| Url::parse(&u).ok())
            .ok_or_else(|| self.record_err(asset_id, "no original rendition URL".into()))
    }
}

#[async_trait]
impl DamConnector for AemClient {
    fn system(&self) -> &str {
        self.http.system()
    }

    async fn changed_assets(&self, q: &ChangeQuery) -> Result<Page<VideoExperiment>> {
        let limit = match q.page_size {
            0 => self.page_size,
            n => n.min(self.page_size),
        };
        let offset: u64 = match &q.continuation {
            None => 0,
            Some(c) => c.parse().map_err(|_| {
                ConnectorError::Config(format!(
                    "{}: continuation {c:?} is not an offset",
                    self.system_name()
                ))
            })?,
        };
        let (result, resp) = self.query_page(q.since, offset, limit).await?;
        let mut out = Page::empty();
        out.server_time = resp.server_time;
        for hit in &result.hits {
            match self.convert.hit(hit) {
                Ok(asset) => out.items.push(asset),
                Err(rejected) => out.rejected.push(rejected),
            }
        }
        let served = result.hits.len() as u64;
        let more = result
            .more
            .unwrap_or(served >= u64::from(limit) && served > 0);
        if more && served > 0 {
            out.continuation = Some((offset + served).to_string());
        }
        tracing::debug!(system = %self.http.system(), offset, items = out.items.len(), rejected = out.rejected.len(), "querybuilder page");
        Ok(out)
    }

    async fn get_asset(&self, asset_id: &str) -> Result<Option<VideoExperiment>> {
        let Some((entity, _)) = self.read_entity(asset_id).await? else {
            return Ok(None);
        };
        if !entity.class.contains(CLASS_ASSET) {
            return Err(self.record_err(asset_id, "is not an asset (Siren class)".into()));
        }
        if !Convert::has_modified(&entity) {
            // docs/wire/aem.md "Read one": Adobe does not promise `jcr:lastModified` in an
            // asset's Siren JSON; without it the asset is read as the feed reads it.
            tracing::debug!(system = %self.http.system(), asset = asset_id, "no jcr:lastModified in the asset JSON: reading its QueryBuilder hit");
            return match self.hit_of(asset_id).await? {
                Some(a) => Ok(Some(a)),
                None => Err(self.record_err(
                    asset_id,
                    "no jcr:lastModified in the asset JSON, and no QueryBuilder hit for it".into(),
                )),
            };
        }
        self.convert
            .entity(asset_id, &entity)
            .map(Some)
            .map_err(|r| self.record_err(asset_id, r.reason))
    }

    async fn write_fields(&self, asset_id: &str, fields: &RemoteFields) -> Result<VideoExperiment> {
        self.put_metadata(asset_id, fields).await?;
        // AEM applies the PUT before answering; one re-read confirms it.
        let Some(asset) = self.get_asset(asset_id).await? else {
            return Err(self.record_err(
                asset_id,
                "asset not found when re-read after the write".into(),
            ));
        };
        self.confirmed(asset_id, fields, asset)
    }

    /// Each PUT is sent (several at once; the rate limiter paces them), then the written
    /// assets are read back together: one QueryBuilder read of their paths per batch (split
    /// when the URL would grow too long) instead of a Siren read per asset (docs/wire/aem.md
    /// "Confirming writes").
    async fn write_fields_batch(
        &self,
        batch: &[(String, RemoteFields)],
    ) -> Vec<Result<VideoExperiment>> {
        let puts: Vec<_> = batch
            .iter()
            .map(|(asset_id, fields)| self.put_metadata(asset_id, fields))
            .collect();
        let put: Vec<Result<()>> = in_flight(puts).await;
        let mut results: Vec<Option<Result<VideoExperiment>>> = Vec::with_capacity(batch.len());
        let mut written: Vec<&str> = Vec::new();
        for (r, (asset_id, _)) in put.into_iter().zip(batch) {
            match r {
                Ok(()) => {
                    written.push(asset_id);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let mut read: BTreeMap<String, Result<VideoExperiment>> = BTreeMap::new();
        for chunk in confirm_chunks(&written) {
            match self.read_assets(chunk).await {
                Ok(found) => read.extend(found),
                Err(e) => {
                    for p in chunk {
                        read.insert((*p).to_string(), Err(e.clone()));
                    }
                }
            }
        }
        results
            .into_iter()
            .zip(batch)
            .map(|(r, (asset_id, fields))| match r {
                Some(done) => done,
                None => match read.remove(asset_id) {
                    Some(Ok(asset)) => self.confirmed(asset_id, fields, asset),
                    Some(Err(e)) => Err(e),
                    None => Err(self.record_err(
                        asset_id,
                        "asset not found when re-read after the write".into(),
                    )),
                },
            })
            .collect()
    }

    fn max_write_batch(&self) -> usize {
        self.write_batch
    }

    /// The original per file (served by the author instance itself); a PUT per clip and one
    /// QueryBuilder read per batch of writes (docs/wire/aem.md "Confirming writes").
    fn requests_for_clips(&self, files: u64, writes: u64) -> u64 {
        files + writes + writes.div_ceil(self.write_batch.max(1) as u64)
    }

    async fn original_url(&self, asset_id: &str) -> Result<Option<String>> {
        Ok(self
            .get_asset(asset_id)
            .await?
            .and_then(|a| a.rendition_url))
    }

    async fn download_original(
        &self,
        asset_id: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> std::result::Result<Option<DownloadInfo>, ProvenanceError> {
        // docs/wire/aem.md "Original file": GET {base}{path}/jcr:content/renditions/original
        // with this client's bearer token (the author instance serves originals only to an
        // authenticated caller; the URL is on the configured host, checked by `api_url`).
        let url = self
            .original_rendition_url(asset_id)
            .map_err(ProvenanceError::Http)?;
        match partreel_connector::provenance::download(&self.http, &self.auth, url, dest, max_bytes)
            .await
        {
            Ok(info) => Ok(Some(info)),
            Err(ProvenanceError::Http(e)) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn media_request(&self, url: Url) -> Result<Request> {
        // docs/wire/aem.md "Original file": renditions under /content/dam are served to an
        // authenticated caller only. Credentials go to the configured origin alone.
        let mut req = Request::get(url);
        if req.url.origin() == self.base.origin() {
            self.auth.apply(&self.http, &mut req).await?;
        }
        Ok(req)
    }

    async fn schema(&self) -> Result<RemoteSchema> {
        // The Assets HTTP API publishes no metadata schema: list what the newest page of clips
        // holds, plus the configured `metadata_properties`.
        let (result, _) = self.query_page(None, 0, self.page_size).await?;
        let mut names: BTreeSet<String> = self.declared.iter().cloned().collect();
        names.insert(PROP_TITLE.to_string());
        for hit in &result.hits {
            if let Ok(asset) = self.convert.hit(hit) {
                names.extend(asset.fields.into_keys());
            }
        }
        let props = names
            .into_iter()
            .map(|name| PropertyInfo {
                writable: !name.starts_with("dam:") && !name.starts_with("jcr:"),
                name,
                kind: "String".to_string(),
            })
            .collect();
        let mut schema = RemoteSchema::default();
        schema.entities.insert("asset".to_string(), props);
        Ok(schema)
    }

    fn stats(&self) -> ConnectorStats {
        self.http.stats()
    }

    fn rate_limits(&self) -> partreel_connector::connector::RateLimitReport {
        self.http.rate_limits()
    }

    async fn write_access(&self) -> Result<partreel_connector::connector::WriteAccess> {
        Ok(partreel_connector::connector::write_access_unknown(
            "AEM Assets' HTTP API",
        ))
    }
}

/// Longest query string of one confirmation read: paths are long, and 8 KB request lines are
/// the common limit of servers and CDNs in front of AEM [INF]; the rest of the query is short.
const MAX_CONFIRM_QUERY_BYTES: usize = 7_000;

/// The written paths in groups whose `group.N_path=…&group.N_path.self=true` pairs, as
/// encoded in the query, stay under [`MAX_CONFIRM_QUERY_BYTES`]; every group holds at least one
/// path.
fn confirm_chunks<'a>(paths: &'a [&'a str]) -> Vec<&'a [&'a str]> {
    // `&group.NNN_path=` and `&group.NNN_path.self=true`.
    const PAIR_KEYS: usize = 17 + 27;
    // `path`, `type`, ordering, paging and hit rendering, with room for a long `dam_root`.
    const OTHER_PARAMS: usize = 500;
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, p) in paths.iter().enumerate() {
        let encoded: usize = url::form_urlencoded::byte_serialize(p.as_bytes())
            .map(str::len)
            .sum();
        let cost = encoded + PAIR_KEYS;
        if i > start && bytes + cost > MAX_CONFIRM_QUERY_BYTES - OTHER_PARAMS {
            out.push(&paths[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += cost;
    }
    if start < paths.len() {
        out.push(&paths[start..]);
    }
    out
}
