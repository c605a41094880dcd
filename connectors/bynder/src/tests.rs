//! Tests of the Bynder connector against wiremock servers speaking docs/wire/bynder.md. Every
//! server answers an unexpected request with a 500 "unexpected request".

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{TimeZone, Utc};
use partreel_connector::ConnectorError;
use partreel_connector::connector::{ChangeQuery, DamConnector};
use partreel_connector::http::oauth::ClientAuthMethod;
use partreel_connector::model::RemoteFields;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::config::{BuildContext, BynderAuthConfig, BynderConfig};
use crate::{BynderClient, ValidatedBynder};

const CLIENT_ID: &str = "partreel-app";
const CLIENT_SECRET: &str = "s3cr3t-value-xyz";
/// base64("partreel-app:s3cr3t-value-xyz")
const BASIC: &str = "Basic cGFydHJlZWwtYXBwOnMzY3IzdC12YWx1ZS14eXo=";
const TOKEN_PATH: &str = "/v6/authentication/oauth2/token";
const ASSET: &str = "4C5B2D1A-3E9F-4A7B-8C6D5E4F3A2B1C0D";
const MEDIA_PATH: &str = "/api/v4/media/4C5B2D1A-3E9F-4A7B-8C6D5E4F3A2B1C0D/";
const METAPROPS_PATH: &str = "/api/v4/metaproperties/";

// ---------------------------------------------------------------- helpers

use partreel_testkit::mock::server;

/// Fast retries, a generous rate limit, 1 ms between write re-reads.
const FAST: &str = r#"
write_confirm_delay_ms = 1
[http.retry]
initial_backoff_ms = 1
max_backoff_ms = 5
rate_limited_backoff_ms = 1
[http.rate_limit]
requests = 1000
per_secs = 1
"#;

fn parse(toml_text: &str) -> BynderConfig {
    toml::from_str(toml_text).expect("config parses")
}

fn oauth_toml(base: &str) -> String {
    format!(
        "base_url = \"{base}\"\nauth = {{ type = \"oauth2\", client_id = \"{CLIENT_ID}\", client_secret = {{ file = \"secret.txt\" }} }}\n{FAST}"
    )
}

fn basic_oauth_toml(base: &str) -> String {
    format!(
        "base_url = \"{base}\"\nauth = {{ type = \"oauth2\", client_id = \"{CLIENT_ID}\", client_secret = {{ file = \"secret.txt\" }}, client_auth = \"basic\" }}\n{FAST}"
    )
}

fn build(cfg: &BynderConfig, dir: &Path) -> Result<BynderClient, ConnectorError> {
    let validated: ValidatedBynder = cfg.validate().expect("config is valid");
    validated.build(BuildContext {
        system: "bynder".into(),
        config_dir: dir.to_path_buf(),
    })
}

/// An OAuth client for `server` (secret in a file next to the "config"), plus its folder.
fn oauth_client(server: &MockServer) -> (BynderClient, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("secret.txt"), format!("{CLIENT_SECRET}\n")).expect("write");
    let client = build(&parse(&oauth_toml(&server.uri())), dir.path()).expect("client builds");
    (client, dir)
}

fn token(access: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access, "token_type": "bearer", "expires_in": expires_in,
        "scope": "asset:read asset:write meta.assetbank:read meta.assetbank:write"
    }))
}

/// A token endpoint taking the client id and secret as form fields (the default).
async fn mount_token(server: &MockServer, access: &str, expires_in: u64, times: Option<u64>) {
    let mut mock = Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .respond_with(token(access, expires_in));
    if let Some(n) = times {
        mock = mock.up_to_n_times(n);
    }
    mock.mount(server).await;
}

fn media(id: &str, modified: &str, extra: Value) -> Value {
    let mut m = json!({
        "id": id, "name": format!("clip-{id}"), "type": "video", "extension": ["mp4"],
        "dateCreated": "2026-11-20T10:00:00Z", "dateModified": modified,
        "archive": 0, "isPublic": 0, "version": 3, "fileSize": 1234567,
        "videoPreviewURLs": [format!("https://cdn.example/{id}/preview.mp4")],
    });
    if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
        m.extend(extra.clone());
    }
    m
}

