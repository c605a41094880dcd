//! The [`StateStore`] contract as a test suite every store runs: SQLite (the reference) and
//! PostgreSQL give the same answers to the same calls.
//!
//! Each check takes a fresh, empty store. A store's test module runs the whole suite with
//! `conformance_suite!(fresh)`, where `async fn fresh() -> Option<impl Fixture>` opens a new
//! store (or returns `None` to skip, after saying why). The viewer's read side is part of the
//! contract: the view checks write through the store and read through the [`ViewStore`] the
//! fixture opens on the same state, as `partreel serve` does.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::view::ViewStore;
use super::*;
use crate::model::{LinkId, LinkStatus, ProvenanceState, WatermarkStatus};

/// A fresh store and whatever keeps it alive (temporary folder, test schema).
#[async_trait::async_trait]
pub(crate) trait Fixture: Send + Sync {
    /// The store under test.
    fn store(&self) -> &dyn StateStore;
    /// A read-only view of the same state, opened as the viewer opens it.
    async fn view(&self) -> Box<dyn ViewStore>;
}

/// Generates one `#[tokio::test]` per check, in a `conformance` module, from `fresh`.
macro_rules! conformance_suite {
    ($fresh:ident) => {
        $crate::state::conformance::conformance_suite!(@tests $fresh;
            cursors_round_trip_at_microsecond_precision,
            parts_upsert_idempotent_and_ordered,
            assets_upsert_and_enqueue,
            links_queries_and_paging,
            full_scan_marks_and_unseen_links,
            observe_link_updates_and_queues_only_on_change,
            leases_exclude_other_owners_until_expiry,
            lease_order_limit_and_finish,
            enqueue_all_assets_counts_new_items,
            requeue_while_leased_and_foreign_finish,
            a_new_lease_clears_requeued,
            lease_renewal_holders_and_release,
            journal_pending_survives_until_closed,
            journal_take_over_is_once,
            quarantine_counts_attempts_and_clears,
            runs_latest_first,
            scratch_copy_is_independent;
            view_search_part_and_clip,
            view_orders_and_missing_rows
        );
    };
    (@tests $fresh:ident; $($name:ident),* ; $($view:ident),* $(,)?) => {
        mod conformance {
            use $crate::state::conformance::Fixture as _;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(fx) = super::$fresh().await else { return };
                    $crate::state::conformance::$name(fx.store()).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $view() {
                    let Some(fx) = super::$fresh().await else { return };
                    let view = fx.view().await;
                    $crate::state::conformance::$view(fx.store(), view.as_ref()).await;
                }
            )*
        }
    };
}
pub(crate) use conformance_suite;

fn at(day: u32, secs: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0)
        .single()
        .expect("valid time")
        + Duration::seconds(i64::from(secs))
}

