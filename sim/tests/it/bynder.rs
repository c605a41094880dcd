//! The Bynder emulator over HTTP: OAuth, listing and paging, reads, writes, metaproperties.

use std::collections::HashSet;

use partreel_sim::System;
use serde_json::Value;

use crate::util::{bynder_token, client, sim};

/// Wrong client → 401 invalid_client; a token works as Bearer until sessions expire or the
/// clock passes `expires_in`; the permanent token keeps working.
#[tokio::test]
async fn oauth_then_bearer() {
    let s = sim(0, 0).await;
    let c = client();
    let media = format!("{}/api/v4/media/", s.bynder.url);
    let r = c
        .post(format!("{}/v6/authentication/oauth2/token", s.bynder.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", "y"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");

    let r = c.get(&media).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::json!({"message": "Unauthorized", "statuscode": 401})
    );

    let token = bynder_token(&c, &s).await;
    let r = c.get(&media).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The story's clips: six about Windchill parts, two about Teamcenter's, two about
    // 3DEXPERIENCE's.
    assert_eq!(
        r.json::<Value>().await.unwrap().as_array().unwrap().len(),
        10
    );

    s.bynder.faults.expire_sessions();
    assert_eq!(
        c.get(&media)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let permanent = s.credentials().bynder_permanent_token;
    assert_eq!(
        c.get(&media)
            .bearer_auth(&permanent)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let token = bynder_token(&c, &s).await;
    s.clock.advance(std::time::Duration::from_secs(3601));
    assert_eq!(
        c.get(&media)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    s.shutdown().await;
}

/// `page`/`limit` with `orderBy=dateModified asc` return every asset once, across tie groups.
#[tokio::test]
async fn paging_walks_every_asset_once() {
    let s = sim(100, 400).await;
    let ids = s.bynder_asset_ids();
    s.set_same_modified(
        System::Bynder,
        &ids[50..130],
        s.clock.now() - chrono::TimeDelta::days(2),
    );
    let c = client();
    let token = s.credentials().bynder_permanent_token;
    let mut seen = Vec::new();
    for page in 1.. {
        let v: Value = c
            .get(format!("{}/api/v4/media/", s.bynder.url))
            .bearer_auth(&token)
            .query(&[
                ("type", "video"),
                ("orderBy", "dateModified asc"),
                ("limit", "33"),
                ("page", &page.to_string()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = v.as_array().unwrap();
        seen.extend(items.iter().map(|m| {
            (
                m["dateModified"].as_str().unwrap().to_owned(),
                m["id"].as_str().unwrap().to_owned(),
            )
        }));
        if items.len() < 33 {
            break;
        }
    }
    assert_eq!(seen.len(), ids.len());
    assert_eq!(
        seen.iter().map(|x| &x.1).collect::<HashSet<_>>().len(),
        ids.len()
    );
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));

    // dateModified is inclusive; total=1 wraps the page with a count.
    let t = &seen[200].0;
    let v: Value = c
        .get(format!("{}/api/v4/media/", s.bynder.url))
        .bearer_auth(&token)
        .query(&[
            ("dateModified", t.as_str()),
            ("orderBy", "dateModified asc"),
            ("total", "1"),
            ("limit", "1000"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = seen.iter().filter(|x| &x.0 >= t).count();
    assert_eq!(v["total"]["count"], expected);
    assert_eq!(v["media"].as_array().unwrap().len(), expected);

    let r = c
        .get(format!("{}/api/v4/media/?limit=5000", s.bynder.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["statuscode"], 400);
    s.shutdown().await;
}

/// `ids=` lists the existing media among those named, each once (an unknown id is left out,
/// not refused); `limit` (default 50) and `total=1` still apply.
#[tokio::test]
async fn listing_by_ids_answers_the_existing_ones() {
    let s = sim(0, 80).await;
    let ids = s.bynder_asset_ids();
    let c = client();
    let token = s.credentials().bynder_permanent_token;
    let list = |query: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = format!("{}/api/v4/media/", s.bynder.url);
        let token = token.clone();
        async move {
            c.get(url)
                .bearer_auth(token)
                .query(&query)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let wanted = [
        ids[3].clone(),
        ids[70].clone(),
        "NO-SUCH-ID".into(),
        ids[3].clone(),
    ];
    let v = list(vec![("ids", wanted.join(","))]).await;
    let got: HashSet<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, HashSet::from([ids[3].clone(), ids[70].clone()]));
    assert_eq!(v.as_array().unwrap().len(), 2, "each once");

    let all: Vec<String> = ids[..60].to_vec();
    let v = list(vec![("ids", all.join(","))]).await;
    assert_eq!(v.as_array().unwrap().len(), 50, "the default limit applies");
    let v = list(vec![
        ("ids", all.join(",")),
        ("limit", "60".into()),
        ("total", "1".into()),
    ])
    .await;
    assert_eq!(v["total"]["count"], 60);
    assert_eq!(v["media"].as_array().unwrap().len(), 60);
    s.shutdown().await;
}

/// Metadata writes by metaproperty id (select by option id) → 202 and visible on re-read;
/// unknown metaproperty → 400; options can be created; archive and delete.
#[tokio::test]
async fn writes_metaproperties_archive_delete() {
    let s = sim(0, 0).await;
    let c = client();
    let token = s.credentials().bynder_permanent_token;
    let mps: Value = c
        .get(format!("{}/api/v4/metaproperties/", s.bynder.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mps["SKU"]["type"], "select");
    assert_eq!(mps["SKU"]["isMultiselect"], 1);
    assert_eq!(mps["RightsExpiry"]["type"], "date");
    let lifecycle = mps["LifecycleState"]["id"].as_str().unwrap().to_owned();
    let review = mps["ReviewStatus"]["id"].as_str().unwrap().to_owned();
    let approved = mps["ReviewStatus"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Rejected")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let id = s.bynder_asset_ids()[0].clone();
    let before = s.bynder_asset(&id).unwrap();
    s.clock.advance(std::time::Duration::from_secs(60));
    let one = format!("{}/api/v4/media/{id}/", s.bynder.url);
    let r = c
        .post(&one)
        .bearer_auth(&token)
        .form(&[
            (format!("metaproperty.{lifecycle}"), "In Work".to_owned()),
            (format!("metaproperty.{review}"), approved),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let after: Value = c
        .get(&one)
        .query(&[("versions", "1")])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["property_LifecycleState"], "In Work");
    assert_eq!(after["property_ReviewStatus"][0], "Rejected");
    assert!(after["dateModified"].as_str().unwrap() > before["dateModified"].as_str().unwrap());
    assert!(after["mediaItems"].is_array());

    let r = c
        .post(&one)
        .bearer_auth(&token)
        .form(&[("metaproperty.NOPE", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Clearing with an empty value.
    let r = c
        .post(&one)
        .bearer_auth(&token)
        .form(&[(format!("metaproperty.{lifecycle}"), "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        s.bynder_asset(&id)
            .unwrap()
            .get("property_LifecycleState")
            .is_none()
    );

    let sku = mps["SKU"]["id"].as_str().unwrap();
    let r = c
        .post(format!(
            "{}/api/v4/metaproperties/{sku}/options/",
            s.bynder.url
        ))
        .bearer_auth(&token)
        .form(&[("data", r#"{"name":"ACM-NEW-1","label":"ACM-NEW-1"}"#)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let dl: Value = c
        .get(format!("{one}download/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file = c.get(dl["s3_file"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(file.status(), 200);
    assert!(file.bytes().await.unwrap().len() > 1000);

    s.bynder_archive(&id);
    assert_eq!(s.bynder_asset(&id).unwrap()["archive"], 1);
    s.bynder_edit(&id, "Campaign", Some("Brand_New"));
    assert_eq!(
        s.bynder_asset(&id).unwrap()["property_Campaign"][0],
        "Brand_New"
    );
    s.bynder_delete(&id);
    assert_eq!(
        c.get(&one)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    s.shutdown().await;
}