fn json_ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn form_of(req: &wiremock::Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn metaproperties(campaign_options: Value) -> Value {
    json!({
        "SKU": {"id": "mp-sku", "name": "SKU", "label": "SKU", "type": "select", "isMultiselect": 1,
                "isRequired": 0, "options": [
                    {"id": "opt-sku-1", "name": "ACM-1", "label": "ACM-1"},
                    {"id": "opt-sku-2", "name": "ACM-2", "label": "ACM-2"}]},
        "Prompt": {"id": "mp-prompt", "name": "Prompt", "type": "longtext", "options": []},
        "RightsExpiry": {"id": "mp-expiry", "name": "RightsExpiry", "type": "date", "options": []},
        "Campaign": {"id": "mp-campaign", "name": "Campaign", "type": "select", "isMultiselect": 0,
                     "options": campaign_options},
    })
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn oauth_token_is_fetched_with_form_client_auth_and_reused() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(json_ok(media(ASSET, "2026-11-21T08:00:00Z", json!({}))))
        .expect(2)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    assert!(client.get_asset(ASSET).await.expect("read").is_some());
    assert!(client.get_asset(ASSET).await.expect("read").is_some());

    let tokens = requests_to(&server, TOKEN_PATH).await;
    assert_eq!(tokens.len(), 1, "the token is reused");
    let form = form_of(&tokens[0]);
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert_eq!(
        form.get("scope").map(String::as_str),
        Some("asset:read asset:write meta.assetbank:read meta.assetbank:write")
    );
    assert_eq!(form.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        form.get("client_secret").map(String::as_str),
        Some(CLIENT_SECRET)
    );
    assert!(
        tokens[0].headers.get("authorization").is_none(),
        "form fields, no Basic header"
    );
    let ct = tokens[0]
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(ct, Some("application/x-www-form-urlencoded"));
}

#[tokio::test]
async fn oauth_token_is_fetched_with_basic_client_auth_when_configured() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(header("authorization", BASIC))
        .respond_with(token("tok-1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(json_ok(media(ASSET, "2026-11-21T08:00:00Z", json!({}))))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("secret.txt"), format!("{CLIENT_SECRET}\n")).expect("write");
    let client = build(&parse(&basic_oauth_toml(&server.uri())), dir.path()).expect("builds");
    assert!(client.get_asset(ASSET).await.expect("read").is_some());
    let tokens = requests_to(&server, TOKEN_PATH).await;
    let form = form_of(&tokens[0]);
    assert!(
        !form.contains_key("client_secret"),
        "Basic auth keeps the secret out of the body"
    );
}

#[tokio::test]
async fn oauth_token_is_renewed_when_it_expires() {
    let server = server().await;
    // 60 s of life = the 60 s refresh margin: stale as soon as it arrives.
    mount_token(&server, "tok-1", 60, Some(1)).await;
    mount_token(&server, "tok-2", 3600, None).await;
    for tok in ["tok-1", "tok-2"] {
        Mock::given(method("GET"))
            .and(path(MEDIA_PATH))
            .and(header("authorization", format!("Bearer {tok}").as_str()))
            .respond_with(json_ok(media(ASSET, "2026-11-21T08:00:00Z", json!({}))))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (client, _dir) = oauth_client(&server);
    client.get_asset(ASSET).await.expect("first read");
    client.get_asset(ASSET).await.expect("second read");
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_401_fetches_exactly_one_new_token_and_replays() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, Some(1)).await;
    mount_token(&server, "tok-2", 3600, None).await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Unauthorized", "statuscode": 401})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(json_ok(media(ASSET, "2026-11-21T08:00:00Z", json!({}))))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let asset = client.get_asset(ASSET).await.expect("replayed read");
    assert_eq!(asset.map(|a| a.asset_id), Some(ASSET.to_string()));
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_permanent_token_is_sent_as_bearer() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .and(header("authorization", "Bearer perm-token-1"))
        .respond_with(json_ok(media(ASSET, "2026-11-21T08:00:00Z", json!({}))))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("token"), "perm-token-1").expect("write");
    let cfg = parse(&format!(
        "base_url = \"{}\"\nauth = {{ type = \"permanent_token\", token = {{ file = \"token\" }} }}\n{FAST}",
        server.uri()
    ));
    let client = build(&cfg, dir.path()).expect("client builds");
    assert!(client.get_asset(ASSET).await.expect("read").is_some());
    assert!(requests_to(&server, TOKEN_PATH).await.is_empty());
}

#[tokio::test]
async fn a_refused_client_is_an_auth_error_without_the_secret() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let err = client.get_asset(ASSET).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        assert!(!text.contains(CLIENT_SECRET), "secret leaked: {text}");
    }
}

