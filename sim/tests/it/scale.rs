//! Scale: 100,000 part revisions and 100,000 clips seed in seconds and pages stay cheap.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{client, sim, wc_get};

/// Seeds 100k + 100k, then fetches deep pages of both emulators; each page must stay fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale check, ~6 s in debug: cargo test -p partreel-sim --test it -- --ignored"]
async fn hundred_thousand_each() {
    let started = Instant::now();
    let s = sim(100_000, 100_000).await;
    let seeded = started.elapsed();
    eprintln!("seeded 100k parts + 100k clips in {seeded:?}");
    let c = client();
    let mut url = format!(
        "{}/ProdMgmt/Parts?$filter=LastModified%20ge%202000-01-01T00:00:00Z&ptc.search.allowFilterOnTime=true&$orderby=LastModified%20asc",
        s.windchill.url
    );
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let v: Value = wc_get(&c, &s, &url)
            .header("Prefer", "odata.maxpagesize=2000")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        worst = worst.max(t.elapsed());
        url = v["@odata.nextLink"].as_str().unwrap().to_owned();
    }
    eprintln!("worst windchill page of 2000: {worst:?}");
    let token = s.credentials().bynder_permanent_token;
    let mut worst_b = Duration::ZERO;
    for page in [1, 50, 99] {
        let t = Instant::now();
        let r = c
            .get(format!("{}/api/v4/media/", s.bynder.url))
            .bearer_auth(&token)
            .query(&[
                ("orderBy", "dateModified asc"),
                ("limit", "1000"),
                ("page", &page.to_string()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1000);
        worst_b = worst_b.max(t.elapsed());
    }
    eprintln!("worst bynder page of 1000: {worst_b:?}");
    let t = Instant::now();
    let v: Value = wc_get(&c, &s, &format!("{}/ProdMgmt/Parts", s.windchill.url))
        .query(&[("$filter", "Number eq 'TR-1001' or Number eq 'DL-2150'")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["value"].as_array().unwrap().len() >= 3);
    eprintln!("number lookup: {:?}", t.elapsed());
    s.shutdown().await;
}
