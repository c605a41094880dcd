//! The DAM half of the compliance suite: [`DamFixture`], the contract items a [`DamConnector`]
//! must keep against its emulator, and [`dam_compliance!`](crate::dam_compliance) that writes
//! one test per item.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use partreel_connector::DamConnector;
use partreel_connector::connector::ChangeQuery;
use partreel_connector::model::{RemoteFields, VideoExperiment};
use partreel_connector::provenance::ProvenanceError;
use sha2::{Digest, Sha256};

use super::{
    Applies, Fault, PAGE, RECORDS, assert_auth, assert_malformed, assert_server_time,
    assert_writable, exactly_once, follow, ids, keyset_walk, retried_reads,
};

/// What the suite needs of a DAM connector and its emulator. Implemented in the connector
/// crate's `tests/compliance.rs`.
// The suite runs each item on its test's own runtime; no fixture future crosses threads, so
// the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait DamFixture: Sized {
    /// The connector under test.
    type Connector: DamConnector;

    /// Starts the emulator with at least `clips` video clips (besides any story it seeds),
    /// each with an original file, and builds the connector on it, with short retry back-offs
    /// and no client rate limit to speak of. Panics (with a message) when it cannot.
    async fn start(clips: usize) -> Self;

    /// The connector on the emulator.
    fn connector(&self) -> &Self::Connector;

    /// Another connector on the same emulator, configured like the first but with a secret
    /// the emulator refuses.
    fn with_wrong_secret(&self) -> Self::Connector;

    /// The emulator's clock now.
    fn now(&self) -> DateTime<Utc>;

    /// Archives (withdraws) the asset as a user of the DAM would, stamping it modified now.
    fn archive(&self, asset_id: &str) -> Applies;

    /// The emulator's ids (as [`VideoExperiment::asset_id`]) of every clip the change feed
    /// serves, read from the emulator's store, not through the connector.
    fn asset_ids(&self) -> Vec<String>;

    /// An asset id of the system's form that names no asset.
    fn missing_asset_id(&self) -> String;

    /// Metadata partreel may write to an asset (remote names and values), different for
    /// each `i`.
    fn fields_to_write(&self, i: usize) -> RemoteFields;

    /// Moves the emulator's clock forward.
    fn advance_clock(&self, secs: u64);

    /// Gives these assets one modification time: a tie group.
    fn set_same_modified(&self, asset_ids: &[String], at: DateTime<Utc>);

    /// Expires every session or token the emulator issued, so the next call meets the
    /// system's "not signed in" answer.
    fn expire_auth(&self) -> Applies;

    /// Makes the next `n` data reads answer 200 with a body that is not valid JSON.
    fn malformed_next(&self, n: usize) -> Applies;

    /// Lets the next `skip` requests pass, then fails the one after with `fault`.
    fn inject(&self, skip: usize, fault: Fault) -> Applies;

    /// Removes every fault armed and not yet spent.
    fn clear_faults(&self);

    /// Logins (tokens issued) so far, when the emulator counts them.
    fn logins(&self) -> Option<u64> {
        None
    }

    /// Stops the emulator.
    async fn shutdown(self);
}

/// Every asset, following continuations of one query from the start.
async fn all_assets<F: DamFixture>(fx: &F) -> Vec<VideoExperiment> {
    let c = fx.connector();
    let pages = follow(c.system(), "changed_assets", None, |q| async move {
        c.changed_assets(&q).await
    })
    .await;
    exactly_once(c.system(), "changed_assets", &pages)
}

fn assert_holds(system: &str, what: &str, asset: &VideoExperiment, fields: &RemoteFields) {
    for (k, v) in fields {
        assert_eq!(
            asset.fields.get(k),
            Some(v),
            "{system}: {what}: {k} of {} reads back as written",
            asset.asset_id
        );
    }
}