// ---------------------------------------------------------------- change feed

#[tokio::test]
async fn changed_assets_sends_the_documented_query() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    // A0 is from the second asked for before `since` (to make the bound inclusive): already
    // read, it is left out.
    let body = json!([
        media("A0", "2026-11-24T23:59:59Z", json!({})),
        media(
            "A1",
            "2026-11-25T00:00:00Z",
            json!({
                "property_SKU": ["ACM-TR-1001-RD", "ACM-TR-1002-BL"],
                "property_Prompt": "12-second chase sequence",
                "property_Empty": null,
            })
        ),
        media(
            "A2",
            "2026-11-25T01:00:00Z",
            json!({"archive": 1, "videoPreviewURLs": []})
        ),
    ]);
    Mock::given(method("GET"))
        .and(path("/api/v4/media/"))
        .and(query_param("type", "video"))
        .and(query_param("dateModified", "2026-11-24T23:59:59Z"))
        .and(query_param("orderBy", "dateModified asc"))
        .and(query_param("limit", "1000"))
        .and(query_param("page", "1"))
        .respond_with(json_ok(body).insert_header("date", "Fri, 27 Nov 2026 17:22:12 GMT"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let since = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).single();
    let page = client
        .changed_assets(&ChangeQuery {
            since,
            continuation: None,
            page_size: 1000,
        })
        .await
        .expect("page");
    let sent = requests_to(&server, "/api/v4/media/").await;
    assert_eq!(
        sent[0].url.query(),
        Some(
            "type=video&dateModified=2026-11-24T23:59:59Z&orderBy=dateModified%20asc&limit=1000&page=1"
        )
    );
    assert_eq!(page.continuation, None, "a short page is the last");
    assert!(page.rejected.is_empty());
    assert_eq!(
        page.server_time,
        Utc.with_ymd_and_hms(2026, 11, 27, 17, 22, 12).single()
    );
    let [a1, a2] = page.items.as_slice() else {
        panic!("two items: {:?}", page.items)
    };
    assert_eq!(a1.asset_id, "A1");
    assert_eq!(a1.system, "bynder");
    assert_eq!(a1.title, "clip-A1");
    assert_eq!(a1.version.as_deref(), Some("3"));
    assert!(!a1.archived);
    assert_eq!(
        a1.rendition_url.as_deref(),
        Some("https://cdn.example/A1/preview.mp4")
    );
    assert_eq!(
        a1.fields.get("SKU").map(String::as_str),
        Some("ACM-TR-1001-RD,ACM-TR-1002-BL")
    );
    assert_eq!(
        a1.fields.get("Prompt").map(String::as_str),
        Some("12-second chase sequence")
    );
    assert!(!a1.fields.contains_key("Empty"), "null is unset");
    assert_eq!(a1.fields.len(), 2, "only property_ keys: {:?}", a1.fields);
    assert!(a2.archived);
    assert_eq!(a2.rendition_url, None);
    assert_eq!(
        a2.modified,
        Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0)
            .single()
            .expect("time")
    );
}

