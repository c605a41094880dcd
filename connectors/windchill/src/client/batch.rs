//! Link creation in batches (WCCG_RESTAPIsBatchSupport.html): the documents of up to
//! `batch_size` links in one `POST {base}/DocMgmt/$batch`, then their describe links in one
//! `POST {base}/ProdMgmt/$batch` — two requests for the batch instead of three per link. Each
//! write is a change set of its own, so a refused write (one clip's bad value) is rolled back
//! alone and the others stand; each answer is matched to its link by `Content-ID`.
//!
//! No lookup by link id before the batch, unless the journal says an earlier attempt at a
//! link may have landed ([`NewLink::prior_attempt`]: another run's creation of it whose outcome
//! is unknown, e.g. a daemon killed beside this one): those are looked for in one read, and what
//! they made is attached instead of made again.
//!
//! A `$batch` request is not idempotent. When its outcome is unknown (a reset, a 5xx, an answer
//! that leaves a write out), what the server holds decides: the documents are looked up by link
//! id and the missing ones created one by one, and a describe link is settled by the part's
//! links — never posted blindly a second time. A server that answers `$batch` with 501, 404 or
//! 405 has no batch support: the writes go one by one, and so does every later batch.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use partreel_connector::connector::{NewLink, PlmConnector};
use partreel_connector::error::{ConnectorError, Result};
use partreel_connector::http::{Request, Response};
use partreel_connector::model::{LinkId, RemoteLink};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::json;

use super::WindchillClient;
use crate::batch::{self, Answer, Op};
use crate::odata;

/// What a batch's request came to.
enum Sent {
    /// The answers, by position of the write in the batch.
    Answers(HashMap<usize, Answer>),
    /// The server has no `$batch`.
    Unsupported,
    /// Not sent, or its outcome is unknown: settle each write on its own.
    Unknown(ConnectorError),
}