/// The asset feed, read by continuations with a page size of [`PAGE`], serves every clip the
/// emulator holds exactly once, oldest first, in more than one page.
pub async fn assets_feed_pages_without_loss_or_duplicates<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let pages = follow(&system, "changed_assets", None, |q| async move {
        c.changed_assets(&q).await
    })
    .await;
    assert!(
        pages.len() > 2,
        "{system}: {} clips fit in {} pages of {PAGE}",
        fx.asset_ids().len(),
        pages.len()
    );
    assert_server_time(&system, "changed_assets", pages[0].server_time, fx.now());
    let assets = exactly_once(&system, "changed_assets", &pages);
    let want: BTreeSet<String> = fx.asset_ids().into_iter().collect();
    assert_eq!(
        ids(&assets),
        want,
        "{system}: the feed serves every clip the emulator holds"
    );
    assert!(
        assets.iter().all(|a| a.system == system),
        "{system}: every clip names its system"
    );
    fx.shutdown().await;
}

/// `since` is "modified at or after": a query from one clip's time serves exactly the clips
/// modified then or later; from just after the newest time it serves nothing until a clip is
/// written, and then exactly that clip.
pub async fn assets_feed_since_bound_and_resume<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let assets = all_assets(&fx).await;
    let mid = &assets[assets.len() / 2];
    let pages = follow(
        &system,
        "changed_assets since",
        Some(mid.modified),
        |q| async move { c.changed_assets(&q).await },
    )
    .await;
    let later = exactly_once(&system, "changed_assets since", &pages);
    let want: BTreeSet<String> = assets
        .iter()
        .filter(|a| a.modified >= mid.modified)
        .map(|a| a.asset_id.clone())
        .collect();
    assert_eq!(
        ids(&later),
        want,
        "{system}: since = {} serves the clips modified at or after it",
        mid.modified
    );
    let cursor = assets.iter().map(|a| a.modified).max().expect("assets") + TimeDelta::seconds(1);
    let nothing = c
        .changed_assets(&ChangeQuery {
            since: Some(cursor),
            continuation: None,
            page_size: PAGE,
        })
        .await
        .expect("feed after the newest clip");
    assert!(
        nothing.items.is_empty(),
        "{system}: nothing changed after {cursor}, the feed served {:?}",
        ids(&nothing.items)
    );
    fx.advance_clock(60);
    let edited = &assets[1];
    c.write_fields(&edited.asset_id, &fx.fields_to_write(1))
        .await
        .expect("write_fields");
    let pages = follow(
        &system,
        "changed_assets resumed",
        Some(cursor),
        |q| async move { c.changed_assets(&q).await },
    )
    .await;
    let resumed = exactly_once(&system, "changed_assets resumed", &pages);
    assert_eq!(
        ids(&resumed),
        BTreeSet::from([edited.asset_id.clone()]),
        "{system}: resuming from the cursor serves the one clip written since"
    );
    fx.shutdown().await;
}

/// More clips than a page share one modification time: reading as the engine does still
/// reaches every clip.
pub async fn assets_feed_ties_larger_than_a_page<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let assets = all_assets(&fx).await;
    let tie: Vec<String> = assets
        .iter()
        .skip(1)
        .take(2 * PAGE as usize + 1)
        .map(|a| a.asset_id.clone())
        .collect();
    fx.set_same_modified(&tie, assets[1].modified);
    let read = keyset_walk(&system, "changed_assets", |q| async move {
        c.changed_assets(&q).await
    })
    .await;
    assert_eq!(
        ids(&read),
        ids(&assets),
        "{system}: a tie group of {} clips (pages of {PAGE}) is read to its end",
        tie.len()
    );
    fx.shutdown().await;
}

