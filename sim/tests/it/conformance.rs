//! Conformance: each emulator driven with requests shaped the way the vendor's own client or
//! documentation sends them — not the way partreel sends them — and each documented response
//! field checked, present and typed. The source of every request is named beside it.

use partreel_sim::Sim;
use reqwest::Method;
use serde_json::{Value, json};

use crate::util::{client, nonce, sim, wc_get, wc_write};

/// `v[key]` exists and satisfies `is`; the message names the field and the source.
fn has(v: &Value, key: &str, is: fn(&Value) -> bool, source: &str) {
    assert!(
        v.get(key).is_some_and(is),
        "{source}: field `{key}` missing or mistyped in {v}"
    );
}

fn string(v: &Value) -> bool {
    v.is_string()
}

fn number(v: &Value) -> bool {
    v.is_number()
}

fn array(v: &Value) -> bool {
    v.is_array()
}

fn object(v: &Value) -> bool {
    v.is_object()
}

/// Bynder, as the official Python SDK (`bynder-python-sdk` 2.x) sends it: the token through
/// requests-oauthlib with `include_client_id=True` (client id and secret as form fields, scopes
/// space-joined; `bynder_sdk/oauth2.py`), then `AssetBankClient` calls under `/api`
/// (`bynder_sdk/client/asset_bank_client.py`) with Python `requests` query encoding (a space
/// as `+`).
#[tokio::test]
async fn bynder_answers_the_python_sdk() {
    let s = sim(0, 3).await;
    let c = client();
    let cr = s.credentials();
    let base = &s.bynder.url;
    // oauth2.py: fetch_token(token_url, client_secret=…, include_client_id=True).
    let token: Value = c
        .post(format!("{base}/v6/authentication/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&scope=asset%3Aread+asset%3Awrite+meta.assetbank%3Aread&client_id={}&client_secret={}",
            cr.bynder_client_id, cr.bynder_client_secret
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let src = "bynder-oauth2-openapi.json token response (RFC 6749 §5.1)";
    has(&token, "access_token", string, src);
    has(&token, "token_type", string, src);
    has(&token, "expires_in", number, src);
    assert_eq!(
        token["scope"], "asset:read asset:write meta.assetbank:read",
        "{src}: the granted scope is the one requested"
    );
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());

    // media_list({'type': 'video', 'limit': 2, 'page': 1, 'orderBy': 'dateModified desc'}).
    let r = c
        .get(format!(
            "{base}/api/v4/media/?type=video&limit=2&page=1&orderBy=dateModified+desc"
        ))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    let media = list.as_array().expect("media_list answers a JSON array");
    assert_eq!(media.len(), 2, "limit=2");
    let times: Vec<&str> = media
        .iter()
        .filter_map(|m| m["dateModified"].as_str())
        .collect();
    assert!(times[0] >= times[1], "`+` read as a space: desc order");
    let src = "Bynder media item (docs/wire/bynder.md Media JSON)";
    for m in media {
        for key in [
            "id",
            "name",
            "type",
            "dateCreated",
            "dateModified",
            "datePublished",
            "idHash",
            "brandId",
            "copyright",
            "userCreated",
            "orientation",
        ] {
            has(m, key, string, src);
        }
        for key in [
            "archive",
            "isPublic",
            "fileSize",
            "width",
            "height",
            "watermarked",
            "limited",
        ] {
            has(m, key, number, src);
        }
        for key in ["extension", "tags", "propertyOptions", "videoPreviewURLs"] {
            has(m, key, array, src);
        }
        has(m, "thumbnails", object, src);
        for key in ["mini", "thul", "webimage"] {
            has(&m["thumbnails"], key, string, src);
        }
    }
    let id = media[0]["id"].as_str().unwrap().to_string();

    // media_info(media_id, {'versions': 1}).
    let info: Value = c
        .get(format!("{base}/api/v4/media/{id}/?versions=1"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["id"], id.as_str());
    has(&info, "mediaItems", array, "media_info with versions=1");

    // meta_properties(): an object keyed by metaproperty name.
    let props: Value = c
        .get(format!("{base}/api/v4/metaproperties/"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let src = "Bynder metaproperty (bynder-metaproperties-api-openapi.yml)";
    let props = props.as_object().expect("metaproperties keyed by name");
    assert!(!props.is_empty());
    for (name, p) in props {
        assert_eq!(p["name"], name.as_str(), "{src}: keyed by its name");
        for key in ["id", "name", "label", "type"] {
            has(p, key, string, src);
        }
        for key in ["isMultiselect", "isRequired", "isFilterable", "isEditable"] {
            has(p, key, number, src);
        }
        has(p, "options", array, src);
    }

    // set_media_properties(media_id, {'metaproperty.<id>': 'text'}): form data → 202.
    let prompt = props
        .values()
        .find(|p| p["type"] == "text" || p["type"] == "longtext")
        .expect("a text metaproperty");
    let r = c
        .post(format!("{base}/api/v4/media/{id}/"))
        .header("authorization", &bearer)
        .form(&[(
            format!("metaproperty.{}", prompt["id"].as_str().unwrap()),
            "set the way the SDK sets it".to_string(),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.unwrap();
    assert_eq!(accepted["statuscode"], 202, "{accepted}");

    // media_download_url(media_id): the original's location.
    let dl: Value = c
        .get(format!("{base}/api/v4/media/{id}/download/"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    has(&dl, "s3_file", string, "media_download_url");
    s.shutdown().await;
}

/// Windchill REST Services as PTC's Help Center examples send it: the nonce from
/// `PTC/GetCSRFToken()`, a collection read with `$filter`, `$select`, `$top` and the
/// `odata.maxpagesize` preference, one entity by its key, a PATCH with the nonce.
#[tokio::test]
async fn windchill_answers_the_help_center_examples() {
    let s = sim(0, 0).await;
    let c = client();
    let base = &s.windchill.url;
    // WCCG_RESTAPIsCSRFToken: `GET /PTC/GetCSRFToken()` → NonceKey / NonceValue.
    let n = nonce(&c, &s).await;
    assert!(!n.is_empty());

    // examples_WCCG_RESTAPIsSupportedQueryOptions.html: `Parts?$filter=startswith(Number, '00')`
    // and friends; WCCG_RESTAPIsODataPreferHeader.html: `Prefer: odata.maxpagesize=N`.
    let r = wc_get(&c, &s, &format!("{base}/ProdMgmt/Parts"))
        .query(&[
            ("$filter", "startswith(Number, 'TR') and Latest eq true"),
            ("$select", "ID,Number,Name,Revision,LastModified,State"),
        ])
        .header("Prefer", "odata.maxpagesize=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("preference-applied")
            .and_then(|v| v.to_str().ok()),
        Some("odata.maxpagesize=1"),
        "the preference applied is echoed"
    );
    let page: Value = r.json().await.unwrap();
    let src = "OData v4 collection (WCCG_RESTAPIsSupportedQueryOptions)";
    has(&page, "@odata.context", string, src);
    has(&page, "value", array, src);
    has(
        &page,
        "@odata.nextLink",
        string,
        "more than one TR part: a next link",
    );
    let part = &page["value"][0];
    for key in ["ID", "Number", "Name", "Revision", "LastModified"] {
        has(part, key, string, "PTC.ProdMgmt.Part");
    }
    assert!(part["Number"].as_str().unwrap().starts_with("TR"));
    has(part, "State", object, "PTC.ProdMgmt.Part State (EnumType)");
    for key in ["Value", "Display"] {
        has(&part["State"], key, string, "EnumType");
    }
    assert!(part.get("Description").is_none(), "$select honoured");

    // `Parts('OR:wt.part.WTPart:…')`.
    let id = part["ID"].as_str().unwrap();
    let one: Value = wc_get(&c, &s, &format!("{base}/ProdMgmt/Parts('{id}')"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["ID"], id);

    // WCCG_RESTAccessExamplesCreateDocument: POST with the nonce and `Context@odata.bind`.
    let docs = format!("{base}/DocMgmt/Documents");
    let container = s
        .windchill_documents()
        .first()
        .and_then(|d| d["ContainerID"].as_str().map(str::to_string));
    let mut body = json!({"Name": "conformance", "Description": "created as PTC shows"});
    if let Some(cid) = container {
        body["Context@odata.bind"] = json!(format!("Containers('{cid}')"));
    }
    let r = wc_write(&c, &s, Method::POST, &docs)
        .header("CSRF_NONCE", &n)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let doc: Value = r.json().await.unwrap();
    for key in ["ID", "Number", "Name", "LastModified"] {
        has(&doc, key, string, "PTC.DocMgmt.Document");
    }
    // WCCG_RESTAccessExamplesUpdateaDocument: PATCH with the nonce → 204 (no preference).
    let r = wc_write(
        &c,
        &s,
        Method::PATCH,
        &format!("{docs}('{}')", doc["ID"].as_str().unwrap()),
    )
    .header("CSRF_NONCE", &n)
    .json(&json!({"Description": "patched"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    // A soft attribute typed Edm.Boolean in `$metadata` takes a JSON boolean; the string an
    // earlier partreel sent is refused.
    let metadata = wc_get(&c, &s, &format!("{base}/DocMgmt/$metadata"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metadata.contains(r#"<Property Name="WatermarkPreserved" Type="Edm.Boolean"/>"#),
        "{metadata}"
    );
    let r = wc_write(&c, &s, Method::POST, &docs)
        .header("CSRF_NONCE", &n)
        .json(
            &json!({"@odata.type": "#PTC.DocMgmt.PromptToPartLink", "Name": "typed",
            "WatermarkPreserved": "true"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Edm.Boolean"));
    let r = wc_write(&c, &s, Method::POST, &docs)
        .header("CSRF_NONCE", &n)
        .json(
            &json!({"@odata.type": "#PTC.DocMgmt.PromptToPartLink", "Name": "typed",
            "WatermarkPreserved": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let typed_doc: Value = r.json().await.unwrap();
    assert_eq!(typed_doc["WatermarkPreserved"], true);
    // wccg_restapis_wcsubtypes_in_OData.html: a soft type is a derived entity type
    // (`BaseType`), its instances name it in `@odata.type`, and its IBAs are the subtype's:
    // created through the type cast too, searched only through it.
    assert!(
        metadata
            .contains(r#"<EntityType Name="PromptToPartLink" BaseType="PTC.DocMgmt.Document">"#),
        "{metadata}"
    );
    assert_eq!(typed_doc["@odata.type"], "#PTC.DocMgmt.PromptToPartLink");
    let typed = format!("{docs}/PTC.DocMgmt.PromptToPartLink");
    let r = wc_write(&c, &s, Method::POST, &typed)
        .header("CSRF_NONCE", &n)
        .json(&json!({"Name": "cast", "Prompt": "through the cast"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = wc_write(&c, &s, Method::POST, &docs)
        .header("CSRF_NONCE", &n)
        .json(&json!({"Name": "untyped", "Prompt": "an IBA of the subtype"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a subtype's IBA on a plain WTDocument");
    assert!(r.text().await.unwrap().contains("'PTC.DocMgmt.Document'"));
    let r = wc_get(&c, &s, &docs)
        .query(&[("$filter", "Prompt eq 'through the cast'")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a subtype's IBA filtered on the base set");
    let found: Value = wc_get(&c, &s, &typed)
        .query(&[
            ("$filter", "Prompt eq 'through the cast'"),
            ("$select", "ID,Prompt"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["value"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(
        found["value"][0]["@odata.type"],
        "#PTC.DocMgmt.PromptToPartLink"
    );
    let r = wc_get(&c, &s, &format!("{docs}/PTC.DocMgmt.NoSuchType"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Without the nonce a write is refused (wccg_rest_error_codes.html: 400 on a bad nonce).
    let r = wc_write(&c, &s, Method::POST, &docs)
        .json(&json!({"Name": "no nonce"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let err: Value = r.json().await.unwrap();
    has(&err, "error", object, "OData error body");
    has(&err["error"], "message", string, "OData error body");
    s.shutdown().await;
}

/// `$batch` as PTC's examples send it (WCCG_RESTAPIsBatchSupport_examples.html: LF line ends,
/// `Content-Id`, absolute request paths): each change set answered in its own part with the
/// request's status line and entity; a change set whose second request fails is rolled back
/// as one Windchill transaction (WCCG_RESTAPIsBatchSupport.html) and answered with the failure
/// alone; a server without batch support answers 501.
#[tokio::test]
async fn windchill_answers_the_batch_examples() {
    let s = sim(0, 0).await;
    let c = client();
    let base = &s.windchill.url;
    let n = nonce(&c, &s).await;
    let before = s.windchill_documents().len();
    let create = |id: u32, body: &str| {
        format!(
            "--changeset_{id}\nContent-Type: application/http\nContent-Transfer-Encoding:binary\n\
             Content-Id: {id}\n\nPOST /Windchill/servlet/odata/DocMgmt/Documents HTTP/1.1\n\
             Content-Type: application/json\n\n{body}\n\n"
        )
    };
    let body = format!(
        "--batch_request\nContent-Type:multipart/mixed;boundary=changeset_1\n\n{}--changeset_1--\n\n\
         --batch_request\nContent-Type:multipart/mixed;boundary=changeset_2\n\n{}{}--changeset_2--\n\n\
         --batch_request--\n",
        create(1, r#"{"Name":"BatchDoc1"}"#),
        create(2, r#"{"Name":"BatchDoc2"}"#),
        create(3, "not json").replace("changeset_3", "changeset_2"),
    );
    let batch = |body: String| {
        wc_write(&c, &s, Method::POST, &format!("{base}/DocMgmt/$batch"))
            .header("CSRF_NONCE", &n)
            .header("Content-Type", "multipart/mixed;boundary=batch_request")
            .body(body)
            .send()
    };
    let r = batch(body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(kind.starts_with("multipart/mixed; boundary="), "{kind}");
    let text = r.text().await.unwrap();
    assert_eq!(text.matches("HTTP/1.1 201 Created").count(), 1, "{text}");
    assert_eq!(
        text.matches("HTTP/1.1 400 Bad Request").count(),
        1,
        "{text}"
    );
    assert!(text.contains("Content-ID: 1"), "{text}");
    assert!(text.contains("\"Name\":\"BatchDoc1\""), "{text}");
    let names: Vec<String> = s
        .windchill_documents()
        .iter()
        .filter_map(|d| d["Name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(s.windchill_documents().len(), before + 1, "{names:?}");
    assert!(names.iter().any(|n| n == "BatchDoc1"));
    assert!(
        !names.iter().any(|n| n == "BatchDoc2"),
        "the failed change set's first document was rolled back"
    );

    // Another domain's URL in a DocMgmt batch is refused.
    let cross = body.replace("odata/DocMgmt/Documents", "odata/ProdMgmt/Parts");
    assert_eq!(batch(cross).await.unwrap().status(), 400);

    s.windchill_batch_unsupported(true);
    assert_eq!(batch(body).await.unwrap().status(), 501);
}

/// Teamcenter SOA over JSON/REST as Siemens' clients send it (Mendix Teamcenter connector
/// `ServiceEnvelope`, tcsoa `backend.py`): the login envelope with the (sic) `descrimator`, the
/// session cookie, then `executeBOQueriesWithSort` with `sortOptions` as the TC API browser
/// lists them, and `loadObjects` under an object property policy.
#[tokio::test]
async fn teamcenter_answers_the_soa_envelope() {
    let s = sim(0, 0).await;
    let c = client();
    let cr = s.credentials();
    let base = format!("{}/JsonRestServices", s.teamcenter.emulator.url);
    let login: Value = c
        .post(format!("{base}/Core-2011-06-Session/login"))
        .json(&json!({"header": {"state": {}, "policy": {}},
            "body": {"credentials": {"user": cr.teamcenter_username, "password": cr.teamcenter_password,
                "group": "", "role": "", "locale": "en_US", "descrimator": "conformance"}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        login[".QName"],
        "http://teamcenter.com/Schemas/Core/2011-06/Session.LoginResponse"
    );
    has(&login, "serverInfo", object, "Session.LoginResponse");
    has(&login, "ServiceData", object, "Session.LoginResponse");

    let header = json!({"state": {"formatProperties": true, "stateless": true,
            "unloadObjects": false, "enableServerStateHeaders": true, "locale": "en_US"},
        "policy": {"useRefCount": false, "types": [{"name": "ItemRevision",
            "properties": [{"name": "item_id"}, {"name": "item_revision_id"},
                           {"name": "last_mod_date"}, {"name": "object_name"}]}]}});
    let found: Value = c
        .post(format!(
            "{base}/Query-2019-06-SavedQuery/executeBOQueriesWithSort"
        ))
        .json(
            &json!({"header": header, "body": {"inputs": [{"clientId": "conformance",
            "requestId": "r1", "boTypeName": "ItemRevision", "clauses": [],
            "sortOptions": [{"sortAttribute": "last_mod_date", "sortOrder": "DescendingOrder"}],
            "maxNumToReturn": 0}]}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    has(&found, "arrayOfResults", array, "SavedQueriesResponse");
    let uids: Vec<String> = found["arrayOfResults"][0]["objectUIDS"]
        .as_array()
        .expect("objectUIDS")
        .iter()
        .filter_map(|u| u.as_str().map(str::to_string))
        .collect();
    assert!(uids.len() >= 2, "{found}");

    let loaded: Value = c
        .post(format!("{base}/Core-2007-09-DataManagement/loadObjects"))
        .json(&json!({"header": header, "body": {"uids": uids}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let objects = loaded["modelObjects"]
        .as_object()
        .or_else(|| loaded["ServiceData"]["modelObjects"].as_object())
        .expect("ServiceData.modelObjects");
    let src = "ServiceData model object (tcsoa gen/Server.py)";
    let mut times = Vec::new();
    for uid in &uids {
        let o = &objects[uid.as_str()];
        for key in ["uid", "objectID", "type", "className"] {
            has(o, key, string, src);
        }
        for prop in [
            "item_id",
            "item_revision_id",
            "last_mod_date",
            "object_name",
        ] {
            let p = &o["props"][prop];
            has(p, "dbValues", array, src);
            has(p, "uiValues", array, src);
        }
        times.push(
            o["props"]["last_mod_date"]["dbValues"][0]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    let mut sorted = times.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(times, sorted, "DescendingOrder on last_mod_date");
    s.shutdown().await;
}

/// 3DEXPERIENCE as Dassault's ws3dx client sends it with agent credentials
/// (`AgentPassport`: HTTP Basic on every call) — `SecurityContext` on every call, the CSRF token
/// from `application/CSRF` on writes only, the EngItem search with `$searchStr`, `$top`, `$skip`
/// and `$mask` (`SearchService`), the documents of an item (`GetItemDocuments`).
#[tokio::test]
async fn threedx_answers_ws3dx() {
    let s = sim(0, 0).await;
    let c = client();
    let t = &s.threedx;
    let cr = &t.credentials;
    let space = t.emulator.url.trim_end_matches('/');
    let get = |url: String| {
        c.get(url)
            .basic_auth(&cr.agent_id, Some(&cr.agent_secret))
            .header("SecurityContext", &cr.security_context)
    };
    let search: Value = get(format!(
        "{space}/resources/v1/modeler/dseng/dseng:EngItem/search"
    ))
    .query(&[
        ("$searchStr", "*"),
        ("$top", "2"),
        ("$skip", "0"),
        ("$mask", "dsmveng:EngItemMask.Default"),
    ])
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    has(
        &search,
        "totalItems",
        number,
        "EngItem search (ws3dx SearchService)",
    );
    let members = search["member"].as_array().expect("member[]");
    assert_eq!(members.len(), 2, "$top=2");
    for m in members {
        for key in ["id", "type", "name", "modified", "cestamp"] {
            has(m, key, string, "dsmveng:EngItemMask.Default");
        }
    }
    let item = members[0]["id"].as_str().unwrap();
    let docs: Value = get(format!(
        "{space}/resources/v1/modeler/documents/parentId/{item}"
    ))
    .query(&[
        ("parentRelName", "Reference Document"),
        ("parentDirection", "from"),
    ])
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(docs["success"], true, "{docs}");
    has(&docs, "data", array, "DocumentsResponse");

    // A write without the CSRF token is refused; with it, accepted (EnoviaBaseService).
    let create = json!({"data": [{"type": "Document", "dataelements": {"title": "conformance",
        "description": "created as ws3dx creates", "parentId": item,
        "parentRelName": "Reference Document", "parentDirection": "from"}}]});
    let post = || {
        c.post(format!("{space}/resources/v1/modeler/documents"))
            .basic_auth(&cr.agent_id, Some(&cr.agent_secret))
            .header("SecurityContext", &cr.security_context)
            .json(&create)
    };
    assert_eq!(post().send().await.unwrap().status(), 403);
    let csrf: Value = get(format!("{space}/resources/v1/application/CSRF"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(csrf["csrf"]["name"], "ENO_CSRF_TOKEN", "{csrf}");
    let token = csrf["csrf"]["value"].as_str().expect("csrf.value");
    let made: Value = post()
        .header("ENO_CSRF_TOKEN", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(made["success"], true, "{made}");
    let doc = &made["data"][0];
    has(doc, "id", string, "Document");
    assert_eq!(doc["type"], "Document");
    has(
        doc,
        "dataelements",
        object,
        "Document.dataelements (DocumentData)",
    );
    for key in [
        "name",
        "title",
        "policy",
        "state",
        "revision",
        "originated",
        "modified",
    ] {
        has(&doc["dataelements"], key, string, "DocumentData");
    }
    has(
        &doc["dataelements"],
        "extensions",
        array,
        "DocumentData.extensions",
    );
    // Customer attributes come with the customer extension (`DocumentData.extensions`): on a
    // document without it they are refused, an unknown extension is refused, and a create that
    // names the extension may write them.
    let with = |el: Value| {
        let mut el = el;
        el["parentId"] = json!(item);
        json!({"data": [{"type": "Document", "dataelements": el}]})
    };
    let create_with = |body: Value| {
        c.post(format!("{space}/resources/v1/modeler/documents"))
            .basic_auth(&cr.agent_id, Some(&cr.agent_secret))
            .header("SecurityContext", &cr.security_context)
            .header("ENO_CSRF_TOKEN", token)
            .json(&body)
    };
    let r = create_with(with(
        json!({"title": "no extension", "partreelLinkId": "ptp-x"}),
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("partreelLinkId"));
    let r = create_with(with(
        json!({"title": "unknown", "extensions": ["NoSuchExt"]}),
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let made: Value = create_with(with(json!({"title": "extended",
        "extensions": ["PromptToPartLinkExt"], "partreelLinkId": "ptp-x"})))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(made["success"], true, "{made}");
    let el = &made["data"][0]["dataelements"];
    assert_eq!(el["extensions"], json!(["PromptToPartLinkExt"]), "{made}");
    assert_eq!(el["partreelLinkId"], "ptp-x", "{made}");
    assert_eq!(el["prompt"], "", "the extension's other attributes, empty");
    // Managing parents names the relation (`DocumentData.parentRelName`): without it the update
    // is refused (the shape an earlier partreel sent), with it the document leaves that
    // relation.
    let doc_id = doc["id"].as_str().unwrap();
    let put = |body: Value| {
        c.put(format!("{space}/resources/v1/modeler/documents/{doc_id}"))
            .basic_auth(&cr.agent_id, Some(&cr.agent_secret))
            .header("SecurityContext", &cr.security_context)
            .header("ENO_CSRF_TOKEN", token)
            .json(&body)
    };
    let bare = json!({"data": [{"id": doc_id, "dataelements": {},
        "relateddata": {"parents": []}}]});
    assert_eq!(put(bare).send().await.unwrap().status(), 400);
    let named = json!({"data": [{"id": doc_id,
        "dataelements": {"parentRelName": "Reference Document", "parentDirection": "from"},
        "relateddata": {"parents": []}}]});
    let detached: Value = put(named).send().await.unwrap().json().await.unwrap();
    assert_eq!(detached["success"], true, "{detached}");
    assert_eq!(
        detached["data"][0]["relateddata"]["parents"],
        json!([]),
        "{detached}"
    );
    s.shutdown().await;
}

/// AEM Assets as Adobe documents it: an IMS server-to-server token (form fields, comma-separated
/// scopes), the Assets HTTP API folder listing (Siren), the Granite CSRF token for a metadata
/// `PUT` of `{"class":"asset","properties":{…}}`, and the QueryBuilder JSON servlet.
#[tokio::test]
async fn aem_answers_the_assets_http_api() {
    let s: Sim = sim(0, 0).await;
    let c = client();
    let a = &s.aem;
    let token: Value = c
        .post(&a.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", a.credentials.client_id.as_str()),
            ("client_secret", a.credentials.client_secret.as_str()),
            ("scope", "AdobeID,openid,read_organizations"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    has(&token, "access_token", string, "IMS /ims/token/v3");
    has(&token, "expires_in", number, "IMS /ims/token/v3");
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let base = a.emulator.url.trim_end_matches('/');
    let folder = a
        .dam_root
        .strip_prefix("/content/dam/")
        .expect("dam root under /content/dam");
    let listing: Value = c
        .get(format!("{base}/api/assets/{folder}.json"))
        .header("authorization", &bearer)
        .query(&[("offset", "0"), ("limit", "100")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listing["class"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "assets/folder")),
        "{listing}"
    );
    has(
        &listing["properties"],
        "srn:paging",
        object,
        "Assets HTTP API paging",
    );
    has(&listing, "entities", array, "Siren entities");
    has(&listing, "links", array, "Siren links");

    // Granite CSRF: a PUT without the token is refused, with it accepted.
    let hits: Value = c
        .get(format!("{base}/bin/querybuilder.json"))
        .header("authorization", &bearer)
        .query(&[
            ("path", a.dam_root.as_str()),
            ("type", "dam:Asset"),
            ("orderby", "@jcr:content/jcr:lastModified"),
            ("orderby.sort", "asc"),
            ("p.limit", "2"),
            ("p.hits", "full"),
            ("p.nodedepth", "2"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hits["success"], true, "{hits}");
    has(&hits, "total", number, "QueryBuilder JSON");
    let hit = &hits["hits"][0];
    let path = hit["jcr:path"].as_str().expect("jcr:path");
    has(&hit["jcr:content"], "metadata", object, "p.nodedepth=2");
    let put = || {
        c.put(format!(
            "{base}/api/assets/{}",
            path.strip_prefix("/content/dam/").unwrap()
        ))
        .header("authorization", &bearer)
        .json(&json!({"class": "asset", "properties": {"dc:title": "set as Adobe shows"}}))
    };
    assert_eq!(put().send().await.unwrap().status(), 403);
    let csrf: Value = c
        .get(format!("{base}/libs/granite/csrf/token.json"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = csrf["token"].as_str().expect("token");
    assert_eq!(
        put().header("CSRF-Token", t).send().await.unwrap().status(),
        200
    );
    s.shutdown().await;
}
