//! Tests of the AEM connector against wiremock servers speaking docs/wire/aem.md. Every server
//! answers an unexpected request with a 500 "unexpected request".

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{TimeZone, Utc};
use partreel_connector::ConnectorError;
use partreel_connector::connector::{ChangeQuery, DamConnector};
use partreel_connector::model::RemoteFields;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::AemClient;
use crate::config::{AemConfig, BuildContext};

const CLIENT_ID: &str = "partreel-aem";
const CLIENT_SECRET: &str = "s3cr3t-aem-value";
const DEV_TOKEN: &str = "dev-token-zz9";
const TOKEN_PATH: &str = "/ims/token/v3";
const ROOT: &str = "/content/dam/acme/video-experiments";
const ASSET: &str = "/content/dam/acme/video-experiments/holiday/tr-1002 sleigh.mp4";
const ASSET_API: &str = "/api/assets/acme/video-experiments/holiday/tr-1002%20sleigh.mp4";
const QB: &str = "/bin/querybuilder.json";
const CSRF_PATH: &str = "/libs/granite/csrf/token.json";
const SCOPE: &str = "AdobeID,openid,read_organizations,additional_info.projectedProductContext";

// ---------------------------------------------------------------- helpers

use partreel_testkit::mock::server;

/// Fast retries and a generous rate limit.
const FAST: &str = r#"
[http.retry]
initial_backoff_ms = 1
max_backoff_ms = 5
rate_limited_backoff_ms = 1
[http.rate_limit]
requests = 1000
per_secs = 1
"#;

fn ims_toml(base: &str) -> String {
    format!(
        "base_url = \"{base}\"\ndam_root = \"{ROOT}\"\narchive_property = \"acme:archived\"\n\
         metadata_properties = [\"acme:lifecycleState\"]\n\
         auth = {{ type = \"ims\", client_id = \"{CLIENT_ID}\", client_secret = {{ file = \"secret.txt\" }}, token_url = \"{base}{TOKEN_PATH}\" }}\n{FAST}"
    )
}

fn build_from(toml_text: &str, dir: &Path) -> Result<AemClient, ConnectorError> {
    let cfg: AemConfig = toml::from_str(toml_text).expect("config parses");
    cfg.validate()
        .expect("config is valid")
        .build(BuildContext {
            system: "aem".into(),
            config_dir: dir.to_path_buf(),
        })
}

/// An IMS client for `server` (secret in a file next to the "config"), plus its folder.
fn ims_client(server: &MockServer) -> (AemClient, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("secret.txt"), format!("{CLIENT_SECRET}\n")).expect("write");
    let client = build_from(&ims_toml(&server.uri()), dir.path()).expect("client builds");
    (client, dir)
}

async fn mount_token(server: &MockServer, access: &str, expires_in: u64, times: Option<u64>) {
    let mut mock = Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": access, "token_type": "bearer", "expires_in": expires_in}),
        ));
    if let Some(n) = times {
        mock = mock.up_to_n_times(n);
    }
    mock.mount(server).await;
}

/// The Granite CSRF token servlet, answering `token` (with the bearer token `tok`).
async fn mount_csrf(server: &MockServer, token: &str, times: Option<u64>) {
    let mut mock = Mock::given(method("GET"))
        .and(path(CSRF_PATH))
        .and(header("authorization", "Bearer tok"))
        .respond_with(json_ok(json!({ "token": token })));
    if let Some(n) = times {
        mock = mock.up_to_n_times(n);
    }
    mock.mount(server).await;
}