/// `get_asset` reads one clip as the feed serves it, and None for an id that names none; so
/// does `original_url`, and a write to that id is a record error.
pub async fn get_asset_finds_one_and_none_when_missing<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let assets = all_assets(&fx).await;
    let one = &assets[0];
    let got = c
        .get_asset(&one.asset_id)
        .await
        .expect("get_asset")
        .unwrap_or_else(|| panic!("{system}: get_asset({}) found nothing", one.asset_id));
    assert_eq!(got.asset_id, one.asset_id, "{system}: the clip asked for");
    assert_eq!(
        got.modified, one.modified,
        "{system}: as the feed served it"
    );
    let missing = fx.missing_asset_id();
    let none = c
        .get_asset(&missing)
        .await
        .expect("get_asset of a missing clip is no error");
    assert!(none.is_none(), "{system}: get_asset({missing}) is None");
    let url = c
        .original_url(&missing)
        .await
        .expect("original_url of a missing clip is no error");
    assert!(url.is_none(), "{system}: original_url({missing}) is None");
    let err = c
        .write_fields(&missing, &fx.fields_to_write(0))
        .await
        .expect_err("a write to a missing clip must fail");
    assert!(
        err.is_record_error(),
        "{system}: a write to a missing clip is that clip's error (quarantined), got {err:?}"
    );
    fx.shutdown().await;
}

/// `write_fields` answers the clip as read after the write, with the values written; a later
/// `get_asset` reads them back, and a second write replaces them.
pub async fn metadata_write_reads_back<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let assets = all_assets(&fx).await;
    let id = &assets[0].asset_id;
    for i in [0, 1] {
        fx.advance_clock(60);
        let fields = fx.fields_to_write(i);
        let written = c.write_fields(id, &fields).await.expect("write_fields");
        assert_eq!(&written.asset_id, id, "{system}: the clip written");
        assert_holds(&system, "write_fields' answer", &written, &fields);
        let read = c
            .get_asset(id)
            .await
            .expect("get_asset")
            .expect("the clip exists");
        assert_holds(&system, "get_asset after the write", &read, &fields);
    }
    fx.shutdown().await;
}

/// `write_fields_batch` (in batches of the connector's `max_write_batch`) answers one result
/// per write, in order, each clip as read after its write; a clip that does not exist is that
/// clip's record error and the others of its batch still go through.
pub async fn batched_metadata_writes_read_back<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let assets = all_assets(&fx).await;
    fx.advance_clock(60);
    let missing = format!("{}-missing", assets[0].asset_id);
    let mut batch: Vec<(String, RemoteFields)> = assets
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, a)| (a.asset_id.clone(), fx.fields_to_write(i % 2)))
        .collect();
    batch.insert(1, (missing.clone(), fx.fields_to_write(0)));
    let size = c.max_write_batch().clamp(1, batch.len());
    let mut results = Vec::new();
    for chunk in batch.chunks(size) {
        let answers = c.write_fields_batch(chunk).await;
        assert_eq!(answers.len(), chunk.len(), "{system}: one result per write");
        results.extend(answers);
    }
    for ((id, fields), r) in batch.iter().zip(results) {
        if *id == missing {
            let err = r.expect_err("a write to a missing clip must fail");
            assert!(
                err.is_record_error(),
                "{system}: a missing clip in a batch is that clip's error, got {err:?}"
            );
            continue;
        }
        let written = r.unwrap_or_else(|e| panic!("{system}: write to {id}: {e}"));
        assert_eq!(&written.asset_id, id, "{system}: results in order");
        assert_holds(&system, "write_fields_batch's answer", &written, fields);
        let read = c
            .get_asset(id)
            .await
            .expect("get_asset")
            .expect("the clip exists");
        assert_holds(&system, "get_asset after the batch", &read, fields);
    }
    fx.shutdown().await;
}

/// `download_original` streams the clip's original file: as many bytes as it says, with the
/// SHA-256 it says; a limit below the file's size is refused as too large.
pub async fn download_gives_the_original_file<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let assets = all_assets(&fx).await;
    let id = &assets[0].asset_id;
    let url = c.original_url(id).await.expect("original_url");
    assert!(url.is_some(), "{system}: clip {id} has an original URL");
    let dir = tempfile::tempdir().expect("temporary folder");
    let dest = dir.path().join("original");
    let info = c
        .download_original(id, &dest, 64 << 20)
        .await
        .expect("download_original")
        .unwrap_or_else(|| panic!("{system}: clip {id} has an original"));
    let bytes = std::fs::read(&dest).expect("the downloaded file");
    assert!(!bytes.is_empty(), "{system}: the original has bytes");
    assert_eq!(info.bytes, bytes.len() as u64, "{system}: bytes written");
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        info.sha256, sha,
        "{system}: the SHA-256 of the file written"
    );
    let small = dir.path().join("too-small");
    match c.download_original(id, &small, info.bytes - 1).await {
        Err(ProvenanceError::TooLarge { limit }) => {
            assert_eq!(limit, info.bytes - 1, "{system}: the limit named")
        }
        other => {
            panic!("{system}: a download over its limit must be refused as TooLarge, got {other:?}")
        }
    }
    fx.shutdown().await;
}

