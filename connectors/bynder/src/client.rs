//! [`BynderClient`]: the [`DamConnector`] over Bynder's asset bank API v4.
//!
//! Every request below cites docs/wire/bynder.md (the contract the emulator in `sim/` follows
//! too) and the SDK method it matches (bynder-python-sdk 2.x `AssetBankClient`,
//! bynder-js-sdk 2.5; research §A.2).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use partreel_connector::ConnectorError;
use partreel_connector::connector::{
    ChangeQuery, ConnectorStats, DamConnector, Page, PropertyInfo, RemoteSchema, WriteAccess,
    in_flight,
};
use partreel_connector::error::Result;
use partreel_connector::http::NoAuth;
use partreel_connector::http::{HttpClient, Request, Response};
use partreel_connector::model::{RemoteFields, VideoExperiment};
use partreel_connector::provenance::{DownloadInfo, ProvenanceError, download};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::auth::BynderAuth;
use crate::config::MAX_PAGE_SIZE;
use crate::config::ValidatedBynder;
use crate::convert::{format_time, media_to_experiment};
use crate::metaprops::{Metaproperties, Metaproperty, Missing, PlannedField, read_back_matches};
use crate::wire::{DownloadUrl, NewOption, StatusMessage};

/// Built-in media properties shown in the schema; partreel does not write them.
const BUILT_IN_PROPERTIES: &[(&str, &str)] = &[("name", "text"), ("description", "text")];

/// The connector of one Bynder portal. Build it with [`ValidatedBynder::build`].
pub struct BynderClient {
    base: Url,
    http: HttpClient,
    auth: BynderAuth,
    page_size: u32,
    media_type: String,
    confirm_attempts: u32,
    confirm_delay: Duration,
    write_batch: usize,
    metaprops: Mutex<Option<Arc<Metaproperties>>>,
}

