//! Model objects → partreel's model: an item revision becomes a [`PartRevision`], a clip record
//! a [`RemoteLink`]. Remote fields are the policy's properties as text: `dbValues` joined with
//! `,` (strings, dates, numbers as the server writes them), except the release status property,
//! whose display values (status names) are used, or the configured unreleased state when empty.

use chrono::{DateTime, NaiveDateTime, Utc};
use partreel_connector::connector::Rejected;
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};

use crate::wire::{ModelObject, Prop};

/// Property names the conversion needs (from the configuration).
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub modified: String,
    pub part_status: String,
    pub unreleased_state: String,
    pub link_id: String,
}

/// One item revision → a part revision, or the reason it is rejected.
pub(crate) fn part(
    system: &str,
    obj: &ModelObject,
    props: &[String],
    names: &Names,
) -> Result<PartRevision, Rejected> {
    let reject = |reason: String| Rejected {
        id: Some(obj.uid.clone()),
        reason,
    };
    let number = required(obj, "item_id").map_err(reject)?;
    let revision = required(obj, "item_revision_id").map_err(reject)?;
    let modified = modified(obj, &names.modified).map_err(reject)?;
    let fields = fields(obj, props, names);
    Ok(PartRevision {
        system: system.to_string(),
        remote_id: obj.uid.clone(),
        number,
        revision,
        name: first(obj, "object_name").unwrap_or_default(),
        lifecycle_state: fields.get(&names.part_status).cloned(),
        modified,
        fields,
    })
}

/// One record → a link; `Ok(None)` when it carries no link id (not partreel's).
pub(crate) fn link(
    obj: &ModelObject,
    props: &[String],
    names: &Names,
) -> Result<Option<RemoteLink>, Rejected> {
    let Some(link_id) = first(obj, &names.link_id).filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let modified = modified(obj, &names.modified).map_err(|reason| Rejected {
        id: Some(link_id.clone()),
        reason,
    })?;
    // Optional: a server whose policy leaves it out only loses the "keep the oldest" order.
    let created = first(obj, crate::config::CREATION_DATE).and_then(|s| parse_time(&s));
    Ok(Some(RemoteLink {
        link_id: LinkId(link_id),
        remote_id: obj.uid.clone(),
        part_remote_id: None,
        modified,
        created,
        fields: fields(obj, props, names),
    }))
}

/// The policy's properties of an object as text (absent or empty ones left out, except the
/// release status, which is always reported).
pub(crate) fn fields(obj: &ModelObject, props: &[String], names: &Names) -> RemoteFields {
    let mut out = RemoteFields::new();
    for name in props {
        let prop = obj.props.get(name);
        if *name == names.part_status {
            let shown = prop.map(|p| p.ui().join(", ")).unwrap_or_default();
            if prop.is_some() {
                let value = if shown.trim().is_empty() {
                    names.unreleased_state.clone()
                } else {
                    shown
                };
                out.insert(name.clone(), value);
            }
            continue;
        }
        if let Some(text) = prop.and_then(text) {
            out.insert(name.clone(), text);
        }
    }
    out
}

/// A property as text: its internal values joined with `,`; None when it has none.
fn text(p: &Prop) -> Option<String> {
    let db = p.db();
    (!db.is_empty()).then(|| db.join(","))
}

fn first(obj: &ModelObject, name: &str) -> Option<String> {
    obj.props
        .get(name)
        .and_then(|p| p.db().first().map(|s| s.to_string()))
}

fn required(obj: &ModelObject, name: &str) -> Result<String, String> {
    first(obj, name)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("{name}: missing (is it in the object property policy?)"))
}

fn modified(obj: &ModelObject, name: &str) -> Result<DateTime<Utc>, String> {
    let s = required(obj, name)?;
    parse_time(&s).ok_or_else(|| format!("{name}: {s:?} is not a date-time"))
}

/// A Teamcenter date value: RFC 3339 (`2026-11-20T09:30:00+00:00`, the documented form), with a
/// colon-less offset (`+0000`, as Java's date formats write it), or without offset (UTC).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// A time as a query clause value: whole seconds, rounded down (so `>=` loses nothing).
pub(crate) fn query_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}
