//! The embedded default state store: one SQLite file, created on first run.
//!
//! WAL journal mode with `synchronous = NORMAL`: every commit survives a killed process (what
//! crash safety needs here); a power cut may lose the last commits, which the next run redoes
//! because cursors only move after the facts they cover are stored.
//!
//! Several processes may share the file (a daemon and a sync run by hand, overlapping cron
//! runs, the viewer reading). Every transaction that writes starts `IMMEDIATE`, taking the
//! write lock before it reads, so it never fails half way with "database is locked" when
//! another process wrote in between; transactions are a few statements long; and a statement
//! that finds the file locked waits — saying so in the log after a while — up to
//! `[sync] state_wait_secs` before it gives up with [`StateError::Busy`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

/// Runs a statement through the connection's statement cache: the SQL is parsed once per
/// connection, not on every call (parsing showed up in the sync's CPU profile).
fn exec(c: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(p)
}

/// One row of a cached statement (see [`exec`]).
fn row<T>(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(p, f)
}

use super::{
    AssetRecord, JournalEntry, JournalState, LinkOrigin, LinkRecord, Observed, PartRecord,
    QuarantineEntry, Result, RunRecord, StateError, StateStore, WorkItem, fmt_time, parse_time,
};
use crate::model::{CanonicalValues, LinkId, LinkStatus, WatermarkStatus};

mod migrations;

/// The SQLite state store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// For a dry run's copy: its folder, removed when the last clone of the store drops.
    scratch: Option<Arc<ScratchDir>>,
}

/// Prefix of a dry run's state copy folder, `partreel-dry-run-MACHINE-PID-START_NANOS`.
const SCRATCH_PREFIX: &str = "partreel-dry-run-";

/// A dry run's folder (owner only), removed with what it holds when dropped.
#[derive(Debug)]
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes dry-run folders under `dir` left by processes of this machine that ended (killed
/// mid-run); returns how many went. Others' folders, and any other name, stay.
fn sweep_scratch_dirs(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(SCRATCH_PREFIX)) else {
            continue;
        };
        let Some((tag, _)) = rest.split_once('_') else {
            continue;
        };
        if super::owner::tag_is_gone(tag) == Some(true)
            && entry.file_type().is_ok_and(|t| t.is_dir())
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn q(e: rusqlite::Error) -> StateError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StateError::Busy {
            waited_secs: BUSY_WAIT_MS.load(Ordering::Relaxed) / 1000,
        },
        _ => StateError::Query(e.to_string()),
    }
}

/// How long a statement waits for another process's write lock by default.
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_secs(120);

/// How long a statement waits for another process's write lock (ms), for every SQLite state
/// file this process opens ([`SqliteStore::open_with`]).
static BUSY_WAIT_MS: AtomicU64 = AtomicU64::new(DEFAULT_BUSY_WAIT.as_millis() as u64);

/// Sleep between two tries at a locked file.
const BUSY_STEP: Duration = Duration::from_millis(10);

/// A wait this long is said in the log (shorter ones are a normal overlap of two writers).
const BUSY_SAY_AFTER: Duration = Duration::from_secs(2);

/// SQLite's busy handler: called with the number of tries so far at one locked file; true to
/// try again after a short sleep.
fn on_busy(tries: i32) -> bool {
    let waited = BUSY_STEP.as_millis() as u64 * tries.max(0) as u64;
    let limit = BUSY_WAIT_MS.load(Ordering::Relaxed);
    if waited >= limit {
        return false;
    }
    if waited == BUSY_SAY_AFTER.as_millis() as u64 {
        tracing::warn!(
            wait_secs = limit / 1000,
            "the state file is locked by another partreel process's write; waiting for it (up to [sync] state_wait_secs)"
        );
    }
    std::thread::sleep(BUSY_STEP);
    true
}

fn json_col<T: serde::de::DeserializeOwned>(
    text: &str,
    table: &'static str,
    column: &'static str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt {
        table,
        column,
        message: e.to_string(),
    })
}

