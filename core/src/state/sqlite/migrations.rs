//! The SQLite schema, as numbered migrations applied when a state file opens — the scheme the
//! PostgreSQL store uses, so an old state file opens with a new partreel and is brought up to
//! date in place.
//!
//! The version lives in `meta` (`schema_version`), where every partreel since the first
//! reads it: a file migrated by a newer partreel is refused by an older one instead of being
//! misread. Migrating runs in one `IMMEDIATE` transaction — two processes opening the same
//! file at once take turns, the second finds nothing left to do, and a failed migration
//! leaves the file as it was. Append migrations; never edit one that has shipped
//! (`tests/fixtures/state-v1.db`, written by the release with schema 1, must keep opening).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// One schema change.
pub(super) struct Migration {
    /// Version it brings the schema to.
    pub version: i64,
    /// Short name, for the log.
    pub name: &'static str,
    /// SQL run in the migration transaction.
    pub sql: &'static str,
}

/// Every migration, in order.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        // `IF NOT EXISTS` throughout: files written before `meta` existed hold these tables
        // without a version, and take this migration as a no-op.
        sql: r#"
CREATE TABLE IF NOT EXISTS cursors (
  system TEXT NOT NULL, stream TEXT NOT NULL, at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (system, stream));
CREATE TABLE IF NOT EXISTS parts (
  system TEXT NOT NULL, number TEXT NOT NULL, revision TEXT NOT NULL, remote_id TEXT NOT NULL,
  name TEXT NOT NULL, lifecycle_state TEXT, sku TEXT, modified TEXT NOT NULL, vals TEXT NOT NULL,
  first_seen TEXT NOT NULL, PRIMARY KEY (system, number, revision));
CREATE INDEX IF NOT EXISTS parts_by_sku ON parts (system, sku);
CREATE TABLE IF NOT EXISTS assets (
  system TEXT NOT NULL, asset_id TEXT NOT NULL, title TEXT NOT NULL, modified TEXT NOT NULL,
  version TEXT, archived INTEGER NOT NULL, deleted INTEGER NOT NULL, rendition_url TEXT,
  vals TEXT NOT NULL, watermark TEXT NOT NULL, last_scan TEXT, PRIMARY KEY (system, asset_id));
CREATE TABLE IF NOT EXISTS links (
  link_id TEXT PRIMARY KEY, dam_system TEXT NOT NULL, asset_id TEXT NOT NULL,
  plm_system TEXT NOT NULL, part_number TEXT NOT NULL, part_revision TEXT NOT NULL,
  part_remote_id TEXT NOT NULL, remote_id TEXT, status TEXT NOT NULL, origin TEXT NOT NULL,
  base TEXT NOT NULL, plm_vals TEXT NOT NULL, plm_modified TEXT, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, run_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_by_asset ON links (dam_system, asset_id);
CREATE INDEX IF NOT EXISTS links_by_part ON links (plm_system, part_number, part_revision);
CREATE TABLE IF NOT EXISTS work (
  plm_system TEXT NOT NULL, dam_system TEXT NOT NULL, asset_id TEXT NOT NULL,
  enqueued_at TEXT NOT NULL, leased_by TEXT, lease_until TEXT,
  requeued INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (plm_system, dam_system, asset_id));
CREATE TABLE IF NOT EXISTS journal (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, op TEXT NOT NULL,
  system TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS journal_pending ON journal (state) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS quarantine (
  system TEXT NOT NULL, record_id TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, attempts INTEGER NOT NULL,
  run_id TEXT NOT NULL, PRIMARY KEY (system, record_id));
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT, report TEXT);
"#,
    },
    Migration {
        version: 2,
        name: "indexes for leasing and the run history",
        // As in the PostgreSQL schema: a lease picks a pair's oldest items, `partreel runs`
        // lists the newest runs first.
        sql: "CREATE INDEX IF NOT EXISTS work_by_pair ON work (plm_system, dam_system, enqueued_at, asset_id);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at DESC);",
    },
];

/// The schema version this build writes.
pub(super) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum MigrateError {
    /// SQLite said no.
    #[error("migrating the schema failed: {0}")]
    Db(#[from] rusqlite::Error),
    /// Written by a newer partreel.
    #[error(
        "the state file was written by a newer partreel (schema {found}, this one knows {})",
        latest()
    )]
    TooNew {
        /// The file's version.
        found: i64,
    },
}

/// Brings the file's schema up to date; returns the version it is at.
pub(super) fn migrate(conn: &mut Connection) -> Result<i64, MigrateError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if current > latest() {
        return Err(MigrateError::TooNew { found: current });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![m.version.to_string()],
        )?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "state file schema migrated"
        );
    }
    tx.commit()?;
    Ok(latest().max(current))
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::*;
    use crate::state::StateStore;

    fn version(path: &std::path::Path) -> String {
        Connection::open(path)
            .expect("open")
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .expect("version")
    }

    fn has_index(path: &std::path::Path, name: &str) -> bool {
        Connection::open(path)
            .expect("open")
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                params![name],
                |r| r.get::<_, i64>(0),
            )
            .expect("index")
            == 1
    }

    /// A file as the first schema left it: schema 1's tables, one link, `meta` at 1 (or no
    /// `meta` at all, as files from before it).
    fn schema_1_file(dir: &std::path::Path, with_meta: bool) -> std::path::PathBuf {
        let path = dir.join("old.db");
        let c = Connection::open(&path).expect("create");
        c.execute_batch(MIGRATIONS[0].sql).expect("schema 1");
        c.execute(
            "INSERT INTO links VALUES ('ptp-1', 'bynder', 'a1', 'windchill', 'TR-1', 'A', 'OR:1',
             NULL, 'active', 'tagged', '{}', '{}', NULL, '2026-11-01T00:00:00.000000Z',
             '2026-11-01T00:00:00.000000Z', 'r1')",
            [],
        )
        .expect("a link");
        if with_meta {
            c.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('schema_version', '1');",
            )
            .expect("meta");
        }
        path
    }

    #[test]
    fn a_new_file_is_at_the_latest_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        SqliteStore::open(&path).expect("open");
        assert_eq!(version(&path), latest().to_string());
        assert!(has_index(&path, "work_by_pair"));
        assert!(has_index(&path, "runs_by_start"));
    }

    #[tokio::test]
    async fn a_schema_1_file_upgrades_in_place_keeping_its_rows() {
        for with_meta in [true, false] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = schema_1_file(dir.path(), with_meta);
            assert!(!has_index(&path, "work_by_pair"));
            let store = SqliteStore::open(&path).expect("open and migrate");
            assert_eq!(version(&path), latest().to_string(), "meta: {with_meta}");
            assert!(has_index(&path, "work_by_pair"));
            assert!(has_index(&path, "runs_by_start"));
            let links = store.links_page(None, 10).await.expect("links");
            assert_eq!(links.len(), 1, "rows kept");
            assert_eq!(links[0].part_number, "TR-1");
            drop(store);
            // Opening again finds nothing left to do.
            SqliteStore::open(&path).expect("reopen");
            assert_eq!(version(&path), latest().to_string());
        }
    }

    #[test]
    fn a_file_from_a_newer_partreel_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        SqliteStore::open(&path).expect("create");
        Connection::open(&path)
            .expect("open")
            .execute(
                "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
                [],
            )
            .expect("bump");
        let err = SqliteStore::open(&path).expect_err("newer schema");
        assert!(
            err.to_string().contains(&format!(
                "newer partreel (schema 99, this one knows {})",
                latest()
            )),
            "{err}"
        );
        assert_eq!(version(&path), "99");
    }
}
