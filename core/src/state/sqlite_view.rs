//! [`ViewStore`] over the SQLite state file: a few connections opened with
//! `SQLITE_OPEN_READ_ONLY` (and `query_only`), so the viewer can never write, queried on the
//! blocking pool so a slow query does not stall the async workers.
//!
//! Indexes: every lookup here rides the tables' primary keys and the store's own
//! `links_by_part` / `links_by_asset` indexes, so the viewer creates none. Search is a scan:
//! `LIKE` over part columns and over `json_extract` of the clips' `vals` JSON (prompt,
//! campaign) — fine for tens of thousands of part revisions; an FTS5 table kept by the sync
//! would be the next step.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use super::sqlite::SqliteStore;
use super::view::{
    ClipDetail, ClipInfo, ClipView, LinkView, LinkedPart, MAX_SEARCH_LIMIT, PartHit, PartSummary,
    PartView, ViewStore, like_pattern,
};
use super::{LinkOrigin, Result, StateError, parse_time};
use crate::model::{CanonicalValues, LinkStatus, WatermarkStatus};

/// How long a reader waits for a writer's lock before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Live links (not retired) on a part revision `p`.
const CLIP_COUNT: &str = "(SELECT COUNT(*) FROM links l WHERE l.plm_system = p.system
   AND l.part_number = p.number AND l.part_revision = p.revision AND l.status != 'retired')";

const LINK_COLS: &str = "l.link_id, l.status, l.origin, l.plm_system, l.part_number,
   l.part_revision, l.dam_system, l.asset_id, l.created_at, l.updated_at, l.run_id,
   r.finished_at";

const ASSET_COLS: &str = "a.system, a.asset_id, a.title, a.modified, a.version, a.archived,
   a.deleted, a.rendition_url, a.vals, a.watermark";

/// Read-only view of a SQLite state file.
#[derive(Clone)]
pub struct SqliteView {
    conns: Arc<Vec<Mutex<Connection>>>,
    next: Arc<AtomicUsize>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteView")
            .field("path", &self.path)
            .field("connections", &self.conns.len())
            .finish()
    }
}

fn q(e: rusqlite::Error) -> StateError {
    StateError::Query(e.to_string())
}

fn corrupt(table: &'static str, column: &'static str, message: String) -> StateError {
    StateError::Corrupt {
        table,
        column,
        message,
    }
}

fn time(text: &str, table: &'static str, column: &'static str) -> Result<DateTime<Utc>> {
    parse_time(text).ok_or_else(|| corrupt(table, column, format!("not a time: {text}")))
}

fn json<T: serde::de::DeserializeOwned>(
    text: &str,
    table: &'static str,
    column: &'static str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(table, column, e.to_string()))
}

impl SqliteStore {
    /// A read-only view of this store's file for the viewer.
    pub fn view(&self, connections: usize) -> Result<SqliteView> {
        SqliteView::open(self.path(), connections)
    }
}

impl SqliteView {
    /// Opens `connections` (at least one) read-only connections to an existing state file.
    /// Fails when the file does not exist: the viewer never creates state.
    pub fn open(path: &Path, connections: usize) -> Result<Self> {
        let open_err = |message: String| StateError::Open {
            location: path.display().to_string(),
            message,
        };
        if !path.exists() {
            return Err(open_err(
                "no such state file (run a sync first, or check `state` in the configuration)"
                    .into(),
            ));
        }
        let mut conns = Vec::new();
        for _ in 0..connections.max(1) {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| open_err(e.to_string()))?;
            conn.busy_timeout(BUSY_TIMEOUT)
                .map_err(|e| open_err(e.to_string()))?;
            conn.pragma_update(None, "query_only", "ON")
                .map_err(|e| open_err(e.to_string()))?;
            conns.push(Mutex::new(conn));
        }
        Ok(SqliteView {
            conns: Arc::new(conns),
            next: Arc::new(AtomicUsize::new(0)),
            path: path.to_path_buf(),
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on one of the connections, on the blocking pool.
    async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let conns = self.conns.clone();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            // Take a free connection if there is one, else wait on the round-robin pick.
            let n = conns.len();
            for i in 0..n {
                if let Ok(c) = conns[(start + i) % n].try_lock() {
                    return f(&c);
                }
            }
            let c = conns[start % n].lock().unwrap_or_else(|p| p.into_inner());
            f(&c)
        })
        .await
        .map_err(|e| StateError::Query(format!("viewer query task failed: {e}")))?
    }
}

