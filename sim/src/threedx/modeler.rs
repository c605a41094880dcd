//! The modeler services under `{space}/resources/v1/modeler/`: Engineering Items (ws3dx
//! `EngItemService`) and Documents (ws3dx `DocumentService`), per docs/wire/threedx.md.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::routes::{Ctx, error};
use crate::framework::clock::lock;

const MODELER: &str = "/resources/v1/modeler/";
const ITEM: &str = "dseng/dseng:EngItem";
/// Largest `$top` served (ws3dx never asks for more).
const MAX_TOP: usize = 1000;
const DETAILS: &str = "dsmveng:EngItemMask.Details";

/// A refusal on its way to the client as the error envelope.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        error(self.0, &self.1)
    }
}

fn refuse(status: StatusCode, message: &str) -> Refused {
    Refused(status, message.to_string())
}

fn refusal((status, message): (u16, String)) -> Refused {
    Refused(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        message,
    )
}

fn members(v: Vec<Value>) -> Response {
    axum::Json(json!({"totalItems": v.len(), "member": v})).into_response()
}

fn docs(v: Vec<Value>) -> Response {
    axum::Json(json!({"success": true, "statusCode": 200, "data": v})).into_response()
}

fn paging(ctx: &Ctx) -> Result<(usize, usize), Refused> {
    let num = |k: &str, default: usize| match ctx.param(k) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| refuse(StatusCode::BAD_REQUEST, &format!("{k} is not a number"))),
    };
    Ok((num("$top", 50)?.min(MAX_TOP), num("$skip", 0)?))
}

/// Dispatches one modeler request (`path` below the space root, decoded).
pub(crate) fn route(ctx: &Ctx, method: &Method, path: &str) -> Response {
    let Some(rest) = path.strip_prefix(MODELER) else {
        return refuse(StatusCode::NOT_FOUND, "no such resource").into_response();
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let result = match (method.clone(), segs.as_slice()) {
        (Method::GET, ["dseng", "dseng:EngItem", "search"]) => search_items(ctx),
        (Method::POST, ["dseng", "dseng:EngItem", "bulkfetch"]) => bulkfetch(ctx),
        (Method::GET, ["dseng", "dseng:EngItem", id]) => read_item(ctx, id),
        (Method::GET, ["dseng", "dseng:EngItem", id, "dseng:EnterpriseReference"]) => {
            enterprise_reference(ctx, id)
        }
        (Method::PATCH, ["dseng", "dseng:EngItem", id]) => patch_item(ctx, id),
        (Method::POST, ["documents"]) => create_documents(ctx),
        (Method::GET, ["documents", "search"]) => search_docs(ctx),
        (Method::GET, ["documents", "parentId", id]) => documents_of(ctx, id),
        (Method::GET, ["documents", id]) => read_doc(ctx, id),
        (Method::PUT, ["documents", id]) => update_doc(ctx, id),
        (Method::DELETE, ["documents", id]) => {
            let removed = lock(&ctx.st.store).docs.remove(*id).is_some();
            if removed {
                Ok(docs(vec![]))
            } else {
                Err(refuse(StatusCode::NOT_FOUND, "document not found"))
            }
        }
        _ => Err(refuse(
            StatusCode::NOT_FOUND,
            &format!("no such resource: {ITEM} or documents"),
        )),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

type Answer = Result<Response, Refused>;

/// EngItemService search: `$searchStr`, `$top` (≤ 1000), `$skip`, `$mask`; id order.
fn search_items(ctx: &Ctx) -> Answer {
    let (top, skip) = paging(ctx)?;
    let details = ctx.param("$mask") == Some(DETAILS);
    let search = ctx.param("$searchStr").unwrap_or_default();
    let store = lock(&ctx.st.store);
    let found = store.search_items(search).map_err(refusal)?;
    let page = found
        .iter()
        .skip(skip)
        .take(top)
        .map(|i| i.to_json(details))
        .collect();
    Ok(members(page))
}

/// EngItemService bulkfetch: body `["id",…]` → Details of the known ones.
fn bulkfetch(ctx: &Ctx) -> Answer {
    let ids: Vec<String> = serde_json::from_slice(&ctx.body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            &format!("body must be an array of ids: {e}"),
        )
    })?;
    let store = lock(&ctx.st.store);
    Ok(members(
        ids.iter()
            .filter_map(|id| store.items.get(id))
            .map(|i| i.to_json(true))
            .collect(),
    ))
}

fn read_item(ctx: &Ctx, id: &str) -> Answer {
    let details = ctx.param("$mask") == Some(DETAILS);
    let store = lock(&ctx.st.store);
    let item = store
        .items
        .get(id)
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "object not found"))?;
    Ok(members(vec![item.to_json(details)]))
}

fn enterprise_reference(ctx: &Ctx, id: &str) -> Answer {
    let store = lock(&ctx.st.store);
    let item = store
        .items
        .get(id)
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "object not found"))?;
    Ok(members(vec![json!({"partNumber": item.part_number})]))
}

/// EngItemService update: body with `cestamp` (required, must be current) and the attributes.
fn patch_item(ctx: &Ctx, id: &str) -> Answer {
    let body: Map<String, Value> = serde_json::from_slice(&ctx.body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            &format!("body must be an object: {e}"),
        )
    })?;
    let now = ctx.st.clock.now();
    let mut store = lock(&ctx.st.store);
    let current = store
        .items
        .get(id)
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "object not found"))?;
    if body.get("cestamp").and_then(Value::as_str) != Some(current.cestamp.as_str()) {
        return Err(refuse(
            StatusCode::CONFLICT,
            "cestamp mismatch: the object was modified by another user",
        ));
    }
    store.edit_item(id, now, |i| {
        for (k, v) in &body {
            match (k.as_str(), v) {
                ("title", Value::String(s)) => i.title = s.clone(),
                ("description", Value::String(s)) => i.description = s.clone(),
                ("customerAttributes", Value::Object(m)) => i.customer.extend(m.clone()),
                ("dseno:EnterpriseAttributes", Value::Object(m)) => i.enterprise.extend(m.clone()),
                _ => {}
            }
        }
    });
    let item = store
        .items
        .get(id)
        .map(|i| i.to_json(true))
        .unwrap_or_default();
    Ok(members(vec![item]))
}

