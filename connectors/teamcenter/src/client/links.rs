//! Creating links: look up every link id first, create the missing records in one
//! `createRelateAndSubmitObjects2` call, then relate records and item revisions in one
//! `createRelations` call. Both are non-idempotent; after an ambiguous failure the client looks
//! again (by link id, or by expanding the parts' relations) before writing again. A partial
//! error fails its own element, with Teamcenter's message, and nothing else. The expansion of
//! parts' relations ([`TeamcenterClient::expand`]) is also the first half of reading the
//! records on one part revision (`client/read.rs`).

use std::collections::{HashMap, HashSet};

use partreel_connector::connector::NewLink;
use partreel_connector::error::{ConnectorError, Result};
use partreel_connector::model::{PartRevision, RemoteFields, RemoteLink};
use serde_json::{Map, Value, json};

use super::TeamcenterClient;
use super::batch::errors_by_item;
use crate::convert;
use crate::wire::{self, op};

/// Rounds of look-then-write after an ambiguous write.
const WRITE_ROUNDS: u32 = 3;
/// Characters of the prompt used in a record name.
const NAME_PROMPT_CHARS: usize = 40;

/// A record to relate: the part revision, the record's UID, the link id (its clientId).
pub(super) type Pair<'a> = (&'a PartRevision, &'a str, &'a str);

impl TeamcenterClient {
    /// The batch behind `create_link(s)`: one result per input, in order.
    pub(super) async fn create_many(&self, batch: &[NewLink]) -> Vec<Result<RemoteLink>> {
        let mut out = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(self.cfg().batch_size) {
            out.extend(self.create_chunk(chunk).await);
        }
        out
    }

    async fn create_chunk(&self, chunk: &[NewLink]) -> Vec<Result<RemoteLink>> {
        let ids: Vec<&str> = chunk.iter().map(|n| n.link_id.as_str()).collect();
        let mut records: HashMap<String, Result<RemoteLink>> =
            match self.records_by_link_id(&ids).await {
                Ok(found) => found
                    .into_iter()
                    .map(|l| (l.link_id.0.clone(), Ok(l)))
                    .collect(),
                Err(e) => return chunk.iter().map(|_| Err(e.clone())).collect(),
            };
        let existing: HashSet<String> = records.keys().cloned().collect();
        // Create what is missing, looking again after an ambiguous failure.
        for round in 1..=WRITE_ROUNDS {
            let mut seen = HashSet::new();
            let missing: Vec<&NewLink> = chunk
                .iter()
                .filter(|n| !records.contains_key(n.link_id.as_str()))
                .filter(|n| seen.insert(n.link_id.as_str()))
                .collect();
            if missing.is_empty() {
                break;
            }
            match self.create_records(&missing).await {
                Ok(results) => {
                    records.extend(results);
                    break;
                }
                Err(e @ ConnectorError::Ambiguous { .. }) => {
                    let ids: Vec<&str> = missing.iter().map(|n| n.link_id.as_str()).collect();
                    match self.records_by_link_id(&ids).await {
                        Ok(found) => {
                            records.extend(found.into_iter().map(|l| (l.link_id.0.clone(), Ok(l))))
                        }
                        Err(e) => return chunk.iter().map(|_| Err(e.clone())).collect(),
                    }
                    if round == WRITE_ROUNDS {
                        for n in &missing {
                            records
                                .entry(n.link_id.0.clone())
                                .or_insert_with(|| Err(e.clone()));
                        }
                    }
                }
                Err(e) => {
                    for n in &missing {
                        records.insert(n.link_id.0.clone(), Err(e.clone()));
                    }
                    break;
                }
            }
        }
        // Relate: records found at first may already be related; new ones cannot be.
        let mut pairs = Vec::new();
        for n in chunk {
            if let Some(Ok(l)) = records.get(n.link_id.as_str()) {
                pairs.push((&n.part, l.remote_id.as_str(), n.link_id.as_str()));
            }
        }
        let (old, new): (Vec<Pair<'_>>, Vec<Pair<'_>>) =
            pairs.into_iter().partition(|p| existing.contains(p.2));
        let mut related: HashMap<String, Result<()>> = HashMap::new();
        for (pair, r) in old.iter().zip(self.attach_missing(&old).await) {
            related.insert(pair.2.to_string(), r);
        }
        for (pair, r) in new.iter().zip(self.relate_checked(&new).await) {
            related.insert(pair.2.to_string(), r);
        }
        chunk
            .iter()
            .map(|n| {
                let id = n.link_id.as_str();
                let mut link = match records.get(id) {
                    Some(Ok(l)) => l.clone(),
                    Some(Err(e)) => return Err(e.clone()),
                    None => return Err(self.malformed(op::CREATE_OBJECTS, "record not created")),
                };
                match related.get(id) {
                    Some(Err(e)) => Err(e.clone()),
                    _ => {
                        link.part_remote_id = Some(n.part.remote_id.clone());
                        Ok(link)
                    }
                }
            })
            .collect()
    }