fn form_of(req: &wiremock::Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<wiremock::Request> {
    let all = server.received_requests().await.unwrap_or_default();
    all.into_iter().filter(|r| r.url.path() == p).collect()
}

fn json_ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn siren_asset(base: &str, title: &str, meta: Value) -> Value {
    json!({
        "class": ["assets/asset"],
        "properties": {"name": "tr-1002 sleigh.mp4", "dc:title": title,
            "jcr:lastModified": "2026-11-25T10:00:00.000Z", "metadata": meta},
        "links": [
            {"rel": ["self"], "href": format!("{base}{ASSET_API}.json")},
            {"rel": ["content"], "href": format!("{base}{ASSET}/jcr:content/renditions/original")},
        ],
    })
}

fn hit(p: &str, modified: &str, meta: Value) -> Value {
    json!({"jcr:path": p, "jcr:primaryType": "dam:Asset",
        "jcr:content": {"jcr:primaryType": "dam:AssetContent", "jcr:lastModified": modified,
            "metadata": meta}})
}

fn qb(hits: Vec<Value>, more: bool, offset: u64) -> Value {
    json!({"success": true, "results": hits.len(), "total": hits.len() as u64 + offset,
        "more": more, "offset": offset, "hits": hits})
}

async fn mount_asset(server: &MockServer, body: Value) {
    Mock::given(method("GET"))
        .and(path(format!("{ASSET_API}.json")))
        .respond_with(json_ok(body))
        .mount(server)
        .await;
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn ims_token_is_fetched_with_form_credentials_and_reused() {
    let s = server().await;
    mount_token(&s, "tok-1", 86399, None).await;
    Mock::given(method("GET"))
        .and(path(format!("{ASSET_API}.json")))
        .and(header("authorization", "Bearer tok-1"))
        .and(header("x-api-key", CLIENT_ID))
        .respond_with(json_ok(siren_asset(&s.uri(), "Sleigh", json!({}))))
        .expect(2)
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    assert!(c.get_asset(ASSET).await.expect("read").is_some());
    assert!(c.get_asset(ASSET).await.expect("read").is_some());
    let tokens = requests_to(&s, TOKEN_PATH).await;
    assert_eq!(tokens.len(), 1, "the token is reused");
    let form = form_of(&tokens[0]);
    let get = |k: &str| form.get(k).map(String::as_str);
    assert_eq!(get("grant_type"), Some("client_credentials"));
    assert_eq!(get("client_id"), Some(CLIENT_ID));
    assert_eq!(get("client_secret"), Some(CLIENT_SECRET));
    assert_eq!(get("scope"), Some(SCOPE), "IMS scopes are comma-separated");
    assert!(
        tokens[0].headers.get("authorization").is_none(),
        "no Basic auth: IMS reads the body"
    );
    let ct = tokens[0]
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(ct, Some("application/x-www-form-urlencoded"));
}

#[tokio::test]
async fn ims_token_is_renewed_when_it_expires() {
    let s = server().await;
    // 60 s of life = the 60 s refresh margin: stale as soon as it arrives.
    mount_token(&s, "tok-1", 60, Some(1)).await;
    mount_token(&s, "tok-2", 86399, None).await;
    for tok in ["tok-1", "tok-2"] {
        Mock::given(method("GET"))
            .and(path(format!("{ASSET_API}.json")))
            .and(header("authorization", format!("Bearer {tok}").as_str()))
            .respond_with(json_ok(siren_asset(&s.uri(), "Sleigh", json!({}))))
            .expect(1)
            .mount(&s)
            .await;
    }
    let (c, _d) = ims_client(&s);
    c.get_asset(ASSET).await.expect("first read");
    c.get_asset(ASSET).await.expect("second read");
    assert_eq!(requests_to(&s, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_401_fetches_exactly_one_new_token_and_replays() {
    let s = server().await;
    mount_token(&s, "tok-1", 86399, Some(1)).await;
    mount_token(&s, "tok-2", 86399, None).await;
    Mock::given(method("GET"))
        .and(path(format!("{ASSET_API}.json")))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"class": "core/response", "properties": {"status.code": 401, "status.message": "Unauthorized"}}),
        ))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ASSET_API}.json")))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(json_ok(siren_asset(&s.uri(), "Sleigh", json!({}))))
        .expect(1)
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    assert!(c.get_asset(ASSET).await.expect("replayed").is_some());
    assert_eq!(requests_to(&s, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_bearer_token_is_sent_without_api_key_and_a_401_is_final() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(format!("{ASSET_API}.json")))
        .and(header(
            "authorization",
            format!("Bearer {DEV_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&s)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("tok"), DEV_TOKEN).expect("write");
    let toml_text = format!(
        "base_url = \"{}\"\ndam_root = \"{ROOT}\"\nauth = {{ type = \"bearer\", token = {{ file = \"tok\" }} }}\n{FAST}",
        s.uri()
    );
    let c = build_from(&toml_text, dir.path()).expect("builds");
    let err = c.get_asset(ASSET).await.expect_err("401");
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    let reqs = requests_to(&s, &format!("{ASSET_API}.json")).await;
    assert!(reqs[0].headers.get("x-api-key").is_none());
    assert!(!format!("{err} {c:?}").contains(DEV_TOKEN));
}

#[tokio::test]
async fn a_refused_client_is_an_auth_error_without_the_secret() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_client", "error_description": "invalid client_secret parameter"}),
        ))
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let err = c.get_asset(ASSET).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    let text = format!("{err} {err:?} {c:?}");
    // The core oauth2 bridge re-labels a 400 from the token endpoint `invalid_request`
    // (it keeps only the status); the error still says the endpoint refused the client.
    assert!(text.contains("token endpoint refused the client"), "{text}");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
}

// ---------------------------------------------------------------- change feed

#[tokio::test]
async fn changed_assets_sends_the_documented_query_and_reads_hits() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    let p1 = format!("{ROOT}/holiday/a.mp4");
    let p2 = format!("{ROOT}/holiday/b.mp4");
    let meta1 = json!({"jcr:primaryType": "nt:unstructured", "dc:title": "Sleigh race",
        "acme:sku": "ACM-TR-1002-BL", "acme:partNumber": "TR-1002", "dam:sha1": "abc123",
        "acme:tags": ["x", "y"], "acme:archived": "true"});
    Mock::given(method("GET"))
        .and(path(QB))
        .and(query_param("path", ROOT))
        .and(query_param("type", "dam:Asset"))
        .and(query_param(
            "daterange.property",
            "jcr:content/jcr:lastModified",
        ))
        .and(query_param(
            "daterange.lowerBound",
            "2026-11-25T00:00:00.000Z",
        ))
        .and(query_param("daterange.lowerOperation", ">="))
        .and(query_param("orderby", "@jcr:content/jcr:lastModified"))
        .and(query_param("orderby.sort", "asc"))
        .and(query_param("p.offset", "0"))
        .and(query_param("p.limit", "2"))
        .and(query_param("p.guessTotal", "true"))
        .and(query_param("p.hits", "full"))
        .and(query_param("p.nodedepth", "2"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(
            json_ok(qb(
                vec![
                    hit(&p1, "Wed Nov 25 2026 10:00:00 GMT+0000", meta1),
                    hit(&p2, "2026-11-25T11:00:00.000+01:00", json!({})),
                ],
                true,
                0,
            ))
            .insert_header("date", "Wed, 25 Nov 2026 12:00:00 GMT"),
        )
        .expect(1)
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let since = Utc
        .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .single()
        .expect("time");
    let q = ChangeQuery {
        since: Some(since),
        continuation: None,
        page_size: 2,
    };
    let page = c.changed_assets(&q).await.expect("page");
    assert!(page.rejected.is_empty(), "{:?}", page.rejected);
    assert_eq!(page.continuation.as_deref(), Some("2"));
    assert_eq!(
        page.server_time,
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).single()
    );
    let a = &page.items[0];
    assert_eq!(a.asset_id, p1);
    assert_eq!(a.title, "Sleigh race");
    assert_eq!(
        a.modified,
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
            .single()
            .expect("t")
    );
    assert_eq!(a.version.as_deref(), Some("abc123"));
    assert!(a.archived);
    assert_eq!(
        a.fields.get("acme:sku").map(String::as_str),
        Some("ACM-TR-1002-BL")
    );
    assert_eq!(a.fields.get("acme:tags").map(String::as_str), Some("x,y"));
    assert!(!a.fields.contains_key("jcr:primaryType"));
    let url = format!("{}{p1}/jcr:content/renditions/original", s.uri());
    assert_eq!(a.rendition_url.as_deref(), Some(url.as_str()));
    let b = &page.items[1];
    assert_eq!(b.title, "b.mp4", "no dc:title: the file name");
    assert_eq!(
        b.modified,
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
            .single()
            .expect("t")
    );
    assert!(!b.archived);
}

#[tokio::test]
async fn a_continuation_is_the_next_offset_and_the_last_page_has_none() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    Mock::given(method("GET"))
        .and(path(QB))
        .and(query_param("p.offset", "200"))
        .and(query_param("p.limit", "200"))
        .respond_with(json_ok(qb(
            vec![hit(
                &format!("{ROOT}/z.mp4"),
                "2026-11-25T10:00:00Z",
                json!({}),
            )],
            false,
            200,
        )))
        .expect(1)
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let q = ChangeQuery {
        since: None,
        continuation: Some("200".into()),
        page_size: 0,
    };
    let page = c.changed_assets(&q).await.expect("page");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.continuation, None);
    let reqs = requests_to(&s, QB).await;
    assert!(
        !reqs[0]
            .url
            .query()
            .unwrap_or_default()
            .contains("daterange"),
        "no since: no daterange"
    );
}