/// An archived clip stays in the feed, flagged archived, and `get_asset` reads it archived;
/// the feed resumed from before the archiving serves it.
pub async fn archived_clips_stay_in_the_feed_flagged<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let assets = all_assets(&fx).await;
    assert!(
        assets.iter().any(|a| !a.archived),
        "{system}: the seeded clips include live ones"
    );
    let target = assets
        .iter()
        .find(|a| !a.archived)
        .expect("a live clip")
        .asset_id
        .clone();
    let cursor = assets.iter().map(|a| a.modified).max().expect("assets") + TimeDelta::seconds(1);
    fx.advance_clock(60);
    if !fx
        .archive(&target)
        .proceed(&system, "archived_clips_stay_in_the_feed_flagged")
    {
        fx.shutdown().await;
        return;
    }
    let pages = follow(
        &system,
        "changed_assets resumed",
        Some(cursor),
        |q| async move { c.changed_assets(&q).await },
    )
    .await;
    let resumed = exactly_once(&system, "changed_assets resumed", &pages);
    let got = resumed
        .iter()
        .find(|a| a.asset_id == target)
        .unwrap_or_else(|| panic!("{system}: the archived clip {target} left the feed"));
    assert!(got.archived, "{system}: the feed flags {target} archived");
    let read = c
        .get_asset(&target)
        .await
        .expect("get_asset")
        .unwrap_or_else(|| panic!("{system}: get_asset({target}) found nothing"));
    assert!(read.archived, "{system}: get_asset flags {target} archived");
    let all = all_assets(&fx).await;
    assert_eq!(
        ids(&all),
        ids(&assets),
        "{system}: the whole feed still holds every clip, the archived one included"
    );
    fx.shutdown().await;
}

/// Credentials the system refuses end in
/// [`ConnectorError::Auth`](partreel_connector::ConnectorError::Auth) naming the system, not in
/// a panic, an HTTP status error or an empty page.
pub async fn refused_credentials_are_an_auth_error<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let wrong = fx.with_wrong_secret();
    let system = wrong.system().to_string();
    let err = wrong
        .changed_assets(&ChangeQuery {
            since: None,
            continuation: None,
            page_size: PAGE,
        })
        .await
        .expect_err("a read with refused credentials must fail");
    assert_auth(&system, "changed_assets", &err);
    assert!(
        !err.is_record_error(),
        "{system}: refused credentials are not one clip's error"
    );
    fx.shutdown().await;
}

/// A read that meets a 503, a dropped connection or a 429 is retried and succeeds; `stats`
/// counts the failed attempt and the retry, `rate_limits` the 429.
pub async fn transient_faults_are_retried_and_counted<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let q = ChangeQuery {
        since: None,
        continuation: None,
        page_size: PAGE,
    };
    retried_reads(
        &system,
        |skip, fault| fx.inject(skip, fault),
        || fx.clear_faults(),
        || {
            let s = c.stats();
            (s.requests, s.retries, c.rate_limits().throttled)
        },
        || c.changed_assets(&q),
    )
    .await;
    fx.shutdown().await;
}

/// `schema` names the `asset` entity, with the fields the suite writes among its writable
/// properties; `write_access` answers without failing.
pub async fn schema_names_what_the_connector_writes<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let schema = c.schema().await.expect("schema");
    let names: Vec<String> = fx.fields_to_write(0).into_keys().collect();
    assert_writable(&system, &schema, "asset", &names);
    c.write_access().await.expect("write_access");
    fx.shutdown().await;
}

