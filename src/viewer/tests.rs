//! Unit tests of the viewer app, driven with `oneshot` over a fixed in-memory [`ViewStore`].

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use partreel_core::model::{CanonicalValues, LinkStatus, ProvenanceState, WatermarkStatus};
use partreel_core::state::LinkOrigin;
use partreel_core::state::Result as StateResult;
use partreel_core::state::view::{
    ClipDetail, ClipInfo, ClipView, LinkView, LinkedPart, PartHit, PartSummary, PartView, ViewStore,
};
use tower::ServiceExt;

use super::auth::hash_token;
use super::config::{StaticTokenConfig, ViewerConfig};
use super::*;

const TOKEN: &str = "unit-test-token";
const XSS: &str = "<script>alert('x')</script><b>bold</b>";

struct Fixed;

fn summary() -> PartSummary {
    PartHit {
        system: "wc".into(),
        number: "P-1".into(),
        revision: "A".into(),
        name: "Racer".into(),
        sku: Some("SKU-1".into()),
        lifecycle_state: Some("RELEASED".into()),
        clip_count: 1,
    }
}

fn link() -> LinkView {
    LinkView {
        link_id: "ptp-1".into(),
        status: LinkStatus::Active,
        origin: LinkOrigin::Tagged,
        plm_system: "wc".into(),
        part_number: "P-1".into(),
        part_revision: "A".into(),
        dam_system: "by".into(),
        asset_id: "A1".into(),
        created_at: Utc::now(),
        synced_at: Utc::now(),
        run_id: "run-7".into(),
        run_finished_at: None,
    }
}

fn clip() -> ClipInfo {
    let mut values = CanonicalValues::new();
    values.insert("prompt".into(), XSS.into());
    values.insert("campaign".into(), "Summer".into());
    ClipInfo::from_values(
        "by".into(),
        "A1".into(),
        XSS.into(),
        Utc::now(),
        None,
        false,
        false,
        Some("http://dam.test/a1.mp4".into()),
        &values,
        WatermarkStatus {
            visible_field: Some(true),
            provenance: ProvenanceState::Valid,
            claim_generator: None,
            ..WatermarkStatus::default()
        },
    )
}

#[async_trait]
impl ViewStore for Fixed {
    async fn search(&self, _q: &str, _limit: usize) -> StateResult<Vec<PartHit>> {
        Ok(vec![summary()])
    }
    async fn part_revision(&self, s: &str, n: &str, r: &str) -> StateResult<Option<PartView>> {
        Ok((s, n, r) == ("wc", "P-1", "A")).map(|found| {
            found.then(|| PartView {
                system: "wc".into(),
                number: "P-1".into(),
                revision: "A".into(),
                remote_id: "OR:1".into(),
                name: "Racer".into(),
                sku: None,
                lifecycle_state: None,
                modified: Utc::now(),
                values: CanonicalValues::new(),
            })
        })
    }
    async fn part_revisions(&self, _s: &str, n: &str) -> StateResult<Vec<PartSummary>> {
        Ok(if n == "P-1" { vec![summary()] } else { vec![] })
    }
    async fn links_of_part(&self, _s: &str, _n: &str, _r: &str) -> StateResult<Vec<ClipView>> {
        Ok(vec![ClipView {
            link: link(),
            clip: Some(clip()),
        }])
    }
    async fn clip(&self, _d: &str, a: &str) -> StateResult<Option<ClipDetail>> {
        Ok((a == "A1").then(|| ClipDetail {
            clip: clip(),
            links: vec![LinkedPart {
                link: link(),
                part: Some(summary()),
            }],
        }))
    }
}

fn state_with(edit: impl FnOnce(&mut ViewerConfig)) -> Arc<ViewerState> {
    let mut cfg = ViewerConfig {
        tokens: vec![
            StaticTokenConfig {
                name: "unit".into(),
                sha256: hex::encode(hash_token(TOKEN)),
                expires: None,
            },
            StaticTokenConfig {
                name: "old".into(),
                sha256: hex::encode(hash_token("expired-token")),
                expires: Some(Utc::now() - chrono::TimeDelta::days(1)),
            },
        ],
        ..ViewerConfig::default()
    };
    edit(&mut cfg);
    let v = cfg.validate().expect("valid config");
    Arc::new(ViewerState::new(Arc::new(Fixed), v).expect("state"))
}

