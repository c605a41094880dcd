//! The QueryBuilder JSON servlet of the AEM emulator, for the predicates partreel's feed uses:
//! `path` (and `path.self`), a `group.p.or=true` of `group.N_path` (and `.self`), `type=dam:Asset`, `daterange` on `jcr:content/jcr:lastModified`, `orderby` on the same
//! property ascending, `p.offset`, `p.limit`, `p.guessTotal`, `p.hits` (`full`, `selective` with
//! `p.properties`, `simple`) — docs/wire/aem.md "Changed since" (Experience League "Query
//! Builder API", "Query Builder Predicate Reference"). Anything else is refused with a 400
//! naming the parameter, so a client drifting from the contract fails loudly.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::json as render;
use super::routes::{AemState, authorize, error};
use super::store::Query;
use crate::framework::clock::lock;

/// The only date property the emulator indexes.
const LAST_MODIFIED: &str = "jcr:content/jcr:lastModified";
/// Default `p.limit` ("By default, the query builder JSON servlet displays a maximum of ten hits").
const DEFAULT_LIMIT: usize = 10;

type Params =
    Result<axum::extract::Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// How hits are rendered.
enum Hits {
    Simple,
    Full,
    Selective(Vec<String>),
}

/// A `daterange.lowerBound`: ISO 8601 (with or without offset and milliseconds), a date, or
/// milliseconds since 1970 (DateRangePredicateEvaluator javadoc).
fn parse_bound(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.to_utc());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    s.parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
}

fn parse(params: &[(String, String)]) -> Result<(Query, Hits, bool), String> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut any_of: std::collections::BTreeMap<u32, (Option<String>, bool)> =
        std::collections::BTreeMap::new();
    for (k, v) in params {
        // A group of paths joined by OR (PredicateGroupEvaluator: `group.p.or=true`,
        // `group.N_<predicate>`; "Query Builder Predicate Reference", group): the only group
        // form the emulator takes — `group.N_path` and `group.N_path.self`.
        if let Some(rest) = k.strip_prefix("group.") {
            if rest == "p.or" {
                if v != "true" {
                    return Err(format!("group.p.or {v:?} is not supported (true)"));
                }
                continue;
            }
            let parsed = rest.split_once('_').and_then(|(n, pred)| {
                let n = n.parse::<u32>().ok()?;
                match pred {
                    "path" => Some((n, Some(v.clone()), None)),
                    "path.self" => Some((n, None, Some(v.as_str()))),
                    _ => None,
                }
            });
            let Some((n, path, include_self)) = parsed else {
                return Err(format!("unsupported predicate {k}"));
            };
            let entry = any_of.entry(n).or_insert((None, false));
            if let Some(p) = path {
                entry.0 = Some(p);
            }
            match include_self {
                None => {}
                Some("true") => entry.1 = true,
                Some("false") => entry.1 = false,
                Some(other) => return Err(format!("{k} {other:?}")),
            }
            continue;
        }
        let known = matches!(
            k.as_str(),
            "path"
                | "path.self"
                | "type"
                | "daterange.property"
                | "daterange.lowerBound"
                | "daterange.lowerOperation"
                | "orderby"
                | "orderby.sort"
                | "p.offset"
                | "p.limit"
                | "p.guessTotal"
                | "p.hits"
                | "p.properties"
                | "p.nodedepth"
                | "_charset_"
        );
        if !known {
            return Err(format!("unsupported predicate {k}"));
        }
    }
    let path = get("path")
        .unwrap_or("/content/dam")
        .trim_end_matches('/')
        .to_owned();
    // PathPredicateEvaluator: `path.self=true` searches the subtree including the node itself.
    let include_self = match get("path.self") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => return Err(format!("path.self {v:?}")),
    };
    if let Some(t) = get("type")
        && t != "dam:Asset"
    {
        return Err(format!("type {t} is not supported (dam:Asset)"));
    }
    let lower = match (get("daterange.property"), get("daterange.lowerBound")) {
        (None, None) => None,
        (Some(LAST_MODIFIED), Some(b)) => {
            let t = parse_bound(b)
                .ok_or_else(|| format!("daterange.lowerBound {b:?} is not a date"))?;
            let inclusive = match get("daterange.lowerOperation") {
                None | Some(">") => false,
                Some(">=") => true,
                Some(op) => return Err(format!("daterange.lowerOperation {op:?}")),
            };
            Some((t, inclusive))
        }
        (p, _) => {
            return Err(format!(
                "daterange.property {p:?} is not supported ({LAST_MODIFIED})"
            ));
        }
    };
    match (get("orderby"), get("orderby.sort")) {
        (None | Some("@jcr:content/jcr:lastModified"), None | Some("asc")) => {}
        (o, s) => {
            return Err(format!(
                "orderby {o:?} / orderby.sort {s:?} is not supported"
            ));
        }
    }
    let offset = match get("p.offset") {
        None => 0,
        Some(o) => o.parse().map_err(|_| format!("p.offset {o:?}"))?,
    };
    let limit = match get("p.limit") {
        None => Some(DEFAULT_LIMIT),
        Some("-1") => None,
        Some(l) => Some(
            l.parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("p.limit {l:?}"))?,
        ),
    };
    let hits = match get("p.hits") {
        None | Some("simple") => Hits::Simple,
        Some("full") => match get("p.nodedepth") {
            None | Some("2") | Some("0") => Hits::Full,
            Some(d) => return Err(format!("p.nodedepth {d} is not supported (2)")),
        },
        Some("selective") => Hits::Selective(
            get("p.properties")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        ),
        Some(h) => return Err(format!("p.hits {h:?}")),
    };
    let guess = get("p.guessTotal").is_some_and(|g| g == "true");
    if !any_of.is_empty() && get("group.p.or") != Some("true") {
        return Err("group.N_path without group.p.or=true is not supported".into());
    }
    let any_of = any_of
        .into_iter()
        .map(|(n, (path, include_self))| {
            path.map(|p| (p.trim_end_matches('/').to_owned(), include_self))
                .ok_or_else(|| format!("group.{n}_path.self without group.{n}_path"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        Query {
            path,
            include_self,
            lower,
            offset,
            limit,
            any_of,
        },
        hits,
        guess,
    ))
}

/// `GET /bin/querybuilder.json?…` → `{"success":true,"results","total","more","offset","hits"}`.
pub(crate) async fn handler(
    State(st): State<AemState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return *r;
    }
    let params = params.map(|q| q.0).unwrap_or_default();
    let (q, hits_kind, guess) = match parse(&params) {
        Ok(x) => x,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let store = lock(&st.store);
    let (page, more) = store.query(&q);
    let hits: Vec<Value> = page
        .iter()
        .map(|a| match &hits_kind {
            Hits::Simple => render::simple_hit(a),
            Hits::Full => render::full_hit(a),
            Hits::Selective(props) => {
                let full = render::full_hit(a);
                let picked: Map<String, Value> = props
                    .iter()
                    .filter_map(|p| full.get(p).map(|v| (p.clone(), v.clone())))
                    .collect();
                Value::Object(picked)
            }
        })
        .collect();
    let total = if guess {
        q.offset + hits.len() + usize::from(more)
    } else {
        let all = Query {
            offset: 0,
            limit: None,
            ..q.clone()
        };
        store.query(&all).0.len()
    };
    axum::Json(json!({
        "success": true,
        "results": hits.len(),
        "total": total,
        "more": more,
        "offset": q.offset,
        "hits": hits,
    }))
    .into_response()
}
