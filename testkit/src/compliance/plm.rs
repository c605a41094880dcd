//! The PLM half of the compliance suite: [`PlmFixture`], the contract items a
//! [`PlmConnector`] must keep against its emulator, and [`plm_compliance!`](crate::plm_compliance)
//! that writes one test per item.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use partreel_connector::PlmConnector;
use partreel_connector::connector::{ChangeQuery, LinkUpdate, NewLink};
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};

use super::{
    Applies, Fault, PAGE, RECORDS, assert_auth, assert_malformed, assert_server_time,
    assert_writable, exactly_once, follow, ids, keyset_walk, retried_reads,
};

/// What the suite needs of a PLM connector and its emulator. Implemented in the connector
/// crate's `tests/compliance.rs`.
// The suite runs each item on its test's own runtime; no fixture future crosses threads, so
// the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait PlmFixture: Sized {
    /// The connector under test.
    type Connector: PlmConnector;

    /// Starts the emulator with at least `parts` part revisions (besides any story it seeds)
    /// and builds the connector on it, with short retry back-offs and no client rate limit to
    /// speak of. Panics (with a message) when it cannot.
    async fn start(parts: usize) -> Self;

    /// The connector on the emulator.
    fn connector(&self) -> &Self::Connector;

    /// Another connector on the same emulator, configured like the first but with a password
    /// or secret the emulator refuses.
    fn with_wrong_secret(&self) -> Self::Connector;

    /// The emulator's clock now.
    fn now(&self) -> DateTime<Utc>;

    /// The emulator's ids (as [`PartRevision::remote_id`]) of every part revision the change
    /// feed serves, read from the emulator's store, not through the connector.
    fn part_ids(&self) -> Vec<String>;

    /// The link record property that holds the link status (`active`, `retired`, …).
    fn status_field(&self) -> String;

    /// Fields of the `i`th link the suite creates: at least the status field, `active`.
    fn link_fields(&self, i: usize) -> RemoteFields;

    /// Moves the emulator's clock forward.
    fn advance_clock(&self, secs: u64);

    /// Edits the part revision on the emulator as an engineer would, so its modification time
    /// becomes the emulator's now.
    fn touch_part(&self, part: &PartRevision);

    /// Gives these part revisions (emulator ids) one modification time: a tie group.
    fn set_same_modified(&self, part_ids: &[String], at: DateTime<Utc>);

    /// Expires every session or token the emulator issued, so the next call meets the
    /// system's "not signed in" answer.
    fn expire_auth(&self) -> Applies;

    /// Makes the next `n` data reads answer 200 with a body that is not valid JSON.
    fn malformed_next(&self, n: usize) -> Applies;

    /// Lets the next `skip` requests pass, then fails the one after with `fault`.
    fn inject(&self, skip: usize, fault: Fault) -> Applies;

    /// Removes every fault armed and not yet spent.
    fn clear_faults(&self);

    /// Logins (sessions or tokens issued) so far, when the emulator counts them.
    fn logins(&self) -> Option<u64> {
        None
    }

    /// Stops the emulator.
    async fn shutdown(self);
}

/// Every part revision, following continuations of one query from the start.
async fn all_parts<F: PlmFixture>(fx: &F) -> Vec<PartRevision> {
    let c = fx.connector();
    let pages = follow(c.system(), "changed_parts", None, |q| async move {
        c.changed_parts(&q).await
    })
    .await;
    exactly_once(c.system(), "changed_parts", &pages)
}

/// Every link record, following continuations of one query from `since`.
async fn all_links<F: PlmFixture>(fx: &F, since: Option<DateTime<Utc>>) -> Vec<RemoteLink> {
    let c = fx.connector();
    let pages = follow(c.system(), "changed_links", since, |q| async move {
        c.changed_links(&q).await
    })
    .await;
    exactly_once(c.system(), "changed_links", &pages)
}

/// The deterministic id of the suite's `i`th link on `part`.
fn link_id(system: &str, part: &PartRevision, i: usize) -> LinkId {
    LinkId::new(
        "compliance-dam",
        &format!("clip-{i}"),
        system,
        &part.number,
        &part.revision,
    )
}

