//! Contract tests against wiremock: the exact requests of docs/wire/threedx.md — the CAS
//! handshake, the batch-service and agent credentials, `SecurityContext` and `tenant` on every
//! call, the CSRF header on writes, search paging, `bulkfetch`, document creation with its parent
//! relation, the documents under an item (`links_on_part`), both response shapes — and the
//! recoveries: one re-login on an expired session, one token fetch on a refused CSRF token, a
//! re-read on a stale `cestamp`; plus secret hygiene.
//! Every server answers an unexpected request with 500 "unexpected request".

use partreel_connector::PlmConnector;
use partreel_connector::connector::ChangeQuery;
use partreel_connector::error::ConnectorError;
use partreel_connector::http::{HttpConfig, RateLimitConfig, RetryConfig, SecretRef};
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{
    body_json, body_partial_json, body_string_contains, header, method, path, query_param,
    query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{AuthConfig, BuildContext, ThreedxClient, ThreedxConfig};

const USER: &str = "engineer";
const PASSWORD: &str = "pa55-w0rd-3dx";
const SERVICE_SECRET: &str = "svc-s3cr3t-value";
const CTX: &str = "ctx::VPLMProjectLeader.Company Name.Common Space";
const CSRF_1: &str = "csrf-token-one-1111";
const CSRF_2: &str = "csrf-token-two-2222";
const SESSION_1: &str = "JSESSIONID=sess-aaaa";
const SESSION_2: &str = "JSESSIONID=sess-bbbb";
const ITEM: &str = "/3dspace/resources/v1/modeler/dseng/dseng:EngItem";
const DOCS: &str = "/3dspace/resources/v1/modeler/documents";
const PART_ID: &str = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
const DOC_ID: &str = "D0C0000000000000000000000000000A";
const LINK: &str = "ptp-0123456789abcdef01234567";

use partreel_testkit::mock::server;

fn fast_http() -> HttpConfig {
    HttpConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 1000,
            per_secs: 1,
            burst: Some(1000),
        }),
        retry: RetryConfig {
            max_attempts: 2,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            rate_limited_backoff_ms: 1,
            max_retry_after_secs: 1,
            max_timeouts: 2,
        },
        ..HttpConfig::default()
    }
}

fn config(s: &MockServer, auth: AuthConfig, page_size: u32) -> ThreedxConfig {
    ThreedxConfig {
        passport_url: Some(format!("{}/3dpassport", s.uri())),
        space_url: format!("{}/3dspace/", s.uri()),
        auth,
        security_context: CTX.into(),
        tenant: Some("R1132100000001".into()),
        parent_rel_name: "Reference Document".into(),
        search_string: "*".into(),
        modified_predicate: None,
        link_search: "partreel".into(),
        link_id_attribute: "partreelLinkId".into(),
        link_status_attribute: "partreelStatus".into(),
        link_extension: None,
        retire: Default::default(),
        page_size,
        csrf_max_age_secs: crate::config::DEFAULT_CSRF_MAX_AGE_SECS,
        http: fast_http(),
    }
}

fn cas() -> AuthConfig {
    AuthConfig::Cas {
        username: USER.into(),
        password: SecretRef::File("pw".into()),
    }
}

fn client_with(s: &MockServer, auth: AuthConfig, page_size: u32) -> (TempDir, ThreedxClient) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(dir.path().join("svc"), SERVICE_SECRET).unwrap();
    let ctx = BuildContext {
        system: "threedx".into(),
        config_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let c = config(s, auth, page_size)
        .validate()
        .unwrap()
        .build(ctx)
        .unwrap();
    (dir, c)
}