#[tokio::test]
async fn a_bad_hit_is_rejected_alone() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    Mock::given(method("GET"))
        .and(path(QB))
        .respond_with(json_ok(qb(
            vec![
                hit(&format!("{ROOT}/bad.mp4"), "yesterday", json!({})),
                json!({"jcr:primaryType": "dam:Asset"}),
                hit(
                    &format!("{ROOT}/good.mp4"),
                    "2026-11-25T10:00:00Z",
                    json!({}),
                ),
            ],
            false,
            0,
        )))
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let page = c
        .changed_assets(&ChangeQuery::default())
        .await
        .expect("page");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.rejected.len(), 2);
    assert_eq!(
        page.rejected[0].id.as_deref(),
        Some(format!("{ROOT}/bad.mp4").as_str())
    );
    assert!(
        page.rejected[0].reason.contains("jcr:lastModified"),
        "{:?}",
        page.rejected[0]
    );
    assert!(page.rejected[1].reason.contains("jcr:path"));
}

#[tokio::test]
async fn a_malformed_or_failed_page_is_malformed() {
    for body in [
        r#"{"success":true,"hits":[{"jcr:path":"#,
        r#"{"success":false,"hits":[]}"#,
    ] {
        let s = server().await;
        mount_token(&s, "tok", 86399, None).await;
        Mock::given(method("GET"))
            .and(path(QB))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&s)
            .await;
        let (c, _d) = ims_client(&s);
        let err = c
            .changed_assets(&ChangeQuery::default())
            .await
            .expect_err("malformed");
        assert!(matches!(err, ConnectorError::Malformed { .. }), "{err:?}");
    }
}