#[tokio::test]
async fn changed_assets_continues_on_the_next_page_when_full() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/media/"))
        .and(query_param("page", "1"))
        .and(query_param("limit", "2"))
        .respond_with(json_ok(json!([
            media("A1", "2026-11-25T00:00:00Z", json!({})),
            media("A2", "2026-11-25T00:00:00Z", json!({})),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/media/"))
        .and(query_param("page", "2"))
        .and(query_param("limit", "2"))
        .respond_with(json_ok(json!([media(
            "A3",
            "2026-11-25T00:00:00Z",
            json!({})
        )])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let mut q = ChangeQuery {
        since: None,
        continuation: None,
        page_size: 2,
    };
    let first = client.changed_assets(&q).await.expect("page 1");
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.continuation.as_deref(), Some("2"));
    q.continuation = first.continuation;
    let second = client.changed_assets(&q).await.expect("page 2");
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.continuation, None);
    for r in requests_to(&server, "/api/v4/media/").await {
        let query = r.url.query().unwrap_or_default().to_string();
        assert!(
            !query.contains("dateModified="),
            "no since, no filter: {query}"
        );
        assert!(query.starts_with("type=video&orderBy=dateModified%20asc&limit=2&page="));
    }
}

#[tokio::test]
async fn a_bad_media_is_rejected_alone() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/media/"))
        .respond_with(json_ok(json!([
            media("GOOD", "2026-11-25T00:00:00Z", json!({})),
            {"name": "no id", "dateModified": "2026-11-25T00:00:00Z"},
            media("BAD-DATE", "yesterday", json!({})),
        ])))
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let page = client
        .changed_assets(&ChangeQuery::default())
        .await
        .expect("page");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].asset_id, "GOOD");
    assert_eq!(page.rejected.len(), 2);
    assert_eq!(page.rejected[0].id, None);
    assert!(
        page.rejected[0].reason.contains("id"),
        "{}",
        page.rejected[0].reason
    );
    assert_eq!(page.rejected[1].id.as_deref(), Some("BAD-DATE"));
    assert!(
        page.rejected[1].reason.contains("dateModified"),
        "{}",
        page.rejected[1].reason
    );
}

#[tokio::test]
async fn a_non_json_media_page_is_malformed() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/media/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let err = client
        .changed_assets(&ChangeQuery::default())
        .await
        .expect_err("malformed");
    match err {
        ConnectorError::Malformed { what, .. } => assert_eq!(what, "media page"),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_429_without_retry_after_is_retried() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .respond_with(ResponseTemplate::new(429).set_body_string("Too Many Requests"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .respond_with(json_ok(media(ASSET, "2026-11-21T08:00:00Z", json!({}))))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    assert!(
        client
            .get_asset(ASSET)
            .await
            .expect("read after 429")
            .is_some()
    );
    assert_eq!(client.stats().retries, 1);
    assert_eq!(requests_to(&server, MEDIA_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_deleted_media_reads_as_none_and_original_url_reads_s3_file() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/media/GONE/"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Not Found", "statuscode": 404})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{MEDIA_PATH}download/").as_str()))
        .respond_with(json_ok(
            json!({"s3_file": "https://s3.example/original.mp4?sig=1"}),
        ))
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    assert_eq!(client.get_asset("GONE").await.expect("404 is none"), None);
    assert_eq!(
        client.original_url(ASSET).await.expect("url").as_deref(),
        Some("https://s3.example/original.mp4?sig=1")
    );
    let reads = requests_to(&server, "/api/v4/media/GONE/").await;
    assert_eq!(reads[0].url.query(), Some("versions=1"));
}

// ---------------------------------------------------------------- writes

async fn mount_metaprops(server: &MockServer, body: Value, times: Option<u64>) {
    let mut mock = Mock::given(method("GET"))
        .and(path(METAPROPS_PATH))
        .respond_with(json_ok(body));
    if let Some(n) = times {
        mock = mock.up_to_n_times(n);
    }
    mock.mount(server).await;
}

async fn mount_write_accepted(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(MEDIA_PATH))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"message": "Accepted", "statuscode": 202})),
        )
        .expect(1)
        .mount(server)
        .await;
}

