//! The Adobe Experience Manager Assets emulator: the Assets HTTP API (Siren JSON under
//! `/api/assets`: folder listings with `srn:paging`, asset reads, metadata `PUT`s), the
//! QueryBuilder JSON servlet (`/bin/querybuilder.json`), original binaries under
//! `/content/dam/…/jcr:content/renditions/original`, and the Adobe IMS token endpoint
//! (`/ims/token/v3`) on the same loopback port — following docs/wire/aem.md.
//!
//! [`start`] seeds it (its own story: a "holiday-gift-guide" campaign about TR-1002 rev A and
//! DL-2040 rev C with a signed, a stripped and an altered clip, plus generated clips about the
//! caller's parts) and serves it with the shared framework (clock, faults, rate limit, request
//! log; `expire_sessions` revokes every IMS token); [`AemSim`] has the inspection and mutation
//! handles. [`crate::Sim`] starts it beside the other emulators.

mod json;
mod query;
pub(crate) mod routes;
mod seed;
pub(crate) mod store;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use partreel_testkit::fixtures::ClipKind;
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
use store::AemStore;

pub use routes::TOKEN_PATH;
pub use seed::{ARCHIVE_PROPERTY, GENERATED_FOLDER, STORY_FOLDER};
pub use store::Asset;

/// How long `shutdown` waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Lifetime of an IMS access token (`expires_in` of the sample response).
pub const TOKEN_LIFETIME_SECS: i64 = 86_399;
/// The default DAM folder of the clips.
pub const DEFAULT_DAM_ROOT: &str = "/content/dam/acme/video-experiments";

/// Credentials the emulator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AemCredentials {
    /// IMS client id.
    pub client_id: String,
    /// IMS client secret.
    pub client_secret: String,
    /// A development bearer token that never expires.
    pub dev_token: String,
}

impl Default for AemCredentials {
    fn default() -> Self {
        AemCredentials {
            client_id: "partreel-sim-aem-client".into(),
            client_secret: "partreel-sim-aem-secret".into(),
            dev_token: "partreel-sim-aem-dev-token".into(),
        }
    }
}

/// What to seed and how to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct AemSimConfig {
    /// The DAM folder of the clips.
    pub dam_root: String,
    /// Seed the story clips.
    pub story: bool,
    /// Parts (number, revision, SKU) the generated clips are about.
    pub parts: Vec<(String, String, String)>,
    /// Generated clips (round-robin over `parts`; none when `parts` is empty).
    pub clips: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Rate limit from the start.
    pub rate_limit: Option<RateLimit>,
    /// Size of each original file.
    pub file_bytes: usize,
    /// Accepted credentials.
    pub credentials: AemCredentials,
    /// Originals need a bearer token, as on an author instance.
    pub originals_require_auth: bool,
    /// `expires_in` of issued IMS tokens.
    pub token_lifetime_secs: i64,
    /// The Granite CSRF filter is on (the default, as on an AEM author): every authenticated
    /// POST, PUT or DELETE needs a `CSRF-Token` from `/libs/granite/csrf/token.json`. Off
    /// models an instance whose filter excludes the caller.
    pub csrf_filter: bool,
    /// Asset entities of the Assets HTTP API carry `jcr:lastModified` (the default). Adobe's
    /// documentation does not promise it; off models an instance whose Siren JSON lacks it
    /// (QueryBuilder hits keep `jcr:content/jcr:lastModified`).
    pub siren_last_modified: bool,
}

impl Default for AemSimConfig {
    fn default() -> Self {
        AemSimConfig {
            dam_root: DEFAULT_DAM_ROOT.into(),
            story: true,
            parts: Vec::new(),
            clips: 0,
            seed: 42,
            rate_limit: None,
            file_bytes: 16 * 1024,
            credentials: AemCredentials::default(),
            originals_require_auth: true,
            token_lifetime_secs: TOKEN_LIFETIME_SECS,
            csrf_filter: true,
            siren_last_modified: true,
        }
    }
}

/// The running emulator.
pub struct AemSim {
    /// URL, faults and request log; `url` is the author instance root (`http://127.0.0.1:PORT`).
    pub emulator: Emulator,
    /// The IMS token URL on the same port (`{url}/ims/token/v3`).
    pub token_url: String,
    /// The DAM folder of the clips.
    pub dam_root: String,
    /// Credentials it accepts.
    pub credentials: AemCredentials,
    /// The shared clock.
    pub clock: SimClock,
    seed: u64,
    store: Arc<Mutex<AemStore>>,
    server: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for AemSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AemSim")
            .field("url", &self.emulator.url)
            .field("dam_root", &self.dam_root)
            .finish_non_exhaustive()
    }
}