// ---------------------------------------------------------------- read, write, original

#[tokio::test]
async fn get_asset_reads_siren_and_a_deleted_asset_is_none() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_asset(
        &s,
        siren_asset(
            &s.uri(),
            "Sleigh",
            json!({"acme:sku": "ACM-1", "dam:sha1": "f00"}),
        ),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/assets/acme/video-experiments/gone.mp4.json"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let a = c.get_asset(ASSET).await.expect("read").expect("exists");
    assert_eq!(a.title, "Sleigh");
    assert_eq!(a.version.as_deref(), Some("f00"));
    assert_eq!(a.fields.get("acme:sku").map(String::as_str), Some("ACM-1"));
    let content = format!("{}{ASSET}/jcr:content/renditions/original", s.uri()).replace(' ', "%20");
    assert_eq!(a.rendition_url.as_deref(), Some(content.as_str()));
    assert_eq!(
        c.original_url(ASSET).await.expect("url").as_deref(),
        Some(content.as_str())
    );
    assert!(
        c.get_asset(&format!("{ROOT}/gone.mp4"))
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn an_asset_json_without_last_modified_is_read_from_its_querybuilder_hit() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    let mut entity = siren_asset(&s.uri(), "Sleigh", json!({"acme:sku": "ACM-1"}));
    if let Some(p) = entity["properties"].as_object_mut() {
        p.remove("jcr:lastModified");
    }
    mount_asset(&s, entity).await;
    Mock::given(method("GET"))
        .and(path(QB))
        .and(query_param("path", ASSET))
        .and(query_param("path.self", "true"))
        .and(query_param("type", "dam:Asset"))
        .and(query_param("p.hits", "full"))
        .and(query_param("p.nodedepth", "2"))
        .and(query_param("p.limit", "1"))
        .respond_with(json_ok(qb(
            vec![hit(
                ASSET,
                "Wed Nov 25 2026 10:00:00 GMT+0000",
                json!({"acme:sku": "ACM-1"}),
            )],
            false,
            0,
        )))
        .expect(1)
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let a = c.get_asset(ASSET).await.expect("read").expect("found");
    assert_eq!(
        a.modified,
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
            .single()
            .expect("time")
    );
    assert_eq!(a.fields.get("acme:sku").map(String::as_str), Some("ACM-1"));
}

#[test]
fn a_hit_without_last_modified_takes_its_creation_time() {
    let convert = crate::convert::Convert {
        system: "aem".into(),
        base: url::Url::parse("https://author.example.com").expect("url"),
        archive_property: None,
    };
    let mut h = hit(ASSET, "Wed Nov 25 2026 10:00:00 GMT+0000", json!({}));
    h["jcr:content"]
        .as_object_mut()
        .map(|c| c.remove("jcr:lastModified"));
    let rejected = convert.hit(&h).expect_err("no time at all");
    assert!(rejected.reason.contains("jcr:lastModified"), "{rejected:?}");
    h["jcr:created"] = json!("Tue Nov 24 2026 09:30:00 GMT+0000");
    let a = convert.hit(&h).expect("created stands in");
    assert_eq!(
        a.modified,
        Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0)
            .single()
            .expect("time")
    );
}

#[tokio::test]
async fn an_asset_outside_the_dam_root_is_refused_without_a_request() {
    let s = server().await;
    let (c, _d) = ims_client(&s);
    for bad in [
        "/content/dam/other/x.mp4",
        "/etc/passwd",
        "/content/dam/acme/video-experiments/../x",
    ] {
        let err = c.get_asset(bad).await.expect_err("refused");
        assert!(err.is_record_error(), "{err:?}");
    }
    assert!(s.received_requests().await.unwrap_or_default().is_empty());
}