fn fields(pairs: &[(&str, &str)]) -> RemoteFields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn write_fields_sends_ids_and_confirms_by_re_reading() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    mount_write_accepted(&server).await;
    // First re-read: not applied yet; second: applied (options in another order).
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .respond_with(json_ok(media(
            ASSET,
            "2026-11-21T08:00:00Z",
            json!({"property_SKU": ["ACM-1"]}),
        )))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .respond_with(json_ok(media(
            ASSET,
            "2026-11-21T09:00:00Z",
            json!({
                "property_SKU": ["ACM-1", "ACM-2"],
                "property_Prompt": "a prompt",
                "property_RightsExpiry": "2027-06-30T00:00:00Z",
            }),
        )))
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let asset = client
        .write_fields(
            ASSET,
            &fields(&[
                ("SKU", "ACM-2, ACM-1"),
                ("Prompt", "a prompt"),
                ("RightsExpiry", "2027-06-30"),
                ("Campaign", ""),
            ]),
        )
        .await
        .expect("write confirmed");
    assert_eq!(
        asset.fields.get("Prompt").map(String::as_str),
        Some("a prompt")
    );

    let posts: Vec<_> = requests_to(&server, MEDIA_PATH)
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "one write");
    let form = form_of(&posts[0]);
    let expected: BTreeMap<String, String> = [
        ("metaproperty.mp-sku", "opt-sku-2,opt-sku-1"),
        ("metaproperty.mp-prompt", "a prompt"),
        ("metaproperty.mp-expiry", "2027-06-30"),
        ("metaproperty.mp-campaign", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(form, expected);
    let reads = requests_to(&server, MEDIA_PATH)
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!(reads, 2, "stale re-read, then fresh");
    assert_eq!(
        requests_to(&server, METAPROPS_PATH).await.len(),
        1,
        "definitions loaded once"
    );
}

#[tokio::test]
async fn a_write_answered_500_is_retried_because_it_is_idempotent() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    Mock::given(method("POST"))
        .and(path(MEDIA_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_write_accepted(&server).await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .respond_with(json_ok(media(
            ASSET,
            "2026-11-21T09:00:00Z",
            json!({"property_Prompt": "p"}),
        )))
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    client
        .write_fields(ASSET, &fields(&[("Prompt", "p")]))
        .await
        .expect("retried write confirmed");
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn write_fields_creates_a_missing_select_option() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), Some(1)).await;
    mount_metaprops(
        &server,
        metaproperties(json!([{"id": "opt-new", "name": "Summer_26", "label": "Summer_26"}])),
        None,
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/api/v4/metaproperties/mp-campaign/options/"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"message": "Created", "statuscode": 201})),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_write_accepted(&server).await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .respond_with(json_ok(media(
            ASSET,
            "2026-11-21T09:00:00Z",
            json!({"property_Campaign": ["Summer_26"]}),
        )))
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    client
        .write_fields(ASSET, &fields(&[("Campaign", "Summer_26")]))
        .await
        .expect("write confirmed");

    let created = requests_to(&server, "/api/v4/metaproperties/mp-campaign/options/").await;
    let data = form_of(&created[0]).remove("data").expect("data field");
    let data: Value = serde_json::from_str(&data).expect("data is JSON");
    assert_eq!(data, json!({"name": "Summer_26", "label": "Summer_26"}));
    let post = requests_to(&server, MEDIA_PATH)
        .await
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("write sent");
    assert_eq!(
        form_of(&post)
            .get("metaproperty.mp-campaign")
            .map(String::as_str),
        Some("opt-new")
    );
    assert_eq!(
        requests_to(&server, METAPROPS_PATH).await.len(),
        2,
        "loaded, then reloaded after creating"
    );
}

