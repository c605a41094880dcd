//! The connector compliance suite (`partreel_testkit::compliance`) against the Bynder emulator
//! (`partreel_sim::Sim`, OAuth client credentials): paging, the `since` bound, tie groups,
//! reads, metaproperty writes, the original file, archived clips, refused credentials, token
//! revocation and a malformed answer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use partreel_bynder::{BuildContext, BynderClient, BynderConfig};
use partreel_connector::model::RemoteFields;
use partreel_sim::{FaultKind, Sim, SimConfig, System};
use partreel_testkit::compliance::{Applies, DamFixture, Fault};
use tempfile::TempDir;

/// The emulators (Bynder among them), the client and the folder holding its secret.
struct Bynder {
    sim: Sim,
    client: BynderClient,
    _dir: TempDir,
}

/// An OAuth client of the emulator, `secret` read from a file in the folder returned.
fn build(sim: &Sim, secret: &str) -> (TempDir, BynderClient) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret"), secret).expect("write the client secret");
    let text = format!(
        "base_url = \"{}\"\n\
         auth = {{ type = \"oauth2\", client_id = \"{}\", client_secret = {{ file = \"secret\" }} }}\n\
         [http.rate_limit]\nrequests = 10000\nper_secs = 1\n\
         [http.retry]\nmax_attempts = 3\ninitial_backoff_ms = 1\nmax_backoff_ms = 5\nrate_limited_backoff_ms = 1\n",
        sim.bynder.url,
        sim.credentials().bynder_client_id
    );
    let cfg: BynderConfig = toml::from_str(&text).expect("the configuration parses");
    let ctx = BuildContext {
        system: "bynder".into(),
        config_dir: dir.path().to_path_buf(),
    };
    let client = cfg
        .validate()
        .expect("valid config")
        .build(ctx)
        .expect("the client builds");
    (dir, client)
}

impl DamFixture for Bynder {
    type Connector = BynderClient;

    async fn start(clips: usize) -> Self {
        let sim = Sim::start(SimConfig {
            clips,
            ..SimConfig::default()
        })
        .await
        .expect("the emulators start");
        let secret = sim.credentials().bynder_client_secret;
        let (dir, client) = build(&sim, &secret);
        Bynder {
            sim,
            client,
            _dir: dir,
        }
    }

    fn connector(&self) -> &BynderClient {
        &self.client
    }

    fn with_wrong_secret(&self) -> BynderClient {
        build(&self.sim, "not-the-client-secret").1
    }

    fn now(&self) -> DateTime<Utc> {
        self.sim.clock.now()
    }

    fn asset_ids(&self) -> Vec<String> {
        self.sim.bynder_asset_ids()
    }

    fn missing_asset_id(&self) -> String {
        "00000000-0000-0000-0000-000000000000".into()
    }

    fn fields_to_write(&self, i: usize) -> RemoteFields {
        RemoteFields::from([("PartName".to_string(), format!("Compliance part {i}"))])
    }

    fn advance_clock(&self, secs: u64) {
        self.sim.clock.advance(Duration::from_secs(secs));
    }

    fn set_same_modified(&self, asset_ids: &[String], at: DateTime<Utc>) {
        self.sim.set_same_modified(System::Bynder, asset_ids, at);
    }

    fn archive(&self, asset_id: &str) -> Applies {
        self.sim.bynder_archive(asset_id);
        Applies::Yes
    }

    fn expire_auth(&self) -> Applies {
        self.sim.bynder.faults.expire_sessions();
        Applies::Yes
    }

    fn malformed_next(&self, n: usize) -> Applies {
        self.sim.bynder.faults.set_malformed_next(n);
        Applies::Yes
    }

    fn inject(&self, skip: usize, fault: Fault) -> Applies {
        let kind = match fault {
            Fault::ServerError => FaultKind::ServerError(503),
            Fault::Reset => FaultKind::Reset,
            Fault::RateLimited => FaultKind::RateLimited,
            Fault::CutShort => FaultKind::Truncated,
        };
        self.sim
            .bynder
            .faults
            .inject_next(skip, FaultKind::Latency(Duration::ZERO));
        self.sim.bynder.faults.inject_next(1, kind);
        Applies::Yes
    }

    fn clear_faults(&self) {
        self.sim.bynder.faults.clear();
    }

    async fn shutdown(self) {
        self.sim.shutdown().await;
    }
}

partreel_testkit::dam_compliance!(Bynder);
