//! The checks' verdicts on hand-made pages, schemas and clocks.

use chrono::{DateTime, TimeZone, Utc};

use super::feed::{Feed, probe};
use super::types::{Fit, compatible};
use super::*;
use crate::connector::{ChangeQuery, Page, PropertyInfo, RemoteSchema};

/// A record of a feed: (id, modified second).
type Rec = (String, DateTime<Utc>);

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).single().unwrap()
}

fn page(recs: &[(&str, i64)]) -> Page<Rec> {
    Page {
        items: recs.iter().map(|(k, s)| (k.to_string(), t(*s))).collect(),
        ..Page::empty()
    }
}

impl crate::engine::pull::FeedRecord for Rec {
    fn feed_key(&self) -> &str {
        &self.0
    }
    fn feed_modified(&self) -> DateTime<Utc> {
        self.1
    }
}

fn feed() -> Feed<'static> {
    Feed {
        system: "wc",
        kind: "windchill",
        name: "parts",
        page_size: 20,
    }
}

/// A server that filters `all` as asked: at or after (`inclusive`) or strictly after.
fn server(
    all: Page<Rec>,
    inclusive: bool,
) -> impl FnOnce(ChangeQuery) -> std::future::Ready<crate::error::Result<Page<Rec>>> {
    move |q| {
        let since = q.since.unwrap();
        std::future::ready(Ok(Page {
            items: all
                .items
                .into_iter()
                .filter(|r| if inclusive { r.1 >= since } else { r.1 > since })
                .collect(),
            ..Page::empty()
        }))
    }
}

fn by_check<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.check == id)
        .unwrap_or_else(|| panic!("no {id} check in {checks:#?}"))
}

#[tokio::test]
async fn a_sorted_feed_with_an_inclusive_filter_passes_both_checks() {
    let first = page(&[("a", 1), ("b", 2), ("c", 3), ("d", 4)]);
    let checks = probe(&feed(), &first, server(first.clone(), true)).await;
    assert_eq!(by_check(&checks, "feed-order:parts").status, Status::Pass);
    let filter = by_check(&checks, "feed-filter:parts");
    assert_eq!(filter.status, Status::Pass, "{filter:?}");
    assert!(filter.detail.contains("record c"), "{filter:?}");
}

#[tokio::test]
async fn an_unsorted_page_fails_the_order_check_naming_both_records() {
    let first = page(&[("a", 1), ("c", 3), ("b", 2)]);
    let checks = probe(&feed(), &first, server(first.clone(), true)).await;
    let order = by_check(&checks, "feed-order:parts");
    assert_eq!(order.status, Status::Fail);
    assert!(order.detail.contains("record b") && order.detail.contains("record c"));
    assert!(
        order
            .fix
            .as_deref()
            .unwrap()
            .contains("docs/wire/windchill.md")
    );
}

#[tokio::test]
async fn an_ignored_filter_and_an_exclusive_filter_each_fail_the_filter_check() {
    let first = page(&[("a", 1), ("b", 2), ("c", 3), ("d", 4)]);
    let ignored = {
        let all = first.clone();
        move |_q: ChangeQuery| std::future::ready(Ok(all))
    };
    let checks = probe(&feed(), &first, ignored).await;
    let f = by_check(&checks, "feed-filter:parts");
    assert_eq!(f.status, Status::Fail);
    assert!(f.detail.contains("ignored"), "{f:?}");

    let checks = probe(&feed(), &first, server(first.clone(), false)).await;
    let f = by_check(&checks, "feed-filter:parts");
    assert_eq!(f.status, Status::Fail);
    assert!(f.detail.contains("left out record c"), "{f:?}");
}

#[tokio::test]
async fn one_modification_time_is_too_few_to_tell_and_warns() {
    let first = page(&[("a", 1), ("b", 1)]);
    let checks = probe(&feed(), &first, server(first.clone(), true)).await;
    assert_eq!(by_check(&checks, "feed-order:parts").status, Status::Warn);
    assert_eq!(by_check(&checks, "feed-filter:parts").status, Status::Warn);
}