#[tokio::test]
async fn a_refused_option_creation_is_a_record_error_naming_property_and_value() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    Mock::given(method("POST"))
        .and(path("/api/v4/metaproperties/mp-campaign/options/"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Forbidden", "statuscode": 403})),
        )
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let err = client
        .write_fields(ASSET, &fields(&[("Campaign", "Winter_27")]))
        .await
        .expect_err("refused");
    assert!(matches!(err, ConnectorError::Record { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("Campaign") && text.contains("Winter_27"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_metaproperty_is_a_record_error_naming_it() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    let (client, _dir) = oauth_client(&server);
    // Warm the cache so the unknown name triggers exactly one reload.
    client.schema().await.expect("schema");
    let err = client
        .write_fields(ASSET, &fields(&[("Prompt", "x"), ("NoSuchProperty", "x")]))
        .await
        .expect_err("unknown property");
    assert!(err.is_record_error());
    assert!(err.to_string().contains("NoSuchProperty"), "{err}");
    assert_eq!(
        requests_to(&server, METAPROPS_PATH).await.len(),
        2,
        "loaded, reloaded once"
    );
    assert!(
        requests_to(&server, MEDIA_PATH).await.is_empty(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_write_never_visible_is_unconfirmed_not_a_record_error() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    mount_write_accepted(&server).await;
    Mock::given(method("GET"))
        .and(path(MEDIA_PATH))
        .respond_with(json_ok(media(
            ASSET,
            "2026-11-21T08:00:00Z",
            json!({"property_Prompt": "old"}),
        )))
        .expect(5)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let err = client
        .write_fields(ASSET, &fields(&[("Prompt", "new")]))
        .await
        .expect_err("never visible");
    assert!(matches!(err, ConnectorError::Unconfirmed { .. }), "{err:?}");
    assert!(!err.is_record_error(), "the clip is not at fault");
    assert!(
        err.to_string()
            .contains("not visible after 5 re-reads (fields Prompt)"),
        "{err}"
    );
}

#[tokio::test]
async fn the_original_is_fetched_without_the_token_and_off_the_api_budget() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    Mock::given(method("GET"))
        .and(path(format!("{MEDIA_PATH}download/").as_str()))
        .respond_with(json_ok(
            json!({"s3_file": format!("{}/s3/original.mp4?sig=1", server.uri())}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/s3/original.mp4"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"0123456789".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let (client, dir) = oauth_client(&server);
    let info = client
        .download_original(ASSET, &dir.path().join("original.bin"), 1 << 20)
        .await
        .expect("download")
        .expect("an original");
    assert_eq!(info.bytes, 10);
    let all = server.received_requests().await.unwrap_or_default();
    let s3 = all
        .iter()
        .find(|r| r.url.path() == "/s3/original.mp4")
        .expect("fetched");
    assert!(
        !s3.headers.contains_key("authorization"),
        "no token to storage"
    );
    let stats = client.stats();
    assert_eq!(stats.file_requests, 1, "the storage fetch counted apart");
    assert_eq!(
        stats.requests as usize,
        all.len() - 1,
        "API requests are the token and the download URL"
    );
}

// ---------------------------------------------------------------- batched writes

const A: &str = "AAAAAAAA-0000-0000-0000000000000001";
const B: &str = "BBBBBBBB-0000-0000-0000000000000002";
const C: &str = "CCCCCCCC-0000-0000-0000000000000003";
const LIST_PATH: &str = "/api/v4/media/";

/// Every `POST /api/v4/media/{id}/` is accepted.
async fn mount_any_write_accepted(server: &MockServer) {
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex(r"^/api/v4/media/[^/]+/$"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"message": "Accepted", "statuscode": 202})),
        )
        .mount(server)
        .await;
}

fn prompt(id: &str, value: &str) -> Value {
    media(
        id,
        "2026-11-21T09:00:00Z",
        json!({"property_Prompt": value}),
    )
}

fn writes(ids: &[&str]) -> Vec<(String, RemoteFields)> {
    ids.iter()
        .map(|id| (id.to_string(), fields(&[("Prompt", "new")])))
        .collect()
}

#[tokio::test]
async fn a_batch_of_writes_is_confirmed_by_one_listing_of_their_ids() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    mount_any_write_accepted(&server).await;
    // First listing: A and C show the write, B not yet; the second lists B alone.
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("ids", format!("{A},{B},{C}")))
        .and(query_param("limit", "3"))
        .respond_with(json_ok(json!([
            prompt(A, "new"),
            prompt(B, "old"),
            prompt(C, "new")
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("ids", B))
        .and(query_param("limit", "1"))
        .respond_with(json_ok(json!([prompt(B, "new")])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    assert_eq!(client.max_write_batch(), 50, "the default batch");
    let results = client.write_fields_batch(&writes(&[A, B, C])).await;
    let ids: Vec<String> = results
        .iter()
        .map(|r| r.as_ref().expect("confirmed").asset_id.clone())
        .collect();
    assert_eq!(ids, [A, B, C], "one result per write, in order");

    let all = server.received_requests().await.unwrap_or_default();
    let posts: Vec<&str> = all
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().starts_with(LIST_PATH))
        .map(|r| r.url.path())
        .collect();
    assert_eq!(posts.len(), 3, "one write per media: {posts:?}");
    let reads: Vec<String> = all
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path().starts_with(LIST_PATH))
        .map(|r| r.url.to_string())
        .collect();
    assert_eq!(reads.len(), 2, "two listings, no read per media: {reads:?}");
    for form in all
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().starts_with(LIST_PATH))
        .map(form_of)
    {
        assert_eq!(
            form.get("metaproperty.mp-prompt").map(String::as_str),
            Some("new")
        );
    }
}

#[tokio::test]
async fn in_a_batch_a_deleted_media_is_its_record_error_and_a_lagging_one_unconfirmed() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    mount_any_write_accepted(&server).await;
    // A is applied at once; B never shows the write; C is not listed (deleted meanwhile).
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("ids", format!("{A},{B},{C}")))
        .respond_with(json_ok(json!([prompt(A, "new"), prompt(B, "old")])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("ids", B))
        .respond_with(json_ok(json!([prompt(B, "old")])))
        .expect(4)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let mut results = client
        .write_fields_batch(&writes(&[A, B, C]))
        .await
        .into_iter();
    assert!(results.next().expect("A").is_ok());
    let b = results.next().expect("B").expect_err("B never visible");
    assert!(
        matches!(b, ConnectorError::Unconfirmed { ref record, .. } if record == B),
        "{b:?}"
    );
    assert!(
        b.to_string().contains("not visible after 5 re-reads"),
        "{b}"
    );
    let c = results.next().expect("C").expect_err("C gone");
    assert!(c.is_record_error(), "{c:?}");
    assert!(
        c.to_string().contains(C) && c.to_string().contains("not found"),
        "{c}"
    );
    assert!(results.next().is_none());
}

#[tokio::test]
async fn a_refused_write_and_a_failed_listing_reach_only_the_writes_they_concern() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    // B's write is refused; A's and C's are accepted, but the listing that would confirm them
    // is refused too.
    Mock::given(method("POST"))
        .and(path(format!("{LIST_PATH}{B}/").as_str()))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Forbidden", "statuscode": 403})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    mount_any_write_accepted(&server).await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Forbidden", "statuscode": 403})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = oauth_client(&server);
    let results = client.write_fields_batch(&writes(&[A, B, C])).await;
    assert_eq!(results.len(), 3);
    for r in &results {
        let e = r.as_ref().expect_err("nothing confirmed");
        assert_eq!(e.status(), Some(403), "{e:?}");
    }
    let listing = server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|r| r.method.as_str() == "GET" && r.url.path() == LIST_PATH)
        .expect("one listing");
    assert_eq!(
        listing.url.query(),
        Some(format!("ids={A},{C}&limit=2").as_str()),
        "only the accepted writes are listed"
    );
}

