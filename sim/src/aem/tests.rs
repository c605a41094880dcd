//! Tests of the AEM emulator on the wire (reqwest): the IMS token endpoint, bearer checks and
//! revocation, the QueryBuilder feed with `>=`/`>` bounds and ties, Siren reads and folder
//! paging, metadata PUTs, originals, and refusal of predicates outside the contract.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{AemSim, AemSimConfig, STORY_FOLDER, start};
use crate::SimClock;

async fn sim(clips: usize) -> AemSim {
    let parts = vec![(
        "TR-1001".to_owned(),
        "B".to_owned(),
        "ACM-TR-1001-RD".to_owned(),
    )];
    let cfg = AemSimConfig {
        parts,
        clips,
        ..AemSimConfig::default()
    };
    start(cfg, SimClock::new()).await.expect("starts")
}

async fn token(s: &AemSim) -> String {
    let c = &s.credentials;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
        ("scope", "AdobeID,openid"),
    ];
    let resp = reqwest::Client::new()
        .post(&s.token_url)
        .form(&form)
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86_399);
    body["access_token"].as_str().expect("token").to_owned()
}

async fn get(s: &AemSim, tok: &str, path_and_query: &str) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path_and_query}", s.emulator.url))
        .bearer_auth(tok)
        .send()
        .await
        .expect("get");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn feed(since: &str, op: &str, offset: usize, limit: usize) -> String {
    format!(
        "/bin/querybuilder.json?path=/content/dam/acme/video-experiments&type=dam:Asset\
         &daterange.property=jcr:content/jcr:lastModified&daterange.lowerBound={since}\
         &daterange.lowerOperation={}&orderby=@jcr:content/jcr:lastModified&orderby.sort=asc\
         &p.offset={offset}&p.limit={limit}&p.hits=full&p.nodedepth=2",
        urlencoding::encode(op)
    )
}