fn ok(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

fn redirect(to: String, cookie: Option<&str>) -> ResponseTemplate {
    let r = ResponseTemplate::new(302).insert_header("location", to.as_str());
    match cookie {
        Some(c) => r.insert_header("set-cookie", c),
        None => r,
    }
}

/// The CAS handshake of docs/wire/threedx.md, `logins` times; each login opens `sessions[i]`.
async fn mount_cas(s: &MockServer, sessions: &[&str]) {
    let n = sessions.len() as u64;
    Mock::given(method("GET"))
        .and(path("/3dpassport/login"))
        .and(query_param("action", "get_auth_params"))
        .respond_with(ok(json!({"response": "login", "lt": "LT-42-abc"})))
        .expect(n)
        .mount(s)
        .await;
    let service = format!("{}/3dspace/", s.uri());
    Mock::given(method("POST"))
        .and(path("/3dpassport/login"))
        .and(query_param("service", service.as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("lt=LT-42-abc"))
        .and(body_string_contains(format!("username={USER}")))
        .and(body_string_contains("password=pa55-w0rd-3dx"))
        .respond_with(redirect(
            format!("{service}?ticket=ST-9"),
            Some("CASTGC=TGT-1; Path=/3dpassport"),
        ))
        .expect(n)
        .mount(s)
        .await;
    for (i, sess) in sessions.iter().enumerate() {
        Mock::given(method("GET"))
            .and(path("/3dspace/"))
            .and(query_param("ticket", "ST-9"))
            .respond_with(redirect(
                service.clone(),
                Some(&format!("{sess}; Path=/3dspace")),
            ))
            .up_to_n_times(1)
            .with_priority(u8::try_from(i + 1).unwrap_or(1))
            .mount(s)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/3dspace/"))
        .and(query_param_is_missing("ticket"))
        .respond_with(ok(json!({"application": "3DSpace"})))
        .mount(s)
        .await;
}

/// `GET …/CSRF` with the session and SecurityContext → `token`.
async fn mount_csrf(s: &MockServer, session: &str, token: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path("/3dspace/resources/v1/application/CSRF"))
        .and(header("securitycontext", CTX))
        .and(header("cookie", session))
        .and(query_param("tenant", "R1132100000001"))
        .respond_with(ok(json!({"success": true, "statusCode": 200,
            "csrf": {"name": "ENO_CSRF_TOKEN", "value": token}, "data": []})))
        .expect(times)
        .mount(s)
        .await;
}

fn item(id: &str, modified: &str, details: bool) -> Value {
    let mut v = json!({"id": id, "type": "VPMReference", "name": "prd-pl-4001-a",
        "title": "Playset garage", "revision": "A", "state": "RELEASED", "modified": modified,
        "cestamp": "CE1"});
    if details {
        v["dseng:EnterpriseReference"] = json!({"partNumber": "PL-4001"});
        v["customerAttributes"] = json!({"Weight": 1.25, "Colors": ["red", "blue"]});
        v["dseno:EnterpriseAttributes"] = json!({"c9Sku": "PLY-GAR-4001"});
    }
    v
}

fn doc(cestamp: &str, prompt: &str, status: &str) -> Value {
    json!({"id": DOC_ID, "type": "Document", "cestamp": cestamp,
        "dataelements": {"name": "Doc-0000001", "title": "a garage", "modified": "2026-11-20T09:30:00Z",
            "originated": "2026-11-19T08:00:00Z",
            "partreelLinkId": LINK, "prompt": prompt, "partreelStatus": status, "reviewStatus": ""},
        "relateddata": {"parents": [{"id": PART_ID, "relationshipName": "Reference Document"}]}})
}

fn envelope(data: Vec<Value>) -> Value {
    json!({"success": true, "statusCode": 200, "csrf": {"name": "ENO_CSRF_TOKEN", "value": "echo"}, "data": data})
}

fn part_rev() -> PartRevision {
    PartRevision {
        system: "threedx".into(),
        remote_id: PART_ID.into(),
        number: "PL-4001".into(),
        revision: "A".into(),
        name: "Playset garage".into(),
        lifecycle_state: None,
        modified: "2026-11-20T09:30:00Z".parse().unwrap(),
        fields: RemoteFields::new(),
    }
}

fn fields(pairs: &[(&str, &str)]) -> RemoteFields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn login_handshake_then_search_pages_and_bulkfetch_with_headers() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    for (skip, ids) in [
        ("0", vec!["I1", "I2"]),
        ("2", vec!["I3", "I4"]),
        ("4", vec!["I5"]),
    ] {
        let members: Vec<Value> = ids
            .iter()
            .map(|i| item(i, "2026-11-20T09:30:00Z", false))
            .collect();
        Mock::given(method("GET"))
            .and(path(format!("{ITEM}/search")))
            .and(query_param("$searchStr", "*"))
            .and(query_param("$top", "2"))
            .and(query_param("$skip", skip))
            .and(query_param("$mask", "dsmveng:EngItemMask.Default"))
            .and(query_param("tenant", "R1132100000001"))
            .and(header("securitycontext", CTX))
            .and(header("cookie", SESSION_1))
            .respond_with(ok(json!({"totalItems": 5, "member": members})))
            .expect(1)
            .mount(&s)
            .await;
    }
    // The three oldest by (modified, id): I1, I2, I3; bulkfetch carries the CSRF token.
    Mock::given(method("POST"))
        .and(path(format!("{ITEM}/bulkfetch")))
        .and(query_param("$mask", "dsmveng:EngItemMask.Details"))
        .and(query_param("$mva", "true"))
        .and(header("eno_csrf_token", CSRF_1))
        .and(header("securitycontext", CTX))
        .and(body_json(json!(["I1", "I2", "I3"])))
        .respond_with(ok(json!({"member": [item("I2", "2026-11-20T09:30:00Z", true), item("I1", "2026-11-20T09:30:00Z", true), json!({"id": "I3"})]})))
        .expect(1)
        .mount(&s)
        .await;
    // I3 came back without its enterprise reference: read it on its own.
    Mock::given(method("GET"))
        .and(path(format!("{ITEM}/I3/dseng:EnterpriseReference")))
        .and(header("securitycontext", CTX))
        .respond_with(ok(json!({"member": [{"partNumber": "PL-4009"}]})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 2);
    let page = c
        .changed_parts(&ChangeQuery {
            since: None,
            continuation: None,
            page_size: 3,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = page.items.iter().map(|p| p.remote_id.as_str()).collect();
    assert_eq!(ids, ["I1", "I2"], "oldest first, ties by id");
    assert_eq!(
        page.rejected.len(),
        1,
        "I3 lacks fields: rejected, not fatal"
    );
    assert!(
        page.rejected[0].reason.contains("modified"),
        "{:?}",
        page.rejected
    );
    let p = &page.items[0];
    assert_eq!(
        (p.number.as_str(), p.revision.as_str(), p.name.as_str()),
        ("PL-4001", "A", "Playset garage")
    );
    assert_eq!(
        p.fields
            .get("dseno:EnterpriseAttributes/c9Sku")
            .map(String::as_str),
        Some("PLY-GAR-4001")
    );
    assert_eq!(
        p.fields
            .get("customerAttributes/Colors")
            .map(String::as_str),
        Some(r#"["red","blue"]"#)
    );
    assert_eq!(
        page.continuation.as_deref(),
        Some("2026-11-20T09:30:00.000000000Z|I3")
    );
    assert_eq!(c.session().logins(), 1);
}

#[tokio::test]
async fn document_creation_carries_the_parent_relation_and_looks_first() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/parentId/{PART_ID}")))
        .and(query_param("parentRelName", "Reference Document"))
        .and(query_param("parentDirection", "from"))
        .and(header("securitycontext", CTX))
        .respond_with(ok(envelope(vec![])))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(DOCS))
        .and(query_param("parentRelName", "Reference Document"))
        .and(header("eno_csrf_token", CSRF_1))
        .and(header("securitycontext", CTX))
        .and(body_partial_json(
            json!({"data": [{"type": "Document", "dataelements": {
            "partreelLinkId": LINK, "prompt": "a red garage", "parentId": PART_ID,
            "parentRelName": "Reference Document", "parentDirection": "from"}}]}),
        ))
        .respond_with(ok(envelope(vec![doc("CE1", "a red garage", "active")])))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let l = c
        .create_link(
            &part_rev(),
            &LinkId(LINK.into()),
            &fields(&[("prompt", "a red garage")]),
        )
        .await
        .unwrap();
    assert_eq!((l.remote_id.as_str(), l.link_id.as_str()), (DOC_ID, LINK));
    assert_eq!(l.part_remote_id.as_deref(), Some(PART_ID));
    assert_eq!(
        l.fields.get("prompt").map(String::as_str),
        Some("a red garage")
    );
}

/// `GET documents/parentId/{PART_ID}` as the connector sends it for a read: the relation and
/// direction, the tenant, `Accept`, `SecurityContext` and the session cookie, no CSRF token
/// (not a write) and no paging parameters (`GetItemDocuments` takes none): answers `data`.
async fn mount_documents_under(s: &MockServer, data: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/parentId/{PART_ID}")))
        .and(query_param("parentRelName", "Reference Document"))
        .and(query_param("parentDirection", "from"))
        .and(query_param("tenant", "R1132100000001"))
        .and(query_param_is_missing("$top"))
        .and(query_param_is_missing("$skip"))
        .and(header("accept", "application/json"))
        .and(header("securitycontext", CTX))
        .and(header("cookie", SESSION_1))
        .and(|r: &wiremock::Request| !r.headers.contains_key("eno_csrf_token"))
        .respond_with(ok(envelope(data)))
        .expect(1)
        .mount(s)
        .await;
}

#[tokio::test]
async fn links_on_part_reads_every_link_document_under_the_item() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    // A second record for the same clip under another link id, made by hand: created earlier,
    // and listing another item as its first parent.
    let mut other = doc("CE2", "a red garage", "active");
    other["id"] = json!("DOC-OTHER");
    other["dataelements"]["partreelLinkId"] = json!("handmade-1");
    other["dataelements"]["originated"] = json!("2026-11-18T07:00:00Z");
    other["relateddata"]["parents"] = json!([
        {"id": "B1B2C3D4E5F60718293A4B5C6D7E8F91", "relationshipName": "Reference Document"},
        {"id": PART_ID, "relationshipName": "Reference Document"}]);
    // Somebody's assembly instructions on the same item: no link id (absent, or blank).
    let mut plain = doc("CE3", "", "");
    plain["id"] = json!("DOC-PLAIN");
    if let Some(el) = plain["dataelements"].as_object_mut() {
        el.remove("partreelLinkId");
    }
    let mut blank = doc("CE4", "", "");
    blank["id"] = json!("DOC-BLANK");
    blank["dataelements"]["partreelLinkId"] = json!("");
    mount_documents_under(
        &s,
        vec![doc("CE1", "a red garage", "active"), other, plain, blank],
    )
    .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let links = c.links_on_part(PART_ID).await.expect("read");
    let got: Vec<(&str, &str, Option<&str>, String)> = links
        .iter()
        .map(|l| {
            (
                l.remote_id.as_str(),
                l.link_id.as_str(),
                l.part_remote_id.as_deref(),
                l.created.map(|t| t.to_rfc3339()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                DOC_ID,
                LINK,
                Some(PART_ID),
                "2026-11-19T08:00:00+00:00".to_string()
            ),
            (
                "DOC-OTHER",
                "handmade-1",
                Some(PART_ID),
                "2026-11-18T07:00:00+00:00".to_string()
            ),
        ]
    );
    // The same conversion as the link feed: the `dataelements` as fields, `modified` read.
    assert_eq!(
        links[1].fields.get("prompt").map(String::as_str),
        Some("a red garage")
    );
    assert_eq!(
        links[1].modified,
        "2026-11-20T09:30:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("time")
    );
}

#[tokio::test]
async fn links_on_part_names_a_document_it_cannot_read() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    let mut broken = doc("CE2", "", "active");
    broken["id"] = json!("DOC-BROKEN");
    broken["dataelements"]["modified"] = json!("yesterday");
    mount_documents_under(&s, vec![doc("CE1", "a red garage", "active"), broken]).await;
    let (_d, c) = client_with(&s, cas(), 100);
    let err = c.links_on_part(PART_ID).await.unwrap_err();
    match &err {
        ConnectorError::Record {
            system,
            record,
            message,
        } => {
            assert_eq!(
                (system.as_str(), record.as_str()),
                ("threedx", "DOC-BROKEN")
            );
            assert!(
                message.contains("dataelements.modified") && message.contains(PART_ID),
                "{message}"
            );
        }
        other => panic!("expected a record error, got {other:?}"),
    }
    assert!(
        err.is_record_error(),
        "the engine leaves the part for a later run"
    );
}

#[tokio::test]
async fn a_failed_envelope_on_200_is_an_error() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/search")))
        .and(query_param("searchStr", LINK))
        .respond_with(ok(
            json!({"success": false, "statusCode": 400, "error": "bad search"}),
        ))
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let err = c.find_links(&[LinkId(LINK.into())]).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Malformed { .. }) && err.to_string().contains("bad search"),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_session_mid_call_logs_in_once_and_replays() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1, SESSION_2]).await;
    let url = format!("{DOCS}/search");
    Mock::given(method("GET"))
        .and(path(url.clone()))
        .and(header("cookie", SESSION_1))
        .respond_with(redirect(
            format!("{}/3dpassport/login?service=x", s.uri()),
            None,
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(url))
        .and(header("cookie", SESSION_2))
        .respond_with(ok(envelope(vec![doc("CE1", "p", "active")])))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let found = c.find_links(&[LinkId(LINK.into())]).await.unwrap();
    assert_eq!(found.len(), 1);
    // `originated` orders duplicates (the oldest record of a link id is kept).
    assert_eq!(
        found[0].created,
        Some("2026-11-19T08:00:00Z".parse().unwrap())
    );
    assert_eq!(
        c.session().logins(),
        2,
        "the first login and exactly one more"
    );
}

