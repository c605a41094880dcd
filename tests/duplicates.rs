//! Duplicate link records already in the PLM — copied by hand, or left by an older partreel
//! whose processes shared one state: the next sync reports each, keeps the oldest record of its
//! link id and retires the others (never deletes them), in every PLM; the sync after writes
//! nothing.

use std::collections::BTreeMap;

use partreel_core::state::StateStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{GeneratedPlm, Sim, SimConfig};

use crate::util::{Env, writes};

/// One PLM under test, with its job and the properties holding the link id and status.
#[derive(Clone, Copy)]
struct Case {
    plm: GeneratedPlm,
    job: &'static str,
}

/// One link record as the emulator holds it.
#[derive(Debug, Clone)]
struct Record {
    id: String,
    link_id: String,
    status: String,
}

fn records(sim: &Sim, case: Case) -> Vec<Record> {
    let rec = |id: &str, link: Option<&str>, status: Option<&str>| Record {
        id: id.to_string(),
        link_id: link.unwrap_or_default().to_string(),
        status: status.unwrap_or_default().to_string(),
    };
    let all: Vec<Record> = match case.plm {
        GeneratedPlm::Windchill => sim
            .windchill_documents()
            .iter()
            .map(|d| {
                rec(
                    d["ID"].as_str().unwrap_or_default(),
                    d["PartreelLinkId"].as_str(),
                    d["PartreelStatus"].as_str(),
                )
            })
            .collect(),
        GeneratedPlm::Teamcenter => sim
            .teamcenter
            .forms()
            .iter()
            .map(|f| {
                rec(
                    &f.uid,
                    f.props.get("ptp_link_id").map(String::as_str),
                    f.props.get("ptp_status").map(String::as_str),
                )
            })
            .collect(),
        GeneratedPlm::Threedx => sim
            .threedx
            .documents()
            .iter()
            .map(|d| {
                let el = &d["dataelements"];
                rec(
                    d["id"].as_str().unwrap_or_default(),
                    el["partreelLinkId"].as_str(),
                    el["partreelStatus"].as_str(),
                )
            })
            .collect(),
    };
    all.into_iter().filter(|r| !r.link_id.is_empty()).collect()
}

/// Copies a record in the emulator (see each emulator's hook); returns the copy's id.
fn duplicate(sim: &Sim, case: Case, id: &str, older: bool) -> String {
    match case.plm {
        GeneratedPlm::Windchill => sim.windchill_duplicate_document(id, older),
        GeneratedPlm::Teamcenter => sim.teamcenter.duplicate_record(id, older),
        GeneratedPlm::Threedx => sim.threedx.duplicate_document(id, older),
    }
    .unwrap_or_else(|| panic!("no record {id} to duplicate"))
}

