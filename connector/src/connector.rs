//! The traits every PLM and DAM connector implements, and the types they exchange with the
//! engine.
//!
//! Change feeds are keyset-paged: the engine asks for records modified at or after a time,
//! oldest first, and restarts the query from the last time it saw instead of following an
//! offset, so records edited during a run never shift a page and get skipped. A connector
//! returns the server's own continuation for the case where one timestamp fills a whole page.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::model::{LinkId, PartKey, PartRevision, RemoteFields, RemoteLink, VideoExperiment};

/// A query on a change feed.
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    /// Records modified at or after this time (None: everything).
    pub since: Option<DateTime<Utc>>,
    /// The server continuation returned by the previous page of the *same* query.
    pub continuation: Option<String>,
    /// Preferred page size.
    pub page_size: u32,
}

/// What the application gives a PLM connector's factory (`ValidatedX::build`).
#[derive(Debug, Clone, Default)]
pub struct PlmBuildContext {
    /// Configured system name (used in errors, logs and link ids).
    pub system: String,
    /// Folder of the configuration file (relative secret files are read from here).
    pub config_dir: std::path::PathBuf,
    /// Part properties the mapping reads (the connector asks only for these and its own).
    pub part_properties: Vec<String>,
    /// Link record properties the mapping reads or writes.
    pub link_properties: Vec<String>,
}

/// What the application gives a DAM connector's factory (`ValidatedX::build`).
#[derive(Debug, Clone, Default)]
pub struct DamBuildContext {
    /// Configured system name (used in errors, logs and link ids).
    pub system: String,
    /// Folder of the configuration file (relative secret files are read from here).
    pub config_dir: std::path::PathBuf,
}

/// A record the connector could not decode; it goes to quarantine.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// The record's id, when it could be read.
    pub id: Option<String>,
    /// Why it was rejected, naming the field.
    pub reason: String,
}

/// Gathers a [`PlmConnector::links_on_part`] answer from records read as the link feed reads
/// them, each paired with the id that names it when it cannot be read: every link gets
/// `part_remote_id`, records without a link id are left out, and the first record that cannot
/// be read ends the read as a record error (its own id, else the paired one; the message from
/// `message(paired id, reason)`).
pub fn links_on_part_from<I>(
    system: &str,
    part_remote_id: &str,
    records: I,
    message: impl Fn(&str, &str) -> String,
) -> Result<Vec<RemoteLink>>
where
    I: IntoIterator<Item = (String, std::result::Result<Option<RemoteLink>, Rejected>)>,
{
    let mut out = Vec::new();
    for (fallback, record) in records {
        match record {
            Ok(Some(mut l)) => {
                l.part_remote_id = Some(part_remote_id.to_string());
                out.push(l);
            }
            Ok(None) => {}
            Err(r) => {
                return Err(crate::error::ConnectorError::Record {
                    system: system.to_string(),
                    message: message(&fallback, &r.reason),
                    record: r.id.unwrap_or(fallback),
                });
            }
        }
    }
    Ok(out)
}

/// One page of a change feed.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Records, oldest modification first.
    pub items: Vec<T>,
    /// Records that could not be decoded.
    pub rejected: Vec<Rejected>,
    /// Continuation for the next page of the same query, None on the last page.
    pub continuation: Option<String>,
    /// The server's clock when it answered (from the HTTP `Date` header), if it said.
    pub server_time: Option<DateTime<Utc>>,
}

impl<T> Page<T> {
    /// An empty last page.
    pub fn empty() -> Self {
        Page {
            items: Vec::new(),
            rejected: Vec::new(),
            continuation: None,
            server_time: None,
        }
    }
}

/// Kind of a property in a remote schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyInfo {
    /// Remote name.
    pub name: String,
    /// Remote type name (Edm.String, select, text, …).
    pub kind: String,
    /// True when partreel may write it.
    pub writable: bool,
}