fn fields(pairs: &[(&str, &str)]) -> RemoteFields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn write_fields_puts_the_siren_body_and_confirms_by_re_reading() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_csrf(&s, "csrf-1", None).await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .and(header("authorization", "Bearer tok"))
        .and(header("csrf-token", "csrf-1"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"class": "asset", "properties": {
            "acme:lifecycleState": "RELEASED", "acme:partName": "Turbo Racer"}})))
        .respond_with(json_ok(
            json!({"class": "core/response", "properties": {"status.code": 200}}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    mount_asset(
        &s,
        siren_asset(
            &s.uri(),
            "Sleigh",
            json!({"acme:lifecycleState": "RELEASED", "acme:partName": "Turbo Racer"}),
        ),
    )
    .await;
    let (c, _d) = ims_client(&s);
    let a = c
        .write_fields(
            ASSET,
            &fields(&[
                ("acme:lifecycleState", "RELEASED"),
                ("acme:partName", "Turbo Racer"),
            ]),
        )
        .await
        .expect("written");
    assert_eq!(
        a.fields.get("acme:partName").map(String::as_str),
        Some("Turbo Racer")
    );
}

const B_ASSET: &str = "/content/dam/acme/video-experiments/holiday/dl-2040.mp4";
const B_API: &str = "/api/assets/acme/video-experiments/holiday/dl-2040.mp4";
const C_ASSET: &str = "/content/dam/acme/video-experiments/gone.mp4";
const C_API: &str = "/api/assets/acme/video-experiments/gone.mp4";

/// Each asset of a batch gets its PUT, then one QueryBuilder read of all their paths (a
/// `group.p.or` of `path` + `path.self`) confirms them: no Siren read per asset. An asset the
/// read does not return (deleted meanwhile) and one that reads back another value are those
/// clips' record errors; the third is confirmed.
#[tokio::test]
async fn a_batch_of_writes_is_confirmed_by_one_querybuilder_read_of_their_paths() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_csrf(&s, "csrf-1", None).await;
    for api in [ASSET_API, B_API, C_API] {
        Mock::given(method("PUT"))
            .and(path(api))
            .and(header("csrf-token", "csrf-1"))
            .respond_with(json_ok(
                json!({"class": "core/response", "properties": {"status.code": 200}}),
            ))
            .expect(1)
            .mount(&s)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(QB))
        .and(query_param("path", ROOT))
        .and(query_param("group.p.or", "true"))
        .and(query_param("group.1_path", ASSET))
        .and(query_param("group.1_path.self", "true"))
        .and(query_param("group.2_path", B_ASSET))
        .and(query_param("group.2_path.self", "true"))
        .and(query_param("group.3_path", C_ASSET))
        .and(query_param("group.3_path.self", "true"))
        .and(query_param("type", "dam:Asset"))
        .and(query_param("p.limit", "3"))
        .and(query_param("p.hits", "full"))
        .respond_with(json_ok(qb(
            vec![
                hit(
                    ASSET,
                    "2026-11-25T10:00:00.000Z",
                    json!({"acme:lifecycleState": "RELEASED"}),
                ),
                hit(
                    B_ASSET,
                    "2026-11-25T10:00:00.000Z",
                    json!({"acme:lifecycleState": "INWORK"}),
                ),
            ],
            false,
            0,
        )))
        .expect(1)
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    assert_eq!(c.max_write_batch(), 50, "the default batch");
    let batch: Vec<(String, RemoteFields)> = [ASSET, B_ASSET, C_ASSET]
        .iter()
        .map(|a| {
            (
                a.to_string(),
                fields(&[("acme:lifecycleState", "RELEASED")]),
            )
        })
        .collect();
    let mut results = c.write_fields_batch(&batch).await.into_iter();
    let a = results.next().expect("a").expect("confirmed");
    assert_eq!(a.asset_id, ASSET);
    let b = results.next().expect("b").expect_err("not applied");
    assert!(
        b.is_record_error() && b.to_string().contains("acme:lifecycleState"),
        "{b}"
    );
    let gone = results.next().expect("c").expect_err("gone");
    assert!(
        gone.is_record_error() && gone.to_string().contains("not found"),
        "{gone}"
    );
    assert!(
        requests_to(&s, &format!("{ASSET_API}.json"))
            .await
            .is_empty(),
        "no Siren read per asset"
    );
}

/// Long paths split the confirmation read so no query string passes 7,000 bytes; every
/// written asset is still read back exactly once.
#[tokio::test]
async fn the_confirmation_read_is_split_when_the_paths_are_long() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_csrf(&s, "csrf-1", None).await;
    Mock::given(method("PUT"))
        .and(wiremock::matchers::path_regex(
            r"^/api/assets/acme/video-experiments/",
        ))
        .respond_with(json_ok(
            json!({"class": "core/response", "properties": {"status.code": 200}}),
        ))
        .mount(&s)
        .await;
    let long = "x".repeat(150);
    let paths: Vec<String> = (0..40)
        .map(|i| format!("{ROOT}/{long}-{i:02}.mp4"))
        .collect();
    let hits: Vec<Value> = paths
        .iter()
        .map(|p| {
            hit(
                p,
                "2026-11-25T10:00:00.000Z",
                json!({"acme:lifecycleState": "RELEASED"}),
            )
        })
        .collect();
    // Answers every read with every hit; the client keeps those it asked for.
    Mock::given(method("GET"))
        .and(path(QB))
        .respond_with(json_ok(qb(hits, false, 0)))
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let batch: Vec<(String, RemoteFields)> = paths
        .iter()
        .map(|p| (p.clone(), fields(&[("acme:lifecycleState", "RELEASED")])))
        .collect();
    let results = c.write_fields_batch(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let reads = requests_to(&s, QB).await;
    assert!(reads.len() >= 2, "split into {} reads", reads.len());
    let mut asked = Vec::new();
    for r in &reads {
        assert!(
            r.url.query().unwrap_or_default().len() <= 7_000,
            "query too long"
        );
        asked.extend(
            r.url
                .query_pairs()
                .filter(|(k, _)| k.ends_with("_path"))
                .map(|(_, v)| v.into_owned()),
        );
    }
    asked.sort();
    assert_eq!(asked, paths, "each written asset read back once");
}

#[tokio::test]
async fn the_csrf_token_is_fetched_once_and_sent_on_writes_only() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_csrf(&s, "csrf-1", None).await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .and(header("csrf-token", "csrf-1"))
        .respond_with(json_ok(json!({})))
        .expect(2)
        .mount(&s)
        .await;
    mount_asset(
        &s,
        siren_asset(&s.uri(), "Sleigh", json!({"acme:partName": "new"})),
    )
    .await;
    let (c, _d) = ims_client(&s);
    for _ in 0..2 {
        c.write_fields(ASSET, &fields(&[("acme:partName", "new")]))
            .await
            .expect("written");
    }
    assert_eq!(
        requests_to(&s, CSRF_PATH).await.len(),
        1,
        "one token for both"
    );
    let reads = requests_to(&s, &format!("{ASSET_API}.json")).await;
    assert!(!reads.is_empty());
    assert!(
        reads.iter().all(|r| r.headers.get("csrf-token").is_none()),
        "reads carry no CSRF token"
    );
}

