//! The Siemens Teamcenter emulator: SOA services over JSON/REST (login with the `JSESSIONID`
//! cookie, business object queries, `loadObjects` under object property policies,
//! `getItemFromId`, clip records related to item revisions by GRM relations, partial errors,
//! type descriptions), following docs/wire/teamcenter.md.
//!
//! Standalone for now: [`start`] binds `127.0.0.1:0`, seeds the store and serves with the shared
//! framework (sim clock, faults — `expire_sessions` makes the next call answer with the
//! `InvalidUserException` body —, rate limit, request log, `/__sim/` control routes).

mod ops;
mod query;
mod routes;
mod schema;
mod store;
mod story;
mod write;

#[cfg(test)]
mod tests;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::control::{self, ControlState};
use crate::framework::clock::{SimClock, lock};
use crate::framework::faults::FaultControl;
use crate::framework::ratelimit::RateLimit;
use crate::framework::reqlog::{RequestLog, System};
use crate::framework::server::{self, Framework};
use crate::sim::Emulator;

pub use routes::BASE_PATH;
use routes::TcState;
use store::{Injected, TcStore};

/// How long `shutdown` waits for open connections before it stops the server anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What to seed and how to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamcenterSimConfig {
    /// Generated item revisions (beyond the story).
    pub parts: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Seed the Stunt Track story first.
    pub story: bool,
    /// Rate limit from the start.
    pub rate_limit: Option<RateLimit>,
    /// The user the emulator accepts.
    pub username: String,
    /// That user's password.
    pub password: String,
}

impl Default for TeamcenterSimConfig {
    /// Just the story, seed 42, no rate limit, user `partreel` / `partreel-sim`.
    fn default() -> Self {
        TeamcenterSimConfig {
            parts: 0,
            seed: 42,
            story: true,
            rate_limit: None,
            username: "partreel".into(),
            password: "partreel-sim".into(),
        }
    }
}

/// An item revision as the emulator holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRevision {
    /// UID.
    pub uid: String,
    /// Item id (part number).
    pub item_id: String,
    /// Revision id.
    pub revision: String,
    /// `object_name`.
    pub name: String,
    /// Release status names (empty: in work).
    pub status: Vec<String>,
    /// `last_mod_date`.
    pub modified: DateTime<Utc>,
}

/// A clip record as the emulator holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRecord {
    /// UID.
    pub uid: String,
    /// Its string properties (`object_name`, `ptp_link_id`, …).
    pub props: std::collections::BTreeMap<String, String>,
    /// `last_mod_date`.
    pub modified: DateTime<Utc>,
}

/// A GRM relation: item revision (primary) → record (secondary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRelation {
    /// Relation UID.
    pub uid: String,
    /// Item revision UID.
    pub primary: String,
    /// Record UID.
    pub secondary: String,
}

/// The running Teamcenter emulator.
pub struct TeamcenterSim {
    /// URL, fault switchboard and request log; `url` is the web tier root (`…/tc`).
    pub emulator: Emulator,
    /// The shared clock.
    pub clock: SimClock,
    store: Arc<Mutex<TcStore>>,
    config: TeamcenterSimConfig,
    server: (oneshot::Sender<()>, JoinHandle<()>),
}

impl std::fmt::Debug for TeamcenterSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamcenterSim")
            .field("url", &self.emulator.url)
            .finish_non_exhaustive()
    }
}