/// Seeds the emulator and serves it on `127.0.0.1:0`.
pub async fn start(cfg: AemSimConfig, clock: SimClock) -> std::io::Result<AemSim> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let root = format!("http://{}", listener.local_addr()?);
    let dam_root = cfg.dam_root.trim_end_matches('/').to_owned();
    let mut st = AemStore::new(cfg.file_bytes.max(1));
    let anchor = crate::seed::anchor(clock.now());
    if cfg.story {
        seed::story(&mut st, &dam_root, anchor);
    }
    seed::generated(&mut st, &dam_root, &cfg.parts, cfg.clips, cfg.seed, anchor);
    let store = Arc::new(Mutex::new(st));
    let hook_store = store.clone();
    let faults = FaultControl::new(
        cfg.rate_limit,
        Arc::new(move || lock(&hook_store).drop_sessions()),
    );
    let emulator = Emulator {
        url: root.clone(),
        root: root.clone(),
        faults: faults.clone(),
        log: RequestLog::default(),
    };
    let state = routes::AemState {
        store: store.clone(),
        base: root.clone().into(),
        creds: Arc::new(cfg.credentials.clone()),
        clock: clock.clone(),
        token_lifetime_secs: cfg.token_lifetime_secs,
        originals_require_auth: cfg.originals_require_auth,
        csrf_filter: cfg.csrf_filter,
        siren_last_modified: cfg.siren_last_modified,
    };
    let fw = Framework {
        system: System::Aem,
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
            tracing::warn!(error = %e, "aem emulator stopped");
        }
    });
    Ok(AemSim {
        token_url: format!("{root}{TOKEN_PATH}"),
        emulator,
        dam_root,
        credentials: cfg.credentials,
        clock,
        seed: cfg.seed,
        store,
        server: Some((tx, handle)),
    })
}

impl AemSim {
    /// Adds `count` generated clips about `parts` (number, revision, SKU) under
    /// `{dam_root}/generated/`, modified just before now.
    pub fn seed_clips(&self, parts: &[(String, String, String)], count: usize) {
        let now = self.clock.now();
        let mut store = lock(&self.store);
        seed::generated(&mut store, &self.dam_root, parts, count, self.seed, now);
    }

    /// Every asset path, sorted.
    pub fn asset_paths(&self) -> Vec<String> {
        lock(&self.store).paths()
    }

    /// One asset as the emulator holds it.
    pub fn asset(&self, path: &str) -> Option<Asset> {
        lock(&self.store).get(path).cloned()
    }

    /// Edits one metadata property like a user in the Assets UI ("" removes it); new
    /// `jcr:lastModified`.
    pub fn edit_metadata(&self, path: &str, name: &str, value: &str) -> bool {
        let props = [(name.to_owned(), value.to_owned())].into_iter().collect();
        lock(&self.store).write(path, &props, self.clock.now())
    }

    /// Marks a clip archived (`acme:archived = true`).
    pub fn archive(&self, path: &str) -> bool {
        self.edit_metadata(path, ARCHIVE_PROPERTY, "true")
    }

    /// Deletes an asset (reads answer 404 from now on).
    pub fn delete(&self, path: &str) -> bool {
        lock(&self.store).delete(path)
    }

    /// Re-uploads the original binary as a clip of `kind`: new `dam:sha1`, new
    /// `jcr:lastModified`.
    pub fn replace_file(&self, path: &str, kind: ClipKind) -> bool {
        let now = self.clock.now();
        lock(&self.store).edit(path, |a| {
            a.file = kind;
            a.uploads += 1;
            a.stamp_binary();
            a.modified = now;
        })
    }

    /// Gives these assets one `jcr:lastModified` (to build tie groups).
    pub fn set_same_modified(&self, paths: &[String], at: DateTime<Utc>) {
        let mut store = lock(&self.store);
        for p in paths {
            store.edit(p, |a| a.modified = at);
        }
    }

    /// IMS tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        lock(&self.store).tokens_issued
    }

    /// The IMS access tokens it issued that are still held (so tests can check none reaches a
    /// log; `expire_sessions` forgets them, so read them before).
    pub fn issued_tokens(&self) -> Vec<String> {
        let store = lock(&self.store);
        store
            .tokens
            .keys()
            .chain(store.csrf_tokens.keys())
            .cloned()
            .collect()
    }

    /// Revokes every IMS token (same as `emulator.faults.expire_sessions()`).
    pub fn expire_sessions(&self) {
        lock(&self.store).drop_sessions();
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