/// What a remote system lets a mapping use: entity name → properties.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemoteSchema {
    /// Entities (for a PLM: `part`, `link`; for a DAM: `asset`) with their properties.
    pub entities: std::collections::BTreeMap<String, Vec<PropertyInfo>>,
    /// What the connector noticed in the schema that explains properties a configuration
    /// looks for in the wrong place, each with its fix (e.g. IBAs that live on a soft type
    /// the configuration does not name).
    pub hints: Vec<String>,
    /// What the connector could not check without writing, and when it will be checked.
    pub caveats: Vec<String>,
}

/// Counters a connector keeps for the run report.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ConnectorStats {
    /// HTTP requests sent (each retry counts).
    pub requests: u64,
    /// Retries among them.
    pub retries: u64,
    /// Milliseconds spent waiting on the rate limiter.
    pub rate_limit_wait_ms: u64,
    /// Requests to file storage outside the API (pre-signed download URLs), not under its
    /// rate limit and not among `requests`.
    pub file_requests: u64,
}

/// A connector's client-side rate limit and what the server said about its own budget
/// (`partreel doctor`'s rate-limit check).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RateLimitReport {
    /// Requests partreel allows itself per `per_secs`.
    pub requests: u32,
    /// The period of `requests`, in seconds.
    pub per_secs: u32,
    /// The rate-limit headers the server sent (`RateLimit-*`, `X-RateLimit-*`, `Retry-After`),
    /// latest value of each, names lower-cased.
    pub server_headers: Vec<(String, String)>,
    /// Answers with status 429 so far.
    pub throttled: u64,
}

/// Whether the account may write where partreel writes, as far as the system tells without
/// writing (`partreel doctor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "access", content = "reason", rename_all = "lowercase")]
pub enum WriteAccess {
    /// The system says so (the reason names how it was told).
    Allowed(String),
    /// The system says no (the reason names what is missing).
    Denied(String),
    /// The vendor offers no read-only way to tell (the reason says what will).
    Unknown(String),
}

/// What [`PlmConnector::write_access`] and [`DamConnector::write_access`] answer by default.
pub fn write_access_unknown(system_kind: &str) -> WriteAccess {
    WriteAccess::Unknown(format!(
        "{system_kind} offers no read-only way to ask whether an account may write; the first \
         sync's first write will tell (`partreel sync --dry-run` writes nothing)"
    ))
}

/// Writes of one batch a connector keeps in flight at once (the rate limiter paces them).
pub const WRITES_IN_FLIGHT: usize = 8;

/// Runs a batch's writes, at most [`WRITES_IN_FLIGHT`] at once; the answers come in the order
/// the writes were given.
pub async fn in_flight<F: std::future::Future>(writes: Vec<F>) -> Vec<F::Output> {
    use futures::StreamExt;
    futures::stream::iter(writes)
        .buffered(WRITES_IN_FLIGHT)
        .collect()
        .await
}

/// A link record to create (see [`PlmConnector::create_links`]).
#[derive(Debug, Clone)]
pub struct NewLink {
    /// The part revision it hangs on.
    pub part: PartRevision,
    /// The deterministic link id to store on it.
    pub link_id: LinkId,
    /// Remote fields.
    pub fields: RemoteFields,
    /// An earlier attempt to create this link may have landed: the journal holds another
    /// run's creation of it whose outcome is unknown (a process killed mid-write, an answer
    /// lost). A connector that creates without looking first (a batch) must look for this one.
    pub prior_attempt: bool,
}

/// Fields to write on an existing link record (see [`PlmConnector::update_links`]).
#[derive(Debug, Clone)]
pub struct LinkUpdate {
    /// The record.
    pub link: RemoteLink,
    /// Remote fields to write ("" clears).
    pub fields: RemoteFields,
}

/// A product lifecycle management system.
#[async_trait]
pub trait PlmConnector: Send + Sync {
    /// Configured name of this system (used in ids, logs and reports).
    fn system(&self) -> &str;

    /// Part revisions modified at or after `query.since`, oldest first.
    async fn changed_parts(&self, query: &ChangeQuery) -> Result<Page<PartRevision>>;

