//! The command line itself: the demo runs, errors are clear.

use crate::util::{Env, bin, requests, writes};

/// `partreel demo` runs every job of the sim's configuration: Windchill ⇄ Bynder creates the
/// story's five links and quarantines the clip tagged with an unknown part; Teamcenter ⇄ Bynder
/// creates the two Stunt Track links; 3DEXPERIENCE ⇄ Bynder the two playset links (PL-4001 B,
/// PL-4002 A); Windchill ⇄ AEM the AEM story's four (TR-1002 A, DL-2040 C, two clips each);
/// its second sync writes nothing.
#[tokio::test]
async fn demo_runs_and_second_sync_writes_nothing() {
    let out = tokio::process::Command::new(bin())
        .args(["demo", "--json"])
        .output()
        .await
        .expect("run demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = crate::util::parse_report(&out.stdout);
    // 5 + 2 + 2 + 4: the per-job counts below.
    assert_eq!(report["links_created"], 13, "{report}");
    let jobs: Vec<(&str, u64)> = report["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|j| {
            (
                j["job"].as_str().unwrap_or_default(),
                j["links_created"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        jobs,
        [
            ("windchill-bynder", 5),
            ("teamcenter-bynder", 2),
            ("threedx-bynder", 2),
            ("windchill-aem", 4)
        ],
        "{report}"
    );
    assert_eq!(
        report["quarantined"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    let reason = report["quarantined"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("XX-9999"), "{reason}");
}

/// A second sync right after the first makes zero writes and only a few requests.
#[tokio::test]
async fn second_sync_is_idempotent() {
    let env = Env::story().await;
    let first = env.sync(&[]).await;
    assert_eq!(first["links_created"], 5, "{first}");
    assert_eq!(first["asset_writes"], 5, "{first}");
    let second = env.sync(&[]).await;
    assert_eq!(writes(&second), 0, "{second}");
    assert!(requests(&second, "windchill") <= 3, "{second}");
    assert!(requests(&second, "bynder") <= 3, "{second}");
    assert_eq!(env.link_documents().len(), 5);
}
