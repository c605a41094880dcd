//! The connector compliance suite (`partreel_testkit::compliance`) against the Windchill
//! emulator (`partreel_sim::Sim`): part and link feeds paged and resumed, tie groups,
//! idempotent creation by link id, batch updates, retirement, refused credentials, session and
//! nonce expiry and a malformed answer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use partreel_connector::model::{PartRevision, RemoteFields};
use partreel_sim::{FaultKind, Sim, SimConfig, System};
use partreel_testkit::compliance::{Applies, Fault, PlmFixture};
use partreel_windchill::{BuildContext, WindchillClient, WindchillConfig};
use tempfile::TempDir;

/// The link document IBAs the suite writes and reads (as `mappings/windchill.toml` names them).
const LINK_PROPERTIES: &[&str] = &["PartreelStatus", "AssetId", "AssetSystem", "Prompt"];

/// The emulators (Windchill among them), the client and the folder holding its password.
struct Windchill {
    sim: Sim,
    client: WindchillClient,
    _dir: TempDir,
}

/// A client of the emulator (configuration parsed from TOML), `password` read from a file in
/// the folder returned.
fn build(sim: &Sim, password: &str) -> (TempDir, WindchillClient) {
    let creds = sim.credentials();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), password).expect("write the password");
    let text = format!(
        "base_url = \"{}\"\nusername = \"{}\"\npassword = {{ file = \"pw\" }}\n\
         container = \"OR:wt.pdmlink.PDMLinkProduct:1001\"\n\
         document_type = \"PromptToPartLink\"\n\
         [http.rate_limit]\nrequests = 10000\nper_secs = 1\n\
         [http.retry]\nmax_attempts = 3\ninitial_backoff_ms = 1\nmax_backoff_ms = 5\nrate_limited_backoff_ms = 1\n",
        sim.windchill.url, creds.windchill_username
    );
    let cfg: WindchillConfig = toml::from_str(&text).expect("the configuration parses");
    let ctx = BuildContext {
        system: "windchill".into(),
        config_dir: dir.path().to_path_buf(),
        part_properties: vec!["Sku".into()],
        link_properties: LINK_PROPERTIES.iter().map(|p| p.to_string()).collect(),
    };
    let client = cfg
        .validate()
        .expect("valid config")
        .build(ctx)
        .expect("the client builds");
    (dir, client)
}

impl PlmFixture for Windchill {
    type Connector = WindchillClient;

    async fn start(parts: usize) -> Self {
        let sim = Sim::start(SimConfig {
            parts,
            ..SimConfig::default()
        })
        .await
        .expect("the emulators start");
        let (dir, client) = build(&sim, &sim.credentials().windchill_password);
        Windchill {
            sim,
            client,
            _dir: dir,
        }
    }

    fn connector(&self) -> &WindchillClient {
        &self.client
    }

    fn with_wrong_secret(&self) -> WindchillClient {
        build(&self.sim, "not-the-password").1
    }

    fn now(&self) -> DateTime<Utc> {
        self.sim.clock.now()
    }

    fn part_ids(&self) -> Vec<String> {
        self.sim
            .windchill_parts()
            .iter()
            .map(|p| p["ID"].as_str().expect("a part ID").to_string())
            .collect()
    }

    fn status_field(&self) -> String {
        "PartreelStatus".into()
    }

    fn link_fields(&self, i: usize) -> RemoteFields {
        RemoteFields::from([
            ("PartreelStatus".to_string(), "active".to_string()),
            ("AssetId".to_string(), format!("clip-{i}")),
            ("AssetSystem".to_string(), "compliance-dam".to_string()),
            (
                "Prompt".to_string(),
                format!("train {i} crosses the bridge"),
            ),
        ])
    }

    fn advance_clock(&self, secs: u64) {
        self.sim.clock.advance(Duration::from_secs(secs));
    }

    fn touch_part(&self, part: &PartRevision) {
        self.sim.windchill_edit_part(
            &part.number,
            &part.revision,
            "Name",
            "Edited by an engineer",
        );
    }

    fn set_same_modified(&self, part_ids: &[String], at: DateTime<Utc>) {
        self.sim.set_same_modified(System::Windchill, part_ids, at);
    }

    fn expire_auth(&self) -> Applies {
        self.sim.windchill.faults.expire_sessions();
        Applies::Yes
    }

    fn malformed_next(&self, n: usize) -> Applies {
        self.sim.windchill.faults.set_malformed_next(n);
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
            .windchill
            .faults
            .inject_next(skip, FaultKind::Latency(Duration::ZERO));
        self.sim.windchill.faults.inject_next(1, kind);
        Applies::Yes
    }

    fn clear_faults(&self) {
        self.sim.windchill.faults.clear();
    }

    async fn shutdown(self) {
        self.sim.shutdown().await;
    }
}

partreel_testkit::plm_compliance!(Windchill);