#[tokio::test]
async fn a_refused_csrf_token_is_fetched_once_and_the_write_replayed() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    for (token, priority) in [(CSRF_1, 1), (CSRF_2, 2)] {
        Mock::given(method("GET"))
            .and(path("/3dspace/resources/v1/application/CSRF"))
            .and(header("cookie", SESSION_1))
            .respond_with(ok(
                json!({"csrf": {"name": "ENO_CSRF_TOKEN", "value": token}}),
            ))
            .up_to_n_times(1)
            .with_priority(priority)
            .expect(1)
            .mount(&s)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .respond_with(ok(envelope(vec![doc("CE1", "old", "active")])))
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .and(header("eno_csrf_token", CSRF_1))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"success": false, "statusCode": 403, "error": "Invalid CSRF token"}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .and(header("eno_csrf_token", CSRF_2))
        .and(body_partial_json(
            json!({"data": [{"id": DOC_ID, "cestamp": "CE1", "dataelements": {"prompt": "new"}}]}),
        ))
        .respond_with(ok(envelope(vec![doc("CE2", "new", "active")])))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let updated = c
        .update_link(&remote(), &fields(&[("prompt", "new")]))
        .await;
    assert_eq!(
        updated.unwrap().fields.get("prompt").map(String::as_str),
        Some("new")
    );
    assert_eq!(c.session().csrf_fetches(), 2);
}

