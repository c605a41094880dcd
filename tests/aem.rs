//! AEM Assets ⇄ Windchill end to end on the emulators: the AEM emulator's story clips (about
//! the Windchill story's parts) are linked, with their provenance verdicts; a second run writes
//! nothing; a crash after a remote write never duplicates a link; 20% injected faults converge.

use std::collections::BTreeSet;
use std::path::Path;

use partreel_sim::aem::{self, AemSim, AemSimConfig};
use partreel_sim::{FaultKind, FaultPlan, Sim, SimConfig};
use serde_json::Value;

use crate::util::{bin, parse_report, writes};

/// Windchill (story parts) and AEM (story clips) on one clock, with a config pairing them.
struct AemEnv {
    sim: Sim,
    aem: AemSim,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

async fn start() -> AemEnv {
    let sim = Sim::start(SimConfig::default()).await.expect("emulators");
    let aem = aem::start(AemSimConfig::default(), sim.clock.clone())
        .await
        .expect("aem emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("secrets")).expect("mkdir");
    let creds = sim.credentials();
    write(
        &d.join("secrets/windchill_password"),
        &creds.windchill_password,
    );
    write(
        &d.join("secrets/aem_secret"),
        &aem.credentials.client_secret,
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let retry = "max_attempts = 12\ninitial_backoff_ms = 5\nmax_backoff_ms = 100\nrate_limited_backoff_ms = 20\nmax_retry_after_secs = 2";
    let text = format!(
        r#"state = "{state}"

[systems.windchill]
type = "windchill"
mapping = "{wc_map}"
base_url = "{wc_url}"
username = "{wc_user}"
password = {{ file = "secrets/windchill_password" }}
container = "OR:wt.pdmlink.PDMLinkProduct:1001"
document_type = "PromptToPartLink"

[systems.windchill.http.retry]
{retry}

[systems.aem]
type = "aem"
mapping = "{aem_map}"
base_url = "{aem_url}"
dam_root = "{dam_root}"
archive_property = "acme:archived"
metadata_properties = ["acme:lifecycleState", "acme:partName"]
auth = {{ type = "ims", client_id = "{client}", client_secret = {{ file = "secrets/aem_secret" }}, token_url = "{token_url}" }}

[systems.aem.http.retry]
{retry}

[[jobs]]
plm = "windchill"
dam = "aem"
"#,
        state = d.join("state.db").display(),
        wc_map = repo.join("mappings/windchill.toml").display(),
        wc_url = sim.windchill.url,
        wc_user = creds.windchill_username,
        aem_map = repo.join("mappings/aem.toml").display(),
        aem_url = aem.emulator.url,
        dam_root = aem.dam_root,
        client = aem.credentials.client_id,
        token_url = aem.token_url,
    );
    let config = d.join("partreel.toml");
    write(&config, &text);
    AemEnv {
        sim,
        aem,
        dir,
        config,
    }
}

impl AemEnv {
    async fn run(&self, env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = tokio::process::Command::new(bin());
        cmd.args(["sync", "--json", "--config"]).arg(&self.config);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().await.expect("run partreel")
    }

    async fn sync(&self) -> Value {
        let out = self.run(&[]).await;
        assert!(
            out.status.success(),
            "sync failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_report(&out.stdout)
    }

    /// Link documents as (asset id, status, link id).
    fn links(&self) -> Vec<(String, String, String)> {
        self.sim
            .windchill_documents()
            .into_iter()
            .filter_map(|d| {
                let id = d["PartreelLinkId"].as_str()?.to_string();
                Some((
                    d["AssetId"].as_str().unwrap_or_default().to_string(),
                    d["PartreelStatus"].as_str().unwrap_or_default().to_string(),
                    id,
                ))
            })
            .collect()
    }
}

fn assert_unique(links: &[(String, String, String)]) {
    let ids: BTreeSet<&str> = links.iter().map(|l| l.2.as_str()).collect();
    assert_eq!(
        ids.len(),
        links.len(),
        "duplicate link documents: {links:?}"
    );
}

/// The AEM story's four clips are linked to their Windchill revisions with the verdicts their
/// files deserve (two signed, one stripped, one altered), and a second run writes nothing.
#[tokio::test]
async fn aem_story_links_with_verdicts_and_second_run_writes_nothing() {
    let env = start().await;
    let first = env.sync().await;
    assert_eq!(first["links_created"], 4, "{first}");
    let links = env.links();
    assert_unique(&links);
    let non_compliant = links.iter().filter(|l| l.1 == "non_compliant").count();
    let active = links.iter().filter(|l| l.1 == "active").count();
    assert_eq!((active, non_compliant), (2, 2), "{links:?}");
    let second = env.sync().await;
    assert_eq!(writes(&second), 0, "{second}");
    drop(env.dir);
}

/// Killed right after a remote write, then restarted: never a duplicate link.
#[tokio::test]
async fn aem_crash_after_write_never_duplicates() {
    for n in ["1", "3", "6"] {
        let env = start().await;
        let out = env.run(&[("PARTREEL_TEST_CRASH_AFTER_WRITES", n)]).await;
        assert!(
            !out.status.success(),
            "the crash hook must end the run at write {n}"
        );
        let done = env.sync().await;
        let links = env.links();
        assert_unique(&links);
        assert_eq!(
            links.len(),
            4,
            "after a crash at write {n}: {links:?} {done}"
        );
        assert_eq!(writes(&env.sync().await), 0);
    }
}

/// 20% of requests to both emulators fail (5xx, 429, resets, cut-short bodies): the runs
/// converge to the fault-free result — four links, none twice.
#[tokio::test]
async fn aem_twenty_percent_faults_converge() {
    let env = start().await;
    let kinds = vec![
        FaultKind::ServerError(500),
        FaultKind::ServerError(503),
        FaultKind::RateLimited,
        FaultKind::Reset,
        FaultKind::Truncated,
    ];
    env.aem.emulator.faults.set_plan(FaultPlan {
        rate: 0.2,
        kinds: kinds.clone(),
        seed: 7,
    });
    env.sim.windchill.faults.set_plan(FaultPlan {
        rate: 0.2,
        kinds,
        seed: 8,
    });
    let mut converged = false;
    for _ in 0..10 {
        let out = env.run(&[]).await;
        assert_unique(&env.links());
        if out.status.success() && writes(&parse_report(&out.stdout)) == 0 {
            converged = true;
            break;
        }
    }
    assert!(converged, "no zero-write run within 10 runs");
    env.aem.emulator.faults.clear();
    env.sim.windchill.faults.clear();
    let links = env.links();
    assert_unique(&links);
    assert_eq!(links.len(), 4, "{links:?}");
    assert_eq!(writes(&env.sync().await), 0);
}

/// Incremental on `partreel sim`'s own `windchill-aem` job: 500 generated AEM clips about 500
/// Windchill parts. The first run links them all; the next only reads back partreel's own
/// writes; a run with nothing changed costs a few requests per system (AEM: one QueryBuilder
/// page of changes, plus the IMS token); ten clips edited in AEM update exactly ten links.
#[tokio::test]
async fn aem_incremental_with_a_quiet_run() {
    use std::time::Duration;

    use partreel_sim::config_writer::ConfigOptions;

    use crate::util::{Env, requests};

    let mut env = Env::start(
        SimConfig {
            parts: 500,
            aem_clips: 500,
            clips: 0,
            seed: 11,
            story: false,
            ..SimConfig::default()
        },
        ConfigOptions {
            requests_per_sec: Some(2000),
            ..ConfigOptions::default()
        },
    )
    .await;
    env.job = Some("windchill-aem");
    let between = Duration::from_secs(600);
    let first = env.sync(&[]).await;
    assert_eq!(first["links_created"], 500, "{}", first["quarantined"]);
    assert!(
        first["quarantined"].as_array().is_some_and(Vec::is_empty),
        "{}",
        first["quarantined"]
    );

    // The fewest AEM requests for 1,000 new links (docs/wire/aem.md "Confirming writes"): a
    // metadata PUT and the original rendition per clip, one QueryBuilder read per 50 writes,
    // the feed pages and the tokens — about 2,027; at most 2,050 per 1,000 links. No Siren read
    // per written asset.
    let aem_requests = requests(&first, "aem");
    eprintln!("first AEM run: requests {}", first["requests"]);
    assert!(
        aem_requests * 1000 <= 2050 * 500,
        "{aem_requests} AEM requests for 500 links"
    );
    let siren_reads = env
        .sim
        .aem
        .emulator
        .log
        .entries()
        .iter()
        .filter(|e| e.method == "GET" && e.path.starts_with("/api/assets/"))
        .count();
    assert_eq!(siren_reads, 0, "no read per written asset");

    env.sim.clock.advance(between);
    let second = env.sync(&[]).await;
    assert_eq!(writes(&second), 0, "{second}");

    env.sim.clock.advance(between);
    let third = env.sync(&[]).await;
    eprintln!("quiet AEM run: requests {}", third["requests"]);
    assert_eq!(writes(&third), 0, "{third}");
    assert!(requests(&third, "aem") <= 3, "{}", third["requests"]);
    assert!(requests(&third, "windchill") <= 3, "{}", third["requests"]);

    let paths = env.sim.aem.asset_paths();
    let edited: Vec<String> = paths.iter().step_by(50).take(10).cloned().collect();
    assert_eq!(edited.len(), 10);
    for (i, path) in edited.iter().enumerate() {
        assert!(
            env.sim
                .aem
                .edit_metadata(path, "acme:prompt", &format!("edited prompt {i}"))
        );
    }
    env.sim.clock.advance(between);
    let fourth = env.sync(&[]).await;
    assert_eq!(fourth["links_updated"], 10, "{fourth}");
    assert_eq!(fourth["links_created"], 0, "{fourth}");
    assert_eq!(fourth["links_retired"], 0, "{fourth}");
    let prompts: std::collections::BTreeMap<String, String> = env
        .sim
        .windchill_documents()
        .into_iter()
        .filter_map(|d| {
            Some((
                d["AssetId"].as_str()?.to_string(),
                d["Prompt"].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    for (i, path) in edited.iter().enumerate() {
        let asset = env.sim.aem.asset(path).expect("asset");
        let id = prompts
            .keys()
            .find(|k| path.ends_with(k.as_str()) || k.as_str() == path)
            .cloned()
            .unwrap_or_else(|| panic!("no link for {path} ({:?})", asset.metadata.get("dc:title")));
        assert_eq!(prompts[&id], format!("edited prompt {i}"));
    }
}
