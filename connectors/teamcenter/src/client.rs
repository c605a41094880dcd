//! [`TeamcenterClient`]: the [`PlmConnector`] for Teamcenter's SOA services over JSON/REST.
//! Every request cites the section of docs/wire/teamcenter.md and the source it follows.
//!
//! Reads are business object queries (UIDs only, ordered by modification time), or the GRM
//! relations of a part revision, followed by `loadObjects` in UID chunks with an object property
//! policy naming the mapped properties. Change feeds, link look-ups and the records on one part
//! revision live in `client/read.rs`; writes in `client/links.rs` (create and relate, and the
//! `expandGRMRelationsForPrimary` both use) and `client/update.rs` (setProperties, retire): all
//! batched, each element tagged with a `clientId`, partial errors mapped back to the element
//! they concern.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use partreel_connector::PlmConnector;
use partreel_connector::connector::{
    ChangeQuery, ConnectorStats, LinkUpdate, NewLink, Page, RemoteSchema,
};
use partreel_connector::error::{ConnectorError, Result};
use partreel_connector::http::{HttpClient, Request};
use partreel_connector::model::{LinkId, PartRevision, RemoteFields, RemoteLink};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use crate::auth::{TeamcenterSession, op_url};
use crate::config::TeamcenterConfig;
use crate::convert::{self, Names};
use crate::wire::{self, ModelObject, op};

mod batch;
mod links;
mod read;
mod schema;
mod update;

/// Everything the client is built from (assembled by `ValidatedTeamcenter::build`).
pub(crate) struct ClientParts {
    pub system: String,
    pub http: HttpClient,
    pub session: TeamcenterSession,
    pub base: Url,
    /// Part revision properties in the policy (built-ins first).
    pub part_props: Vec<String>,
    /// Record properties in the policy (built-ins first).
    pub link_props: Vec<String>,
    pub config: TeamcenterConfig,
}

/// A connected Teamcenter system. Build it with `TeamcenterConfig::validate` then
/// `ValidatedTeamcenter::build`; call [`TeamcenterClient::logout`] on shutdown.
pub struct TeamcenterClient {
    p: ClientParts,
    names: Names,
    part_policy: Value,
    link_policy: Value,
}

impl std::fmt::Debug for TeamcenterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamcenterClient")
            .field("system", &self.p.system)
            .field("base", &self.p.base.as_str())
            .field("session", &self.p.session)
            .field("record_type", &self.p.config.record_type)
            .field("relation_type", &self.p.config.relation_type)
            .finish_non_exhaustive()
    }
}

/// A decoded answer and the server's clock.
pub(crate) struct Answer {
    pub body: Value,
    pub server_time: Option<DateTime<Utc>>,
}

impl TeamcenterClient {
    pub(crate) fn new(p: ClientParts) -> Self {
        let c = &p.config;
        let names = Names {
            modified: c.modified_property.clone(),
            part_status: c.part_status_property.clone(),
            unreleased_state: c.unreleased_state.clone(),
            link_id: c.link_id_property.clone(),
        };
        let part_policy = wire::policy(&[(&c.part_type, &p.part_props)]);
        let link_policy = wire::policy(&[(&c.record_type, &p.link_props)]);
        TeamcenterClient {
            p,
            names,
            part_policy,
            link_policy,
        }
    }

    /// The session (its login count, for reports and tests).
    pub fn session(&self) -> &TeamcenterSession {
        &self.p.session
    }

    /// docs/wire/teamcenter.md, Session: `Core-2006-03-Session/logout`. Call on shutdown.
    pub async fn logout(&self) -> Result<()> {
        self.p.session.logout(&self.p.http).await
    }

    fn cfg(&self) -> &TeamcenterConfig {
        &self.p.config
    }