#[test]
fn write_batch_is_validated() {
    let base = "base_url = \"https://acme.bynder.com\"\nauth = { type = \"permanent_token\", token = { env = \"T\" } }\n";
    for bad in ["0", "101"] {
        let errors = parse(&format!("{base}write_batch = {bad}\n"))
            .validate()
            .expect_err("out of range");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("write_batch: must be between 1 and 100")),
            "{errors:?}"
        );
    }
    assert!(
        parse(&format!("{base}write_batch = 100\n"))
            .validate()
            .is_ok()
    );
}

#[tokio::test]
async fn schema_lists_metaproperties_and_built_ins() {
    let server = server().await;
    mount_token(&server, "tok-1", 3600, None).await;
    mount_metaprops(&server, metaproperties(json!([])), None).await;
    let (client, _dir) = oauth_client(&server);
    let schema = client.schema().await.expect("schema");
    let props = &schema.entities["asset"];
    let find = |n: &str| props.iter().find(|p| p.name == n).cloned();
    assert_eq!(find("name").map(|p| p.writable), Some(false));
    assert_eq!(find("description").map(|p| p.writable), Some(false));
    let sku = find("SKU").expect("SKU");
    assert!(sku.writable);
    assert_eq!(sku.kind, "select");
    assert_eq!(find("Prompt").map(|p| p.kind), Some("longtext".to_string()));
    assert_eq!(props.len(), 6);
}

// ---------------------------------------------------------------- configuration

