//! The emulator on its own, driven by a plain HTTP client that follows redirects with a cookie
//! jar (as ws3dx's .NET client does): the CAS login, SecurityContext, the CSRF check, session
//! expiry in both forms, a stale `cestamp` on PATCH, and a document copied under another link id
//! (`copy_document_as`) as `GetItemDocuments` lists it.

use serde_json::{Value, json};

use super::{ExpiryResponse, ThreedxSimConfig, start};
use crate::framework::clock::SimClock;

const CSRF: &str = "/resources/v1/application/CSRF";

async fn login(sim: &super::ThreedxSim) -> reqwest::Client {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let p = &sim.passport_url;
    let lt: Value = c
        .get(format!("{p}/login?action=get_auth_params"))
        .send()
        .await
        .expect("lt")
        .json()
        .await
        .expect("json");
    assert_eq!(lt["response"], "login");
    let service = format!("{}/", sim.emulator.url);
    let form = [
        ("lt", lt["lt"].as_str().unwrap_or_default()),
        ("username", "partreel"),
        ("password", "partreel-3dx"),
        ("rememberMe", "false"),
    ];
    let r = c
        .post(format!("{p}/login"))
        .query(&[("service", service.as_str())])
        .form(&form)
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200, "redirects followed into 3DSpace");
    assert_eq!(sim.logins(), 1);
    c
}

fn ctx(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.header(
        "SecurityContext",
        "ctx::VPLMProjectLeader.Company Name.Common Space",
    )
}