fn remote() -> RemoteLink {
    RemoteLink {
        link_id: LinkId(LINK.into()),
        remote_id: DOC_ID.into(),
        part_remote_id: Some(PART_ID.into()),
        modified: "2026-11-20T09:30:00Z".parse().unwrap(),
        created: None,
        fields: RemoteFields::new(),
    }
}

/// Mounts the reads of a document someone else saves right after partreel's first read: `CE1`
/// with the old prompt, then `edited`; and a `PUT` with `CE1` refused as stale.
async fn mount_stale_document(s: &MockServer, edited: &Value) {
    let doc_path = format!("{DOCS}/{DOC_ID}");
    Mock::given(method("GET"))
        .and(path(doc_path.clone()))
        .respond_with(ok(envelope(vec![doc("CE1", "old", "active")])))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(s)
        .await;
    Mock::given(method("GET"))
        .and(path(doc_path.clone()))
        .respond_with(ok(envelope(vec![edited.clone()])))
        .with_priority(2)
        .mount(s)
        .await;
    Mock::given(method("PUT"))
        .and(path(doc_path))
        .and(body_partial_json(json!({"data": [{"cestamp": "CE1"}]})))
        .respond_with(ResponseTemplate::new(409).set_body_json(
            json!({"success": false, "statusCode": 409, "error": "cestamp mismatch"}),
        ))
        .expect(1)
        .mount(s)
        .await;
}

