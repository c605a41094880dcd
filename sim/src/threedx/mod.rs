//! The Dassault Systèmes 3DEXPERIENCE emulator: 3DPassport (CAS login, batch-service ticket)
//! and 3DSpace (service-ticket session, agent Basic credentials, `SecurityContext`,
//! `ENO_CSRF_TOKEN`, dseng Engineering Items, documents) on one loopback port, following
//! docs/wire/threedx.md. Passport lives under `/3dpassport`, 3DSpace under `/3dspace`.
//!
//! [`start`] seeds it (its own story family `PL-4001` "Playset garage", rev A Released, rev B In
//! Work, plus generated `PL-`/`PK-` revisions) and serves it with the shared framework (clock,
//! faults, rate limit, request log); [`ThreedxSim`] has the inspection and mutation handles.
//! [`crate::Sim`] starts it beside the other emulators; [`generated_parts`] tells what the
//! generated revisions are, so clips seeded in another emulator can be about them.

mod modeler;
mod passport;
pub(crate) mod routes;
pub(crate) mod seed;
pub mod store;
#[cfg(test)]
mod tests;

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
use store::ThreedxStore;

pub use passport::PASSPORT_PATH;
pub use routes::SPACE_PATH;
pub use seed::generated_parts;

/// How long `shutdown` waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What a request without a live session gets (docs/wire/threedx.md "Expiry and refusal").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryResponse {
    /// `401` with the error envelope.
    #[default]
    Unauthorized,
    /// `302` to `{passport}/login?service=…`.
    LoginRedirect,
}

/// Credentials the emulator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreedxCredentials {
    /// CAS user (also the batch service's `identifier`).
    pub username: String,
    /// CAS password.
    pub password: String,
    /// Batch service name.
    pub service_name: String,
    /// Batch service secret.
    pub service_secret: String,
    /// Agent id (HTTP Basic).
    pub agent_id: String,
    /// Agent secret.
    pub agent_secret: String,
    /// The one `SecurityContext` granted.
    pub security_context: String,
}

impl Default for ThreedxCredentials {
    fn default() -> Self {
        ThreedxCredentials {
            username: "partreel".into(),
            password: "partreel-3dx".into(),
            service_name: "partreel-batch".into(),
            service_secret: "partreel-batch-secret".into(),
            agent_id: "partreel-agent".into(),
            agent_secret: "partreel-agent-secret".into(),
            security_context: "ctx::VPLMProjectLeader.Company Name.Common Space".into(),
        }
    }
}

/// What to seed and how to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreedxSimConfig {
    /// Generated item revisions beyond the story.
    pub parts: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Seed the story family first.
    pub story: bool,
    /// Rate limit from the start.
    pub rate_limit: Option<RateLimit>,
    /// Accepted credentials.
    pub credentials: ThreedxCredentials,
    /// Required `tenant` parameter (None: on-prem, no tenant).
    pub tenant: Option<String>,
    /// What an expired session gets.
    pub expiry: ExpiryResponse,
}

impl Default for ThreedxSimConfig {
    fn default() -> Self {
        ThreedxSimConfig {
            parts: 0,
            seed: 42,
            story: true,
            rate_limit: None,
            credentials: ThreedxCredentials::default(),
            tenant: None,
            expiry: ExpiryResponse::default(),
        }
    }
}

/// The running emulator.
pub struct ThreedxSim {
    /// URL, faults and request log; `url` is the 3DSpace root (`http://127.0.0.1:PORT/3dspace`).
    pub emulator: Emulator,
    /// The 3DPassport root (`http://127.0.0.1:PORT/3dpassport`).
    pub passport_url: String,
    /// Credentials it accepts.
    pub credentials: ThreedxCredentials,
    /// The shared clock.
    pub clock: SimClock,
    store: Arc<Mutex<ThreedxStore>>,
    expiry: Arc<Mutex<ExpiryResponse>>,
    server: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for ThreedxSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreedxSim")
            .field("space", &self.emulator.url)
            .field("passport", &self.passport_url)
            .finish_non_exhaustive()
    }
}

