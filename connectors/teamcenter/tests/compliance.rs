//! The connector compliance suite (`partreel_testkit::compliance`) against the Teamcenter
//! emulator: part and link feeds paged and resumed, tie groups, idempotent creation by link
//! id, batch updates, retirement, refused credentials, session expiry and a malformed answer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use partreel_core::mapping::{Entity, Mapping};
use partreel_core::model::{PartRevision, RemoteFields};
use partreel_sim::teamcenter::{self, TeamcenterSim, TeamcenterSimConfig};
use partreel_sim::{FaultKind, SimClock};
use partreel_teamcenter::{BuildContext, TeamcenterClient, TeamcenterConfig};
use partreel_testkit::compliance::{Applies, Fault, PlmFixture};
use tempfile::TempDir;

/// The emulator, its client and the folder holding the client's password.
struct Teamcenter {
    sim: TeamcenterSim,
    client: TeamcenterClient,
    _dir: TempDir,
}

/// A client of the emulator (configuration parsed from TOML, the default mapping's properties
/// in its policies), `password` read from a file in the folder returned.
fn build(sim: &TeamcenterSim, password: &str) -> (TempDir, TeamcenterClient) {
    let (user, _) = sim.credentials();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), password).expect("write the password");
    let text = format!(
        "base_url = \"{}\"\nusername = \"{user}\"\npassword = {{ file = \"pw\" }}\n\
         [http.rate_limit]\nrequests = 10000\nper_secs = 1\n\
         [http.retry]\nmax_attempts = 3\ninitial_backoff_ms = 1\nmax_backoff_ms = 5\nrate_limited_backoff_ms = 1\n",
        sim.url()
    );
    let cfg: TeamcenterConfig = toml::from_str(&text).expect("the configuration parses");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings/teamcenter.toml");
    let map = Mapping::load(&path).expect("mappings/teamcenter.toml loads");
    let ctx = BuildContext {
        system: "teamcenter".into(),
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

impl PlmFixture for Teamcenter {
    type Connector = TeamcenterClient;

    async fn start(parts: usize) -> Self {
        let sim = teamcenter::start(
            TeamcenterSimConfig {
                parts,
                ..TeamcenterSimConfig::default()
            },
            SimClock::new(),
        )
        .await
        .expect("the Teamcenter emulator starts");
        let (dir, client) = build(&sim, &sim.credentials().1);
        Teamcenter {
            sim,
            client,
            _dir: dir,
        }
    }

    fn connector(&self) -> &TeamcenterClient {
        &self.client
    }

    fn with_wrong_secret(&self) -> TeamcenterClient {
        build(&self.sim, "not-the-password").1
    }

    fn now(&self) -> DateTime<Utc> {
        self.sim.clock.now()
    }

    fn part_ids(&self) -> Vec<String> {
        self.sim.revisions().into_iter().map(|r| r.uid).collect()
    }

    fn status_field(&self) -> String {
        "ptp_status".into()
    }

    fn link_fields(&self, i: usize) -> RemoteFields {
        RemoteFields::from([
            ("ptp_prompt".to_string(), format!("stunt car {i} jumps")),
            ("ptp_status".to_string(), "active".to_string()),
            ("ptp_asset_id".to_string(), format!("clip-{i}")),
        ])
    }

    fn advance_clock(&self, secs: u64) {
        self.sim.clock.advance(Duration::from_secs(secs));
    }

    fn touch_part(&self, part: &PartRevision) {
        assert!(
            self.sim.edit_revision(
                &part.number,
                &part.revision,
                "object_name",
                Some("Edited by an engineer")
            ),
            "the emulator holds {} {}",
            part.number,
            part.revision
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

partreel_testkit::plm_compliance!(Teamcenter);