#[tokio::test]
async fn a_stale_cestamp_is_reread_and_retried_with_the_fresh_one() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    // Someone else promotes the document (its state, which the server keeps and partreel does
    // not map), so the second read shows CE2.
    let mut edited = doc("CE2", "old", "active");
    edited["dataelements"]["state"] = json!("FROZEN");
    mount_stale_document(&s, &edited).await;
    let mut result = edited.clone();
    result["cestamp"] = json!("CE3");
    result["dataelements"]["prompt"] = json!("new");
    Mock::given(method("PUT"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .and(body_json(
            json!({"data": [{"id": DOC_ID, "cestamp": "CE2", "dataelements": {"prompt": "new"}}]}),
        ))
        .respond_with(ok(envelope(vec![result])))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let l = c
        .update_link(&remote(), &fields(&[("prompt", "new")]))
        .await
        .unwrap();
    assert_eq!(l.fields.get("prompt").map(String::as_str), Some("new"));
    assert_eq!(
        l.fields.get("state").map(String::as_str),
        Some("FROZEN"),
        "the other change stays"
    );
}

/// A stale `cestamp` because someone changed a mapped attribute partreel is not writing: no
/// second PUT (its answer would hand the engine that change as partreel's own write, never to
/// be planned), a record error so the engine pulls the change and plans again.
#[tokio::test]
async fn a_stale_cestamp_from_a_mapped_attribute_is_refused_for_replanning() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    let mut edited = doc("CE2", "old", "active");
    edited["dataelements"]["reviewStatus"] = json!("approved");
    mount_stale_document(&s, &edited).await;
    Mock::given(method("PUT"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .and(body_partial_json(json!({"data": [{"cestamp": "CE2"}]})))
        .respond_with(ok(envelope(vec![edited])))
        .expect(0)
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let err = c
        .update_link(&remote(), &fields(&[("prompt", "new")]))
        .await
        .unwrap_err();
    assert!(err.is_record_error(), "{err}");
    assert!(
        err.to_string().contains("re-planned on the next pull"),
        "{err}"
    );
}

#[tokio::test]
async fn batch_service_ticket_handshake() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/3dpassport/api/v2/batch/ticket"))
        .and(query_param("identifier", USER))
        .and(header("ds-service-name", "partreel-batch"))
        .and(header("ds-service-secret", SERVICE_SECRET))
        .respond_with(ok(
            json!({"access_token": "TT-77", "token_type": "CAS_TRANSIENT", "expires_in": 30}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/3dpassport/api/login/cas/transient"))
        .and(query_param("tgt", "TT-77"))
        .respond_with(
            ok(json!({"message": "authenticated"}))
                .insert_header("set-cookie", "CASTGC=TGT-2; Path=/3dpassport"),
        )
        .expect(1)
        .mount(&s)
        .await;
    let service = format!("{}/3dspace/", s.uri());
    Mock::given(method("GET"))
        .and(path("/3dpassport/login"))
        .and(query_param("service", service.as_str()))
        .and(header("cookie", "CASTGC=TGT-2"))
        .respond_with(redirect(format!("{service}?ticket=ST-5"), None))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/3dspace/"))
        .and(query_param("ticket", "ST-5"))
        .respond_with(
            ok(json!({})).insert_header("set-cookie", "JSESSIONID=sess-aaaa; Path=/3dspace"),
        )
        .mount(&s)
        .await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    Mock::given(method("POST"))
        .and(path(format!("{ITEM}/bulkfetch")))
        .and(header("cookie", SESSION_1))
        .and(header("eno_csrf_token", CSRF_1))
        .respond_with(ok(json!({"member": []})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ITEM}/search")))
        .respond_with(ok(
            json!({"member": [item("I1", "2026-11-20T09:30:00Z", false)]}),
        ))
        .mount(&s)
        .await;
    let auth = AuthConfig::BatchService {
        service_name: "partreel-batch".into(),
        service_secret: SecretRef::File("svc".into()),
        username: USER.into(),
    };
    let (_d, c) = client_with(&s, auth, 100);
    assert!(
        c.parts_by_number(&["PL-4001".into()])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(c.session().logins(), 1);
}

#[tokio::test]
async fn agent_credentials_go_as_basic_on_every_call_without_a_passport() {
    let s = server().await;
    // base64("agent-7:pa55-w0rd-3dx")
    let basic = "Basic YWdlbnQtNzpwYTU1LXcwcmQtM2R4";
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/search")))
        .and(header("authorization", basic))
        .and(header("securitycontext", CTX))
        .respond_with(ok(envelope(vec![])))
        .expect(1)
        .mount(&s)
        .await;
    let agent = AuthConfig::Agent {
        username: "agent-7".into(),
        password: SecretRef::File("pw".into()),
    };
    let mut cfg = config(&s, agent, 100);
    cfg.passport_url = None;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), PASSWORD).unwrap();
    let ctx = BuildContext {
        system: "threedx".into(),
        config_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let c = cfg.validate().unwrap().build(ctx).unwrap();
    assert!(
        c.find_links(&[LinkId(LINK.into())])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(c.session().logins(), 0);
}

#[tokio::test]
async fn a_login_redirect_to_another_host_is_not_followed() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/3dpassport/login"))
        .respond_with(ok(json!({"response": "login", "lt": "LT-1"})))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/3dpassport/login"))
        .respond_with(redirect(
            "http://203.0.113.9/steal?ticket=ST-1".into(),
            Some("CASTGC=TGT-1"),
        ))
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let err = c.find_links(&[LinkId(LINK.into())]).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth { .. }) && err.to_string().contains("not followed"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_credentials_get_the_login_page_and_fail_as_auth() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/3dpassport/login"))
        .respond_with(ok(json!({"response": "login", "lt": "LT-1"})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/3dpassport/login"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>login</html>", "text/html"))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let err = c.find_links(&[LinkId(LINK.into())]).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err}");
}

#[tokio::test]
async fn an_html_login_page_on_200_logs_in_again_once() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1, SESSION_2]).await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/search")))
        .and(header("cookie", SESSION_1))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<html>3DPassport</html>", "text/html"),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/search")))
        .and(header("cookie", SESSION_2))
        .respond_with(ok(envelope(vec![])))
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    assert!(
        c.find_links(&[LinkId(LINK.into())])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(c.session().logins(), 2);
}

