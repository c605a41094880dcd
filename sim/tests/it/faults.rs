//! Fault injection and rate limits, seen from a client.

use std::time::Duration;

use partreel_sim::{FaultKind, RateLimit};
use reqwest::Method;
use serde_json::{Value, json};

use crate::util::{client, nonce, sim, wc_get, wc_write};

fn doc(name: &str) -> Value {
    json!({"@odata.type": "#PTC.DocMgmt.PromptToPartLink", "Name": name, "Context@odata.bind": "Containers('OR:wt.pdmlink.PDMLinkProduct:1')", "PartreelLinkId": name})
}

/// A truncated write is applied, but the client cannot read the response body.
#[tokio::test]
async fn truncated_write_is_applied() {
    let s = sim(0, 0).await;
    let c = client();
    let n = nonce(&c, &s).await;
    s.windchill.faults.inject_next(1, FaultKind::Truncated);
    let url = format!("{}/DocMgmt/Documents", s.windchill.url);
    let r = wc_write(&c, &s, Method::POST, &url)
        .header("CSRF_NONCE", &n)
        .json(&doc("ptp-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.bytes().await.is_err(), "body must fail");
    assert_eq!(s.windchill_documents().len(), 1);
    assert_eq!(s.windchill.faults.counters().truncated, 1);
    s.shutdown().await;
}

/// A 5xx fault is answered before processing: nothing is written.
#[tokio::test]
async fn server_error_is_not_applied() {
    let s = sim(0, 0).await;
    let c = client();
    let n = nonce(&c, &s).await;
    s.windchill
        .faults
        .inject_next(1, FaultKind::ServerError(503));
    let url = format!("{}/DocMgmt/Documents", s.windchill.url);
    let r = wc_write(&c, &s, Method::POST, &url)
        .header("CSRF_NONCE", &n)
        .json(&doc("ptp-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(s.windchill_documents().is_empty());
    // A reset drops the connection: the client sees a transport error, nothing is written.
    s.windchill.faults.inject_next(1, FaultKind::Reset);
    let r = wc_write(&c, &s, Method::POST, &url)
        .header("CSRF_NONCE", &n)
        .json(&doc("ptp-3"))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    assert!(s.windchill_documents().is_empty());
    let log = s.windchill.log.entries();
    assert_eq!(log.last().unwrap().status, 0);
    assert_eq!(log.last().unwrap().fault.as_deref(), Some("reset"));
    // And the next request goes through.
    let r = wc_write(&c, &s, Method::POST, &url)
        .header("CSRF_NONCE", &n)
        .json(&doc("ptp-4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    s.shutdown().await;
}

/// Over the rate limit → 429; Windchill sends `Retry-After`, Bynder does not.
#[tokio::test]
async fn rate_limit_429() {
    let s = sim(0, 0).await;
    let c = client();
    let limit = Some(RateLimit {
        requests: 2,
        per: Duration::from_secs(60),
    });
    s.windchill.faults.set_rate_limit(limit);
    s.bynder.faults.set_rate_limit(limit);
    let url = format!("{}/ProdMgmt/Parts", s.windchill.url);
    for _ in 0..2 {
        assert_eq!(wc_get(&c, &s, &url).send().await.unwrap().status(), 200);
    }
    let r = wc_get(&c, &s, &url).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let secs: u64 = r.headers()["Retry-After"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&secs));

    let token = s.credentials().bynder_permanent_token;
    let media = format!("{}/api/v4/media/", s.bynder.url);
    for _ in 0..2 {
        assert_eq!(
            c.get(&media)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let r = c.get(&media).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("Retry-After").is_none());
    assert_eq!(s.bynder.faults.counters().throttled, 1);

    // Injected 429s: Windchill says Retry-After: 1.
    s.windchill.faults.set_rate_limit(None);
    s.windchill.faults.inject_next(1, FaultKind::RateLimited);
    let r = wc_get(&c, &s, &url).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["Retry-After"], "1");
    s.shutdown().await;
}

/// Malformed bodies, a seeded random plan, and the control API over HTTP.
#[tokio::test]
async fn malformed_plan_and_control_api() {
    let s = sim(0, 0).await;
    let c = client();
    let url = format!("{}/ProdMgmt/Parts", s.windchill.url);
    s.windchill.faults.set_malformed_next(1);
    let r = wc_get(&c, &s, &url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.is_err());
    assert!(
        wc_get(&c, &s, &url)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .is_ok()
    );

    let ctl = |p: &str| format!("{}/__sim/{p}", s.windchill.root);
    let plan = json!({"rate": 1.0, "kinds": [{"server_error": 502}], "seed": 1});
    assert_eq!(
        c.post(ctl("faults"))
            .json(&plan)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(wc_get(&c, &s, &url).send().await.unwrap().status(), 502);
    assert_eq!(c.delete(ctl("faults")).send().await.unwrap().status(), 204);
    assert_eq!(wc_get(&c, &s, &url).send().await.unwrap().status(), 200);

    let log: Value = c
        .get(ctl("requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        log.as_array().unwrap().len(),
        4,
        "control routes are not logged"
    );
    assert_eq!(log[2]["status"], 502);
    assert_eq!(s.windchill.log.count_matching(|e| e.status == 200), 3);

    let before = s.clock.now();
    let r = c.post(ctl("clock/advance?secs=3600")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(s.clock.now() - before >= chrono::TimeDelta::seconds(3600));
    assert_eq!(
        c.post(ctl("sessions/expire"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );

    // Latency delays but still answers.
    s.bynder
        .faults
        .inject_next(1, FaultKind::Latency(Duration::from_millis(150)));
    let started = std::time::Instant::now();
    let token = s.credentials().bynder_permanent_token;
    let r = c
        .get(format!("{}/api/v4/media/", s.bynder.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    s.shutdown().await;
}