fn vals(pairs: &[(&str, &str)]) -> CanonicalValues {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn part(number: &str, revision: &str, sku: Option<&str>) -> PartRecord {
    PartRecord {
        system: "wc".into(),
        number: number.into(),
        revision: revision.into(),
        remote_id: format!("OR:{number}:{revision}"),
        name: format!("Part {number}"),
        lifecycle_state: Some("RELEASED".into()),
        sku: sku.map(String::from),
        modified: at(1, 10),
        values: vals(&[("sku", sku.unwrap_or(""))]),
        first_seen: at(2, 0),
    }
}

fn asset(id: &str) -> AssetRecord {
    AssetRecord {
        system: "bynder".into(),
        asset_id: id.into(),
        title: format!("Clip {id}"),
        modified: at(3, 5),
        version: Some("2".into()),
        archived: false,
        deleted: false,
        rendition_url: Some(format!("https://dam.example/{id}.mp4")),
        values: vals(&[("campaign", "Spring"), ("part_number", "TR-1001")]),
        watermark: WatermarkStatus {
            visible_field: Some(true),
            provenance: ProvenanceState::Valid,
            claim_generator: Some("gen/1".into()),
            ..Default::default()
        },
    }
}

fn link(id: &str, asset: &str, revision: &str) -> LinkRecord {
    LinkRecord {
        link_id: LinkId(id.into()),
        dam_system: "bynder".into(),
        asset_id: asset.into(),
        plm_system: "windchill".into(),
        part_number: "TR-1001".into(),
        part_revision: revision.into(),
        part_remote_id: "OR:1".into(),
        remote_id: None,
        status: LinkStatus::Active,
        origin: LinkOrigin::Tagged,
        base: vals(&[("campaign", "Spring")]),
        plm_values: Default::default(),
        plm_modified: None,
        created_at: at(1, 0),
        updated_at: at(1, 0),
        run_id: "r1".into(),
    }
}

fn item(plm: &str, asset: &str) -> WorkItem {
    WorkItem {
        plm_system: plm.into(),
        dam_system: "b".into(),
        asset_id: asset.into(),
    }
}

fn ids(links: &[LinkRecord]) -> Vec<&str> {
    links.iter().map(|l| l.link_id.as_str()).collect()
}

/// Cursors: absent, stored, replaced, per stream; times keep microseconds (no more).
pub(crate) async fn cursors_round_trip_at_microsecond_precision(s: &dyn StateStore) {
    assert_eq!(s.cursor("wc", "parts").await.expect("read"), None);
    let t = at(2, 3) + Duration::nanoseconds(123_456_789);
    s.set_cursor("wc", "parts", t).await.expect("write");
    let micros = at(2, 3) + Duration::microseconds(123_456);
    assert_eq!(s.cursor("wc", "parts").await.expect("read"), Some(micros));
    s.set_cursor("wc", "parts", at(4, 0))
        .await
        .expect("replace");
    s.set_cursor("wc", "links", at(5, 0))
        .await
        .expect("other stream");
    assert_eq!(s.cursor("wc", "parts").await.expect("read"), Some(at(4, 0)));
    assert_eq!(s.cursor("wc", "links").await.expect("read"), Some(at(5, 0)));
    assert_eq!(s.cursor("tc", "parts").await.expect("read"), None);
}

/// Parts: upserts replace the PLM's fields but keep `first_seen`; revisions come shortest
/// first, then in byte order.
pub(crate) async fn parts_upsert_idempotent_and_ordered(s: &dyn StateStore) {
    s.upsert_parts(&[]).await.expect("empty batch");
    let parts = vec![
        part("TR-1001", "AA", Some("SKU-1")),
        part("TR-1001", "B", Some("SKU-1")),
        part("TR-1001", "A", None),
        part("TR-0999", "A", Some("SKU-1")),
    ];
    s.upsert_parts(&parts).await.expect("upsert");
    s.upsert_parts(&parts).await.expect("upsert again");
    let got = s
        .part("wc", "TR-1001", "B")
        .await
        .expect("read")
        .expect("present");
    assert_eq!(got, parts[1]);
    assert!(s.part("wc", "TR-1001", "C").await.expect("read").is_none());
    assert!(s.part("tc", "TR-1001", "B").await.expect("read").is_none());
    let revs: Vec<String> = s
        .parts_by_number("wc", "TR-1001")
        .await
        .expect("by number")
        .into_iter()
        .map(|p| p.revision)
        .collect();
    assert_eq!(revs, ["A", "B", "AA"]);
    let by_sku: Vec<(String, String)> = s
        .parts_by_sku("wc", "SKU-1")
        .await
        .expect("by sku")
        .into_iter()
        .map(|p| (p.number, p.revision))
        .collect();
    assert_eq!(
        by_sku,
        [
            ("TR-0999".to_string(), "A".to_string()),
            ("TR-1001".into(), "B".into()),
            ("TR-1001".into(), "AA".into())
        ]
    );
    let mut changed = part("TR-1001", "B", Some("SKU-2"));
    changed.name = "Renamed".into();
    changed.lifecycle_state = None;
    changed.first_seen = at(9, 0);
    changed.values = vals(&[("colour", "red")]);
    s.upsert_parts(std::slice::from_ref(&changed))
        .await
        .expect("update");
    let got = s
        .part("wc", "TR-1001", "B")
        .await
        .expect("read")
        .expect("present");
    assert_eq!(got.name, "Renamed");
    assert_eq!(got.sku.as_deref(), Some("SKU-2"));
    assert_eq!(got.lifecycle_state, None);
    assert_eq!(got.values, changed.values);
    assert_eq!(got.first_seen, at(2, 0), "first_seen is kept");
    assert_eq!(s.parts_by_sku("wc", "SKU-1").await.expect("sku").len(), 2);
}

/// Assets: round trip, replace, and queueing for each PLM named (none for an empty list).
pub(crate) async fn assets_upsert_and_enqueue(s: &dyn StateStore) {
    let a1 = asset("a1");
    let mut a2 = asset("a2");
    a2.version = None;
    a2.rendition_url = None;
    a2.archived = true;
    a2.watermark = WatermarkStatus::default();
    s.upsert_assets(&[a1.clone(), a2.clone()], &[])
        .await
        .expect("upsert");
    assert_eq!(s.work_len().await.expect("len"), 0);
    assert_eq!(
        s.asset("bynder", "a1").await.expect("read"),
        Some(a1.clone())
    );
    assert_eq!(
        s.asset("bynder", "a2").await.expect("read"),
        Some(a2.clone())
    );
    assert_eq!(s.asset("other", "a1").await.expect("read"), None);
    let mut a1b = a1.clone();
    a1b.title = "New title".into();
    a1b.deleted = true;
    a1b.values = vals(&[("campaign", "Fall")]);
    let peers = vec!["wc".to_string(), "tc".to_string()];
    s.upsert_assets(&[a1b.clone(), a2.clone()], &peers)
        .await
        .expect("upsert and queue");
    assert_eq!(s.asset("bynder", "a1").await.expect("read"), Some(a1b));
    assert_eq!(s.work_len().await.expect("len"), 4);
    s.upsert_assets(&[a2], &peers).await.expect("again");
    assert_eq!(s.work_len().await.expect("len"), 4, "queued once per pair");
    assert_eq!(
        s.work_len_for("wc", "bynder").await.expect("len"),
        2,
        "one job's"
    );
    assert_eq!(s.work_len_for("wc", "aem").await.expect("len"), 0);
    let wc = s
        .lease_work("me", "wc", "bynder", 10, 60)
        .await
        .expect("lease");
    let got: Vec<&str> = wc.iter().map(|w| w.asset_id.as_str()).collect();
    assert_eq!(got, ["a1", "a2"]);
    assert!(
        wc.iter()
            .all(|w| w.plm_system == "wc" && w.dam_system == "bynder")
    );
}

/// Links: round trip, lookups by clip and part, keyset pages, counts, linked clips.
pub(crate) async fn links_queries_and_paging(s: &dyn StateStore) {
    let mut l1 = link("l1", "a10", "B");
    l1.remote_id = Some("doc-1".into());
    l1.plm_values = vals(&[("campaign", "Spring"), ("note", "x")]);
    l1.plm_modified = Some(at(6, 7));
    l1.origin = LinkOrigin::Carried;
    let l2 = link("l2", "a2", "C");
    let mut l3 = link("l3", "B1", "B");
    l3.status = LinkStatus::Retired;
    let l4 = link("l4", "a10", "C");
    for l in [&l1, &l2, &l3, &l4] {
        s.upsert_link(l).await.expect("upsert");
    }
    assert_eq!(
        s.link(&LinkId("l1".into())).await.expect("read"),
        Some(l1.clone())
    );
    assert_eq!(s.link(&LinkId("l9".into())).await.expect("read"), None);

    assert_eq!(
        ids(&s.links_for_asset("bynder", "a10").await.expect("by asset")),
        ["l1", "l4"]
    );
    assert_eq!(
        ids(&s
            .links_for_part("windchill", "TR-1001", Some("B"))
            .await
            .expect("by rev")),
        ["l1", "l3"]
    );
    assert_eq!(
        ids(&s
            .links_for_part("windchill", "TR-1001", None)
            .await
            .expect("by number")),
        ["l1", "l2", "l3", "l4"]
    );
    assert!(
        s.links_for_part("windchill", "TR-9", None)
            .await
            .expect("none")
            .is_empty()
    );

    let page = s.links_page(None, 3).await.expect("page 1");
    assert_eq!(ids(&page), ["l1", "l2", "l3"]);
    let page = s
        .links_page(Some(&page[2].link_id), 3)
        .await
        .expect("page 2");
    assert_eq!(ids(&page), ["l4"]);

    // Byte order ("B1" < "a10" < "a2"); retired links do not count.
    assert_eq!(
        s.linked_assets("bynder", None, 10).await.expect("linked"),
        ["a10", "a2"]
    );
    assert_eq!(
        s.linked_assets("bynder", Some("a10"), 10)
            .await
            .expect("after"),
        ["a2"]
    );
    assert_eq!(
        s.linked_assets("bynder", None, 1).await.expect("limit"),
        ["a10"]
    );

    let counts = s.link_counts().await.expect("counts");
    assert_eq!(counts.get("active"), Some(&3));
    assert_eq!(counts.get("retired"), Some(&1));

    // An upsert replaces the synced fields but keeps identity and creation time.
    let mut l2b = l2.clone();
    l2b.status = LinkStatus::Retired;
    l2b.remote_id = Some("doc-2".into());
    l2b.created_at = at(20, 0);
    l2b.updated_at = at(21, 0);
    l2b.run_id = "r2".into();
    s.upsert_link(&l2b).await.expect("update");
    let got = s
        .link(&LinkId("l2".into()))
        .await
        .expect("read")
        .expect("present");
    assert_eq!(got.status, LinkStatus::Retired);
    assert_eq!(got.remote_id.as_deref(), Some("doc-2"));
    assert_eq!(got.created_at, l2.created_at);
    assert_eq!(got.updated_at, at(21, 0));
    assert_eq!(got.run_id, "r2");
}

/// Full listings: clips with live links that the named listing did not see.
pub(crate) async fn full_scan_marks_and_unseen_links(s: &dyn StateStore) {
    s.upsert_assets(&[asset("a1"), asset("a2"), asset("a4")], &[])
        .await
        .expect("assets");
    for (id, a) in [("l1", "a1"), ("l2", "a2"), ("l3", "a3"), ("l4", "a4")] {
        s.upsert_link(&link(id, a, "B")).await.expect("link");
    }
    s.mark_seen("bynder", &["a1".into(), "a4".into()], "scan-1")
        .await
        .expect("mark");
    s.mark_seen("bynder", &[], "scan-1")
        .await
        .expect("mark none");
    assert_eq!(
        s.unseen_linked_assets("bynder", "scan-1", None, 10)
            .await
            .expect("unseen"),
        ["a2", "a3"]
    );
    assert_eq!(
        s.unseen_linked_assets("bynder", "scan-1", Some("a2"), 10)
            .await
            .expect("after"),
        ["a3"]
    );
    assert_eq!(
        s.unseen_linked_assets("bynder", "scan-1", None, 1)
            .await
            .expect("limit"),
        ["a2"]
    );
    // A newer listing that saw nothing yet: every linked clip is unseen.
    assert_eq!(
        s.unseen_linked_assets("bynder", "scan-2", None, 10)
            .await
            .expect("new scan")
            .len(),
        4
    );
}

/// A feed's view of a link: stored and its clip queued, unless it is partreel's own echo.
pub(crate) async fn observe_link_updates_and_queues_only_on_change(s: &dyn StateStore) {
    s.upsert_link(&link("l1", "a1", "B")).await.expect("upsert");
    let t = at(3, 0);
    let v = vals(&[("campaign", "X")]);
    let id = LinkId("l1".into());
    let known = Observed::Known;
    assert_eq!(
        s.observe_link(&id, &v, t, "doc1").await.expect("obs"),
        known
    );
    assert_eq!(s.work_len().await.expect("len"), 1);
    let l = s.link(&id).await.expect("read").expect("present");
    assert_eq!(l.plm_values, v);
    assert_eq!(l.plm_modified, Some(t));
    assert_eq!(l.remote_id.as_deref(), Some("doc1"));
    let w = s
        .lease_work("me", "windchill", "bynder", 10, 60)
        .await
        .expect("lease");
    assert_eq!(w.len(), 1);
    s.finish_work("me", &w[0]).await.expect("finish");
    // Same time and values: an echo, nothing queued.
    assert_eq!(
        s.observe_link(&id, &v, t, "doc1").await.expect("obs"),
        known
    );
    assert_eq!(s.work_len().await.expect("len"), 0);
    // Another record with the same link id: a duplicate, reported with the known record's id;
    // nothing recorded, nothing queued.
    let v2 = vals(&[("campaign", "Y")]);
    assert_eq!(
        s.observe_link(&id, &v2, at(4, 0), "doc2")
            .await
            .expect("obs"),
        Observed::OtherRecord("doc1".into())
    );
    assert_eq!(s.work_len().await.expect("len"), 0);
    let l = s.link(&id).await.expect("read").expect("present");
    assert_eq!(l.plm_values, v, "a duplicate's values are not recorded");
    assert_eq!(
        l.remote_id.as_deref(),
        Some("doc1"),
        "the known record stays"
    );
    // Same second, other values on the known record: a change made in the second of
    // partreel's own write.
    assert_eq!(
        s.observe_link(&id, &v2, t, "doc1").await.expect("obs"),
        known
    );
    assert_eq!(s.work_len().await.expect("len"), 1);
    let l = s.link(&id).await.expect("read").expect("present");
    assert_eq!(l.plm_values, v2);
    // Unknown link: reported as unknown.
    assert_eq!(
        s.observe_link(&LinkId("nope".into()), &v, t, "doc9")
            .await
            .expect("obs"),
        Observed::Unknown
    );
}

/// Leases: held against other owners until they expire, renewable by their owner, per pair.
/// An item queued again while leased is marked requeued for its holder; whoever leases it
/// next reads the newest change anyway, so the mark goes with the new lease and that
/// holder's finish removes the item. (The stores once disagreed: SQLite kept the mark, so the
/// item stayed queued and was planned once more for nothing.)
pub(crate) async fn a_new_lease_clears_requeued(s: &dyn StateStore) {
    s.enqueue(&[item("wc", "x")]).await.expect("enqueue");
    // A lease of zero seconds runs out at once, as a dead process's does.
    let held = s.lease_work("a", "wc", "b", 10, 0).await.expect("lease a");
    assert_eq!(held, [item("wc", "x")]);
    s.enqueue(&[item("wc", "x")])
        .await
        .expect("requeue while leased");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let taken = s.lease_work("b", "wc", "b", 10, 60).await.expect("lease b");
    assert_eq!(taken, held, "the run-out lease is taken over");
    s.finish_work("b", &taken[0]).await.expect("finish b");
    assert_eq!(
        s.work_len().await.expect("len"),
        0,
        "b read the newest change: nothing left to plan"
    );
}

pub(crate) async fn leases_exclude_other_owners_until_expiry(s: &dyn StateStore) {
    s.enqueue(&[item("wc", "1"), item("wc", "2")])
        .await
        .expect("enqueue");
    let a = s.lease_work("a", "wc", "b", 10, 60).await.expect("lease a");
    assert_eq!(a.len(), 2);
    assert!(
        s.lease_work("b", "wc", "b", 10, 60)
            .await
            .expect("lease b")
            .is_empty()
    );
    // The owner may lease its own items again; a zero lease expires at once.
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
    assert_eq!(
        s.work_len().await.expect("len"),
        2,
        "leasing removes nothing"
    );
}

/// Leases come in queue order, at most `limit`; finishing removes an item.
pub(crate) async fn lease_order_limit_and_finish(s: &dyn StateStore) {
    s.enqueue(&[item("wc", "z"), item("wc", "m")])
        .await
        .expect("first batch");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.enqueue(&[item("wc", "a"), item("wc", "z")])
        .await
        .expect("second batch (z already queued)");
    assert_eq!(s.work_len().await.expect("len"), 3);
    let first = s.lease_work("o", "wc", "b", 2, 60).await.expect("lease");
    let got: Vec<&str> = first.iter().map(|w| w.asset_id.as_str()).collect();
    assert_eq!(got, ["m", "z"], "oldest first, ties by id");
    let rest = s.lease_work("p", "wc", "b", 10, 60).await.expect("lease");
    assert_eq!(rest, [item("wc", "a")]);
    for w in &first {
        s.finish_work("o", w).await.expect("finish");
    }
    for w in &rest {
        s.finish_work("p", w).await.expect("finish");
    }
    s.finish_work("o", &item("wc", "never-queued"))
        .await
        .expect("finish unknown");
    assert_eq!(s.work_len().await.expect("len"), 0);
    s.enqueue(&[]).await.expect("empty enqueue");
}

/// A job's first run queues every stored clip of its DAM once.
/// A clip queued again while leased stays with its lessee (not handed to another process),
/// survives the lessee's finish (the newer change must be planned), and only the lessee may
/// finish it.
pub(crate) async fn requeue_while_leased_and_foreign_finish(s: &dyn StateStore) {
    s.enqueue(&[item("wc", "x")]).await.expect("enqueue");
    let held = s.lease_work("a", "wc", "b", 10, 60).await.expect("lease");
    assert_eq!(held, [item("wc", "x")]);
    s.enqueue(&[item("wc", "x")]).await.expect("requeue");
    assert!(
        s.lease_work("b", "wc", "b", 10, 60)
            .await
            .expect("lease b")
            .is_empty(),
        "a requeued item stays with its lessee"
    );
    s.finish_work("a", &held[0]).await.expect("finish a");
    assert_eq!(
        s.work_len().await.expect("len"),
        1,
        "the newer change stays queued"
    );
    let again = s.lease_work("b", "wc", "b", 10, 60).await.expect("lease b");
    assert_eq!(again, held);
    // "a" no longer holds it: its finish must not remove b's work.
    s.finish_work("a", &again[0]).await.expect("foreign finish");
    assert_eq!(s.work_len().await.expect("len"), 1);
    s.finish_work("b", &again[0]).await.expect("finish b");
    assert_eq!(s.work_len().await.expect("len"), 0);
}

/// A lease is renewed only by its holder; a lease that ran out and passed to another process
/// cannot be renewed by the first (its write must not be made); holders are listed per pair
/// with counts, and a gone process's leases are freed for others at once.
pub(crate) async fn lease_renewal_holders_and_release(s: &dyn StateStore) {
    s.enqueue(&[item("wc", "1"), item("wc", "2"), item("wc", "3")])
        .await
        .expect("enqueue");
    let a = s.lease_work("a", "wc", "b", 2, 0).await.expect("lease a");
    assert_eq!(a.len(), 2);
    assert!(s.renew_lease("a", &a[0], 60).await.expect("renew"));
    assert!(
        !s.renew_lease("b", &a[0], 60).await.expect("renew by b"),
        "only the holder renews"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // a[1]'s zero lease ran out: b takes it (and the unleased third), a[0] stays a's.
    let b = s.lease_work("b", "wc", "b", 10, 60).await.expect("lease b");
    let got: Vec<&str> = b.iter().map(|w| w.asset_id.as_str()).collect();
    assert_eq!(got, [a[1].asset_id.as_str(), "3"]);
    assert!(
        !s.renew_lease("a", &a[1], 60).await.expect("renew lost"),
        "a lease taken over cannot be renewed by its first holder"
    );
    assert!(
        !s.renew_lease("a", &item("wc", "never"), 60)
            .await
            .expect("renew unknown")
    );
    assert_eq!(
        s.lease_holders("wc", "b").await.expect("holders"),
        [("a".to_string(), 1), ("b".to_string(), 2)]
    );
    assert!(s.lease_holders("tc", "b").await.expect("none").is_empty());
    assert_eq!(s.release_leases("b").await.expect("release"), 2);
    assert_eq!(
        s.lease_holders("wc", "b").await.expect("holders"),
        [("a".to_string(), 1)]
    );
    let c = s.lease_work("c", "wc", "b", 10, 60).await.expect("lease c");
    assert_eq!(c.len(), 2, "released work is free for others at once");
    assert_eq!(
        s.work_len().await.expect("len"),
        3,
        "releasing removes nothing"
    );
}

pub(crate) async fn enqueue_all_assets_counts_new_items(s: &dyn StateStore) {
    s.upsert_assets(&[asset("a1"), asset("a2")], &["wc".to_string()])
        .await
        .expect("assets");
    assert_eq!(s.enqueue_all_assets("tc", "bynder").await.expect("all"), 2);
    assert_eq!(
        s.enqueue_all_assets("tc", "bynder").await.expect("again"),
        0
    );
    assert_eq!(s.enqueue_all_assets("wc", "bynder").await.expect("wc"), 0);
    assert_eq!(s.enqueue_all_assets("tc", "other").await.expect("none"), 0);
    assert_eq!(s.work_len().await.expect("len"), 4);
}

/// The journal: pending entries until closed, payloads intact, ids increasing.
/// A gone process's pending entry is taken over by one process alone; entries with no owner
/// (older partreel) can be taken over as from ""; closed entries cannot.
pub(crate) async fn journal_take_over_is_once(s: &dyn StateStore) {
    let payload = serde_json::json!({"owner": "gone", "x": [1, 2]});
    let id = s
        .journal_begin("r1", "create_link", "wc", "l1", &payload)
        .await
        .expect("begin");
    assert!(
        !s.journal_take_over(id, "other", "b")
            .await
            .expect("wrong from")
    );
    assert!(s.journal_take_over(id, "gone", "a").await.expect("take"));
    assert!(
        !s.journal_take_over(id, "gone", "b").await.expect("again"),
        "taken over once"
    );
    let pending = s.journal_pending().await.expect("pending");
    assert_eq!(pending[0].payload["owner"], "a");
    assert_eq!(
        pending[0].payload["x"],
        serde_json::json!([1, 2]),
        "the rest kept"
    );
    let old = s
        .journal_begin("r0", "write_asset", "b", "a1", &serde_json::json!({}))
        .await
        .expect("begin");
    assert!(s.journal_take_over(old, "", "a").await.expect("ownerless"));
    s.journal_end(id, JournalState::Applied).await.expect("end");
    assert!(!s.journal_take_over(id, "a", "b").await.expect("closed"));
}

pub(crate) async fn journal_pending_survives_until_closed(s: &dyn StateStore) {
    let payload = serde_json::json!({"a": 1, "link": {"id": "l1", "values": ["x", null, 2.5]}});
    let id = s
        .journal_begin("r1", "create_link", "wc", "l1", &payload)
        .await
        .expect("begin");
    let id2 = s
        .journal_begin("r1", "write_asset", "bynder", "a1", &serde_json::json!({}))
        .await
        .expect("begin");
    assert!(id2 > id);
    let pending = s.journal_pending().await.expect("pending");
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].id, id);
    assert_eq!(pending[0].key, "l1");
    assert_eq!(pending[0].op, "create_link");
    assert_eq!(pending[0].system, "wc");
    assert_eq!(pending[0].run_id, "r1");
    assert_eq!(pending[0].payload, payload);
    assert_eq!(pending[0].state, JournalState::Pending);
    s.journal_end(id, JournalState::Applied).await.expect("end");
    s.journal_end(id2, JournalState::Abandoned)
        .await
        .expect("end");
    assert!(s.journal_pending().await.expect("pending").is_empty());
}