impl WindchillClient {
    /// [`PlmConnector::create_links`] for Windchill: batched, one by one when batches are off.
    pub(super) async fn create_links_batched(&self, batch: &[NewLink]) -> Vec<Result<RemoteLink>> {
        if batch.len() < 2
            || self.p.batch_size < 2
            || self.p.batch_unsupported.load(Ordering::Relaxed)
        {
            return self.one_by_one(batch).await;
        }
        let mut out: Vec<Option<Result<RemoteLink>>> = (0..batch.len()).map(|_| None).collect();
        // A link whose earlier attempt may have landed is looked for first (one filtered read
        // for those, usually none): what that attempt made is attached, not made again.
        let mut landed = Vec::new();
        let flagged: Vec<LinkId> = batch
            .iter()
            .filter(|n| n.prior_attempt)
            .map(|n| n.link_id.clone())
            .collect();
        if !flagged.is_empty() {
            match self.find_links(&flagged).await {
                Ok(found) => {
                    for (i, n) in batch.iter().enumerate() {
                        if let Some(doc) = found.iter().find(|d| d.link_id == n.link_id) {
                            landed.push((i, doc.clone()));
                        }
                    }
                }
                Err(e) => {
                    for (i, n) in batch.iter().enumerate() {
                        if n.prior_attempt {
                            out[i] = Some(Err(self.unknown("DocMgmt/Documents", &e)));
                        }
                    }
                }
            }
        }
        // Bodies first: a value the document type cannot take fails that link alone.
        let mut bodies = Vec::new();
        for (i, n) in batch.iter().enumerate() {
            if out[i].is_some() || landed.iter().any(|(j, _)| *j == i) {
                continue;
            }
            match self.document_body(&n.link_id, &n.fields).await {
                Ok(b) => match serde_json::to_vec(&b) {
                    Ok(bytes) => bodies.push((i, bytes)),
                    Err(e) => {
                        out[i] = Some(Err(ConnectorError::Config(format!(
                            "cannot encode request body: {e}"
                        ))))
                    }
                },
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        let docs_path = self.url(&["DocMgmt", "Documents"], &[]).path().to_string();
        let ops: Vec<Op<'_>> = bodies
            .iter()
            .map(|(_, b)| Op {
                method: "POST",
                path: &docs_path,
                body: b,
            })
            .collect();
        let sent = if ops.is_empty() {
            Sent::Answers(HashMap::new())
        } else {
            self.send_batch("DocMgmt", &ops).await
        };
        let mut created = match sent {
            Sent::Unsupported => return self.one_by_one(batch).await,
            Sent::Answers(answers) => {
                let mut created = Vec::new();
                for (pos, (i, _)) in bodies.iter().enumerate() {
                    let n = &batch[*i];
                    match answers.get(&(pos + 1)) {
                        Some(a) if (200..300).contains(&a.status) => {
                            match self.created_document(&a.body, &n.link_id).await {
                                Ok(doc) => created.push((*i, doc)),
                                Err(e) => out[*i] = Some(Err(e)),
                            }
                        }
                        Some(a) => out[*i] = Some(Err(self.refused(&docs_path, a))),
                        // Left out of the answer: look before creating it again.
                        None => {
                            out[*i] = Some(self.create_link(&n.part, &n.link_id, &n.fields).await)
                        }
                    }
                }
                created
            }
            Sent::Unknown(e) => {
                tracing::warn!(system = %self.p.system, error = %e, "document batch outcome unknown; looking up its link ids");
                let ids: Vec<LinkId> = bodies
                    .iter()
                    .map(|(i, _)| batch[*i].link_id.clone())
                    .collect();
                let found = match self.find_links(&ids).await {
                    Ok(f) => f,
                    Err(e) => {
                        for (i, _) in &bodies {
                            out[*i] = Some(Err(self.unknown(&docs_path, &e)));
                        }
                        return out.into_iter().map(fill).collect();
                    }
                };
                let mut created = Vec::new();
                for (i, _) in &bodies {
                    let n = &batch[*i];
                    match found.iter().find(|d| d.link_id == n.link_id) {
                        Some(doc) => created.push((*i, doc.clone())),
                        None => {
                            out[*i] = Some(self.create_link(&n.part, &n.link_id, &n.fields).await)
                        }
                    }
                }
                created
            }
        };
        created.extend(landed);
        self.attach_all(batch, created, &mut out).await;
        out.into_iter().map(fill).collect()
    }

    /// Attaches each created document to its part revision: one `ProdMgmt/$batch` (settling a
    /// refusal or an unknown outcome by the part's links), or one by one without batches.
    async fn attach_all(
        &self,
        batch: &[NewLink],
        created: Vec<(usize, RemoteLink)>,
        out: &mut [Option<Result<RemoteLink>>],
    ) {
        if created.is_empty() {
            return;
        }
        let paths: Vec<String> = created
            .iter()
            .map(|(i, _)| {
                let part = odata::keyed("Parts", &batch[*i].part.remote_id);
                self.url(&["ProdMgmt", &part, "DescribedBy"], &[])
                    .path()
                    .to_string()
            })
            .collect();
        let bodies: Vec<Vec<u8>> = created
            .iter()
            .map(|(_, doc)| {
                json!({"DescribedBy@odata.bind": odata::keyed("Documents", &doc.remote_id)})
                    .to_string()
                    .into_bytes()
            })
            .collect();
        let ops: Vec<Op<'_>> = paths
            .iter()
            .zip(&bodies)
            .map(|(path, body)| Op {
                method: "POST",
                path,
                body,
            })
            .collect();
        let answers = match self.send_batch("ProdMgmt", &ops).await {
            Sent::Answers(a) => Some(a),
            Sent::Unsupported => None,
            Sent::Unknown(e) => {
                tracing::warn!(system = %self.p.system, error = %e, "describe link batch outcome unknown; settling each by its part");
                None
            }
        };
        for (pos, (i, mut doc)) in created.into_iter().enumerate() {
            let part_id = batch[i].part.remote_id.clone();
            let attached = match answers.as_ref().map(|a| a.get(&(pos + 1))) {
                Some(Some(a)) if (200..300).contains(&a.status) => Ok(()),
                Some(Some(a)) => {
                    let refused = self.refused(&paths[pos], a);
                    self.attached_or(&part_id, &doc.remote_id, refused).await
                }
                // No batch answer for it: `attach` looks at the part's links before posting.
                Some(None) | None => self.attach(&part_id, &doc.remote_id).await,
            };
            out[i] = Some(attached.map(|()| {
                doc.part_remote_id = Some(part_id);
                doc
            }));
        }
    }

    /// `POST {base}/{domain}/$batch` with `ops`, each in its own change set.
    async fn send_batch(&self, domain: &str, ops: &[Op<'_>]) -> Sent {
        let url = self.url(&[domain, "$batch"], &[]);
        let Some(body) = batch::encode(ops) else {
            return Sent::Unknown(ConnectorError::Config(
                "a request body holds the batch boundary".into(),
            ));
        };
        let req = Request::new(Method::POST, url)
            .header("accept", "multipart/mixed")
            .bytes(body, batch::CONTENT_TYPE);
        match self.p.http.send(req, &self.p.session).await {
            Ok(resp) => {
                let kind = resp
                    .headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                match batch::decode(kind, &resp.body) {
                    Ok(a) => Sent::Answers(a),
                    Err(detail) => {
                        Sent::Unknown(self.malformed(&format!("{domain}/$batch"), detail))
                    }
                }
            }
            Err(ConnectorError::Http { status, .. }) if matches!(status, 404 | 405 | 501) => {
                tracing::info!(system = %self.p.system, status, "no $batch on this server; writing links one by one");
                self.p.batch_unsupported.store(true, Ordering::Relaxed);
                Sent::Unsupported
            }
            Err(e) => Sent::Unknown(e),
        }
    }

    /// A write the batch answered with an error status, as the error a request of its own
    /// would have given.
    fn refused(&self, path: &str, a: &Answer) -> ConnectorError {
        let resp = Response {
            status: reqwest::StatusCode::from_u16(a.status)
                .unwrap_or(reqwest::StatusCode::BAD_REQUEST),
            headers: HeaderMap::new(),
            body: a.body.clone().into(),
            server_time: None,
        };
        ConnectorError::Http {
            system: self.p.system.clone(),
            method: "POST".into(),
            path: path.to_string(),
            status: a.status,
            message: resp.error_message(),
            retry_after: None,
        }
    }

    fn unknown(&self, path: &str, cause: &ConnectorError) -> ConnectorError {
        ConnectorError::Ambiguous {
            system: self.p.system.clone(),
            method: "POST".into(),
            path: path.to_string(),
            message: format!("batch outcome unknown and the lookup failed: {cause}"),
        }
    }

    async fn one_by_one(&self, batch: &[NewLink]) -> Vec<Result<RemoteLink>> {
        let mut out = Vec::with_capacity(batch.len());
        for n in batch {
            out.push(self.create_link(&n.part, &n.link_id, &n.fields).await);
        }
        out
    }
}

/// Every slot is filled by the code above; an empty one would be a bug, reported as such.
fn fill(r: Option<Result<RemoteLink>>) -> Result<RemoteLink> {
    r.unwrap_or_else(|| {
        Err(ConnectorError::Config(
            "internal: a batched link got no result".into(),
        ))
    })
}