    pub(crate) fn malformed(&self, what: &str, detail: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            system: self.p.system.clone(),
            what: what.to_string(),
            detail: detail.into(),
        }
    }

    pub(crate) fn record_error(&self, record: &str, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Record {
            system: self.p.system.clone(),
            record: record.to_string(),
            message: message.into(),
        }
    }

    /// docs/wire/teamcenter.md, Transport: `POST {base}/JsonRestServices/{operation}` with the
    /// envelope. An expired session (an `InvalidUserException` or a page answering with 2xx) is
    /// renewed once and the call replayed; an exception body becomes a typed error.
    pub(crate) async fn call(
        &self,
        operation: &str,
        body: Value,
        policy: Option<&Value>,
        idempotent: bool,
    ) -> Result<Answer> {
        let envelope = wire::envelope(body, policy, &self.cfg().locale);
        let req = Request::new(Method::POST, op_url(&self.p.base, operation))
            .header("accept", "application/json")
            .json(&envelope)?
            .idempotent(idempotent);
        let session = &self.p.session;
        // Log in first, so `seen` names the session this call is sent with.
        session.ensure(&self.p.http).await?;
        let seen = session.generation();
        let mut resp = self.p.http.send(req.clone(), session).await?;
        if wire::is_stale(&resp.body) {
            tracing::info!(system = %self.p.system, operation, "Teamcenter session expired; logging in again");
            session.renew_after(&self.p.http, seen).await?;
            resp = self.p.http.send(req, session).await?;
            if wire::is_stale(&resp.body) {
                return Err(ConnectorError::Auth {
                    system: self.p.system.clone(),
                    message: format!("{operation}: session refused again right after a login"),
                });
            }
        }
        let body: Value = resp.json(&self.p.system, operation)?;
        if let Some(e) = wire::exception(&body) {
            let message = format!(
                "{} (code {}): {}",
                e.name,
                e.code.unwrap_or_default(),
                e.message
            );
            return Err(if e.name == wire::INVALID_CREDENTIALS {
                ConnectorError::Auth {
                    system: self.p.system.clone(),
                    message,
                }
            } else {
                ConnectorError::Http {
                    system: self.p.system.clone(),
                    method: "POST".into(),
                    path: op_url(&self.p.base, operation).path().to_string(),
                    status: resp.status.as_u16(),
                    message,
                    retry_after: None,
                }
            });
        }
        Ok(Answer {
            body,
            server_time: resp.server_time,
        })
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, what: &str, v: &Value) -> Result<T> {
        T::deserialize(v).map_err(|e| self.malformed(what, e.to_string()))
    }

    pub(crate) fn service_data(&self, what: &str, v: &Value) -> Result<wire::ServiceData> {
        wire::service_data(v).map_err(|e| self.malformed(what, e))
    }

    /// docs/wire/teamcenter.md, Part revisions (tcsoa `executeBOQueriesWithSort`): UIDs of
    /// `bo_type` matching `clauses`, oldest modification first; `max` 0 = no limit.
    pub(crate) async fn query(
        &self,
        bo_type: &str,
        clauses: Vec<Value>,
        max: usize,
    ) -> Result<(Vec<String>, Option<DateTime<Utc>>)> {
        let operation = &self.cfg().query_operation;
        let body = json!({"inputs": [{"clientId": "partreel", "requestId": "partreel",
            "boTypeName": bo_type, "clauses": clauses,
            "sortOptions": [{"sortAttribute": self.cfg().modified_property, "sortOrder": "AscendingOrder"}],
            "maxNumToReturn": max}]});
        let answer = self.call(operation, body, None, true).await?;
        let r: wire::QueryResponse = self.decode(operation, &answer.body)?;
        let uids = r
            .array_of_results
            .into_iter()
            .flat_map(|q| q.object_uids)
            .collect();
        Ok((uids, answer.server_time))
    }

    /// docs/wire/teamcenter.md, Properties (Mendix `OPERATION_LOAD_OBJECTS`):
    /// `loadObjects {"uids":[…]}` in chunks, with `policy`.
    pub(crate) async fn load(
        &self,
        uids: &[String],
        policy: &Value,
    ) -> Result<HashMap<String, ModelObject>> {
        let mut out = HashMap::new();
        for chunk in uids.chunks(self.cfg().load_chunk) {
            let answer = self
                .call(op::LOAD_OBJECTS, json!({"uids": chunk}), Some(policy), true)
                .await?;
            let sd = self.service_data(op::LOAD_OBJECTS, &answer.body)?;
            for e in sd.errors() {
                tracing::debug!(system = %self.p.system, uid = ?e.uid, error = %e.message(), "object not loaded");
            }
            out.extend(sd.model_objects);
        }
        Ok(out)
    }
}