/// Creates `n` links, spread over `parts`, in batches of the connector's `max_batch`.
async fn create_links<F: PlmFixture>(fx: &F, parts: &[PartRevision], n: usize) -> Vec<RemoteLink> {
    let c = fx.connector();
    let batch: Vec<NewLink> = (0..n)
        .map(|i| {
            let part = &parts[i % parts.len()];
            NewLink {
                part: part.clone(),
                link_id: link_id(c.system(), part, i),
                fields: fx.link_fields(i),
                prior_attempt: false,
            }
        })
        .collect();
    let mut out = Vec::new();
    for chunk in batch.chunks(c.max_batch().max(1)) {
        let results = c.create_links(chunk).await;
        assert_eq!(
            results.len(),
            chunk.len(),
            "{}: create_links gives one result per input",
            c.system()
        );
        for (n, r) in chunk.iter().zip(results) {
            let link = r.unwrap_or_else(|e| panic!("{}: create {}: {e}", c.system(), n.link_id));
            assert_eq!(link.link_id, n.link_id, "{}: created link's id", c.system());
            out.push(link);
        }
    }
    out
}

fn one_second() -> TimeDelta {
    TimeDelta::seconds(1)
}

/// The part feed, read by continuations with a page size of [`PAGE`], serves every part
/// revision the emulator holds exactly once, oldest first, in more than one page.
pub async fn parts_feed_pages_without_loss_or_duplicates<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let pages = follow(&system, "changed_parts", None, |q| async move {
        c.changed_parts(&q).await
    })
    .await;
    assert!(
        pages.len() > 2,
        "{system}: {} part revisions fit in {} pages of {PAGE}",
        fx.part_ids().len(),
        pages.len()
    );
    assert_server_time(&system, "changed_parts", pages[0].server_time, fx.now());
    let parts = exactly_once(&system, "changed_parts", &pages);
    let want: BTreeSet<String> = fx.part_ids().into_iter().collect();
    assert_eq!(
        ids(&parts),
        want,
        "{system}: the feed serves every part revision the emulator holds"
    );
    assert!(
        parts.iter().all(|p| p.system == system),
        "{system}: every part names its system"
    );
    fx.shutdown().await;
}

/// `since` is "modified at or after": a query from one record's time serves exactly the
/// records modified then or later; a query from just after the newest time serves nothing
/// until a part is edited, and then exactly that part (a cursor resumes where it left off).
pub async fn parts_feed_since_bound_and_resume<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let mid = &parts[parts.len() / 2];
    let pages = follow(
        &system,
        "changed_parts since",
        Some(mid.modified),
        |q| async move { c.changed_parts(&q).await },
    )
    .await;
    let later = exactly_once(&system, "changed_parts since", &pages);
    let want: BTreeSet<String> = parts
        .iter()
        .filter(|p| p.modified >= mid.modified)
        .map(|p| p.remote_id.clone())
        .collect();
    assert_eq!(
        ids(&later),
        want,
        "{system}: since = {} serves the records modified at or after it",
        mid.modified
    );
    let cursor = parts.iter().map(|p| p.modified).max().expect("parts") + one_second();
    let nothing = c
        .changed_parts(&ChangeQuery {
            since: Some(cursor),
            continuation: None,
            page_size: PAGE,
        })
        .await
        .expect("feed after the newest record");
    assert!(
        nothing.items.is_empty(),
        "{system}: nothing changed after {cursor}, the feed served {:?}",
        ids(&nothing.items)
    );
    fx.advance_clock(60);
    let edited = &parts[1];
    fx.touch_part(edited);
    let pages = follow(
        &system,
        "changed_parts resumed",
        Some(cursor),
        |q| async move { c.changed_parts(&q).await },
    )
    .await;
    let resumed = exactly_once(&system, "changed_parts resumed", &pages);
    assert_eq!(
        ids(&resumed),
        BTreeSet::from([edited.remote_id.clone()]),
        "{system}: resuming from the cursor serves the one part edited since"
    );
    assert!(resumed[0].modified >= cursor, "{system}: its new time");
    fx.shutdown().await;
}

