//! OData URL building: entity keys in paths, string literals in `$filter`, query strings, and
//! the check that a server-given `@odata.nextLink` stays on the configured service.

use chrono::{DateTime, Utc};
use url::Url;

/// An OData string literal: single-quoted, a quote inside doubled
/// (WCCG_RESTAPIsSupportedQueryOptions.html).
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `Set('key')`, e.g. `Parts('OR:wt.part.WTPart:1')`. Used as one path segment: the `url` crate
/// then percent-encodes space, `#`, `?`, `/` and `%` in it and keeps `'`, `:`, `(` and `)`
/// literal, as the PTC examples show them.
pub(crate) fn keyed(set: &str, id: &str) -> String {
    format!("{set}({})", literal(id))
}

/// A DateTimeOffset literal in UTC, whole seconds (floored, so `ge` never misses a record).
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// True for an OData simple identifier (what may stand unquoted in `$select`/`$filter`).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `base` + path segments + query. Query values are percent-encoded in full (space as `%20`,
/// never `+`, which some OData servers read literally); the `$` of system options stays.
pub(crate) fn url<S: AsRef<str>>(base: &Url, segments: &[S], query: &[(&str, String)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    if !query.is_empty() {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencoding::encode(v)))
            .collect();
        url.set_query(Some(&q.join("&")));
    }
    url
}

/// `$filter` term matching any of `values` on `property` (`P eq 'a' or P eq 'b'`).
pub(crate) fn any_eq(property: &str, values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("{property} eq {}", literal(v)))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Whether `path` is the service root `root` or lies below it: on a path-segment boundary, so
/// `…/odata/v5` does not admit its sibling `…/odata/v5x`.
fn under(path: &str, root: &str) -> bool {
    let root = root.trim_end_matches('/');
    path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Parses a continuation (`@odata.nextLink`, absolute or relative to `base`) and checks that it
/// points at the configured service: same scheme, host and port, and under the base path —
/// credentials are never sent anywhere else.
pub(crate) fn next_link(base: &Url, link: &str, rebase: bool) -> Result<Url, String> {
    let url = match Url::parse(link) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let mut dir = base.clone();
            if let Ok(mut p) = dir.path_segments_mut() {
                p.push("");
            }
            dir.join(link)
                .map_err(|e| format!("@odata.nextLink is not a URL ({e})"))?
        }
        Err(e) => return Err(format!("@odata.nextLink is not a URL ({e})")),
    };
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if !under(url.path(), base.path()) {
        return Err(format!(
            "@odata.nextLink points outside the configured service ({}://{}{})",
            url.scheme(),
            url.host_str().unwrap_or("?"),
            url.path()
        ));
    }
    if same_origin {
        return Ok(url);
    }
    if !rebase {
        return Err(format!(
            "@odata.nextLink points to another host ({}://{}); behind a reverse proxy set \
             rebase_next_link = true to follow it on the configured host",
            url.scheme(),
            url.host_str().unwrap_or("?")
        ));
    }
    // The same service seen from inside the proxy: follow it on the configured origin.
    let mut rebased = base.clone();
    rebased.set_path(url.path());
    rebased.set_query(url.query());
    Ok(rebased)
}