#[async_trait]
impl PlmConnector for TeamcenterClient {
    fn system(&self) -> &str {
        &self.p.system
    }

    /// docs/wire/teamcenter.md, Part revisions: the BO query on the part type with
    /// `<modified> >= since`, then `loadObjects` with the part policy.
    async fn changed_parts(&self, q: &ChangeQuery) -> Result<Page<PartRevision>> {
        let system = &self.p.system;
        self.feed(q, &self.cfg().part_type, None, &self.part_policy, |o| {
            convert::part(system, o, &self.p.part_props, &self.names).map(Some)
        })
        .await
    }

    /// docs/wire/teamcenter.md, Part revisions (Mendix `OPERATION_GET_ITEM_FROM_ID`):
    /// `getItemFromId` for `batch_size` item ids a call, every revision, with the part policy.
    async fn parts_by_number(&self, numbers: &[String]) -> Result<Vec<PartRevision>> {
        let mut unique: Vec<&str> = Vec::new();
        for n in numbers {
            if !unique.contains(&n.as_str()) {
                unique.push(n);
            }
        }
        let mut out = Vec::new();
        for batch in unique.chunks(self.cfg().batch_size) {
            let infos: Vec<Value> = batch
                .iter()
                .map(|id| json!({"itemId": id, "revIds": []}))
                .collect();
            let body = json!({"infos": infos, "nRev": -1, "pref": {}});
            let answer = self
                .call(op::GET_ITEM_FROM_ID, body, Some(&self.part_policy), true)
                .await?;
            let r: wire::ItemFromIdResponse = self.decode(op::GET_ITEM_FROM_ID, &answer.body)?;
            let sd = self.service_data(op::GET_ITEM_FROM_ID, &answer.body)?;
            for rev in r.output.iter().flat_map(|o| &o.item_rev_output) {
                let Some(obj) = sd.model_objects.get(&rev.item_revision.uid) else {
                    continue;
                };
                match convert::part(&self.p.system, obj, &self.p.part_props, &self.names) {
                    Ok(p) if batch.contains(&p.number.as_str()) => out.push(p),
                    Ok(_) => {}
                    Err(r) => {
                        tracing::warn!(system = %self.p.system, id = ?r.id, reason = %r.reason, "part skipped")
                    }
                }
            }
        }
        Ok(out)
    }

    /// docs/wire/teamcenter.md, The clip record: the BO query on the record type with
    /// `<modified> >= since AND <link id> IS_NOT_NULL`, then `loadObjects`.
    async fn changed_links(&self, q: &ChangeQuery) -> Result<Page<RemoteLink>> {
        let has_id = json!({"propName": self.cfg().link_id_property, "propValue": "",
            "mathOperator": "IS_NOT_NULL", "logicOperator": "AND"});
        self.feed(
            q,
            &self.cfg().record_type,
            Some(has_id),
            &self.link_policy,
            |o| convert::link(o, &self.p.link_props, &self.names),
        )
        .await
    }

    /// The BO query on the record type with `<link id> = …` clauses joined by OR.
    async fn find_links(&self, ids: &[LinkId]) -> Result<Vec<RemoteLink>> {
        let ids: Vec<&str> = ids.iter().map(LinkId::as_str).collect();
        self.records_by_link_id(&ids).await
    }