#[tokio::test]
async fn cas_login_csrf_and_expiry() {
    let sim = start(
        ThreedxSimConfig {
            parts: 5,
            ..Default::default()
        },
        SimClock::new(),
    )
    .await
    .expect("start");
    let c = login(&sim).await;
    let space = sim.emulator.url.clone();
    let search = format!(
        "{space}/resources/v1/modeler/dseng/dseng:EngItem/search?$searchStr=PL-4001&$top=10"
    );
    let r = c.get(&search).send().await.expect("search");
    assert_eq!(r.status(), 403, "SecurityContext is required");
    let found: Value = ctx(c.get(&search))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    assert_eq!(found["member"].as_array().map(Vec::len), Some(2), "{found}");
    let part = found["member"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body =
        json!({"data": [{"type": "Document", "dataelements": {"title": "t", "parentId": part}}]});
    let docs = format!("{space}/resources/v1/modeler/documents?parentRelName=Reference%20Document");
    let r = ctx(c.post(&docs)).json(&body).send().await.expect("post");
    assert_eq!(r.status(), 403, "no CSRF token");
    let token: Value = ctx(c.get(format!("{space}{CSRF}")))
        .send()
        .await
        .expect("csrf")
        .json()
        .await
        .expect("json");
    let token = token["csrf"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let created: Value = ctx(c.post(&docs))
        .header("ENO_CSRF_TOKEN", &token)
        .json(&body)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(created["success"], true, "{created}");
    assert_eq!(
        sim.documents().len(),
        2,
        "the seeded instructions and the new document"
    );
    // PATCH with a stale cestamp is refused; with the current one it succeeds.
    let item = format!("{space}/resources/v1/modeler/dseng/dseng:EngItem/{part}");
    let stale = ctx(c.patch(&item))
        .header("ENO_CSRF_TOKEN", &token)
        .json(&json!({"cestamp": "OLD", "title": "x"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(stale.status(), 409);
    let current = found["member"][0]["cestamp"].as_str().unwrap_or_default();
    let ok = ctx(c.patch(&item))
        .header("ENO_CSRF_TOKEN", &token)
        .json(&json!({"cestamp": current, "title": "x"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(ok.status(), 200);
    sim.emulator.faults.expire_sessions();
    assert_eq!(
        ctx(c.get(&search)).send().await.expect("search").status(),
        401
    );
    sim.set_expiry(ExpiryResponse::LoginRedirect);
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = ctx(plain.get(&search)).send().await.expect("search");
    assert_eq!(r.status(), 302);
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        loc.starts_with(&format!("{}/login?service=", sim.passport_url)),
        "{loc}"
    );
    sim.shutdown().await;
}

/// `GET documents/parentId/{item}` as the connector sends it: the `data[]` of the answer.
async fn documents_under(c: &reqwest::Client, space: &str, item: &str) -> Vec<Value> {
    let url = format!(
        "{space}/resources/v1/modeler/documents/parentId/{item}?parentRelName=Reference%20Document&parentDirection=from"
    );
    let r: Value = ctx(c.get(url))
        .send()
        .await
        .expect("documents/parentId")
        .json()
        .await
        .expect("json");
    assert_eq!(r["success"], true, "{r}");
    r["data"].as_array().cloned().unwrap_or_default()
}

/// `copy_document_as`: a copy of a document under another link id — a new id and name, the
/// new `partreelLinkId`, `originated` a minute before the original's (`older`) or now,
/// `modified` now — under every parent of the original, listed by `GetItemDocuments` next to
/// it; the original is untouched. `GetItemDocuments` honours `parentDirection`.
#[tokio::test]
async fn copy_document_as_lists_a_second_link_under_the_same_items() {
    let clock = SimClock::new();
    let sim = start(
        ThreedxSimConfig {
            parts: 3,
            ..Default::default()
        },
        clock.clone(),
    )
    .await
    .expect("start");
    let c = login(&sim).await;
    let space = sim.emulator.url.clone();
    let found: Value = ctx(c.get(format!(
        "{space}/resources/v1/modeler/dseng/dseng:EngItem/search?$searchStr=PL-4001&$top=10"
    )))
    .send()
    .await
    .expect("search")
    .json()
    .await
    .expect("json");
    let items: Vec<String> = found["member"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(items.len(), 2, "both revisions of PL-4001: {found}");
    let token: Value = ctx(c.get(format!("{space}{CSRF}")))
        .send()
        .await
        .expect("csrf")
        .json()
        .await
        .expect("json");
    let token = token["csrf"]["value"].as_str().unwrap_or_default();
    // One link document under the first item, then related to the second one too.
    let body = json!({"data": [{"type": "Document", "dataelements": {"title": "ptp-original",
        "partreelLinkId": "ptp-original", "assetId": "clip-1", "parentId": items[0],
        "extensions": ["PromptToPartLinkExt"]}}]});
    let created: Value = ctx(c.post(format!(
        "{space}/resources/v1/modeler/documents?parentRelName=Reference%20Document&parentDirection=from"
    )))
    .header("ENO_CSRF_TOKEN", token)
    .json(&body)
    .send()
    .await
    .expect("post")
    .json()
    .await
    .expect("json");
    let original = created["data"][0]["id"]
        .as_str()
        .expect("created id")
        .to_string();
    let attach = json!({"data": [{"id": original, "dataelements": {"parentId": items[1],
        "parentRelName": "Reference Document", "parentDirection": "from"}}]});
    let r = ctx(c.put(format!("{space}/resources/v1/modeler/documents/{original}")))
        .header("ENO_CSRF_TOKEN", token)
        .json(&attach)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    let before = sim
        .documents()
        .into_iter()
        .find(|d| d["id"] == original.as_str())
        .expect("original");
    clock.advance(std::time::Duration::from_secs(600));
    let now = crate::framework::clock::iso(clock.now());
    let hand = sim
        .copy_document_as(&original, "ptp-hand", true)
        .expect("copy");
    let late = sim
        .copy_document_as(&original, "ptp-late", false)
        .expect("copy");
    assert!(
        hand != original && late != original && hand != late,
        "new ids"
    );
    assert_eq!(sim.copy_document_as("NO-SUCH-DOC", "x", true), None);
    let originated = before["dataelements"]["originated"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("originated");
    let a_minute_before = crate::framework::clock::iso(
        (originated - chrono::Duration::seconds(60)).with_timezone(&chrono::Utc),
    );
    for item in &items {
        let docs = documents_under(&c, &space, item).await;
        let by_id = |id: &str| {
            docs.iter()
                .find(|d| d["id"] == id)
                .unwrap_or_else(|| panic!("{id} under {item}: {docs:?}"))
                .clone()
        };
        assert_eq!(
            by_id(&original),
            before,
            "the original is untouched under {item}"
        );
        for (id, link, created) in [
            (&hand, "ptp-hand", a_minute_before.as_str()),
            (&late, "ptp-late", now.as_str()),
        ] {
            let d = by_id(id);
            let el = &d["dataelements"];
            assert_eq!(el["partreelLinkId"], link, "{d}");
            assert_eq!(el["assetId"], "clip-1", "same clip: {d}");
            assert_eq!(el["originated"], created, "{d}");
            assert_eq!(el["modified"], now.as_str(), "{d}");
            assert_ne!(el["name"], before["dataelements"]["name"], "{d}");
            assert_ne!(d["cestamp"], before["cestamp"], "{d}");
            assert_eq!(
                d["relateddata"]["parents"], before["relateddata"]["parents"],
                "same parents: {d}"
            );
        }
    }
    // The parent is on the `from` side of every relation: `to` finds nothing; anything else
    // is refused.
    let url = |dir: &str| {
        format!(
            "{space}/resources/v1/modeler/documents/parentId/{}?parentRelName=Reference%20Document&parentDirection={dir}",
            items[0]
        )
    };
    let to: Value = ctx(c.get(url("to")))
        .send()
        .await
        .expect("to")
        .json()
        .await
        .expect("json");
    assert_eq!(to["data"], json!([]), "{to}");
    let bad = ctx(c.get(url("sideways"))).send().await.expect("bad");
    assert_eq!(bad.status(), 400);
    sim.shutdown().await;
}