/// More records than a page share one modification time: reading as the engine does (the
/// query restarted from the newest time seen, the server's continuation followed while one
/// time fills a page) still reaches every part revision.
pub async fn parts_feed_ties_larger_than_a_page<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let tie: Vec<String> = parts
        .iter()
        .skip(1)
        .take(2 * PAGE as usize + 1)
        .map(|p| p.remote_id.clone())
        .collect();
    fx.set_same_modified(&tie, parts[1].modified);
    let read = keyset_walk(&system, "changed_parts", |q| async move {
        c.changed_parts(&q).await
    })
    .await;
    assert_eq!(
        ids(&read),
        ids(&parts),
        "{system}: a tie group of {} records (pages of {PAGE}) is read to its end",
        tie.len()
    );
    fx.shutdown().await;
}

/// `parts_by_number` gives every revision of the numbers asked for (and nothing for a number
/// the system does not hold); `pick` finds one by number and revision.
pub async fn parts_by_number_gives_every_revision<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let numbers: Vec<String> = parts
        .iter()
        .take(3)
        .map(|p| p.number.clone())
        .chain(["NO-SUCH-PART-4711".to_string()])
        .collect();
    let found = c.parts_by_number(&numbers).await.expect("parts_by_number");
    let want: BTreeSet<String> = parts
        .iter()
        .filter(|p| numbers.contains(&p.number))
        .map(|p| p.remote_id.clone())
        .collect();
    assert_eq!(ids(&found), want, "{system}: every revision of {numbers:?}");
    let key = partreel_connector::model::PartKey {
        number: parts[0].number.clone(),
        revision: parts[0].revision.clone(),
    };
    let picked = c.pick(&found, &key).expect("pick finds the revision");
    assert_eq!(picked.remote_id, parts[0].remote_id, "{system}: pick");
    fx.shutdown().await;
}

/// Created link records come through the link feed in pages of [`PAGE`] without loss or
/// duplicates, each carrying its link id; `since` is "at or after"; after an update, the feed
/// resumed from the cursor serves exactly the updated record.
pub async fn links_feed_pages_and_resumes<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let created = create_links(&fx, &parts, 2 * PAGE as usize + 1).await;
    let read = all_links(&fx, None).await;
    let read_ids = ids(&read);
    for l in &created {
        assert!(
            read_ids.contains(&l.remote_id),
            "{system}: created link {} ({}) is not in the link feed",
            l.link_id,
            l.remote_id
        );
    }
    assert!(
        read.iter().all(|l| !l.link_id.as_str().is_empty()),
        "{system}: every record of the link feed carries a link id"
    );
    let mid = &read[read.len() / 2];
    let later = all_links(&fx, Some(mid.modified)).await;
    let want: BTreeSet<String> = read
        .iter()
        .filter(|l| l.modified >= mid.modified)
        .map(|l| l.remote_id.clone())
        .collect();
    assert_eq!(
        ids(&later),
        want,
        "{system}: since = {} serves the link records modified at or after it",
        mid.modified
    );
    let cursor = read.iter().map(|l| l.modified).max().expect("links") + one_second();
    fx.advance_clock(60);
    let status = fx.status_field();
    let target = &created[1];
    c.update_link(
        target,
        &RemoteFields::from([(status.clone(), "non_compliant".to_string())]),
    )
    .await
    .expect("update_link");
    let resumed = all_links(&fx, Some(cursor)).await;
    assert_eq!(
        ids(&resumed),
        BTreeSet::from([target.remote_id.clone()]),
        "{system}: resuming the link feed from the cursor serves the one record updated since"
    );
    assert_eq!(
        resumed[0].fields.get(&status).map(String::as_str),
        Some("non_compliant"),
        "{system}: the feed serves the updated status"
    );
    fx.shutdown().await;
}