impl std::fmt::Debug for BynderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BynderClient")
            .field("system", &self.http.system())
            .field("base", &self.base.as_str())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl BynderClient {
    pub(crate) fn new(cfg: ValidatedBynder, http: HttpClient, auth: BynderAuth) -> Self {
        BynderClient {
            base: cfg.base,
            http,
            auth,
            page_size: cfg.page_size,
            media_type: cfg.media_type,
            confirm_attempts: cfg.write_confirm_attempts.max(1),
            confirm_delay: Duration::from_millis(cfg.write_confirm_delay_ms),
            write_batch: cfg.write_batch.max(1) as usize,
            metaprops: Mutex::new(None),
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

    /// `{base}/<segments…>/` with an optional raw query (segments are percent-encoded).
    fn api_url(&self, segments: &[&str], query: Option<&str>) -> Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ConnectorError::Config(format!(
                    "{}: base_url cannot take a path",
                    self.system_name()
                ))
            })?
            .pop_if_empty()
            .extend(segments)
            .push("");
        url.set_query(query);
        Ok(url)
    }

    async fn send(&self, req: Request) -> Result<Response> {
        self.http.send(req, &self.auth).await
    }

    /// The metaproperty definitions, loaded when absent or when `reload`; the flag tells
    /// whether this call loaded them.
    async fn metaproperties(&self, reload: bool) -> Result<(Arc<Metaproperties>, bool)> {
        let mut cached = self.metaprops.lock().await;
        if let Some(defs) = cached.as_ref()
            && !reload
        {
            return Ok((defs.clone(), false));
        }
        // docs/wire/bynder.md "Metaproperties": GET {base}/api/v4/metaproperties/
        // (bynder-python-sdk AssetBankClient.meta_properties).
        let url = self.api_url(&["api", "v4", "metaproperties"], None)?;
        let resp = self.send(Request::get(url)).await?;
        let defs =
            Metaproperties::parse(&resp.body).map_err(|detail| ConnectorError::Malformed {
                system: self.system_name(),
                what: "metaproperties".into(),
                detail,
            })?;
        let defs = Arc::new(defs);
        *cached = Some(defs.clone());
        Ok((defs, true))
    }

    /// Creates a select option (name = label = `option`).
    async fn create_option(&self, asset_id: &str, prop: &Metaproperty, option: &str) -> Result<()> {
        // docs/wire/bynder.md "Metaproperties": POST {base}/api/v4/metaproperties/{id}/options/
        // form data={"name","label"} → 201 [INF shape] (bynder-js-sdk saveNewMetaPropertyOption).
        // Not idempotent: a blind retry could create the option twice.
        let url = self.api_url(&["api", "v4", "metaproperties", &prop.id, "options"], None)?;
        let data = serde_json::to_string(&NewOption {
            name: option,
            label: option,
        })
        .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let req = Request::new(Method::POST, url).form(&[("data".to_string(), data)]);
        match self.send(req).await {
            Ok(_) => {
                tracing::info!(system = %self.http.system(), metaproperty = %prop.name, "select option created");
                Ok(())
            }
            Err(e @ ConnectorError::Http { .. }) => Err(self.record_err(
                asset_id,
                format!(
                    "cannot create option {option:?} of metaproperty {}: {e}",
                    prop.name
                ),
            )),
            Err(e) => Err(e),
        }
    }

    /// Plans and sends one metadata write; answers the fields the media must then show.
    async fn post_write(&self, asset_id: &str, fields: &RemoteFields) -> Result<Vec<PlannedField>> {
        let planned = self.plan_write(asset_id, fields).await?;
        if planned.is_empty() {
            return Ok(planned);
        }
        // docs/wire/bynder.md "Write metadata": POST {base}/api/v4/media/{id}/ form
        // metaproperty.<id>=<option ids | text> → 202, applied asynchronously
        // (bynder-python-sdk set_media_properties). Setting the same values twice is
        // harmless, so the request may be retried.
        let pairs: Vec<(String, String)> = planned
            .iter()
            .map(|f| {
                (
                    format!("metaproperty.{}", f.property.id),
                    f.form_value.clone(),
                )
            })
            .collect();
        let url = self.api_url(&["api", "v4", "media", asset_id], None)?;
        let req = Request::new(Method::POST, url)
            .form(&pairs)
            .idempotent(true);
        let resp = self.send(req).await?;
        // The 202 body is `{"message":"Accepted","statuscode":202}`; only logged, the
        // re-reads are what confirms the write.
        let ack = serde_json::from_slice::<StatusMessage>(&resp.body).ok();
        tracing::debug!(system = %self.http.system(), status = resp.status.as_u16(), fields = pairs.len(),
            message = ack.as_ref().and_then(|a| a.message.as_deref()).unwrap_or(""), "metadata write accepted");
        Ok(planned)
    }

    /// The media among `ids` that exist, in one request: docs/wire/bynder.md "Confirming
    /// writes": GET {base}/api/v4/media/?ids=<id,id,…>&limit=<n> ("Comma-separated list of
    /// asset ids. Will return an asset for each existing id", Bynder API reference, Retrieve
    /// assets). A media the answer cannot read is left out (it reads as not found).
    async fn media_by_ids(&self, ids: &[&str]) -> Result<Vec<VideoExperiment>> {
        let query = format!(
            "ids={}&limit={}",
            ids.iter()
                .map(|id| urlencoding::encode(id).into_owned())
                .collect::<Vec<_>>()
                .join(","),
            ids.len().clamp(1, MAX_PAGE_SIZE as usize)
        );
        let url = self.api_url(&["api", "v4", "media"], Some(&query))?;
        let resp = self.send(Request::get(url)).await?;
        let raw: Vec<Value> = resp.json(self.http.system(), "media by ids")?;
        Ok(raw
            .iter()
            .filter_map(|m| match media_to_experiment(self.http.system(), m) {
                Ok(asset) => Some(asset),
                Err(rejected) => {
                    tracing::warn!(system = %self.http.system(), media = rejected.id.as_deref().unwrap_or("-"), reason = %rejected.reason, "media unreadable after a write");
                    None
                }
            })
            .collect())
    }

    /// A write accepted but not seen applied after every confirmation read.
    fn unconfirmed(&self, asset_id: &str, stale: &[String]) -> ConnectorError {
        ConnectorError::Unconfirmed {
            system: self.system_name(),
            record: asset_id.to_string(),
            message: format!(
                "write accepted but not visible after {} re-reads (fields {})",
                self.confirm_attempts,
                if stale.is_empty() {
                    "-".to_string()
                } else {
                    stale.join(", ")
                }
            ),
        }
    }

    /// Maps fields to form fields, reloading the definitions once and creating missing select
    /// options.
    async fn plan_write(&self, asset_id: &str, fields: &RemoteFields) -> Result<Vec<PlannedField>> {
        let (mut defs, fresh) = self.metaproperties(false).await?;
        let mut missing = match defs.plan(fields) {
            Ok(planned) => return Ok(planned),
            Err(missing) => missing,
        };
        if !fresh {
            (defs, _) = self.metaproperties(true).await?;
            missing = match defs.plan(fields) {
                Ok(planned) => return Ok(planned),
                Err(missing) => missing,
            };
        }
        let mut options = std::collections::BTreeSet::new();
        for m in missing {
            match m {
                Missing::Property(name) => {
                    return Err(self.record_err(
                        asset_id,
                        format!("{name} is not a metaproperty of this portal"),
                    ));
                }
                Missing::Option { property, option } => {
                    options.insert((property, option));
                }
            }
        }
        for (property, option) in &options {
            if let Some(prop) = defs.get(property) {
                self.create_option(asset_id, prop, option).await?;
            }
        }
        let (defs, _) = self.metaproperties(true).await?;
        defs.plan(fields).map_err(|missing| {
            let names: Vec<String> = missing
                .iter()
                .map(|m| match m {
                    Missing::Property(p) => p.clone(),
                    Missing::Option { property, option } => format!("{property}={option:?}"),
                })
                .collect();
            self.record_err(
                asset_id,
                format!(
                    "options not listed after creating them: {}",
                    names.join(", ")
                ),
            )
        })
    }
}