/// Quarantine: one entry per record, attempts counted, latest first, cleared when synced.
pub(crate) async fn quarantine_counts_attempts_and_clears(s: &dyn StateStore) {
    s.quarantine_put("bynder", "a1", "asset", "part XX-9999 not found", "r1")
        .await
        .expect("q");
    s.quarantine_put("bynder", "a1", "asset", "part XX-9998 not found", "r2")
        .await
        .expect("q");
    let q = s.quarantine_list().await.expect("list");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].attempts, 2);
    assert_eq!(q[0].run_id, "r2");
    assert_eq!(q[0].reason, "part XX-9998 not found");
    assert!(q[0].first_seen <= q[0].last_seen);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.quarantine_put("wc", "p1", "part", "bad revision", "r3")
        .await
        .expect("q");
    let q = s.quarantine_list().await.expect("list");
    let order: Vec<&str> = q.iter().map(|e| e.record_id.as_str()).collect();
    assert_eq!(order, ["p1", "a1"], "latest first");
    s.quarantine_clear("bynder", "a1").await.expect("clear");
    s.quarantine_clear("bynder", "unknown")
        .await
        .expect("clear");
    let q = s.quarantine_list().await.expect("list");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].kind, "part");
}

/// Run history: latest first, with outcome and report once finished.
pub(crate) async fn runs_latest_first(s: &dyn StateStore) {
    s.run_started("r1", at(1, 0), "{}").await.expect("start");
    s.run_started("r2", at(2, 0), "{\"job\":\"j\"}")
        .await
        .expect("start");
    s.run_finished("r1", "ok", "{\"links_created\":5}")
        .await
        .expect("finish");
    let runs = s.runs(10).await.expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].run_id, "r2");
    assert_eq!(runs[0].outcome, None);
    assert_eq!(runs[0].finished_at, None);
    assert_eq!(
        runs[0].report.as_deref(),
        Some("{\"job\":\"j\"}"),
        "the provisional report of a run without an end"
    );
    assert_eq!(runs[1].run_id, "r1");
    assert_eq!(runs[1].started_at, at(1, 0));
    assert_eq!(runs[1].outcome.as_deref(), Some("ok"));
    assert_eq!(runs[1].report.as_deref(), Some("{\"links_created\":5}"));
    assert!(runs[1].finished_at.is_some());
    assert_eq!(s.runs(1).await.expect("runs").len(), 1);
    // What a run completed, from its journal: applied entries only, by operation.
    for (op, key, state) in [
        ("create_link", "l1", JournalState::Applied),
        ("create_link", "l2", JournalState::Applied),
        ("create_link", "l3", JournalState::Failed),
        ("update_link", "l4", JournalState::Applied),
        ("write_asset", "a1", JournalState::Pending),
    ] {
        let id = s
            .journal_begin("r2", op, "wc", key, &serde_json::json!({}))
            .await
            .expect("journal");
        if state != JournalState::Pending {
            s.journal_end(id, state).await.expect("end");
        }
    }
    let writes = s.run_writes("r2").await.expect("writes");
    assert_eq!(writes.get("create_link"), Some(&2));
    assert_eq!(writes.get("update_link"), Some(&1));
    assert_eq!(writes.get("write_asset"), None);
    assert!(s.run_writes("r1").await.expect("writes").is_empty());
}