/// Text and integer columns of a part summary row: system, number, revision, name, sku,
/// lifecycle_state, clip_count.
fn hit_from_row(r: &Row<'_>) -> rusqlite::Result<PartHit> {
    Ok(PartHit {
        system: r.get(0)?,
        number: r.get(1)?,
        revision: r.get(2)?,
        name: r.get(3)?,
        sku: r.get::<_, Option<String>>(4)?.filter(|s| !s.is_empty()),
        lifecycle_state: r.get::<_, Option<String>>(5)?.filter(|s| !s.is_empty()),
        clip_count: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
    })
}

/// A link row before decoding ([`LINK_COLS`]).
struct LinkRow([String; 11], Option<String>);

fn link_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<LinkRow> {
    let mut cols: [String; 11] = Default::default();
    for (i, c) in cols.iter_mut().enumerate() {
        *c = r.get(at + i)?;
    }
    Ok(LinkRow(cols, r.get(at + 11)?))
}

fn link_decode(LinkRow(c, finished): LinkRow) -> Result<LinkView> {
    let [
        link_id,
        status,
        origin,
        plm_system,
        part_number,
        part_revision,
        dam_system,
        asset_id,
        created_at,
        updated_at,
        run_id,
    ] = c;
    Ok(LinkView {
        status: LinkStatus::parse(&status).ok_or_else(|| corrupt("links", "status", status))?,
        origin: if origin == "carried" {
            LinkOrigin::Carried
        } else {
            LinkOrigin::Tagged
        },
        link_id,
        plm_system,
        part_number,
        part_revision,
        dam_system,
        asset_id,
        created_at: time(&created_at, "links", "created_at")?,
        synced_at: time(&updated_at, "links", "updated_at")?,
        run_id,
        run_finished_at: finished.as_deref().and_then(parse_time),
    })
}

/// An asset row before decoding ([`ASSET_COLS`]); None when the LEFT JOIN found nothing.
struct AssetRow {
    text: [String; 6],
    version: Option<String>,
    rendition_url: Option<String>,
    archived: bool,
    deleted: bool,
}

fn asset_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<Option<AssetRow>> {
    let Some(system) = r.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(AssetRow {
        text: [
            system,
            r.get(at + 1)?,
            r.get(at + 2)?,
            r.get(at + 3)?,
            r.get(at + 8)?,
            r.get(at + 9)?,
        ],
        version: r.get(at + 4)?,
        rendition_url: r.get(at + 7)?,
        archived: r.get::<_, i64>(at + 5)? != 0,
        deleted: r.get::<_, i64>(at + 6)? != 0,
    }))
}

fn asset_decode(a: AssetRow) -> Result<ClipInfo> {
    let [system, asset_id, title, modified, vals, watermark] = a.text;
    let values: CanonicalValues = json(&vals, "assets", "vals")?;
    let watermark: WatermarkStatus = json(&watermark, "assets", "watermark")?;
    Ok(ClipInfo::from_values(
        system,
        asset_id,
        title,
        time(&modified, "assets", "modified")?,
        a.version,
        a.archived,
        a.deleted,
        a.rendition_url,
        &values,
        watermark,
    ))
}

