//! The JSON the AEM emulator renders (docs/wire/aem.md): Siren entities of the Assets HTTP API
//! and QueryBuilder hits in the `p.hits=full` rendering of Sling's JSON writer (dates in its
//! ECMA format).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::store::{Asset, DAM_PREFIX};

/// Sling's JSON date format (`Wed Nov 25 2026 10:00:00 GMT+0000`) [INF].
pub(crate) fn ecma(t: DateTime<Utc>) -> String {
    t.format("%a %b %d %Y %H:%M:%S GMT+0000").to_string()
}

/// ISO 8601 with milliseconds, as the Siren output writes dates [INF].
pub(crate) fn iso_ms(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `{base}/api/assets/<path below /content/dam>.json` (segments percent-encoded).
pub(crate) fn api_href(base: &str, path: &str, query: &str) -> String {
    let rel = path.strip_prefix(DAM_PREFIX).unwrap_or(path);
    let enc: Vec<String> = rel
        .split('/')
        .map(|s| urlencoding::encode(s).into_owned())
        .collect();
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{base}/api/assets{}.json{q}", enc.join("/"))
}

/// `{base}{path}/jcr:content/renditions/original`.
pub(crate) fn original_href(base: &str, path: &str) -> String {
    let enc: Vec<String> = path
        .split('/')
        .map(|s| urlencoding::encode(s).into_owned())
        .collect();
    format!("{base}{}/jcr:content/renditions/original", enc.join("/"))
}

fn link(rel: &str, href: String) -> Value {
    json!({"rel": [rel], "href": href})
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or(DAM_PREFIX, |(p, _)| p)
}

/// An asset entity; `full` adds the metadata (child entities of a listing carry a subset).
pub(crate) fn asset_entity(base: &str, a: &Asset, full: bool) -> Value {
    let mut props = Map::new();
    props.insert("name".into(), json!(a.name()));
    if let Some(t) = a.metadata.get("dc:title") {
        props.insert("dc:title".into(), json!(t));
    }
    props.insert("jcr:lastModified".into(), json!(iso_ms(a.modified)));
    if full {
        let meta: Map<String, Value> = a
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        props.insert("metadata".into(), Value::Object(meta));
    }
    json!({
        "class": ["assets/asset"],
        "properties": props,
        "links": [
            link("self", api_href(base, &a.path, "")),
            link("parent", api_href(base, parent_of(&a.path), "")),
            link("content", original_href(base, &a.path)),
        ],
    })
}

/// A folder as a child entity of a listing.
pub(crate) fn folder_child(base: &str, path: &str) -> Value {
    let name = path.rsplit('/').next().unwrap_or(path);
    json!({
        "class": ["assets/folder"],
        "properties": {"name": name, "dc:title": name.replace('-', " ")},
        "links": [link("self", api_href(base, path, ""))],
    })
}

/// A folder listing page with `srn:paging` and next/prev links.
pub(crate) fn folder_entity(
    base: &str,
    path: &str,
    entities: Vec<Value>,
    total: usize,
    offset: usize,
    limit: usize,
) -> Value {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut links = vec![link(
        "self",
        api_href(base, path, &format!("offset={offset}&limit={limit}")),
    )];
    if path != DAM_PREFIX {
        links.push(link("parent", api_href(base, parent_of(path), "")));
    }
    if offset + entities.len() < total {
        let next = offset + entities.len();
        links.push(link(
            "next",
            api_href(base, path, &format!("offset={next}&limit={limit}")),
        ));
    }
    if offset > 0 {
        let prev = offset.saturating_sub(limit);
        links.push(link(
            "prev",
            api_href(base, path, &format!("offset={prev}&limit={limit}")),
        ));
    }
    json!({
        "class": ["assets/folder"],
        "properties": {
            "name": name,
            "dc:title": name.replace('-', " "),
            "srn:paging": {"total": total, "offset": offset, "limit": limit},
        },
        "entities": entities,
        "links": links,
    })
}

/// A QueryBuilder hit with `p.hits=full&p.nodedepth=2`: the asset node, `jcr:content` and its
/// `metadata` child.
pub(crate) fn full_hit(a: &Asset) -> Value {
    let mut meta = Map::new();
    meta.insert("jcr:primaryType".into(), json!("nt:unstructured"));
    for (k, v) in &a.metadata {
        meta.insert(k.clone(), json!(v));
    }
    json!({
        "jcr:path": a.path,
        "jcr:primaryType": "dam:Asset",
        "jcr:created": ecma(a.created),
        "jcr:content": {
            "jcr:primaryType": "dam:AssetContent",
            "jcr:lastModified": ecma(a.modified),
            "metadata": meta,
            "renditions": {"jcr:primaryType": "nt:folder"},
        },
    })
}

/// A `p.hits=simple` hit: path, name, title, last modified.
pub(crate) fn simple_hit(a: &Asset) -> Value {
    json!({
        "path": a.path,
        "excerpt": "",
        "name": a.name(),
        "title": a.metadata.get("dc:title").cloned().unwrap_or_else(|| a.name().to_owned()),
        "lastModified": iso_ms(a.modified),
    })
}