    /// docs/wire/teamcenter.md, Records on a part revision: `expandGRMRelationsForPrimary`
    /// for this item revision UID, then `loadObjects` of its related records with the record
    /// policy (incl. `creation_date`); records without a link id are left out.
    async fn links_on_part(&self, part_remote_id: &str) -> Result<Vec<RemoteLink>> {
        self.records_on_part(part_remote_id).await
    }

    /// A batch of one (see [`Self::create_links`]).
    async fn create_link(
        &self,
        part: &PartRevision,
        link_id: &LinkId,
        fields: &RemoteFields,
    ) -> Result<RemoteLink> {
        let one = NewLink {
            part: part.clone(),
            link_id: link_id.clone(),
            fields: fields.clone(),
            prior_attempt: false,
        };
        self.create_many(std::slice::from_ref(&one))
            .await
            .pop()
            .unwrap_or_else(|| Err(self.malformed(op::CREATE_OBJECTS, "no result")))
    }

    /// Expands the part's GRM relations and relates the record when it is not among them.
    async fn ensure_attached(&self, part: &PartRevision, link: &RemoteLink) -> Result<()> {
        self.attach_missing(&[(part, link.remote_id.as_str(), link.link_id.as_str())])
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    /// A batch of one (see [`Self::update_links`]).
    async fn update_link(&self, link: &RemoteLink, fields: &RemoteFields) -> Result<RemoteLink> {
        let one = LinkUpdate {
            link: link.clone(),
            fields: fields.clone(),
        };
        self.update_many(std::slice::from_ref(&one))
            .await
            .pop()
            .unwrap_or_else(|| Err(self.malformed(op::SET_PROPERTIES, "no result")))
    }

    /// Looks up every link id, creates the missing records with one
    /// `createRelateAndSubmitObjects2` per `batch_size`, and relates them with one
    /// `createRelations`; partial errors fail their element only.
    async fn create_links(&self, batch: &[NewLink]) -> Vec<Result<RemoteLink>> {
        self.create_many(batch).await
    }

    /// One `setProperties` per `batch_size` records; partial errors fail their element only.
    async fn update_links(&self, batch: &[LinkUpdate]) -> Vec<Result<RemoteLink>> {
        self.update_many(batch).await
    }

    fn max_batch(&self) -> usize {
        self.cfg().batch_size
    }

    /// Per batch of creations: the look-up by link id, `createRelateAndSubmitObjects2` and
    /// `createRelations`; per batch of updates: `setProperties` and the read that confirms it
    /// (docs/wire/teamcenter.md).
    fn requests_for_links(&self, creates: u64, updates: u64) -> u64 {
        let batch = self.cfg().batch_size.max(1) as u64;
        3 * creates.div_ceil(batch) + 2 * updates.div_ceil(batch)
    }

    /// docs/wire/teamcenter.md, Schema discovery: `getTypeDescriptions` of the part and
    /// record types.
    async fn schema(&self) -> Result<RemoteSchema> {
        self.describe().await
    }

    fn stats(&self) -> ConnectorStats {
        self.p.http.stats()
    }

    fn rate_limits(&self) -> partreel_connector::connector::RateLimitReport {
        self.p.http.rate_limits()
    }

    async fn write_access(&self) -> Result<partreel_connector::connector::WriteAccess> {
        Ok(partreel_connector::connector::write_access_unknown(
            "Teamcenter's SOA services",
        ))
    }

    /// docs/wire/teamcenter.md, Session: logs out on shutdown; a failure is only logged (the
    /// server times the session out anyway).
    async fn close(&self) {
        if let Err(e) = self.logout().await {
            tracing::warn!(system = %self.p.system, error = %e, "teamcenter logout failed");
        }
    }
}
