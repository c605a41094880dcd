//! 3DEXPERIENCE end to end on the emulators, with AEM as the DAM (its clips are seeded about the
//! 3DEXPERIENCE story's parts): links created once, a second run writes nothing, a crash after
//! a remote write never duplicates, and a session expiry plus a refused CSRF token in the
//! middle of a run cost exactly one re-login and one token fetch.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use partreel_core::state::StateStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_sim::SimClock;
use partreel_sim::aem::{self, AemSim, AemSimConfig};
use partreel_sim::threedx::{self, ThreedxSim, ThreedxSimConfig};
use serde_json::Value;

use crate::util::{bin, parse_report, writes};

struct Env {
    tdx: ThreedxSim,
    _aem: AemSim,
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

async fn start(clips: usize, rps: u32) -> Env {
    let clock = SimClock::new();
    let tdx = threedx::start(ThreedxSimConfig::default(), clock.clone())
        .await
        .expect("3dx emulator");
    let parts = vec![
        (
            "PL-4001".to_string(),
            "B".to_string(),
            "PLY-GAR-4001".to_string(),
        ),
        (
            "PL-4002".to_string(),
            "A".to_string(),
            "PLY-FIR-4002".to_string(),
        ),
    ];
    let aem = aem::start(
        AemSimConfig {
            story: false,
            parts,
            clips,
            ..AemSimConfig::default()
        },
        clock,
    )
    .await
    .expect("aem emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("secrets")).expect("mkdir");
    std::fs::write(d.join("secrets/tdx"), &tdx.credentials.password).expect("secret");
    std::fs::write(d.join("secrets/aem"), &aem.credentials.client_secret).expect("secret");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = format!(
        r#"state = "{state}"

[systems.threedx]
type = "threedx"
mapping = "{tdx_map}"
passport_url = "{passport}"
space_url = "{space}"
security_context = "{ctx}"
link_extension = "PromptToPartLinkExt"
auth = {{ type = "cas", username = "{user}", password = {{ file = "secrets/tdx" }} }}

[systems.threedx.http.rate_limit]
requests = {rps}
per_secs = 1
burst = {rps}

[systems.aem]
type = "aem"
mapping = "{aem_map}"
base_url = "{aem_url}"
dam_root = "{dam_root}"
archive_property = "acme:archived"
metadata_properties = ["acme:lifecycleState", "acme:partName"]
auth = {{ type = "ims", client_id = "{client}", client_secret = {{ file = "secrets/aem" }}, token_url = "{token_url}" }}

[[jobs]]
plm = "threedx"
dam = "aem"
"#,
        state = d.join("state.db").display(),
        tdx_map = repo.join("mappings/threedx.toml").display(),
        passport = tdx.passport_url,
        space = tdx.emulator.url,
        ctx = tdx.credentials.security_context,
        user = tdx.credentials.username,
        aem_map = repo.join("mappings/aem.toml").display(),
        aem_url = aem.emulator.url,
        dam_root = aem.dam_root,
        client = aem.credentials.client_id,
        token_url = aem.token_url,
    );
    let config = d.join("partreel.toml");
    std::fs::write(&config, text).expect("config");
    Env {
        tdx,
        _aem: aem,
        _dir: dir,
        config,
    }
}

impl Env {
    fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(bin());
        cmd.args(["sync", "--json", "--config"])
            .arg(&self.config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn sync(&self) -> Value {
        let out = self.command().output().await.expect("run");
        assert!(
            out.status.success(),
            "sync failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_report(&out.stdout)
    }

    /// Link ids of the documents partreel created.
    fn link_ids(&self) -> Vec<String> {
        self.tdx
            .documents()
            .iter()
            .filter_map(|d| find_str(d, "partreelLinkId"))
            .collect()
    }
}

/// The value of an attribute wherever the document JSON keeps it.
fn find_str(v: &Value, key: &str) -> Option<String> {
    match v {
        Value::Object(m) => m
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| m.values().find_map(|x| find_str(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find_str(x, key)),
        _ => None,
    }
}

fn assert_unique(ids: &[String]) {
    let set: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(set.len(), ids.len(), "duplicate link documents: {ids:?}");
}

/// Every clip gets one document under its engineering item; the second run writes nothing.
#[tokio::test]
async fn threedx_links_once_and_second_run_writes_nothing() {
    let env = start(6, 1000).await;
    let first = env.sync().await;
    assert_eq!(first["links_created"], 6, "{first}");
    let ids = env.link_ids();
    assert_unique(&ids);
    assert_eq!(ids.len(), 6);
    assert_eq!(writes(&env.sync().await), 0);
    // One vocabulary across PLMs: the state (and so the viewer) holds the mapped display
    // name, not 3DEXPERIENCE's internal maturity state.
    let store = SqliteStore::open(&env._dir.path().join("state.db")).expect("state");
    let parts = store
        .parts_by_number("threedx", "PL-4001")
        .await
        .expect("parts");
    assert!(!parts.is_empty());
    for p in parts {
        assert!(
            matches!(
                p.lifecycle_state.as_deref(),
                Some("In Work" | "Frozen" | "Released" | "Obsolete")
            ),
            "{p:?}"
        );
    }
}

/// Killed right after its third remote write, then restarted: no duplicate document.
#[tokio::test]
async fn threedx_crash_after_write_never_duplicates() {
    let env = start(6, 1000).await;
    let out = env
        .command()
        .env("PARTREEL_TEST_CRASH_AFTER_WRITES", "3")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success(), "the crash hook must end the run");
    env.sync().await;
    let ids = env.link_ids();
    assert_unique(&ids);
    assert_eq!(ids.len(), 6, "{ids:?}");
    // With logs at info, a failure shows which fields the run thought had changed.
    let out = env
        .command()
        .env("PARTREEL_LOG", "info")
        .output()
        .await
        .expect("run");
    let again = parse_report(&out.stdout);
    assert_eq!(
        writes(&again),
        0,
        "{again}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The session expires and the CSRF token is refused while a run is creating documents: the run
/// completes with exactly one extra login and one extra token fetch.
#[tokio::test]
async fn threedx_session_expiry_and_csrf_refusal_mid_run() {
    let env = start(60, 40).await;
    let child = env.command().spawn().expect("spawn");
    let mut waited = 0;
    while env.link_ids().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
        assert!(waited < 1500, "no document created within 30 s");
    }
    let (logins, csrf) = (env.tdx.logins(), env.tdx.csrf_issued());
    env.tdx.expire_sessions();
    let out = child.wait_with_output().await.expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = parse_report(&out.stdout);
    assert_eq!(report["links_created"], 60, "{report}");
    assert_eq!(env.tdx.logins(), logins + 1, "exactly one re-login");
    assert_eq!(
        env.tdx.csrf_issued(),
        csrf + 1,
        "one fresh CSRF token for the new session"
    );
    assert_unique(&env.link_ids());

    // A refused CSRF token on its own: one token fetch, no login.
    let (logins, csrf) = (env.tdx.logins(), env.tdx.csrf_issued());
    let child = env.command().spawn().expect("spawn");
    env.tdx.invalidate_csrf();
    let out = child.wait_with_output().await.expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.tdx.logins() <= logins + 1, "a new process logs in once");
    assert!(env.tdx.csrf_issued() <= csrf + 2);
}

/// A 3DSpace that accepts a CSRF token for a limited time: with `csrf_max_age_secs` below that
/// lifetime, the connector fetches a fresh token before the old one ages out, so no write is
/// ever refused (no `403` in the emulator's log) and every link is created once.
#[tokio::test]
async fn threedx_csrf_token_is_renewed_before_it_ages_out() {
    let env = start(40, 20).await;
    env.tdx.set_csrf_lifetime(Some(Duration::from_millis(2000)));
    let text = std::fs::read_to_string(&env.config).expect("config");
    let text = text.replacen(
        "security_context = ",
        "csrf_max_age_secs = 1\nsecurity_context = ",
        1,
    );
    std::fs::write(&env.config, text).expect("config");
    env.tdx.emulator.log.clear();
    let started = std::time::Instant::now();
    let report = env.sync().await;
    assert_eq!(report["links_created"], 40, "{report}");
    assert!(
        started.elapsed() > Duration::from_millis(2000),
        "the run outlives one token ({:?}): the test would prove nothing",
        started.elapsed()
    );
    let refused: Vec<String> = env
        .tdx
        .emulator
        .log
        .entries()
        .iter()
        .filter(|e| e.status == 403)
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(refused.is_empty(), "writes refused: {refused:?}");
    assert!(
        env.tdx.csrf_issued() >= 2,
        "the token was renewed ({} issued)",
        env.tdx.csrf_issued()
    );
    assert_unique(&env.link_ids());
}