/// Seeds the emulator and serves it on `127.0.0.1:0`.
pub async fn start(cfg: ThreedxSimConfig, clock: SimClock) -> std::io::Result<ThreedxSim> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let root = format!("http://{}", listener.local_addr()?);
    let mut st = ThreedxStore::new();
    seed::seed(&mut st, &cfg, clock.now());
    let store = Arc::new(Mutex::new(st));
    let hook_store = store.clone();
    let faults = FaultControl::new(
        cfg.rate_limit,
        Arc::new(move || lock(&hook_store).expire_sessions()),
    );
    let emulator = Emulator {
        url: format!("{root}{SPACE_PATH}"),
        root: root.clone(),
        faults: faults.clone(),
        log: RequestLog::default(),
    };
    let expiry = Arc::new(Mutex::new(cfg.expiry));
    let state = routes::TxState {
        store: store.clone(),
        clock: clock.clone(),
        creds: Arc::new(cfg.credentials.clone()),
        root: root.clone().into(),
        tenant: cfg.tenant.as_deref().map(Arc::from),
        expiry: expiry.clone(),
    };
    let fw = Framework {
        system: System::Threedx,
        clock: clock.clone(),
        faults,
        log: emulator.log.clone(),
        is_data_read: routes::is_data_read,
    };
    let control = control::router(ControlState {
        faults: fw.faults.clone(),
        log: fw.log.clone(),
        clock: clock.clone(),
    });
    let app = server::wrap(routes::router(state).merge(control), fw);
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.await;
        };
        if let Err(e) = server::serve(listener, app, stop).await {
            tracing::warn!(error = %e, "3dexperience emulator stopped");
        }
    });
    Ok(ThreedxSim {
        emulator,
        passport_url: format!("{root}{PASSPORT_PATH}"),
        credentials: cfg.credentials,
        clock,
        store,
        expiry,
        server: Some((tx, handle)),
    })
}

impl ThreedxSim {
    /// Every document as the API returns it, in id order.
    pub fn documents(&self) -> Vec<serde_json::Value> {
        lock(&self.store)
            .docs
            .values()
            .map(|d| d.to_json())
            .collect()
    }

    /// Every item (Details mask), in id order.
    pub fn items(&self) -> Vec<serde_json::Value> {
        lock(&self.store)
            .items
            .values()
            .map(|i| i.to_json(true))
            .collect()
    }

    /// A new revision of part `number` (next letter, In Work); its id.
    pub fn revise(&self, number: &str) -> Option<String> {
        lock(&self.store).revise(number, self.clock.now())
    }

    /// Edits an item like an engineer would (new `modified` and `cestamp`).
    pub fn edit_item(&self, id: &str, f: impl FnOnce(&mut store::Item)) -> bool {
        lock(&self.store).edit_item(id, self.clock.now(), f)
    }

    /// Copies a document under a new id, under the same parents, modified now (so the next
    /// incremental read sees it): a duplicate as a person copying the document, or an older
    /// partreel, would leave. `older` backdates the copy's `originated` a minute before the
    /// original's, so the copy is the one to keep. Returns the copy's id, None for an unknown
    /// document.
    pub fn duplicate_document(&self, id: &str, older: bool) -> Option<String> {
        self.copy_document(id, None, older)
    }

    /// Copies a document like [`Self::duplicate_document`], but the copy carries `link_id` in
    /// `partreelLinkId` (in its `dataelements`): a second record for the same clip and the same
    /// engineering item(s) under another link id, as a person copying the document and
    /// retyping its id would leave. `older` backdates the copy's `originated` a minute before
    /// the original's, else it is now; `modified` is now either way. Returns the copy's id,
    /// None for an unknown document.
    pub fn copy_document_as(&self, id: &str, link_id: &str, older: bool) -> Option<String> {
        self.copy_document(id, Some(link_id), older)
    }

    /// A copy of document `id` (see [`Self::duplicate_document`]), with `link_id` as its link
    /// id when given.
    fn copy_document(&self, id: &str, link_id: Option<&str>, older: bool) -> Option<String> {
        let now = self.clock.now();
        let mut store = lock(&self.store);
        let original = store.docs.get(id)?.originated;
        let created = if older {
            original - chrono::Duration::seconds(60)
        } else {
            now
        };
        store.duplicate_doc(id, link_id, created, now)
    }

    /// Edits one attribute of a document like a user would (new `modified` and `cestamp`).
    pub fn edit_document(&self, id: &str, attr: &str, value: &str) -> bool {
        lock(&self.store).edit_document(id, attr, value, self.clock.now())
    }