#[test]
fn validation_names_every_bad_key() {
    let cfg: ThreedxConfig = toml::from_str(
        r#"
        space_url = "ftp://host/3dspace"
        security_context = " "
        page_size = 5000
        modified_predicate = "modified>=yesterday"
        auth = { type = "cas", username = "", password = { env = "" } }
        "#,
    )
    .unwrap();
    let errors = cfg.validate().unwrap_err();
    for key in [
        "space_url:",
        "passport_url:",
        "auth.username:",
        "auth.password:",
        "security_context:",
        "page_size:",
        "modified_predicate:",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(key)),
            "{key} missing in {errors:?}"
        );
    }
    let unknown = toml::from_str::<ThreedxConfig>(
        "space_url = \"https://h/3dspace\"\nsecurity_context = \"c\"\nauth = { type = \"agent\", username = \"a\", password = { env = \"P\" }, extra = 1 }",
    );
    assert!(unknown.is_err(), "unknown auth keys are refused");
}

use partreel_testkit::logs::Captured;

// current_thread (the default): the scoped subscriber sees every task of this test.
#[tokio::test]
async fn no_password_cookie_or_csrf_token_in_logs_errors_or_debug() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1, SESSION_2]).await;
    mount_csrf(&s, SESSION_2, CSRF_2, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/parentId/{PART_ID}")))
        .and(header("cookie", SESSION_1))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"success": false, "error": "expired"})),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/parentId/{PART_ID}")))
        .respond_with(ok(envelope(vec![])))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(DOCS))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"success": false, "statusCode": 400, "error": "attribute prompt unknown"}),
        ))
        .mount(&s)
        .await;
    let buf = Captured::default();
    let (err, debug) = {
        let _guard = buf.install();
        let (_d, c) = client_with(&s, cas(), 100);
        let err = c
            .create_link(
                &part_rev(),
                &LinkId(LINK.into()),
                &fields(&[("prompt", "p")]),
            )
            .await
            .unwrap_err();
        (err, format!("{c:?} {:?}", c.session()))
    };
    let text = buf.text();
    assert!(
        text.contains("3DSpace session expired"),
        "the capture worked: {text}"
    );
    let all = format!("{text}\n{err}\n{err:?}\n{debug}");
    for secret in [
        PASSWORD,
        "pa55",
        SERVICE_SECRET,
        "sess-aaaa",
        "sess-bbbb",
        "TGT-1",
        CSRF_2,
        "LT-42-abc",
        "ST-9",
    ] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
}