fn time_col(text: &str, table: &'static str, column: &'static str) -> Result<DateTime<Utc>> {
    parse_time(text).ok_or_else(|| StateError::Corrupt {
        table,
        column,
        message: format!("not a time: {text}"),
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serializing plain maps and enums cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Makes a state file it just created readable by its owner only (it holds clip metadata and
/// the journal); SQLite gives its `-wal` and `-shm` files the same mode.
/// Why the state file's folder `dir` could not be created, in words: a file standing where a
/// folder is needed is named (the OS says only "File exists" or "Not a directory").
fn folder_problem(dir: &Path, e: &std::io::Error) -> String {
    let in_the_way = dir
        .ancestors()
        .find(|a| a.exists())
        .filter(|a| !a.is_dir() && !a.as_os_str().is_empty());
    match in_the_way {
        Some(file) => format!(
            "cannot create the folder {}: {} is a file, not a folder (check `state`)",
            dir.display(),
            file.display()
        ),
        None => format!("cannot create the folder {}: {e}", dir.display()),
    }
}

fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating when missing) the state file and its tables; statements wait up to
    /// [`DEFAULT_BUSY_WAIT`] for another process's write.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, DEFAULT_BUSY_WAIT)
    }

    /// [`Self::open`], with statements waiting up to `busy_wait` for another process's write
    /// before they fail with [`StateError::Busy`] (the wait applies to every SQLite state this
    /// process opens).
    pub fn open_with(path: &Path, busy_wait: Duration) -> Result<Self> {
        BUSY_WAIT_MS.store(busy_wait.as_millis() as u64, Ordering::Relaxed);
        let open_err = |message: String| StateError::Open {
            location: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| open_err(folder_problem(dir, &e)))?;
        }
        let created = !path.exists();
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        if created {
            owner_only(path).map_err(|e| open_err(e.to_string()))?;
        }
        Self::init(conn, path.to_path_buf()).map_err(|e| open_err(e.to_string()))
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Self> {
        conn.busy_handler(Some(on_busy)).map_err(q)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(q)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(q)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(q)?;
        migrations::migrate(&mut conn).map_err(|e| match e {
            migrations::MigrateError::Db(e) => q(e),
            too_new => StateError::Query(too_new.to_string()),
        })?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
            scratch: None,
        })
    }

    /// The schema version this build migrates state files to.
    pub fn schema_version() -> i64 {
        migrations::latest()
    }

    /// The schema version recorded in this store's file (after opening: the latest).
    pub fn file_schema_version(&self) -> Result<i64> {
        self.blocking(|c| {
            let v: String = row(
                c,
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .map_err(q)?;
            v.parse().map_err(|_| StateError::Corrupt {
                table: "meta",
                column: "value",
                message: format!("schema_version is not a number: {v}"),
            })
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock would leave a half-used connection; SQLite's own
        // transaction rollback keeps the data consistent, so go on with it.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a read on the connection. A read of a WAL database does not wait for another
    /// process's write lock, so when this store's connection is free the read runs right here
    /// on the worker: no hand-off of the worker's other tasks to another thread, which cost a
    /// thread switch per call (the sync's CPU profile). When another task holds the
    /// connection — a write that may be waiting for another process — the read waits off the
    /// workers, as [`Self::blocking`] does.
    fn reading<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        match self.conn.try_lock() {
            Ok(mut c) => f(&mut c),
            Err(std::sync::TryLockError::Poisoned(p)) => f(&mut p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => self.blocking(f),
        }
    }

    /// Runs `f` on the connection, off the async workers (see [`Self::reading`] for reads).
    /// SQLite calls block: waiting for
    /// this store's connection (other tasks of this process), for another process's write
    /// lock (up to `[sync] state_wait_secs`), for the disk. On the multi-thread runtime the
    /// worker first hands its other tasks to a new worker (`block_in_place`), so they keep
    /// running — HTTP requests in flight, lease renewals, the daemon's endpoints. Unlike
    /// `spawn_blocking` (the viewer's read-only view uses it), the calls borrow their
    /// arguments instead of copying every record. On a current-thread runtime (tests,
    /// one-shot tools) there is no other worker and `f` runs in place.
    fn blocking<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let run = || f(&mut self.lock());
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }
}

fn part_from_row(r: &Row<'_>) -> rusqlite::Result<[String; 10]> {
    Ok([
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ])
}

const PART_COLS: &str =
    "system, number, revision, remote_id, name, lifecycle_state, sku, modified, vals, first_seen";

fn part_decode(c: [String; 10]) -> Result<PartRecord> {
    let [
        system,
        number,
        revision,
        remote_id,
        name,
        lifecycle,
        sku,
        modified,
        vals,
        first_seen,
    ] = c;
    Ok(PartRecord {
        system,
        number,
        revision,
        remote_id,
        name,
        lifecycle_state: (!lifecycle.is_empty()).then_some(lifecycle),
        sku: (!sku.is_empty()).then_some(sku),
        modified: time_col(&modified, "parts", "modified")?,
        values: json_col(&vals, "parts", "vals")?,
        first_seen: time_col(&first_seen, "parts", "first_seen")?,
    })
}

const ASSET_COLS: &str =
    "system, asset_id, title, modified, version, archived, deleted, rendition_url, vals, watermark";

/// Text columns, then version, rendition URL, archived, deleted.
type AssetRow = (Vec<String>, Option<String>, Option<String>, bool, bool);

fn asset_from_row(r: &Row<'_>) -> rusqlite::Result<AssetRow> {
    Ok((
        vec![
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(8)?,
            r.get(9)?,
        ],
        r.get(4)?,
        r.get(7)?,
        r.get::<_, i64>(5)? != 0,
        r.get::<_, i64>(6)? != 0,
    ))
}

fn asset_decode(
    (cols, version, rendition_url, archived, deleted): AssetRow,
) -> Result<AssetRecord> {
    let mut it = cols.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let (system, asset_id, title, modified, vals, watermark) =
        (next(), next(), next(), next(), next(), next());
    Ok(AssetRecord {
        system,
        asset_id,
        title,
        modified: time_col(&modified, "assets", "modified")?,
        version,
        archived,
        deleted,
        rendition_url,
        values: json_col(&vals, "assets", "vals")?,
        watermark: json_col::<WatermarkStatus>(&watermark, "assets", "watermark")?,
    })
}

const LINK_COLS: &str = "link_id, dam_system, asset_id, plm_system, part_number, part_revision, \
    part_remote_id, remote_id, status, origin, base, plm_vals, plm_modified, created_at, updated_at, run_id";

type LinkRow = (Vec<String>, Option<String>, Option<String>);

fn link_from_row(r: &Row<'_>) -> rusqlite::Result<LinkRow> {
    Ok((
        vec![
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
            r.get(13)?,
            r.get(14)?,
            r.get(15)?,
        ],
        r.get(7)?,
        r.get(12)?,
    ))
}

fn link_decode((cols, remote_id, plm_modified): LinkRow) -> Result<LinkRecord> {
    let mut it = cols.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let (link_id, dam_system, asset_id, plm_system, part_number, part_revision, part_remote_id) =
        (next(), next(), next(), next(), next(), next(), next());
    let (status, origin, base, plm_vals, created_at, updated_at, run_id) =
        (next(), next(), next(), next(), next(), next(), next());
    Ok(LinkRecord {
        link_id: LinkId(link_id),
        dam_system,
        asset_id,
        plm_system,
        part_number,
        part_revision,
        part_remote_id,
        remote_id,
        status: LinkStatus::parse(&status).ok_or_else(|| StateError::Corrupt {
            table: "links",
            column: "status",
            message: status.clone(),
        })?,
        origin: match origin.as_str() {
            "carried" => LinkOrigin::Carried,
            _ => LinkOrigin::Tagged,
        },
        base: json_col(&base, "links", "base")?,
        plm_values: json_col(&plm_vals, "links", "plm_vals")?,
        plm_modified: plm_modified
            .as_deref()
            .map(|t| time_col(t, "links", "plm_modified"))
            .transpose()?,
        created_at: time_col(&created_at, "links", "created_at")?,
        updated_at: time_col(&updated_at, "links", "updated_at")?,
        run_id,
    })
}

fn enqueue_tx(tx: &Connection, items: &[WorkItem], now: &str) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO work (plm_system, dam_system, asset_id, enqueued_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (plm_system, dam_system, asset_id)
             DO UPDATE SET requeued = (work.leased_by IS NOT NULL)",
        )
        .map_err(q)?;
    for w in items {
        stmt.execute(params![w.plm_system, w.dam_system, w.asset_id, now])
            .map_err(q)?;
    }
    Ok(())
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn cursor(&self, system: &str, stream: &str) -> Result<Option<DateTime<Utc>>> {
        self.reading(|c| {
            let at: Option<String> = row(
                c,
                "SELECT at FROM cursors WHERE system = ?1 AND stream = ?2",
                params![system, stream],
                |r| r.get(0),
            )
            .optional()
            .map_err(q)?;
            at.map(|t| time_col(&t, "cursors", "at")).transpose()
        })
    }

    async fn set_cursor(&self, system: &str, stream: &str, at: DateTime<Utc>) -> Result<()> {
        self.blocking(|c| {
            exec(
                c,
                "INSERT INTO cursors (system, stream, at, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (system, stream) DO UPDATE SET at = excluded.at, updated_at = excluded.updated_at",
                params![system, stream, fmt_time(at), fmt_time(Utc::now())],
            )
            .map_err(q)?;
            Ok(())
        })
    }

    async fn part(&self, system: &str, number: &str, revision: &str) -> Result<Option<PartRecord>> {
        self.reading(|c| {
            let row = row(
                    c,
                    &format!("SELECT {PART_COLS} FROM parts WHERE system = ?1 AND number = ?2 AND revision = ?3"),
                    params![system, number, revision],
                    part_from_row,
                )
                .optional()
                .map_err(q)?;
            row.map(part_decode).transpose()
        })
    }

    async fn parts_by_number(&self, system: &str, number: &str) -> Result<Vec<PartRecord>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {PART_COLS} FROM parts WHERE system = ?1 AND number = ?2 ORDER BY length(revision), revision"
                ))
                .map_err(q)?;
            let rows = stmt
                .query_map(params![system, number], part_from_row)
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            rows.into_iter().map(part_decode).collect()
        })
    }

    async fn parts_by_sku(&self, system: &str, sku: &str) -> Result<Vec<PartRecord>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {PART_COLS} FROM parts WHERE system = ?1 AND sku = ?2 ORDER BY number, length(revision), revision"
                ))
                .map_err(q)?;
            let rows = stmt
                .query_map(params![system, sku], part_from_row)
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            rows.into_iter().map(part_decode).collect()
        })
    }

    async fn upsert_parts(&self, parts: &[PartRecord]) -> Result<()> {
        self.blocking(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(q)?;
            {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO parts ({PART_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT (system, number, revision) DO UPDATE SET remote_id = excluded.remote_id,
                           name = excluded.name, lifecycle_state = excluded.lifecycle_state, sku = excluded.sku,
                           modified = excluded.modified, vals = excluded.vals"
                    ))
                    .map_err(q)?;
                for p in parts {
                    stmt.execute(params![
                        p.system,
                        p.number,
                        p.revision,
                        p.remote_id,
                        p.name,
                        p.lifecycle_state,
                        p.sku,
                        fmt_time(p.modified),
                        to_json(&p.values),
                        fmt_time(p.first_seen),
                    ])
                    .map_err(q)?;
                }
            }
            tx.commit().map_err(q)
        })
    }

    async fn asset(&self, system: &str, asset_id: &str) -> Result<Option<AssetRecord>> {
        self.reading(|c| {
            let row = row(
                c,
                &format!("SELECT {ASSET_COLS} FROM assets WHERE system = ?1 AND asset_id = ?2"),
                params![system, asset_id],
                asset_from_row,
            )
            .optional()
            .map_err(q)?;
            row.map(asset_decode).transpose()
        })
    }

    async fn upsert_assets(&self, assets: &[AssetRecord], enqueue_for: &[String]) -> Result<()> {
        self.blocking(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(q)?;
            {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO assets ({ASSET_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT (system, asset_id) DO UPDATE SET title = excluded.title,
                           modified = excluded.modified, version = excluded.version, archived = excluded.archived,
                           deleted = excluded.deleted, rendition_url = excluded.rendition_url,
                           vals = excluded.vals, watermark = excluded.watermark"
                    ))
                    .map_err(q)?;
                for a in assets {
                    stmt.execute(params![
                        a.system,
                        a.asset_id,
                        a.title,
                        fmt_time(a.modified),
                        a.version,
                        a.archived as i64,
                        a.deleted as i64,
                        a.rendition_url,
                        to_json(&a.values),
                        to_json(&a.watermark),
                    ])
                    .map_err(q)?;
                }
            }
            if !enqueue_for.is_empty() {
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
                enqueue_tx(&tx, &items, &fmt_time(Utc::now()))?;
            }
            tx.commit().map_err(q)
        })
    }

    async fn linked_assets(
        &self,
        dam: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT DISTINCT asset_id FROM links WHERE dam_system = ?1 AND asset_id > ?2
                 AND status != 'retired' ORDER BY asset_id LIMIT ?3",
                )
                .map_err(q)?;
            let rows = stmt
                .query_map(params![dam, after.unwrap_or(""), limit as i64], |r| {
                    r.get(0)
                })
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(q)?;
            Ok(rows)
        })
    }

    async fn mark_seen(&self, dam: &str, asset_ids: &[String], scan: &str) -> Result<()> {
        self.blocking(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(q)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE assets SET last_scan = ?3 WHERE system = ?1 AND asset_id = ?2",
                    )
                    .map_err(q)?;
                for id in asset_ids {
                    stmt.execute(params![dam, id, scan]).map_err(q)?;
                }
            }
            tx.commit().map_err(q)
        })
    }

    async fn unseen_linked_assets(
        &self,
        dam: &str,
        scan: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT DISTINCT l.asset_id FROM links l LEFT JOIN assets a
                   ON a.system = l.dam_system AND a.asset_id = l.asset_id
                 WHERE l.dam_system = ?1 AND l.status != 'retired' AND l.asset_id > ?3
                   AND (a.last_scan IS NULL OR a.last_scan != ?2)
                 ORDER BY l.asset_id LIMIT ?4",
                )
                .map_err(q)?;
            let rows = stmt
                .query_map(params![dam, scan, after.unwrap_or(""), limit as i64], |r| {
                    r.get(0)
                })
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(q)?;
            Ok(rows)
        })
    }

    async fn links_page(&self, after: Option<&LinkId>, limit: usize) -> Result<Vec<LinkRecord>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {LINK_COLS} FROM links WHERE link_id > ?1 ORDER BY link_id LIMIT ?2"
                ))
                .map_err(q)?;
            let rows = stmt
                .query_map(
                    params![after.map(|l| l.as_str()).unwrap_or(""), limit as i64],
                    link_from_row,
                )
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            rows.into_iter().map(link_decode).collect()
        })
    }

    async fn link(&self, id: &LinkId) -> Result<Option<LinkRecord>> {
        self.reading(|c| {
            let row = row(
                c,
                &format!("SELECT {LINK_COLS} FROM links WHERE link_id = ?1"),
                params![id.as_str()],
                link_from_row,
            )
            .optional()
            .map_err(q)?;
            row.map(link_decode).transpose()
        })
    }

    async fn links_for_asset(&self, dam: &str, asset_id: &str) -> Result<Vec<LinkRecord>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {LINK_COLS} FROM links WHERE dam_system = ?1 AND asset_id = ?2 ORDER BY link_id"
                ))
                .map_err(q)?;
            let rows = stmt
                .query_map(params![dam, asset_id], link_from_row)
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            rows.into_iter().map(link_decode).collect()
        })
    }

    async fn links_for_part(
        &self,
        plm: &str,
        number: &str,
        revision: Option<&str>,
    ) -> Result<Vec<LinkRecord>> {
        self.reading(|c| {
            let rows = match revision {
                Some(rev) => {
                    let mut stmt = c
                        .prepare_cached(&format!(
                            "SELECT {LINK_COLS} FROM links WHERE plm_system = ?1 AND part_number = ?2 AND part_revision = ?3 ORDER BY link_id"
                        ))
                        .map_err(q)?;
                    stmt.query_map(params![plm, number, rev], link_from_row)
                        .map_err(q)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map_err(q)?
                }
                None => {
                    let mut stmt = c
                        .prepare_cached(&format!(
                            "SELECT {LINK_COLS} FROM links WHERE plm_system = ?1 AND part_number = ?2 ORDER BY link_id"
                        ))
                        .map_err(q)?;
                    stmt.query_map(params![plm, number], link_from_row)
                        .map_err(q)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map_err(q)?
                }
            };
            rows.into_iter().map(link_decode).collect()
        })
    }

    async fn upsert_link(&self, l: &LinkRecord) -> Result<()> {
        self.blocking(|c| {
            exec(
                c,
                &format!(
                    "INSERT INTO links ({LINK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                     ON CONFLICT (link_id) DO UPDATE SET part_remote_id = excluded.part_remote_id,
                       remote_id = excluded.remote_id, status = excluded.status, origin = excluded.origin,
                       base = excluded.base, plm_vals = excluded.plm_vals, plm_modified = excluded.plm_modified,
                       updated_at = excluded.updated_at, run_id = excluded.run_id"
                ),
                params![
                    l.link_id.as_str(),
                    l.dam_system,
                    l.asset_id,
                    l.plm_system,
                    l.part_number,
                    l.part_revision,
                    l.part_remote_id,
                    l.remote_id,
                    l.status.as_str(),
                    l.origin.as_str(),
                    to_json(&l.base),
                    to_json(&l.plm_values),
                    l.plm_modified.map(fmt_time),
                    fmt_time(l.created_at),
                    fmt_time(l.updated_at),
                    l.run_id,
                ],
            )
            .map_err(q)?;
            Ok(())
        })
    }

    async fn observe_link(
        &self,
        id: &LinkId,
        values: &CanonicalValues,
        modified: DateTime<Utc>,
        remote_id: &str,
    ) -> Result<Observed> {
        self.blocking(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(q)?;
            type Seen = (
                String,
                String,
                String,
                Option<String>,
                String,
                Option<String>,
            );
            let row: Option<Seen> = row(
                    &tx,
                    "SELECT plm_system, dam_system, asset_id, plm_modified, plm_vals, remote_id FROM links WHERE link_id = ?1",
                    params![id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
                .optional()
                .map_err(q)?;
            let Some((plm, dam, asset, seen, seen_vals, known)) = row else {
                return Ok(Observed::Unknown);
            };
            if let Some(known) = super::rules::other_record(known, remote_id) {
                return Ok(Observed::OtherRecord(known));
            }
            let seen = seen
                .map(|t| time_col(&t, "links", "plm_modified"))
                .transpose()?;
            let seen_vals: CanonicalValues = json_col(&seen_vals, "links", "plm_vals")?;
            if super::rules::is_echo(seen, &seen_vals, modified, values) {
                return Ok(Observed::Known);
            }
            exec(
                &tx,
                "UPDATE links SET plm_vals = ?2, plm_modified = ?3, remote_id = COALESCE(remote_id, ?4) WHERE link_id = ?1",
                params![id.as_str(), to_json(values), fmt_time(modified), remote_id],
            )
            .map_err(q)?;
            enqueue_tx(
                &tx,
                &[WorkItem {
                    plm_system: plm,
                    dam_system: dam,
                    asset_id: asset,
                }],
                &fmt_time(Utc::now()),
            )?;
            tx.commit().map_err(q)?;
            Ok(Observed::Known)
        })
    }

    async fn enqueue(&self, items: &[WorkItem]) -> Result<()> {
        self.blocking(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(q)?;
            enqueue_tx(&tx, items, &fmt_time(Utc::now()))?;
            tx.commit().map_err(q)
        })
    }

    async fn enqueue_all_assets(&self, plm: &str, dam: &str) -> Result<u64> {
        self.blocking(|c| {
            let n = exec(
                c,
                "INSERT INTO work (plm_system, dam_system, asset_id, enqueued_at)
                 SELECT ?1, system, asset_id, ?3 FROM assets WHERE system = ?2
                 ON CONFLICT (plm_system, dam_system, asset_id) DO NOTHING",
                params![plm, dam, fmt_time(Utc::now())],
            )
            .map_err(q)?;
            Ok(n as u64)
        })
    }

    async fn lease_work(
        &self,
        owner: &str,
        plm: &str,
        dam: &str,
        limit: usize,
        lease_secs: u64,
    ) -> Result<Vec<WorkItem>> {
        self.blocking(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(q)?;
            let now = Utc::now();
            let until = now + chrono::Duration::seconds(lease_secs as i64);
            let items = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT plm_system, dam_system, asset_id FROM work
                     WHERE plm_system = ?4 AND dam_system = ?5
                       AND (leased_by IS NULL OR lease_until < ?1 OR leased_by = ?2)
                     ORDER BY enqueued_at, asset_id LIMIT ?3",
                    )
                    .map_err(q)?;
                stmt.query_map(params![fmt_time(now), owner, limit as i64, plm, dam], |r| {
                    Ok(WorkItem {
                        plm_system: r.get(0)?,
                        dam_system: r.get(1)?,
                        asset_id: r.get(2)?,
                    })
                })
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?
            };
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE work SET leased_by = ?4, lease_until = ?5, requeued = 0
                     WHERE plm_system = ?1 AND dam_system = ?2 AND asset_id = ?3",
                    )
                    .map_err(q)?;
                for w in &items {
                    stmt.execute(params![
                        w.plm_system,
                        w.dam_system,
                        w.asset_id,
                        owner,
                        fmt_time(until)
                    ])
                    .map_err(q)?;
                }
            }
            tx.commit().map_err(q)?;
            Ok(items)
        })
    }

    async fn renew_lease(&self, owner: &str, item: &WorkItem, lease_secs: u64) -> Result<bool> {
        self.blocking(|c| {
            let until = Utc::now() + chrono::Duration::seconds(lease_secs as i64);
            let n = c
                .prepare_cached(
                    "UPDATE work SET lease_until = ?5
                 WHERE plm_system = ?1 AND dam_system = ?2 AND asset_id = ?3 AND leased_by = ?4",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        item.plm_system,
                        item.dam_system,
                        item.asset_id,
                        owner,
                        fmt_time(until)
                    ])
                })
                .map_err(q)?;
            Ok(n > 0)
        })
    }

    async fn lease_holders(&self, plm: &str, dam: &str) -> Result<Vec<(String, u64)>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT leased_by, COUNT(*) FROM work
                 WHERE plm_system = ?1 AND dam_system = ?2 AND leased_by IS NOT NULL
                   AND lease_until >= ?3
                 GROUP BY leased_by ORDER BY leased_by",
                )
                .map_err(q)?;
            stmt.query_map(params![plm, dam, fmt_time(Utc::now())], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })
            .map_err(q)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(q)
        })
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        self.blocking(|c| {
            let n = exec(
                c,
                "UPDATE work SET leased_by = NULL, lease_until = NULL, requeued = 0
                 WHERE leased_by = ?1",
                params![owner],
            )
            .map_err(q)?;
            Ok(n as u64)
        })
    }

    async fn finish_work(&self, owner: &str, item: &WorkItem) -> Result<()> {
        self.blocking(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(q)?;
            let deleted = exec(
                &tx,
                "DELETE FROM work WHERE plm_system = ?1 AND dam_system = ?2 AND asset_id = ?3
                 AND requeued = 0 AND (leased_by IS NULL OR leased_by = ?4)",
                params![item.plm_system, item.dam_system, item.asset_id, owner],
            )
            .map_err(q)?;
            if deleted == 0 {
                // Queued again while leased: release it so the newer change is planned.
                exec(
                    &tx,
                    "UPDATE work SET leased_by = NULL, lease_until = NULL, requeued = 0
                 WHERE plm_system = ?1 AND dam_system = ?2 AND asset_id = ?3 AND requeued = 1
                 AND (leased_by IS NULL OR leased_by = ?4)",
                    params![item.plm_system, item.dam_system, item.asset_id, owner],
                )
                .map_err(q)?;
            }
            tx.commit().map_err(q)
        })
    }

    async fn work_len(&self) -> Result<u64> {
        self.reading(|c| {
            row(c, "SELECT COUNT(*) FROM work", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(q)
        })
    }

    async fn work_len_for(&self, plm: &str, dam: &str) -> Result<u64> {
        let (plm, dam) = (plm.to_string(), dam.to_string());
        self.reading(move |c| {
            row(
                c,
                "SELECT COUNT(*) FROM work WHERE plm_system = ?1 AND dam_system = ?2",
                params![plm, dam],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(q)
        })
    }

    async fn journal_begin(
        &self,
        run_id: &str,
        op: &str,
        system: &str,
        key: &str,
        payload: &serde_json::Value,
    ) -> Result<i64> {
        self.blocking(|c| {
            let now = fmt_time(Utc::now());
            exec(
            c,
            "INSERT INTO journal (run_id, op, system, key, payload, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
            params![run_id, op, system, key, payload.to_string(), now],
        )
        .map_err(q)?;
            Ok(c.last_insert_rowid())
        })
    }

    async fn journal_end(&self, id: i64, state: JournalState) -> Result<()> {
        self.blocking(|c| {
            exec(
                c,
                "UPDATE journal SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, state.as_str(), fmt_time(Utc::now())],
            )
            .map_err(q)?;
            Ok(())
        })
    }

    async fn journal_take_over(&self, id: i64, from: &str, to: &str) -> Result<bool> {
        self.blocking(|c| {
            let n = exec(
                c,
                "UPDATE journal SET payload = json_set(payload, '$.owner', ?3), updated_at = ?4
                 WHERE id = ?1 AND state = 'pending'
                   AND COALESCE(json_extract(payload, '$.owner'), '') = ?2",
                params![id, from, to, fmt_time(Utc::now())],
            )
            .map_err(q)?;
            Ok(n > 0)
        })
    }

    async fn journal_pending(&self) -> Result<Vec<JournalEntry>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, run_id, op, system, key, payload, created_at FROM journal
                 WHERE state = 'pending' ORDER BY id",
                )
                .map_err(q)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            rows.into_iter()
                .map(|(id, run_id, op, system, key, payload, created)| {
                    Ok(JournalEntry {
                        id,
                        run_id,
                        op,
                        system,
                        key,
                        payload: json_col(&payload, "journal", "payload")?,
                        state: JournalState::Pending,
                        created_at: time_col(&created, "journal", "created_at")?,
                    })
                })
                .collect()
        })
    }

    async fn quarantine_put(
        &self,
        system: &str,
        record_id: &str,
        kind: &str,
        reason: &str,
        run_id: &str,
    ) -> Result<()> {
        self.blocking(|c| {
            let now = fmt_time(Utc::now());
            exec(
                c,
                "INSERT INTO quarantine (system, record_id, kind, reason, first_seen, last_seen, attempts, run_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6)
                 ON CONFLICT (system, record_id) DO UPDATE SET reason = excluded.reason,
                   last_seen = excluded.last_seen, attempts = quarantine.attempts + 1, run_id = excluded.run_id",
                params![system, record_id, kind, reason, now, run_id],
            )
            .map_err(q)?;
            Ok(())
        })
    }

    async fn quarantine_clear(&self, system: &str, record_id: &str) -> Result<()> {
        self.blocking(|c| {
            exec(
                c,
                "DELETE FROM quarantine WHERE system = ?1 AND record_id = ?2",
                params![system, record_id],
            )
            .map_err(q)?;
            Ok(())
        })
    }

    async fn quarantine_list(&self) -> Result<Vec<QuarantineEntry>> {
        self.reading(|c| {
            let mut stmt = c
            .prepare_cached(
                "SELECT system, record_id, kind, reason, first_seen, last_seen, attempts, run_id
                 FROM quarantine ORDER BY last_seen DESC, system, record_id",
            )
            .map_err(q)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                })
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            rows.into_iter()
                .map(
                    |(system, record_id, kind, reason, first, last, attempts, run_id)| {
                        Ok(QuarantineEntry {
                            system,
                            record_id,
                            kind,
                            reason,
                            first_seen: time_col(&first, "quarantine", "first_seen")?,
                            last_seen: time_col(&last, "quarantine", "last_seen")?,
                            attempts: attempts.max(0) as u32,
                            run_id,
                        })
                    },
                )
                .collect()
        })
    }

    async fn run_started(&self, run_id: &str, at: DateTime<Utc>, report: &str) -> Result<()> {
        self.blocking(|c| {
            exec(
                c,
                "INSERT INTO runs (run_id, started_at, report) VALUES (?1, ?2, ?3)",
                params![run_id, fmt_time(at), report],
            )
            .map_err(q)?;
            Ok(())
        })
    }

    async fn run_writes(&self, run_id: &str) -> Result<BTreeMap<String, u64>> {
        self.blocking(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT op, COUNT(*) FROM journal WHERE run_id = ?1 AND state = 'applied'
                 GROUP BY op",
                )
                .map_err(q)?;
            let rows = stmt
                .query_map(params![run_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            Ok(rows.into_iter().map(|(op, n)| (op, n as u64)).collect())
        })
    }

    async fn run_finished(&self, run_id: &str, outcome: &str, report: &str) -> Result<()> {
        self.blocking(|c| {
            exec(
                c,
                "UPDATE runs SET finished_at = ?2, outcome = ?3, report = ?4 WHERE run_id = ?1",
                params![run_id, fmt_time(Utc::now()), outcome, report],
            )
            .map_err(q)?;
            Ok(())
        })
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT run_id, started_at, finished_at, outcome, report FROM runs
                 ORDER BY started_at DESC LIMIT ?1",
                )
                .map_err(q)?;
            let rows = stmt
                .query_map(params![limit as i64], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            rows.into_iter()
                .map(|(run_id, started, finished, outcome, report)| {
                    Ok(RunRecord {
                        run_id,
                        started_at: time_col(&started, "runs", "started_at")?,
                        finished_at: finished
                            .as_deref()
                            .map(|t| time_col(t, "runs", "finished_at"))
                            .transpose()?,
                        outcome,
                        report,
                    })
                })
                .collect()
        })
    }

    async fn link_counts(&self) -> Result<BTreeMap<String, u64>> {
        self.reading(|c| {
            let mut stmt = c
                .prepare_cached("SELECT status, COUNT(*) FROM links GROUP BY status")
                .map_err(q)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(q)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(q)?;
            Ok(rows.into_iter().map(|(s, n)| (s, n as u64)).collect())
        })
    }

    async fn scratch_copy(&self) -> Result<Box<dyn StateStore>> {
        Ok(Box::new(self.scratch_copy_in(&std::env::temp_dir())?))
    }
}

impl SqliteStore {
    /// [`StateStore::scratch_copy`] in a folder of its own under `tmp` (owner only, removed when
    /// the copy drops); folders of ended processes' dry runs there are removed first.
    pub(crate) fn scratch_copy_in(&self, tmp: &Path) -> Result<SqliteStore> {
        let swept = sweep_scratch_dirs(tmp);
        if swept > 0 {
            tracing::info!(folders = swept, "removed dry-run copies of ended runs");
        }
        let dir = tmp.join(format!(
            "{SCRATCH_PREFIX}{}_{}",
            super::owner::file_tag(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let io_err = |e: std::io::Error| StateError::Query(format!("{}: {e}", dir.display()));
        {
            let mut b = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.recursive(true).create(&dir).map_err(io_err)?;
        }
        // Owns the folder from here: any failure below removes it.
        let guard = Arc::new(ScratchDir(dir.clone()));
        let target = dir.join("state.db");
        self.blocking(|c| {
            exec(c, "VACUUM INTO ?1", params![target.display().to_string()]).map_err(q)
        })?;
        owner_only(&target).map_err(io_err)?;
        let mut copy = SqliteStore::open(&target)?;
        copy.scratch = Some(guard);
        Ok(copy)
    }
}
