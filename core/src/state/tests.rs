//! Unit tests for the state store (SQLite).

use chrono::{TimeZone, Utc};

use super::sqlite::SqliteStore;
use super::*;
use crate::model::{LinkId, LinkStatus};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(&dir.path().join("nested/state.db")).expect("open");
    (dir, s)
}

fn link(id: &str, asset: &str) -> LinkRecord {
    let t = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("time");
    LinkRecord {
        link_id: LinkId(id.into()),
        dam_system: "bynder".into(),
        asset_id: asset.into(),
        plm_system: "windchill".into(),
        part_number: "TR-1001".into(),
        part_revision: "B".into(),
        part_remote_id: "OR:1".into(),
        remote_id: None,
        status: LinkStatus::Active,
        origin: LinkOrigin::Tagged,
        base: Default::default(),
        plm_values: Default::default(),
        plm_modified: None,
        created_at: t,
        updated_at: t,
        run_id: "r1".into(),
    }
}

#[tokio::test]
async fn creates_file_and_round_trips_cursor() {
    let (_d, s) = store();
    assert_eq!(s.cursor("wc", "parts").await.expect("read"), None);
    let t = Utc
        .with_ymd_and_hms(2026, 11, 2, 3, 4, 5)
        .single()
        .expect("time");
    s.set_cursor("wc", "parts", t).await.expect("write");
    assert_eq!(s.cursor("wc", "parts").await.expect("read"), Some(t));
    assert!(s.path().exists());
}

#[tokio::test]
async fn reopening_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    {
        let s = SqliteStore::open(&path).expect("open");
        s.upsert_link(&link("l1", "a1")).await.expect("upsert");
    }
    let s = SqliteStore::open(&path).expect("reopen");
    let got = s
        .link(&LinkId("l1".into()))
        .await
        .expect("read")
        .expect("present");
    assert_eq!(got, link("l1", "a1"));
}

#[tokio::test]
async fn observe_link_updates_and_queues_only_on_change() {
    let (_d, s) = store();
    s.upsert_link(&link("l1", "a1")).await.expect("upsert");
    let t = Utc
        .with_ymd_and_hms(2026, 11, 3, 0, 0, 0)
        .single()
        .expect("time");
    let vals = [("campaign".to_string(), "X".to_string())]
        .into_iter()
        .collect();
    assert_eq!(
        s.observe_link(&LinkId("l1".into()), &vals, t, "doc1")
            .await
            .expect("obs"),
        super::Observed::Known
    );
    assert_eq!(s.work_len().await.expect("len"), 1);
    let l = s
        .link(&LinkId("l1".into()))
        .await
        .expect("read")
        .expect("present");
    assert_eq!(l.plm_values, vals);
    assert_eq!(l.remote_id.as_deref(), Some("doc1"));
    let w = s
        .lease_work("me", "windchill", "bynder", 10, 60)
        .await
        .expect("lease");
    s.finish_work("me", &w[0]).await.expect("finish");
    // Same modification time again: an echo, nothing queued.
    assert_eq!(
        s.observe_link(&LinkId("l1".into()), &vals, t, "doc1")
            .await
            .expect("obs"),
        super::Observed::Known
    );
    assert_eq!(s.work_len().await.expect("len"), 0);
    // Unknown link: reported as unknown.
    assert_eq!(
        s.observe_link(&LinkId("nope".into()), &vals, t, "doc9")
            .await
            .expect("obs"),
        super::Observed::Unknown
    );
}

#[tokio::test]
async fn leases_exclude_other_owners_until_expiry() {
    let (_d, s) = store();
    let items = vec![
        WorkItem {
            plm_system: "wc".into(),
            dam_system: "b".into(),
            asset_id: "1".into(),
        },
        WorkItem {
            plm_system: "wc".into(),
            dam_system: "b".into(),
            asset_id: "2".into(),
        },
    ];
    s.enqueue(&items).await.expect("enqueue");
    let a = s.lease_work("a", "wc", "b", 10, 60).await.expect("lease a");
    assert_eq!(a.len(), 2);
    assert!(
        s.lease_work("b", "wc", "b", 10, 60)
            .await
            .expect("lease b")
            .is_empty()
    );
    // An expired lease is free again.
    let a2 = s.lease_work("a", "wc", "b", 10, 0).await.expect("relet");
    assert_eq!(a2.len(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        s.lease_work("b", "wc", "b", 10, 60)
            .await
            .expect("lease b")
            .len(),
        2
    );
    // Work queued for another PLM is not leased to this pair.
    assert!(
        s.lease_work("c", "tc", "b", 10, 60)
            .await
            .expect("lease tc")
            .is_empty()
    );
}

#[tokio::test]
async fn journal_pending_survives_until_closed() {
    let (_d, s) = store();
    let id = s
        .journal_begin(
            "r1",
            "create_link",
            "wc",
            "l1",
            &serde_json::json!({"a": 1}),
        )
        .await
        .expect("begin");
    let pending = s.journal_pending().await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].key, "l1");
    s.journal_end(id, JournalState::Applied).await.expect("end");
    assert!(s.journal_pending().await.expect("pending").is_empty());
}

