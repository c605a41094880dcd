//! Updating links: one `setProperties` call per batch, partial errors mapped back by
//! `clientIndex` (or the object's UID); with `retire = "delete_relation"`, records whose status
//! becomes `retired` also lose their GRM relation (`deleteRelations`). Writing fixed values is
//! idempotent, so these calls are retried like reads.

use std::collections::HashMap;

use partreel_connector::connector::LinkUpdate;
use partreel_connector::error::{ConnectorError, Result};
use partreel_connector::model::{LinkStatus, RemoteLink};
use serde_json::{Value, json};

use super::TeamcenterClient;
use super::batch::errors_by_item;
use crate::config::Retire;
use crate::convert;
use crate::wire::{self, op};

impl TeamcenterClient {
    /// The batch behind `update_link(s)`: one result per input, in order.
    pub(super) async fn update_many(&self, batch: &[LinkUpdate]) -> Vec<Result<RemoteLink>> {
        let mut out = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(self.cfg().batch_size) {
            out.extend(self.update_chunk(chunk).await);
        }
        out
    }

    async fn update_chunk(&self, chunk: &[LinkUpdate]) -> Vec<Result<RemoteLink>> {
        let writes: Vec<&LinkUpdate> = chunk.iter().filter(|u| !u.fields.is_empty()).collect();
        let mut written = match self.set_properties(&writes).await {
            Ok(w) => w,
            Err(e) => {
                return chunk
                    .iter()
                    .map(|u| {
                        if u.fields.is_empty() {
                            Ok(u.link.clone())
                        } else {
                            Err(e.clone())
                        }
                    })
                    .collect();
            }
        };
        if self.cfg().retire == Retire::DeleteRelation {
            let status = &self.cfg().link_status_property;
            let retired: Vec<&LinkUpdate> = writes
                .iter()
                .filter(|u| {
                    u.fields.get(status).map(String::as_str) == Some(LinkStatus::Retired.as_str())
                })
                .filter(|u| matches!(written.get(&u.link.remote_id), Some(Ok(_))))
                .copied()
                .collect();
            for (u, r) in retired.iter().zip(self.unrelate(&retired).await) {
                if let Err(e) = r {
                    written.insert(u.link.remote_id.clone(), Err(e));
                }
            }
        }
        chunk
            .iter()
            .map(|u| {
                if u.fields.is_empty() {
                    return Ok(u.link.clone());
                }
                match written.remove(&u.link.remote_id) {
                    Some(Ok(mut l)) => {
                        // A write accepted but not applied (the record reads back another
                        // value) is loud, never taken as done.
                        let unapplied: Vec<&str> = u
                            .fields
                            .iter()
                            .filter(|(k, v)| l.fields.get(*k).is_some_and(|now| now != *v))
                            .map(|(k, _)| k.as_str())
                            .collect();
                        if !unapplied.is_empty() {
                            return Err(ConnectorError::not_applied(
                                &self.p.system,
                                &u.link.remote_id,
                                "properties",
                                &unapplied,
                            ));
                        }
                        l.part_remote_id = u.link.part_remote_id.clone();
                        Ok(l)
                    }
                    Some(Err(e)) => Err(e),
                    None => Err(self.malformed(op::SET_PROPERTIES, "record not in the answer")),
                }
            })
            .collect()
    }

