//! The PostgreSQL state store end to end: the real binary with `state = "postgres://…"` runs
//! the demo story against the emulators exactly as it does on SQLite (dry run included).
//!
//! Runs when `PARTREEL_TEST_DATABASE_URL` names a database (CI sets it); otherwise it prints
//! why it is skipped and passes. The test works in a schema of its own, dropped at the end.

use tokio_postgres::NoTls;

use crate::util::{Env, writes};

/// A fresh schema, dropped with its tables at the end of the test.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    async fn create(base: String) -> Schema {
        let name = format!("partreel_e2e_{:016x}", rand::random::<u64>());
        let (client, conn) = tokio_postgres::connect(&base, NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create schema");
        Schema { base, name }
    }

    /// The URL with this schema as the search path.
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }

    async fn count(&self, sql: &str) -> i64 {
        let (client, conn) = tokio_postgres::connect(&self.url(), NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
            .query_one(sql, &[])
            .await
            .expect("query")
            .get::<_, i64>(0)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
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
    }
}

/// Points the written configuration's `state` at `url`.
fn set_state(config: &std::path::Path, url: &str) {
    let text = std::fs::read_to_string(config).expect("read config");
    let mut replaced = false;
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if !replaced && l.trim_start().starts_with("state =") {
                replaced = true;
                format!("state = \"{url}\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(replaced, "the written configuration has a state line");
    std::fs::write(config, text.join("\n") + "\n").expect("write config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_sync_on_postgres_links_once_then_writes_nothing() {
    let Some(base) = crate::util::database_url() else {
        return;
    };
    let schema = Schema::create(base).await;
    let env = Env::story().await;
    set_state(&env.config, &schema.url());

    // A dry run works on a private copy: it plans the five links, writes nowhere.
    let dry = env.sync(&["--dry-run"]).await;
    assert_eq!(dry["links_created"].as_u64(), Some(5), "{dry}");
    assert!(
        env.link_documents().is_empty(),
        "a dry run wrote to the PLM"
    );
    assert_eq!(schema.count("SELECT count(*) FROM links").await, 0);
    assert_eq!(schema.count("SELECT count(*) FROM runs").await, 0);

    let first = env.sync(&[]).await;
    assert_eq!(first["links_created"].as_u64(), Some(5), "{first}");
    assert_eq!(
        env.link_documents().len(),
        5,
        "five link records in the PLM"
    );
    let second = env.sync(&[]).await;
    assert_eq!(writes(&second), 0, "a second sync writes nothing: {second}");

    assert!(!env.state_path().exists(), "no SQLite file was made");
    assert_eq!(schema.count("SELECT count(*) FROM links").await, 5);
    assert_eq!(
        schema
            .count("SELECT count(*) FROM runs WHERE outcome = 'ok'")
            .await,
        2
    );
    assert_eq!(
        schema
            .count("SELECT count(*) FROM journal WHERE state = 'pending'")
            .await,
        0
    );
}
