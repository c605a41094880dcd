//! The emulator on its own, driven by a plain HTTP client that follows redirects with a cookie
//! jar (as ws3dx's .NET client does): the CAS login, SecurityContext, the CSRF check, session
//! expiry in both forms, and a stale `cestamp` on PATCH.

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