    /// docs/wire/teamcenter.md, Update (tcsoa `basics.py`, Mendix `OPERATION_SETPROPERTIES`):
    /// `setProperties` with `info[]` (`vecNameVal`, null timestamp) and the record policy; the
    /// answer is `{data: ServiceData, objPropMap}`, whose model objects are the records as
    /// written and whose partial errors refuse their record. Keyed by record UID.
    async fn set_properties(
        &self,
        writes: &[&LinkUpdate],
    ) -> Result<HashMap<String, Result<RemoteLink>>> {
        if writes.is_empty() {
            return Ok(HashMap::new());
        }
        let info: Vec<Value> = writes
            .iter()
            .map(|u| {
                let vec: Vec<Value> = u
                    .fields
                    .iter()
                    .map(|(k, v)| {
                        let values: Vec<&str> = if v.is_empty() { vec![] } else { vec![v] };
                        json!({"name": k, "values": values})
                    })
                    .collect();
                json!({"object": wire::obj_ref(&u.link.remote_id, &self.cfg().record_type),
                    "timestamp": wire::NULL_TIMESTAMP, "vecNameVal": vec})
            })
            .collect();
        let body = json!({"info": info, "options": []});
        let answer = self
            .call(op::SET_PROPERTIES, body, Some(&self.link_policy), true)
            .await?;
        let mut sd = wire::set_property_service_data(&answer.body)
            .map_err(|e| self.malformed(op::SET_PROPERTIES, e))?;
        let uids: Vec<&str> = writes.iter().map(|u| u.link.remote_id.as_str()).collect();
        // setProperties inputs carry no clientId: errors name the index or the object's UID.
        let mut errors = errors_by_item(&sd, uids.iter().copied());
        for e in sd.errors() {
            if let Some(uid) = e.uid.as_deref().filter(|u| uids.contains(u)) {
                errors.entry(uid.to_string()).or_insert_with(|| e.message());
            }
        }
        let lacking: Vec<String> = uids
            .iter()
            .filter(|u| !errors.contains_key(**u) && !sd.model_objects.contains_key(**u))
            .map(|u| u.to_string())
            .collect();
        if !lacking.is_empty() {
            sd.model_objects
                .extend(self.load(&lacking, &self.link_policy).await?);
        }
        let mut out = HashMap::new();
        for u in writes {
            let uid = u.link.remote_id.as_str();
            let id = u.link.link_id.as_str();
            let r = match (errors.get(uid), sd.model_objects.get(uid)) {
                (Some(msg), _) => {
                    Err(self.record_error(id, format!("{} refused: {msg}", op::SET_PROPERTIES)))
                }
                (None, Some(obj)) => match convert::link(obj, &self.p.link_props, &self.names) {
                    Ok(Some(l)) => Ok(l),
                    Ok(None) => {
                        Err(self.record_error(id, format!("record {uid} lost its link id")))
                    }
                    Err(r) => Err(self.malformed(op::SET_PROPERTIES, r.reason)),
                },
                (None, None) => Err(self.record_error(id, format!("record {uid} not found"))),
            };
            out.insert(uid.to_string(), r);
        }
        Ok(out)
    }

    /// docs/wire/teamcenter.md, Retire (tcsoa `deleteRelations`): one call for the records
    /// whose part is known; a relation that cannot be deleted is logged, not failed.
    async fn unrelate(&self, retired: &[&LinkUpdate]) -> Vec<Result<()>> {
        let known: Vec<(&str, &LinkUpdate)> = retired
            .iter()
            .filter_map(|u| Some((u.link.part_remote_id.as_deref()?, *u)))
            .collect();
        if known.is_empty() {
            return retired.iter().map(|_| Ok(())).collect();
        }
        let input: Vec<Value> = known
            .iter()
            .map(|(part, u)| {
                self.relationship(Some(u.link.link_id.as_str()), part, &u.link.remote_id)
            })
            .collect();
        let result = self
            .call(op::DELETE_RELATIONS, json!({"input": input}), None, true)
            .await;
        let errors = match result.and_then(|a| self.service_data(op::DELETE_RELATIONS, &a.body)) {
            Ok(sd) => errors_by_item(&sd, known.iter().map(|(_, u)| u.link.link_id.as_str())),
            Err(e) => return retired.iter().map(|_| Err(e.clone())).collect(),
        };
        // The status already says `retired`; a relation that could not be deleted (or was gone
        // already) is logged, not failed.
        retired
            .iter()
            .map(|u| match errors.get(u.link.link_id.as_str()) {
                Some(msg) => {
                    tracing::warn!(system = %self.p.system, link = %u.link.link_id, error = %msg, "relation not deleted");
                    Ok(())
                }
                None => Ok(()),
            })
            .collect()
    }
}
