//! Helpers shared by the emulator tests.

use partreel_sim::{Sim, SimConfig};
use serde_json::Value;

/// A started sim with `parts` and `clips` beyond the story.
pub async fn sim(parts: usize, clips: usize) -> Sim {
    Sim::start(SimConfig {
        parts,
        clips,
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// A client with a cookie jar (Windchill sessions ride on JSESSIONID).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

/// A Windchill GET with Basic auth.
pub fn wc_get(c: &reqwest::Client, sim: &Sim, url: &str) -> reqwest::RequestBuilder {
    let cr = sim.credentials();
    c.get(url)
        .basic_auth(cr.windchill_username, Some(cr.windchill_password))
}

/// A Windchill write (method + url) with Basic auth.
pub fn wc_write(
    c: &reqwest::Client,
    sim: &Sim,
    method: reqwest::Method,
    url: &str,
) -> reqwest::RequestBuilder {
    let cr = sim.credentials();
    c.request(method, url)
        .basic_auth(cr.windchill_username, Some(cr.windchill_password))
}

/// The session's CSRF nonce.
pub async fn nonce(c: &reqwest::Client, sim: &Sim) -> String {
    let v: Value = wc_get(c, sim, &format!("{}/PTC/GetCSRFToken()", sim.windchill.url))
        .send()
        .await
        .expect("nonce request")
        .json()
        .await
        .expect("nonce json");
    assert_eq!(v["NonceKey"], "CSRF_NONCE");
    v["NonceValue"].as_str().expect("nonce value").to_owned()
}

/// A Bynder OAuth access token.
pub async fn bynder_token(c: &reqwest::Client, sim: &Sim) -> String {
    let cr = sim.credentials();
    let v: Value = c
        .post(format!("{}/v6/authentication/oauth2/token", sim.bynder.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cr.bynder_client_id.as_str()),
            ("client_secret", cr.bynder_client_secret.as_str()),
            ("scope", "asset:read asset:write"),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    assert_eq!(v["token_type"], "bearer");
    v["access_token"].as_str().expect("access token").to_owned()
}

/// Follows `@odata.nextLink` from `url` to the end; returns every entity.
pub async fn walk_windchill(c: &reqwest::Client, sim: &Sim, url: &str, page: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(url.to_owned());
    while let Some(u) = next {
        let r = wc_get(c, sim, &u)
            .header("Prefer", format!("odata.maxpagesize={page}"))
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), 200, "{u}");
        assert_eq!(
            r.headers()["Preference-Applied"].to_str().ok(),
            Some(format!("odata.maxpagesize={page}").as_str())
        );
        let v: Value = r.json().await.expect("page json");
        let items = v["value"].as_array().expect("value array");
        assert!(items.len() <= page);
        out.extend(items.iter().cloned());
        next = v["@odata.nextLink"].as_str().map(str::to_owned);
        if let Some(n) = &next {
            assert!(n.starts_with("http://127.0.0.1:"), "absolute nextLink: {n}");
        }
    }
    out
}