/// Creating a link with the same link id twice (one by one and through the batch call) leaves
/// one record: the second call finds the first, `find_links` and `links_on_part` see it once.
pub async fn create_link_is_idempotent_by_link_id<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let part = &parts[0];
    let id = link_id(&system, part, 0);
    let fields = fx.link_fields(0);
    let first = c
        .create_link(part, &id, &fields)
        .await
        .expect("first create");
    assert_eq!(
        first.link_id, id,
        "{system}: the record carries the link id"
    );
    let second = c
        .create_link(part, &id, &fields)
        .await
        .expect("second create");
    assert_eq!(
        second.remote_id, first.remote_id,
        "{system}: creating link {id} again returns the first record"
    );
    let batch = c
        .create_links(&[NewLink {
            part: part.clone(),
            link_id: id.clone(),
            fields: fields.clone(),
            // The engine flags a link whose earlier attempt may have landed: the connector
            // must look for it before creating.
            prior_attempt: true,
        }])
        .await;
    let third = batch
        .into_iter()
        .next()
        .expect("one result")
        .expect("batch create");
    assert_eq!(
        third.remote_id, first.remote_id,
        "{system}: create_links with an existing link id returns the first record"
    );
    let found = c
        .find_links(std::slice::from_ref(&id))
        .await
        .expect("find_links");
    assert_eq!(
        ids(&found),
        BTreeSet::from([first.remote_id.clone()]),
        "{system}: one record carries link {id}"
    );
    let on_part = c
        .links_on_part(&part.remote_id)
        .await
        .expect("links_on_part");
    let mine: Vec<&RemoteLink> = on_part.iter().filter(|l| l.link_id == id).collect();
    assert_eq!(mine.len(), 1, "{system}: links_on_part sees link {id} once");
    assert_eq!(
        mine[0].part_remote_id.as_deref(),
        Some(part.remote_id.as_str()),
        "{system}: links_on_part sets part_remote_id"
    );
    let unknown = LinkId("ptp-000000000000000000000000".into());
    let none = c
        .find_links(std::slice::from_ref(&unknown))
        .await
        .expect("find_links of an unknown id");
    assert!(none.is_empty(), "{system}: no record carries {unknown}");
    fx.shutdown().await;
}

/// Retiring a link (writing `retired` to its status field) keeps the record, and it reads back
/// retired, through the update's answer and through `find_links`, its other fields intact.
pub async fn retire_reads_back_retired<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let link = create_links(&fx, &parts, 1).await.remove(0);
    let status = fx.status_field();
    let retired = c
        .update_link(
            &link,
            &RemoteFields::from([(status.clone(), "retired".to_string())]),
        )
        .await
        .expect("retire");
    assert_eq!(
        retired.fields.get(&status).map(String::as_str),
        Some("retired"),
        "{system}: the update answers the retired record"
    );
    let found = c
        .find_links(std::slice::from_ref(&link.link_id))
        .await
        .expect("find_links");
    assert_eq!(found.len(), 1, "{system}: the retired record stays");
    assert_eq!(
        found[0].fields.get(&status).map(String::as_str),
        Some("retired"),
        "{system}: the record reads back retired"
    );
    for (k, v) in fx.link_fields(0) {
        if k != status {
            assert_eq!(
                found[0].fields.get(&k),
                Some(&v),
                "{system}: retiring leaves {k} as it was"
            );
        }
    }
    fx.shutdown().await;
}

/// `update_links` gives one result per input, in order, each the record as written;
/// `ensure_attached` on a record already attached changes nothing (`links_on_part` still sees
/// it once).
pub async fn update_links_in_order_and_ensure_attached_is_idempotent<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let links = create_links(&fx, &parts, 3).await;
    let status = fx.status_field();
    let values = ["non_compliant", "rights_expired", "active"];
    let batch: Vec<LinkUpdate> = links
        .iter()
        .zip(values)
        .map(|(l, v)| LinkUpdate {
            link: l.clone(),
            fields: RemoteFields::from([(status.clone(), v.to_string())]),
        })
        .collect();
    let results = c.update_links(&batch).await;
    assert_eq!(results.len(), 3, "{system}: one result per update");
    for ((r, l), v) in results.into_iter().zip(&links).zip(values) {
        let r = r.unwrap_or_else(|e| panic!("{system}: update {}: {e}", l.link_id));
        assert_eq!(r.remote_id, l.remote_id, "{system}: results in input order");
        assert_eq!(
            r.fields.get(&status).map(String::as_str),
            Some(v),
            "{system}: update of {} answers what was written",
            l.link_id
        );
    }
    let part = &parts[0];
    c.ensure_attached(part, &links[0])
        .await
        .expect("ensure_attached on an attached record");
    let on_part = c
        .links_on_part(&part.remote_id)
        .await
        .expect("links_on_part");
    let mine = on_part
        .iter()
        .filter(|l| l.link_id == links[0].link_id)
        .count();
    assert_eq!(
        mine, 1,
        "{system}: ensure_attached leaves link {} attached once",
        links[0].link_id
    );
    fx.shutdown().await;
}