    /// Every revision of the given part numbers (batched by the connector as it sees fit).
    async fn parts_by_number(&self, numbers: &[String]) -> Result<Vec<PartRevision>>;

    /// Link records modified at or after `query.since`, oldest first.
    async fn changed_links(&self, query: &ChangeQuery) -> Result<Page<RemoteLink>>;

    /// Link records carrying any of these link ids (crash recovery looks before it creates).
    async fn find_links(&self, ids: &[LinkId]) -> Result<Vec<RemoteLink>>;

    /// Every link record hanging on one part revision (by the PLM's id of the revision),
    /// whatever link id it carries, each with `part_remote_id` set: read from the part's side,
    /// this is how two records for one clip and one part revision under different link ids are
    /// found. Records that carry no link id (other documents on the part) are left out.
    async fn links_on_part(&self, part_remote_id: &str) -> Result<Vec<RemoteLink>>;

    /// Creates the record for a link on a part revision, with the link id stored on it.
    /// Must be safe to call again after an ambiguous failure: it looks for the link id first.
    async fn create_link(
        &self,
        part: &PartRevision,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink>;

    /// Creates one link record as [`Self::create_link`] does, told whether an earlier attempt
    /// may have landed ([`NewLink::prior_attempt`]): a connector whose look-up before a create
    /// costs a request may skip it when the journal says no earlier attempt exists (crash
    /// recovery settles those first, reading the part's own records). The default looks
    /// first, always.
    async fn create_new(&self, new: &NewLink) -> Result<RemoteLink> {
        self.create_link(&new.part, &new.link_id, &new.fields).await
    }

    /// Makes sure an existing link record is attached to the part revision (the second half
    /// of a creation interrupted by a crash).
    async fn ensure_attached(&self, part: &PartRevision, link: &RemoteLink) -> Result<()>;

    /// Writes changed fields of a link record.
    async fn update_link(&self, link: &RemoteLink, fields: &RemoteFields) -> Result<RemoteLink>;

    /// Creates many link records; one result per input, in order. A failure of one item (a
    /// partial error) must not fail the others. A batch may create without looking for the
    /// link id first, except for the links marked [`NewLink::prior_attempt`]: those it must
    /// look for, and return the record an earlier attempt made. Systems with batch operations (Teamcenter's
    /// array inputs with `clientId`s) override this; the default calls [`Self::create_new`]
    /// for each.
    async fn create_links(&self, batch: &[NewLink]) -> Vec<Result<RemoteLink>> {
        let mut out = Vec::with_capacity(batch.len());
        for n in batch {
            out.push(self.create_new(n).await);
        }
        out
    }

    /// Updates many link records; one result per input, in order (see [`Self::create_links`]).
    async fn update_links(&self, batch: &[LinkUpdate]) -> Vec<Result<RemoteLink>> {
        let mut out = Vec::with_capacity(batch.len());
        for u in batch {
            out.push(self.update_link(&u.link, &u.fields).await);
        }
        out
    }

    /// API requests needed to create `creates` link records and update `updates` (the
    /// estimate `sync --dry-run` and `partreel doctor` give): one each by default; systems
    /// that batch, or need more than one request per write, say so.
    fn requests_for_links(&self, creates: u64, updates: u64) -> u64 {
        creates + updates
    }

    /// Largest batch [`Self::create_links`] / [`Self::update_links`] should be given.
    fn max_batch(&self) -> usize {
        1
    }

    /// The properties a mapping may use.
    async fn schema(&self) -> Result<RemoteSchema>;

    /// Request counters so far.
    fn stats(&self) -> ConnectorStats;

    /// The client-side rate limit and the server's rate-limit headers seen so far.
    fn rate_limits(&self) -> RateLimitReport;

    /// Whether the account may create and update link records, told without writing.
    async fn write_access(&self) -> Result<WriteAccess> {
        Ok(write_access_unknown("this PLM"))
    }

    /// Ends the connector's session on shutdown (Teamcenter's logout); failures are logged by
    /// the connector, never returned. The default does nothing (stateless authentication).
    async fn close(&self) {}

    /// Part revisions are keyed by (number, revision); this finds one in a fetched list.
    fn pick<'a>(&self, parts: &'a [PartRevision], key: &PartKey) -> Option<&'a PartRevision> {
        parts
            .iter()
            .find(|p| p.number == key.number && p.revision == key.revision)
    }
}

