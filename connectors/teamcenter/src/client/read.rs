//! The read half of [`TeamcenterClient`]: change feeds (a business object query for UIDs, then
//! `loadObjects`), paged by offset over the query's `(last_mod_date, uid)` order, look-ups of
//! records by link id, and the records on one part revision (its GRM relations expanded, then
//! `loadObjects`) (docs/wire/teamcenter.md, Part revisions and The clip record).

use std::collections::HashSet;

use partreel_connector::connector::{ChangeQuery, Page, Rejected};
use partreel_connector::error::Result;
use partreel_connector::model::RemoteLink;
use serde_json::{Value, json};

use super::TeamcenterClient;
use crate::convert;
use crate::wire::{ModelObject, op};

impl TeamcenterClient {
    /// One page of a change feed over `bo_type` (docs/wire/teamcenter.md, Paging): the query
    /// asks for `offset + page + 1` UIDs; the continuation is the next offset.
    pub(super) async fn feed<T>(
        &self,
        q: &ChangeQuery,
        bo_type: &str,
        extra: Option<Value>,
        policy: &Value,
        convert: impl Fn(&ModelObject) -> std::result::Result<Option<T>, Rejected>,
    ) -> Result<Page<T>> {
        let offset: usize = match &q.continuation {
            None => 0,
            Some(c) => c
                .parse()
                .map_err(|_| self.malformed(bo_type, format!("continuation {c:?}")))?,
        };
        let page_size = match q.page_size {
            0 => self.cfg().page_size,
            n => n.min(self.cfg().page_size),
        } as usize;
        let mut clauses = Vec::new();
        if let Some(since) = q.since {
            clauses.push(json!({"propName": self.cfg().modified_property,
                "propValue": convert::query_time(since), "mathOperator": ">=", "logicOperator": "AND"}));
        }
        clauses.extend(extra);
        let (uids, server_time) = self.query(bo_type, clauses, offset + page_size + 1).await?;
        let more = uids.len() > offset + page_size;
        let slice = &uids[offset.min(uids.len())..(offset + page_size).min(uids.len())];
        let objects = self.load(slice, policy).await?;
        let mut page = Page::empty();
        for uid in slice {
            match objects.get(uid).map(&convert) {
                Some(Ok(Some(item))) => page.items.push(item),
                Some(Ok(None)) => {}
                Some(Err(r)) => page.rejected.push(r),
                None => page.rejected.push(Rejected {
                    id: Some(uid.clone()),
                    reason: "found by the query but not returned by loadObjects".into(),
                }),
            }
        }
        page.continuation = more.then(|| (offset + page_size).to_string());
        page.server_time = server_time;
        Ok(page)
    }

    /// Records carrying any of `ids` (one query clause per id, joined with OR), decoded
    /// strictly: a record that carries one but cannot be read is a record error (creating
    /// another would duplicate it).
    pub(crate) async fn records_by_link_id(&self, ids: &[&str]) -> Result<Vec<RemoteLink>> {
        let mut out = Vec::new();
        for batch in ids.chunks(self.cfg().batch_size) {
            let clauses: Vec<Value> = batch
                .iter()
                .map(|id| {
                    json!({"propName": self.cfg().link_id_property, "propValue": id,
                    "mathOperator": "=", "logicOperator": "OR"})
                })
                .collect();
            let (uids, _) = self.query(&self.cfg().record_type, clauses, 0).await?;
            let objects = self.load(&uids, &self.link_policy).await?;
            for uid in &uids {
                let Some(obj) = objects.get(uid) else {
                    continue;
                };
                match convert::link(obj, &self.p.link_props, &self.names) {
                    Ok(Some(l)) if batch.contains(&l.link_id.as_str()) => out.push(l),
                    Ok(_) => {}
                    Err(r) => {
                        return Err(self.record_error(
                            r.id.as_deref().unwrap_or(uid),
                            format!("{} record {uid}: {}", self.cfg().record_type, r.reason),
                        ));
                    }
                }
            }
        }
        Ok(out)
    }

    /// docs/wire/teamcenter.md, Records on a part revision: `expandGRMRelationsForPrimary` for
    /// the one item revision (tcsoa `ExpandGRMRelationsPref2`, the relation and record types of
    /// the configuration), then `loadObjects` of the related records with the record policy
    /// (Mendix `OPERATION_LOAD_OBJECTS`, as every other read of records), each converted as the
    /// feed converts it, with `part_remote_id` set. Records without a link id are left out; a
    /// related record `loadObjects` does not return is logged and left out (as in the look-up
    /// by link id); the part refused by the server (a partial error) or a record carrying a link
    /// id that cannot be read is a record error naming it.
    pub(crate) async fn records_on_part(&self, part: &str) -> Result<Vec<RemoteLink>> {
        let expanded = self.expand(&[part]).await?;
        if let Some(msg) = expanded.refused.get(part) {
            return Err(self.record_error(
                part,
                format!("{} refused item revision {part}: {msg}", op::EXPAND_PRIMARY),
            ));
        }
        let mut seen = HashSet::new();
        let uids: Vec<String> = expanded
            .pairs
            .into_iter()
            .filter(|(p, _)| p == part)
            .map(|(_, record)| record)
            .filter(|record| seen.insert(record.clone()))
            .collect();
        let objects = self.load(&uids, &self.link_policy).await?;
        let records = uids.iter().filter_map(|uid| {
            let Some(obj) = objects.get(uid) else {
                tracing::warn!(system = %self.p.system, part, record = %uid,
                    "record related to the part revision but not returned by loadObjects; left out");
                return None;
            };
            Some((uid.clone(), convert::link(obj, &self.p.link_props, &self.names)))
        });
        partreel_connector::connector::links_on_part_from(
            &self.p.system,
            part,
            records,
            |uid, r| {
                format!(
                    "{} record {uid} on item revision {part}: {r}",
                    self.cfg().record_type
                )
            },
        )
    }
}
