//! The command line itself: the demo runs, errors are clear.

use crate::util::{Env, bin, requests, writes};

/// `partreel demo` runs every job of the sim's configuration: Windchill ⇄ Bynder creates the
/// story's five links and quarantines the clip tagged with an unknown part; Teamcenter ⇄ Bynder
/// creates the two Stunt Track links; 3DEXPERIENCE ⇄ Bynder the two playset links (PL-4001 B,
/// PL-4002 A); Windchill ⇄ AEM the AEM story's four (TR-1002 A, DL-2040 C, two clips each);
/// its second sync writes nothing.
#[tokio::test]
async fn demo_runs_and_second_sync_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tokio::process::Command::new(bin())
        .args(["demo", "--json"])
        .env("TMPDIR", tmp.path())
        .output()
        .await
        .expect("run demo");
    assert_eq!(
        demo_folders(tmp.path()),
        Vec::<String>::new(),
        "the demo removes its folder (state, secrets) when it ends"
    );
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

/// The `partreel-demo-*` folders in `dir`.
fn demo_folders(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read tmp")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("partreel-demo-"))
        .collect()
}

/// Ctrl-C in the middle of the demo's sync stops it with exit code 130 and removes its
/// folder (configuration, secrets, state); so does Ctrl-C while `--serve` shows the viewer,
/// which is the normal way to end it (exit 0).
#[tokio::test]
async fn an_interrupted_demo_removes_its_folder() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    for (args, code) in [
        (vec!["demo", "--parts", "300", "--clips", "3000"], 130),
        (vec!["demo", "--serve"], 0),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut child = tokio::process::Command::new(bin())
            .args(&args)
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn demo");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let wait_for = if code == 0 {
            "Ctrl-C to stop"
        } else {
            "configuration"
        };
        let seen = tokio::time::timeout(std::time::Duration::from_secs(300), async {
            while let Ok(Some(l)) = lines.next_line().await {
                if l.contains(wait_for) {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        assert!(seen, "{args:?}: never printed {wait_for:?}");
        assert_eq!(
            demo_folders(tmp.path()).len(),
            1,
            "{args:?}: the demo's folder exists"
        );
        let pid = child.id().expect("pid");
        assert!(
            std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .expect("kill")
                .success()
        );
        let status = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait())
            .await
            .expect("the demo stops")
            .expect("wait");
        assert_eq!(status.code(), Some(code), "{args:?}");
        assert_eq!(
            demo_folders(tmp.path()),
            Vec::<String>::new(),
            "{args:?}: the folder is removed"
        );
    }
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
