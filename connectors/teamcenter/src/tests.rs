//! Contract tests against wiremock: the exact requests of docs/wire/teamcenter.md (path,
//! envelope, policy, cookie), the documented answers (model objects, partial errors, the
//! `InvalidUserException` body), re-login exactly once then replay, and secret hygiene. Every
//! server answers an unexpected request with 500 "unexpected request".

use partreel_connector::PlmConnector;
use partreel_connector::connector::{ChangeQuery, LinkUpdate, NewLink};
use partreel_connector::error::ConnectorError;
use partreel_connector::http::{HttpConfig, RateLimitConfig, RetryConfig};
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{BuildContext, TeamcenterClient, TeamcenterConfig};

const PASSWORD: &str = "s3cr3t-Pa55w0rd";
const SID: &str = "0123ABCD";
const REV: &str = "R0000000000002";
const FORM: &str = "F0000000000009";
const LINK: &str = "ptp-0123456789abcdef01234567";
const INVALID_USER: &str =
    "http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.InvalidUserException";

fn p(op: &str) -> String {
    format!("/tc/JsonRestServices/{op}")
}

use partreel_testkit::mock::server;

fn config(s: &MockServer) -> TeamcenterConfig {
    let text = format!(
        "base_url = \"{}/tc\"\nusername = \"partreel\"\npassword = {{ file = \"pw\" }}\nbatch_size = 50\n",
        s.uri()
    );
    let mut cfg: TeamcenterConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    cfg.http = HttpConfig {
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
    };
    cfg
}

fn client(s: &MockServer) -> (TempDir, TeamcenterClient) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    let ctx = BuildContext {
        system: "teamcenter".into(),
        config_dir: dir.path().to_path_buf(),
        part_properties: vec!["object_name".into(), "c9_sku".into()],
        link_properties: vec!["ptp_prompt".into()],
    };
    let client = config(s).validate().unwrap().build(ctx).unwrap();
    (dir, client)
}

