//! The Teamcenter emulator on its own: the session handshake and its exception bodies, and a
//! deterministic seed. (The connector's tests in `connectors/teamcenter/tests` drive the rest.)

use serde_json::{Value, json};

use super::{TeamcenterSimConfig, start};
use crate::SimClock;

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (Option<String>, Value) {
    let resp = client.post(url).json(&body).send().await.unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    (cookie, resp.json().await.unwrap())
}

#[tokio::test]
async fn calls_need_a_session_and_login_sets_the_cookie() {
    let sim = start(TeamcenterSimConfig::default(), SimClock::new())
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let load = format!(
        "{}/JsonRestServices/Core-2007-09-DataManagement/loadObjects",
        sim.url()
    );
    let envelope = json!({"header": {"state": {}, "policy": {}}, "body": {"uids": []}});
    let (_, body) = post(&http, &load, envelope.clone()).await;
    assert_eq!(
        body[".QName"],
        "http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.InvalidUserException"
    );
    let login = format!("{}/JsonRestServices/Core-2011-06-Session/login", sim.url());
    let creds = |pw: &str| {
        json!({"header": {"state": {}, "policy": {}}, "body": {"credentials": {
        "user": "partreel", "password": pw, "group": "", "role": "", "locale": "en_US", "descrimator": "t"}}})
    };
    let (_, refused) = post(&http, &login, creds("nope")).await;
    assert!(
        refused[".QName"]
            .as_str()
            .unwrap()
            .ends_with("InvalidCredentialsException")
    );
    let (cookie, ok) = post(&http, &login, creds("partreel-sim")).await;
    assert!(
        ok[".QName"]
            .as_str()
            .unwrap()
            .ends_with("Session.LoginResponse")
    );
    assert!(cookie.unwrap().starts_with("JSESSIONID="));
    let (_, body) = post(&http, &load, envelope.clone()).await;
    assert!(body["partialErrors"].as_array().unwrap().is_empty());
    sim.expire_sessions();
    let (_, body) = post(&http, &load, envelope).await;
    assert_eq!(body["code"], 1000);
    assert_eq!(sim.logins(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_seed_is_deterministic_and_tells_the_stunt_track_story() {
    let cfg = TeamcenterSimConfig {
        parts: 40,
        ..TeamcenterSimConfig::default()
    };
    let a = start(cfg.clone(), SimClock::new()).await.unwrap();
    let b = start(cfg, SimClock::new()).await.unwrap();
    assert_eq!(a.revisions(), b.revisions());
    let revs = a.revisions();
    assert_eq!(revs.len(), 43);
    let st = |id: &str, rev: &str| {
        revs.iter()
            .find(|r| r.item_id == id && r.revision == rev)
            .cloned()
    };
    assert_eq!(st("ST-3001", "A").unwrap().status, ["Released"]);
    assert!(st("ST-3001", "B").unwrap().status.is_empty());
    assert!(st("ST-3002", "A").is_some());
    assert!(
        revs.iter()
            .all(|r| r.item_id.starts_with("ST-") || r.item_id.starts_with("SC-"))
    );
    assert_eq!(a.revise("ST-3002").as_deref(), Some("B"));
    assert!(a.edit_revision("ST-3002", "B", "release_status_list", Some("Released")));
    assert_eq!(a.revisions().len(), 44);
}
