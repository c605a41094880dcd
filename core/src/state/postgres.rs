//! The shared state store: PostgreSQL, for several daemons on several machines syncing from
//! one state.
//!
//! Same contract as the SQLite store ([`super::sqlite::SqliteStore`], the reference), with
//! what sharing needs on top:
//!
//! - **Connecting** ([`PostgresStore::connect`]) opens one session at once, so a wrong or
//!   unreachable database fails at start, and runs the [migrations](migrations) in a
//!   transaction under an advisory lock (two daemons starting together do not race). Errors
//!   name the URL with its password removed. Plain TCP, no TLS yet (`sslmode=require` fails).
//! - **Leases.** [`StateStore::lease_work`] picks queued items with
//!   `SELECT … FOR UPDATE SKIP LOCKED` and stamps `leased_by` / `lease_until` in the same
//!   statement, on the database clock: two processes leasing at once never get the same item,
//!   and an item whose lease ran out (its process died) is free again. An item queued again
//!   while leased keeps its lease and is marked `requeued`; finishing it then releases it
//!   instead of deleting it, so the newer change is planned too — by one process at a time.
//! - **Lock order.** Several processes write the same rows at once (two syncs reading the same
//!   feed pages, the same full listing). Every statement or transaction that writes several
//!   rows locks them in key order — batches are sorted before they are sent, and a multi-row
//!   `UPDATE` locks its rows in an ordered `FOR UPDATE` subquery — so two of them can wait for
//!   each other but never deadlock.
//! - **Commits.** Sessions run with `synchronous_commit = off`, except journal entries and
//!   leases, whose commits wait for the disk (see [`pool::open`]): a server crash can lose
//!   only the newest bookkeeping, never a journal entry announcing a remote write that was
//!   made.
//! - **Plans.** Statements are prepared once per session but planned with their values each
//!   time (`plan_cache_mode = force_custom_plan`): a generic plan cached while the tables were
//!   nearly empty (a new schema, first run) kept scanning them whole as they grew — 20,000
//!   clips took 146 s instead of 62 s.
//! - **Dry runs.** [`StateStore::scratch_copy`] opens a separate session and copies every
//!   table into *temporary* tables of that session (`CREATE TEMP TABLE … (LIKE … INCLUDING
//!   ALL)` in one repeatable-read snapshot), then sets its `search_path` to `pg_temp` alone.
//!   The copy is private, touches no real row (so takes no lock a running daemon could wait
//!   on) and disappears with the session, even if the process dies. A long transaction rolled
//!   back at the end was not chosen: its writes would hold row locks on the real queue and
//!   cursors that block live daemons until the dry run ends.
//!
//! Times are `timestamptz` (microseconds, like [`super::fmt_time`]); canonical values, the
//! watermark and journal payloads are `jsonb`. The schema is chosen by the session's
//! `search_path` (e.g. `?options=-c%20search_path%3Dpartreel` in the URL).

mod migrations;
mod pool;
mod view;

pub use self::view::PostgresView;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Json, ToSql};

use self::pool::{Pool, Pooled};
use super::{
    AssetRecord, JournalEntry, JournalState, LinkOrigin, LinkRecord, Observed, PartRecord,
    QuarantineEntry, Result, RunRecord, StateError, StateStore, WorkItem,
};
use crate::model::{CanonicalValues, LinkId, LinkStatus, WatermarkStatus};

/// Sessions one store opens at most (the engine plans up to `concurrency` clips at once).
pub const MAX_CONNECTIONS: usize = 16;

/// How long connecting may take before the store gives up (unless the URL sets
/// `connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL state store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Arc<Pool>,
    location: String,
    scratch: bool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .field("scratch", &self.scratch)
            .finish()
    }
}

/// The URL with its password removed (userinfo and `password=` parameter), for messages.
pub fn redact_url(url: &str) -> String {
    if let Ok(mut u) = url::Url::parse(url) {
        if u.password().is_some() {
            let _ = u.set_password(None);
        }
        if u.query().is_some() {
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(k, _)| k != "password")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            if kept.is_empty() {
                u.set_query(None);
            } else {
                u.query_pairs_mut().clear().extend_pairs(kept);
            }
        }
        return u.to_string();
    }
    // Not a URL the parser understands: keep the scheme and what follows the credentials.
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
    format!("{scheme}://{rest}")
}

/// A database error with its details (the server's message, detail and hint when there is
/// one), never the connection settings.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => e.to_string(),
    }
}

fn q(e: tokio_postgres::Error) -> StateError {
    StateError::Query(describe(&e))
}

/// One column, with decode failures reported as corrupt stored data.
fn col<'a, T: FromSql<'a>>(row: &'a Row, table: &'static str, column: &'static str) -> Result<T> {
    row.try_get(column).map_err(|e| StateError::Corrupt {
        table,
        column,
        message: e.to_string(),
    })
}

