//! `partreel doctor` against the emulators: everything passes on the demo's systems; a
//! metaproperty deleted from the portal, a wrong secret, an unsorted feed or a skewed server
//! clock fails that one check, with a fix that names what to do; `--record-wire` records the
//! probes with nothing secret in them.

use std::time::Duration;

use serde_json::Value;

use crate::util::{Env, text};

/// Runs `partreel doctor --json` (plus `extra`) and returns (exit success, checks).
async fn doctor(env: &Env, extra: &[&str]) -> (bool, Vec<Value>) {
    let out = env.run(&["doctor", "--json"], extra, &[]).await;
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}):\n{}", text(&out)));
    assert_eq!(
        report["ok"].as_bool(),
        Some(out.status.success()),
        "`ok` says what the exit status says:\n{}",
        text(&out)
    );
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    (out.status.success(), checks)
}

fn failed(checks: &[Value]) -> Vec<&Value> {
    checks.iter().filter(|c| c["status"] == "fail").collect()
}

fn check<'a>(checks: &'a [Value], system: &str, id: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["system"] == system && c["check"] == id)
        .unwrap_or_else(|| panic!("no {system} {id} check in {checks:#?}"))
}

/// The demo's five systems and the state store: nothing fails, and each system's sign-in,
/// feed order and filter and mapping checks ran and passed.
#[tokio::test]
async fn doctor_passes_on_the_demo_emulators() {
    let env = Env::story().await;
    let (ok, checks) = doctor(&env, &[]).await;
    assert!(ok, "{checks:#?}");
    assert!(failed(&checks).is_empty(), "{checks:#?}");
    assert_eq!(check(&checks, "state", "state")["status"], "pass");
    for system in ["windchill", "teamcenter", "threedx", "bynder", "aem"] {
        for id in ["auth", "read", "clock", "mapping", "rate-limit", "write"] {
            let c = check(&checks, system, id);
            assert_ne!(c["status"], "fail", "{c}");
        }
        let feed = if matches!(system, "bynder" | "aem") {
            "assets"
        } else {
            "parts"
        };
        for id in [format!("feed-order:{feed}"), format!("feed-filter:{feed}")] {
            assert_eq!(check(&checks, system, &id)["status"], "pass", "{checks:#?}");
        }
        let mapping = check(&checks, system, "mapping");
        if system == "threedx" {
            // The link attributes come with a customer extension that no document carries
            // before the first sync: said, not failed.
            assert_eq!(mapping["status"], "warn", "{mapping}");
            assert!(
                mapping["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("extension PromptToPartLinkExt"),
                "{mapping}"
            );
        } else {
            assert_eq!(mapping["status"], "pass", "{mapping}");
        }
    }
    // The systems that can tell without writing say the demo account may write.
    assert_eq!(check(&checks, "bynder", "write")["status"], "pass");
    assert_eq!(check(&checks, "threedx", "write")["status"], "pass");

    // The text form: one line per check and the totals; exit 0.
    let out = env
        .run(&["doctor"], &["--job", "windchill-bynder"], &[])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("pass") && l.contains("feed-order:assets")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("teamcenter"),
        "--job checks that job's systems only:\n{stdout}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
}

/// A metaproperty the mapping names, deleted from the portal: the Bynder mapping check fails,
/// naming the property, the mapping file's line and the command that lists what exists.
#[tokio::test]
async fn a_deleted_metaproperty_fails_the_mapping_check_with_the_fix() {
    let env = Env::story().await;
    assert!(env.sim.bynder_remove_metaproperty("Campaign"));
    let (ok, checks) = doctor(&env, &["--job", "windchill-bynder"]).await;
    assert!(!ok, "{checks:#?}");
    let fails = failed(&checks);
    assert_eq!(fails.len(), 1, "only the mapping check fails: {fails:#?}");
    let c = fails[0];
    assert_eq!(
        (c["system"].as_str(), c["check"].as_str()),
        (Some("bynder"), Some("mapping"))
    );
    let detail = c["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("Campaign"), "{detail}");
    assert!(
        detail.contains("bynder.toml:"),
        "names the file and line: {detail}"
    );
    let fix = c["fix"].as_str().unwrap_or_default();
    assert!(fix.contains("partreel mappings discover bynder"), "{fix}");
}

/// A wrong client secret: Bynder's sign-in check fails and says where the credential is set;
/// the checks that need a session are not run for it, the other systems still pass.
#[tokio::test]
async fn wrong_credentials_fail_the_auth_check_only() {
    let env = Env::story().await;
    let secret = env.dir.path().join("secrets").join("bynder_client_secret");
    std::fs::write(&secret, "not-the-secret").expect("write secret");
    let (ok, checks) = doctor(&env, &["--job", "windchill-bynder"]).await;
    assert!(!ok);
    let fails = failed(&checks);
    assert_eq!(fails.len(), 1, "{fails:#?}");
    let c = fails[0];
    assert_eq!(
        (c["system"].as_str(), c["check"].as_str()),
        (Some("bynder"), Some("auth"))
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap_or_default()
            .contains("[systems.bynder.auth]"),
        "{c}"
    );
    assert!(
        !serde_json::to_string(&checks)
            .unwrap()
            .contains("not-the-secret"),
        "the secret never reaches the report"
    );
    assert!(
        !checks
            .iter()
            .any(|c| c["system"] == "bynder" && c["check"] == "mapping"),
        "no session, no further Bynder checks: {checks:#?}"
    );
    assert_eq!(check(&checks, "windchill", "mapping")["status"], "pass");
}

/// A portal that ignores the sort partreel asks for: the order check fails, naming two records
/// out of order and what to look at.
#[tokio::test]
async fn an_unsorted_feed_fails_the_feed_order_check() {
    let env = Env::story().await;
    env.sim.bynder_ignore_order(true);
    let (ok, checks) = doctor(&env, &["--job", "windchill-bynder"]).await;
    assert!(!ok);
    let fails = failed(&checks);
    assert_eq!(fails.len(), 1, "{fails:#?}");
    let c = fails[0];
    assert_eq!(
        (c["system"].as_str(), c["check"].as_str()),
        (Some("bynder"), Some("feed-order:assets"))
    );
    let detail = c["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("not sorted oldest first"), "{detail}");
    assert!(detail.matches("record ").count() >= 2, "{detail}");
    assert!(
        c["fix"]
            .as_str()
            .unwrap_or_default()
            .contains("docs/wire/bynder.md"),
        "{c}"
    );
}

/// Servers whose clocks run ten minutes ahead of this host: the clock checks fail with the fix
/// (synchronise the clock); nothing else does.
#[tokio::test]
async fn a_skewed_server_clock_fails_the_clock_check() {
    let env = Env::story().await;
    env.sim.clock.advance(Duration::from_secs(600));
    let (ok, checks) = doctor(&env, &["--job", "windchill-bynder"]).await;
    assert!(!ok);
    let fails = failed(&checks);
    assert!(!fails.is_empty());
    for c in &fails {
        assert_eq!(c["check"], "clock", "{fails:#?}");
        assert!(
            c["detail"].as_str().unwrap_or_default().contains("ahead"),
            "{c}"
        );
        assert!(c["fix"].as_str().unwrap_or_default().contains("NTP"), "{c}");
    }
}

/// `doctor --record-wire DIR` records the probes of every checked system, and no credential
/// the emulators issued or were given appears in the files.
#[tokio::test]
async fn doctor_records_the_wire_without_secrets() {
    let env = Env::story().await;
    let wire = env.dir.path().join("wire");
    let wire_arg = wire.to_string_lossy().to_string();
    let (ok, _) = doctor(
        &env,
        &["--job", "windchill-bynder", "--record-wire", &wire_arg],
    )
    .await;
    assert!(ok);
    let mut all = String::new();
    for entry in std::fs::read_dir(&wire).expect("wire dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    assert!(all.contains("/v4/media"), "Bynder's probes are recorded");
    assert!(all.contains("Parts"), "Windchill's probes are recorded");
    let creds = env.sim.credentials();
    let mut secrets: Vec<String> = env.sim.issued_credentials();
    assert!(!secrets.is_empty(), "the probes signed in");
    secrets.extend([
        creds.bynder_client_secret.clone(),
        creds.windchill_password.clone(),
        "Bearer ".into(),
        "Basic ".into(),
    ]);
    crate::util::assert_no_secret(&all, &secrets);
}

/// A Bynder client asking only for read scopes: the token is granted without `asset:write`,
/// so the write check fails and says which scope to add where; the reads still pass.
#[tokio::test]
async fn a_token_without_the_write_scope_fails_the_write_check() {
    let env = Env::story().await;
    let config = std::fs::read_to_string(&env.config).expect("config");
    let from = "client_secret = { file = \"secrets/bynder_client_secret\" } }";
    assert!(config.contains(from), "{config}");
    let to = "client_secret = { file = \"secrets/bynder_client_secret\" }, scopes = \
              [\"asset:read\", \"meta.assetbank:read\"] }";
    std::fs::write(&env.config, config.replace(from, to)).expect("config");
    let (ok, checks) = doctor(&env, &["--job", "windchill-bynder"]).await;
    assert!(!ok);
    let fails = failed(&checks);
    assert_eq!(fails.len(), 1, "{fails:#?}");
    let c = fails[0];
    assert_eq!(
        (c["system"].as_str(), c["check"].as_str()),
        (Some("bynder"), Some("write"))
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap_or_default()
            .contains("asset:write"),
        "{c}"
    );
    assert_eq!(
        check(&checks, "bynder", "feed-order:assets")["status"],
        "pass"
    );
}