fn ok_json(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

/// Login answer with the session cookie.
async fn mount_login(s: &MockServer, expect: u64) {
    Mock::given(method("POST"))
        .and(path(p("Core-2011-06-Session/login")))
        .and(body_partial_json(
            json!({"header": {"state": {}, "policy": {}},
            "body": {"credentials": {"user": "partreel", "password": PASSWORD, "group": "",
                "role": "", "locale": "en_US", "descrimator": "partreel"}}}),
        ))
        .respond_with(
            ok_json(
                json!({".QName": "http://teamcenter.com/Schemas/Core/2011-06/Session.LoginResponse",
                "serverInfo": {"Version": "P14000"}, "ServiceData": {}}),
            )
            .insert_header(
                "set-cookie",
                format!("JSESSIONID={SID}; Path=/tc; HttpOnly").as_str(),
            ),
        )
        .expect(expect)
        .mount(s)
        .await;
}

fn prop(v: &str) -> Value {
    json!({"dbValues": [v], "uiValues": [v]})
}

fn revision_object() -> Value {
    json!({"uid": REV, "objectID": REV, "type": "ItemRevision", "className": "ItemRevision", "props": {
        "item_id": prop("ST-3001"), "item_revision_id": prop("B"), "object_name": prop("Stunt Track loop set"),
        "last_mod_date": {"dbValues": ["2026-11-20T09:30:00+00:00"], "uiValues": ["20-Nov-2026 09:30"]},
        "release_status_list": {"dbValues": ["S1"], "uiValues": ["Released"]}, "c9_sku": prop("ACM-ST-3001")}})
}

fn form_object(modified: &str) -> Value {
    json!({"uid": FORM, "type": "PromptToPartForm", "props": {"ptp_link_id": prop(LINK),
        "ptp_status": prop("active"), "ptp_prompt": prop("a stunt car"),
        "last_mod_date": prop(modified), "creation_date": prop("2026-11-19T08:00:00+00:00")}})
}

/// The record as `setProperties` answers it after the write of `update_links_…`: prompt
/// cleared, status retired.
fn written_form() -> Value {
    let mut f = form_object("2026-11-22T10:00:00+00:00");
    f["props"]["ptp_status"] = prop("retired");
    f["props"]["ptp_prompt"] = json!({"dbValues": [], "uiValues": []});
    f
}

fn part() -> PartRevision {
    PartRevision {
        system: "teamcenter".into(),
        remote_id: REV.into(),
        number: "ST-3001".into(),
        revision: "B".into(),
        name: "Stunt Track loop set".into(),
        lifecycle_state: None,
        modified: "2026-11-20T09:30:00Z".parse().unwrap(),
        fields: RemoteFields::new(),
    }
}

const PART_POLICY: &str = r#"{"useRefCount":false,"types":[{"name":"ItemRevision","properties":[{"name":"item_id"},{"name":"item_revision_id"},{"name":"object_name"},{"name":"last_mod_date"},{"name":"release_status_list"},{"name":"c9_sku"}]}]}"#;
const LINK_POLICY: &str = r#"{"useRefCount":false,"types":[{"name":"PromptToPartForm","properties":[{"name":"last_mod_date"},{"name":"creation_date"},{"name":"ptp_link_id"},{"name":"ptp_status"},{"name":"ptp_prompt"}]}]}"#;

fn state() -> Value {
    json!({"formatProperties": true, "stateless": true, "unloadObjects": false,
        "enableServerStateHeaders": true, "locale": "en_US"})
}

fn policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn changed_parts_sends_the_pinned_query_then_loads_with_the_policy_and_cookie() {
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p("Query-2019-06-SavedQuery/executeBOQueriesWithSort")))
        .and(header("cookie", format!("JSESSIONID={SID}").as_str()))
        .and(body_partial_json(json!({"header": {"state": state(), "policy": {}}, "body": {"inputs": [{
            "boTypeName": "ItemRevision",
            "clauses": [{"propName": "last_mod_date", "propValue": "2026-11-01T00:00:00+00:00",
                "mathOperator": ">=", "logicOperator": "AND"}],
            "sortOptions": [{"sortAttribute": "last_mod_date", "sortOrder": "AscendingOrder"}],
            "maxNumToReturn": 3}]}})))
        .respond_with(ok_json(json!({".QName": "http://teamcenter.com/Schemas/Query/2007-09/SavedQuery.SavedQueriesResponse",
            "arrayOfResults": [{"objectUIDS": [REV, "R0000000000003", "R0000000000004"], "objectsRelMap": []}],
            "ServiceData": {}})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("Core-2007-09-DataManagement/loadObjects")))
        .and(header("cookie", format!("JSESSIONID={SID}").as_str()))
        .and(body_partial_json(json!({"header": {"state": state(), "policy": policy(PART_POLICY)},
            "body": {"uids": [REV, "R0000000000003"]}})))
        .respond_with(ok_json(json!({".QName": "http://teamcenter.com/Schemas/Soa/2006-03/Base.ServiceData",
            "plain": [REV], "modelObjects": {REV: revision_object(),
                "R0000000000003": {"uid": "R0000000000003", "type": "ItemRevision", "props": {"item_id": prop("ST-9")}}},
            "partialErrors": []})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let q = ChangeQuery {
        since: Some("2026-11-01T00:00:00.750Z".parse().unwrap()),
        continuation: None,
        page_size: 2,
    };
    let page = c.changed_parts(&q).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let pr = &page.items[0];
    assert_eq!(
        (
            pr.number.as_str(),
            pr.revision.as_str(),
            pr.remote_id.as_str()
        ),
        ("ST-3001", "B", REV)
    );
    assert_eq!(pr.lifecycle_state.as_deref(), Some("Released"));
    assert_eq!(
        pr.fields.get("c9_sku").map(String::as_str),
        Some("ACM-ST-3001")
    );
    assert_eq!(
        page.rejected.len(),
        1,
        "the revision without item_revision_id"
    );
    assert!(page.rejected[0].reason.contains("item_revision_id"));
    assert_eq!(page.continuation.as_deref(), Some("2"));
}

#[tokio::test]
async fn an_invalid_user_exception_logs_in_again_once_and_replays() {
    let s = server().await;
    mount_login(&s, 2).await;
    let body = json!({"header": {"state": state(), "policy": policy(PART_POLICY)},
        "body": {"infos": [{"itemId": "ST-3001", "revIds": []}], "nRev": -1, "pref": {}}});
    // First answer: the session is gone (status 200, per Mendix TcConnector); then the data.
    Mock::given(method("POST"))
        .and(path(p("Core-2007-01-DataManagement/getItemFromId")))
        .and(body_partial_json(body.clone()))
        .respond_with(ok_json(json!({".QName": INVALID_USER, "ssoServerURL": "", "ssoAppID": "",
            "code": 1000, "level": 3, "tcresponse": "Teamcenter", "message": "User does not have a valid session."})))
        .up_to_n_times(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("Core-2007-01-DataManagement/getItemFromId")))
        .and(body_partial_json(body))
        .respond_with(ok_json(json!({"output": [{"item": {"uid": "Q1", "type": "Item"},
            "itemRevOutput": [{"itemRevision": {"uid": REV, "type": "ItemRevision"}, "datasets": []}]}],
            "ServiceData": {"modelObjects": {REV: revision_object()},
                "partialErrors": [{"clientIndex": 1, "errorValues": [{"code": 214100, "level": 3, "message": "The Item ID NOPE was not found."}]}]}})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let parts = c.parts_by_number(&["ST-3001".into()]).await.unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(c.session().logins(), 2);
}

#[tokio::test]
async fn a_session_refused_right_after_login_is_an_auth_error_not_a_loop() {
    let s = server().await;
    mount_login(&s, 2).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2011-06-Session/getTypeDescriptions")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>Login</html>"))
        .expect(2)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c.schema().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn wrong_credentials_are_an_auth_error_without_the_password() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path(p("Core-2011-06-Session/login")))
        .respond_with(ok_json(json!({".QName": "http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.InvalidCredentialsException",
            "code": 515143, "level": 3, "message": "The login attempt failed: either the user ID or the password is invalid."})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c.find_links(&[LinkId(LINK.into())]).await.unwrap_err();
    let text = format!("{err} {err:?} {c:?}");
    assert!(matches!(err, ConnectorError::Auth { .. }));
    assert!(text.contains("515143"));
    assert!(!text.contains(PASSWORD));
}

async fn mount_find(s: &MockServer, found: &[&str]) {
    Mock::given(method("POST"))
        .and(path(p("Query-2019-06-SavedQuery/executeBOQueriesWithSort")))
        .and(body_partial_json(json!({"body": {"inputs": [{"boTypeName": "PromptToPartForm",
            "clauses": [{"propName": "ptp_link_id", "propValue": LINK, "mathOperator": "=", "logicOperator": "OR"}],
            "maxNumToReturn": 0}]}})))
        .respond_with(ok_json(json!({"arrayOfResults": [{"objectUIDS": found}], "ServiceData": {}})))
        .mount(s)
        .await;
}

fn new_link() -> NewLink {
    NewLink {
        part: part(),
        link_id: LinkId(LINK.into()),
        fields: [("ptp_prompt".to_string(), "a stunt car".to_string())].into(),
        prior_attempt: false,
    }
}

#[tokio::test]
async fn create_links_sends_client_ids_and_maps_partial_errors_to_their_record() {
    let s = server().await;
    mount_login(&s, 1).await;
    mount_find(&s, &[]).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2015-07-DataManagement/createRelateAndSubmitObjects2")))
        .and(body_partial_json(json!({"header": {"policy": policy(LINK_POLICY)}, "body": {"createInputs": [{
            "clientId": LINK, "createData": {"boName": "PromptToPartForm", "propertyNameValues": {
                "object_name": ["VX-a stunt car"], "ptp_link_id": [LINK], "ptp_prompt": ["a stunt car"]},
                "compoundCreateInput": {}}, "dataToBeRelated": {}, "workflowData": {}, "targetObject": {"uid": "AAAAAAAAAAAAAA", "type": "unknownType", "className": "unknownClass"}, "pasteProp": ""}]}})))
        .respond_with(ok_json(json!({"output": [{"clientId": LINK, "objects": [{"uid": FORM, "type": "PromptToPartForm"}]}],
            "ServiceData": {"created": [FORM], "modelObjects": {FORM: form_object("2026-11-21T10:00:00+00:00")}}})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("Core-2006-03-DataManagement/createRelations")))
        .and(body_partial_json(json!({"body": {"input": [{"clientId": LINK, "relationType": "PromptToPart",
            "primaryObject": {"uid": REV, "type": "ItemRevision"}, "secondaryObject": {"uid": FORM, "type": "PromptToPartForm"},
            "userData": {"uid": "AAAAAAAAAAAAAA", "type": "unknownType", "className": "unknownClass"}}]}})))
        .respond_with(ok_json(json!({"output": [], "ServiceData": {"partialErrors": [{"clientId": LINK, "clientIndex": 0,
            "errorValues": [{"code": 35011, "level": 3, "message": "Access denied on PromptToPart."}]}]}})))
        .expect(1)
        .mount(&s)
        .await;
    // Settling the refusal: the relation is not there.
    Mock::given(method("POST"))
        .and(path(p("Core-2007-09-DataManagement/expandGRMRelationsForPrimary")))
        .and(body_partial_json(json!({"body": {"primaryObjects": [{"uid": REV, "type": "ItemRevision"}],
            "pref": {"expItemRev": false, "returnRelations": true,
                "info": [{"relationTypeName": "PromptToPart", "otherSideObjectTypes": ["PromptToPartForm"]}]}}})))
        .respond_with(ok_json(json!({"output": [{"inputObject": {"uid": REV}, "relationshipData": [
            {"relationName": "PromptToPart", "relationshipObjects": []}]}], "ServiceData": {}})))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let r = c.create_links(&[new_link()]).await;
    match &r[0] {
        Err(
            e @ ConnectorError::Record {
                record, message, ..
            },
        ) => {
            assert!(e.is_record_error());
            assert_eq!(record, LINK);
            assert!(
                message.contains("Access denied on PromptToPart. (code 35011)"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_existing_record_is_related_not_created_again() {
    let s = server().await;
    mount_login(&s, 1).await;
    mount_find(&s, &[FORM]).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2007-09-DataManagement/loadObjects")))
        .and(body_partial_json(
            json!({"header": {"policy": policy(LINK_POLICY)}, "body": {"uids": [FORM]}}),
        ))
        .respond_with(ok_json(
            json!({"modelObjects": {FORM: form_object("2026-11-21T10:00:00+00:00")}}),
        ))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("Core-2007-09-DataManagement/expandGRMRelationsForPrimary")))
        .respond_with(ok_json(json!({"output": [{"inputObject": {"uid": REV}, "relationshipData": [
            {"relationshipObjects": [{"otherSideObject": {"uid": FORM}, "relation": {"uid": "L1"}}]}]}]})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let link = c.create_links(&[new_link()]).await.pop().unwrap().unwrap();
    assert_eq!(
        (link.remote_id.as_str(), link.part_remote_id.as_deref()),
        (FORM, Some(REV))
    );
    assert_eq!(
        link.fields.get("ptp_prompt").map(String::as_str),
        Some("a stunt car")
    );
    // creation_date orders duplicates (the oldest record of a link id is kept).
    assert_eq!(link.created, Some("2026-11-19T08:00:00Z".parse().unwrap()));
}

#[tokio::test]
async fn update_links_sends_one_set_properties_and_reads_the_answer() {
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2010-09-DataManagement/setProperties")))
        .and(body_partial_json(json!({"header": {"policy": policy(LINK_POLICY)}, "body": {"info": [
            {"object": {"uid": FORM, "type": "PromptToPartForm"}, "timestamp": "0001-01-01T00:00:00",
             "vecNameVal": [{"name": "ptp_prompt", "values": []}, {"name": "ptp_status", "values": ["retired"]}]},
            {"object": {"uid": "F2", "type": "PromptToPartForm"}, "timestamp": "0001-01-01T00:00:00",
             "vecNameVal": [{"name": "ptp_status", "values": ["active"]}]}], "options": []}})))
        .respond_with(ok_json(json!({"data": {"updated": [FORM],
            "modelObjects": {FORM: written_form()},
            "partialErrors": [{"uid": "F2", "clientIndex": 1, "errorValues": [{"code": 515001, "level": 3, "message": "The object with UID F2 does not exist."}]}]},
            "objPropMap": {}})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let link = |uid: &str| RemoteLink {
        link_id: LinkId(LINK.into()),
        remote_id: uid.into(),
        part_remote_id: Some(REV.into()),
        modified: "2026-11-21T10:00:00Z".parse().unwrap(),
        created: None,
        fields: RemoteFields::new(),
    };
    let r = c
        .update_links(&[
            LinkUpdate {
                link: link(FORM),
                fields: [
                    ("ptp_prompt".into(), String::new()),
                    ("ptp_status".into(), "retired".into()),
                ]
                .into(),
            },
            LinkUpdate {
                link: link("F2"),
                fields: [("ptp_status".into(), "active".into())].into(),
            },
            LinkUpdate {
                link: link("F3"),
                fields: RemoteFields::new(),
            },
        ])
        .await;
    let first = r[0].as_ref().unwrap();
    assert_eq!(
        first.modified,
        "2026-11-22T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    assert_eq!(first.part_remote_id.as_deref(), Some(REV));
    assert!(
        matches!(&r[1], Err(ConnectorError::Record { message, .. }) if message.contains("F2 does not exist"))
    );
    assert_eq!(
        r[2].as_ref().unwrap().remote_id,
        "F3",
        "nothing to write, nothing sent"
    );
}

/// Matches a call whose whole envelope is exactly `expected` (not a partial match: no other
/// member, no other array element).
fn exact_envelope(expected: Value) -> impl Fn(&Request) -> bool {
    move |r: &Request| serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| v == expected)
}

/// The expand of the one part revision `links_on_part` sends: no policy, the configured
/// relation and record types (docs/wire/teamcenter.md, Read links).
fn expand_envelope(part: &str) -> Value {
    json!({"header": {"state": state(), "policy": {}}, "body": {
        "primaryObjects": [{"uid": part, "type": "ItemRevision"}],
        "pref": {"expItemRev": false, "returnRelations": true,
            "info": [{"relationTypeName": "PromptToPart", "otherSideObjectTypes": ["PromptToPartForm"]}]}}})
}

fn relation(record: &str, rel: &str) -> Value {
    json!({"otherSideObject": {"uid": record, "type": "PromptToPartForm", "className": "PromptToPartForm"},
        "relation": {"uid": rel, "type": "PromptToPart", "className": "ImanRelation"}})
}

#[tokio::test]
async fn links_on_part_expands_the_one_revision_then_loads_its_records_with_the_link_policy() {
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2007-09-DataManagement/expandGRMRelationsForPrimary")))
        .and(header("cookie", format!("JSESSIONID={SID}").as_str()))
        .and(exact_envelope(expand_envelope(REV)))
        .respond_with(ok_json(json!({
            ".QName": "http://teamcenter.com/Schemas/Core/2007-09/DataManagement.ExpandGRMRelationsResponse2",
            "output": [{"inputObject": {"uid": REV, "type": "ItemRevision"}, "relationshipData": [
                {"relationName": "PromptToPart", "relationshipObjects": [
                    relation(FORM, "L1"), relation("F0000000000010", "L2"),
                    relation("F0000000000011", "L3"), relation("F0000000000012", "L4")]}]}],
            "ServiceData": {"plain": [REV], "modelObjects": {REV: {"uid": REV, "type": "ItemRevision", "props": {}}}}})))
        .expect(1)
        .mount(&s)
        .await;
    // F…10: another record under a hand-typed link id, created earlier; F…11: a document
    // without a link id; F…12: refused by loadObjects (gone since the expand).
    let other = json!({"uid": "F0000000000010", "type": "PromptToPartForm", "props": {
        "ptp_link_id": prop("handmade-1"), "ptp_status": prop("active"), "ptp_prompt": prop("a stunt car"),
        "last_mod_date": prop("2026-11-22T10:00:00+00:00"), "creation_date": prop("2026-11-18T08:00:00+00:00")}});
    let plain = json!({"uid": "F0000000000011", "type": "PromptToPartForm", "props": {
        "ptp_link_id": {"dbValues": [], "uiValues": []}, "ptp_prompt": prop("a drawing note"),
        "last_mod_date": prop("2026-11-22T10:00:00+00:00"), "creation_date": prop("2026-11-17T08:00:00+00:00")}});
    Mock::given(method("POST"))
        .and(path(p("Core-2007-09-DataManagement/loadObjects")))
        .and(header("cookie", format!("JSESSIONID={SID}").as_str()))
        .and(exact_envelope(json!({"header": {"state": state(), "policy": policy(LINK_POLICY)},
            "body": {"uids": [FORM, "F0000000000010", "F0000000000011", "F0000000000012"]}})))
        .respond_with(ok_json(json!({".QName": "http://teamcenter.com/Schemas/Soa/2006-03/Base.ServiceData",
            "plain": [FORM, "F0000000000010", "F0000000000011"],
            "modelObjects": {FORM: form_object("2026-11-21T10:00:00+00:00"),
                "F0000000000010": other, "F0000000000011": plain},
            "partialErrors": [{"uid": "F0000000000012", "clientIndex": 3, "errorValues": [
                {"code": 515001, "level": 3, "message": "The object with UID F0000000000012 does not exist."}]}]})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let links = c.links_on_part(REV).await.unwrap();
    let got: Vec<(&str, &str, Option<&str>)> = links
        .iter()
        .map(|l| {
            (
                l.remote_id.as_str(),
                l.link_id.as_str(),
                l.part_remote_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (FORM, LINK, Some(REV)),
            ("F0000000000010", "handmade-1", Some(REV))
        ]
    );
    // Converted as the feed converts: creation and modification times, mapped fields.
    assert_eq!(
        links[1].created,
        Some("2026-11-18T08:00:00Z".parse().unwrap())
    );
    assert_eq!(
        links[0].modified,
        "2026-11-21T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    assert_eq!(
        links[1].fields.get("ptp_prompt").map(String::as_str),
        Some("a stunt car")
    );
}

#[tokio::test]
async fn links_on_part_of_a_revision_without_records_loads_nothing() {
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p(
            "Core-2007-09-DataManagement/expandGRMRelationsForPrimary",
        )))
        .and(exact_envelope(expand_envelope(REV)))
        .respond_with(ok_json(
            json!({"output": [{"inputObject": {"uid": REV, "type": "ItemRevision"},
            "relationshipData": [{"relationName": "PromptToPart", "relationshipObjects": []}]}],
            "ServiceData": {}}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    assert!(c.links_on_part(REV).await.unwrap().is_empty());
}

#[tokio::test]
async fn links_on_part_names_the_revision_or_record_the_server_cannot_give() {
    // The revision refused (a partial error for it): a record error naming it, nothing loaded.
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2007-09-DataManagement/expandGRMRelationsForPrimary")))
        .and(exact_envelope(expand_envelope("R0000000000404")))
        .respond_with(ok_json(json!({"output": [], "ServiceData": {"partialErrors": [
            {"uid": "R0000000000404", "clientIndex": 0, "errorValues": [
                {"code": 515001, "level": 3, "message": "The object with UID R0000000000404 does not exist."}]}]}})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    match &c.links_on_part("R0000000000404").await {
        Err(
            e @ ConnectorError::Record {
                record, message, ..
            },
        ) => {
            assert!(e.is_record_error());
            assert_eq!(record, "R0000000000404");
            assert!(
                message.contains("does not exist. (code 515001)"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }

    // A record carrying a link id but no readable modification time: a record error naming
    // its link id and UID.
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p(
            "Core-2007-09-DataManagement/expandGRMRelationsForPrimary",
        )))
        .respond_with(ok_json(
            json!({"output": [{"inputObject": {"uid": REV}, "relationshipData": [
            {"relationshipObjects": [relation(FORM, "L1")]}]}]}),
        ))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("Core-2007-09-DataManagement/loadObjects")))
        .respond_with(ok_json(
            json!({"modelObjects": {FORM: form_object("yesterday")}}),
        ))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    match c.links_on_part(REV).await {
        Err(ConnectorError::Record {
            record, message, ..
        }) => {
            assert_eq!(record, LINK);
            assert!(
                message.contains(FORM) && message.contains("last_mod_date"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }

    // An answer that is not the documented output: malformed, naming the operation.
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p(
            "Core-2007-09-DataManagement/expandGRMRelationsForPrimary",
        )))
        .respond_with(ok_json(json!({"output": {"inputObject": REV}})))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c.links_on_part(REV).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Malformed { what, .. } if what.ends_with("expandGRMRelationsForPrimary")),
        "{err:?}"
    );
}

#[tokio::test]
async fn schema_reads_type_descriptions_in_both_layouts_and_logout_is_sent() {
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2011-06-Session/getTypeDescriptions")))
        .and(body_partial_json(json!({"body": {"typeNames": ["ItemRevision", "PromptToPartForm"]}})))
        .respond_with(ok_json(json!({"types": [
            {"name": "ItemRevision", "propertyDescriptors": {"c9_sku": {"name": "c9_sku", "valueType": 8, "isModifiable": true},
                "release_status_list": {"valueType": 9, "isArray": true, "isModifiable": false}}},
            {"name": "PromptToPartForm", "propertyDescriptors": [{"name": "ptp_link_id", "valueType": 8, "isModifiable": true}]}],
            "ServiceData": {}})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(p("Core-2006-03-Session/logout")))
        .and(header("cookie", format!("JSESSIONID={SID}").as_str()))
        .and(body_partial_json(
            json!({"header": {"state": {}, "policy": {}}, "body": {}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "<ns1:ServiceData xmlns:ns1=\"http://teamcenter.com/Schemas/Soa/2006-03/Base\"/>",
        ))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let schema = c.schema().await.unwrap();
    let kinds: Vec<(String, String, bool)> = schema.entities["part"]
        .iter()
        .map(|p| (p.name.clone(), p.kind.clone(), p.writable))
        .collect();
    assert_eq!(
        kinds,
        [
            ("c9_sku".into(), "string".into(), true),
            (
                "release_status_list".into(),
                "typed_reference[]".into(),
                false
            )
        ]
    );
    assert_eq!(schema.entities["link"][0].name, "ptp_link_id");
    c.logout().await.unwrap();
    c.logout().await.unwrap();
}

#[tokio::test]
async fn a_server_exception_becomes_a_typed_error_naming_it() {
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2011-06-Session/getTypeDescriptions")))
        .respond_with(|_: &Request| ok_json(json!({".QName": "http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.ServiceException",
            "code": 39014, "level": 3, "message": "The type PromptToPartForm does not exist."})))
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let err = c.schema().await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Http { message, .. } if message.contains("ServiceException (code 39014)")),
        "{err:?}"
    );
}

#[test]
fn validation_names_every_bad_key() {
    let text = "base_url = \"ftp://x/tc/JsonRestServices\"\nusername = \" \"\npassword = { env = \"\" }\n\
        record_type = \"Bad Type\"\nlink_status_property = \"ptp_link_id\"\nquery_operation = \"executeBOQueries\"\n\
        page_size = 0\nbatch_size = 5000\nretire = \"status\"\n";
    let cfg: TeamcenterConfig = toml::from_str(text).unwrap();
    let errors = cfg.validate().unwrap_err();
    for key in [
        "base_url:",
        "username:",
        "password:",
        "record_type:",
        "link_status_property:",
        "query_operation:",
        "page_size:",
        "batch_size:",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(key)),
            "{key} in {errors:?}"
        );
    }
    let unknown = toml::from_str::<TeamcenterConfig>(
        "base_url = \"http://x/tc\"\nusername = \"u\"\npassword = { env = \"P\" }\nsurprise = 1\n",
    );
    assert!(unknown.is_err());
}

#[test]
fn a_missing_password_names_the_key() {
    let cfg: TeamcenterConfig = toml::from_str(
        "base_url = \"http://x/tc\"\nusername = \"u\"\npassword = { env = \"PARTREEL_TC_TEST_SURELY_UNSET\" }\n",
    )
    .unwrap();
    let err = cfg
        .validate()
        .unwrap()
        .build(BuildContext::default())
        .unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
    assert!(err.to_string().contains("PARTREEL_TC_TEST_SURELY_UNSET"));
}

#[test]
fn stale_bodies_are_recognised_and_cut_json_is_not() {
    use crate::wire::is_stale;
    assert!(is_stale(
        format!("{{\".QName\":\"{INVALID_USER}\",\"code\":1000}}").as_bytes()
    ));
    assert!(is_stale(b"  <html><body>Session expired</body></html>"));
    assert!(!is_stale(b"{\"ServiceData\":{\"modelObjects\":{\""));
    assert!(!is_stale(b"{\"output\":[]}"));
}

/// A `setProperties` answer in neither documented place is malformed: read as "nothing
/// refused", a refused write would pass for done.
#[tokio::test]
async fn a_set_properties_answer_without_its_service_data_is_malformed() {
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2010-09-DataManagement/setProperties")))
        .respond_with(ok_json(json!({"objPropMap": {}})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let link = RemoteLink {
        link_id: LinkId(LINK.into()),
        remote_id: FORM.into(),
        part_remote_id: Some(REV.into()),
        modified: "2026-11-21T10:00:00Z".parse().unwrap(),
        created: None,
        fields: RemoteFields::new(),
    };
    let r = c
        .update_links(&[LinkUpdate {
            link,
            fields: [("ptp_status".into(), "retired".into())].into(),
        }])
        .await;
    assert!(
        matches!(&r[0], Err(ConnectorError::Malformed { detail, .. }) if detail.contains("neither data nor ServiceData")),
        "{r:?}"
    );
}

/// A `setProperties` the server accepts but whose answer shows the old value (not applied) is
/// a record error naming the record and the property, never taken as written.
#[tokio::test]
async fn an_update_accepted_but_not_applied_is_a_record_error() {
    let s = server().await;
    mount_login(&s, 1).await;
    Mock::given(method("POST"))
        .and(path(p("Core-2010-09-DataManagement/setProperties")))
        .respond_with(ok_json(json!({"data": {"updated": [FORM],
            "modelObjects": {FORM: form_object("2026-11-22T10:00:00+00:00")},
            "partialErrors": []}, "objPropMap": {}})))
        .expect(1)
        .mount(&s)
        .await;
    let (_d, c) = client(&s);
    let r = c
        .update_links(&[LinkUpdate {
            link: RemoteLink {
                link_id: LinkId(LINK.into()),
                remote_id: FORM.into(),
                part_remote_id: Some(REV.into()),
                modified: "2026-11-21T10:00:00Z".parse().unwrap(),
                created: None,
                fields: RemoteFields::new(),
            },
            fields: [("ptp_status".into(), "retired".into())].into(),
        }])
        .await;
    let err = r[0].as_ref().unwrap_err();
    assert!(err.is_record_error(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(FORM) && msg.contains("ptp_status"), "{msg}");
}

/// Dates read in the documented RFC 3339 form, with a colon-less offset, with fractions, and
/// without offset (UTC); anything else is not a date.
#[test]
fn teamcenter_dates_read_in_each_form_servers_write() {
    use chrono::{TimeZone, Utc};
    let at = Utc
        .with_ymd_and_hms(2026, 11, 21, 8, 0, 0)
        .single()
        .expect("date");
    for s in [
        "2026-11-21T08:00:00+00:00",
        "2026-11-21T09:00:00+0100",
        "2026-11-21T08:00:00.000+0000",
        "2026-11-21T08:00:00",
    ] {
        assert_eq!(crate::convert::parse_time(s), Some(at), "{s}");
    }
    assert_eq!(crate::convert::parse_time("21.11.2026 08:00"), None);
}