    /// docs/wire/teamcenter.md, The clip record (Mendix `OPERATION_CREATEOBJECTS`):
    /// `createRelateAndSubmitObjects2` with one `createInputs` element per record, `clientId` =
    /// link id, and the record policy. Outer error: the whole call failed.
    async fn create_records(
        &self,
        items: &[&NewLink],
    ) -> Result<Vec<(String, Result<RemoteLink>)>> {
        let inputs: Vec<Value> = items
            .iter()
            .map(|n| {
                let mut props = Map::new();
                props.insert("object_name".into(), json!([self.record_name(n)]));
                for (k, v) in &n.fields {
                    props.insert(k.clone(), json!([v]));
                }
                props.insert(self.cfg().link_id_property.clone(), json!([n.link_id.0]));
                json!({"clientId": n.link_id.0, "createData": {"boName": self.cfg().record_type,
                    "propertyNameValues": props, "compoundCreateInput": {}},
                    "dataToBeRelated": {}, "workflowData": {}, "targetObject": wire::null_ref(), "pasteProp": ""})
            })
            .collect();
        let answer = self
            .call(
                op::CREATE_OBJECTS,
                json!({"createInputs": inputs}),
                Some(&self.link_policy),
                false,
            )
            .await?;
        let r: wire::CreateResponse = self.decode(op::CREATE_OBJECTS, &answer.body)?;
        let mut sd = self.service_data(op::CREATE_OBJECTS, &answer.body)?;
        let created: HashMap<&str, &str> = r
            .output
            .iter()
            .filter_map(|o| Some((o.client_id.as_str(), o.objects.first()?.uid.as_str())))
            .collect();
        let lacking: Vec<String> = created
            .values()
            .filter(|uid| !sd.model_objects.contains_key(**uid))
            .map(|uid| uid.to_string())
            .collect();
        if !lacking.is_empty() {
            sd.model_objects
                .extend(self.load(&lacking, &self.link_policy).await?);
        }
        let errors = errors_by_item(&sd, items.iter().map(|n| n.link_id.as_str()));
        Ok(items
            .iter()
            .map(|n| {
                let id = n.link_id.as_str();
                let result = if let Some(msg) = errors.get(id) {
                    Err(self.record_error(id, format!("{} refused: {msg}", op::CREATE_OBJECTS)))
                } else {
                    match created.get(id).and_then(|uid| sd.model_objects.get(*uid)) {
                        Some(obj) => match convert::link(obj, &self.p.link_props, &self.names) {
                            Ok(Some(l)) => Ok(l),
                            // A record that does not carry its link id would never be found
                            // again, and every later run would create another: a record error
                            // (the clip waits in quarantine), not a retried failure.
                            Ok(None) => Err(self.record_error(
                                id,
                                format!(
                                    "record {} was created but does not read back its {}; \
                                     check that the property is defined on {} and writable \
                                     by this user",
                                    created.get(id).copied().unwrap_or_default(),
                                    self.cfg().link_id_property,
                                    self.cfg().record_type
                                ),
                            )),
                            Err(r) => Err(self.malformed(op::CREATE_OBJECTS, r.reason)),
                        },
                        None => {
                            Err(self
                                .malformed(op::CREATE_OBJECTS, format!("{id}: no object created")))
                        }
                    }
                };
                (id.to_string(), result)
            })
            .collect())
    }

    /// `<prefix>-<first 40 characters of the prompt, or the link id>`, on one line.
    fn record_name(&self, n: &NewLink) -> String {
        let prompt = prompt_of(&n.fields).unwrap_or_else(|| n.link_id.0.clone());
        let short: String = prompt.chars().take(NAME_PROMPT_CHARS).collect();
        format!("{}-{}", self.cfg().record_name_prefix, short.trim_end())
    }