/// Binds `127.0.0.1:0`, seeds the store and serves in a background task.
pub async fn start(config: TeamcenterSimConfig, clock: SimClock) -> io::Result<TeamcenterSim> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let root = format!("http://{}", listener.local_addr()?);
    let mut tc = TcStore::default();
    let anchor = crate::seed::anchor(clock.now());
    story::seed(&mut tc, config.parts, config.story, config.seed, anchor);
    let store = Arc::new(Mutex::new(tc));
    let hook_store = store.clone();
    let faults = FaultControl::new(
        config.rate_limit,
        Arc::new(move || lock(&hook_store).expire_sessions()),
    );
    let emulator = Emulator {
        url: format!("{root}{BASE_PATH}"),
        root,
        faults: faults.clone(),
        log: RequestLog::default(),
    };
    let fw = Framework {
        system: System::Teamcenter,
        clock: clock.clone(),
        faults,
        log: emulator.log.clone(),
        is_data_read: routes::is_data_read,
    };
    let st = TcState {
        store: store.clone(),
        user: config.username.clone().into(),
        password: config.password.clone().into(),
        clock: clock.clone(),
    };
    let control = control::router(ControlState {
        faults: fw.faults.clone(),
        log: fw.log.clone(),
        clock: clock.clone(),
    });
    let app = server::wrap(routes::router(st).merge(control), fw);
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.await;
        };
        if let Err(e) = server::serve(listener, app, stop).await {
            tracing::warn!(error = %e, "teamcenter emulator stopped");
        }
    });
    Ok(TeamcenterSim {
        emulator,
        clock,
        store,
        config,
        server: (tx, handle),
    })
}

impl TeamcenterSim {
    /// The web tier root a connector is configured with (`http://127.0.0.1:PORT/tc`).
    pub fn url(&self) -> &str {
        &self.emulator.url
    }

