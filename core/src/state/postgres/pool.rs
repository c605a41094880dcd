//! A small connection pool for the PostgreSQL store: a semaphore over idle `tokio-postgres`
//! clients, each with its own cache of prepared statements.
//!
//! Connections open lazily up to the pool size and are dropped when the server closes them.
//! A connection given back in the middle of a transaction (its holder failed or was cancelled
//! between `BEGIN` and `COMMIT`) is rolled back before anyone gets it again. A *fixed* pool
//! holds one session that it never reopens: the dry-run copy lives in that session's temporary
//! tables, and a new session would silently see the real tables instead.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::try_join_all;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Error, NoTls, Row, Statement};

use super::super::{Result, StateError};

/// Statements sent at once by [`PgConn::execute_many`] before waiting for their results.
const PIPELINE_DEPTH: usize = 256;

/// One session and its prepared statements.
pub(super) struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
    in_transaction: bool,
}

/// Opens one session; its connection task runs on the current runtime until the client goes.
///
/// Sessions plan each statement with its parameters (`plan_cache_mode = force_custom_plan`),
/// and commit without waiting for the WAL flush (`synchronous_commit = off`); the writes
/// a remote effect depends on use [`PgConn::query_durable`] instead. Why that is safe: the
/// server flushes its WAL in order, so a server crash loses at most the newest commits, and
/// every commit made before a durable one survives it. Losing that tail is the same as this
/// process having stopped a moment earlier (a pending journal entry is settled by the next
/// run's recovery, a cursor goes back, a queue item comes back), which the engine is built for.
pub(super) async fn open(config: &Config) -> Result<PgConn, Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "PostgreSQL state store connection closed");
        }
    });
    // Every statement is planned with its values: a generic plan cached while a table was
    // still small (a fresh schema fills during the first run) scans it whole once it is large.
    client
        .batch_execute("SET synchronous_commit = off; SET plan_cache_mode = force_custom_plan")
        .await?;
    Ok(PgConn {
        client,
        statements: HashMap::new(),
        in_transaction: false,
    })
}

impl PgConn {
    /// The statement for `sql`, prepared once per session.
    async fn statement(&mut self, sql: &str) -> Result<Statement, Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Rows of a query.
    pub async fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let s = self.statement(sql).await?;
        self.client.query(&s, params).await
    }

    /// At most one row.
    pub async fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let s = self.statement(sql).await?;
        self.client.query_opt(&s, params).await
    }

    /// Exactly one row.
    pub async fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, Error> {
        let s = self.statement(sql).await?;
        self.client.query_one(&s, params).await
    }

    /// Rows changed.
    pub async fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error> {
        let s = self.statement(sql).await?;
        self.client.execute(&s, params).await
    }

    /// Runs one statement for each parameter row, in order, pipelined (several in flight at
    /// once on the one session, so a batch costs a few round trips, not one per row).
    pub async fn execute_many(
        &mut self,
        sql: &str,
        rows: &[&[&(dyn ToSql + Sync)]],
    ) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let s = self.statement(sql).await?;
        for chunk in rows.chunks(PIPELINE_DEPTH) {
            try_join_all(chunk.iter().map(|p| self.client.execute(&s, p))).await?;
        }
        Ok(())
    }

    /// Runs SQL text without parameters (DDL, several statements).
    pub async fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.client.batch_execute(sql).await
    }

    /// Starts a transaction (rolled back if the connection is given back before
    /// [`Self::commit`]).
    pub async fn begin(&mut self) -> Result<(), Error> {
        self.in_transaction = true;
        self.client.batch_execute("BEGIN").await
    }

    /// Runs one statement in a transaction of its own whose commit waits until it is on disk
    /// (and with it every commit before it): for a journal entry written before a remote
    /// write, and for leases. `BEGIN`, the statement and `COMMIT` are pipelined: one round
    /// trip. A failed statement aborts the transaction, whose `COMMIT` then rolls back.
    pub async fn query_durable(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let s = self.statement(sql).await?;
        self.in_transaction = true;
        let (_, rows, _) = futures::future::try_join3(
            self.client
                .batch_execute("BEGIN; SET LOCAL synchronous_commit = on"),
            self.client.query(&s, params),
            self.client.batch_execute("COMMIT"),
        )
        .await?;
        self.in_transaction = false;
        Ok(rows)
    }

    /// Starts a transaction with the given `BEGIN` text (isolation level).
    pub async fn begin_with(&mut self, begin: &str) -> Result<(), Error> {
        self.in_transaction = true;
        self.client.batch_execute(begin).await
    }

    /// Commits the transaction.
    pub async fn commit(&mut self) -> Result<(), Error> {
        self.client.batch_execute("COMMIT").await?;
        self.in_transaction = false;
        Ok(())
    }

    /// Rolls the transaction back.
    pub async fn rollback(&mut self) -> Result<(), Error> {
        self.client.batch_execute("ROLLBACK").await?;
        self.in_transaction = false;
        Ok(())
    }
}

/// Sessions shared by a store.
pub(super) struct Pool {
    config: Config,
    location: String,
    idle: Mutex<Vec<PgConn>>,
    permits: Semaphore,
    reopen: bool,
}

/// A session lent out by the pool; goes back when dropped.
pub(super) struct Pooled<'a> {
    conn: Option<PgConn>,
    pool: &'a Pool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    /// A pool of up to `size` sessions opened on demand, starting with `first`.
    pub fn new(config: Config, location: String, size: usize, first: PgConn) -> Pool {
        Pool {
            config,
            location,
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(size.max(1)),
            reopen: true,
        }
    }

    /// A pool of exactly this one session, never reopened.
    pub fn fixed(config: Config, location: String, only: PgConn) -> Pool {
        Pool {
            reopen: false,
            ..Pool::new(config, location, 1, only)
        }
    }

    /// The connection settings (to open a separate session).
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn take_idle(&self) -> Option<PgConn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(c) = idle.pop() {
            if !c.client.is_closed() {
                return Some(c);
            }
        }
        None
    }

    /// Waits for a free session (opening one when allowed).
    pub async fn get(&self) -> Result<Pooled<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StateError::Query("the PostgreSQL pool is closed".into()))?;
        let mut conn = match self.take_idle() {
            Some(c) => c,
            None if self.reopen => open(&self.config).await.map_err(|e| StateError::Open {
                location: self.location.clone(),
                message: format!("cannot connect: {e}"),
            })?,
            None => {
                return Err(StateError::Query(
                    "the dry-run copy lost its PostgreSQL session (its temporary tables are gone)"
                        .into(),
                ));
            }
        };
        if conn.in_transaction {
            conn.rollback()
                .await
                .map_err(|e| StateError::Query(e.to_string()))?;
        }
        Ok(Pooled {
            conn: Some(conn),
            pool: self,
            _permit: permit,
        })
    }
}

impl std::ops::Deref for Pooled<'_> {
    type Target = PgConn;
    fn deref(&self) -> &PgConn {
        // Only `Drop` takes the connection out.
        self.conn
            .as_ref()
            .expect("pooled connection present until drop")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut PgConn {
        self.conn
            .as_mut()
            .expect("pooled connection present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take()
            && !c.client.is_closed()
        {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(c);
        }
    }
}