/// `media_request` for a URL on another host is a plain GET of that URL: no credential of
/// this DAM travels there (no `Authorization`, cookie, API key or CSRF header, nothing added
/// to the URL).
pub async fn media_request_sends_no_credential_to_another_host<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    // Sign in first, so a credential exists that could leak.
    all_assets(&fx).await;
    let url =
        url::Url::parse("https://cdn.example.invalid/renditions/clip.mp4?sig=abc").expect("a URL");
    let req = c.media_request(url.clone()).await.expect("media_request");
    assert_eq!(req.url, url, "{system}: the URL goes out as given");
    for name in [
        "authorization",
        "cookie",
        "x-api-key",
        "x-csrf-token",
        "csrf-token",
    ] {
        assert!(
            !req.headers.contains_key(name),
            "{system}: media_request sends {name} to another host"
        );
    }
    fx.shutdown().await;
}

/// A 429 is an answer to a request the server did not process: whichever request of a
/// `write_fields` meets it, the call is retried to success and the values read back.
pub async fn write_meeting_a_429_succeeds<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let assets = all_assets(&fx).await;
    let id = &assets[0].asset_id;
    for skip in 0..5 {
        if !fx
            .inject(skip, Fault::RateLimited)
            .proceed(&system, "write_meeting_a_429_succeeds")
        {
            break;
        }
        let fields = fx.fields_to_write(10 + skip);
        let written = c
            .write_fields(id, &fields)
            .await
            .unwrap_or_else(|e| panic!("{system}: write_fields with a 429 on request {skip}: {e}"));
        fx.clear_faults();
        assert_holds(&system, "write_fields after a 429", &written, &fields);
        let read = c
            .get_asset(id)
            .await
            .expect("get_asset")
            .expect("the clip exists");
        assert_holds(&system, "get_asset after a 429", &read, &fields);
    }
    fx.shutdown().await;
}

/// Sessions or tokens expired on the server mid-run are renewed without the caller noticing:
/// the next page of a read and a write after a second expiry both succeed (with one new token
/// each, when the emulator counts them).
pub async fn expired_auth_is_renewed<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let first = c
        .changed_assets(&ChangeQuery {
            since: None,
            continuation: None,
            page_size: PAGE,
        })
        .await
        .expect("first page");
    let logins = fx.logins();
    if !fx.expire_auth().proceed(&system, "expired_auth_is_renewed") {
        fx.shutdown().await;
        return;
    }
    let next = c
        .changed_assets(&ChangeQuery {
            since: None,
            continuation: first.continuation.clone(),
            page_size: PAGE,
        })
        .await
        .expect("the next page after the token expired");
    assert!(!next.items.is_empty(), "{system}: the next page has clips");
    assert!(fx.expire_auth() == Applies::Yes, "{system}: expires again");
    let id = &first.items[0].asset_id;
    let fields = fx.fields_to_write(0);
    let written = c
        .write_fields(id, &fields)
        .await
        .expect("a write after the token expired");
    assert_holds(&system, "write after expiry", &written, &fields);
    if let (Some(before), Some(after)) = (logins, fx.logins()) {
        assert_eq!(
            after - before,
            2,
            "{system}: one new token per expiry (before {before}, after {after})"
        );
    }
    fx.shutdown().await;
}

