//! `Sim`: the Windchill, Teamcenter and Bynder emulators seeded and serving on loopback ports, with the handles tests and the
//! `partreel sim` / `partreel demo` commands use to watch and disturb them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bynder::store::{BynderStore, PropValue};
use crate::bynder::{self, ByState};
use crate::framework::clock::{SimClock, lock};
use crate::framework::faults::FaultControl;
use crate::framework::ratelimit::RateLimit;
use crate::framework::reqlog::{RequestLog, System};
use crate::framework::server::Framework;
use crate::seed;
use crate::teamcenter::{self, TeamcenterSim, TeamcenterSimConfig};
use crate::windchill::store::{WindchillStore, state_display};
use crate::windchill::{self, BASE_PATH, WcState};

/// How long `shutdown` waits for open connections before it stops the servers anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Size of each original file when the config says 0.
const DEFAULT_FILE_BYTES: usize = 16 * 1024;

/// Which PLM emulator holds the generated part revisions (and so which parts the generated
/// Bynder clips are about).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GeneratedPlm {
    /// Windchill: `TR-…`, `DL-…`, `RC-…` parts, one to three revisions each.
    #[default]
    Windchill,
    /// Teamcenter: `ST-4001…` / `SC-4001…` item revisions, rev A each.
    Teamcenter,
}

/// What to seed and how to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Generated part revisions (beyond the story), in the [`Self::generated_plm`].
    pub parts: usize,
    /// The PLM that holds the generated part revisions.
    pub generated_plm: GeneratedPlm,
    /// Generated video clips (beyond the story).
    pub clips: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Seed the demo story (DEMO-SCENARIO.md) first.
    pub story: bool,
    /// Rate limit applied to each emulator from the start.
    pub rate_limit: Option<RateLimit>,
    /// Size of each clip's original file (0: 16 KiB).
    pub file_bytes: usize,
}

impl Default for SimConfig {
    /// Just the story, seed 42, no rate limit.
    fn default() -> Self {
        SimConfig {
            parts: 0,
            generated_plm: GeneratedPlm::Windchill,
            clips: 0,
            seed: 42,
            story: true,
            rate_limit: None,
            file_bytes: DEFAULT_FILE_BYTES,
        }
    }
}

/// Credentials the emulators accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCredentials {
    /// Windchill HTTP Basic user.
    pub windchill_username: String,
    /// Windchill HTTP Basic password.
    pub windchill_password: String,
    /// Bynder OAuth client id.
    pub bynder_client_id: String,
    /// Bynder OAuth client secret.
    pub bynder_client_secret: String,
    /// Bynder permanent token (never expires).
    pub bynder_permanent_token: String,
    /// Teamcenter user.
    pub teamcenter_username: String,
    /// Teamcenter password.
    pub teamcenter_password: String,
}

/// One running emulator.
#[derive(Debug, Clone)]
pub struct Emulator {
    /// Base URL a connector is configured with: `http://127.0.0.1:PORT/Windchill/servlet/odata`
    /// for Windchill, `http://127.0.0.1:PORT` for Bynder.
    pub url: String,
    /// `http://127.0.0.1:PORT`; the control API lives under `{root}/__sim/`.
    pub root: String,
    /// Fault switchboard.
    pub faults: FaultControl,
    /// Request log.
    pub log: RequestLog,
}

/// The emulators, running.
pub struct Sim {
    /// The Windchill emulator.
    pub windchill: Emulator,
    /// The Teamcenter emulator (its `emulator` has the URL, faults and request log; its
    /// methods disturb and inspect it).
    pub teamcenter: TeamcenterSim,
    /// The Bynder emulator.
    pub bynder: Emulator,
    /// The clock both emulators share.
    pub clock: SimClock,
    wc: Arc<Mutex<WindchillStore>>,
    by: Arc<Mutex<BynderStore>>,
    credentials: SimCredentials,
    servers: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("windchill", &self.windchill.url)
            .field("teamcenter", &self.teamcenter.emulator.url)
            .field("bynder", &self.bynder.url)
            .finish_non_exhaustive()
    }
}

