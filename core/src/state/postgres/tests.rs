//! Tests of the PostgreSQL store: the shared contract (conformance suite), leases under
//! concurrency, lease takeover, migrations racing, connection errors.
//!
//! They need a server: set `PARTREEL_TEST_DATABASE_URL` (CI sets it, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Without it each test prints
//! `skipped: PARTREEL_TEST_DATABASE_URL not set` and passes. Every test works in a schema of its
//! own (`partreel_test_<random>`, chosen through the URL's `search_path` option) and drops it
//! at the end, so they run in parallel.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio_postgres::NoTls;

use super::*;
use crate::state::conformance::{Fixture, conformance_suite};

/// Environment variable naming the test database.
const URL_ENV: &str = "PARTREEL_TEST_DATABASE_URL";

/// The test database URL, or `None` after printing why the test is skipped.
fn database_url() -> Option<String> {
    match std::env::var(URL_ENV) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            println!("skipped: {URL_ENV} not set");
            None
        }
    }
}

/// `base` with its `search_path` set to `schema`.
fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

async fn admin(base: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(base, NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(conn);
    client
}

/// A schema of its own, dropped (with everything in it) when this goes.
struct TestSchema {
    base: String,
    name: String,
}

impl TestSchema {
    async fn create() -> Option<TestSchema> {
        let base = database_url()?;
        let name = format!("partreel_test_{:016x}", rand::random::<u64>());
        admin(&base)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create test schema");
        Some(TestSchema { base, name })
    }

    fn url(&self) -> String {
        with_search_path(&self.base, &self.name)
    }

    async fn connect(&self) -> PostgresStore {
        PostgresStore::connect(&self.url())
            .await
            .expect("connect store")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop may run while a test unwinds, outside any runtime: use a thread of our own.
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&base, NoTls).await.ok()?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!(
                        "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {name} CASCADE"
                    ))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}

/// A migrated store in a fresh schema.
struct TestDb {
    store: Option<PostgresStore>,
    schema: TestSchema,
}

impl TestDb {
    fn pg(&self) -> &PostgresStore {
        self.store.as_ref().expect("store open until drop")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Close the store's sessions before the schema goes.
        self.store.take();
    }
}

#[async_trait::async_trait]
impl Fixture for TestDb {
    fn store(&self) -> &dyn StateStore {
        self.pg()
    }
    async fn view(&self) -> Box<dyn crate::state::view::ViewStore> {
        Box::new(
            PostgresView::connect(&self.schema.url(), 2)
                .await
                .expect("open the view"),
        )
    }
}

async fn fresh() -> Option<TestDb> {
    let schema = TestSchema::create().await?;
    let store = schema.connect().await;
    Some(TestDb {
        store: Some(store),
        schema,
    })
}

conformance_suite!(fresh);