/// A dry run's copy holds the whole state and never writes to the real one.
pub(crate) async fn scratch_copy_is_independent(s: &dyn StateStore) {
    s.upsert_link(&link("l1", "a1", "B")).await.expect("upsert");
    s.set_cursor("wc", "parts", at(3, 0)).await.expect("cursor");
    s.enqueue(&[item("wc", "1")]).await.expect("enqueue");
    let first = s
        .journal_begin("r1", "create_link", "wc", "l1", &serde_json::json!({}))
        .await
        .expect("journal");
    let copy = s.scratch_copy().await.expect("copy");
    assert!(
        copy.link(&LinkId("l1".into()))
            .await
            .expect("read")
            .is_some()
    );
    assert_eq!(
        copy.cursor("wc", "parts").await.expect("cursor"),
        Some(at(3, 0))
    );
    assert_eq!(copy.work_len().await.expect("len"), 1);
    assert_eq!(copy.journal_pending().await.expect("pending").len(), 1);

    copy.upsert_link(&link("l2", "a2", "B"))
        .await
        .expect("upsert copy");
    copy.set_cursor("wc", "parts", at(9, 0))
        .await
        .expect("cursor");
    let leased = copy
        .lease_work("dry", "wc", "b", 10, 60)
        .await
        .expect("lease");
    copy.finish_work("dry", &leased[0]).await.expect("finish");
    let next = copy
        .journal_begin("dry", "create_link", "wc", "l2", &serde_json::json!({}))
        .await
        .expect("journal copy");
    assert!(
        next > first,
        "the copy's journal ids continue after the copied ones"
    );
    copy.run_started("dry", at(4, 0), "{}").await.expect("run");

    assert!(s.link(&LinkId("l2".into())).await.expect("read").is_none());
    assert_eq!(
        s.cursor("wc", "parts").await.expect("cursor"),
        Some(at(3, 0))
    );
    assert_eq!(s.work_len().await.expect("len"), 1);
    assert_eq!(
        s.lease_work("real", "wc", "b", 10, 60)
            .await
            .expect("lease")
            .len(),
        1,
        "the dry run's lease is not on the real queue"
    );
    assert_eq!(s.journal_pending().await.expect("pending").len(), 1);
    assert!(s.runs(10).await.expect("runs").is_empty());
}