#[test]
fn clock_skew_passes_warns_and_fails_at_the_bounds() {
    let opts = Options::default();
    let now = Utc::now();
    assert_eq!(clock("s", Some(now), &opts).status, Status::Pass);
    let warn = clock("s", Some(now + chrono::Duration::seconds(90)), &opts);
    assert_eq!(warn.status, Status::Warn);
    assert!(warn.detail.contains("ahead"), "{warn:?}");
    let fail = clock("s", Some(now - chrono::Duration::minutes(10)), &opts);
    assert_eq!(fail.status, Status::Fail);
    assert!(fail.fix.as_deref().unwrap().contains("NTP"));
    assert_eq!(clock("s", None, &opts).status, Status::Warn);
}

#[test]
fn value_types_fit_as_partreel_writes_them() {
    assert_eq!(compatible("prompt", "Edm.String"), Fit::Yes);
    assert_eq!(compatible("watermark_preserved", "Edm.Boolean"), Fit::Yes);
    assert_eq!(compatible("watermark_preserved", "logical"), Fit::Yes);
    assert_eq!(compatible("rights_expiry", "date"), Fit::Yes);
    assert_eq!(compatible("x_anything", "Edm.Int32"), Fit::Yes);
    assert!(matches!(compatible("prompt", "Edm.Int32"), Fit::No(_)));
    assert!(matches!(compatible("campaign", "Edm.Boolean"), Fit::No(_)));
    assert!(matches!(
        compatible("rights_expiry", "Edm.Boolean"),
        Fit::No(_)
    ));
    assert!(matches!(compatible("sku", "typed_reference"), Fit::No(_)));
    assert!(matches!(compatible("sku", "string[]"), Fit::Doubtful(_)));
}

fn mapping(text: &str) -> Mapping {
    Mapping::parse(text, std::path::Path::new("plm.toml")).unwrap()
}

#[test]
fn the_mapping_check_names_the_file_line_and_the_fix() {
    let m = mapping(
        "system = \"windchill\"\nside = \"plm\"\n\n[[field]]\ncanonical = \"prompt\"\nentity = \
         \"link\"\nremote = \"Prompt\"\n\n[[field]]\ncanonical = \"campaign\"\nentity = \
         \"link\"\nremote = \"Campaign\"\n",
    );
    let mut schema = RemoteSchema::default();
    let prop = |name: &str, kind: &str| PropertyInfo {
        name: name.into(),
        kind: kind.into(),
        writable: true,
    };
    schema.entities.insert(
        "link".into(),
        vec![prop("Prompt", "Edm.String"), prop("Campaign", "Edm.String")],
    );
    assert_eq!(
        mapping_check("wc", &m, Ok(schema.clone())).status,
        Status::Pass
    );

    schema
        .entities
        .insert("link".into(), vec![prop("Prompt", "Edm.String")]);
    let missing = mapping_check("wc", &m, Ok(schema.clone()));
    assert_eq!(missing.status, Status::Fail);
    assert!(missing.detail.contains("Campaign"), "{missing:?}");
    assert!(missing.detail.contains("plm.toml:"), "{missing:?}");
    assert!(
        missing
            .fix
            .as_deref()
            .unwrap()
            .contains("mappings discover wc"),
        "{missing:?}"
    );

    schema.entities.insert(
        "link".into(),
        vec![prop("Prompt", "Edm.String"), prop("Campaign", "Edm.Int64")],
    );
    let typed = mapping_check("wc", &m, Ok(schema));
    assert_eq!(typed.status, Status::Fail);
    assert!(typed.detail.contains("numbers"), "{typed:?}");
}

#[test]
fn rate_limit_check_reports_headers_and_throttling() {
    let mut r = RateLimitReport {
        requests: 10,
        per_secs: 1,
        ..Default::default()
    };
    let plain = rate_limit("s", &r, 2024);
    assert!(plain.detail.contains("no rate-limit headers"), "{plain:?}");
    // 2,024 requests at 98% of 10/s.
    assert!(
        plain
            .detail
            .contains("a first sync of 1000 new clips needs about 2024 requests here, 3 min 27 s"),
        "{plain:?}"
    );
    r.server_headers = vec![("x-ratelimit-limit".into(), "4500".into())];
    let seen = rate_limit("s", &r, 2024);
    assert_eq!(seen.status, Status::Pass);
    assert!(seen.detail.contains("x-ratelimit-limit: 4500"), "{seen:?}");
    r.throttled = 2;
    assert_eq!(rate_limit("s", &r, 2024).status, Status::Warn);
}