    /// Relates the pairs whose relation is not there yet (one expand, one createRelations).
    pub(super) async fn attach_missing(&self, pairs: &[Pair<'_>]) -> Vec<Result<()>> {
        if pairs.is_empty() {
            return Vec::new();
        }
        let parts: Vec<&PartRevision> = pairs.iter().map(|p| p.0).collect();
        let present = match self.related(&parts).await {
            Ok(p) => p,
            Err(e) => return pairs.iter().map(|_| Err(e.clone())).collect(),
        };
        let todo: Vec<Pair<'_>> = pairs
            .iter()
            .filter(|p| !present.contains(&(p.0.remote_id.clone(), p.1.to_string())))
            .copied()
            .collect();
        let mut results: HashMap<&str, Result<()>> = todo
            .iter()
            .map(|p| p.2)
            .zip(self.relate_checked(&todo).await)
            .collect();
        pairs
            .iter()
            .map(|p| results.remove(p.2).unwrap_or(Ok(())))
            .collect()
    }

    /// `createRelations` for `pairs`; an ambiguous failure or a partial error is settled by
    /// expanding the parts' relations (the relation may exist after all).
    async fn relate_checked(&self, pairs: &[Pair<'_>]) -> Vec<Result<()>> {
        let mut out: Vec<Option<Result<()>>> = (0..pairs.len()).map(|_| None).collect();
        for round in 1..=WRITE_ROUNDS {
            let open: Vec<usize> = (0..pairs.len()).filter(|i| out[*i].is_none()).collect();
            if open.is_empty() {
                break;
            }
            let batch: Vec<Pair<'_>> = open.iter().map(|i| pairs[*i]).collect();
            let (results, ambiguous) = match self.relate(&batch).await {
                Ok(r) => (r, None),
                Err(e @ ConnectorError::Ambiguous { .. }) => (Vec::new(), Some(e)),
                Err(e) => {
                    for i in open {
                        out[i] = Some(Err(e.clone()));
                    }
                    break;
                }
            };
            let failed: Vec<usize> = match &ambiguous {
                Some(_) => open.clone(),
                None => open
                    .iter()
                    .zip(&results)
                    .filter(|(_, r)| r.is_err())
                    .map(|(i, _)| *i)
                    .collect(),
            };
            let parts: Vec<&PartRevision> = failed.iter().map(|i| pairs[*i].0).collect();
            let present = if parts.is_empty() {
                HashSet::new()
            } else {
                self.related(&parts).await.unwrap_or_default()
            };
            for (k, i) in open.iter().enumerate() {
                let p = pairs[*i];
                if present.contains(&(p.0.remote_id.clone(), p.1.to_string())) {
                    out[*i] = Some(Ok(()));
                } else if let Some(e) = &ambiguous {
                    if round == WRITE_ROUNDS {
                        out[*i] = Some(Err(e.clone()));
                    }
                } else if let Some(r) = results.get(k) {
                    out[*i] = Some(r.as_ref().map(|_| ()).map_err(ConnectorError::clone));
                }
            }
        }
        out.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
    }

    /// docs/wire/teamcenter.md, Relate (tcsoa `Relationship`, Mendix
    /// `OPERATION_CREATERELATIONS`): one `createRelations` call, `clientId` = link id.
    async fn relate(&self, pairs: &[Pair<'_>]) -> Result<Vec<Result<()>>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let input: Vec<Value> = pairs
            .iter()
            .map(|(part, record, id)| self.relationship(Some(id), &part.remote_id, record))
            .collect();
        let answer = self
            .call(op::CREATE_RELATIONS, json!({"input": input}), None, false)
            .await?;
        let r: wire::CreateRelationsResponse = self.decode(op::CREATE_RELATIONS, &answer.body)?;
        let sd = self.service_data(op::CREATE_RELATIONS, &answer.body)?;
        let errors = errors_by_item(&sd, pairs.iter().map(|p| p.2));
        let done: HashSet<&str> = r
            .output
            .iter()
            .filter(|o| o.relation.is_some())
            .map(|o| o.client_id.as_str())
            .collect();
        Ok(pairs
            .iter()
            .map(|(_, _, id)| match errors.get(*id) {
                Some(msg) => {
                    Err(self.record_error(id, format!("{} refused: {msg}", op::CREATE_RELATIONS)))
                }
                None if done.contains(id) => Ok(()),
                None => {
                    Err(self.malformed(op::CREATE_RELATIONS, format!("{id}: no relation created")))
                }
            })
            .collect())
    }

    /// A `Relationship` input (tcsoa `Core/_2006_03/DataManagement.py`).
    pub(super) fn relationship(&self, client_id: Option<&str>, part: &str, record: &str) -> Value {
        json!({"clientId": client_id.unwrap_or_default(), "relationType": self.cfg().relation_type,
            "primaryObject": wire::obj_ref(part, &self.cfg().part_type),
            "secondaryObject": wire::obj_ref(record, &self.cfg().record_type), "userData": wire::null_ref()})
    }

    /// docs/wire/teamcenter.md, Read links (tcsoa `ExpandGRMRelationsPref2`):
    /// `expandGRMRelationsForPrimary` → the (part UID, record UID) pairs related now. Parts the
    /// server refuses (partial errors) simply have no pairs here.
    pub(super) async fn related(
        &self,
        parts: &[&PartRevision],
    ) -> Result<HashSet<(String, String)>> {
        let uids: Vec<&str> = parts.iter().map(|p| p.remote_id.as_str()).collect();
        Ok(self.expand(&uids).await?.pairs.into_iter().collect())
    }

    /// docs/wire/teamcenter.md, Read links (tcsoa `Core/_2007_09/DataManagement.py`
    /// `ExpandGRMRelationsPref2`, `ExpandGRMRelationsOutput2`, `ExpandGRMRelationship`; Mendix
    /// `OPERATION_EXPAND_GRM_RELATIONS_PRIMARY`): one `expandGRMRelationsForPrimary` per
    /// `batch_size` item revision UIDs (deduplicated), for the configured relation and record
    /// types, without a policy. Returns the (part UID, record UID) pairs in the server's order
    /// and the partial errors keyed by the part UID they name (by `clientIndex` into that call's
    /// `primaryObjects`, else by `uid`).
    pub(super) async fn expand(&self, part_uids: &[&str]) -> Result<Expanded> {
        let mut uids: Vec<&str> = part_uids.to_vec();
        uids.sort_unstable();
        uids.dedup();
        let mut out = Expanded::default();
        for chunk in uids.chunks(self.cfg().batch_size) {
            let primaries: Vec<Value> = chunk
                .iter()
                .map(|u| wire::obj_ref(u, &self.cfg().part_type))
                .collect();
            let body = json!({"primaryObjects": primaries, "pref": {"expItemRev": false,
                "returnRelations": true, "info": [{"relationTypeName": self.cfg().relation_type,
                "otherSideObjectTypes": [self.cfg().record_type]}]}});
            let answer = self.call(op::EXPAND_PRIMARY, body, None, true).await?;
            let r: wire::ExpandResponse = self.decode(op::EXPAND_PRIMARY, &answer.body)?;
            let sd = self.service_data(op::EXPAND_PRIMARY, &answer.body)?;
            let mut refused = errors_by_item(&sd, chunk.iter().copied());
            for e in sd.errors() {
                if let Some(uid) = e.uid.as_deref().filter(|u| chunk.contains(u)) {
                    refused
                        .entry(uid.to_string())
                        .or_insert_with(|| e.message());
                }
            }
            out.refused.extend(refused);
            for o in r.output {
                for rel in o
                    .relationship_data
                    .iter()
                    .flat_map(|d| &d.relationship_objects)
                {
                    out.pairs.push((
                        o.input_object.uid.clone(),
                        rel.other_side_object.uid.clone(),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// What `expandGRMRelationsForPrimary` answered for a set of item revisions.
#[derive(Debug, Default)]
pub(super) struct Expanded {
    /// (part UID, record UID), in the order of the answer.
    pub(super) pairs: Vec<(String, String)>,
    /// Part UID → the server's message, for the parts it refused.
    pub(super) refused: HashMap<String, String>,
}

/// The prompt among the fields (a field named `prompt` or ending in `prompt`), on one line.
fn prompt_of(fields: &RemoteFields) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k.to_ascii_lowercase().ends_with("prompt"))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|v| !v.is_empty())
}