/// A read answered with a body that is not valid JSON fails with
/// [`ConnectorError::Malformed`](partreel_connector::ConnectorError::Malformed) naming the
/// system and the request (no panic, no empty page taken for the end of the feed); the next
/// read succeeds.
pub async fn malformed_answer_is_a_typed_error<F: DamFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let q = ChangeQuery {
        since: None,
        continuation: None,
        page_size: PAGE,
    };
    // Sign in first, so the broken answer is the data read's.
    let first = c.changed_assets(&q).await.expect("a first page");
    if !fx
        .malformed_next(1)
        .proceed(&system, "malformed_answer_is_a_typed_error")
    {
        fx.shutdown().await;
        return;
    }
    let err = c
        .changed_assets(&q)
        .await
        .expect_err("changed_assets on a malformed answer must fail");
    assert_malformed(&system, "changed_assets", &err);
    assert!(
        !err.is_record_error(),
        "{system}: a malformed page is not one clip's error"
    );
    let page = c.changed_assets(&q).await.expect("the next read succeeds");
    assert!(!page.items.is_empty(), "{system}: the next page has clips");
    assert!(
        fx.malformed_next(1) == Applies::Yes,
        "{system}: armed again"
    );
    let err = c
        .get_asset(&first.items[0].asset_id)
        .await
        .expect_err("get_asset on a malformed answer must fail");
    assert_malformed(&system, "get_asset", &err);
    // A write confirmed by a malformed read-back is not taken as done.
    assert!(
        fx.malformed_next(1) == Applies::Yes,
        "{system}: armed again"
    );
    let fields = fx.fields_to_write(7);
    match c.write_fields(&first.items[0].asset_id, &fields).await {
        Ok(written) => assert_holds(&system, "write_fields", &written, &fields),
        Err(e) => assert_malformed(&system, "write_fields", &e),
    }
    fx.clear_faults();
    fx.shutdown().await;
}

/// Writes one `#[tokio::test]` per DAM contract item for the fixture type given, in a module
/// `dam_compliance`. Needs `tokio` (features `macros`, `rt`) among the caller's
/// dev-dependencies.
#[macro_export]
macro_rules! dam_compliance {
    ($fixture:ty) => {
        mod dam_compliance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::compliance::dam;

            #[tokio::test]
            async fn assets_feed_pages_without_loss_or_duplicates() {
                dam::assets_feed_pages_without_loss_or_duplicates::<$fixture>().await;
            }

            #[tokio::test]
            async fn assets_feed_since_bound_and_resume() {
                dam::assets_feed_since_bound_and_resume::<$fixture>().await;
            }

            #[tokio::test]
            async fn assets_feed_ties_larger_than_a_page() {
                dam::assets_feed_ties_larger_than_a_page::<$fixture>().await;
            }

            #[tokio::test]
            async fn get_asset_finds_one_and_none_when_missing() {
                dam::get_asset_finds_one_and_none_when_missing::<$fixture>().await;
            }

            #[tokio::test]
            async fn metadata_write_reads_back() {
                dam::metadata_write_reads_back::<$fixture>().await;
            }

            #[tokio::test]
            async fn batched_metadata_writes_read_back() {
                dam::batched_metadata_writes_read_back::<$fixture>().await;
            }

            #[tokio::test]
            async fn download_gives_the_original_file() {
                dam::download_gives_the_original_file::<$fixture>().await;
            }

            #[tokio::test]
            async fn archived_clips_stay_in_the_feed_flagged() {
                dam::archived_clips_stay_in_the_feed_flagged::<$fixture>().await;
            }

            #[tokio::test]
            async fn refused_credentials_are_an_auth_error() {
                dam::refused_credentials_are_an_auth_error::<$fixture>().await;
            }

            #[tokio::test]
            async fn transient_faults_are_retried_and_counted() {
                dam::transient_faults_are_retried_and_counted::<$fixture>().await;
            }

            #[tokio::test]
            async fn schema_names_what_the_connector_writes() {
                dam::schema_names_what_the_connector_writes::<$fixture>().await;
            }

            #[tokio::test]
            async fn media_request_sends_no_credential_to_another_host() {
                dam::media_request_sends_no_credential_to_another_host::<$fixture>().await;
            }

            #[tokio::test]
            async fn write_meeting_a_429_succeeds() {
                dam::write_meeting_a_429_succeeds::<$fixture>().await;
            }

            #[tokio::test]
            async fn expired_auth_is_renewed() {
                dam::expired_auth_is_renewed::<$fixture>().await;
            }

            #[tokio::test]
            async fn malformed_answer_is_a_typed_error() {
                dam::malformed_answer_is_a_typed_error::<$fixture>().await;
            }
        }
    };
}