/// Credentials the system refuses end in
/// [`ConnectorError::Auth`](partreel_connector::ConnectorError::Auth) naming the system (after
/// at most one new sign-in), not in a panic, an HTTP status error or an empty page.
pub async fn refused_credentials_are_an_auth_error<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let wrong = fx.with_wrong_secret();
    let system = wrong.system().to_string();
    let err = wrong
        .changed_parts(&ChangeQuery {
            since: None,
            continuation: None,
            page_size: PAGE,
        })
        .await
        .expect_err("a read with refused credentials must fail");
    assert_auth(&system, "changed_parts", &err);
    assert!(
        !err.is_record_error(),
        "{system}: refused credentials are not one record's error"
    );
    fx.shutdown().await;
}

/// A read that meets a 503, a dropped connection or a 429 is retried and succeeds; `stats`
/// counts the failed attempt and the retry, `rate_limits` the 429.
pub async fn transient_faults_are_retried_and_counted<F: PlmFixture>() {
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
        || c.changed_parts(&q),
    )
    .await;
    fx.shutdown().await;
}

/// `create_link` is safe to call again after an ambiguous failure: whichever of its requests
/// is applied and then cut short, calling it again leaves exactly one record for the link id,
/// attached to the part once `ensure_attached` ran.
pub async fn create_link_cut_short_is_safe_to_repeat<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let part = &parts[0];
    // Sign in first, so the faults meet the creation's own requests.
    c.find_links(&[]).await.expect("a first look-up");
    for skip in 0..6 {
        let i = 100 + skip;
        let id = link_id(&system, part, i);
        let fields = fx.link_fields(i);
        if !fx
            .inject(skip, Fault::CutShort)
            .proceed(&system, "create_link_cut_short_is_safe_to_repeat")
        {
            break;
        }
        let first = c.create_link(part, &id, &fields).await;
        fx.clear_faults();
        let again = c.create_link(part, &id, &fields).await.unwrap_or_else(|e| {
            panic!("{system}: create_link again after request {skip} was cut short: {e}")
        });
        if let Ok(first) = &first {
            assert_eq!(
                first.remote_id, again.remote_id,
                "{system}: request {skip} cut short: both calls answer one record"
            );
        }
        let found = c
            .find_links(std::slice::from_ref(&id))
            .await
            .expect("find_links");
        assert_eq!(
            ids(&found),
            BTreeSet::from([again.remote_id.clone()]),
            "{system}: request {skip} of create_link cut short ({}): one record for link {id}",
            match &first {
                Ok(_) => "the call succeeded".to_string(),
                Err(e) => format!("the call failed: {e}"),
            }
        );
        c.ensure_attached(part, &again)
            .await
            .expect("ensure_attached");
        let on_part = c
            .links_on_part(&part.remote_id)
            .await
            .expect("links_on_part");
        assert_eq!(
            on_part.iter().filter(|l| l.link_id == id).count(),
            1,
            "{system}: request {skip} cut short: link {id} hangs on the part once"
        );
    }
    fx.shutdown().await;
}

/// `schema` names the `part` and `link` entities, with the link properties the suite writes
/// among the link's writable ones; `write_access` answers without failing.
pub async fn schema_names_what_the_connector_writes<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let schema = c.schema().await.expect("schema");
    assert_writable(&system, &schema, "part", &[]);
    let names: Vec<String> = fx.link_fields(0).into_keys().collect();
    assert_writable(&system, &schema, "link", &names);
    c.write_access().await.expect("write_access");
    fx.shutdown().await;
}