#[test]
fn defaults_follow_bynder() {
    let cfg = parse(
        "base_url = \"https://acme.bynder.com\"\nauth = { type = \"oauth2\", client_id = \"a\", client_secret = { env = \"X\" } }",
    );
    assert_eq!(cfg.page_size, 1000);
    assert_eq!(cfg.media_type, "video");
    assert_eq!(cfg.write_confirm_attempts, 5);
    assert_eq!(cfg.write_confirm_delay_ms, 500);
    // No rate limit configured: the client uses Bynder's published one.
    assert!(cfg.http.rate_limit.is_none());
    let rl = crate::config::default_rate_limit();
    assert_eq!((rl.requests, rl.per_secs, rl.burst), (4500, 300, Some(15)));
    match &cfg.auth {
        BynderAuthConfig::Oauth2 {
            scopes,
            client_auth,
            ..
        } => {
            assert_eq!(
                scopes.join(" "),
                "asset:read asset:write meta.assetbank:read meta.assetbank:write"
            );
            assert_eq!(*client_auth, ClientAuthMethod::RequestBody);
        }
        other => panic!("{other:?}"),
    }
    let v = cfg.validate().expect("valid");
    assert_eq!(v.base.as_str(), "https://acme.bynder.com/");
}

#[test]
fn an_http_table_without_rate_limit_keeps_bynders() {
    let cfg = parse(
        "base_url = \"https://acme.bynder.com\"\nauth = { type = \"permanent_token\", token = { env = \"T\" } }\n[http]\ntimeout_secs = 5\n",
    );
    assert_eq!(cfg.http.timeout_secs, 5);
    assert!(cfg.http.rate_limit.is_none(), "Bynder's default applies");
    let cfg = parse(
        "base_url = \"https://acme.bynder.com\"\nauth = { type = \"permanent_token\", token = { env = \"T\" } }\n[http.rate_limit]\nrequests = 10\nper_secs = 1\n",
    );
    assert_eq!(cfg.http.rate_limit.map(|r| r.requests), Some(10));
}

#[test]
fn unknown_keys_are_refused() {
    let base = "base_url = \"https://acme.bynder.com\"\n";
    for bad in [
        format!(
            "{base}auth = {{ type = \"permanent_token\", token = {{ env = \"T\" }} }}\npage_sise = 10"
        ),
        format!(
            "{base}auth = {{ type = \"permanent_token\", token = {{ env = \"T\" }}, extra = 1 }}"
        ),
        format!(
            "{base}auth = {{ type = \"oauth2\", client_id = \"a\", client_secret = {{ env = \"S\" }}, scope = [] }}"
        ),
        format!("{base}auth = {{ type = \"saml\" }}"),
    ] {
        assert!(
            toml::from_str::<BynderConfig>(&bad).is_err(),
            "accepted: {bad}"
        );
    }
}

#[test]
fn validate_names_every_bad_key() {
    let cfg = parse(
        "base_url = \"ftp://acme.bynder.com\"\npage_size = 2000\nmedia_type = \" \"\nwrite_confirm_attempts = 0\nauth = { type = \"oauth2\", client_id = \"\", client_secret = { env = \"\" } }",
    );
    let errors = cfg.validate().expect_err("invalid");
    for key in [
        "base_url",
        "page_size",
        "media_type",
        "write_confirm_attempts",
        "auth.client_id",
        "auth.client_secret",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(key)),
            "{key} not named in {errors:?}"
        );
    }
    assert_eq!(errors.len(), 6, "{errors:?}");
}

#[test]
fn a_missing_secret_env_var_names_the_key_and_the_variable() {
    let var = "PARTREEL_BYNDER_TEST_SECRET_THAT_IS_NEVER_SET_7F3A";
    let cfg = parse(&format!(
        "base_url = \"https://acme.bynder.com\"\nauth = {{ type = \"oauth2\", client_id = \"a\", client_secret = {{ env = \"{var}\" }} }}"
    ));
    let err = build(&cfg, Path::new(".")).expect_err("no secret");
    let text = err.to_string();
    assert!(
        text.contains("auth.client_secret") && text.contains(var),
        "{text}"
    );
    assert!(matches!(err, ConnectorError::Config(_)));
}

#[tokio::test]
async fn the_client_secret_never_shows_in_debug_output() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("secret.txt"), CLIENT_SECRET).expect("write");
    let cfg = parse(&oauth_toml(&server.uri()));
    let validated = cfg.validate().expect("valid");
    let client = build(&cfg, dir.path()).expect("client");
    for text in [
        format!("{cfg:?}"),
        format!("{validated:?}"),
        format!("{client:?}"),
    ] {
        assert!(!text.contains(CLIENT_SECRET), "secret leaked: {text}");
    }
}