#[tokio::test]
async fn a_write_refused_with_403_fetches_a_new_csrf_token_and_replays_once() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_csrf(&s, "csrf-old", Some(1)).await;
    mount_csrf(&s, "csrf-new", None).await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .and(header("csrf-token", "csrf-old"))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .and(header("csrf-token", "csrf-new"))
        .respond_with(json_ok(json!({})))
        .expect(1)
        .mount(&s)
        .await;
    mount_asset(
        &s,
        siren_asset(&s.uri(), "Sleigh", json!({"acme:partName": "new"})),
    )
    .await;
    let (c, _d) = ims_client(&s);
    c.write_fields(ASSET, &fields(&[("acme:partName", "new")]))
        .await
        .expect("written after a new token");
    assert_eq!(requests_to(&s, CSRF_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_403_with_a_fresh_csrf_token_is_an_error_after_one_replay() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_csrf(&s, "csrf-1", None).await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .respond_with(ResponseTemplate::new(403))
        .expect(2)
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let err = c
        .write_fields(ASSET, &fields(&[("acme:partName", "new")]))
        .await
        .expect_err("refused");
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(!err.to_string().contains("csrf-1"), "{err}");
}

#[tokio::test]
async fn without_a_csrf_servlet_writes_go_without_a_token() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    Mock::given(method("GET"))
        .and(path(CSRF_PATH))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .respond_with(json_ok(json!({})))
        .expect(2)
        .mount(&s)
        .await;
    mount_asset(
        &s,
        siren_asset(&s.uri(), "Sleigh", json!({"acme:partName": "new"})),
    )
    .await;
    let (c, _d) = ims_client(&s);
    for _ in 0..2 {
        c.write_fields(ASSET, &fields(&[("acme:partName", "new")]))
            .await
            .expect("written");
    }
    let puts = requests_to(&s, ASSET_API).await;
    assert!(puts.iter().all(|r| r.headers.get("csrf-token").is_none()));
}