fn view_link(asset: &str, number: &str, revision: &str, status: LinkStatus) -> LinkRecord {
    LinkRecord {
        link_id: LinkId::new("bynder", asset, "wc", number, revision),
        plm_system: "wc".into(),
        part_number: number.into(),
        status,
        ..link("unused", asset, revision)
    }
}

/// Search (part columns, clips' prompt, campaign and title; `%` and `_` taken literally;
/// ASCII case ignored; empty lists all), a part revision, its revisions with live clip counts,
/// its clips (retired last) and a clip with its part revisions.
pub(crate) async fn view_search_part_and_clip(s: &dyn StateStore, v: &dyn ViewStore) {
    let mut racer_b = part("P-1", "B", Some("SKU-P1"));
    racer_b.name = "Racer 2".into();
    s.upsert_parts(&[
        part("P-1", "A", Some("SKU-P1")),
        racer_b,
        part("Q-7", "A", None),
    ])
    .await
    .expect("parts");
    let mut c1 = asset("c1");
    c1.values = vals(&[("prompt", "desert chase"), ("campaign", "Summer_50%")]);
    let mut c2 = asset("c2");
    c2.values = vals(&[("prompt", "studio"), ("campaign", "Summer_50%")]);
    s.upsert_assets(&[c1, c2], &[]).await.expect("assets");
    for l in [
        view_link("c1", "P-1", "B", LinkStatus::Active),
        view_link("c2", "P-1", "B", LinkStatus::Retired),
        view_link("c1", "P-1", "A", LinkStatus::Active),
    ] {
        s.upsert_link(&l).await.expect("link");
    }

    let numbers = |hits: Vec<view::PartHit>| {
        hits.into_iter()
            .map(|h| format!("{}/{}", h.number, h.revision))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        numbers(v.search("chase", 10).await.expect("prompt")),
        ["P-1/A", "P-1/B"]
    );
    assert_eq!(
        numbers(v.search("CHASE", 10).await.expect("case")),
        ["P-1/A", "P-1/B"],
        "ASCII case ignored"
    );
    assert_eq!(v.search("50%", 10).await.expect("campaign").len(), 2);
    assert!(
        v.search("5_%", 10).await.expect("escaped").is_empty(),
        "_ and % are literal"
    );
    assert_eq!(
        numbers(v.search("racer 2", 10).await.expect("name")),
        ["P-1/B"]
    );
    assert_eq!(
        numbers(v.search("Clip c2", 10).await.expect("title")),
        ["P-1/B"]
    );
    assert_eq!(
        numbers(v.search("", 10).await.expect("all")),
        ["P-1/A", "P-1/B", "Q-7/A"]
    );
    assert_eq!(v.search("", 1).await.expect("limit").len(), 1);

    let revs = v.part_revisions("wc", "P-1").await.expect("revs");
    assert_eq!(
        revs.iter()
            .map(|r| (r.revision.as_str(), r.clip_count, r.sku.as_deref()))
            .collect::<Vec<_>>(),
        vec![("A", 1, Some("SKU-P1")), ("B", 1, Some("SKU-P1"))],
        "retired links not counted"
    );
    let p = v
        .part_revision("wc", "P-1", "B")
        .await
        .expect("part")
        .expect("found");
    assert_eq!(
        (p.name.as_str(), p.remote_id.as_str(), p.modified),
        ("Racer 2", "OR:P-1:B", at(1, 10))
    );
    assert_eq!(p.values.get("sku").map(String::as_str), Some("SKU-P1"));
    assert_eq!(p.lifecycle_state.as_deref(), Some("RELEASED"));

    let clips = v.links_of_part("wc", "P-1", "B").await.expect("links");
    assert_eq!(clips.len(), 2);
    assert_eq!(clips[0].link.asset_id, "c1");
    assert_eq!(clips[1].link.status, LinkStatus::Retired, "retired last");
    let c1 = clips[0].clip.as_ref().expect("asset joined");
    assert_eq!(c1.prompt.as_deref(), Some("desert chase"));
    assert_eq!(c1.campaign.as_deref(), Some("Summer_50%"));
    assert_eq!(c1.version.as_deref(), Some("2"));
    assert_eq!(c1.modified, at(3, 5));
    assert!(c1.watermark_preserved);
    assert_eq!(clips[0].link.created_at, at(1, 0));

    let detail = v.clip("bynder", "c1").await.expect("clip").expect("found");
    assert_eq!(detail.clip.title, "Clip c1");
    assert_eq!(
        detail
            .links
            .iter()
            .map(|l| (
                l.link.part_revision.as_str(),
                l.part.as_ref().map(|p| p.clip_count)
            ))
            .collect::<Vec<_>>(),
        vec![("A", Some(1)), ("B", Some(1))]
    );
    assert!(v.clip("bynder", "nope").await.expect("clip").is_none());
    assert!(
        v.part_revision("wc", "P-1", "Z")
            .await
            .expect("part")
            .is_none()
    );
}

