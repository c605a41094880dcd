//! Contract tests against wiremock: the exact requests of docs/wire/windchill.md, paging,
//! rejection, the CSRF nonce, crash-safe link creation, `$metadata`, and secret hygiene. Every
//! server answers an unexpected request with 500 "unexpected request".

use partreel_connector::PlmConnector;
use partreel_connector::connector::ChangeQuery;
use partreel_connector::error::ConnectorError;
use partreel_connector::http::{HttpConfig, RateLimitConfig, RetryConfig, SecretRef};
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{
    basic_auth, body_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{BuildContext, WindchillClient, WindchillConfig};

const USER: &str = "wcadmin";
const PASSWORD: &str = "s3cr3t-Pa55w0rd";
const CONTAINER: &str = "OR:wt.pdmlink.PDMLinkProduct:48507000";
const PART_ID: &str = "OR:wt.part.WTPart:100001";
const DOC_ID: &str = "OR:wt.doc.WTDocument:200001";
const LINK: &str = "ptp-0123456789abcdef01234567";
const PART_SELECT: &str = "ID,Number,Name,Revision,State,LastModified,Sku,Weight,Latest,Note";
const LINK_SELECT: &str = "ID,LastModified,CreatedOn,PartreelLinkId,Prompt,PartreelStatus";
const SINCE: &str = "2026-11-01T00:00:00.750Z";

/// The mock server, with `DocMgmt/$metadata` answered: writes read the document types first;
/// tests that care mount their own.
async fn server() -> MockServer {
    let s = partreel_testkit::mock::server().await;
    Mock::given(method("GET"))
        .and(path(p("DocMgmt/$metadata")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(DOC_EDMX, "application/xml"))
        .with_priority(100)
        .mount(&s)
        .await;
    s
}

fn base(s: &MockServer) -> String {
    format!("{}/Windchill/servlet/odata", s.uri())
}

fn p(rest: &str) -> String {
    format!("/Windchill/servlet/odata/{rest}")
}

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

fn config(s: &MockServer, password: SecretRef) -> WindchillConfig {
    WindchillConfig {
        base_url: base(s),
        username: USER.into(),
        password,
        container: CONTAINER.into(),
        link_id_property: "PartreelLinkId".into(),
        page_size: 50,
        document_name_prefix: "VX".into(),
        rebase_next_link: false,
        batch_size: crate::config::DEFAULT_BATCH_SIZE,
        document_type: None,
        http: fast_http(),
    }
}

fn ctx(dir: &TempDir) -> BuildContext {
    BuildContext {
        system: "windchill".into(),
        config_dir: dir.path().to_path_buf(),
        part_properties: ["Sku", "Weight", "Latest", "Note"]
            .map(String::from)
            .to_vec(),
        link_properties: ["Prompt", "PartreelStatus"].map(String::from).to_vec(),
    }
}

/// A client whose password is read from a file (no process-wide env changes in tests).
fn client(s: &MockServer) -> (TempDir, WindchillClient) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    let cfg = config(s, SecretRef::File("pw".into()));
    let client = cfg.validate().unwrap().build(ctx(&dir)).unwrap();
    (dir, client)
}

fn part_json(id: &str, number: &str, modified: &str) -> Value {
    json!({"ID": id, "Number": number, "Name": "Turbo Racer 1:64, red", "Revision": "B",
        "State": {"Value": "INWORK", "Display": "In Work"}, "LastModified": modified,
        "Sku": "ACM-TR-1001-RD", "Weight": 1.5, "Latest": true, "Note": null})
}

fn doc_json(link: Option<&str>, status: &str) -> Value {
    json!({"ID": DOC_ID, "Number": "0000000123", "Name": "VX-a red car",
        "LastModified": "2026-11-20T09:30:00Z", "CreatedOn": "2026-11-19T08:00:00Z", "PartreelLinkId": link,
        "Prompt": "a red car on a wet track", "PartreelStatus": status})
}

fn ok_json(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

fn part_rev() -> PartRevision {
    PartRevision {
        system: "windchill".into(),
        remote_id: PART_ID.into(),
        number: "TR-1001".into(),
        revision: "B".into(),
        name: "Turbo Racer".into(),
        lifecycle_state: None,
        modified: "2026-11-20T09:30:00Z".parse().unwrap(),
        fields: RemoteFields::new(),
    }
}

fn remote_link() -> RemoteLink {
    RemoteLink {
        link_id: LinkId(LINK.into()),
        remote_id: DOC_ID.into(),
        part_remote_id: Some(PART_ID.into()),
        modified: "2026-11-20T09:30:00Z".parse().unwrap(),
        created: None,
        fields: RemoteFields::new(),
    }
}

fn link_fields() -> RemoteFields {
    [
        ("Prompt", "a red car on a wet track"),
        ("PartreelStatus", "active"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into()
}

async fn mount_nonce(s: &MockServer, value: &str, expect: u64) {
    Mock::given(method("GET"))
        .and(path(p("PTC/GetCSRFToken()")))
        .and(basic_auth(USER, PASSWORD))
        .respond_with(ok_json(json!({"@odata.context": "x/$metadata#CSRFToken",
            "NonceKey": "CSRF_NONCE", "NonceValue": value})))
        .expect(expect)
        .mount(s)
        .await;
}

async fn mount_find(s: &MockServer, found: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path(p("DocMgmt/Documents")))
        .and(query_param(
            "$filter",
            format!("PartreelLinkId eq '{LINK}'"),
        ))
        .and(query_param("$select", LINK_SELECT))
        .respond_with(ok_json(json!({"value": found})))
        .mount(s)
        .await;
}

fn described_by_path() -> String {
    p(&format!("ProdMgmt/Parts('{PART_ID}')/DescribedBy"))
}

/// A describe link entity as WRS answers `Parts('…')/DescribedBy?$expand=DescribedBy`: the
/// link's own ID, its document under `DescribedBy`.
fn describe_link(n: u32, doc: Value) -> Value {
    json!({"ID": format!("OR:wt.part.WTPartDescribeLink:{n}"), "DescribedBy": doc})
}

async fn mount_attach(s: &MockServer, nonce: &str, status: u16, expect: u64) {
    Mock::given(method("POST"))
        .and(path(described_by_path()))
        .and(header("CSRF_NONCE", nonce))
        .and(basic_auth(USER, PASSWORD))
        .and(body_json(
            json!({"DescribedBy@odata.bind": format!("Documents('{DOC_ID}')")}),
        ))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_json(json!({"ID": "OR:wt.part.WTPartDescribeLink:1"})),
        )
        .expect(expect)
        .mount(s)
        .await;
}

#[tokio::test]
async fn changed_parts_sends_the_pinned_query_prefer_header_and_basic_auth() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .and(query_param(
            "$filter",
            "LastModified ge 2026-11-01T00:00:00Z",
        ))
        .and(query_param("ptc.search.allowFilterOnTime", "true"))
        .and(query_param("$orderby", "LastModified asc"))
        .and(query_param("$select", PART_SELECT))
        .and(header("prefer", "odata.maxpagesize=50"))
        .and(header("accept", "application/json"))
        .and(basic_auth(USER, PASSWORD))
        .respond_with(
            ok_json(json!({"value": [part_json(PART_ID, "TR-1001", "2026-11-20T09:30:00Z")]}))
                .insert_header("Date", "Fri, 27 Nov 2026 17:22:12 GMT"),
        )
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let q = ChangeQuery {
        since: Some(SINCE.parse().unwrap()),
        ..ChangeQuery::default()
    };
    let page = c.changed_parts(&q).await.unwrap();
    assert!(page.rejected.is_empty() && page.continuation.is_none());
    let part = &page.items[0];
    assert_eq!(
        (part.remote_id.as_str(), part.number.as_str()),
        (PART_ID, "TR-1001")
    );
    assert_eq!(part.revision, "B");
    assert_eq!(part.lifecycle_state.as_deref(), Some("In Work"));
    assert_eq!(part.fields["State"], "INWORK");
    assert_eq!(part.fields["Sku"], "ACM-TR-1001-RD");
    assert_eq!(part.fields["Weight"], "1.5");
    assert_eq!(part.fields["Latest"], "true");
    assert!(!part.fields.contains_key("Note"), "null is absent");
    assert_eq!(
        page.server_time,
        Some("2026-11-27T17:22:12Z".parse().unwrap())
    );
    // Spaces travel as %20 (never `+`), and a read carries no nonce.
    let reqs = s.received_requests().await.unwrap();
    let query = reqs[0].url.query().unwrap();
    assert!(
        query.contains("$filter=LastModified%20ge%20") && !query.contains('+'),
        "{query}"
    );
    assert!(!reqs[0].headers.contains_key("csrf_nonce"));
}

#[tokio::test]
async fn changed_parts_without_since_sends_no_filter() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .and(query_param_is_missing("$filter"))
        .and(query_param_is_missing("ptc.search.allowFilterOnTime"))
        .and(query_param("$orderby", "LastModified asc"))
        .respond_with(ok_json(json!({"value": []})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let page = c.changed_parts(&ChangeQuery::default()).await.unwrap();
    assert!(page.items.is_empty() && page.continuation.is_none());
}

#[tokio::test]
async fn changed_parts_returns_the_next_link_and_follows_it() {
    let s = server().await;
    let next = format!("{}/ProdMgmt/Parts?$skiptoken=1", base(&s));
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(ok_json(
            json!({"value": [part_json("OR:wt.part.WTPart:1", "A", "2026-11-20T09:30:00Z")],
            "@odata.nextLink": next}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .and(query_param("$skiptoken", "1"))
        .and(header("prefer", "odata.maxpagesize=50"))
        .respond_with(ok_json(
            json!({"value": [part_json("OR:wt.part.WTPart:2", "B", "2026-11-21T09:30:00Z")]}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let first = c.changed_parts(&ChangeQuery::default()).await.unwrap();
    assert_eq!(first.continuation.as_deref(), Some(next.as_str()));
    let q = ChangeQuery {
        continuation: first.continuation,
        ..ChangeQuery::default()
    };
    let second = c.changed_parts(&q).await.unwrap();
    assert_eq!(second.items[0].number, "B");
    assert!(second.continuation.is_none());
}

#[tokio::test]
async fn continuation_on_another_host_is_refused_before_any_request() {
    let s = server().await;
    let (_d, c) = client(&s);
    let q = ChangeQuery {
        continuation: Some(
            "http://evil.example/Windchill/servlet/odata/ProdMgmt/Parts?$skiptoken=1".into(),
        ),
        ..ChangeQuery::default()
    };
    let err = c.changed_parts(&q).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Malformed { what, .. } if what == "ProdMgmt/Parts page"),
        "{err}"
    );
    assert!(s.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn undecodable_part_goes_to_rejected_and_the_page_goes_on() {
    let s = server().await;
    let mut no_number = part_json("OR:wt.part.WTPart:2", "x", "2026-11-20T09:30:00Z");
    no_number.as_object_mut().unwrap().remove("Number");
    let bad_date = part_json("OR:wt.part.WTPart:3", "C", "20 Nov 2026");
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .respond_with(ok_json(json!({"value": [
            part_json("OR:wt.part.WTPart:1", "A", "2026-11-20T09:30:00Z"), no_number, bad_date, 7]})))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let page = c.changed_parts(&ChangeQuery::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].number, "A");
    let r = &page.rejected;
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].id.as_deref(), Some("OR:wt.part.WTPart:2"));
    assert!(r[0].reason.starts_with("Number:"), "{}", r[0].reason);
    assert_eq!(r[1].id.as_deref(), Some("OR:wt.part.WTPart:3"));
    assert!(r[1].reason.starts_with("LastModified:"), "{}", r[1].reason);
    assert_eq!(r[2].id, None);
}

#[tokio::test]
async fn a_page_that_is_not_json_is_malformed_naming_the_request() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>Gateway says hi</html>"))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c.changed_parts(&ChangeQuery::default()).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Malformed { what, .. } if what == "ProdMgmt/Parts page"),
        "{err}"
    );
}

#[tokio::test]
async fn parts_by_number_batches_twenty_doubles_quotes_and_follows_pages() {
    let s = server().await;
    let mut numbers = vec!["O'Brien".to_string()];
    numbers.extend((1..=20).map(|i| format!("N-{i}")));
    let filter = |ns: &[String]| {
        ns.iter()
            .map(|n| format!("Number eq '{}'", n.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    assert!(filter(&numbers[..20]).starts_with("Number eq 'O''Brien' or Number eq 'N-1' or"));
    let next = format!("{}/ProdMgmt/Parts?$skiptoken=b1", base(&s));
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .and(query_param("$filter", filter(&numbers[..20])))
        .and(query_param("$select", PART_SELECT))
        .respond_with(ok_json(
            json!({"value": [part_json("OR:wt.part.WTPart:1", "O'Brien", "2026-11-20T09:30:00Z")],
            "@odata.nextLink": next}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .and(query_param("$skiptoken", "b1"))
        .respond_with(ok_json(
            json!({"value": [part_json("OR:wt.part.WTPart:2", "N-1", "2026-11-20T09:30:00Z")]}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .and(query_param("$filter", "Number eq 'N-20'"))
        .respond_with(ok_json(
            json!({"value": [part_json("OR:wt.part.WTPart:3", "N-20", "2026-11-20T09:30:00Z")]}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let parts = c.parts_by_number(&numbers).await.unwrap();
    let got: Vec<&str> = parts.iter().map(|p| p.number.as_str()).collect();
    assert_eq!(got, ["O'Brien", "N-1", "N-20"]);
}

#[tokio::test]
async fn changed_links_filters_on_the_link_id_and_skips_documents_without_one() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(p("DocMgmt/Documents")))
        .and(query_param(
            "$filter",
            "LastModified ge 2026-11-01T00:00:00Z and PartreelLinkId gt ''",
        ))
        .and(query_param("ptc.search.allowFilterOnTime", "true"))
        .and(query_param("$orderby", "LastModified asc"))
        .and(query_param("$select", LINK_SELECT))
        .and(header("prefer", "odata.maxpagesize=10"))
        .respond_with(ok_json(
            json!({"value": [doc_json(Some(LINK), "active"), doc_json(None, "active")]}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let q = ChangeQuery {
        since: Some(SINCE.parse().unwrap()),
        continuation: None,
        page_size: 10,
    };
    let page = c.changed_links(&q).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let l = &page.items[0];
    assert_eq!((l.link_id.as_str(), l.remote_id.as_str()), (LINK, DOC_ID));
    assert_eq!(l.fields["Prompt"], "a red car on a wet track");
    // CreatedOn orders duplicates (the oldest record of a link id is kept).
    assert_eq!(l.created, Some("2026-11-19T08:00:00Z".parse().unwrap()));
    assert!(page.rejected.is_empty());
}

#[tokio::test]
async fn create_link_finds_then_posts_with_the_nonce_then_attaches() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    mount_find(&s, vec![]).await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/Documents")))
        .and(header("CSRF_NONCE", "nonce-1"))
        .and(basic_auth(USER, PASSWORD))
        .and(body_json(json!({
            "Name": "VX-a red car on a wet track",
            "Description": format!("partreel prompt-to-part link {LINK}"),
            "Context@odata.bind": format!("Containers('{CONTAINER}')"),
            "PartreelLinkId": LINK,
            "Prompt": "a red car on a wet track",
            "PartreelStatus": "active"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(doc_json(Some(LINK), "active")))
        .expect(1)
        .mount(&s)
        .await;
    mount_attach(&s, "nonce-1", 201, 1).await;
    let (_d, c) = client(&s);
    let link = c
        .create_link(&part_rev(), &LinkId(LINK.into()), &link_fields())
        .await
        .unwrap();
    assert_eq!(link.remote_id, DOC_ID);
    assert_eq!(link.link_id.as_str(), LINK);
    assert_eq!(link.part_remote_id.as_deref(), Some(PART_ID));
    let order: Vec<String> = s
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        order,
        [
            format!("GET {}", p("DocMgmt/Documents")),
            // The document types, once per run, before the first write.
            format!("GET {}", p("DocMgmt/$metadata")),
            format!("GET {}", p("PTC/GetCSRFToken()")),
            format!("POST {}", p("DocMgmt/Documents")),
            format!("POST {}", described_by_path()),
        ]
    );
}

#[tokio::test]
async fn create_link_reuses_an_existing_document_and_takes_a_duplicate_link_as_done() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    mount_find(&s, vec![doc_json(Some(LINK), "active")]).await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/Documents")))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(described_by_path()))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"code": "DUPLICATE_LINK", "message": "The link already exists."}}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .and(query_param("$expand", "DescribedBy"))
        .respond_with(ok_json(
            json!({"value": [describe_link(1, doc_json(Some(LINK), "active"))]}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let link = c
        .create_link(&part_rev(), &LinkId(LINK.into()), &link_fields())
        .await
        .unwrap();
    assert_eq!(link.remote_id, DOC_ID);
}

#[tokio::test]
async fn ambiguous_create_finds_the_document_and_does_not_post_again() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    Mock::given(method("GET"))
        .and(path(p("DocMgmt/Documents")))
        .respond_with(ok_json(json!({"value": []})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    mount_find(&s, vec![doc_json(Some(LINK), "active")]).await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/Documents")))
        .respond_with(ResponseTemplate::new(500).set_body_string("proxy timeout"))
        .expect(1)
        .mount(&s)
        .await;
    mount_attach(&s, "nonce-1", 201, 1).await;
    let (_d, c) = client(&s);
    let link = c
        .create_link(&part_rev(), &LinkId(LINK.into()), &link_fields())
        .await
        .unwrap();
    assert_eq!(link.remote_id, DOC_ID);
}

#[tokio::test]
async fn ambiguous_attach_is_checked_and_posted_again_when_absent() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    Mock::given(method("POST"))
        .and(path(described_by_path()))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    mount_attach(&s, "nonce-1", 201, 1).await;
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .respond_with(ok_json(json!({"value": []})))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    c.ensure_attached(&part_rev(), &remote_link())
        .await
        .unwrap();
}

#[tokio::test]
async fn ensure_attached_posts_nothing_when_the_link_exists() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .and(query_param("$expand", "DescribedBy"))
        .respond_with(ok_json(
            json!({"value": [describe_link(7, doc_json(Some(LINK), "active"))]}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    c.ensure_attached(&part_rev(), &remote_link())
        .await
        .unwrap();
}

/// The describe link's own ID is not the document's: a part described by another document
/// only gets the attachment posted.
#[tokio::test]
async fn ensure_attached_tells_the_link_id_from_the_document_id() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    let mut other = doc_json(Some("ptp-other"), "active");
    other["ID"] = json!("OR:wt.doc.WTDocument:999");
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .and(query_param("$expand", "DescribedBy"))
        .respond_with(ok_json(json!({"value": [describe_link(1, other)]})))
        .expect(1)
        .mount(&s)
        .await;
    mount_attach(&s, "nonce-1", 201, 1).await;
    let (_d, c) = client(&s);
    c.ensure_attached(&part_rev(), &remote_link())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_describe_link_without_its_document_is_malformed() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .respond_with(ok_json(
            json!({"value": [{"ID": "OR:wt.part.WTPartDescribeLink:1"}]}),
        ))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c
        .ensure_attached(&part_rev(), &remote_link())
        .await
        .expect_err("no document");
    assert!(err.to_string().contains("no expanded DescribedBy"), "{err}");
}

#[tokio::test]
async fn links_on_part_reads_every_link_document_through_the_describe_links() {
    let s = server().await;
    let mut copy = doc_json(Some("handmade-1"), "active");
    copy["ID"] = json!("OR:wt.doc.WTDocument:124");
    let mut plain = doc_json(None, "");
    plain["ID"] = json!("OR:wt.doc.WTDocument:125");
    let next = format!(
        "{}{}?$expand=DescribedBy&$skiptoken=2",
        s.uri(),
        described_by_path()
    );
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .and(query_param("$expand", "DescribedBy"))
        .and(query_param("$skiptoken", "2"))
        .respond_with(ok_json(json!({"value": [describe_link(3, plain)]})))
        .with_priority(1)
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .and(query_param("$expand", "DescribedBy"))
        .respond_with(ok_json(json!({"value": [
            describe_link(1, doc_json(Some(LINK), "active")),
            describe_link(2, copy),
        ], "@odata.nextLink": next})))
        .with_priority(2)
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let links = c.links_on_part(PART_ID).await.expect("read");
    let got: Vec<(&str, &str)> = links
        .iter()
        .map(|l| (l.remote_id.as_str(), l.link_id.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(DOC_ID, LINK), ("OR:wt.doc.WTDocument:124", "handmade-1")]
    );
    assert!(
        links
            .iter()
            .all(|l| l.part_remote_id.as_deref() == Some(PART_ID)),
        "{links:?}"
    );
    // Read as the link feed reads documents: times, `CreatedOn` and the selected fields.
    assert_eq!(
        links[0].created,
        Some("2026-11-19T08:00:00Z".parse().unwrap())
    );
    assert_eq!(
        links[0].modified,
        "2026-11-20T09:30:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    assert_eq!(links[0].fields["Prompt"], "a red car on a wet track");
    assert_eq!(links[0].fields["PartreelLinkId"], LINK);
    // Exactly the documented request: the navigation, `$expand=DescribedBy` and nothing else
    // (no `$select`, no nested options), then the server's continuation as given.
    let sent: Vec<(String, String, Option<String>)> = s
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                r.url.query().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        sent,
        vec![
            (
                "GET".to_string(),
                described_by_path(),
                Some("$expand=DescribedBy".to_string())
            ),
            (
                "GET".to_string(),
                described_by_path(),
                Some("$expand=DescribedBy&$skiptoken=2".to_string())
            ),
        ]
    );
}

/// A link document on the part that cannot be read is an error naming it, never skipped (a
/// second record left unseen could not be settled).
#[tokio::test]
async fn links_on_part_names_a_document_it_cannot_read() {
    let s = server().await;
    let mut bad = doc_json(Some("handmade-1"), "active");
    bad["ID"] = json!("OR:wt.doc.WTDocument:126");
    bad["LastModified"] = json!("yesterday");
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .and(query_param("$expand", "DescribedBy"))
        .respond_with(ok_json(json!({"value": [
            describe_link(1, doc_json(Some(LINK), "active")),
            describe_link(2, bad),
        ]})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c.links_on_part(PART_ID).await.expect_err("unreadable");
    assert!(err.is_record_error(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("OR:wt.doc.WTDocument:126") && text.contains("LastModified"),
        "{text}"
    );
}

/// A part no document describes has no links; the request still expands the documents.
#[tokio::test]
async fn links_on_part_of_an_undescribed_part_is_empty() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(described_by_path()))
        .and(query_param("$expand", "DescribedBy"))
        .and(query_param_is_missing("$select"))
        .respond_with(ok_json(json!({"value": []})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    assert!(c.links_on_part(PART_ID).await.expect("read").is_empty());
}

fn doc_path() -> String {
    p(&format!("DocMgmt/Documents('{DOC_ID}')"))
}

fn retired() -> RemoteFields {
    [("PartreelStatus".to_string(), "retired".to_string())].into()
}

#[tokio::test]
async fn invalid_nonce_is_refetched_exactly_once_and_the_write_replayed() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(p("PTC/GetCSRFToken()")))
        .respond_with(ok_json(
            json!({"NonceKey": "CSRF_NONCE", "NonceValue": "nonce-1"}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    mount_nonce(&s, "nonce-2", 1).await;
    Mock::given(method("PATCH"))
        .and(path(doc_path()))
        .and(header("CSRF_NONCE", "nonce-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"code": "INVALID_NONCE",
            "message": "A potential security problem was detected. The CSRF nonce is missing or invalid."}})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PATCH"))
        .and(path(doc_path()))
        .and(header("CSRF_NONCE", "nonce-2"))
        .and(body_json(json!({"PartreelStatus": "retired"})))
        .respond_with(ok_json(doc_json(Some(LINK), "retired")))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let updated = c.update_link(&remote_link(), &retired()).await.unwrap();
    assert_eq!(updated.fields["PartreelStatus"], "retired");
    assert_eq!(updated.part_remote_id.as_deref(), Some(PART_ID));
}

#[tokio::test]
async fn update_link_patches_only_the_given_fields_and_rereads_after_204() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    Mock::given(method("PATCH"))
        .and(path(doc_path()))
        .and(header("CSRF_NONCE", "nonce-1"))
        .and(body_json(json!({"PartreelStatus": "retired"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(doc_path()))
        .and(query_param("$select", LINK_SELECT))
        .respond_with(ok_json(doc_json(Some(LINK), "retired")))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let updated = c.update_link(&remote_link(), &retired()).await.unwrap();
    assert_eq!(updated.fields["PartreelStatus"], "retired");
}

#[tokio::test]
async fn an_update_accepted_but_not_applied_is_a_record_error() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    Mock::given(method("PATCH"))
        .and(path(doc_path()))
        .respond_with(ok_json(doc_json(Some(LINK), "active")))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c.update_link(&remote_link(), &retired()).await.unwrap_err();
    assert!(err.is_record_error(), "{err}");
    assert!(
        err.to_string()
            .contains("does not read back (properties PartreelStatus)"),
        "{err}"
    );
}

/// A created document whose answer and re-read both lack the link id is a record error: it
/// could never be found again, and each run would create another.
#[tokio::test]
async fn a_created_document_without_its_link_id_is_read_back_then_refused() {
    for (reread, ok) in [(Some(LINK), true), (None, false)] {
        let s = server().await;
        mount_nonce(&s, "nonce-1", 1).await;
        mount_find(&s, vec![]).await;
        Mock::given(method("POST"))
            .and(path(p("DocMgmt/Documents")))
            .respond_with(ResponseTemplate::new(201).set_body_json(doc_json(None, "active")))
            .expect(1)
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(path(doc_path()))
            .and(query_param("$select", LINK_SELECT))
            .respond_with(ok_json(doc_json(reread, "active")))
            .expect(1)
            .mount(&s)
            .await;
        mount_attach(&s, "nonce-1", 201, u64::from(ok)).await;
        let (_d, c) = client(&s);
        let result = c
            .create_link(&part_rev(), &LinkId(LINK.into()), &link_fields())
            .await;
        if ok {
            assert_eq!(result.expect("read back").remote_id, DOC_ID);
        } else {
            let err = result.expect_err("no link id");
            assert!(err.is_record_error(), "{err}");
            assert!(
                err.to_string()
                    .contains("does not read back its PartreelLinkId"),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn a_refused_write_is_a_record_error() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    Mock::given(method("PATCH"))
        .and(path(doc_path()))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"code": "INVALID_PROPERTY", "message": "PartreelStatus: bad value"}}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c.update_link(&remote_link(), &retired()).await.unwrap_err();
    assert!(err.is_record_error(), "{err}");
    assert_eq!(err.status(), Some(400));
}

const PROD_EDMX: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
 <edmx:DataServices>
  <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="PTC.ProdMgmt" Alias="ProdMgmt">
   <EntityType Name="WindchillEntity" Abstract="true">
    <Key><PropertyRef Name="ID"/></Key>
    <Property Name="ID" Type="Edm.String"/>
    <Property Name="LastModified" Type="Edm.DateTimeOffset"/>
   </EntityType>
   <EntityType Name="Part" BaseType="ProdMgmt.WindchillEntity">
    <Property Name="Number" Type="Edm.String"/>
    <Property Name="Name" Type="Edm.String"/>
    <Property Name="State" Type="PTC.EnumType"/>
    <Property Name="Version" Type="Edm.String"/>
    <Property Name="Sku" Type="Edm.String"/>
    <Property Name="Weight" Type="Edm.Double">
     <Annotation Term="Core.Computed" Bool="true"/>
    </Property>
    <NavigationProperty Name="DescribedBy" Type="Collection(PTC.DocMgmt.Document)"/>
   </EntityType>
  </Schema>
 </edmx:DataServices>
</edmx:Edmx>"#;

const DOC_EDMX: &str = r#"<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
 <edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="PTC.DocMgmt">
  <EntityType Name="Document"><Key><PropertyRef Name="ID"/></Key>
   <Property Name="ID" Type="Edm.String"/><Property Name="Name" Type="Edm.String"/>
   <Property Name="PartreelLinkId" Type="Edm.String"/><Property Name="Prompt" Type="Edm.String"/>
  </EntityType></Schema></edmx:DataServices></edmx:Edmx>"#;

async fn mount_metadata(s: &MockServer, domain: &str, body: &str) {
    Mock::given(method("GET"))
        .and(path(p(&format!("{domain}/$metadata"))))
        .and(header("accept", "application/xml"))
        .and(basic_auth(USER, PASSWORD))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/xml"))
        .mount(s)
        .await;
}

#[tokio::test]
async fn metadata_is_parsed_into_part_and_link_properties() {
    let s = server().await;
    mount_metadata(&s, "ProdMgmt", PROD_EDMX).await;
    mount_metadata(&s, "DocMgmt", DOC_EDMX).await;
    let (_d, c) = client(&s);
    let schema = c.schema().await.unwrap();
    let summary = |entity: &str| -> Vec<String> {
        schema.entities[entity]
            .iter()
            .map(|p| {
                format!(
                    "{}:{}:{}",
                    p.name,
                    p.kind,
                    if p.writable { "w" } else { "r" }
                )
            })
            .collect()
    };
    assert_eq!(
        summary("part"),
        [
            "ID:Edm.String:r",
            "LastModified:Edm.DateTimeOffset:r",
            "Number:Edm.String:w",
            "Name:Edm.String:w",
            "State:PTC.EnumType:w",
            "Version:Edm.String:r",
            "Sku:Edm.String:w",
            "Weight:Edm.Double:r",
        ]
    );
    assert_eq!(
        summary("link"),
        [
            "ID:Edm.String:r",
            "Name:Edm.String:w",
            "PartreelLinkId:Edm.String:w",
            "Prompt:Edm.String:w"
        ]
    );
}

#[tokio::test]
async fn malformed_metadata_names_the_path_and_the_position() {
    let s = server().await;
    mount_metadata(
        &s,
        "ProdMgmt",
        "<edmx:Edmx><Schema Namespace=\"X\"></edmx:Edmx>",
    )
    .await;
    let (_d, c) = client(&s);
    let err = c.schema().await.unwrap_err();
    let ConnectorError::Malformed { what, detail, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(what, "/Windchill/servlet/odata/ProdMgmt/$metadata");
    assert!(detail.contains("at byte"), "{detail}");
}

#[tokio::test]
async fn a_missing_password_variable_names_the_key_and_the_variable() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let var = "PARTREEL_TEST_WINDCHILL_PASSWORD_NEVER_SET";
    let cfg = config(&s, SecretRef::Env(var.into()));
    let err = cfg.validate().unwrap().build(ctx(&dir)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ConnectorError::Config(_)));
    assert!(msg.contains("password") && msg.contains(var), "{msg}");
}

#[tokio::test]
async fn the_password_never_appears_in_errors_or_debug_output() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path(p("ProdMgmt/Parts")))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", "Basic realm=\"Windchill\""),
        )
        .expect(1) // Basic credentials are static: a 401 is final, not renewed.
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(p("PTC/GetCSRFToken()")))
        .respond_with(ok_json(
            json!({"NonceKey": "CSRF_NONCE", "NonceValue": 987654321}),
        ))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let auth_err = c.changed_parts(&ChangeQuery::default()).await.unwrap_err();
    assert!(
        matches!(auth_err, ConnectorError::Auth { .. }),
        "{auth_err}"
    );
    let nonce_err = c.update_link(&remote_link(), &retired()).await.unwrap_err();
    assert!(
        matches!(nonce_err, ConnectorError::Malformed { .. }),
        "{nonce_err}"
    );
    let basic = "d2NhZG1pbjpzM2NyM3QtUGE1NXcwcmQ="; // base64("wcadmin:s3cr3t-Pa55w0rd")
    let text = format!("{auth_err} {auth_err:?} {nonce_err} {nonce_err:?} {c:?}");
    for secret in [PASSWORD, basic, "987654321"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn validate_lists_every_problem_with_its_key() {
    let cfg = WindchillConfig {
        base_url: "ftp://plm.example.com/odata".into(),
        username: " ".into(),
        password: SecretRef::Env(String::new()),
        container: "Containers('OR:wt.pdmlink.PDMLinkProduct:1')".into(),
        link_id_property: "Partreel Link".into(),
        page_size: 0,
        document_name_prefix: String::new(),
        rebase_next_link: false,
        batch_size: crate::config::DEFAULT_BATCH_SIZE,
        document_type: None,
        http: fast_http(),
    };
    let errors = cfg.validate().unwrap_err();
    let keys: Vec<&str> = errors
        .iter()
        .map(|e| e.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "base_url",
            "username",
            "password",
            "container",
            "link_id_property",
            "page_size",
            "document_name_prefix"
        ]
    );
    assert_eq!(errors[0], "base_url: not an absolute http(s) URL");
}

#[test]
fn config_reads_toml_with_documented_defaults() {
    let minimal = r#"
        base_url = "https://plm.example.com/Windchill/servlet/odata/"
        username = "svc"
        password = { env = "WC_PASSWORD" }
        container = "OR:wt.pdmlink.PDMLinkProduct:48507000"
        [http]
        timeout_secs = 5
    "#;
    let cfg: WindchillConfig = toml::from_str(minimal).unwrap();
    assert_eq!(cfg.link_id_property, "PartreelLinkId");
    assert_eq!(cfg.page_size, 2000);
    assert_eq!(cfg.document_name_prefix, "VX");
    assert_eq!(cfg.http.timeout_secs, 5);
    assert!(
        cfg.http.rate_limit.is_none(),
        "the connector default applies"
    );
    let rl = crate::config::default_rate_limit();
    assert_eq!((rl.requests, rl.per_secs, rl.burst), (20, 1, Some(20)));
    assert!(cfg.validate().is_ok());
    let no_http: WindchillConfig = toml::from_str(
        &minimal
            .replace("[http]", "")
            .replace("timeout_secs = 5", ""),
    )
    .unwrap();
    assert!(no_http.http.rate_limit.is_none());
    assert!(toml::from_str::<WindchillConfig>(&format!("{minimal}\n[unknown]\n")).is_err());
}

#[test]
fn entity_keys_keep_quotes_and_colons_and_encode_the_rest() {
    let base = url::Url::parse("http://h/Windchill/servlet/odata").unwrap();
    let part = crate::odata::keyed("Parts", "OR:wt.part.WTPart:1");
    let url = crate::odata::url(&base, &["ProdMgmt", &part], &[]);
    assert_eq!(
        url.path(),
        "/Windchill/servlet/odata/ProdMgmt/Parts('OR:wt.part.WTPart:1')"
    );
    let odd = crate::odata::keyed("Parts", "OR:a b#c?d/e'f%");
    let url = crate::odata::url(&base, &["ProdMgmt", &odd], &[]);
    assert_eq!(
        url.path(),
        "/Windchill/servlet/odata/ProdMgmt/Parts('OR:a%20b%23c%3Fd%2Fe''f%25')"
    );
}

/// A next link built from the host behind a reverse proxy: refused by default with a message
/// naming the setting, followed on the configured host with `rebase_next_link`; a link outside
/// the service's path is refused either way.
#[test]
fn a_next_link_from_behind_a_proxy_is_rebased_only_when_configured() {
    let base = url::Url::parse("https://plm.example.com/Windchill/servlet/odata").expect("url");
    let inner = "http://windchill-app:8080/Windchill/servlet/odata/DocMgmt/Documents?$skiptoken=50";
    let err = crate::odata::next_link(&base, inner, false).expect_err("refused");
    assert!(err.contains("rebase_next_link"), "{err}");
    let followed = crate::odata::next_link(&base, inner, true).expect("rebased");
    assert_eq!(
        followed.as_str(),
        "https://plm.example.com/Windchill/servlet/odata/DocMgmt/Documents?$skiptoken=50"
    );
    let outside = "http://windchill-app:8080/other/odata/DocMgmt/Documents?$skiptoken=50";
    assert!(crate::odata::next_link(&base, outside, true).is_err());
    // A sibling path sharing the base path's text is outside too (`…/odataadmin`).
    let sibling = "https://plm.example.com/Windchill/servlet/odataadmin/Users?$skiptoken=1";
    assert!(crate::odata::next_link(&base, sibling, false).is_err());
    let same = "https://plm.example.com/Windchill/servlet/odata/DocMgmt/Documents?$skiptoken=9";
    assert_eq!(
        crate::odata::next_link(&base, same, false)
            .expect("same origin")
            .as_str(),
        same
    );
}

#[tokio::test]
async fn a_feed_follows_a_proxied_next_link_on_the_configured_host_when_told() {
    for rebase in [false, true] {
        let s = server().await;
        let inner = format!(
            "http://windchill-app:8080{}?$skiptoken=1",
            p("DocMgmt/Documents")
        );
        Mock::given(method("GET"))
            .and(path(p("DocMgmt/Documents")))
            .and(query_param("$skiptoken", "1"))
            .respond_with(ok_json(json!({"value": []})))
            .with_priority(1)
            .expect(u64::from(rebase))
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(path(p("DocMgmt/Documents")))
            .respond_with(ok_json(
                json!({"value": [doc_json(Some(LINK), "active")], "@odata.nextLink": inner}),
            ))
            .with_priority(2)
            .mount(&s)
            .await;
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("pw"), PASSWORD).expect("pw");
        let mut cfg = config(&s, SecretRef::File("pw".into()));
        cfg.rebase_next_link = rebase;
        let c = cfg
            .validate()
            .expect("valid")
            .build(ctx(&dir))
            .expect("client");
        let result = c.find_links(&[LinkId(LINK.into())]).await;
        if rebase {
            assert_eq!(result.expect("followed").len(), 1);
        } else {
            let err = result.expect_err("refused");
            assert!(err.to_string().contains("rebase_next_link"), "{err}");
        }
    }
}

const TYPED_DOC_EDMX: &str = r#"<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
 <edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="PTC.DocMgmt">
  <EntityType Name="Document"><Key><PropertyRef Name="ID"/></Key>
   <Property Name="ID" Type="Edm.String"/><Property Name="Name" Type="Edm.String"/>
   <Property Name="PartreelLinkId" Type="Edm.String"/><Property Name="Prompt" Type="Edm.String"/>
   <Property Name="WatermarkPreserved" Type="Edm.Boolean"/>
   <Property Name="RightsExpiry" Type="Edm.DateTimeOffset"/>
  </EntityType></Schema></edmx:DataServices></edmx:Edmx>"#;

/// Values go out as the types `$metadata` declares: a flag as a JSON boolean, a date into a
/// DateTimeOffset as its midnight UTC, text as text; the read-back compares by type (`true`
/// answers `Yes`), and a value a type cannot take is a record error naming the property, with
/// nothing sent.
#[tokio::test]
async fn writes_use_the_types_metadata_declares() {
    let s = server().await;
    mount_metadata(&s, "DocMgmt", TYPED_DOC_EDMX).await;
    mount_nonce(&s, "n1", 1).await;
    Mock::given(method("PATCH"))
        .and(path(doc_path()))
        .and(body_json(json!({"WatermarkPreserved": true,
            "RightsExpiry": "2026-12-31T00:00:00Z", "Prompt": "typed"})))
        .respond_with(ok_json(
            json!({"ID": DOC_ID, "LastModified": "2026-11-21T08:00:00Z",
            "CreatedOn": "2026-11-20T08:00:00Z", "PartreelLinkId": LINK, "Prompt": "typed",
            "WatermarkPreserved": true, "RightsExpiry": "2026-12-31T00:00:00Z"}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    let mut cx = ctx(&dir);
    cx.link_properties
        .extend(["WatermarkPreserved", "RightsExpiry"].map(String::from));
    let c = config(&s, SecretRef::File("pw".into()))
        .validate()
        .unwrap()
        .build(cx)
        .unwrap();
    let mut fields = RemoteFields::new();
    fields.insert("WatermarkPreserved".into(), "Yes".into());
    fields.insert("RightsExpiry".into(), "2026-12-31".into());
    fields.insert("Prompt".into(), "typed".into());
    let updated = c.update_link(&remote_link(), &fields).await.unwrap();
    assert_eq!(
        updated.fields.get("WatermarkPreserved").map(String::as_str),
        Some("true")
    );
    let mut bad = RemoteFields::new();
    bad.insert("WatermarkPreserved".into(), "maybe".into());
    let err = c.update_link(&remote_link(), &bad).await.unwrap_err();
    assert!(err.is_record_error(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("WatermarkPreserved") && msg.contains("Edm.Boolean"),
        "{msg}"
    );
}

/// `DocMgmt/$metadata` of a server whose link IBAs live on the soft type `PromptToPartLink`
/// (a derived entity type, wccg_restapis_wcsubtypes_in_OData.html).
const SOFT_TYPE_EDMX: &str = r#"<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
 <edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="PTC.DocMgmt">
  <EntityType Name="Document"><Key><PropertyRef Name="ID"/></Key>
   <Property Name="ID" Type="Edm.String"/><Property Name="Name" Type="Edm.String"/>
   <Property Name="LastModified" Type="Edm.DateTimeOffset"/>
  </EntityType>
  <EntityType Name="PromptToPartLink" BaseType="PTC.DocMgmt.Document">
   <Property Name="PartreelLinkId" Type="Edm.String"/><Property Name="Prompt" Type="Edm.String"/>
   <Property Name="PartreelStatus" Type="Edm.String"/>
  </EntityType></Schema></edmx:DataServices></edmx:Edmx>"#;

const CAST: &str = "PTC.DocMgmt.PromptToPartLink";

/// With `document_type`, a link document is created as the soft type (`@odata.type` on the
/// base set, as PTC's subtype page shows), looked up, fed and re-read through the type cast
/// (the only path where the soft type's IBAs may be filtered and selected), and the schema
/// check sees the soft type's IBAs.
#[tokio::test]
async fn a_soft_type_is_created_as_its_odata_type_and_read_through_its_cast() {
    let s = server().await;
    mount_metadata(&s, "DocMgmt", SOFT_TYPE_EDMX).await;
    mount_metadata(&s, "ProdMgmt", PROD_EDMX).await;
    mount_nonce(&s, "nonce-1", 1).await;
    Mock::given(method("GET"))
        .and(path(p(&format!("DocMgmt/Documents/{CAST}"))))
        .and(query_param(
            "$filter",
            format!("PartreelLinkId eq '{LINK}'"),
        ))
        .and(query_param("$select", LINK_SELECT))
        .respond_with(ok_json(json!({"value": []})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/Documents")))
        .and(header("CSRF_NONCE", "nonce-1"))
        .and(body_json(json!({
            "@odata.type": format!("#{CAST}"),
            "Name": "VX-a red car on a wet track",
            "Description": format!("partreel prompt-to-part link {LINK}"),
            "Context@odata.bind": format!("Containers('{CONTAINER}')"),
            "PartreelLinkId": LINK,
            "Prompt": "a red car on a wet track",
            "PartreelStatus": "active"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(doc_json(Some(LINK), "active")))
        .expect(1)
        .mount(&s)
        .await;
    mount_attach(&s, "nonce-1", 201, 1).await;
    Mock::given(method("GET"))
        .and(path(p(&format!("DocMgmt/Documents/{CAST}"))))
        .and(query_param(
            "$filter",
            "LastModified ge 2026-11-01T00:00:00Z and PartreelLinkId gt ''",
        ))
        .and(query_param("$select", LINK_SELECT))
        .respond_with(ok_json(json!({"value": [doc_json(Some(LINK), "active")]})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PATCH"))
        .and(path(p(&format!("DocMgmt/Documents('{DOC_ID}')/{CAST}"))))
        .and(body_json(json!({"PartreelStatus": "retired"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(p(&format!("DocMgmt/Documents('{DOC_ID}')/{CAST}"))))
        .and(query_param("$select", LINK_SELECT))
        .respond_with(ok_json(doc_json(Some(LINK), "retired")))
        .expect(1)
        .mount(&s)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    let mut cfg = config(&s, SecretRef::File("pw".into()));
    cfg.document_type = Some("PromptToPartLink".into());
    let c = cfg.validate().unwrap().build(ctx(&dir)).unwrap();
    let link = c
        .create_link(&part_rev(), &LinkId(LINK.into()), &link_fields())
        .await
        .unwrap();
    assert_eq!(link.remote_id, DOC_ID);
    let page = c
        .changed_links(&ChangeQuery {
            since: Some(SINCE.parse().unwrap()),
            ..ChangeQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let mut retire = RemoteFields::new();
    retire.insert("PartreelStatus".into(), "retired".into());
    let updated = c.update_link(&link, &retire).await.unwrap();
    assert_eq!(updated.fields["PartreelStatus"], "retired");
    let schema = c.schema().await.unwrap();
    let names: Vec<&str> = schema.entities["link"]
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "ID",
            "Name",
            "LastModified",
            "PartreelLinkId",
            "Prompt",
            "PartreelStatus"
        ]
    );
}

/// `document_type` takes the entity type name WRS shows, never a Windchill type name.
#[tokio::test]
async fn a_windchill_type_name_as_document_type_is_refused_naming_the_key() {
    let s = MockServer::start().await;
    for good in ["PromptToPartLink", "PTC.DocMgmt.PromptToPartLink"] {
        let mut cfg = config(&s, SecretRef::Env("WC_PW".into()));
        cfg.document_type = Some(good.into());
        assert!(cfg.validate().is_ok(), "{good}");
    }
    for bad in [
        "com.acme.promptToPartLink",
        "Prompt-To-Part",
        "",
        "PTC.DocMgmt.",
    ] {
        let mut cfg = config(&s, SecretRef::Env("WC_PW".into()));
        cfg.document_type = Some(bad.into());
        let errors = cfg.validate().unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("document_type:") && e.contains("PromptToPartLink")),
            "{bad}: {errors:?}"
        );
    }
}

// ---- link creation in $batch requests (WCCG_RESTAPIsBatchSupport.html) ----------------------

const LINK2: &str = "ptp-fedcba9876543210fedcba98";
const DOC_ID2: &str = "OR:wt.doc.WTDocument:200002";

fn doc2_json() -> Value {
    let mut d = doc_json(Some(LINK2), "active");
    d["ID"] = json!(DOC_ID2);
    d
}

fn new_links() -> Vec<partreel_connector::connector::NewLink> {
    [LINK, LINK2]
        .iter()
        .map(|l| partreel_connector::connector::NewLink {
            part: part_rev(),
            link_id: LinkId((*l).into()),
            fields: link_fields(),
            prior_attempt: false,
        })
        .collect()
}

/// A `$batch` answer: a change set part per success, the failure alone per failure (OData 4.0
/// §11.7.4), CRLF line ends as a server writes them.
fn batch_answer(answers: &[(usize, u16, Value)]) -> ResponseTemplate {
    let mut body = String::new();
    for (id, status, json) in answers {
        let http = format!(
            "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {id}\r\n\r\n\
             HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\r\n{json}\r\n"
        );
        if (200..300).contains(status) {
            body.push_str(&format!(
                "--batch_s\r\nContent-Type: multipart/mixed; boundary=cs_{id}\r\n\r\n--cs_{id}\r\n{http}--cs_{id}--\r\n"
            ));
        } else {
            body.push_str(&format!("--batch_s\r\n{http}"));
        }
    }
    body.push_str("--batch_s--\r\n");
    ResponseTemplate::new(200).set_body_raw(body, "multipart/mixed; boundary=batch_s")
}

async fn mount_doc_metadata(s: &MockServer) {
    Mock::given(method("GET"))
        .and(path(p("DocMgmt/$metadata")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(DOC_EDMX, "application/xml"))
        .mount(s)
        .await;
}

fn sent(reqs: &[wiremock::Request]) -> Vec<String> {
    reqs.iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

#[tokio::test]
async fn create_links_sends_the_documents_then_the_describe_links_in_two_batches() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    mount_doc_metadata(&s).await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/$batch")))
        .and(header("CSRF_NONCE", "nonce-1"))
        .and(basic_auth(USER, PASSWORD))
        .respond_with(batch_answer(&[
            (1, 201, doc_json(Some(LINK), "active")),
            (2, 201, doc2_json()),
        ]))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("ProdMgmt/$batch")))
        .and(header("CSRF_NONCE", "nonce-1"))
        .respond_with(batch_answer(&[
            (1, 201, json!({"ID": "OR:wt.part.WTPartDescribeLink:1"})),
            (2, 201, json!({"ID": "OR:wt.part.WTPartDescribeLink:2"})),
        ]))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    assert_eq!(c.max_batch(), crate::config::DEFAULT_BATCH_SIZE);
    let out = c.create_links(&new_links()).await;
    let got: Vec<(String, String, Option<String>)> = out
        .into_iter()
        .map(|r| {
            let l = r.expect("created");
            (l.link_id.0, l.remote_id, l.part_remote_id)
        })
        .collect();
    assert_eq!(
        got,
        [
            (LINK.into(), DOC_ID.into(), Some(PART_ID.into())),
            (LINK2.into(), DOC_ID2.into(), Some(PART_ID.into())),
        ]
    );
    let reqs = s.received_requests().await.unwrap();
    assert_eq!(
        sent(&reqs),
        [
            format!("GET {}", p("DocMgmt/$metadata")),
            format!("GET {}", p("PTC/GetCSRFToken()")),
            format!("POST {}", p("DocMgmt/$batch")),
            format!("POST {}", p("ProdMgmt/$batch")),
        ],
        "no lookup, no single write"
    );
    let docs = String::from_utf8_lossy(&reqs[2].body).to_string();
    let kind = reqs[2]
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(kind.starts_with("multipart/mixed; boundary="), "{kind}");
    for want in [
        "Content-Id: 1\r\n".to_string(),
        "Content-Id: 2\r\n".to_string(),
        format!("POST {} HTTP/1.1\r\n", p("DocMgmt/Documents")),
        format!("\"PartreelLinkId\":\"{LINK}\""),
        format!("\"PartreelLinkId\":\"{LINK2}\""),
        format!("\"Context@odata.bind\":\"Containers('{CONTAINER}')\""),
    ] {
        assert!(docs.contains(&want), "{want} in:\n{docs}");
    }
    assert_eq!(
        docs.matches("Content-Type: multipart/mixed; boundary=changeset_")
            .count(),
        2,
        "a change set each"
    );
    let attach = String::from_utf8_lossy(&reqs[3].body).to_string();
    assert_eq!(
        attach
            .matches(&format!("POST {} HTTP/1.1", described_by_path()))
            .count(),
        2,
        "{attach}"
    );
    assert!(
        attach.contains(&format!("Documents('{DOC_ID2}')")),
        "{attach}"
    );
}

#[tokio::test]
async fn a_document_the_batch_refuses_fails_its_link_alone() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    mount_doc_metadata(&s).await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/$batch")))
        .respond_with(batch_answer(&[
            (1, 201, doc_json(Some(LINK), "active")),
            (
                2,
                400,
                json!({"error": {"code": "INVALID_PROPERTY", "message": "Prompt is too long."}}),
            ),
        ]))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("ProdMgmt/$batch")))
        .respond_with(batch_answer(&[(1, 201, json!({}))]))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let out = c.create_links(&new_links()).await;
    assert_eq!(out[0].as_ref().expect("first created").remote_id, DOC_ID);
    match &out[1] {
        Err(ConnectorError::Http {
            status: 400,
            message,
            ..
        }) => assert_eq!(message, "Prompt is too long."),
        other => panic!("{other:?}"),
    }
    let reqs = s.received_requests().await.unwrap();
    let attach = String::from_utf8_lossy(&reqs[3].body).to_string();
    assert_eq!(
        attach.matches("Content-Id: ").count(),
        1,
        "only the created one"
    );
}

#[tokio::test]
async fn a_server_without_batch_gets_single_calls_from_then_on() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    mount_doc_metadata(&s).await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/$batch")))
        .respond_with(ResponseTemplate::new(501).set_body_json(
            json!({"error": {"code": "NOT_IMPLEMENTED", "message": "Batch requests are not supported."}}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(p("DocMgmt/Documents")))
        .respond_with(ok_json(json!({"value": []})))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/Documents")))
        .respond_with(ResponseTemplate::new(201).set_body_json(doc_json(Some(LINK), "active")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/Documents")))
        .respond_with(ResponseTemplate::new(201).set_body_json(doc2_json()))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(described_by_path()))
        .and(header("CSRF_NONCE", "nonce-1"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"ID": "OR:x:1"})))
        .expect(2)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let out = c.create_links(&new_links()).await;
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    assert_eq!(c.max_batch(), 1, "single calls from then on");
    let singles = sent(&s.received_requests().await.unwrap())
        .into_iter()
        .filter(|r| r == &format!("POST {}", p("DocMgmt/Documents")))
        .count();
    assert_eq!(singles, 2);
}

/// A link the journal says may have been created by an earlier attempt is looked for first;
/// the document found is attached, not created again; the others go in the batch unlooked.
#[tokio::test]
async fn a_prior_attempt_is_looked_for_and_not_created_again() {
    let s = server().await;
    mount_nonce(&s, "nonce-1", 1).await;
    mount_doc_metadata(&s).await;
    mount_find(&s, vec![doc_json(Some(LINK), "active")]).await;
    Mock::given(method("POST"))
        .and(path(p("DocMgmt/$batch")))
        .respond_with(batch_answer(&[(1, 201, doc2_json())]))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("ProdMgmt/$batch")))
        .respond_with(batch_answer(&[(1, 201, json!({})), (2, 201, json!({}))]))
        .expect(1)
        .mount(&s)
        .await;
    let mut links = new_links();
    links[0].prior_attempt = true;
    let (_d, c) = client(&s);
    let out = c.create_links(&links).await;
    assert_eq!(out[0].as_ref().expect("found").remote_id, DOC_ID);
    assert_eq!(out[1].as_ref().expect("created").remote_id, DOC_ID2);
    let reqs = s.received_requests().await.unwrap();
    let docs = reqs
        .iter()
        .find(|r| r.url.path() == p("DocMgmt/$batch"))
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .unwrap_or_default();
    assert!(
        !docs.contains(LINK),
        "the found link is not created again:\n{docs}"
    );
    assert!(docs.contains(LINK2));
    let finds = reqs
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path() == p("DocMgmt/Documents"))
        .count();
    assert_eq!(finds, 1, "one lookup, for the flagged link only");
}