#[tokio::test]
async fn a_write_not_visible_or_refused_is_a_record_error() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_csrf(&s, "csrf-1", None).await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .respond_with(json_ok(json!({})))
        .mount(&s)
        .await;
    mount_asset(
        &s,
        siren_asset(&s.uri(), "Sleigh", json!({"acme:partName": "old"})),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/api/assets/acme/video-experiments/gone.mp4"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let err = c
        .write_fields(ASSET, &fields(&[("acme:partName", "new")]))
        .await
        .expect_err("stale");
    assert!(
        err.is_record_error() && err.to_string().contains("acme:partName"),
        "{err}"
    );
    let err = c
        .write_fields(
            &format!("{ROOT}/gone.mp4"),
            &fields(&[("acme:partName", "new")]),
        )
        .await
        .expect_err("gone");
    assert!(err.is_record_error(), "{err:?}");
}

#[tokio::test]
async fn a_put_answered_500_is_retried_because_it_is_idempotent() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    mount_csrf(&s, "csrf-1", None).await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path(ASSET_API))
        .respond_with(json_ok(json!({})))
        .mount(&s)
        .await;
    mount_asset(
        &s,
        siren_asset(&s.uri(), "Sleigh", json!({"acme:partName": "new"})),
    )
    .await;
    let (c, _d) = ims_client(&s);
    c.write_fields(ASSET, &fields(&[("acme:partName", "new")]))
        .await
        .expect("retried");
    assert_eq!(requests_to(&s, ASSET_API).await.len(), 2);
}

#[tokio::test]
async fn download_original_sends_the_bearer_token() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    Mock::given(method("GET"))
        .and(path(
            format!("{ASSET_API}/jcr:content/renditions/original")
                .replace("/api/assets", "/content/dam"),
        ))
        .and(header("authorization", "Bearer tok"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"mp4-bytes".to_vec()))
        .expect(1)
        .mount(&s)
        .await;
    let (c, d) = ims_client(&s);
    let dest = d.path().join("clip.mp4");
    let info = c
        .download_original(ASSET, &dest, 1024)
        .await
        .expect("downloaded")
        .expect("an original");
    assert_eq!(info.bytes, 9);
    // A deleted asset has no original: None, not an error.
    Mock::given(method("GET"))
        .and(path(
            "/content/dam/acme/video-experiments/gone.mp4/jcr:content/renditions/original",
        ))
        .respond_with(ResponseTemplate::new(404))
        .mount(&s)
        .await;
    let gone = c
        .download_original(&format!("{ROOT}/gone.mp4"), &dest, 1024)
        .await
        .expect("no error");
    assert!(gone.is_none());
}

// ---------------------------------------------------------------- folders, schema, config

#[tokio::test]
async fn list_folder_pages_with_offset_and_limit_to_the_total() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    let child = |name: &str, class: &str| {
        json!({"class": [class], "properties": {"name": name},
        "links": [{"rel": ["self"], "href": format!("/api/assets/acme/video-experiments/{name}.json")}]})
    };
    for (offset, names) in [(0, vec!["holiday", "a.mp4"]), (2, vec!["b c.mp4"])] {
        let entities: Vec<Value> = names
            .iter()
            .map(|n| {
                child(
                    n,
                    if n.ends_with(".mp4") {
                        "assets/asset"
                    } else {
                        "assets/folder"
                    },
                )
            })
            .collect();
        Mock::given(method("GET"))
            .and(path("/api/assets/acme/video-experiments.json"))
            .and(query_param("offset", offset.to_string().as_str()))
            .and(query_param("limit", "2"))
            .respond_with(json_ok(json!({"class": ["assets/folder"],
                "properties": {"name": "video-experiments", "srn:paging": {"total": 3, "offset": offset, "limit": 2}},
                "entities": entities, "links": []})))
            .expect(1)
            .mount(&s)
            .await;
    }
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("secret.txt"), CLIENT_SECRET).expect("write");
    let c = build_from(
        &format!("page_size = 2\n{}", ims_toml(&s.uri())),
        dir.path(),
    )
    .expect("builds");
    let entries = c.list_folder(ROOT).await.expect("listed");
    let paths: Vec<(&str, bool)> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.folder))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("/content/dam/acme/video-experiments/holiday", true),
            ("/content/dam/acme/video-experiments/a.mp4", false),
            ("/content/dam/acme/video-experiments/b c.mp4", false),
        ]
    );
}