fn item(asset: String) -> WorkItem {
    WorkItem {
        plm_system: "wc".into(),
        dam_system: "b".into(),
        asset_id: asset,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_never_lease_the_same_item() {
    let Some(db) = fresh().await else { return };
    let items: Vec<WorkItem> = (0..1000).map(|i| item(format!("clip-{i:04}"))).collect();
    db.pg().enqueue(&items).await.expect("enqueue");
    let other = db.schema.connect().await;
    let stores = [Arc::new(db.pg().clone()), Arc::new(other)];
    let mut tasks = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        for t in 0..4 {
            let store = store.clone();
            let owner = format!("store{n}-task{t}");
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = store
                        .lease_work(&owner, "wc", "b", 7, 300)
                        .await
                        .expect("lease");
                    if batch.is_empty() {
                        break got;
                    }
                    // Done with them, as the engine is after planning (an owner is handed
                    // its own unfinished items again).
                    for w in &batch {
                        store.finish_work(&owner, w).await.expect("finish");
                    }
                    got.extend(batch);
                }
            }));
        }
    }
    let mut seen = BTreeSet::new();
    let mut total = 0;
    let mut busy_tasks = 0;
    for t in tasks {
        let got = t.await.expect("task");
        busy_tasks += usize::from(!got.is_empty());
        total += got.len();
        for w in got {
            assert!(seen.insert(w.clone()), "{w:?} leased twice");
        }
    }
    assert_eq!(total, 1000);
    assert_eq!(seen.len(), 1000);
    assert!(busy_tasks > 1, "the work was shared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_lease_is_taken_over() {
    let Some(db) = fresh().await else { return };
    let dead = db.pg().clone();
    let alive = db.schema.connect().await;
    dead.enqueue(&[item("x".into()), item("y".into())])
        .await
        .expect("enqueue");
    assert_eq!(
        dead.lease_work("dead", "wc", "b", 10, 1)
            .await
            .expect("lease")
            .len(),
        2
    );
    assert!(
        alive
            .lease_work("alive", "wc", "b", 10, 60)
            .await
            .expect("lease")
            .is_empty(),
        "a live lease is respected"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let taken = alive
        .lease_work("alive", "wc", "b", 10, 60)
        .await
        .expect("lease");
    assert_eq!(taken, [item("x".into()), item("y".into())]);
    assert!(
        dead.lease_work("dead", "wc", "b", 10, 60)
            .await
            .expect("lease")
            .is_empty(),
        "the old owner lost it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_queued_again_while_leased_stays_with_its_holder_then_requeues() {
    let Some(db) = fresh().await else { return };
    let s = db.pg();
    s.enqueue(&[item("x".into())]).await.expect("enqueue");
    let held = s.lease_work("a", "wc", "b", 10, 60).await.expect("lease");
    assert_eq!(held.len(), 1);
    // A feed queues it again while "a" is planning it: not handed to "b" meanwhile.
    s.enqueue(&[item("x".into())]).await.expect("requeue");
    assert!(
        s.lease_work("b", "wc", "b", 10, 60)
            .await
            .expect("lease")
            .is_empty()
    );
    // "a" finishes: the newer change is still queued, and free.
    s.finish_work("a", &held[0]).await.expect("finish");
    assert_eq!(s.work_len().await.expect("len"), 1);
    let again = s.lease_work("b", "wc", "b", 10, 60).await.expect("lease");
    assert_eq!(again, held);
    s.finish_work("b", &again[0]).await.expect("finish");
    assert_eq!(s.work_len().await.expect("len"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_safe_when_connects_race() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let url = schema.url();
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::connect(&url).await })
        })
        .collect();
    for r in racers {
        r.await
            .expect("task")
            .expect("connect while others migrate");
    }
    let again = schema.connect().await;
    again
        .set_cursor("wc", "parts", Utc::now())
        .await
        .expect("usable");
    let client = admin(&url).await;
    let versions: Vec<i32> = client
        .query("SELECT version FROM partreel_schema ORDER BY version", &[])
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i32> = (1..=PostgresStore::schema_version()).collect();
    assert_eq!(versions, expected, "each migration recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_schema_is_refused() {
    let Some(db) = fresh().await else { return };
    let client = admin(&db.schema.url()).await;
    client
        .batch_execute("INSERT INTO partreel_schema (version, name) VALUES (999, 'future')")
        .await
        .expect("fake a newer schema");
    let err = PostgresStore::connect(&db.schema.url())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("newer partreel"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scratch_copy_takes_no_lock_and_cannot_be_copied_again() {
    let Some(db) = fresh().await else { return };
    let s = db.pg();
    s.enqueue(&[item("x".into())]).await.expect("enqueue");
    let copy = s.scratch_copy().await.expect("copy");
    let leased = copy
        .lease_work("dry", "wc", "b", 10, 600)
        .await
        .expect("lease");
    assert_eq!(leased.len(), 1);
    // The real queue is untouched and not locked by the dry run.
    let real = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        s.lease_work("real", "wc", "b", 10, 60),
    )
    .await
    .expect("not blocked by the dry run")
    .expect("lease");
    assert_eq!(real, leased);
    let err = copy.scratch_copy().await.err().expect("refused");
    assert!(err.to_string().contains("cannot itself be copied"), "{err}");
}

#[tokio::test]
async fn unreachable_database_is_a_clear_error_without_the_password() {
    // Port 1 on loopback: nothing listens there, whatever the machine.
    let err = PostgresStore::connect("postgres://partreel:s3cret-pw@127.0.0.1:1/state")
        .await
        .expect_err("nothing listens on port 1");
    let text = err.to_string();
    assert!(matches!(err, StateError::Open { .. }), "{err:?}");
    assert!(
        text.contains("postgres://partreel@127.0.0.1:1/state"),
        "{text}"
    );
    assert!(text.contains("cannot connect"), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(!format!("{err:?}").contains("s3cret-pw"));
}

#[tokio::test]
async fn malformed_url_is_an_open_error_without_the_password() {
    let err = PostgresStore::connect("postgres://u:hunter2@localhost:notaport/db")
        .await
        .expect_err("bad port");
    let text = err.to_string();
    assert!(text.contains("not a usable PostgreSQL URL"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn redacts_passwords_in_urls() {
    assert_eq!(
        redact_url("postgres://app:pw@db.example:5432/partreel"),
        "postgres://app@db.example:5432/partreel"
    );
    assert_eq!(
        redact_url("postgresql://db.example/partreel?password=pw&sslmode=disable"),
        "postgresql://db.example/partreel?sslmode=disable"
    );
    assert_eq!(
        redact_url("postgres://db.example/p?password=pw"),
        "postgres://db.example/p"
    );
    assert_eq!(
        redact_url("postgres://postgres@127.0.0.1:5432/test"),
        "postgres://postgres@127.0.0.1:5432/test"
    );
    assert!(!redact_url("postgres://a:b c@[bad/x?password=z").contains("b c"));
}

/// The viewer's sessions are read-only, and it neither creates nor migrates a schema: an empty
/// one is refused, saying to run a sync first, and stays empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_is_read_only_and_never_creates_state() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let err = PostgresView::connect(&schema.url(), 1)
        .await
        .expect_err("no state yet");
    assert!(err.to_string().contains("run a sync first"), "{err}");
    let tables: i64 = admin(&schema.base)
        .await
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema.name],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(tables, 0, "the view created nothing");

    let store = schema.connect().await;
    drop(store);
    let view = PostgresView::connect(&schema.url(), 1).await.expect("view");
    let err = view
        .execute_for_test("DELETE FROM links")
        .await
        .expect_err("read-only session");
    assert!(err.to_string().contains("read-only"), "{err}");
}