#[tokio::test]
async fn quarantine_counts_attempts_and_clears() {
    let (_d, s) = store();
    s.quarantine_put("bynder", "a1", "asset", "part XX-9999 not found", "r1")
        .await
        .expect("q");
    s.quarantine_put("bynder", "a1", "asset", "part XX-9999 not found", "r2")
        .await
        .expect("q");
    let q = s.quarantine_list().await.expect("list");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].attempts, 2);
    assert_eq!(q[0].run_id, "r2");
    s.quarantine_clear("bynder", "a1").await.expect("clear");
    assert!(s.quarantine_list().await.expect("list").is_empty());
}

#[tokio::test]
async fn scratch_copy_is_independent() {
    let (_d, s) = store();
    s.upsert_link(&link("l1", "a1")).await.expect("upsert");
    let copy = s.scratch_copy().await.expect("copy");
    copy.upsert_link(&link("l2", "a2"))
        .await
        .expect("upsert copy");
    assert!(
        copy.link(&LinkId("l1".into()))
            .await
            .expect("read")
            .is_some()
    );
    assert!(s.link(&LinkId("l2".into())).await.expect("read").is_none());
}

// ---- the shared contract (core/src/state/conformance.rs), SQLite being the reference --------

struct SqliteFixture {
    _dir: tempfile::TempDir,
    store: SqliteStore,
}

#[async_trait::async_trait]
impl super::conformance::Fixture for SqliteFixture {
    fn store(&self) -> &dyn StateStore {
        &self.store
    }
    async fn view(&self) -> Box<dyn super::view::ViewStore> {
        Box::new(self.store.view(2).expect("open the view"))
    }
}

async fn fresh() -> Option<SqliteFixture> {
    let (dir, s) = store();
    Some(SqliteFixture {
        _dir: dir,
        store: s,
    })
}

super::conformance::conformance_suite!(fresh);

/// A state file partreel creates is its owner's only (0600); one that existed keeps the mode
/// its admin gave it.
#[cfg(unix)]
#[test]
fn a_new_state_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).expect("open"));
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    drop(SqliteStore::open(&path).expect("reopen"));
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "{mode:o}");
}

/// A dry run's copy of the state lives in a folder of its own (owner only), is gone once the
/// copy drops, and the folders of dry runs whose process was killed are removed by the next.
#[cfg(unix)]
#[tokio::test]
async fn a_dry_run_copy_is_private_and_removed_after_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, s) = store();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    let folders = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(tmp.path())
            .expect("list")
            .flatten()
            .map(|e| e.path())
            .collect()
    };
    let tag = crate::state::owner::file_tag();
    let (machine, _) = tag.split_once('-').expect("machine-pid-start");
    // A folder of a killed dry run (a pid no kernel hands out), and one of another machine.
    let killed = tmp
        .path()
        .join(format!("partreel-dry-run-{machine}-4000000000-1_5"));
    let other = tmp
        .path()
        .join("partreel-dry-run-0a0b0c0d0e0f-4000000000-1_5");
    for f in [&killed, &other] {
        std::fs::create_dir_all(f).expect("mkdir");
    }
    let copy = s.scratch_copy_in(tmp.path()).expect("copy");
    let mine: Vec<_> = folders()
        .into_iter()
        .filter(|p| *p != killed && *p != other)
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mode(&mine[0]), 0o700);
    assert_eq!(mode(&mine[0].join("state.db")), 0o600);
    if !machine.is_empty() {
        assert!(!killed.exists(), "a killed dry run's copy is removed");
    }
    assert!(other.exists(), "another machine's stays");
    let clone = copy.clone();
    drop(copy);
    assert!(mine[0].exists(), "still in use by a clone");
    drop(clone);
    assert!(!mine[0].exists(), "removed once the copy is dropped");
}

/// A state path under a file (`state = "/etc/hostname/x.db"`) says which file is in the way,
/// not only "File exists".
#[test]
fn a_state_path_under_a_file_names_the_file_in_the_way() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hostname");
    std::fs::write(&file, "vm").expect("write");
    let err = SqliteStore::open(&file.join("sub").join("x.db"))
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains(&format!("{} is a file, not a folder", file.display())),
        "{err}"
    );
    assert!(err.contains("check `state`"), "{err}");
}