/// A digital asset manager holding video experiments.
#[async_trait]
pub trait DamConnector: Send + Sync {
    /// Configured name of this system.
    fn system(&self) -> &str;

    /// Video assets modified at or after `query.since`, oldest first, archived ones included
    /// (flagged).
    async fn changed_assets(&self, query: &ChangeQuery) -> Result<Page<VideoExperiment>>;

    /// One asset, None when it no longer exists.
    async fn get_asset(&self, asset_id: &str) -> Result<Option<VideoExperiment>>;

    /// Writes remote fields of an asset and confirms by reading it back; returns the asset as
    /// read after the write.
    async fn write_fields(&self, asset_id: &str, fields: &RemoteFields) -> Result<VideoExperiment>;

    /// Writes the fields of several assets, each confirmed as [`Self::write_fields`] does; one
    /// result per input, in order. A DAM whose writes apply asynchronously (Bynder's 202)
    /// confirms the whole batch with a few reads instead of one per asset; a write it could not
    /// see applied yet answers [`ConnectorError::Unconfirmed`]. The default writes them one
    /// after another with [`Self::write_fields`].
    async fn write_fields_batch(
        &self,
        batch: &[(String, RemoteFields)],
    ) -> Vec<Result<VideoExperiment>> {
        let mut out = Vec::with_capacity(batch.len());
        for (asset_id, fields) in batch {
            out.push(self.write_fields(asset_id, fields).await);
        }
        out
    }

    /// API requests needed to check `files` clip files (the original's URL, or the original
    /// itself when the DAM serves it) and to write and confirm `writes` clips' metadata (the
    /// estimate `sync --dry-run` and `partreel doctor` give). By default one per file and two
    /// per write (the write, its re-read).
    fn requests_for_clips(&self, files: u64, writes: u64) -> u64 {
        files + 2 * writes
    }

    /// Largest batch [`Self::write_fields_batch`] should be given; 1 (the default) means the
    /// engine calls [`Self::write_fields`] for each asset, several at once.
    fn max_write_batch(&self) -> usize {
        1
    }

    /// URL of the original file (not a transcoded preview).
    async fn original_url(&self, asset_id: &str) -> Result<Option<String>>;

    /// Streams the clip's original file (never a transcoded preview) to `dest`, refusing more
    /// than `max_bytes`, for the provenance check. None when the DAM has no original for it.
    async fn download_original(
        &self,
        asset_id: &str,
        dest: &std::path::Path,
        max_bytes: u64,
    ) -> std::result::Result<
        Option<crate::provenance::DownloadInfo>,
        crate::provenance::ProvenanceError,
    >;

    /// The properties a mapping may use.
    async fn schema(&self) -> Result<RemoteSchema>;

    /// Request counters so far.
    fn stats(&self) -> ConnectorStats;

    /// The client-side rate limit and the server's rate-limit headers seen so far.
    fn rate_limits(&self) -> RateLimitReport;

    /// The GET a viewer's media proxy sends for `url`, a rendition URL this DAM gave: with this
    /// DAM's credentials when `url` is on the DAM's own host (an author instance serves its
    /// renditions only to an authenticated caller), as it is otherwise — a pre-signed or CDN
    /// URL needs none, and a credential never travels to another host. The default adds none.
    async fn media_request(&self, url: url::Url) -> Result<crate::http::Request> {
        Ok(crate::http::Request::get(url))
    }

    /// Whether the account may write asset metadata, told without writing.
    async fn write_access(&self) -> Result<WriteAccess> {
        Ok(write_access_unknown("this DAM"))
    }
}