#[tokio::test]
async fn tokens_are_checked_and_revoked() {
    let s = sim(0).await;
    let bad = reqwest::Client::new()
        .post(&s.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", "y"),
            ("scope", "a"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let tok = token(&s).await;
    let (status, body) = get(&s, "nope", "/api/assets/acme/video-experiments.json").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["class"], "core/response");
    assert_eq!(
        get(&s, &tok, "/api/assets/acme/video-experiments.json")
            .await
            .0,
        StatusCode::OK
    );
    s.emulator.faults.expire_sessions();
    assert_eq!(
        get(&s, &tok, "/api/assets/acme/video-experiments.json")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let dev = s.credentials.dev_token.clone();
    assert_eq!(
        get(&s, &dev, "/api/assets/acme/video-experiments.json")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(s.tokens_issued(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn the_feed_is_oldest_first_with_inclusive_or_exclusive_bounds() {
    let s = sim(9).await;
    let tok = token(&s).await;
    let (status, all) = get(&s, &tok, &feed("1970-01-01T00:00:00.000Z", ">=", 0, 100)).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["success"], true);
    assert_eq!(all["hits"].as_array().map(Vec::len), Some(13));
    assert_eq!(all["more"], false);
    let hits = all["hits"].as_array().cloned().unwrap_or_default();
    let first = &hits[0];
    assert!(
        first["jcr:content"]["metadata"]["acme:sku"].is_string(),
        "{first}"
    );
    // Generated clips share times in threes: the bound of a tie includes or excludes all of it.
    let last = hits.last().cloned().unwrap_or_default();
    let lm = last["jcr:content"]["jcr:lastModified"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let t = chrono::DateTime::parse_from_str(&lm, "%a %b %d %Y %H:%M:%S GMT%z").expect("ecma date");
    let bound = t.to_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let (_, ge) = get(&s, &tok, &feed(&bound, ">=", 0, 100)).await;
    let (_, gt) = get(&s, &tok, &feed(&bound, ">", 0, 100)).await;
    let n = |v: &Value| v["hits"].as_array().map_or(0, Vec::len);
    assert!(n(&ge) >= 1 && n(&gt) == 0, "{ge} {gt}");
    let (_, page) = get(&s, &tok, &feed("1970-01-01", ">=", 10, 2)).await;
    assert_eq!(
        (n(&page), page["more"].clone(), page["offset"].clone()),
        (2, json!(true), json!(10))
    );
    let (status, err) = get(
        &s,
        &tok,
        "/bin/querybuilder.json?path=/content/dam&fulltext=x",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["properties"]["status.message"]
            .as_str()
            .unwrap_or_default()
            .contains("fulltext")
    );
    s.shutdown().await;
}

/// A `group.p.or=true` of `group.N_path` + `.self` reads exactly the assets named (a path
/// that is no asset is left out), in the feed's order, within `path`; a group without `p.or`,
/// or with another predicate, is refused naming it.
#[tokio::test]
async fn a_group_of_paths_reads_those_assets() {
    let s = sim(9).await;
    let tok = token(&s).await;
    let paths = s.asset_paths();
    let (a, b) = (&paths[2], &paths[7]);
    let group = |extra: &str| {
        format!(
            "/bin/querybuilder.json?path=/content/dam/acme/video-experiments&type=dam:Asset\
             &group.p.or=true&group.1_path={}&group.1_path.self=true\
             &group.2_path={}&group.2_path.self=true\
             &group.3_path=/content/dam/acme/video-experiments/no-such.mp4&group.3_path.self=true\
             {extra}&p.limit=10&p.hits=full&p.nodedepth=2",
            urlencoding::encode(a),
            urlencoding::encode(b)
        )
    };
    let (status, v) = get(&s, &tok, &group("")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let mut got: Vec<String> = v["hits"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|h| h["jcr:path"].as_str().map(str::to_owned))
        .collect();
    got.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(got, want);
    let (status, err) = get(&s, &tok, &group("&group.4_property=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let bad = group("").replace("&group.p.or=true", "");
    let (status, _) = get(&s, &tok, &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    s.shutdown().await;
}

#[tokio::test]
async fn siren_reads_folder_paging_puts_and_originals() {
    let s = sim(0).await;
    let tok = token(&s).await;
    let (_, root) = get(&s, &tok, "/api/assets/acme/video-experiments.json").await;
    assert_eq!(root["properties"]["srn:paging"]["total"], 1, "{root}");
    let folder = format!("/api/assets/acme/video-experiments/{STORY_FOLDER}.json?offset=1&limit=2");
    let (_, page) = get(&s, &tok, &folder).await;
    assert_eq!(
        page["properties"]["srn:paging"],
        json!({"total": 4, "offset": 1, "limit": 2})
    );
    assert_eq!(page["entities"].as_array().map(Vec::len), Some(2));
    let rels: Vec<String> = page["links"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|l| l["rel"][0].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        rels.contains(&"next".to_owned()) && rels.contains(&"prev".to_owned()),
        "{rels:?}"
    );

    let asset = format!("/api/assets/acme/video-experiments/{STORY_FOLDER}/dl-2040-snow-globe.mp4");
    let (status, a) = get(&s, &tok, &format!("{asset}.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a["properties"]["metadata"]["acme:partRevision"], "C");
    let body = json!({"class": "asset", "properties": {"acme:partName": "Sunset Doll", "acme:campaign": ""}});
    // The Granite CSRF filter: an authenticated PUT without `CSRF-Token` is refused.
    let bare = reqwest::Client::new()
        .put(format!("{}{asset}", s.emulator.url))
        .bearer_auth(&tok)
        .json(&body)
        .send()
        .await
        .expect("put");
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    let (status, csrf) = get(&s, &tok, "/libs/granite/csrf/token.json").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf["token"].as_str().expect("token").to_owned();
    let forged = reqwest::Client::new()
        .put(format!("{}{asset}", s.emulator.url))
        .bearer_auth(&tok)
        .header("CSRF-Token", "made-up")
        .json(&body)
        .send()
        .await
        .expect("put");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let put = reqwest::Client::new()
        .put(format!("{}{asset}", s.emulator.url))
        .bearer_auth(&tok)
        .header("CSRF-Token", &csrf)
        .json(&body)
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::OK);
    let (_, a) = get(&s, &tok, &format!("{asset}.json")).await;
    assert_eq!(a["properties"]["metadata"]["acme:partName"], "Sunset Doll");
    assert!(
        a["properties"]["metadata"].get("acme:campaign").is_none(),
        "\"\" clears"
    );

    let content = a["links"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|l| l["rel"][0] == "content")
        .and_then(|l| l["href"].as_str().map(str::to_owned))
        .expect("content link");
    let anon = reqwest::get(&content).await.expect("get");
    assert_eq!(
        anon.status(),
        StatusCode::UNAUTHORIZED,
        "originals need the token on author"
    );
    let file = reqwest::Client::new()
        .get(&content)
        .bearer_auth(&tok)
        .send()
        .await
        .expect("get");
    assert_eq!(file.status(), StatusCode::OK);
    assert!(file.bytes().await.expect("bytes").len() > 1000);
    s.shutdown().await;
}