/// A 429 is an answer to a request the server did not process: whichever request of a
/// `create_link` meets it, the call is retried to success and leaves one record.
pub async fn create_link_meeting_a_429_succeeds_once<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let part = &parts[1];
    c.find_links(&[]).await.expect("a first look-up");
    for skip in 0..6 {
        let i = 200 + skip;
        let id = link_id(&system, part, i);
        if !fx
            .inject(skip, Fault::RateLimited)
            .proceed(&system, "create_link_meeting_a_429_succeeds_once")
        {
            break;
        }
        let created = c
            .create_link(part, &id, &fx.link_fields(i))
            .await
            .unwrap_or_else(|e| panic!("{system}: create_link with a 429 on request {skip}: {e}"));
        fx.clear_faults();
        let found = c
            .find_links(std::slice::from_ref(&id))
            .await
            .expect("find_links");
        assert_eq!(
            ids(&found),
            BTreeSet::from([created.remote_id.clone()]),
            "{system}: a 429 on request {skip} of create_link: one record for link {id}"
        );
    }
    fx.shutdown().await;
}

/// Sessions or tokens expired on the server mid-run are renewed without the caller noticing:
/// the next page of a read and a write after a second expiry both succeed (with one new login
/// each, when the emulator counts them).
pub async fn expired_auth_is_renewed<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let first = c
        .changed_parts(&ChangeQuery {
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
        .changed_parts(&ChangeQuery {
            since: None,
            continuation: first.continuation.clone(),
            page_size: PAGE,
        })
        .await
        .expect("the next page after the session expired");
    assert!(
        !next.items.is_empty(),
        "{system}: the next page has records"
    );
    let parts = all_parts(&fx).await;
    assert!(fx.expire_auth() == Applies::Yes, "{system}: expires again");
    let link = c
        .create_link(
            &parts[0],
            &link_id(&system, &parts[0], 0),
            &fx.link_fields(0),
        )
        .await
        .expect("a write after the session expired");
    let found = c
        .find_links(std::slice::from_ref(&link.link_id))
        .await
        .expect("find_links");
    assert_eq!(found.len(), 1, "{system}: the write was applied once");
    if let (Some(before), Some(after)) = (logins, fx.logins()) {
        assert_eq!(
            after - before,
            2,
            "{system}: one new login per expiry (before {before}, after {after})"
        );
    }
    fx.shutdown().await;
}

/// A read answered with a body that is not valid JSON fails with
/// [`ConnectorError::Malformed`](partreel_connector::ConnectorError::Malformed) naming the
/// system and the request (no panic, no empty page taken for the end of the feed, no empty
/// answer to a look-up); the next read succeeds.
pub async fn malformed_answer_is_a_typed_error<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let q = ChangeQuery {
        since: None,
        continuation: None,
        page_size: PAGE,
    };
    // Sign in first, so the broken answer is the data read's.
    c.changed_parts(&q).await.expect("a first page");
    if !fx
        .malformed_next(1)
        .proceed(&system, "malformed_answer_is_a_typed_error")
    {
        fx.shutdown().await;
        return;
    }
    let err = c
        .changed_parts(&q)
        .await
        .expect_err("changed_parts on a malformed answer must fail");
    assert_malformed(&system, "changed_parts", &err);
    assert!(
        !err.is_record_error(),
        "{system}: a malformed page is not one record's error"
    );
    let page = c.changed_parts(&q).await.expect("the next read succeeds");
    assert!(
        !page.items.is_empty(),
        "{system}: the next page has records"
    );
    assert!(
        fx.malformed_next(1) == Applies::Yes,
        "{system}: armed again"
    );
    let err = c
        .changed_links(&q)
        .await
        .expect_err("changed_links on a malformed answer must fail");
    assert_malformed(&system, "changed_links", &err);
    assert!(
        fx.malformed_next(1) == Applies::Yes,
        "{system}: armed again"
    );
    let err = c
        .parts_by_number(std::slice::from_ref(&page.items[0].number))
        .await
        .expect_err("parts_by_number on a malformed answer must fail, not find nothing");
    assert_malformed(&system, "parts_by_number", &err);
    assert!(
        fx.malformed_next(1) == Applies::Yes,
        "{system}: armed again"
    );
    let id = link_id(&system, &page.items[0], 0);
    let err = c
        .find_links(std::slice::from_ref(&id))
        .await
        .expect_err("find_links on a malformed answer must fail, not find nothing");
    assert_malformed(&system, "find_links", &err);
    fx.shutdown().await;
}