/// The `data[]` entries of a document-service request body.
fn entries(ctx: &Ctx) -> Result<Vec<Map<String, Value>>, Refused> {
    let body: Value = serde_json::from_slice(&ctx.body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, &format!("body is not JSON: {e}")))?;
    let data = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "data[] is required"))?;
    data.iter()
        .map(|d| {
            d.as_object()
                .cloned()
                .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "data[] entries must be objects"))
        })
        .collect()
}

fn elements(entry: &Map<String, Value>) -> Map<String, Value> {
    entry
        .get("dataelements")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// DocumentService create: each entry under `dataelements.parentId` (or
/// `relateddata.parents[0].id`) with `parentRelName` (query, else `dataelements`).
fn create_documents(ctx: &Ctx) -> Answer {
    let now = ctx.st.clock.now();
    let entries = entries(ctx)?;
    let mut store = lock(&ctx.st.store);
    let mut out = Vec::new();
    for e in &entries {
        let el = elements(e);
        let parent = el
            .get("parentId")
            .and_then(Value::as_str)
            .or_else(|| {
                e.get("relateddata")
                    .and_then(|r| r.pointer("/parents/0/id"))
                    .and_then(Value::as_str)
            })
            .ok_or_else(|| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "a parent (dataelements.parentId) is required",
                )
            })?;
        let rel = ctx
            .param("parentRelName")
            .or_else(|| el.get("parentRelName").and_then(Value::as_str))
            .unwrap_or("Reference Document")
            .to_string();
        let id = store.create_doc(&el, parent, &rel, now).map_err(refusal)?;
        out.push(store.docs.get(&id).map(|d| d.to_json()).unwrap_or_default());
    }
    Ok(docs(out))
}

fn search_docs(ctx: &Ctx) -> Answer {
    let (top, skip) = paging(ctx)?;
    let search = ctx.param("searchStr").unwrap_or_default();
    let store = lock(&ctx.st.store);
    let found = store.search_docs(search).map_err(refusal)?;
    Ok(docs(
        found
            .iter()
            .skip(skip)
            .take(top)
            .map(|d| d.to_json())
            .collect(),
    ))
}

/// DocumentService `GetItemDocuments` (ws3dx.document `core/service/DocumentService.cs`,
/// docs/wire/threedx.md "Documents of a part"): the documents related to the item by
/// `parentRelName`, with `parentDirection` `from` (the default: item → document) or `to`;
/// the whole list in one answer (the service takes no `$top`/`$skip`), in id order. The
/// emulator only ever relates items to documents, so `to` finds none; another direction is
/// refused with `400`, and a missing `parentRelName` reads as `Reference Document` [INFERRED].
fn documents_of(ctx: &Ctx, id: &str) -> Answer {
    let rel = ctx.param("parentRelName").unwrap_or("Reference Document");
    let from = match ctx.param("parentDirection").unwrap_or("from") {
        "from" => true,
        "to" => false,
        other => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                &format!("invalid parentDirection {other}: from or to"),
            ));
        }
    };
    let store = lock(&ctx.st.store);
    if !store.items.contains_key(id) {
        return Err(refuse(StatusCode::NOT_FOUND, "parent object not found"));
    }
    if !from {
        return Ok(docs(vec![]));
    }
    let found = store
        .docs
        .values()
        .filter(|d| d.parents.iter().any(|(p, r)| p == id && r == rel))
        .map(|d| d.to_json())
        .collect();
    Ok(docs(found))
}

/// DocumentService `Get`; an edit queued by `ThreedxSim::edit_document_after_next_read` is
/// made once the answer is built, so the answer's `cestamp` is stale when it leaves.
fn read_doc(ctx: &Ctx, id: &str) -> Answer {
    let mut store = lock(&ctx.st.store);
    let d = store
        .docs
        .get(id)
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "document not found"))?
        .to_json();
    store.after_read(id, ctx.st.clock.now());
    Ok(docs(vec![d]))
}

/// DocumentService update (ws3dx `DocumentService.Update`, `DocumentData`): `data[0]` with
/// optional `cestamp`, `dataelements` and `relateddata.parents` — the parents to keep of the
/// relation `dataelements.parentRelName` names (required with `parents`: `400` without it;
/// parents under other relations are untouched) [INFERRED from `DocumentData`'s
/// `parentId`/`parentRelName`/`parentDirection`].
fn update_doc(ctx: &Ctx, id: &str) -> Answer {
    let now = ctx.st.clock.now();
    let entries = entries(ctx)?;
    let e = entries
        .first()
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "data[] is empty"))?;
    let parents = e
        .get("relateddata")
        .and_then(|r| r.get("parents"))
        .and_then(Value::as_array)
        .map(Vec::as_slice);
    let mut store = lock(&ctx.st.store);
    store
        .update_doc(
            id,
            e.get("cestamp").and_then(Value::as_str),
            &elements(e),
            parents,
            now,
        )
        .map_err(refusal)?;
    Ok(docs(
        store
            .docs
            .get(id)
            .map(|d| vec![d.to_json()])
            .unwrap_or_default(),
    ))
}