    /// The user and password the emulator accepts.
    pub fn credentials(&self) -> (String, String) {
        (self.config.username.clone(), self.config.password.clone())
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u64 {
        lock(&self.store).logins
    }

    /// The live `JSESSIONID`s (read them before `expire_sessions`).
    pub fn session_ids(&self) -> Vec<String> {
        lock(&self.store).session_ids()
    }

    /// Drops every session: the next call of each client answers `InvalidUserException`.
    pub fn expire_sessions(&self) {
        self.emulator.faults.expire_sessions();
    }

    /// The next `createRelations` element whose `clientId` (or index, as text) is `key` fails
    /// with a partial error carrying `message`; the other elements of that call go through.
    pub fn fail_next_relation(&self, key: &str, message: &str) {
        lock(&self.store).fail_relation.push(Injected {
            key: key.into(),
            message: message.into(),
        });
    }

    /// Like [`Self::fail_next_relation`], for `createRelateAndSubmitObjects2`.
    pub fn fail_next_create(&self, key: &str, message: &str) {
        lock(&self.store).fail_create.push(Injected {
            key: key.into(),
            message: message.into(),
        });
    }

    /// Every item revision, in `(last_mod_date, uid)` order.
    pub fn revisions(&self) -> Vec<SimRevision> {
        let store = lock(&self.store);
        store
            .revision_keys()
            .iter()
            .filter_map(|(_, uid)| store.revisions.get(uid))
            .map(|r| SimRevision {
                uid: r.uid.clone(),
                item_id: r.item_id.clone(),
                revision: r.revision.clone(),
                name: r.name.clone(),
                status: r.status.clone(),
                modified: r.modified,
            })
            .collect()
    }

    /// Every clip record, in creation order.
    pub fn forms(&self) -> Vec<SimRecord> {
        lock(&self.store)
            .all_records()
            .into_iter()
            .map(|r| SimRecord {
                uid: r.uid.clone(),
                props: r.props.clone(),
                modified: r.modified,
            })
            .collect()
    }

    /// Every GRM relation.
    pub fn relations(&self) -> Vec<SimRelation> {
        lock(&self.store)
            .relations
            .values()
            .map(|r| SimRelation {
                uid: r.uid.clone(),
                primary: r.primary.clone(),
                secondary: r.secondary.clone(),
            })
            .collect()
    }

    /// Makes a new revision of the item's latest one (no release status, modified now);
    /// returns its revision id, or None for an unknown item.
    pub fn revise(&self, item_id: &str) -> Option<String> {
        let now = self.clock.now();
        let mut store = lock(&self.store);
        let (_, revs) = store.item(item_id)?.clone();
        let latest = revs
            .iter()
            .filter_map(|u| store.revisions.get(u))
            .max_by(|a, b| a.revision.cmp(&b.revision))?
            .clone();
        let next = latest
            .revision
            .chars()
            .last()
            .and_then(|c| char::from_u32(c as u32 + 1))
            .map_or_else(|| format!("{}A", latest.revision), |c| c.to_string());
        let rev = store::Revision {
            revision: next.clone(),
            status: Vec::new(),
            created: now,
            modified: now,
            ..latest
        };
        store.add_revision(rev);
        Some(next)
    }

    /// Sets (or with None clears) a property of an item revision (`object_name`,
    /// `release_status_list` as a status name, or a string property such as `c9_sku`) and
    /// stamps it modified now; false when the revision is unknown.
    pub fn edit_revision(
        &self,
        item_id: &str,
        revision: &str,
        prop: &str,
        value: Option<&str>,
    ) -> bool {
        let now = self.clock.now();
        let mut store = lock(&self.store);
        let Some(uid) = store.item(item_id).and_then(|(_, revs)| {
            revs.iter()
                .find(|u| {
                    store
                        .revisions
                        .get(*u)
                        .is_some_and(|r| r.revision == revision)
                })
                .cloned()
        }) else {
            return false;
        };
        store.edit_revision(&uid, |r| {
            match (prop, value) {
                ("object_name", v) => r.name = v.unwrap_or_default().to_owned(),
                ("release_status_list", v) => {
                    r.status = v.map(|s| vec![s.to_owned()]).unwrap_or_default()
                }
                (p, Some(v)) => {
                    r.props.insert(p.to_owned(), v.to_owned());
                }
                (p, None) => {
                    r.props.remove(p);
                }
            }
            r.modified = now;
        })
    }

    /// Sets (or clears) a property of a clip record, as an engineer editing it in Teamcenter
    /// would; false when the record is unknown.
    pub fn edit_form(&self, uid: &str, prop: &str, value: Option<&str>) -> bool {
        let now = self.clock.now();
        lock(&self.store).edit_record(uid, |r| {
            match value {
                Some(v) => r.props.insert(prop.to_owned(), v.to_owned()),
                None => r.props.remove(prop),
            };
            r.modified = now;
        })
    }

    /// Copies a clip record under a new uid, related to the same item revisions, modified now
    /// (so the next incremental read sees it): a duplicate as a person copying the record, or
    /// an older partreel, would leave. `older` backdates the copy's `creation_date` a minute
    /// before the original's, so the copy is the one to keep. Returns the copy's uid, None
    /// for an unknown record.
    pub fn duplicate_record(&self, uid: &str, older: bool) -> Option<String> {
        self.copy_record(uid, None, older)
    }

    /// Copies a clip record under a new uid whose link id property (`ptp_link_id`) is
    /// `link_id`, related to every item revision the original is related to, modified now: a
    /// second record for the same clip and part revision made by hand under another link id.
    /// `created` is a minute before the original's when `older`, else now. Returns the copy's
    /// uid, None for an unknown record.
    pub fn copy_record_as(&self, uid: &str, link_id: &str, older: bool) -> Option<String> {
        self.copy_record(uid, Some(link_id), older)
    }

    /// The copy behind [`Self::duplicate_record`] and [`Self::copy_record_as`].
    fn copy_record(&self, uid: &str, link_id: Option<&str>, older: bool) -> Option<String> {
        let now = self.clock.now();
        let mut store = lock(&self.store);
        let original = store.records.get(uid)?.created;
        let created = if older {
            original - chrono::Duration::seconds(60)
        } else {
            now
        };
        store.duplicate_record(uid, link_id, created, now)
    }

    /// Gives these revisions or records one modification time (to build tie groups).
    pub fn set_same_modified(&self, uids: &[String], at: DateTime<Utc>) {
        let mut store = lock(&self.store);
        for uid in uids {
            if !store.edit_revision(uid, |r| r.modified = at) {
                store.edit_record(uid, |r| r.modified = at);
            }
        }
    }

    /// Stops the server (waiting briefly for open connections).
    pub async fn shutdown(self) {
        let (tx, handle) = self.server;
        let _ = tx.send(());
        let abort = handle.abort_handle();
        if tokio::time::timeout(SHUTDOWN_GRACE, handle).await.is_err() {
            abort.abort();
        }
    }
}