/// A JSON column.
fn json<T: serde::de::DeserializeOwned>(
    row: &Row,
    table: &'static str,
    column: &'static str,
) -> Result<T> {
    col::<Json<T>>(row, table, column).map(|j| j.0)
}

/// Row counts and limits travel as `bigint`.
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Empty text reads as none (as in the SQLite store).
fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Connection settings parsed from a URL, with what messages about it may say.
pub(super) struct Settings {
    /// The driver's settings (with partreel's defaults for the connect timeout and the
    /// application name).
    pub config: tokio_postgres::Config,
    /// The URL without its password.
    pub location: String,
    password: Option<Vec<u8>>,
}

impl Settings {
    /// Parses `url` (`postgres://` or `postgresql://`).
    pub fn parse(url: &str) -> Result<Settings> {
        let location = redact_url(url);
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| StateError::Open {
            location: location.clone(),
            message: format!("not a usable PostgreSQL URL: {e}"),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("partreel");
        }
        let password = config.get_password().map(<[u8]>::to_vec);
        Ok(Settings {
            config,
            location,
            password,
        })
    }

    /// An open error at this location; the message never carries the password, even if a
    /// driver message were to echo it.
    pub fn open_error(&self, message: String) -> StateError {
        let message = match self.password.as_deref() {
            Some(p) if !p.is_empty() => message.replace(String::from_utf8_lossy(p).as_ref(), "***"),
            _ => message,
        };
        StateError::Open {
            location: self.location.clone(),
            message,
        }
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://` or `postgresql://`), checks the database answers and
    /// brings its schema up to date.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let settings = Settings::parse(url)?;
        let mut first = pool::open(&settings.config)
            .await
            .map_err(|e| settings.open_error(format!("cannot connect: {}", describe(&e))))?;
        migrations::migrate(&mut first)
            .await
            .map_err(|e| settings.open_error(e.to_string()))?;
        let Settings {
            config, location, ..
        } = settings;
        Ok(PostgresStore {
            pool: Arc::new(Pool::new(config, location.clone(), MAX_CONNECTIONS, first)),
            location,
            scratch: false,
        })
    }

    /// The URL it was opened with, without password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The schema version this build migrates to.
    pub fn schema_version() -> i32 {
        migrations::latest()
    }

    async fn conn(&self) -> Result<Pooled<'_>> {
        self.pool.get().await
    }
}

const PART_COLS: &str =
    "system, number, revision, remote_id, name, lifecycle_state, sku, modified, vals, first_seen";

fn part_decode(r: &Row) -> Result<PartRecord> {
    const T: &str = "parts";
    Ok(PartRecord {
        system: col(r, T, "system")?,
        number: col(r, T, "number")?,
        revision: col(r, T, "revision")?,
        remote_id: col(r, T, "remote_id")?,
        name: col(r, T, "name")?,
        lifecycle_state: non_empty(col(r, T, "lifecycle_state")?),
        sku: non_empty(col(r, T, "sku")?),
        modified: col(r, T, "modified")?,
        values: json(r, T, "vals")?,
        first_seen: col(r, T, "first_seen")?,
    })
}

const ASSET_COLS: &str =
    "system, asset_id, title, modified, version, archived, deleted, rendition_url, vals, watermark";

fn asset_decode(r: &Row) -> Result<AssetRecord> {
    const T: &str = "assets";
    Ok(AssetRecord {
        system: col(r, T, "system")?,
        asset_id: col(r, T, "asset_id")?,
        title: col(r, T, "title")?,
        modified: col(r, T, "modified")?,
        version: col(r, T, "version")?,
        archived: col(r, T, "archived")?,
        deleted: col(r, T, "deleted")?,
        rendition_url: col(r, T, "rendition_url")?,
        values: json(r, T, "vals")?,
        watermark: json::<WatermarkStatus>(r, T, "watermark")?,
    })
}

const LINK_COLS: &str = "link_id, dam_system, asset_id, plm_system, part_number, part_revision, \
    part_remote_id, remote_id, status, origin, base, plm_vals, plm_modified, created_at, updated_at, run_id";

fn link_decode(r: &Row) -> Result<LinkRecord> {
    const T: &str = "links";
    let status: String = col(r, T, "status")?;
    let origin: String = col(r, T, "origin")?;
    Ok(LinkRecord {
        link_id: LinkId(col(r, T, "link_id")?),
        dam_system: col(r, T, "dam_system")?,
        asset_id: col(r, T, "asset_id")?,
        plm_system: col(r, T, "plm_system")?,
        part_number: col(r, T, "part_number")?,
        part_revision: col(r, T, "part_revision")?,
        part_remote_id: col(r, T, "part_remote_id")?,
        remote_id: col(r, T, "remote_id")?,
        status: LinkStatus::parse(&status).ok_or_else(|| StateError::Corrupt {
            table: T,
            column: "status",
            message: status.clone(),
        })?,
        origin: match origin.as_str() {
            "carried" => LinkOrigin::Carried,
            _ => LinkOrigin::Tagged,
        },
        base: json(r, T, "base")?,
        plm_values: json(r, T, "plm_vals")?,
        plm_modified: col(r, T, "plm_modified")?,
        created_at: col(r, T, "created_at")?,
        updated_at: col(r, T, "updated_at")?,
        run_id: col(r, T, "run_id")?,
    })
}

