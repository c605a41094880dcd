//! The connector compliance suite (`partreel_testkit::compliance`) against the AEM Assets
//! emulator: paging, the `since` bound, tie groups, reads, metadata writes, the original file,
//! archived clips, refused credentials, IMS token revocation and a malformed answer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use partreel_aem::{AemAuthConfig, AemClient, AemConfig, BuildContext};
use partreel_core::http::{HttpConfig, RateLimitConfig, RetryConfig, SecretRef};
use partreel_core::model::RemoteFields;
use partreel_sim::aem::{self, ARCHIVE_PROPERTY, AemSim, AemSimConfig};
use partreel_sim::{FaultKind, SimClock};
use partreel_testkit::compliance::{Applies, DamFixture, Fault};
use tempfile::TempDir;

/// The emulator, its client and the folder holding the client's secret.
struct Aem {
    sim: AemSim,
    client: AemClient,
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

/// An IMS client of the emulator, `secret` read from a file in the folder returned.
fn build(sim: &AemSim, secret: &str) -> (TempDir, AemClient) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret"), secret).expect("write the client secret");
    let cfg = AemConfig {
        base_url: sim.emulator.url.clone(),
        dam_root: sim.dam_root.clone(),
        auth: AemAuthConfig::Ims {
            client_id: sim.credentials.client_id.clone(),
            client_secret: SecretRef::File("secret".into()),
            scopes: vec!["AdobeID".into(), "openid".into()],
            token_url: sim.token_url.clone(),
            api_key: true,
        },
        page_size: 100,
        // Small batches, so the batch item crosses a batch boundary.
        write_batch: 2,
        archive_property: Some(ARCHIVE_PROPERTY.into()),
        metadata_properties: vec!["acme:lifecycleState".into(), "acme:partName".into()],
        http: fast_http(),
    };
    let ctx = BuildContext {
        system: "aem".into(),
        config_dir: dir.path().to_path_buf(),
    };
    let client = cfg
        .validate()
        .expect("valid config")
        .build(ctx)
        .expect("the client builds");
    (dir, client)
}

impl DamFixture for Aem {
    type Connector = AemClient;

    async fn start(clips: usize) -> Self {
        let parts = vec![(
            "TR-1001".to_string(),
            "B".to_string(),
            "ACM-TR-1001-RD".to_string(),
        )];
        let sim = aem::start(
            AemSimConfig {
                parts,
                clips,
                ..AemSimConfig::default()
            },
            SimClock::new(),
        )
        .await
        .expect("the AEM emulator starts");
        let (dir, client) = build(&sim, &sim.credentials.client_secret);
        Aem {
            sim,
            client,
            _dir: dir,
        }
    }

    fn connector(&self) -> &AemClient {
        &self.client
    }

    fn with_wrong_secret(&self) -> AemClient {
        build(&self.sim, "not-the-client-secret").1
    }

    fn now(&self) -> DateTime<Utc> {
        self.sim.clock.now()
    }

    fn asset_ids(&self) -> Vec<String> {
        self.sim.asset_paths()
    }

    fn missing_asset_id(&self) -> String {
        format!("{}/compliance/no-such-clip.mp4", self.sim.dam_root)
    }

    fn fields_to_write(&self, i: usize) -> RemoteFields {
        RemoteFields::from([
            ("acme:partName".to_string(), format!("Compliance part {i}")),
            ("acme:lifecycleState".to_string(), format!("STATE{i}")),
        ])
    }

    fn advance_clock(&self, secs: u64) {
        self.sim.clock.advance(Duration::from_secs(secs));
    }

    fn set_same_modified(&self, asset_ids: &[String], at: DateTime<Utc>) {
        self.sim.set_same_modified(asset_ids, at);
    }

    fn archive(&self, asset_id: &str) -> Applies {
        assert!(self.sim.archive(asset_id), "the emulator holds {asset_id}");
        Applies::Yes
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
        Some(self.sim.tokens_issued())
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

partreel_testkit::dam_compliance!(Aem);