fn search_sync(c: &Connection, text: &str, limit: usize) -> Result<Vec<PartHit>> {
    let limit = i64::try_from(limit.clamp(1, MAX_SEARCH_LIMIT)).unwrap_or(50);
    let text = text.trim();
    let rows = if text.is_empty() {
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT p.system, p.number, p.revision, p.name, p.sku, p.lifecycle_state, {CLIP_COUNT}
                 FROM parts p ORDER BY p.number, length(p.revision), p.revision, p.system LIMIT ?1"
            ))
            .map_err(q)?;
        stmt.query_map(params![limit], hit_from_row)
            .map_err(q)?
            .collect::<rusqlite::Result<Vec<_>>>()
    } else {
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT p.system, p.number, p.revision, p.name, p.sku, p.lifecycle_state, {CLIP_COUNT}
                 FROM parts p
                 WHERE p.number LIKE ?1 ESCAPE '\\' OR p.sku LIKE ?1 ESCAPE '\\'
                    OR p.name LIKE ?1 ESCAPE '\\'
                    OR EXISTS (SELECT 1 FROM links l JOIN assets a
                                 ON a.system = l.dam_system AND a.asset_id = l.asset_id
                               WHERE l.plm_system = p.system AND l.part_number = p.number
                                 AND l.part_revision = p.revision
                                 AND (json_extract(a.vals, '$.campaign') LIKE ?1 ESCAPE '\\'
                                   OR json_extract(a.vals, '$.prompt') LIKE ?1 ESCAPE '\\'
                                   OR a.title LIKE ?1 ESCAPE '\\'))
                 ORDER BY p.number, length(p.revision), p.revision, p.system LIMIT ?2"
            ))
            .map_err(q)?;
        stmt.query_map(params![like_pattern(text), limit], hit_from_row)
            .map_err(q)?
            .collect::<rusqlite::Result<Vec<_>>>()
    };
    rows.map_err(q)
}

fn part_sync(
    c: &Connection,
    system: &str,
    number: &str,
    revision: &str,
) -> Result<Option<PartView>> {
    let row = c
        .query_row(
            "SELECT system, number, revision, remote_id, name, lifecycle_state, sku, modified, vals
             FROM parts WHERE system = ?1 AND number = ?2 AND revision = ?3",
            params![system, number, revision],
            |r| {
                Ok((
                    [
                        r.get::<_, String>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(7)?,
                        r.get(8)?,
                    ],
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            },
        )
        .optional()
        .map_err(q)?;
    let Some(([system, number, revision, remote_id, name, modified, vals], lifecycle, sku)) = row
    else {
        return Ok(None);
    };
    Ok(Some(PartView {
        system,
        number,
        revision,
        remote_id,
        name,
        sku: sku.filter(|s| !s.is_empty()),
        lifecycle_state: lifecycle.filter(|s| !s.is_empty()),
        modified: time(&modified, "parts", "modified")?,
        values: json(&vals, "parts", "vals")?,
    }))
}

fn revisions_sync(c: &Connection, system: &str, number: &str) -> Result<Vec<PartSummary>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT p.system, p.number, p.revision, p.name, p.sku, p.lifecycle_state, {CLIP_COUNT}
             FROM parts p WHERE p.system = ?1 AND p.number = ?2
             ORDER BY length(p.revision), p.revision"
        ))
        .map_err(q)?;
    stmt.query_map(params![system, number], hit_from_row)
        .map_err(q)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(q)
}

fn links_of_part_sync(
    c: &Connection,
    system: &str,
    number: &str,
    revision: &str,
) -> Result<Vec<ClipView>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {LINK_COLS}, {ASSET_COLS} FROM links l
             LEFT JOIN runs r ON r.run_id = l.run_id
             LEFT JOIN assets a ON a.system = l.dam_system AND a.asset_id = l.asset_id
             WHERE l.plm_system = ?1 AND l.part_number = ?2 AND l.part_revision = ?3
             ORDER BY l.status = 'retired', l.updated_at DESC, l.link_id"
        ))
        .map_err(q)?;
    let rows = stmt
        .query_map(params![system, number, revision], |r| {
            Ok((link_from_row(r, 0)?, asset_from_row(r, 12)?))
        })
        .map_err(q)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(q)?;
    rows.into_iter()
        .map(|(l, a)| {
            Ok(ClipView {
                link: link_decode(l)?,
                clip: a.map(asset_decode).transpose()?,
            })
        })
        .collect()
}