/// `create_link` looks for the link id before it creates: when that look-up is answered with
/// a malformed body, it fails (or finds the record) and never creates a second record.
pub async fn create_link_after_a_malformed_lookup_leaves_one_record<F: PlmFixture>() {
    let fx = F::start(RECORDS).await;
    let c = fx.connector();
    let system = c.system().to_string();
    let parts = all_parts(&fx).await;
    let first = create_links(&fx, &parts, 1).await.remove(0);
    if !fx.malformed_next(1).proceed(
        &system,
        "create_link_after_a_malformed_lookup_leaves_one_record",
    ) {
        fx.shutdown().await;
        return;
    }
    match c
        .create_link(&parts[0], &first.link_id, &fx.link_fields(0))
        .await
    {
        Ok(again) => assert_eq!(
            again.remote_id, first.remote_id,
            "{system}: create_link after a malformed look-up made a second record"
        ),
        Err(e) => assert_malformed(&system, "create_link", &e),
    }
    let found = c
        .find_links(std::slice::from_ref(&first.link_id))
        .await
        .expect("find_links");
    assert_eq!(
        ids(&found),
        BTreeSet::from([first.remote_id.clone()]),
        "{system}: one record carries link {}",
        first.link_id
    );
    fx.shutdown().await;
}

/// Writes one `#[tokio::test]` per PLM contract item for the fixture type given, in a module
/// `plm_compliance`. Needs `tokio` (features `macros`, `rt`) among the caller's
/// dev-dependencies.
#[macro_export]
macro_rules! plm_compliance {
    ($fixture:ty) => {
        mod plm_compliance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::compliance::plm;

            #[tokio::test]
            async fn parts_feed_pages_without_loss_or_duplicates() {
                plm::parts_feed_pages_without_loss_or_duplicates::<$fixture>().await;
            }

            #[tokio::test]
            async fn parts_feed_since_bound_and_resume() {
                plm::parts_feed_since_bound_and_resume::<$fixture>().await;
            }

            #[tokio::test]
            async fn parts_feed_ties_larger_than_a_page() {
                plm::parts_feed_ties_larger_than_a_page::<$fixture>().await;
            }

            #[tokio::test]
            async fn parts_by_number_gives_every_revision() {
                plm::parts_by_number_gives_every_revision::<$fixture>().await;
            }

            #[tokio::test]
            async fn links_feed_pages_and_resumes() {
                plm::links_feed_pages_and_resumes::<$fixture>().await;
            }

            #[tokio::test]
            async fn create_link_is_idempotent_by_link_id() {
                plm::create_link_is_idempotent_by_link_id::<$fixture>().await;
            }

            #[tokio::test]
            async fn retire_reads_back_retired() {
                plm::retire_reads_back_retired::<$fixture>().await;
            }

            #[tokio::test]
            async fn update_links_in_order_and_ensure_attached_is_idempotent() {
                plm::update_links_in_order_and_ensure_attached_is_idempotent::<$fixture>().await;
            }

            #[tokio::test]
            async fn refused_credentials_are_an_auth_error() {
                plm::refused_credentials_are_an_auth_error::<$fixture>().await;
            }

            #[tokio::test]
            async fn transient_faults_are_retried_and_counted() {
                plm::transient_faults_are_retried_and_counted::<$fixture>().await;
            }

            #[tokio::test]
            async fn create_link_cut_short_is_safe_to_repeat() {
                plm::create_link_cut_short_is_safe_to_repeat::<$fixture>().await;
            }

            #[tokio::test]
            async fn schema_names_what_the_connector_writes() {
                plm::schema_names_what_the_connector_writes::<$fixture>().await;
            }

            #[tokio::test]
            async fn create_link_meeting_a_429_succeeds_once() {
                plm::create_link_meeting_a_429_succeeds_once::<$fixture>().await;
            }

            #[tokio::test]
            async fn expired_auth_is_renewed() {
                plm::expired_auth_is_renewed::<$fixture>().await;
            }

            #[tokio::test]
            async fn malformed_answer_is_a_typed_error() {
                plm::malformed_answer_is_a_typed_error::<$fixture>().await;
            }

            #[tokio::test]
            async fn create_link_after_a_malformed_lookup_leaves_one_record() {
                plm::create_link_after_a_malformed_lookup_leaves_one_record::<$fixture>().await;
            }
        }
    };
}
