//! `Query-2019-06-SavedQuery/executeBOQueriesWithSort` in the Teamcenter emulator: clauses
//! evaluated left to right (`logicOperator` joins a clause to the ones before it), results in
//! `(last_mod_date, uid)` order; link id look-ups and `last_mod_date >=` ranges use the indices.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::ops::{Ctx, Sd, qname};
use super::schema;
use super::store::{LINK_ID_PROP, RECORD_TYPE, REVISION_TYPE, TcStore};
use crate::framework::paging::Key;

/// One clause of a business object query.
struct Clause {
    prop: String,
    value: String,
    op: String,
    or: bool,
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// `Query-2019-06-SavedQuery/executeBOQueriesWithSort` — docs/wire/teamcenter.md, Part
/// revisions (tcsoa `executeBOQueriesWithSort`, `search_basics.py`): UIDs of the type matching
/// the clauses, in `(last_mod_date, uid)` order, at most `maxNumToReturn` (0: all).
pub(crate) fn execute_bo_queries(ctx: &mut Ctx<'_>, body: &Value) -> Value {
    let mut sd = Sd::default();
    let mut results = Vec::new();
    let inputs = body
        .get("inputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, input) in inputs.iter().enumerate() {
        let client_id = input.get("clientId").and_then(Value::as_str);
        match run_query(ctx.store, input) {
            Ok(uids) => results.push(json!({"objectUIDS": uids, "objectsRelMap": []})),
            Err(msg) => {
                sd.error(client_id, Some(i), None, 141060, &msg);
                results.push(json!({"objectUIDS": [], "objectsRelMap": []}));
            }
        }
    }
    json!({".QName": qname("Query/2007-09/SavedQuery.SavedQueriesResponse"),
        "arrayOfResults": results, "ServiceData": sd.json()})
}

fn run_query(store: &TcStore, input: &Value) -> Result<Vec<String>, String> {
    let ty = input
        .get("boTypeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let decl = schema::declared(ty).ok_or_else(|| format!("The type {ty} does not exist."))?;
    let max = input
        .get("maxNumToReturn")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    // `sortOptions: [{"sortAttribute", "sortOrder": "AscendingOrder" | "DescendingOrder"}]`
    // (Teamcenter.Soa.Query._2019_06.SavedQuery.executeBOQueriesWithSort, as the TC 2512 API
    // browser lists it). Members of any other name are ignored, as SOA's JSON binding ignores
    // unknown members: a query without a usable sort option comes back in the database's own
    // order, unsorted (modelled as UID order).
    let mut sort: Option<bool> = None;
    for o in input
        .get("sortOptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let attr = o
            .get("sortAttribute")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if attr.is_empty() {
            continue;
        }
        if decl.prop(attr).is_none() {
            return Err(format!("The property {attr} is not defined for type {ty}."));
        }
        if attr != "last_mod_date" {
            return Err(format!(
                "The emulator sorts by last_mod_date only, not {attr}."
            ));
        }
        sort = match o.get("sortOrder").and_then(Value::as_str) {
            Some("AscendingOrder") | None => Some(false),
            Some("DescendingOrder") => Some(true),
            Some(other) => return Err(format!("Invalid sortOrder {other}.")),
        };
        break;
    }
    let desc = sort == Some(true);
    let mut clauses = Vec::new();
    for c in input
        .get("clauses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |k: &str| {
            c.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let clause = Clause {
            prop: s("propName"),
            value: s("propValue"),
            op: s("mathOperator"),
            or: s("logicOperator").eq_ignore_ascii_case("OR"),
        };
        if decl.prop(&clause.prop).is_none() {
            return Err(format!(
                "The property {} is not defined for type {ty}.",
                clause.prop
            ));
        }
        if !matches!(
            clause.op.as_str(),
            "=" | "!=" | ">" | ">=" | "<" | "<=" | "IS_NULL" | "IS_NOT_NULL"
        ) {
            return Err(format!("The operator {} is not supported.", clause.op));
        }
        clauses.push(clause);
    }
    let is_record = ty == RECORD_TYPE;
    let index = if is_record {
        store.record_keys()
    } else if ty == REVISION_TYPE {
        store.revision_keys()
    } else {
        return Ok(Vec::new());
    };
    let value = |uid: &str, prop: &str| -> Option<String> {
        if is_record {
            let r = store.records.get(uid)?;
            match prop {
                "last_mod_date" => Some(r.modified.to_rfc3339()),
                "creation_date" => Some(r.created.to_rfc3339()),
                _ => r.props.get(prop).cloned(),
            }
        } else {
            let r = store.revisions.get(uid)?;
            match prop {
                "last_mod_date" => Some(r.modified.to_rfc3339()),
                "creation_date" => Some(r.created.to_rfc3339()),
                "item_id" => Some(r.item_id.clone()),
                "item_revision_id" => Some(r.revision.clone()),
                "object_name" => Some(r.name.clone()),
                _ => r.props.get(prop).cloned(),
            }
        }
    };
    let keep = |uid: &str| -> bool {
        let mut acc = true;
        for (k, c) in clauses.iter().enumerate() {
            let v = value(uid, &c.prop).filter(|v| !v.is_empty());
            let hit = match (c.op.as_str(), &v) {
                ("IS_NULL", v) => v.is_none(),
                ("IS_NOT_NULL", v) => v.is_some(),
                (_, None) => false,
                (op, Some(v)) => compare(&c.prop, v, &c.value, op),
            };
            acc = if k == 0 {
                hit
            } else if c.or {
                acc || hit
            } else {
                acc && hit
            };
        }
        acc
    };
    // Link id look-ups (all `=` on the link id, joined by OR) use the index.
    let keys: Vec<Key> = if is_record
        && !clauses.is_empty()
        && clauses
            .iter()
            .all(|c| c.prop == LINK_ID_PROP && c.op == "=")
        && clauses.iter().skip(1).all(|c| c.or)
    {
        let mut keys: Vec<Key> = clauses
            .iter()
            .flat_map(|c| store.records_with_link(&c.value))
            .filter_map(|u| store.records.get(&u).map(|r| (r.modified, u)))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    } else {
        let lower = clauses
            .first()
            .filter(|c| c.prop == "last_mod_date" && matches!(c.op.as_str(), ">=" | ">"))
            .and_then(|c| parse_time(&c.value));
        let range = match lower {
            Some(t) => index.range((t, String::new())..),
            None => index.range(..),
        };
        range
            .filter(|k| keep(&k.1))
            .take(if max == 0 || sort != Some(false) {
                usize::MAX
            } else {
                max
            })
            .cloned()
            .collect()
    };
    let mut uids: Vec<String> = keys.into_iter().map(|k| k.1).collect();
    if sort.is_none() {
        uids.sort();
    } else if desc {
        uids.reverse();
    }
    if max > 0 {
        uids.truncate(max);
    }
    Ok(uids)
}

/// Compares a stored value with a clause value: dates as times, the rest as text.
fn compare(prop: &str, stored: &str, wanted: &str, op: &str) -> bool {
    let ord = if prop.ends_with("_date") {
        match (parse_time(stored), parse_time(wanted)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => return false,
        }
    } else {
        stored.cmp(wanted)
    };
    match op {
        "=" => ord.is_eq(),
        "!=" => ord.is_ne(),
        ">" => ord.is_gt(),
        ">=" => ord.is_ge(),
        "<" => ord.is_lt(),
        "<=" => ord.is_le(),
        _ => false,
    }
}