fn credentials() -> SimCredentials {
    SimCredentials {
        windchill_username: "wcadmin".into(),
        windchill_password: "partreel-sim".into(),
        bynder_client_id: "partreel-sim-client".into(),
        bynder_client_secret: "partreel-sim-secret".into(),
        bynder_permanent_token: "partreel-sim-permanent-token".into(),
        teamcenter_username: "partreel".into(),
        teamcenter_password: "partreel-tc-secret".into(),
    }
}

fn spawn(
    servers: &mut Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
    run: impl FnOnce(oneshot::Receiver<()>) -> JoinHandle<()>,
) {
    let (tx, rx) = oneshot::channel();
    servers.push((tx, run(rx)));
}

impl Sim {
    /// Binds `127.0.0.1:0` for each emulator, seeds them and serves in background tasks.
    pub async fn start(cfg: SimConfig) -> std::io::Result<Sim> {
        let clock = SimClock::new();
        let creds = credentials();
        let wc_listener = TcpListener::bind("127.0.0.1:0").await?;
        let by_listener = TcpListener::bind("127.0.0.1:0").await?;
        let wc_root = format!("http://{}", wc_listener.local_addr()?);
        let by_root = format!("http://{}", by_listener.local_addr()?);

        let seeded = seed::generate(
            cfg.parts,
            cfg.clips,
            cfg.story,
            cfg.seed,
            seed::anchor(clock.now()),
            cfg.generated_plm,
        );
        let teamcenter = teamcenter::start(
            TeamcenterSimConfig {
                parts: match cfg.generated_plm {
                    GeneratedPlm::Teamcenter => cfg.parts,
                    GeneratedPlm::Windchill => 0,
                },
                seed: cfg.seed,
                story: cfg.story,
                rate_limit: cfg.rate_limit,
                username: creds.teamcenter_username.clone(),
                password: creds.teamcenter_password.clone(),
            },
            clock.clone(),
        )
        .await?;
        let file_bytes = if cfg.file_bytes == 0 {
            DEFAULT_FILE_BYTES
        } else {
            cfg.file_bytes
        };
        let mut wc_store = WindchillStore::new();
        for p in seeded.parts {
            wc_store.add_part(p);
        }
        let mut by_store = BynderStore::new(file_bytes);
        for mp in seeded.metaproperties {
            by_store.add_metaproperty(mp);
        }
        for m in seeded.media {
            for (name, v) in &m.props {
                if let (PropValue::Options(opts), Some(mp)) = (v, by_store.metaproperty_mut(name)) {
                    for o in opts {
                        mp.ensure_option(o, &o.replace('_', " "));
                    }
                }
            }
            by_store.add_media(m);
        }
        let wc = Arc::new(Mutex::new(wc_store));
        let by = Arc::new(Mutex::new(by_store));

        let windchill = Emulator {
            url: format!("{wc_root}{BASE_PATH}"),
            root: wc_root,
            faults: FaultControl::new(cfg.rate_limit, windchill::expire_hook(wc.clone())),
            log: RequestLog::default(),
        };
        let bynder = Emulator {
            url: by_root.clone(),
            root: by_root,
            faults: FaultControl::new(cfg.rate_limit, bynder::expire_hook(by.clone())),
            log: RequestLog::default(),
        };
        let framework = |system, em: &Emulator, is_data_read| Framework {
            system,
            clock: clock.clone(),
            faults: em.faults.clone(),
            log: em.log.clone(),
            is_data_read,
        };
        let wc_fw = framework(
            System::Windchill,
            &windchill,
            windchill::routes::is_data_read,
        );
        let by_fw = framework(System::Bynder, &bynder, bynder::routes::is_data_read);
        let wc_state = WcState {
            store: wc.clone(),
            base: windchill.url.clone().into(),
            basic: windchill::routes::basic_value(
                &creds.windchill_username,
                &creds.windchill_password,
            )
            .into(),
            clock: clock.clone(),
        };
        let by_state = ByState {
            store: by.clone(),
            base: bynder.url.clone().into(),
            client_id: creds.bynder_client_id.clone().into(),
            client_secret: creds.bynder_client_secret.clone().into(),
            permanent_token: creds.bynder_permanent_token.clone().into(),
            clock: clock.clone(),
        };

        let mut servers = Vec::new();
        spawn(&mut servers, |rx| {
            tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.await;
                };
                if let Err(e) = windchill::serve(wc_listener, wc_state, wc_fw, stop).await {
                    tracing::warn!(error = %e, "windchill emulator stopped");
                }
            })
        });
        spawn(&mut servers, |rx| {
            tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.await;
                };
                if let Err(e) = bynder::serve(by_listener, by_state, by_fw, stop).await {
                    tracing::warn!(error = %e, "bynder emulator stopped");
                }
            })
        });
        Ok(Sim {
            windchill,
            teamcenter,
            bynder,
            clock,
            wc,
            by,
            credentials: creds,
            servers,
        })
    }

    /// The credentials both emulators accept.
    pub fn credentials(&self) -> SimCredentials {
        self.credentials.clone()
    }

    /// Stops the servers (waiting briefly for open connections).
    pub async fn shutdown(self) {
        self.teamcenter.shutdown().await;
        for (tx, handle) in self.servers {
            let _ = tx.send(());
            let abort = handle.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, handle).await.is_err() {
                abort.abort();
            }
        }
    }

    // ---- Bynder mutations ----

    /// Sets (or with `None` clears) a metaproperty of an asset by name; select values are
    /// option names (comma-separated for several), created if missing. No-op for unknown ids.
    pub fn bynder_edit(&self, asset_id: &str, property: &str, value: Option<&str>) {
        lock(&self.by).set_by_name(asset_id, property, value, self.clock.now());
    }

    /// Archives an asset (it stays listed, with `"archive":1`).
    pub fn bynder_archive(&self, asset_id: &str) {
        let now = self.clock.now();
        lock(&self.by).edit_media(asset_id, |m| {
            m.archived = true;
            m.modified = now;
        });
    }

    /// Replaces an asset's original file, as a re-upload does: from now on it downloads as a
    /// signed, stripped or altered C2PA clip, and its `dateModified` moves to now. No-op for
    /// unknown ids.
    pub fn bynder_replace_file(&self, asset_id: &str, kind: crate::ClipKind) {
        let now = self.clock.now();
        lock(&self.by).edit_media(asset_id, |m| {
            m.provenance = bynder::files::provenance_of(kind);
            m.version += 1;
            m.modified = now;
        });
    }

    /// Deletes an asset (gone from listings, 404 on read).
    pub fn bynder_delete(&self, asset_id: &str) {
        lock(&self.by).delete_media(asset_id);
    }

    /// Every asset id, in `(dateModified, id)` order.
    pub fn bynder_asset_ids(&self) -> Vec<String> {
        lock(&self.by).media_ids()
    }

    /// The media JSON of an asset as `GET /api/v4/media/{id}/` serves it.
    pub fn bynder_asset(&self, id: &str) -> Option<serde_json::Value> {
        let mut store = lock(&self.by);
        let file_bytes = store.file_bytes;
        store
            .media(id)
            .map(|m| m.to_json(&self.bynder.url, false, file_bytes))
    }

    /// Delay before a metadata write becomes visible (Bynder applies writes asynchronously).
    pub fn bynder_set_write_delay(&self, delay: Duration) {
        lock(&self.by).write_delay = delay;
    }

    // ---- Windchill mutations ----

    /// Makes a new revision of the part number's latest revision (a new Part entity, In Work,
    /// which becomes `Latest`); returns its revision letter.
    ///
    /// # Panics
    /// If the part number does not exist (a broken test).
    pub fn windchill_revise(&self, number: &str) -> String {
        let now = self.clock.now();
        let mut store = lock(&self.wc);
        let ids = store.part_ids_by_number(number);
        let latest = ids
            .iter()
            .filter_map(|id| store.part(id))
            .max_by(|a, b| a.revision.cmp(&b.revision))
            .cloned()
            .unwrap_or_else(|| panic!("windchill_revise: no part {number}"));
        let next = latest
            .revision
            .chars()
            .last()
            .and_then(|c| char::from_u32(c as u32 + 1))
            .map_or_else(|| format!("{}A", latest.revision), |c| c.to_string());
        for id in &ids {
            store.update_part(id, |p| p.latest = false);
        }
        let mut part = latest;
        part.revision = next.clone();
        part.iteration = 1;
        part.state = "INWORK".into();
        part.created = now;
        part.modified = now;
        part.latest = true;
        store.add_part(part);
        next
    }

    /// Sets a part revision's `Name`, `Sku` or `State` (a state value such as `RELEASED`) and
    /// stamps `LastModified`.
    ///
    /// # Panics
    /// If the revision does not exist or the property is not one of those (a broken test).
    pub fn windchill_edit_part(&self, number: &str, revision: &str, property: &str, value: &str) {
        let now = self.clock.now();
        let mut store = lock(&self.wc);
        let id = store
            .part_ids_by_number(number)
            .into_iter()
            .find(|id| store.part(id).is_some_and(|p| p.revision == revision))
            .unwrap_or_else(|| panic!("windchill_edit_part: no part {number} rev {revision}"));
        assert!(
            crate::windchill::store::part_prop(property).is_some()
                && matches!(property, "Name" | "Sku" | "State"),
            "windchill_edit_part: property {property} cannot be edited"
        );
        store.update_part(&id, |p| {
            match property {
                "Name" => p.name = value.to_owned(),
                "Sku" => p.sku = Some(value.to_owned()),
                _ => p.state = value.to_owned(),
            }
            p.modified = now;
        });
    }

    /// Sets a document property (`State` takes a state value) and stamps `LastModified`.
    ///
    /// # Panics
    /// If the property is not a writable document property (a broken test).
    pub fn windchill_edit_document(&self, doc_id: &str, property: &str, value: &str) {
        assert!(
            crate::windchill::store::document_props()
                .iter()
                .any(|p| p.0 == property && !p.2),
            "windchill_edit_document: property {property} cannot be edited"
        );
        let now = self.clock.now();
        let v = if property == "State" {
            serde_json::json!({"Value": value, "Display": state_display(value)})
        } else {
            serde_json::json!(value)
        };
        lock(&self.wc).edit_document(doc_id, |d| {
            d.fields.insert(property.to_owned(), v);
            d.modified = now;
        });
    }

    /// Every document, in creation order, as the API serves it.
    pub fn windchill_documents(&self) -> Vec<serde_json::Value> {
        lock(&self.wc)
            .all_documents()
            .iter()
            .map(|d| d.to_json(None))
            .collect()
    }

    /// Every credential the emulators issued that is still live: Bynder OAuth access tokens,
    /// Windchill session ids and CSRF nonces (so tests can check none reaches a log;
    /// `expire_sessions` forgets them, so read them before).
    pub fn issued_credentials(&self) -> Vec<String> {
        let mut out: Vec<String> = lock(&self.by).tokens.keys().cloned().collect();
        out.extend(lock(&self.wc).session_secrets());
        out.extend(self.teamcenter.session_ids());
        out
    }

    /// Every describe link as (part id, document id).
    pub fn windchill_describe_links(&self) -> Vec<(String, String)> {
        lock(&self.wc).all_links()
    }

    /// Every part revision, in `(LastModified, ID)` order, as the API serves it.
    pub fn windchill_parts(&self) -> Vec<serde_json::Value> {
        lock(&self.wc)
            .all_parts()
            .iter()
            .map(|p| p.to_json(None))
            .collect()
    }

    /// Gives these records one modified time (to build tie groups); Windchill ids may be parts
    /// or documents.
    pub fn set_same_modified(&self, system: System, ids: &[String], at: DateTime<Utc>) {
        match system {
            System::Windchill => {
                let mut store = lock(&self.wc);
                for id in ids {
                    if !store.update_part(id, |p| p.modified = at) {
                        store.edit_document(id, |d| d.modified = at);
                    }
                }
            }
            System::Bynder => {
                let mut store = lock(&self.by);
                for id in ids {
                    store.edit_media(id, |m| m.modified = at);
                }
            }
            // The 3DEXPERIENCE emulator is not part of `Sim` yet (sim::threedx::start).
            System::Threedx => {}
            System::Teamcenter => self.teamcenter.set_same_modified(ids, at),
            // The AEM emulator is not part of `Sim` yet (sim::aem::start).
            System::Aem => {}
        }
    }
}