fn clip_sync(c: &Connection, dam: &str, asset_id: &str) -> Result<Option<ClipDetail>> {
    let asset = c
        .query_row(
            &format!("SELECT {ASSET_COLS} FROM assets a WHERE a.system = ?1 AND a.asset_id = ?2"),
            params![dam, asset_id],
            |r| asset_from_row(r, 0),
        )
        .optional()
        .map_err(q)?
        .flatten();
    let Some(asset) = asset else {
        return Ok(None);
    };
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {LINK_COLS}, p.system, p.number, p.revision, p.name, p.sku,
                    p.lifecycle_state, {CLIP_COUNT}
             FROM links l
             LEFT JOIN runs r ON r.run_id = l.run_id
             LEFT JOIN parts p ON p.system = l.plm_system AND p.number = l.part_number
                              AND p.revision = l.part_revision
             WHERE l.dam_system = ?1 AND l.asset_id = ?2
             ORDER BY l.part_number, length(l.part_revision), l.part_revision, l.plm_system"
        ))
        .map_err(q)?;
    let rows = stmt
        .query_map(params![dam, asset_id], |r| {
            let part = match r.get::<_, Option<String>>(12)? {
                Some(_) => Some(hit_from_row_at(r, 12)?),
                None => None,
            };
            Ok((link_from_row(r, 0)?, part))
        })
        .map_err(q)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(q)?;
    let links = rows
        .into_iter()
        .map(|(l, part)| {
            Ok(LinkedPart {
                link: link_decode(l)?,
                part,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(ClipDetail {
        clip: asset_decode(asset)?,
        links,
    }))
}

fn hit_from_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<PartHit> {
    Ok(PartHit {
        system: r.get(at)?,
        number: r.get(at + 1)?,
        revision: r.get(at + 2)?,
        name: r.get(at + 3)?,
        sku: r
            .get::<_, Option<String>>(at + 4)?
            .filter(|s| !s.is_empty()),
        lifecycle_state: r
            .get::<_, Option<String>>(at + 5)?
            .filter(|s| !s.is_empty()),
        clip_count: u64::try_from(r.get::<_, i64>(at + 6)?).unwrap_or(0),
    })
}

#[async_trait]
impl ViewStore for SqliteView {
    async fn search(&self, text: &str, limit: usize) -> Result<Vec<PartHit>> {
        let text = text.to_owned();
        self.with(move |c| search_sync(c, &text, limit)).await
    }

    async fn part_revision(
        &self,
        system: &str,
        number: &str,
        revision: &str,
    ) -> Result<Option<PartView>> {
        let (s, n, r) = (system.to_owned(), number.to_owned(), revision.to_owned());
        self.with(move |c| part_sync(c, &s, &n, &r)).await
    }

    async fn part_revisions(&self, system: &str, number: &str) -> Result<Vec<PartSummary>> {
        let (s, n) = (system.to_owned(), number.to_owned());
        self.with(move |c| revisions_sync(c, &s, &n)).await
    }

    async fn links_of_part(
        &self,
        system: &str,
        number: &str,
        revision: &str,
    ) -> Result<Vec<ClipView>> {
        let (s, n, r) = (system.to_owned(), number.to_owned(), revision.to_owned());
        self.with(move |c| links_of_part_sync(c, &s, &n, &r)).await
    }

    async fn clip(&self, dam_system: &str, asset_id: &str) -> Result<Option<ClipDetail>> {
        let (d, a) = (dam_system.to_owned(), asset_id.to_owned());
        self.with(move |c| clip_sync(c, &d, &a)).await
    }
}

#[cfg(test)]
mod tests {
    //! What only the SQLite view has to show: its connections are read-only and it never
    //! creates a file. Its answers are checked by the stores' conformance suite
    //! (`view_*` checks), against PostgreSQL too.

    use super::*;

    #[tokio::test]
    async fn view_cannot_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("s.db")).expect("open");
        let view = store.view(2).expect("view");
        assert!(view.search("", 10).await.expect("search").is_empty());
        let c = view.conns[0].lock().expect("lock");
        assert!(c.execute("DELETE FROM links", []).is_err(), "read-only");
    }

    #[test]
    fn missing_file_is_an_error_not_a_new_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("absent.db");
        assert!(SqliteView::open(&path, 1).is_err());
        assert!(!path.exists());
    }
}
