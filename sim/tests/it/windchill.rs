//! The Windchill emulator over HTTP: auth, CSRF, paging, filters, documents and links.

use std::collections::HashSet;

use partreel_sim::System;
use reqwest::Method;
use serde_json::{Value, json};

use crate::util::{client, nonce, sim, walk_windchill, wc_get, wc_write};

/// No or wrong credentials → 401 with `WWW-Authenticate: Basic` and an OData error body.
#[tokio::test]
async fn basic_auth_is_required() {
    let s = sim(0, 0).await;
    let c = client();
    let url = format!("{}/ProdMgmt/Parts", s.windchill.url);
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["WWW-Authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["code"].is_string());
    let r = c
        .get(&url)
        .basic_auth("wcadmin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = wc_get(&c, &s, &url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["OData-Version"], "4.0");
    assert!(
        r.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("JSESSIONID=")
    );
    s.shutdown().await;
}

/// Paging by `Prefer: odata.maxpagesize` and absolute `@odata.nextLink` returns every part once,
/// in `LastModified` order, even across a tie group bigger than a page.
#[tokio::test]
async fn paging_walks_every_part_once() {
    let s = sim(500, 0).await;
    let all: Vec<String> = s
        .windchill_parts()
        .iter()
        .map(|p| p["ID"].as_str().unwrap().to_owned())
        .collect();
    let tie: Vec<String> = all[100..190].to_vec();
    s.set_same_modified(
        System::Windchill,
        &tie,
        s.clock.now() - chrono::TimeDelta::days(3),
    );
    let c = client();
    let url = format!(
        "{}/ProdMgmt/Parts?$orderby=LastModified%20asc",
        s.windchill.url
    );
    let got = walk_windchill(&c, &s, &url, 37).await;
    let ids: Vec<&str> = got.iter().map(|p| p["ID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), all.len());
    let times: Vec<&str> = got
        .iter()
        .map(|p| p["LastModified"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "ordered by LastModified"
    );
    // Default page size is 25.
    let v: Value = wc_get(&c, &s, &url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["value"].as_array().unwrap().len(), 25);
    assert!(
        v["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("$skiptoken=25")
    );
    s.shutdown().await;
}

/// `Number eq … or …`, `LastModified ge …` with and without `allowFilterOnTime`, `$select`,
/// and 400s that name what is unsupported.
#[tokio::test]
async fn filters_and_select() {
    let s = sim(50, 0).await;
    let c = client();
    let base = format!("{}/ProdMgmt/Parts", s.windchill.url);
    let get = |q: &[(&str, &str)]| wc_get(&c, &s, &base).query(q).send();
    let v: Value = get(&[("$filter", "Number eq 'TR-1001' or Number eq 'TR-1002'")])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut revs: Vec<String> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}{}",
                p["Number"].as_str().unwrap(),
                p["Revision"].as_str().unwrap()
            )
        })
        .collect();
    revs.sort();
    assert_eq!(revs, ["TR-1001A", "TR-1001B", "TR-1002A"]);

    let b = s
        .windchill_parts()
        .into_iter()
        .find(|p| p["Number"] == "TR-1001" && p["Revision"] == "B")
        .unwrap();
    let t = b["LastModified"].as_str().unwrap().to_owned();
    let count = |v: Value| v["value"].as_array().unwrap().len();
    let exact = format!("LastModified gt {t} and Number eq 'TR-1001'");
    let with_time = get(&[
        ("$filter", exact.as_str()),
        ("ptc.search.allowFilterOnTime", "true"),
    ])
    .await
    .unwrap();
    assert_eq!(count(with_time.json().await.unwrap()), 0);
    let ge = format!("LastModified ge {t} and Number eq 'TR-1001'");
    let with_time = get(&[
        ("$filter", ge.as_str()),
        ("ptc.search.allowFilterOnTime", "true"),
    ])
    .await
    .unwrap();
    assert_eq!(count(with_time.json().await.unwrap()), 1);
    // Without the flag only the date part counts: 'gt' the same day matches nothing, 'ge' an
    // hour later on the same day still matches.
    let later = (chrono::DateTime::parse_from_rfc3339(&t).unwrap() + chrono::TimeDelta::minutes(1))
        .to_utc();
    let same_day = format!(
        "LastModified ge {} and Number eq 'TR-1001'",
        later.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let date_only = get(&[("$filter", same_day.as_str())]).await.unwrap();
    assert_eq!(count(date_only.json().await.unwrap()), 1);

    let v: Value = get(&[
        ("$filter", "Number eq 'DL-2040'"),
        ("$select", "Number,Revision"),
    ])
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(v["value"][0], json!({"Number": "DL-2040", "Revision": "C"}));

    // startswith is in PTC's supported subset (its examples: `startswith(Number, '00')`).
    let v: Value = get(&[("$filter", "startswith(Number, 'DL')")])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let numbers: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["Number"].as_str())
        .collect();
    assert!(!numbers.is_empty());
    assert!(numbers.iter().all(|n| n.starts_with("DL")), "{numbers:?}");

    for (q, needle) in [
        (("$filter", "startswith(ID,'OR:')"), "ID property"),
        (("$filter", "Number ne null"), "null"),
        (("$filter", "Colour eq 'red'"), "Colour"),
        (("$select", "Number,Colour"), "Colour"),
        (("$orderby", "Name asc"), "Name"),
        (("$expand", "DescribedBy"), "$expand"),
    ] {
        let r = get(&[q]).await.unwrap();
        assert_eq!(r.status(), 400, "{q:?}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{v}"
        );
    }
    s.shutdown().await;
}

/// Writes need the session's nonce: 400 INVALID_NONCE without it, 201 with it; then update,
/// describe link (duplicate → 400), find by link id, changed-since listing.
#[tokio::test]
async fn csrf_documents_and_links() {
    let s = sim(0, 0).await;
    let c = client();
    let docs = format!("{}/DocMgmt/Documents", s.windchill.url);
    // The link IBAs live on the soft type: created with its `@odata.type`, queried through its
    // type cast (wccg_restapis_wcsubtypes_in_OData.html).
    let typed = format!("{docs}/PTC.DocMgmt.PromptToPartLink");
    let body = json!({
        "@odata.type": "#PTC.DocMgmt.PromptToPartLink",
        "Name": "chase-sequence-v3", "Description": "clip",
        "Context@odata.bind": "Containers('OR:wt.pdmlink.PDMLinkProduct:1')",
        "PartreelLinkId": "ptp-abc", "PartreelStatus": "active", "Prompt": "12-second chase",
    });
    let r = wc_write(&c, &s, Method::POST, &docs)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "INVALID_NONCE");

    let n = nonce(&c, &s).await;
    let r = wc_write(&c, &s, Method::POST, &docs)
        .header("CSRF_NONCE", &n)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let doc: Value = r.json().await.unwrap();
    let doc_id = doc["ID"].as_str().unwrap().to_owned();
    assert!(doc_id.starts_with("OR:wt.doc.WTDocument:"));
    assert_eq!(doc["PartreelLinkId"], "ptp-abc");

    let bad = json!({"Name": "x", "NoSuchProperty": "y"});
    let r = wc_write(&c, &s, Method::POST, &docs)
        .header("CSRF_NONCE", &n)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let one = format!("{docs}('{doc_id}')");
    // PATCH answers 204 by default (WCCG_RESTAPIsODataPreferHeader.html) …
    let r = wc_write(&c, &s, Method::PATCH, &one)
        .header("CSRF_NONCE", &n)
        .json(&json!({"PartreelStatus": "retired"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    // … and 200 with the entity when the client prefers return=representation.
    let r = wc_write(&c, &s, Method::PATCH, &one)
        .header("CSRF_NONCE", &n)
        .header("Prefer", "return=representation")
        .json(&json!({"Description": "described"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("preference-applied")
            .and_then(|v| v.to_str().ok()),
        Some("return=representation")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["PartreelStatus"], "retired");
    s.windchill_ignore_return_preference(true);
    let r = wc_write(&c, &s, Method::PATCH, &one)
        .header("CSRF_NONCE", &n)
        .header("Prefer", "return=representation")
        .json(&json!({"Description": "again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        204,
        "the variant that does not apply the preference"
    );
    s.windchill_ignore_return_preference(false);
    let v: Value = wc_get(&c, &s, &one)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["PartreelStatus"], "retired");

    let part = s
        .windchill_parts()
        .into_iter()
        .find(|p| p["Number"] == "TR-1001" && p["Revision"] == "B")
        .unwrap();
    let link_url = format!(
        "{}/ProdMgmt/Parts('{}')/DescribedBy",
        s.windchill.url,
        part["ID"].as_str().unwrap()
    );
    let bind = json!({"DescribedBy@odata.bind": format!("Documents('{doc_id}')")});
    let r = wc_write(&c, &s, Method::POST, &link_url)
        .header("CSRF_NONCE", &n)
        .json(&bind)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["DescribedBy"]["ID"], doc_id.as_str());
    let r = wc_write(&c, &s, Method::POST, &link_url)
        .header("CSRF_NONCE", &n)
        .json(&bind)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "DUPLICATE_LINK");
    // The navigation yields describe-link entities: the request the old client sent
    // (`$select=ID`) gets the link's own ID, never the document's…
    let v: Value = wc_get(&c, &s, &link_url)
        .query(&[("$select", "ID")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link_id = v["value"][0]["ID"].as_str().unwrap_or_default().to_string();
    assert!(link_id.starts_with("OR:wt.part.WTPartDescribeLink:"), "{v}");
    assert_ne!(link_id, doc_id.as_str());
    // … and `$expand=DescribedBy` brings the document itself under each link.
    let v: Value = wc_get(&c, &s, &link_url)
        .query(&[("$expand", "DescribedBy")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["value"][0]["ID"], link_id.as_str());
    assert_eq!(v["value"][0]["DescribedBy"]["ID"], doc_id.as_str());
    assert_eq!(v["value"][0]["DescribedBy"]["PartreelLinkId"], "ptp-abc");
    let r = wc_get(&c, &s, &link_url)
        .query(&[("$expand", "Documents")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "an unknown navigation is refused");
    assert_eq!(s.windchill_describe_links().len(), 1);

    let v: Value = wc_get(&c, &s, &typed)
        .query(&[(
            "$filter",
            "PartreelLinkId eq 'ptp-abc' or PartreelLinkId eq 'ptp-none'",
        )])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let since = format!(
        "LastModified ge {} and PartreelLinkId gt ''",
        doc["LastModified"].as_str().unwrap()
    );
    let v: Value = wc_get(&c, &s, &typed)
        .query(&[
            ("$filter", since.as_str()),
            ("ptc.search.allowFilterOnTime", "true"),
            ("$orderby", "LastModified asc"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["value"].as_array().unwrap().len(), 1);

    // The `null` literal is not in PTC's supported $filter subset: refused with 400, naming it
    // (partreel's links feed sent `PartreelLinkId ne null` before; it sends `gt ''` now).
    let r = wc_get(&c, &s, &typed)
        .query(&[("$filter", "PartreelLinkId ne null")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("null"), "{body}");

    // Expired sessions lose their nonce: the old one is refused, a fresh one works.
    s.windchill.faults.expire_sessions();
    let r = wc_write(&c, &s, Method::PATCH, &one)
        .header("CSRF_NONCE", &n)
        .json(&json!({"Prompt": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let n2 = nonce(&c, &s).await;
    let r = wc_write(&c, &s, Method::PATCH, &one)
        .header("CSRF_NONCE", &n2)
        .json(&json!({"Prompt": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    s.shutdown().await;
}

/// `windchill_copy_document_as`: a copy of an attached document under another link id is a
/// second describe link on the same part, its own ID and link OID, `CreatedOn` a minute before
/// the original's when `older` (else now), `LastModified` now; the original is untouched.
#[tokio::test]
async fn a_document_copied_under_another_link_id_describes_the_same_part() {
    let s = sim(0, 0).await;
    let c = client();
    let n = nonce(&c, &s).await;
    let r = wc_write(
        &c,
        &s,
        Method::POST,
        &format!("{}/DocMgmt/Documents", s.windchill.url),
    )
    .header("CSRF_NONCE", &n)
    .json(
        &json!({"@odata.type": "#PTC.DocMgmt.PromptToPartLink", "Name": "clip",
        "PartreelLinkId": "ptp-abc", "Prompt": "a red car"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let doc: Value = r.json().await.unwrap();
    let doc_id = doc["ID"].as_str().unwrap().to_owned();
    let part_id = s
        .windchill_parts()
        .into_iter()
        .find(|p| p["Number"] == "TR-1001" && p["Revision"] == "B")
        .unwrap()["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    let link_url = format!(
        "{}/ProdMgmt/Parts('{part_id}')/DescribedBy",
        s.windchill.url
    );
    let r = wc_write(&c, &s, Method::POST, &link_url)
        .header("CSRF_NONCE", &n)
        .json(&json!({"DescribedBy@odata.bind": format!("Documents('{doc_id}')")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    s.clock.advance(std::time::Duration::from_secs(3600));
    let older = s
        .windchill_copy_document_as(&doc_id, "ptp-hand", true)
        .expect("copied");
    let newer = s
        .windchill_copy_document_as(&doc_id, "ptp-late", false)
        .expect("copied");
    assert!(
        s.windchill_copy_document_as("OR:wt.doc.WTDocument:1", "x", true)
            .is_none()
    );

    let v: Value = wc_get(&c, &s, &link_url)
        .query(&[("$expand", "DescribedBy")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let links = v["value"].as_array().unwrap();
    let mut got: Vec<(&str, &str)> = links
        .iter()
        .map(|l| {
            (
                l["DescribedBy"]["ID"].as_str().unwrap(),
                l["DescribedBy"]["PartreelLinkId"].as_str().unwrap(),
            )
        })
        .collect();
    got.sort_unstable();
    let mut want = vec![
        (doc_id.as_str(), "ptp-abc"),
        (older.as_str(), "ptp-hand"),
        (newer.as_str(), "ptp-late"),
    ];
    want.sort_unstable();
    assert_eq!(got, want);
    let link_oids: HashSet<&str> = links.iter().map(|l| l["ID"].as_str().unwrap()).collect();
    assert_eq!(link_oids.len(), 3, "one describe link per document: {v}");
    assert!(
        link_oids
            .iter()
            .all(|l| l.starts_with("OR:wt.part.WTPartDescribeLink:"))
    );

    let by_id = |id: &str| {
        links
            .iter()
            .map(|l| &l["DescribedBy"])
            .find(|d| d["ID"] == id)
            .unwrap()
            .clone()
    };
    let time = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .to_utc()
    };
    let original = by_id(&doc_id);
    assert_eq!(
        original["LastModified"], doc["LastModified"],
        "original untouched"
    );
    let (o, l) = (by_id(&older), by_id(&newer));
    assert_eq!(
        time(&o["CreatedOn"]),
        time(&original["CreatedOn"]) - chrono::TimeDelta::seconds(60)
    );
    let now = s.clock.now();
    for copy in [&o, &l] {
        assert!(
            (time(&copy["LastModified"]) - now).num_seconds().abs() <= 1,
            "{copy}"
        );
        assert_eq!(copy["Prompt"], "a red car");
    }
    assert!(
        (time(&l["CreatedOn"]) - now).num_seconds().abs() <= 1,
        "{l}"
    );
    s.shutdown().await;
}

/// `$metadata` is EDMX with Part and Document; `Date` follows the sim clock.
#[tokio::test]
async fn metadata_and_date_header() {
    let s = sim(0, 0).await;
    let c = client();
    let r = wc_get(&c, &s, &format!("{}/ProdMgmt/$metadata", s.windchill.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<EntityType Name=\"Part\">") && xml.contains("Name=\"Sku\""));
    // A part's DescribedBy yields describe links; each link's DescribedBy is the document.
    assert!(xml.contains(
        "<NavigationProperty Name=\"DescribedBy\" Type=\"Collection(PTC.ProdMgmt.PartDescribeLink)\"/>"
    ));
    assert!(
        xml.contains("<EntityType Name=\"PartDescribeLink\">")
            && xml.contains(
                "<NavigationProperty Name=\"DescribedBy\" Type=\"PTC.DocMgmt.Document\"/>"
            )
    );
    let xml = wc_get(&c, &s, &format!("{}/DocMgmt/$metadata", s.windchill.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        xml.contains("<EntityType Name=\"Document\">")
            && xml.contains(
                "<EntityType Name=\"PromptToPartLink\" BaseType=\"PTC.DocMgmt.Document\">"
            )
            && xml.contains("Name=\"PartreelLinkId\"")
    );

    s.clock
        .advance(std::time::Duration::from_secs(400 * 86_400));
    let r = wc_get(&c, &s, &format!("{}/ProdMgmt/Parts", s.windchill.url))
        .send()
        .await
        .unwrap();
    let date = r.headers()["date"].to_str().unwrap().to_owned();
    let parsed = chrono::DateTime::parse_from_rfc2822(&date.replace("GMT", "+0000")).unwrap();
    assert!(
        (parsed.to_utc() - s.clock.now()).num_seconds().abs() <= 2,
        "{date}"
    );
    s.shutdown().await;
}
