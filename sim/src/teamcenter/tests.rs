//! The Teamcenter emulator on its own: the session handshake and its exception bodies, a
//! deterministic seed, and the `copy_record_as` test hook seen through the wire. (The
//! connector's tests in `connectors/teamcenter/tests` drive the rest.)

use serde_json::{Value, json};

use super::{TeamcenterSimConfig, start};
use crate::SimClock;

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (Option<String>, Value) {
    let resp = client.post(url).json(&body).send().await.unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    (cookie, resp.json().await.unwrap())
}

#[tokio::test]
async fn calls_need_a_session_and_login_sets_the_cookie() {
    let sim = start(TeamcenterSimConfig::default(), SimClock::new())
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let load = format!(
        "{}/JsonRestServices/Core-2007-09-DataManagement/loadObjects",
        sim.url()
    );
    let envelope = json!({"header": {"state": {}, "policy": {}}, "body": {"uids": []}});
    let (_, body) = post(&http, &load, envelope.clone()).await;
    assert_eq!(
        body[".QName"],
        "http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.InvalidUserException"
    );
    let login = format!("{}/JsonRestServices/Core-2011-06-Session/login", sim.url());
    let creds = |pw: &str| {
        json!({"header": {"state": {}, "policy": {}}, "body": {"credentials": {
        "user": "partreel", "password": pw, "group": "", "role": "", "locale": "en_US", "descrimator": "t"}}})
    };
    let (_, refused) = post(&http, &login, creds("nope")).await;
    assert!(
        refused[".QName"]
            .as_str()
            .unwrap()
            .ends_with("InvalidCredentialsException")
    );
    let (cookie, ok) = post(&http, &login, creds("partreel-sim")).await;
    assert!(
        ok[".QName"]
            .as_str()
            .unwrap()
            .ends_with("Session.LoginResponse")
    );
    assert!(cookie.unwrap().starts_with("JSESSIONID="));
    let (_, body) = post(&http, &load, envelope.clone()).await;
    assert!(body["partialErrors"].as_array().unwrap().is_empty());
    sim.expire_sessions();
    let (_, body) = post(&http, &load, envelope).await;
    assert_eq!(body["code"], 1000);
    assert_eq!(sim.logins(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_seed_is_deterministic_and_tells_the_stunt_track_story() {
    let cfg = TeamcenterSimConfig {
        parts: 40,
        ..TeamcenterSimConfig::default()
    };
    let a = start(cfg.clone(), SimClock::new()).await.unwrap();
    let b = start(cfg, SimClock::new()).await.unwrap();
    assert_eq!(a.revisions(), b.revisions());
    let revs = a.revisions();
    assert_eq!(revs.len(), 43);
    let st = |id: &str, rev: &str| {
        revs.iter()
            .find(|r| r.item_id == id && r.revision == rev)
            .cloned()
    };
    assert_eq!(st("ST-3001", "A").unwrap().status, ["Released"]);
    assert!(st("ST-3001", "B").unwrap().status.is_empty());
    assert!(st("ST-3002", "A").is_some());
    assert!(
        revs.iter()
            .all(|r| r.item_id.starts_with("ST-") || r.item_id.starts_with("SC-"))
    );
    assert_eq!(a.revise("ST-3002").as_deref(), Some("B"));
    assert!(a.edit_revision("ST-3002", "B", "release_status_list", Some("Released")));
    assert_eq!(a.revisions().len(), 44);
}

/// A logged-in caller of the emulator's operations.
struct Session {
    http: reqwest::Client,
    url: String,
}

impl Session {
    async fn open(sim: &super::TeamcenterSim) -> Session {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let url = format!("{}/JsonRestServices", sim.url());
        let creds = json!({"header": {"state": {}, "policy": {}}, "body": {"credentials": {
            "user": "partreel", "password": "partreel-sim", "group": "", "role": "",
            "locale": "en_US", "descrimator": "t"}}});
        let (cookie, _) = post(&http, &format!("{url}/Core-2011-06-Session/login"), creds).await;
        assert!(cookie.is_some());
        Session { http, url }
    }

    /// One operation with the record policy (link id, prompt, both dates).
    async fn call(&self, op: &str, body: Value) -> Value {
        let envelope = json!({"header": {"state": {}, "policy": {"useRefCount": false,
            "types": [{"name": "PromptToPartForm", "properties": [{"name": "ptp_link_id"},
                {"name": "ptp_prompt"}, {"name": "creation_date"}, {"name": "last_mod_date"}]}]}},
            "body": body});
        post(&self.http, &format!("{}/{op}", self.url), envelope)
            .await
            .1
    }

    /// UIDs of the records whose link id is `id` (the look-up by link id).
    async fn by_link_id(&self, id: &str) -> Value {
        let body = self
            .call(
                "Query-2019-06-SavedQuery/executeBOQueriesWithSort",
                json!({"inputs": [{"clientId": "t", "requestId": "t", "boTypeName": "PromptToPartForm",
                    "clauses": [{"propName": "ptp_link_id", "propValue": id, "mathOperator": "=",
                        "logicOperator": "OR"}],
                    "sortOptions": [{"sortAttribute": "last_mod_date", "sortOrder": "AscendingOrder"}],
                    "maxNumToReturn": 0}]}),
            )
            .await;
        body["arrayOfResults"][0]["objectUIDS"].clone()
    }
}

fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v["dbValues"][0].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn copy_record_as_makes_a_related_record_under_the_new_link_id() {
    let sim = start(TeamcenterSimConfig::default(), SimClock::new())
        .await
        .unwrap();
    let s = Session::open(&sim).await;
    let rev = sim
        .revisions()
        .into_iter()
        .find(|r| r.item_id == "ST-3001" && r.revision == "B")
        .unwrap()
        .uid;
    // The original, made as the connector makes it: create, then relate.
    let created = s
        .call(
            "Core-2015-07-DataManagement/createRelateAndSubmitObjects2",
            json!({"createInputs": [{"clientId": "ptp-orig", "createData": {"boName": "PromptToPartForm",
                "propertyNameValues": {"object_name": ["VX-a stunt car"], "ptp_link_id": ["ptp-orig"],
                    "ptp_prompt": ["a stunt car"]}, "compoundCreateInput": {}},
                "dataToBeRelated": {}, "workflowData": {}, "targetObject": {"uid": "AAAAAAAAAAAAAA", "type": "unknownType", "className": "unknownClass"}, "pasteProp": ""}]}),
        )
        .await;
    let orig = created["output"][0]["objects"][0]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let related = s
        .call(
            "Core-2006-03-DataManagement/createRelations",
            json!({"input": [{"clientId": "ptp-orig", "relationType": "PromptToPart",
                "primaryObject": {"uid": rev, "type": "ItemRevision"},
                "secondaryObject": {"uid": orig, "type": "PromptToPartForm"}, "userData": {"uid": "AAAAAAAAAAAAAA", "type": "unknownType", "className": "unknownClass"}}]}),
        )
        .await;
    assert!(related["output"][0]["relation"]["uid"].is_string());

    sim.clock.advance(std::time::Duration::from_secs(600));
    let before = sim.clock.now();
    let older = sim.copy_record_as(&orig, "handmade-1", true).unwrap();
    let newer = sim.copy_record_as(&orig, "handmade-2", false).unwrap();
    let after = sim.clock.now();
    assert_ne!(older, orig);
    assert_ne!(older, newer);
    assert_eq!(
        sim.copy_record_as("F9999999999999", "handmade-3", false),
        None
    );

    // The query by link id finds each copy under its own id, and the original alone under its.
    assert_eq!(s.by_link_id("handmade-1").await, json!([older]));
    assert_eq!(s.by_link_id("handmade-2").await, json!([newer]));
    assert_eq!(s.by_link_id("ptp-orig").await, json!([orig]));

    // Both copies hang on the original's part revision (GRM), read from the part's side.
    let expanded = s
        .call(
            "Core-2007-09-DataManagement/expandGRMRelationsForPrimary",
            json!({"primaryObjects": [{"uid": rev, "type": "ItemRevision"}],
                "pref": {"expItemRev": false, "returnRelations": true, "info": [
                    {"relationTypeName": "PromptToPart", "otherSideObjectTypes": ["PromptToPartForm"]}]}}),
        )
        .await;
    let mut on_part: Vec<&str> =
        expanded["output"][0]["relationshipData"][0]["relationshipObjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["otherSideObject"]["uid"].as_str().unwrap())
            .collect();
    on_part.sort_unstable();
    let mut want = vec![orig.as_str(), older.as_str(), newer.as_str()];
    want.sort_unstable();
    assert_eq!(on_part, want);
    let copied: Vec<_> = sim
        .relations()
        .into_iter()
        .filter(|r| r.secondary == older || r.secondary == newer)
        .collect();
    assert_eq!(copied.len(), 2);
    assert!(copied.iter().all(|r| r.primary == rev));

    // The copies keep the original's other properties; `older` is dated a minute before it,
    // `newer` now; both are modified now (so the change feed sees them).
    let loaded = s
        .call(
            "Core-2007-09-DataManagement/loadObjects",
            json!({"uids": [orig, older, newer]}),
        )
        .await;
    let obj = |uid: &str| loaded["modelObjects"][uid]["props"].clone();
    let (o, a, b) = (obj(&orig), obj(&older), obj(&newer));
    assert_eq!(a["ptp_link_id"]["dbValues"], json!(["handmade-1"]));
    assert_eq!(b["ptp_link_id"]["dbValues"], json!(["handmade-2"]));
    assert_eq!(a["ptp_prompt"]["dbValues"], json!(["a stunt car"]));
    assert_eq!(
        time(&a["creation_date"]),
        time(&o["creation_date"]) - chrono::Duration::seconds(60)
    );
    assert!((before..=after).contains(&time(&b["creation_date"])));
    for p in [&a, &b] {
        assert!((before..=after).contains(&time(&p["last_mod_date"])));
    }
    // The modification index follows the copies: a changed-since query finds exactly them.
    let changed = s
        .call(
            "Query-2019-06-SavedQuery/executeBOQueriesWithSort",
            json!({"inputs": [{"clientId": "t", "requestId": "t", "boTypeName": "PromptToPartForm",
                "clauses": [{"propName": "last_mod_date",
                    "propValue": before.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
                    "mathOperator": ">=", "logicOperator": "AND"}],
                "sortOptions": [{"sortAttribute": "last_mod_date", "sortOrder": "AscendingOrder"}],
                "maxNumToReturn": 0}]}),
        )
        .await;
    let mut changed: Vec<&str> = changed["arrayOfResults"][0]["objectUIDS"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    changed.sort_unstable();
    let mut copies = vec![older.as_str(), newer.as_str()];
    copies.sort_unstable();
    assert_eq!(changed, copies);
    sim.shutdown().await;
}

/// `executeBOQueriesWithSort` sorts by the documented `sortOptions` shape only
/// (`{"sortAttribute", "sortOrder": "AscendingOrder" | "DescendingOrder"}`); an option in any
/// other shape is ignored, as SOA ignores unknown members, and the answer comes back unsorted —
/// the shape partreel once sent (`fieldName`/`ASC`) gets exactly that.
#[tokio::test]
async fn a_query_sorts_only_by_the_documented_sort_option() {
    let cfg = TeamcenterSimConfig {
        parts: 20,
        ..TeamcenterSimConfig::default()
    };
    let sim = start(cfg, SimClock::new()).await.unwrap();
    let s = Session::open(&sim).await;
    let by_modified: Vec<String> = sim.revisions().into_iter().map(|r| r.uid).collect();
    let mut by_uid = by_modified.clone();
    by_uid.sort();
    assert!(by_modified.len() > 3);
    assert_ne!(
        by_modified, by_uid,
        "the seed's UIDs are not in modification order"
    );
    let query = |sort: Value| {
        json!({"inputs": [{"clientId": "t", "requestId": "t", "boTypeName": "ItemRevision",
            "clauses": [], "sortOptions": sort, "maxNumToReturn": 0}]})
    };
    let op = "Query-2019-06-SavedQuery/executeBOQueriesWithSort";
    let uids = |v: &Value| -> Vec<String> {
        v["arrayOfResults"][0]["objectUIDS"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect()
    };
    let asc = s
        .call(
            op,
            query(json!([{"sortAttribute": "last_mod_date", "sortOrder": "AscendingOrder"}])),
        )
        .await;
    assert_eq!(uids(&asc), by_modified);
    let desc = s
        .call(
            op,
            query(json!([{"sortAttribute": "last_mod_date", "sortOrder": "DescendingOrder"}])),
        )
        .await;
    let mut reversed = by_modified.clone();
    reversed.reverse();
    assert_eq!(uids(&desc), reversed);
    let old = s
        .call(
            op,
            query(json!([{"fieldName": "last_mod_date", "sortOrder": "ASC"}])),
        )
        .await;
    assert_eq!(
        uids(&old),
        by_uid,
        "an undocumented sort option sorts nothing"
    );
    let bad = s
        .call(
            op,
            query(json!([{"sortAttribute": "last_mod_date", "sortOrder": "ASC"}])),
        )
        .await;
    assert!(bad.to_string().contains("Invalid sortOrder ASC"), "{bad}");
}

/// `setProperties` answers `{data, objPropMap}` (SetPropertyResponse): its partial errors are
/// under `data`, and there is no `ServiceData` member for a client to read them from.
#[tokio::test]
async fn set_properties_answers_data_and_obj_prop_map() {
    let sim = start(TeamcenterSimConfig::default(), SimClock::new())
        .await
        .unwrap();
    let s = Session::open(&sim).await;
    let answer = s
        .call(
            "Core-2010-09-DataManagement/setProperties",
            json!({"info": [{"object": {"uid": "NOPE", "type": "PromptToPartForm"},
                "timestamp": "0001-01-01T00:00:00",
                "vecNameVal": [{"name": "ptp_status", "values": ["retired"]}]}], "options": []}),
        )
        .await;
    assert!(answer.get("ServiceData").is_none(), "{answer}");
    assert!(answer["objPropMap"].is_object(), "{answer}");
    let errors = answer["data"]["partialErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{answer}");
    assert!(errors[0].to_string().contains("NOPE"), "{answer}");
}

/// A null reference goes as SOA's null tag; JSON `null` where a reference belongs is refused
/// (the request partreel once sent).
#[tokio::test]
async fn a_json_null_reference_is_refused_and_the_null_tag_taken() {
    let sim = start(TeamcenterSimConfig::default(), SimClock::new())
        .await
        .unwrap();
    let s = Session::open(&sim).await;
    let create = |target: Value| {
        json!({"createInputs": [{"clientId": "c1", "createData": {"boName": "PromptToPartForm",
            "propertyNameValues": {"ptp_link_id": ["ptp-null"]}, "compoundCreateInput": {}},
            "dataToBeRelated": {}, "workflowData": {}, "targetObject": target, "pasteProp": ""}]})
    };
    let op = "Core-2015-07-DataManagement/createRelateAndSubmitObjects2";
    let refused = s.call(op, create(Value::Null)).await;
    assert!(
        refused.to_string().contains("send the null tag"),
        "{refused}"
    );
    assert!(
        refused["output"].as_array().unwrap().is_empty(),
        "{refused}"
    );
    let taken = s
        .call(
            op,
            create(json!({"uid": "AAAAAAAAAAAAAA", "type": "unknownType", "className": "unknownClass"})),
        )
        .await;
    assert_eq!(taken["output"][0]["clientId"], "c1", "{taken}");
}
