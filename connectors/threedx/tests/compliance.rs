//! The connector compliance suite (`partreel_testkit::compliance`) against the 3DEXPERIENCE
//! emulator (CAS login through 3DPassport): part and link feeds paged and resumed, tie groups,
//! idempotent creation by link id, batch updates, retirement, refused credentials, session
//! expiry and a malformed answer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use partreel_core::http::{HttpConfig, RateLimitConfig, RetryConfig, SecretRef};
use partreel_core::mapping::{Entity, Mapping};
use partreel_core::model::{PartRevision, RemoteFields};
use partreel_sim::threedx::{self, ThreedxSim, ThreedxSimConfig};
use partreel_sim::{FaultKind, SimClock};
use partreel_testkit::compliance::{Applies, Fault, PlmFixture};
use partreel_threedx::{AuthConfig, BuildContext, ThreedxClient, ThreedxConfig};
use tempfile::TempDir;

/// The emulator, its client and the folder holding the client's password.
struct Threedx {
    sim: ThreedxSim,
    client: ThreedxClient,
    _dir: TempDir,
}

fn fast_http() -> HttpConfig {
    HttpConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 10_000,
            per_secs: 1,
            burst: Some(10_000),
        }),
        retry: RetryConfig {
            max_attempts: 4,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            rate_limited_backoff_ms: 1,
            max_retry_after_secs: 2,
            max_timeouts: 2,
        },
        ..HttpConfig::default()
    }
}

/// A CAS client of the emulator (the default mapping's properties asked for), `password` read
/// from a file in the folder returned.
fn build(sim: &ThreedxSim, password: &str) -> (TempDir, ThreedxClient) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), password).expect("write the password");
    let cfg = ThreedxConfig {
        passport_url: Some(sim.passport_url.clone()),
        space_url: sim.emulator.url.clone(),
        auth: AuthConfig::Cas {
            username: sim.credentials.username.clone(),
            password: SecretRef::File("pw".into()),
        },
        security_context: sim.credentials.security_context.clone(),
        tenant: None,
        parent_rel_name: "Reference Document".into(),
        search_string: "*".into(),
        modified_predicate: Some(partreel_threedx::DEFAULT_MODIFIED_PREDICATE.into()),
        link_search: "partreel".into(),
        link_id_attribute: "partreelLinkId".into(),
        link_status_attribute: "partreelStatus".into(),
        link_extension: Some("PromptToPartLinkExt".into()),
        retire: Default::default(),
        page_size: 100,
        csrf_max_age_secs: partreel_threedx::DEFAULT_CSRF_MAX_AGE_SECS,
        http: fast_http(),
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings/threedx.toml");
    let map = Mapping::load(&path).expect("mappings/threedx.toml loads");
    let ctx = BuildContext {
        system: "threedx".into(),
        config_dir: dir.path().to_path_buf(),
        part_properties: map.remote_names(Entity::Part),
        link_properties: map.remote_names(Entity::Link),
    };
    let client = cfg
        .validate()
        .expect("valid config")
        .build(ctx)
        .expect("the client builds");
    (dir, client)
}

impl PlmFixture for Threedx {
    type Connector = ThreedxClient;

    async fn start(parts: usize) -> Self {
        let sim = threedx::start(
            ThreedxSimConfig {
                parts,
                ..ThreedxSimConfig::default()
            },
            SimClock::new(),
        )
        .await
        .expect("the 3DEXPERIENCE emulator starts");
        let (dir, client) = build(&sim, &sim.credentials.password);
        Threedx {
            sim,
            client,
            _dir: dir,
        }
    }

    fn connector(&self) -> &ThreedxClient {
        &self.client
    }

    fn with_wrong_secret(&self) -> ThreedxClient {
        build(&self.sim, "not-the-password").1
    }

    fn now(&self) -> DateTime<Utc> {
        self.sim.clock.now()
    }

    fn part_ids(&self) -> Vec<String> {
        self.sim
            .items()
            .iter()
            .map(|i| i["id"].as_str().expect("an item id").to_string())
            .collect()
    }

    fn status_field(&self) -> String {
        "partreelStatus".into()
    }

    fn link_fields(&self, i: usize) -> RemoteFields {
        RemoteFields::from([
            ("prompt".to_string(), format!("plane {i} loops the loop")),
            ("partreelStatus".to_string(), "active".to_string()),
            ("campaign".to_string(), "spring".to_string()),
        ])
    }

    fn advance_clock(&self, secs: u64) {
        self.sim.clock.advance(Duration::from_secs(secs));
    }

    fn touch_part(&self, part: &PartRevision) {
        assert!(
            self.sim.edit_item(&part.remote_id, |i| {
                i.title = "Edited by an engineer".into();
            }),
            "the emulator holds item {}",
            part.remote_id
        );
    }

    fn set_same_modified(&self, part_ids: &[String], at: DateTime<Utc>) {
        self.sim.set_same_modified(part_ids, at);
    }

    fn expire_auth(&self) -> Applies {
        self.sim.expire_sessions();
        Applies::Yes
    }

    fn malformed_next(&self, n: usize) -> Applies {
        self.sim.emulator.faults.set_malformed_next(n);
        Applies::Yes
    }

    fn logins(&self) -> Option<u64> {
        Some(self.sim.logins())
    }

    fn inject(&self, skip: usize, fault: Fault) -> Applies {
        let kind = match fault {
            Fault::ServerError => FaultKind::ServerError(503),
            Fault::Reset => FaultKind::Reset,
            Fault::RateLimited => FaultKind::RateLimited,
            Fault::CutShort => FaultKind::Truncated,
        };
        self.sim
            .emulator
            .faults
            .inject_next(skip, FaultKind::Latency(Duration::ZERO));
        self.sim.emulator.faults.inject_next(1, kind);
        Applies::Yes
    }

    fn clear_faults(&self) {
        self.sim.emulator.faults.clear();
    }

    async fn shutdown(self) {
        self.sim.shutdown().await;
    }
}

partreel_testkit::plm_compliance!(Threedx);