async fn get(st: Arc<ViewerState>, uri: &str, token: Option<&str>) -> Response {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    app(st)
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

async fn text(r: Response) -> String {
    let b = axum::body::to_bytes(r.into_body(), 4 << 20)
        .await
        .expect("body");
    String::from_utf8_lossy(&b).into_owned()
}

#[tokio::test]
async fn every_route_needs_a_credential() {
    let st = state_with(|_| {});
    for uri in [
        "/",
        "/parts/wc/P-1/A",
        "/clips/by/A1",
        "/api/v1/search?q=x",
        "/api/v1/parts/wc/P-1/A",
        "/api/v1/openapi.json",
        "/media/by/A1",
        "/no/such/page",
    ] {
        for token in [None, Some("wrong"), Some("expired-token")] {
            let r = get(st.clone(), uri, token).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{uri} {token:?}");
            let challenge = r.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .expect("ascii")
                .to_string();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            assert_eq!(challenge.contains("invalid_token"), token.is_some());
            let body = text(r).await;
            assert!(!body.contains('<'), "401 is never a page: {body}");
        }
    }
}

#[tokio::test]
async fn part_page_shows_prompt_and_title_as_text() {
    let r = get(state_with(|_| {}), "/parts/wc/P-1/A", Some(TOKEN)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    let page = text(r).await;
    assert!(!page.contains(XSS), "raw HTML leaked");
    assert!(page.contains("&lt;script&gt;alert('x')&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"));
    assert!(page.contains("watermark preserved"));
    assert!(page.contains("run-7"));
    assert!(page.contains("src=\"/media/by/A1?exp="), "signed proxy URL");
}

#[tokio::test]
async fn unknown_part_and_clip_are_404_pages_naming_them() {
    let st = state_with(|_| {});
    let r = get(st.clone(), "/parts/wc/NOPE-9/Z", Some(TOKEN)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        text(r)
            .await
            .contains("part revision wc / NOPE-9 / Z was not found")
    );
    let r = get(st.clone(), "/clips/by/GHOST", Some(TOKEN)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(text(r).await.contains("clip by / GHOST was not found"));
    let r = get(st, "/api/v1/clips/by/GHOST", Some(TOKEN)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: serde_json::Value = serde_json::from_str(&text(r).await).expect("json");
    assert_eq!(v["error"]["message"], "clip by / GHOST was not found");
}

#[tokio::test]
async fn api_returns_the_same_data_as_the_page() {
    let r = get(state_with(|_| {}), "/api/v1/parts/wc/P-1/A", Some(TOKEN)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&text(r).await).expect("json");
    assert_eq!(v["part"]["number"], "P-1");
    assert_eq!(v["clips"][0]["clip"]["prompt"], XSS);
    assert_eq!(v["clips"][0]["badges"][0]["kind"], "watermark_preserved");
    assert_eq!(v["revisions"][0]["clip_count"], 1);
}

#[tokio::test]
async fn openapi_describes_every_api_route() {
    let r = get(state_with(|_| {}), "/api/v1/openapi.json", Some(TOKEN)).await;
    let v: serde_json::Value = serde_json::from_str(&text(r).await).expect("json");
    let described: Vec<&str> = v["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = openapi::PATHS.to_vec();
    want.sort_unstable();
    let mut got = described.clone();
    got.sort_unstable();
    assert_eq!(got, want);
    let routes = include_str!("routes.rs");
    for p in openapi::PATHS {
        assert!(routes.contains(&format!("\"{p}\"")), "{p} is not routed");
    }
    // Every way a credential is accepted is a scheme, and the document's security lists them.
    let schemes = &v["components"]["securitySchemes"];
    assert_eq!(schemes["cookie"]["name"], auth::COOKIE);
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["query"]["name"], auth::QUERY_PARAM);
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        v["security"].as_array().map(Vec::len),
        Some(3),
        "{}",
        v["security"]
    );
    let media = &v["paths"]["/media/{system}/{asset_id}"]["get"];
    assert!(
        media["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x.get("signature").is_some())),
        "{media}"
    );
    assert!(media["responses"].get("206").is_some() && media["responses"].get("502").is_some());
}

#[tokio::test]
async fn query_token_sets_a_session_cookie_and_frame_ancestors_are_configurable() {
    let st = state_with(|c| c.frame_ancestors = vec!["https://plm.example.com".into()]);
    let r = get(st.clone(), &format!("/?access_token={TOKEN}"), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()[header::SET_COOKIE].to_str().expect("cookie");
    assert!(cookie.starts_with(&format!("partreel_token={TOKEN};")));
    assert!(cookie.contains("HttpOnly"));
    assert!(
        r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .ends_with("frame-ancestors https://plm.example.com")
    );
    assert!(r.headers().get(header::X_FRAME_OPTIONS).is_none());
    let req = Request::get("/parts/wc/P-1/A")
        .header(header::COOKIE, format!("partreel_token={TOKEN}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        app(st).oneshot(req).await.expect("ok").status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn writes_are_not_routed() {
    let st = state_with(|_| {});
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let req = Request::builder()
            .method(method)
            .uri("/api/v1/parts/wc/P-1/A")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .expect("request");
        let r = app(st.clone()).oneshot(req).await.expect("ok");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}

#[test]
fn config_problems_are_all_reported() {
    let cfg = ViewerConfig {
        listen: "nope".into(),
        tokens: vec![StaticTokenConfig {
            name: "x".into(),
            sha256: "abc".into(),
            expires: None,
        }],
        dam_hosts: vec!["http://x/".into()],
        frame_ancestors: vec!["* ; script-src".into()],
        ..ViewerConfig::default()
    };
    let errs = cfg.validate().expect_err("invalid");
    assert_eq!(errs.len(), 4, "{errs:?}");
    let ok = ViewerConfig::default().validate().expect("defaults valid");
    assert!(
        ViewerState::new(Arc::new(Fixed), ok).is_err(),
        "no credential"
    );
}

/// Framing: origins and subdomain wildcards of a named domain pass; anything that lets every
/// site frame the pages (`*`, `https:`, `http://*`, `*.com`) is refused, naming the entry.
#[test]
fn frame_ancestors_refuse_wildcards_for_every_site() {
    for good in [
        "'self'",
        "https://plm.example.com",
        "https://plm.example.com:8443",
        "https://*.example.com",
        "*.example.com",
    ] {
        let cfg = ViewerConfig {
            frame_ancestors: vec![good.into()],
            ..ViewerConfig::default()
        };
        assert!(cfg.validate().is_ok(), "{good}");
    }
    for bad in [
        "*",
        "https:",
        "http:",
        "http://*",
        "https://*",
        "*.com",
        "plm.example.com",
    ] {
        let cfg = ViewerConfig {
            frame_ancestors: vec![bad.into()],
            ..ViewerConfig::default()
        };
        let errs = cfg.validate().expect_err(bad);
        assert!(
            errs.iter()
                .any(|e| e.contains("frame_ancestors[0]") && e.contains(bad)),
            "{bad}: {errs:?}"
        );
    }
}

#[test]
fn dam_hosts_match_host_and_port() {
    let h = config::parse_dam_host("cdn.example.com").expect("host");
    let u = |s: &str| url::Url::parse(s).expect("url");
    assert!(h.matches(&u("https://cdn.example.com/a.mp4")));
    assert!(h.matches(&u("https://CDN.example.com:443/a.mp4")));
    assert!(!h.matches(&u("https://cdn.example.com:8443/a.mp4")));
    assert!(!h.matches(&u("https://cdn.example.com.evil.test/a.mp4")));
    let p = config::parse_dam_host("127.0.0.1:4000").expect("host:port");
    assert!(p.matches(&u("http://127.0.0.1:4000/x")));
    assert!(!p.matches(&u("http://127.0.0.1:4001/x")));
}