/// `doctor`'s write check reads the role of the security context: Reader may not write,
/// Author and Leader may, an unknown role is not guessed at.
#[test]
fn write_access_follows_the_security_context_role() {
    use partreel_connector::connector::WriteAccess;
    let access = crate::client::role_access;
    assert!(matches!(
        access("ctx::VPLMProjectLeader.Company Name.Common Space"),
        WriteAccess::Allowed(_)
    ));
    assert!(matches!(
        access("ctx::VPLMCreator.Company Name.Common Space"),
        WriteAccess::Allowed(_)
    ));
    match access("ctx::VPLMViewer.Company Name.Common Space") {
        WriteAccess::Denied(why) => assert!(why.contains("VPLMCreator"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        access("ctx::Custom.Org.Space"),
        WriteAccess::Unknown(_)
    ));
}

/// A configuration that names no predicate asks both searches for "modified since" in the 3D
/// search index's syntax, `[ds6w:modified]>="…Z"`, AND-ed to the configured search strings;
/// an empty predicate turns it off (every result scanned).
#[tokio::test]
async fn the_default_modified_predicate_is_the_search_index_syntax() {
    let cfg: ThreedxConfig = toml::from_str(
        "space_url = \"https://h/3dspace\"\nsecurity_context = \"c\"\nauth = { type = \"agent\", username = \"a\", password = { env = \"P\" } }",
    )
    .unwrap();
    assert_eq!(
        cfg.modified_predicate.as_deref(),
        Some(crate::config::DEFAULT_MODIFIED_PREDICATE)
    );
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    let since = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:30:00Z")
        .unwrap()
        .to_utc();
    Mock::given(method("GET"))
        .and(path(format!("{ITEM}/search")))
        .and(query_param(
            "$searchStr",
            "[ds6w:modified]>=\"2026-11-20T09:30:00Z\"",
        ))
        .respond_with(ok(json!({"totalItems": 0, "member": []})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/search")))
        .and(query_param(
            "searchStr",
            "partreel AND [ds6w:modified]>=\"2026-11-20T09:30:00Z\"",
        ))
        .respond_with(ok(json!({"success": true, "statusCode": 200, "data": []})))
        .expect(1)
        .mount(&s)
        .await;
    let mut with = config(&s, cas(), 10);
    with.modified_predicate = Some(crate::config::DEFAULT_MODIFIED_PREDICATE.into());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), PASSWORD).unwrap();
    let c = with
        .validate()
        .unwrap()
        .build(BuildContext {
            system: "threedx".into(),
            config_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
    let q = ChangeQuery {
        since: Some(since),
        continuation: None,
        page_size: 10,
    };
    assert!(c.changed_parts(&q).await.unwrap().items.is_empty());
    assert!(c.changed_links(&q).await.unwrap().items.is_empty());
}

/// `retire = "detach"`: the retiring PUT names the relation whose parents it manages
/// (`dataelements.parentRelName` / `parentDirection`, as `DocumentData` carries them) beside
/// the empty `relateddata.parents`, so a 3DSpace detaches from that relation only.
#[tokio::test]
async fn a_detaching_update_names_the_relation_it_manages() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .respond_with(ok(envelope(vec![doc("CE1", "old", "active")])))
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .and(header("eno_csrf_token", CSRF_1))
        .and(body_partial_json(json!({"data": [{"id": DOC_ID,
            "dataelements": {"partreelStatus": "retired",
                "parentRelName": "Reference Document", "parentDirection": "from"},
            "relateddata": {"parents": []}}]})))
        .respond_with(ok(envelope(vec![doc("CE2", "old", "retired")])))
        .expect(1)
        .mount(&s)
        .await;
    let mut cfg = config(&s, cas(), 100);
    cfg.retire = crate::config::RetireMode::Detach;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), PASSWORD).unwrap();
    let c = cfg
        .validate()
        .unwrap()
        .build(BuildContext {
            system: "threedx".into(),
            config_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
    let retired = c
        .update_link(&remote(), &fields(&[("partreelStatus", "retired")]))
        .await
        .unwrap();
    assert_eq!(
        retired.fields.get("partreelStatus").map(String::as_str),
        Some("retired")
    );
}

/// With `link_extension`, the create gives the document the customer extension that carries
/// the link attributes (`dataelements.extensions`, ws3dx `DocumentData`). A create whose
/// answer — and then a read-back — does not show the link id (a platform that dropped the
/// attributes) is a record error naming the document and the extension, so the engine
/// quarantines the clip instead of posting another document on the next run.
#[tokio::test]
async fn a_create_gives_the_extension_and_a_missing_link_id_is_read_back_then_refused() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/parentId/{PART_ID}")))
        .respond_with(ok(envelope(vec![])))
        .expect(1)
        .mount(&s)
        .await;
    let mut dropped = doc("CE1", "a red garage", "active");
    if let Some(el) = dropped["dataelements"].as_object_mut() {
        el.remove("partreelLinkId");
        el.insert("extensions".into(), json!([]));
    }
    Mock::given(method("POST"))
        .and(path(DOCS))
        .and(body_partial_json(
            json!({"data": [{"type": "Document", "dataelements": {
            "partreelLinkId": LINK, "extensions": ["PromptToPartLinkExt"]}}]}),
        ))
        .respond_with(ok(envelope(vec![dropped.clone()])))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .respond_with(ok(envelope(vec![dropped])))
        .expect(1)
        .mount(&s)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    let mut cfg = config(&s, cas(), 100);
    cfg.link_extension = Some("PromptToPartLinkExt".into());
    let c = cfg
        .validate()
        .unwrap()
        .build(BuildContext {
            system: "threedx".into(),
            config_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
    let err = c
        .create_link(
            &part_rev(),
            &LinkId(LINK.into()),
            &fields(&[("prompt", "a red garage")]),
        )
        .await
        .unwrap_err();
    assert!(err.is_record_error(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(DOC_ID)
            && msg.contains("partreelLinkId")
            && msg.contains("PromptToPartLinkExt"),
        "{msg}"
    );
    // An extension name is an identifier.
    let mut bad = config(&s, cas(), 100);
    bad.link_extension = Some("Prompt Link".into());
    let errors = bad.validate().unwrap_err();
    assert!(
        errors.iter().any(|e| e.starts_with("link_extension:")),
        "{errors:?}"
    );
}

/// A creation the journal knows no earlier attempt of is one `POST documents`, without the
/// look under the item (docs/wire/threedx.md "Fewest requests"); one marked as a prior attempt
/// looks first and adopts what it finds, posting nothing.
#[tokio::test]
async fn create_new_looks_under_the_item_only_after_a_prior_attempt() {
    use partreel_connector::connector::NewLink;
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    Mock::given(method("POST"))
        .and(path(DOCS))
        .and(body_partial_json(
            json!({"data": [{"type": "Document", "dataelements": {"partreelLinkId": LINK}}]}),
        ))
        .respond_with(ok(envelope(vec![doc("CE1", "a red garage", "active")])))
        .expect(1)
        .mount(&s)
        .await;
    mount_documents_under(&s, vec![doc("CE1", "a red garage", "active")]).await;
    let (_d, c) = client_with(&s, cas(), 100);
    let mut new = NewLink {
        part: part_rev(),
        link_id: LinkId(LINK.into()),
        fields: fields(&[("prompt", "a red garage")]),
        prior_attempt: false,
    };
    let made = c.create_new(&new).await.expect("created");
    assert_eq!(
        (made.remote_id.as_str(), made.link_id.as_str()),
        (DOC_ID, LINK)
    );
    let looked = |reqs: &[wiremock::Request]| {
        reqs.iter()
            .filter(|r| r.url.path().contains("/parentId/"))
            .count()
    };
    let reqs = s.received_requests().await.unwrap_or_default();
    assert_eq!(looked(&reqs), 0, "no look-up before a first attempt");

    new.prior_attempt = true;
    let found = c.create_new(&new).await.expect("adopted");
    assert_eq!(found.remote_id, DOC_ID);
    assert_eq!(found.part_remote_id.as_deref(), Some(PART_ID));
    let reqs = s.received_requests().await.unwrap_or_default();
    assert_eq!(looked(&reqs), 1, "a prior attempt is looked for");
    // The POST mock's `expect(1)` checks on drop that the second call posted nothing.
}

/// An update the platform answers with the old value (accepted, not applied) is a record
/// error naming the document and the attribute, never taken as written.
#[tokio::test]
async fn an_update_accepted_but_not_applied_is_a_record_error() {
    let s = server().await;
    mount_cas(&s, &[SESSION_1]).await;
    mount_csrf(&s, SESSION_1, CSRF_1, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .respond_with(ok(envelope(vec![doc("CE1", "old", "active")])))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{DOCS}/{DOC_ID}")))
        .respond_with(ok(envelope(vec![doc("CE2", "old", "active")])))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client_with(&s, cas(), 100);
    let err = c
        .update_link(&remote(), &fields(&[("prompt", "new")]))
        .await
        .unwrap_err();
    assert!(err.is_record_error(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(DOC_ID) && msg.contains("does not read back") && msg.contains("prompt"),
        "{msg}"
    );
}