#[tokio::test]
async fn schema_lists_metadata_seen_and_declared() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    Mock::given(method("GET"))
        .and(path(QB))
        .respond_with(json_ok(qb(
            vec![hit(
                &format!("{ROOT}/a.mp4"),
                "2026-11-25T10:00:00Z",
                json!({"acme:sku": "1", "dam:sha1": "x"}),
            )],
            false,
            0,
        )))
        .mount(&s)
        .await;
    let (c, _d) = ims_client(&s);
    let schema = c.schema().await.expect("schema");
    let props = &schema.entities["asset"];
    let names: Vec<(&str, bool)> = props
        .iter()
        .map(|p| (p.name.as_str(), p.writable))
        .collect();
    assert_eq!(
        names,
        vec![
            ("acme:lifecycleState", true),
            ("acme:sku", true),
            ("dam:sha1", false),
            ("dc:title", true)
        ]
    );
}

#[test]
fn validate_names_every_bad_key() {
    let cfg: AemConfig = toml::from_str(
        r#"base_url = "ftp://x"
dam_root = "/content/other"
page_size = 0
archive_property = "a/b"
auth = { type = "ims", client_id = "", client_secret = { env = "" }, scopes = ["a b"], token_url = "nope" }
"#,
    )
    .expect("parses");
    let errors = cfg.validate().expect_err("invalid");
    for key in [
        "base_url",
        "dam_root",
        "page_size",
        "archive_property",
        "auth.client_id",
        "auth.client_secret",
        "auth.scopes",
        "auth.token_url",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(key)),
            "{key}: {errors:?}"
        );
    }
}

#[test]
fn defaults_follow_adobe_and_unknown_keys_are_refused() {
    let cfg: AemConfig = toml::from_str(&format!(
        "base_url = \"https://author-p1-e2.adobeaemcloud.com\"\ndam_root = \"{ROOT}/\"\n\
         auth = {{ type = \"ims\", client_id = \"c\", client_secret = {{ env = \"X\" }} }}"
    ))
    .expect("parses");
    let v = cfg.validate().expect("valid");
    assert_eq!(v.dam_root, ROOT);
    assert_eq!(v.page_size, crate::config::DEFAULT_PAGE_SIZE);
    assert_eq!(
        v.token_url.as_ref().map(url::Url::as_str),
        Some(crate::config::DEFAULT_TOKEN_URL)
    );
    let bad = toml::from_str::<AemConfig>(&format!(
        "base_url = \"https://a\"\ndam_root = \"{ROOT}\"\nsurprise = 1\nauth = {{ type = \"bearer\", token = {{ env = \"T\" }} }}"
    ));
    assert!(bad.is_err());
}

use partreel_testkit::logs::Captured;

// current_thread (the default): the scoped subscriber sees every task of this test.
#[tokio::test]
async fn no_token_or_secret_in_logs_errors_or_debug() {
    let s = server().await;
    mount_token(&s, "tok-secret-1", 86399, Some(1)).await;
    mount_token(&s, "tok-secret-2", 86399, None).await;
    Mock::given(method("GET"))
        .and(path(format!("{ASSET_API}.json")))
        .respond_with(ResponseTemplate::new(401))
        .mount(&s)
        .await;
    let buf = Captured::default();
    let (err, debug) = {
        let _guard = buf.install();
        let (c, _d) = ims_client(&s);
        let err = c.get_asset(ASSET).await.expect_err("401 twice");
        (err, format!("{c:?}"))
    };
    let text = buf.text();
    assert!(
        text.contains("credentials renewed"),
        "the capture worked: {text}"
    );
    let all = format!("{text}\n{err}\n{err:?}\n{debug}");
    for secret in ["tok-secret-1", "tok-secret-2", CLIENT_SECRET] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

/// The media proxy's request carries the bearer token to the configured AEM origin only: a
/// rendition elsewhere (a CDN, a redirect target) gets no credential.
#[tokio::test]
async fn media_request_sends_the_token_to_the_aem_origin_only() {
    let s = server().await;
    mount_token(&s, "tok", 86399, None).await;
    let (c, _d) = ims_client(&s);
    let own = Url::parse(&format!(
        "{}/content/dam/acme/video-experiments/a.mp4/jcr:content/renditions/original",
        s.uri()
    ))
    .expect("url");
    let req = c.media_request(own.clone()).await.expect("request");
    assert_eq!(req.url, own);
    assert_eq!(
        req.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer tok")
    );
    for elsewhere in [
        "https://cdn.example.com/renditions/a.mp4",
        // Same host, another port: another origin.
        "http://127.0.0.1:9/content/dam/acme/a.mp4",
    ] {
        let url = Url::parse(elsewhere).expect("url");
        let req = c.media_request(url.clone()).await.expect("request");
        assert_eq!(req.url, url);
        assert!(
            req.headers.get("authorization").is_none(),
            "{elsewhere} got a credential"
        );
    }
}