fn decode_all<T>(rows: Vec<Row>, f: fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

fn strings(rows: Vec<Row>, table: &'static str, column: &'static str) -> Result<Vec<String>> {
    rows.iter().map(|r| col(r, table, column)).collect()
}

/// Queues items (an item already queued keeps its place; if it is leased it keeps its lease
/// and is marked to be planned again once its holder finishes).
const ENQUEUE: &str = "INSERT INTO work (plm_system, dam_system, asset_id, enqueued_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (plm_system, dam_system, asset_id)
     DO UPDATE SET requeued = work.leased_by IS NOT NULL";

async fn enqueue_on(c: &mut Pooled<'_>, items: &[WorkItem], now: DateTime<Utc>) -> Result<()> {
    // Rows are locked in key order in every transaction (see the module doc).
    let mut items: Vec<&WorkItem> = items.iter().collect();
    items.sort();
    items.dedup();
    let rows: Vec<[&(dyn ToSql + Sync); 4]> = items
        .iter()
        .map(|w| {
            [
                &w.plm_system as &(dyn ToSql + Sync),
                &w.dam_system,
                &w.asset_id,
                &now,
            ]
        })
        .collect();
    let rows: Vec<&[&(dyn ToSql + Sync)]> = rows.iter().map(|r| &r[..]).collect();
    c.execute_many(ENQUEUE, &rows).await.map_err(q)
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[async_trait]
impl StateStore for PostgresStore {
    async fn cursor(&self, system: &str, stream: &str) -> Result<Option<DateTime<Utc>>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(
                "SELECT at FROM cursors WHERE system = $1 AND stream = $2",
                &[&system, &stream],
            )
            .await
            .map_err(q)?;
        row.map(|r| col(&r, "cursors", "at")).transpose()
    }

    async fn set_cursor(&self, system: &str, stream: &str, at: DateTime<Utc>) -> Result<()> {
        let mut c = self.conn().await?;
        c.execute(
            "INSERT INTO cursors (system, stream, at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (system, stream) DO UPDATE SET at = excluded.at, updated_at = excluded.updated_at",
            &[&system, &stream, &at, &Utc::now()],
        )
        .await
        .map_err(q)?;
        Ok(())
    }

    async fn part(&self, system: &str, number: &str, revision: &str) -> Result<Option<PartRecord>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(
                &format!(
                    "SELECT {PART_COLS} FROM parts WHERE system = $1 AND number = $2 AND revision = $3"
                ),
                &[&system, &number, &revision],
            )
            .await
            .map_err(q)?;
        row.as_ref().map(part_decode).transpose()
    }

    async fn parts_by_number(&self, system: &str, number: &str) -> Result<Vec<PartRecord>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {PART_COLS} FROM parts WHERE system = $1 AND number = $2
                     ORDER BY length(revision), revision"
                ),
                &[&system, &number],
            )
            .await
            .map_err(q)?;
        decode_all(rows, part_decode)
    }

    async fn parts_by_sku(&self, system: &str, sku: &str) -> Result<Vec<PartRecord>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {PART_COLS} FROM parts WHERE system = $1 AND sku = $2
                     ORDER BY number, length(revision), revision"
                ),
                &[&system, &sku],
            )
            .await
            .map_err(q)?;
        decode_all(rows, part_decode)
    }

    async fn upsert_parts(&self, parts: &[PartRecord]) -> Result<()> {
        if parts.is_empty() {
            return Ok(());
        }
        // Rows are locked in key order in every transaction (see the module doc).
        let mut parts: Vec<&PartRecord> = parts.iter().collect();
        parts.sort_by(|a, b| {
            (&a.system, &a.number, &a.revision).cmp(&(&b.system, &b.number, &b.revision))
        });
        let vals: Vec<Json<&CanonicalValues>> = parts.iter().map(|p| Json(&p.values)).collect();
        let rows: Vec<[&(dyn ToSql + Sync); 10]> = parts
            .iter()
            .zip(&vals)
            .map(|(p, v)| {
                [
                    &p.system as &(dyn ToSql + Sync),
                    &p.number,
                    &p.revision,
                    &p.remote_id,
                    &p.name,
                    &p.lifecycle_state,
                    &p.sku,
                    &p.modified,
                    v,
                    &p.first_seen,
                ]
            })
            .collect();
        let rows: Vec<&[&(dyn ToSql + Sync)]> = rows.iter().map(|r| &r[..]).collect();
        let mut c = self.conn().await?;
        c.begin().await.map_err(q)?;
        c.execute_many(
            &format!(
                "INSERT INTO parts ({PART_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (system, number, revision) DO UPDATE SET remote_id = excluded.remote_id,
                   name = excluded.name, lifecycle_state = excluded.lifecycle_state, sku = excluded.sku,
                   modified = excluded.modified, vals = excluded.vals"
            ),
            &rows,
        )
        .await
        .map_err(q)?;
        c.commit().await.map_err(q)
    }

    async fn asset(&self, system: &str, asset_id: &str) -> Result<Option<AssetRecord>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(
                &format!("SELECT {ASSET_COLS} FROM assets WHERE system = $1 AND asset_id = $2"),
                &[&system, &asset_id],
            )
            .await
            .map_err(q)?;
        row.as_ref().map(asset_decode).transpose()
    }

    async fn upsert_assets(&self, assets: &[AssetRecord], enqueue_for: &[String]) -> Result<()> {
        if assets.is_empty() {
            return Ok(());
        }
        // Rows are locked in key order in every transaction (see the module doc).
        let mut assets: Vec<&AssetRecord> = assets.iter().collect();
        assets.sort_by(|a, b| (&a.system, &a.asset_id).cmp(&(&b.system, &b.asset_id)));
        let json_cols: Vec<(Json<&CanonicalValues>, Json<&WatermarkStatus>)> = assets
            .iter()
            .map(|a| (Json(&a.values), Json(&a.watermark)))
            .collect();
        let rows: Vec<[&(dyn ToSql + Sync); 10]> = assets
            .iter()
            .zip(&json_cols)
            .map(|(a, (v, w))| {
                [
                    &a.system as &(dyn ToSql + Sync),
                    &a.asset_id,
                    &a.title,
                    &a.modified,
                    &a.version,
                    &a.archived,
                    &a.deleted,
                    &a.rendition_url,
                    v,
                    w,
                ]
            })
            .collect();
        let rows: Vec<&[&(dyn ToSql + Sync)]> = rows.iter().map(|r| &r[..]).collect();
        let items: Vec<WorkItem> = assets
            .iter()
            .flat_map(|a| {
                enqueue_for.iter().map(|plm| WorkItem {
                    plm_system: plm.clone(),
                    dam_system: a.system.clone(),
                    asset_id: a.asset_id.clone(),
                })
            })
            .collect();
        let mut c = self.conn().await?;
        // One statement per asset; a transaction only when the queue changes with them.
        let grouped = !items.is_empty() || assets.len() > 1;
        if grouped {
            c.begin().await.map_err(q)?;
        }
        c.execute_many(
            &format!(
                "INSERT INTO assets ({ASSET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (system, asset_id) DO UPDATE SET title = excluded.title,
                   modified = excluded.modified, version = excluded.version, archived = excluded.archived,
                   deleted = excluded.deleted, rendition_url = excluded.rendition_url,
                   vals = excluded.vals, watermark = excluded.watermark"
            ),
            &rows,
        )
        .await
        .map_err(q)?;
        if !grouped {
            return Ok(());
        }
        enqueue_on(&mut c, &items, Utc::now()).await?;
        c.commit().await.map_err(q)
    }

    async fn linked_assets(
        &self,
        dam: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                "SELECT DISTINCT asset_id FROM links WHERE dam_system = $1 AND asset_id > $2
                 AND status <> 'retired' ORDER BY asset_id LIMIT $3",
                &[&dam, &after.unwrap_or(""), &sql_count(limit)],
            )
            .await
            .map_err(q)?;
        strings(rows, "links", "asset_id")
    }

    async fn mark_seen(&self, dam: &str, asset_ids: &[String], scan: &str) -> Result<()> {
        if asset_ids.is_empty() {
            return Ok(());
        }
        let mut c = self.conn().await?;
        // Rows locked in key order: two processes marking overlapping pages of a full listing
        // would otherwise lock them in scan order and could deadlock.
        c.execute(
            "UPDATE assets a SET last_scan = $3
             FROM (SELECT system, asset_id FROM assets WHERE system = $1 AND asset_id = ANY($2)
                   ORDER BY asset_id FOR UPDATE) s
             WHERE a.system = s.system AND a.asset_id = s.asset_id",
            &[&dam, &asset_ids, &scan],
        )
        .await
        .map_err(q)?;
        Ok(())
    }

    async fn unseen_linked_assets(
        &self,
        dam: &str,
        scan: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                "SELECT DISTINCT l.asset_id FROM links l LEFT JOIN assets a
                   ON a.system = l.dam_system AND a.asset_id = l.asset_id
                 WHERE l.dam_system = $1 AND l.status <> 'retired' AND l.asset_id > $3
                   AND (a.last_scan IS NULL OR a.last_scan <> $2)
                 ORDER BY l.asset_id LIMIT $4",
                &[&dam, &scan, &after.unwrap_or(""), &sql_count(limit)],
            )
            .await
            .map_err(q)?;
        strings(rows, "links", "asset_id")
    }

    async fn links_page(&self, after: Option<&LinkId>, limit: usize) -> Result<Vec<LinkRecord>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {LINK_COLS} FROM links WHERE link_id > $1 ORDER BY link_id LIMIT $2"
                ),
                &[&after.map(|l| l.as_str()).unwrap_or(""), &sql_count(limit)],
            )
            .await
            .map_err(q)?;
        decode_all(rows, link_decode)
    }

    async fn link(&self, id: &LinkId) -> Result<Option<LinkRecord>> {
        let mut c = self.conn().await?;
        let row = c
            .query_opt(
                &format!("SELECT {LINK_COLS} FROM links WHERE link_id = $1"),
                &[&id.as_str()],
            )
            .await
            .map_err(q)?;
        row.as_ref().map(link_decode).transpose()
    }

    async fn links_for_asset(&self, dam: &str, asset_id: &str) -> Result<Vec<LinkRecord>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {LINK_COLS} FROM links WHERE dam_system = $1 AND asset_id = $2 ORDER BY link_id"
                ),
                &[&dam, &asset_id],
            )
            .await
            .map_err(q)?;
        decode_all(rows, link_decode)
    }

    async fn links_for_part(
        &self,
        plm: &str,
        number: &str,
        revision: Option<&str>,
    ) -> Result<Vec<LinkRecord>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {LINK_COLS} FROM links WHERE plm_system = $1 AND part_number = $2
                     AND ($3::text IS NULL OR part_revision = $3) ORDER BY link_id"
                ),
                &[&plm, &number, &revision],
            )
            .await
            .map_err(q)?;
        decode_all(rows, link_decode)
    }

    async fn upsert_link(&self, l: &LinkRecord) -> Result<()> {
        let mut c = self.conn().await?;
        c.execute(
            &format!(
                "INSERT INTO links ({LINK_COLS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (link_id) DO UPDATE SET part_remote_id = excluded.part_remote_id,
                   remote_id = excluded.remote_id, status = excluded.status, origin = excluded.origin,
                   base = excluded.base, plm_vals = excluded.plm_vals, plm_modified = excluded.plm_modified,
                   updated_at = excluded.updated_at, run_id = excluded.run_id"
            ),
            &[
                &l.link_id.as_str(),
                &l.dam_system,
                &l.asset_id,
                &l.plm_system,
                &l.part_number,
                &l.part_revision,
                &l.part_remote_id,
                &l.remote_id,
                &l.status.as_str(),
                &l.origin.as_str(),
                &Json(&l.base),
                &Json(&l.plm_values),
                &l.plm_modified,
                &l.created_at,
                &l.updated_at,
                &l.run_id,
            ],
        )
        .await
        .map_err(q)?;
        Ok(())
    }

    async fn observe_link(
        &self,
        id: &LinkId,
        values: &CanonicalValues,
        modified: DateTime<Utc>,
        remote_id: &str,
    ) -> Result<Observed> {
        let mut c = self.conn().await?;
        c.begin().await.map_err(q)?;
        let row = c
            .query_opt(
                "SELECT plm_system, dam_system, asset_id, plm_modified, plm_vals, remote_id
                 FROM links WHERE link_id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await
            .map_err(q)?;
        let Some(row) = row else {
            c.rollback().await.map_err(q)?;
            return Ok(Observed::Unknown);
        };
        const T: &str = "links";
        let known: Option<String> = col(&row, T, "remote_id")?;
        if let Some(known) = super::rules::other_record(known, remote_id) {
            c.rollback().await.map_err(q)?;
            return Ok(Observed::OtherRecord(known));
        }
        let seen: Option<DateTime<Utc>> = col(&row, T, "plm_modified")?;
        let seen_vals: CanonicalValues = json(&row, T, "plm_vals")?;
        if super::rules::is_echo(seen, &seen_vals, modified, values) {
            c.rollback().await.map_err(q)?;
            return Ok(Observed::Known);
        }
        let item = WorkItem {
            plm_system: col(&row, T, "plm_system")?,
            dam_system: col(&row, T, "dam_system")?,
            asset_id: col(&row, T, "asset_id")?,
        };
        c.execute(
            "UPDATE links SET plm_vals = $2, plm_modified = $3, remote_id = COALESCE(remote_id, $4)
             WHERE link_id = $1",
            &[&id.as_str(), &Json(values), &modified, &remote_id],
        )
        .await
        .map_err(q)?;
        enqueue_on(&mut c, std::slice::from_ref(&item), Utc::now()).await?;
        c.commit().await.map_err(q)?;
        Ok(Observed::Known)
    }

    async fn enqueue(&self, items: &[WorkItem]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut c = self.conn().await?;
        c.begin().await.map_err(q)?;
        enqueue_on(&mut c, items, Utc::now()).await?;
        c.commit().await.map_err(q)
    }

    async fn enqueue_all_assets(&self, plm: &str, dam: &str) -> Result<u64> {
        let mut c = self.conn().await?;
        c.execute(
            "INSERT INTO work (plm_system, dam_system, asset_id, enqueued_at)
             SELECT $1, system, asset_id, $3 FROM assets WHERE system = $2 ORDER BY asset_id
             ON CONFLICT (plm_system, dam_system, asset_id) DO NOTHING",
            &[&plm, &dam, &Utc::now()],
        )
        .await
        .map_err(q)
    }

    async fn lease_work(
        &self,
        owner: &str,
        plm: &str,
        dam: &str,
        limit: usize,
        lease_secs: u64,
    ) -> Result<Vec<WorkItem>> {
        let mut c = self.conn().await?;
        // One statement: rows another session is leasing right now are skipped, not waited
        // for, and a row leased and committed since this statement's snapshot is re-checked
        // (and dropped) when locked. Expiry uses the database clock, shared by every machine.
        let rows = c
            .query_durable(
                "WITH picked AS (
                   SELECT plm_system, dam_system, asset_id FROM work
                   WHERE plm_system = $1 AND dam_system = $2
                     AND (leased_by IS NULL OR lease_until < now() OR leased_by = $3)
                   ORDER BY enqueued_at, asset_id
                   LIMIT $4
                   FOR UPDATE SKIP LOCKED)
                 UPDATE work w SET leased_by = $3, lease_until = now() + make_interval(secs => $5),
                   requeued = false
                 FROM picked
                 WHERE w.plm_system = picked.plm_system AND w.dam_system = picked.dam_system
                   AND w.asset_id = picked.asset_id
                 RETURNING w.plm_system, w.dam_system, w.asset_id, w.enqueued_at",
                &[&plm, &dam, &owner, &sql_count(limit), &(lease_secs as f64)],
            )
            .await
            .map_err(q)?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok((
                    col::<DateTime<Utc>>(r, "work", "enqueued_at")?,
                    WorkItem {
                        plm_system: col(r, "work", "plm_system")?,
                        dam_system: col(r, "work", "dam_system")?,
                        asset_id: col(r, "work", "asset_id")?,
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        // RETURNING has no order: give them back in queue order.
        items.sort_by(|(ta, a), (tb, b)| {
            ta.cmp(tb)
                .then_with(|| a.asset_id.as_bytes().cmp(b.asset_id.as_bytes()))
        });
        Ok(items.into_iter().map(|(_, w)| w).collect())
    }

    async fn renew_lease(&self, owner: &str, item: &WorkItem, lease_secs: u64) -> Result<bool> {
        let mut c = self.conn().await?;
        // Durable like the lease itself: the write it covers follows at once.
        let rows = c
            .query_durable(
                "UPDATE work SET lease_until = now() + make_interval(secs => $5)
                 WHERE plm_system = $1 AND dam_system = $2 AND asset_id = $3 AND leased_by = $4
                 RETURNING 1",
                &[
                    &item.plm_system,
                    &item.dam_system,
                    &item.asset_id,
                    &owner,
                    &(lease_secs as f64),
                ],
            )
            .await
            .map_err(q)?;
        Ok(!rows.is_empty())
    }

    async fn lease_holders(&self, plm: &str, dam: &str) -> Result<Vec<(String, u64)>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                "SELECT leased_by, COUNT(*) AS n FROM work
                 WHERE plm_system = $1 AND dam_system = $2 AND leased_by IS NOT NULL
                   AND lease_until >= now()
                 GROUP BY leased_by ORDER BY leased_by",
                &[&plm, &dam],
            )
            .await
            .map_err(q)?;
        rows.iter()
            .map(|r| {
                Ok((
                    col::<String>(r, "work", "leased_by")?,
                    col::<i64>(r, "work", "n")?.max(0) as u64,
                ))
            })
            .collect()
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        let mut c = self.conn().await?;
        c.execute(
            "UPDATE work w SET leased_by = NULL, lease_until = NULL, requeued = false
             FROM (SELECT plm_system, dam_system, asset_id FROM work WHERE leased_by = $1
                   ORDER BY plm_system, dam_system, asset_id FOR UPDATE) s
             WHERE w.plm_system = s.plm_system AND w.dam_system = s.dam_system
               AND w.asset_id = s.asset_id AND w.leased_by = $1",
            &[&owner],
        )
        .await
        .map_err(q)
    }

    async fn finish_work(&self, owner: &str, item: &WorkItem) -> Result<()> {
        let mut c = self.conn().await?;
        let params: [&(dyn ToSql + Sync); 4] =
            [&item.plm_system, &item.dam_system, &item.asset_id, &owner];
        let deleted = c
            .execute(
                "DELETE FROM work WHERE plm_system = $1 AND dam_system = $2 AND asset_id = $3
                 AND NOT requeued AND (leased_by IS NULL OR leased_by = $4)",
                &params,
            )
            .await
            .map_err(q)?;
        if deleted == 0 {
            // Queued again while leased: release it so the newer change is planned.
            c.execute(
                "UPDATE work SET leased_by = NULL, lease_until = NULL, requeued = false
                 WHERE plm_system = $1 AND dam_system = $2 AND asset_id = $3 AND requeued
                 AND (leased_by IS NULL OR leased_by = $4)",
                &params,
            )
            .await
            .map_err(q)?;
        }
        Ok(())
    }

    async fn work_len(&self) -> Result<u64> {
        let mut c = self.conn().await?;
        let row = c
            .query_one("SELECT count(*) AS n FROM work", &[])
            .await
            .map_err(q)?;
        Ok(to_u64(col(&row, "work", "n")?))
    }

    async fn work_len_for(&self, plm: &str, dam: &str) -> Result<u64> {
        let mut c = self.conn().await?;
        let row = c
            .query_one(
                "SELECT count(*) AS n FROM work WHERE plm_system = $1 AND dam_system = $2",
                &[&plm, &dam],
            )
            .await
            .map_err(q)?;
        Ok(to_u64(col(&row, "work", "n")?))
    }

    async fn journal_begin(
        &self,
        run_id: &str,
        op: &str,
        system: &str,
        key: &str,
        payload: &serde_json::Value,
    ) -> Result<i64> {
        let mut c = self.conn().await?;
        // Durable before the remote write it announces is made.
        let rows = c
            .query_durable(
                "INSERT INTO journal (run_id, op, system, key, payload, state, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) RETURNING id",
                &[&run_id, &op, &system, &key, &Json(payload), &Utc::now()],
            )
            .await
            .map_err(q)?;
        let row = rows.first().ok_or_else(|| {
            StateError::Query("INSERT INTO journal … RETURNING id gave no row".into())
        })?;
        col(row, "journal", "id")
    }

    async fn journal_end(&self, id: i64, state: JournalState) -> Result<()> {
        let mut c = self.conn().await?;
        c.execute(
            "UPDATE journal SET state = $2, updated_at = $3 WHERE id = $1",
            &[&id, &state.as_str(), &Utc::now()],
        )
        .await
        .map_err(q)?;
        Ok(())
    }

    async fn journal_take_over(&self, id: i64, from: &str, to: &str) -> Result<bool> {
        let mut c = self.conn().await?;
        let n = c
            .execute(
                "UPDATE journal SET payload = jsonb_set(payload, '{owner}', to_jsonb($3::text)),
                   updated_at = $4
                 WHERE id = $1 AND state = 'pending' AND COALESCE(payload ->> 'owner', '') = $2",
                &[&id, &from, &to, &Utc::now()],
            )
            .await
            .map_err(q)?;
        Ok(n > 0)
    }

    async fn journal_pending(&self) -> Result<Vec<JournalEntry>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                "SELECT id, run_id, op, system, key, payload, created_at FROM journal
                 WHERE state = 'pending' ORDER BY id",
                &[],
            )
            .await
            .map_err(q)?;
        const T: &str = "journal";
        rows.iter()
            .map(|r| {
                Ok(JournalEntry {
                    id: col(r, T, "id")?,
                    run_id: col(r, T, "run_id")?,
                    op: col(r, T, "op")?,
                    system: col(r, T, "system")?,
                    key: col(r, T, "key")?,
                    payload: json(r, T, "payload")?,
                    state: JournalState::Pending,
                    created_at: col(r, T, "created_at")?,
                })
            })
            .collect()
    }

    async fn quarantine_put(
        &self,
        system: &str,
        record_id: &str,
        kind: &str,
        reason: &str,
        run_id: &str,
    ) -> Result<()> {
        let mut c = self.conn().await?;
        c.execute(
            "INSERT INTO quarantine (system, record_id, kind, reason, first_seen, last_seen, attempts, run_id)
             VALUES ($1, $2, $3, $4, $5, $5, 1, $6)
             ON CONFLICT (system, record_id) DO UPDATE SET reason = excluded.reason,
               last_seen = excluded.last_seen, attempts = quarantine.attempts + 1,
               run_id = excluded.run_id",
            &[&system, &record_id, &kind, &reason, &Utc::now(), &run_id],
        )
        .await
        .map_err(q)?;
        Ok(())
    }

    async fn quarantine_clear(&self, system: &str, record_id: &str) -> Result<()> {
        let mut c = self.conn().await?;
        c.execute(
            "DELETE FROM quarantine WHERE system = $1 AND record_id = $2",
            &[&system, &record_id],
        )
        .await
        .map_err(q)?;
        Ok(())
    }

    async fn quarantine_list(&self) -> Result<Vec<QuarantineEntry>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                "SELECT system, record_id, kind, reason, first_seen, last_seen, attempts, run_id
                 FROM quarantine ORDER BY last_seen DESC, system, record_id",
                &[],
            )
            .await
            .map_err(q)?;
        const T: &str = "quarantine";
        rows.iter()
            .map(|r| {
                Ok(QuarantineEntry {
                    system: col(r, T, "system")?,
                    record_id: col(r, T, "record_id")?,
                    kind: col(r, T, "kind")?,
                    reason: col(r, T, "reason")?,
                    first_seen: col(r, T, "first_seen")?,
                    last_seen: col(r, T, "last_seen")?,
                    attempts: u32::try_from(col::<i32>(r, T, "attempts")?).unwrap_or(0),
                    run_id: col(r, T, "run_id")?,
                })
            })
            .collect()
    }

    async fn run_started(&self, run_id: &str, at: DateTime<Utc>, report: &str) -> Result<()> {
        let mut c = self.conn().await?;
        c.execute(
            "INSERT INTO runs (run_id, started_at, report) VALUES ($1, $2, $3)",
            &[&run_id, &at, &report],
        )
        .await
        .map_err(q)?;
        Ok(())
    }

    async fn run_writes(&self, run_id: &str) -> Result<BTreeMap<String, u64>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                "SELECT op, COUNT(*) FROM journal WHERE run_id = $1 AND state = 'applied'
                 GROUP BY op",
                &[&run_id],
            )
            .await
            .map_err(q)?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(0) as u64))
            .collect())
    }

    async fn run_finished(&self, run_id: &str, outcome: &str, report: &str) -> Result<()> {
        let mut c = self.conn().await?;
        c.execute(
            "UPDATE runs SET finished_at = $2, outcome = $3, report = $4 WHERE run_id = $1",
            &[&run_id, &Utc::now(), &outcome, &report],
        )
        .await
        .map_err(q)?;
        Ok(())
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                "SELECT run_id, started_at, finished_at, outcome, report FROM runs
                 ORDER BY started_at DESC, run_id DESC LIMIT $1",
                &[&sql_count(limit)],
            )
            .await
            .map_err(q)?;
        const T: &str = "runs";
        rows.iter()
            .map(|r| {
                Ok(RunRecord {
                    run_id: col(r, T, "run_id")?,
                    started_at: col(r, T, "started_at")?,
                    finished_at: col(r, T, "finished_at")?,
                    outcome: col(r, T, "outcome")?,
                    report: col(r, T, "report")?,
                })
            })
            .collect()
    }

    async fn link_counts(&self) -> Result<BTreeMap<String, u64>> {
        let mut c = self.conn().await?;
        let rows = c
            .query(
                "SELECT status, count(*) AS n FROM links GROUP BY status",
                &[],
            )
            .await
            .map_err(q)?;
        rows.iter()
            .map(|r| Ok((col(r, "links", "status")?, to_u64(col(r, "links", "n")?))))
            .collect()
    }

    async fn scratch_copy(&self) -> Result<Box<dyn StateStore>> {
        if self.scratch {
            // Temporary tables are private to their session: a second session cannot read them.
            return Err(StateError::Query(
                "a dry-run copy of the PostgreSQL state cannot itself be copied".into(),
            ));
        }
        let open_err = |e: tokio_postgres::Error| StateError::Open {
            location: self.location.clone(),
            message: format!(
                "cannot open a session for the dry-run copy: {}",
                describe(&e)
            ),
        };
        let config = self.pool.config().clone();
        let mut c = pool::open(&config).await.map_err(open_err)?;
        c.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .map_err(q)?;
        let row = c
            .query_one("SELECT current_schema() AS s", &[])
            .await
            .map_err(q)?;
        let schema: Option<String> = col(&row, "pg_namespace", "s")?;
        let schema =
            quote_ident(&schema.ok_or_else(|| {
                StateError::Query("no current schema to copy the state from".into())
            })?);
        let mut sql = String::new();
        for t in migrations::TABLES {
            sql.push_str(&format!(
                "CREATE TEMP TABLE {t} (LIKE {schema}.{t} INCLUDING ALL);
                 INSERT INTO pg_temp.{t} SELECT * FROM {schema}.{t};\n"
            ));
        }
        // The copied identity has its own sequence: continue after the copied journal ids.
        sql.push_str(
            "SELECT setval(pg_get_serial_sequence('pg_temp.journal', 'id'),
                           (SELECT COALESCE(max(id), 0) + 1 FROM pg_temp.journal), false);",
        );
        c.batch(&sql).await.map_err(q)?;
        c.commit().await.map_err(q)?;
        // From now on unqualified names can only mean the copies: the real tables are not on
        // the path, so a copy that went missing is an error, never a write to the real state.
        c.batch("SET search_path TO pg_temp").await.map_err(q)?;
        Ok(Box::new(PostgresStore {
            pool: Arc::new(Pool::fixed(config, self.location.clone(), c)),
            location: format!("{} (dry-run copy)", self.location),
            scratch: true,
        }))
    }
}

#[cfg(test)]
mod tests;