async fn duplicates_are_retired_keeping_the_oldest(case: Case) {
    let cfg = SimConfig {
        parts: 6,
        clips: 12,
        seed: 11,
        story: false,
        generated_plm: case.plm,
        ..SimConfig::default()
    };
    let opts = ConfigOptions {
        requests_per_sec: Some(2000),
        ..ConfigOptions::default()
    };
    let mut env = Env::start(cfg, opts).await;
    env.job = Some(case.job);
    let first = env.sync(&[]).await;
    let before = records(&env.sim, case);
    assert!(before.len() >= 4, "links made: {first}");
    assert!(before.iter().all(|r| r.status == "active"), "{before:?}");

    // A copy made later (the original is the oldest, it stays), a copy dated before its
    // original (the copy is the oldest: it stays, the original is retired and the state
    // follows the copy), and a link copied twice.
    let newer = duplicate(&env.sim, case, &before[0].id, false);
    let older = duplicate(&env.sim, case, &before[1].id, true);
    let twice = [
        duplicate(&env.sim, case, &before[2].id, false),
        duplicate(&env.sim, case, &before[2].id, false),
    ];
    env.sim.clock.advance(std::time::Duration::from_secs(600));

    let report = env.sync(&[]).await;
    let dups = report["duplicates"].as_array().expect("duplicates listed");
    let pairs: BTreeMap<String, String> = dups
        .iter()
        .map(|d| {
            assert_eq!(d["outcome"], "retired", "{d}");
            (
                d["retired"].as_str().unwrap_or_default().to_string(),
                d["kept"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        (newer.clone(), before[0].id.clone()),
        (before[1].id.clone(), older.clone()),
        (twice[0].clone(), before[2].id.clone()),
        (twice[1].clone(), before[2].id.clone()),
    ]
    .into_iter()
    .collect();
    assert_eq!(pairs, expected, "retired → kept: {report}");
    assert_eq!(report["links_retired"], 4, "{report}");
    assert_eq!(report["links_created"], 0, "{report}");

    // Nothing deleted; one active record per link id.
    let after = records(&env.sim, case);
    assert_eq!(after.len(), before.len() + 4, "records are never deleted");
    let mut active: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &after {
        if r.status != "retired" {
            active.entry(&r.link_id).or_default().push(&r.id);
        }
    }
    assert!(
        active.values().all(|ids| ids.len() == 1),
        "one live record per link id: {active:?}"
    );
    assert_eq!(active.len(), before.len(), "every link still live once");
    let live_of = |link: &str| active.get(link).map(|v| v[0].to_string());
    assert_eq!(live_of(&before[1].link_id), Some(older.clone()));
    assert_eq!(live_of(&before[0].link_id), Some(before[0].id.clone()));

    // The next sync finds nothing more to do.
    env.sim.clock.advance(std::time::Duration::from_secs(600));
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{again}");
    assert!(
        again["duplicates"].as_array().is_none_or(Vec::is_empty),
        "{again}"
    );
    // The state follows the record kept.
    let store = SqliteStore::open(&env.state_path()).expect("open state");
    let links = store.links_page(None, 10_000).await.expect("links");
    let link = links
        .iter()
        .find(|l| l.link_id.as_str() == before[1].link_id)
        .expect("the link in the state");
    assert_eq!(link.remote_id.as_deref(), Some(older.as_str()));
}

#[tokio::test]
async fn windchill_duplicates_are_retired_keeping_the_oldest() {
    duplicates_are_retired_keeping_the_oldest(Case {
        plm: GeneratedPlm::Windchill,
        job: "windchill-bynder",
    })
    .await;
}

#[tokio::test]
async fn teamcenter_duplicates_are_retired_keeping_the_oldest() {
    duplicates_are_retired_keeping_the_oldest(Case {
        plm: GeneratedPlm::Teamcenter,
        job: "teamcenter-bynder",
    })
    .await;
}

#[tokio::test]
async fn threedx_duplicates_are_retired_keeping_the_oldest() {
    duplicates_are_retired_keeping_the_oldest(Case {
        plm: GeneratedPlm::Threedx,
        job: "threedx-bynder",
    })
    .await;
}

/// Copies a record in the emulator under another link id (a second record for the same clip
/// and part revision, made by hand); returns the copy's id.
fn copy_as(sim: &Sim, case: Case, id: &str, link_id: &str, older: bool) -> String {
    match case.plm {
        GeneratedPlm::Windchill => sim.windchill_copy_document_as(id, link_id, older),
        GeneratedPlm::Teamcenter => sim.teamcenter.copy_record_as(id, link_id, older),
        GeneratedPlm::Threedx => sim.threedx.copy_document_as(id, link_id, older),
    }
    .unwrap_or_else(|| panic!("no record {id} to copy"))
}

/// Two live records for one clip and one part revision under different link ids: found from
/// the part's side, the oldest kept (and given the link's own id), the other retired.
async fn second_records_under_other_ids_are_retired(case: Case) {
    let cfg = SimConfig {
        parts: 6,
        clips: 12,
        seed: 5,
        story: false,
        generated_plm: case.plm,
        ..SimConfig::default()
    };
    let opts = ConfigOptions {
        requests_per_sec: Some(2000),
        ..ConfigOptions::default()
    };
    let mut env = Env::start(cfg, opts).await;
    env.job = Some(case.job);
    let first = env.sync(&[]).await;
    let before = records(&env.sim, case);
    assert!(before.len() >= 3, "links made: {first}");

    // A copy made later under a hand-typed id (the original stays), and a copy dated before
    // its original under another id (the copy stays; the original is retired).
    let newer = copy_as(&env.sim, case, &before[0].id, "handmade-1", false);
    let older = copy_as(&env.sim, case, &before[1].id, "handmade-2", true);
    env.sim.clock.advance(std::time::Duration::from_secs(600));

    let report = env.sync(&[]).await;
    let dups = report["duplicates"].as_array().expect("duplicates listed");
    let found: BTreeMap<String, (String, String, Option<String>)> = dups
        .iter()
        .map(|d| {
            assert_eq!(d["outcome"], "retired", "{d}");
            (
                d["retired"].as_str().unwrap_or_default().to_string(),
                (
                    d["kept"].as_str().unwrap_or_default().to_string(),
                    d["link_id"].as_str().unwrap_or_default().to_string(),
                    d["retired_link_id"].as_str().map(str::to_string),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<String, (String, String, Option<String>)> = [
        (
            newer.clone(),
            (
                before[0].id.clone(),
                before[0].link_id.clone(),
                Some("handmade-1".to_string()),
            ),
        ),
        (
            before[1].id.clone(),
            (older.clone(), before[1].link_id.clone(), None),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        found, expected,
        "retired → (kept, link, id carried): {report}"
    );
    assert_eq!(report["links_retired"], 2, "{report}");
    assert_eq!(report["links_created"], 0, "{report}");

    // Nothing deleted; each link live once, the kept copy now carrying the link's own id.
    let after = records(&env.sim, case);
    assert_eq!(after.len(), before.len() + 2, "records are never deleted");
    let live: BTreeMap<&str, Vec<&str>> =
        after
            .iter()
            .filter(|r| r.status != "retired")
            .fold(BTreeMap::new(), |mut m, r| {
                m.entry(r.link_id.as_str()).or_default().push(r.id.as_str());
                m
            });
    let expected_ids: Vec<&str> = {
        let mut v: Vec<&str> = before.iter().map(|r| r.link_id.as_str()).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        live.keys().copied().collect::<Vec<_>>(),
        expected_ids,
        "{live:?}"
    );
    assert!(live.values().all(|ids| ids.len() == 1), "{live:?}");
    assert_eq!(live[before[1].link_id.as_str()], vec![older.as_str()]);
    assert_eq!(
        live[before[0].link_id.as_str()],
        vec![before[0].id.as_str()]
    );

    // The next sync finds nothing more to do.
    env.sim.clock.advance(std::time::Duration::from_secs(600));
    let again = env.sync(&[]).await;
    assert_eq!(writes(&again), 0, "{again}");
    assert!(
        again["duplicates"].as_array().is_none_or(Vec::is_empty),
        "{again}"
    );
}

#[tokio::test]
async fn windchill_second_records_under_other_ids_are_retired() {
    second_records_under_other_ids_are_retired(Case {
        plm: GeneratedPlm::Windchill,
        job: "windchill-bynder",
    })
    .await;
}

#[tokio::test]
async fn teamcenter_second_records_under_other_ids_are_retired() {
    second_records_under_other_ids_are_retired(Case {
        plm: GeneratedPlm::Teamcenter,
        job: "teamcenter-bynder",
    })
    .await;
}

#[tokio::test]
async fn threedx_second_records_under_other_ids_are_retired() {
    second_records_under_other_ids_are_retired(Case {
        plm: GeneratedPlm::Threedx,
        job: "threedx-bynder",
    })
    .await;
}