    /// Edits one attribute of a document like another user would (new `modified` and
    /// `cestamp`), right after the next `GET documents/{id}` of it has been answered: a write
    /// based on that read then carries a stale `cestamp`, deterministically (the race between a
    /// client's read and its write, for stale-`cestamp` tests). Several calls queue several
    /// edits for the same read. False (nothing queued) for an unknown id.
    pub fn edit_document_after_next_read(&self, id: &str, attr: &str, value: &str) -> bool {
        let mut store = lock(&self.store);
        if !store.docs.contains_key(id) {
            return false;
        }
        store
            .edits_after_read
            .entry(id.to_string())
            .or_default()
            .push((attr.to_string(), value.to_string()));
        true
    }

    /// While `on`, the link attributes are the `Document` type's own (added to the type, or an
    /// extension the platform applies to every document): every document has them and a create
    /// names no extension. Off (the default) they come with the customer extension
    /// [`store::LINK_EXTENSION`], which a create applies through `dataelements.extensions`.
    /// Set it before documents exist.
    pub fn set_link_attributes_on_type(&self, on: bool) {
        lock(&self.store).link_extension = (!on).then(|| store::LINK_EXTENSION.to_owned());
    }

    /// While `on`, an attribute a document does not have is dropped without a word instead of
    /// refused with `400` — a server that stores what it knows and answers 200 (whether
    /// 3DSpace refuses or drops is not published [INFERRED]; both are modelled).
    pub fn set_ignore_unknown_attributes(&self, on: bool) {
        lock(&self.store).ignore_unknown_attributes = on;
    }

    /// Keeps each new document out of `documents/search` for `lag` after its creation (a 3D
    /// search index that lags the write, docs/wire/threedx.md "Search"); `documents/parentId`
    /// and reads by id see it at once.
    pub fn set_search_lag(&self, lag: std::time::Duration) {
        lock(&self.store).search_lag = lag;
    }

    /// Closes every 3DSpace session (same as `emulator.faults.expire_sessions()`).
    pub fn expire_sessions(&self) {
        lock(&self.store).expire_sessions();
    }

    /// Forgets every CSRF token: the next write of each session is refused.
    pub fn invalidate_csrf(&self) {
        lock(&self.store).invalidate_csrf();
    }

    /// How long a CSRF token is accepted from its issue (real time); None: for the session's
    /// life. A write with an aged-out token is refused with `403` like an unknown one.
    pub fn set_csrf_lifetime(&self, lifetime: Option<Duration>) {
        lock(&self.store).csrf_lifetime = lifetime;
    }

    /// What an expired session gets from now on.
    pub fn set_expiry(&self, e: ExpiryResponse) {
        *lock(&self.expiry) = e;
    }

    /// 3DSpace sessions opened by a login so far.
    pub fn logins(&self) -> u64 {
        lock(&self.store).logins
    }

    /// CSRF tokens issued so far.
    pub fn csrf_issued(&self) -> u64 {
        lock(&self.store).csrf_issued
    }

    /// The live secrets it issued: passport `CASTGC` tickets, 3DSpace session ids and CSRF
    /// tokens (so tests can check none reaches a log; `expire_sessions` forgets the sessions
    /// and tokens, so read them before).
    pub fn issued_secrets(&self) -> Vec<String> {
        let store = lock(&self.store);
        store
            .tgts
            .iter()
            .chain(&store.sessions)
            .chain(store.csrf.values())
            .cloned()
            .collect()
    }

    /// Gives these items or documents (by id) one `modified` time, to build tie groups.
    pub fn set_same_modified(&self, ids: &[String], at: DateTime<Utc>) {
        let mut store = lock(&self.store);
        for id in ids {
            if let Some(item) = store.items.get_mut(id) {
                item.modified = at;
            } else if let Some(doc) = store.docs.get_mut(id) {
                doc.modified = at;
            }
        }
    }

    /// Stops the server (waiting briefly for open connections).
    pub async fn shutdown(mut self) {
        if let Some((tx, handle)) = self.server.take() {
            let _ = tx.send(());
            let abort = handle.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, handle).await.is_err() {
                abort.abort();
            }
        }
    }
}