#[async_trait]
impl DamConnector for BynderClient {
    fn system(&self) -> &str {
        self.http.system()
    }

    async fn changed_assets(&self, q: &ChangeQuery) -> Result<Page<VideoExperiment>> {
        let limit = match q.page_size {
            0 => self.page_size,
            n => n.min(self.page_size),
        };
        let page: u32 = match &q.continuation {
            None => 1,
            Some(c) => c.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                ConnectorError::Config(format!(
                    "{}: continuation {c:?} is not a page number",
                    self.system_name()
                ))
            })?,
        };
        // docs/wire/bynder.md "Media": GET {base}/api/v4/media/?type=video&dateModified=…
        // &orderBy=dateModified%20asc&limit=1000&page=1 (bynder-python-sdk media_list).
        // dateModified means "modified after" (strictness undocumented [INF]): ask from one
        // second earlier so the bound is inclusive either way; the engine dedupes.
        let mut query = format!("type={}", urlencoding::encode(&self.media_type));
        if let Some(since) = q.since {
            let from = since
                .checked_sub_signed(chrono::Duration::seconds(1))
                .unwrap_or(since);
            query.push_str(&format!("&dateModified={}", format_time(from)));
        }
        query.push_str(&format!(
            "&orderBy=dateModified%20asc&limit={limit}&page={page}"
        ));
        let url = self.api_url(&["api", "v4", "media"], Some(&query))?;
        let resp = self.send(Request::get(url)).await?;
        let raw: Vec<Value> = resp.json(self.http.system(), "media page")?;
        let mut out = Page::empty();
        out.server_time = resp.server_time;
        for media in &raw {
            match media_to_experiment(self.http.system(), media) {
                // The second asked for before `since` only makes the bound inclusive: a clip
                // modified before it was read by an earlier page or run. The feed keeps its
                // contract (at or after `since`, oldest first) for the engine's order guard.
                Ok(asset) if q.since.is_some_and(|s| asset.modified < s) => {}
                Ok(asset) => out.items.push(asset),
                Err(rejected) => out.rejected.push(rejected),
            }
        }
        if u32::try_from(raw.len()).is_ok_and(|n| n >= limit) {
            out.continuation = Some((page + 1).to_string());
        }
        tracing::debug!(system = %self.http.system(), page, items = out.items.len(), rejected = out.rejected.len(), "media page");
        Ok(out)
    }

    async fn get_asset(&self, asset_id: &str) -> Result<Option<VideoExperiment>> {
        // docs/wire/bynder.md "Media": GET {base}/api/v4/media/{id}/?versions=1; deleted → 404
        // (bynder-python-sdk media_info).
        let url = self.api_url(&["api", "v4", "media", asset_id], Some("versions=1"))?;
        let resp = match self.send(Request::get(url)).await {
            Ok(resp) => resp,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let media: Value = resp.json(self.http.system(), "media")?;
        media_to_experiment(self.http.system(), &media)
            .map(Some)
            .map_err(|r| self.record_err(asset_id, r.reason))
    }

    async fn write_fields(&self, asset_id: &str, fields: &RemoteFields) -> Result<VideoExperiment> {
        let planned = self.post_write(asset_id, fields).await?;
        let mut stale = Vec::new();
        for attempt in 1..=self.confirm_attempts {
            let Some(asset) = self.get_asset(asset_id).await? else {
                return Err(self.record_err(
                    asset_id,
                    "asset not found when re-read after the write".into(),
                ));
            };
            stale = stale_fields(&planned, &asset);
            if stale.is_empty() {
                return Ok(asset);
            }
            if attempt < self.confirm_attempts {
                tokio::time::sleep(self.confirm_delay).await;
            }
        }
        Err(self.unconfirmed(asset_id, &stale))
    }

    /// Each write is sent (several at once; the rate limiter paces them), then the accepted
    /// ones are confirmed together: one `GET /api/v4/media/?ids=…` per confirmation round for
    /// the whole batch instead of a re-read per media (docs/wire/bynder.md "Confirming
    /// writes").
    async fn write_fields_batch(
        &self,
        batch: &[(String, RemoteFields)],
    ) -> Vec<Result<VideoExperiment>> {
        let writes: Vec<_> = batch
            .iter()
            .map(|(asset_id, fields)| self.post_write(asset_id, fields))
            .collect();
        let posted: Vec<Result<Vec<PlannedField>>> = in_flight(writes).await;
        let mut results: Vec<Option<Result<VideoExperiment>>> =
            posted.iter().map(|_| None).collect();
        // (index in the batch, fields to see) of the writes still to confirm.
        let mut waiting: Vec<(usize, Vec<PlannedField>)> = Vec::new();
        for (i, p) in posted.into_iter().enumerate() {
            match p {
                Ok(planned) => waiting.push((i, planned)),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        for attempt in 1..=self.confirm_attempts {
            if waiting.is_empty() {
                break;
            }
            let ids: Vec<&str> = waiting.iter().map(|(i, _)| batch[*i].0.as_str()).collect();
            let found = match self.media_by_ids(&ids).await {
                Ok(found) => found,
                Err(e) => {
                    // The writes went out but cannot be checked: each one gets the error (a
                    // failure of the portal, which ends the run; they are written again).
                    for (i, _) in waiting.drain(..) {
                        results[i] = Some(Err(e.clone()));
                    }
                    break;
                }
            };
            let last = attempt == self.confirm_attempts;
            waiting.retain(|(i, planned)| {
                let asset_id = batch[*i].0.as_str();
                let Some(asset) = found.iter().find(|a| a.asset_id == asset_id) else {
                    results[*i] = Some(Err(self.record_err(
                        asset_id,
                        "asset not found when re-read after the write".into(),
                    )));
                    return false;
                };
                let stale = stale_fields(planned, asset);
                if stale.is_empty() {
                    results[*i] = Some(Ok(asset.clone()));
                    false
                } else if last {
                    results[*i] = Some(Err(self.unconfirmed(asset_id, &stale)));
                    false
                } else {
                    true
                }
            });
            if !waiting.is_empty() && !last {
                tokio::time::sleep(self.confirm_delay).await;
            }
        }
        results
            .into_iter()
            .zip(batch)
            .map(|(r, (asset_id, _))| r.unwrap_or_else(|| Err(self.unconfirmed(asset_id, &[]))))
            .collect()
    }

    fn max_write_batch(&self) -> usize {
        self.write_batch
    }

    /// A download URL per file (the file itself is storage, off the API); a write per clip
    /// and one listing per batch of writes (docs/wire/bynder.md "Confirming writes").
    fn requests_for_clips(&self, files: u64, writes: u64) -> u64 {
        files + writes + writes.div_ceil(self.write_batch.max(1) as u64)
    }

    async fn original_url(&self, asset_id: &str) -> Result<Option<String>> {
        // docs/wire/bynder.md "Original file": GET {base}/api/v4/media/{id}/download/ →
        // {"s3_file": …} [INF key] (bynder-python-sdk media_download_url).
        let url = self.api_url(&["api", "v4", "media", asset_id, "download"], None)?;
        let resp = match self.send(Request::get(url)).await {
            Ok(resp) => resp,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let download: DownloadUrl = resp.json(self.http.system(), "media download URL")?;
        match download.s3_file {
            Some(url) if !url.is_empty() => Ok(Some(url)),
            _ => Err(ConnectorError::Malformed {
                system: self.system_name(),
                what: "media download URL".into(),
                detail: "no s3_file".into(),
            }),
        }
    }

    async fn download_original(
        &self,
        asset_id: &str,
        dest: &std::path::Path,
        max_bytes: u64,
    ) -> std::result::Result<Option<DownloadInfo>, ProvenanceError> {
        let Some(url) = self
            .original_url(asset_id)
            .await
            .map_err(ProvenanceError::Http)?
        else {
            return Ok(None);
        };
        let url = Url::parse(&url).map_err(|e| {
            ProvenanceError::Http(ConnectorError::Malformed {
                system: self.system_name(),
                what: "media download URL".into(),
                detail: e.to_string(),
            })
        })?;
        // The s3_file URL is pre-signed storage, not the portal's API: fetched without the
        // portal's token (it never travels to another host) and outside the API's rate
        // budget (docs/wire/bynder.md "Original file").
        download(
            &self.http,
            &NoAuth,
            Request::get(url).off_api(),
            dest,
            max_bytes,
        )
        .await
        .map(Some)
    }

    async fn schema(&self) -> Result<RemoteSchema> {
        let (defs, _) = self.metaproperties(false).await?;
        let mut props: Vec<PropertyInfo> = BUILT_IN_PROPERTIES
            .iter()
            .map(|(name, kind)| PropertyInfo {
                name: name.to_string(),
                kind: kind.to_string(),
                writable: false,
            })
            .collect();
        props.extend(defs.iter().map(|p| PropertyInfo {
            name: p.name.clone(),
            kind: p.kind.clone(),
            writable: true,
        }));
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

    /// From the OAuth token's granted `scope`: writing metaproperties on media needs
    /// `asset:write` (Bynder OAuth 2.0 scopes; docs/wire/bynder.md "Auth"). A permanent token
    /// carries the scopes chosen when it was made, which the API does not tell.
    async fn write_access(&self) -> Result<WriteAccess> {
        let BynderAuth::OAuth2(grant) = &self.auth else {
            return Ok(WriteAccess::Unknown(
                "a permanent token's scopes are not readable through the API; check in Bynder \
                 (Settings › Advanced settings › Portal settings › Permanent tokens) that it has \
                 asset:write"
                    .into(),
            ));
        };
        let granted = grant.granted_scopes(&self.http).await?;
        Ok(if granted.iter().any(|s| s == WRITE_SCOPE) {
            WriteAccess::Allowed(format!("the token was granted {WRITE_SCOPE}"))
        } else {
            WriteAccess::Denied(format!(
                "the token was granted \"{}\" without {WRITE_SCOPE}, which writing metaproperties \
                 needs: add {WRITE_SCOPE} to the OAuth app in Bynder (Settings › Advanced \
                 settings › Portal settings › OAuth apps) and to auth.scopes",
                granted.join(" ")
            ))
        })
    }
}

/// The planned fields a media read back does not show yet.
fn stale_fields(planned: &[PlannedField], asset: &VideoExperiment) -> Vec<String> {
    planned
        .iter()
        .filter(|f| !read_back_matches(f, asset.fields.get(&f.property.name).map(String::as_str)))
        .map(|f| f.property.name.clone())
        .collect()
}

/// The OAuth scope metaproperty writes need.
const WRITE_SCOPE: &str = "asset:write";