/// Revision labels shorter first (`B` before `AA`); a link whose asset or part row is missing
/// still shows, without it; a link's run end comes from the run history; links newest first.
pub(crate) async fn view_orders_and_missing_rows(s: &dyn StateStore, v: &dyn ViewStore) {
    s.upsert_parts(&[
        part("P-2", "AA", None),
        part("P-2", "B", None),
        part("P-2", "A", None),
    ])
    .await
    .expect("parts");
    let revs = v.part_revisions("wc", "P-2").await.expect("revs");
    assert_eq!(
        revs.iter().map(|r| r.revision.as_str()).collect::<Vec<_>>(),
        ["A", "B", "AA"]
    );
    assert_eq!(revs[0].sku, None, "empty SKU reads as none");

    s.upsert_assets(&[asset("c5")], &[]).await.expect("asset");
    s.run_started("r-done", at(4, 0), "{}")
        .await
        .expect("start");
    s.run_finished("r-done", "ok", "{}").await.expect("finish");
    let mut older = view_link("c5", "P-2", "A", LinkStatus::Active);
    older.run_id = "r-done".into();
    let mut newer = view_link("gone", "P-2", "A", LinkStatus::Active);
    newer.updated_at = at(5, 0);
    newer.run_id = "r-unknown".into();
    s.upsert_link(&older).await.expect("link");
    s.upsert_link(&newer).await.expect("link");
    let clips = v.links_of_part("wc", "P-2", "A").await.expect("links");
    assert_eq!(
        clips
            .iter()
            .map(|c| c.link.asset_id.as_str())
            .collect::<Vec<_>>(),
        ["gone", "c5"],
        "newest sync first"
    );
    assert!(clips[0].clip.is_none(), "no asset row: no clip");
    assert_eq!(
        clips[0].link.run_finished_at, None,
        "run not in the history"
    );
    assert!(clips[1].link.run_finished_at.is_some(), "finished run");
    assert_eq!(clips[1].link.synced_at, at(1, 0));

    // A clip linked to a revision the state has no row for.
    s.upsert_link(&view_link("c5", "P-9", "C", LinkStatus::Active))
        .await
        .expect("link");
    let detail = v.clip("bynder", "c5").await.expect("clip").expect("found");
    assert_eq!(
        detail
            .links
            .iter()
            .map(|l| (l.link.part_number.as_str(), l.part.is_some()))
            .collect::<Vec<_>>(),
        [("P-2", true), ("P-9", false)]
    );
}
