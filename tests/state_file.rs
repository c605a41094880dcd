//! A state file written by an earlier release opens with this build: the fixture
//! `fixtures/state-v1.db` (schema 1, left by syncing the demo story's four jobs with the
//! release before SQLite migrations existed) is upgraded in place, every row reads back, and
//! the commands that read state show what it holds.

use std::process::Command;

use partreel_core::model::LinkStatus;
use partreel_core::state::StateStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_core::state::view::{SqliteView, ViewStore};

use crate::util::{Env, bin, set_state};

const FIXTURE: &[u8] = include_bytes!("fixtures/state-v1.db");

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_1_state_file_opens_upgraded_and_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state-v1.db");
    std::fs::write(&path, FIXTURE).expect("copy the fixture");

    let store = SqliteStore::open(&path).expect("the old file opens");
    assert_eq!(
        store.file_schema_version().expect("version"),
        SqliteStore::schema_version()
    );
    assert!(SqliteStore::schema_version() > 1, "the file was upgraded");

    let links = store
        .links_page(None, 1000)
        .await
        .expect("every link decodes");
    assert_eq!(links.len(), 13);
    assert!(links.iter().any(|l| l.status == LinkStatus::Active));
    assert!(links.iter().any(|l| l.status == LinkStatus::NonCompliant));
    assert_eq!(store.runs(100).await.expect("runs").len(), 5);
    assert!(store.journal_pending().await.expect("journal").is_empty());
    assert!(
        store
            .cursor("windchill", "parts")
            .await
            .expect("cursor")
            .is_some()
    );
    let part = store
        .part("windchill", "TR-1001", "B")
        .await
        .expect("part")
        .expect("the story's TR-1001/B");
    assert_eq!(
        store
            .links_for_part("windchill", "TR-1001", Some("B"))
            .await
            .expect("links")
            .len(),
        2,
        "{part:?}"
    );
    drop(store);

    let view = SqliteView::open(&path, 1).expect("view");
    let clips = view
        .links_of_part("windchill", "TR-1001", "B")
        .await
        .expect("clips");
    assert_eq!(clips.len(), 2);
    assert!(clips.iter().all(|c| c.clip.is_some()), "assets joined");

    // The commands read it, through a configuration naming it.
    let env = Env::story().await;
    set_state(&env.config, &path.display().to_string());
    let out = Command::new(bin())
        .args(["links", "--part", "TR-1001/B", "--config"])
        .arg(&env.config)
        .output()
        .expect("partreel links");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("windchill:TR-1001/B").count(), 2, "{text}");
    let out = Command::new(bin())
        .args(["runs", "--config"])
        .arg(&env.config)
        .output()
        .expect("partreel runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for job in [
        "windchill-bynder",
        "teamcenter-bynder",
        "threedx-bynder",
        "windchill-aem",
    ] {
        assert!(text.contains(job), "{job} in:\n{text}");
    }
}
