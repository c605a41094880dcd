//! HTTP routes of the Windchill emulator. Every handler cites the PTC page it follows, as
//! summarised in docs/wire/windchill.md; paths carry OData keys (`Parts('OR:…')`), so one
//! catch-all route decodes the path and dispatches.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};

use super::metadata::{Domain, PART_PROPERTIES, document_properties, edmx};
use super::odata::{CollectionQuery, collection_query};
use super::store::{Refusal, WindchillStore};
use crate::framework::base64;
use crate::framework::clock::{SimClock, lock};
use crate::framework::reqlog::System;
use crate::framework::server::vendor_error;

/// Path of the WRS OData root on the server.
pub(crate) const BASE_PATH: &str = "/Windchill/servlet/odata";
/// Header that carries the CSRF nonce (WCCG_RESTAPIsNonceTokenFunction.html).
const NONCE_HEADER: &str = "CSRF_NONCE";
/// Largest request body accepted.
const MAX_BODY: usize = 8 << 20;
/// Session cookie name (the servlet container's).
const SESSION_COOKIE: &str = "JSESSIONID";

/// Shared state of the Windchill routes.
#[derive(Clone)]
pub(crate) struct WcState {
    pub(crate) store: Arc<Mutex<WindchillStore>>,
    /// Absolute `{base}` (scheme, host, port and [`BASE_PATH`]), for `@odata.nextLink`.
    pub(crate) base: Arc<str>,
    /// The expected `Authorization: Basic …` value.
    pub(crate) basic: Arc<str>,
    pub(crate) clock: SimClock,
}

/// A refusal on its way to the client as an OData error body.
pub(super) struct WcError(
    pub(super) StatusCode,
    pub(super) &'static str,
    pub(super) String,
);

impl From<Refusal> for WcError {
    fn from((status, code, message): Refusal) -> Self {
        WcError(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message,
        )
    }
}

impl IntoResponse for WcError {
    fn into_response(self) -> Response {
        // Error body per wccg_rest_error_codes.html.
        vendor_error(System::Windchill, self.0, self.1, &self.2)
    }
}

fn bad_request(message: String) -> WcError {
    WcError(StatusCode::BAD_REQUEST, "INVALID_QUERY", message)
}

fn not_found(what: &str) -> WcError {
    WcError(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("{what} does not exist."),
    )
}

/// The router: everything under [`BASE_PATH`].
pub(crate) fn router(st: WcState) -> Router {
    Router::new()
        .route(&format!("{BASE_PATH}/{{*rest}}"), any(dispatch))
        .fallback(|| async { not_found("The resource").into_response() })
        .with_state(st)
}

/// Request context after authentication.
pub(super) struct Ctx<'a> {
    pub(super) st: &'a WcState,
    pub(super) params: Vec<(String, String)>,
    pub(super) headers: HeaderMap,
    pub(super) session: String,
    pub(super) body: Bytes,
}

async fn dispatch(State(st): State<WcState>, req: Request) -> Response {
    // HTTP Basic on every request; 401 + WWW-Authenticate otherwise (docs/wire/windchill.md Auth).
    let authorized = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == &*st.basic);
    if !authorized {
        let mut r = WcError(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Authentication is required to access this resource.".into(),
        )
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Windchill\""),
        );
        return r;
    }
    let (session, new_cookie) = session_of(&st, req.headers());
    let method = req.method().clone();
    let raw_path = req.uri().path().strip_prefix(BASE_PATH).unwrap_or_default();
    let path = urlencoding::decode(raw_path)
        .map(|p| p.into_owned())
        .unwrap_or_default();
    let params = Query::<Vec<(String, String)>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return bad_request(format!("unreadable body: {e}")).into_response(),
    };
    let ctx = Ctx {
        st: &st,
        params,
        headers,
        session,
        body,
    };
    let batch_domain = match (&method, path.as_str()) {
        (&Method::POST, "/ProdMgmt/$batch") => Some("ProdMgmt"),
        (&Method::POST, "/DocMgmt/$batch") => Some("DocMgmt"),
        _ => None,
    };
    let answer = match batch_domain {
        // WCCG_RESTAPIsBatchSupport.html: `{base}/<domain>/$batch`.
        Some(domain) => super::batch::batch(&ctx, domain).await,
        None => route(&ctx, &method, &path),
    };
    let mut resp = answer.unwrap_or_else(IntoResponse::into_response);
    if let Some(sid) = new_cookie {
        let cookie = format!("{SESSION_COOKIE}={sid}; Path=/Windchill; HttpOnly");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    resp.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    resp
}

/// The caller's session, opening one (and returning its id to set as a cookie) if it has none.
fn session_of(st: &WcState, headers: &HeaderMap) -> (String, Option<String>) {
    let sent = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix("JSESSIONID="))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let mut store = lock(&st.store);
    if let Some(sid) = sent.into_iter().find(|s| store.has_session(s)) {
        return (sid, None);
    }
    let sid = hex::encode(rand::random::<[u8; 16]>()).to_uppercase();
    store.open_session(sid.clone(), hex::encode(rand::random::<[u8; 24]>()));
    (sid.clone(), Some(sid))
}

/// The key inside `Name('key')` at the start of `seg`, and what follows it.
fn keyed<'a>(seg: &'a str, set: &str) -> Option<(&'a str, &'a str)> {
    let rest = seg.strip_prefix(set)?.strip_prefix("('")?;
    let end = rest.find("')")?;
    Some((&rest[..end], &rest[end + 2..]))
}

pub(super) fn route(ctx: &Ctx<'_>, method: &Method, path: &str) -> Result<Response, WcError> {
    let m = method.clone();
    match path {
        "/PTC/GetCSRFToken()" if m == Method::GET => Ok(csrf_token(ctx)),
        "/ProdMgmt/$metadata" if m == Method::GET => Ok(metadata(ctx, Domain::ProdMgmt)),
        "/DocMgmt/$metadata" if m == Method::GET => Ok(metadata(ctx, Domain::DocMgmt)),
        "/ProdMgmt/Parts" if m == Method::GET => list_parts(ctx),
        "/DocMgmt/Documents" if m == Method::GET => list_documents(ctx, None),
        "/DocMgmt/Documents" if m == Method::POST => create_document(ctx, None),
        p => {
            // `Documents/PTC.DocMgmt.<Subtype>`: the type-cast segment
            // (wccg_restapis_wcsubtypes_in_OData.html).
            if let Some(cast) = p.strip_prefix("/DocMgmt/Documents/") {
                return match m {
                    Method::GET => list_documents(ctx, Some(cast)),
                    Method::POST => create_document(ctx, Some(cast)),
                    _ => Err(method_not_allowed()),
                };
            }
            if let Some((id, rest)) = p.strip_prefix("/ProdMgmt/").and_then(|s| keyed(s, "Parts")) {
                return match (rest, m) {
                    ("", Method::GET) => read_part(ctx, id),
                    ("/DescribedBy", Method::GET) => read_described_by(ctx, id),
                    ("/DescribedBy", Method::POST) => create_described_by(ctx, id),
                    ("" | "/DescribedBy", _) => Err(method_not_allowed()),
                    _ => Err(not_found("The resource")),
                };
            }
            if let Some((id, rest)) = p
                .strip_prefix("/DocMgmt/")
                .and_then(|s| keyed(s, "Documents"))
            {
                let cast = match rest {
                    "" => None,
                    r => match r.strip_prefix('/') {
                        Some(c) if c.starts_with("PTC.") => Some(c),
                        _ => return Err(not_found("The resource")),
                    },
                };
                return match m {
                    Method::GET => read_document(ctx, id, cast),
                    Method::PATCH => update_document(ctx, id, cast),
                    _ => Err(method_not_allowed()),
                };
            }
            let known = [
                "/PTC/GetCSRFToken()",
                "/ProdMgmt/$metadata",
                "/DocMgmt/$metadata",
                "/ProdMgmt/Parts",
                "/DocMgmt/Documents",
            ];
            if known.contains(&p) {
                Err(method_not_allowed())
            } else {
                Err(not_found("The resource"))
            }
        }
    }
}

fn method_not_allowed() -> WcError {
    WcError(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "The method is not supported on this resource.".into(),
    )
}

fn ok_json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn json_body(ctx: &Ctx<'_>) -> Result<Map<String, Value>, WcError> {
    match serde_json::from_slice::<Value>(&ctx.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(WcError(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_BODY",
            "The body must be a JSON object.".into(),
        )),
        Err(e) => Err(WcError(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_BODY",
            format!("The body is not valid JSON: {e}"),
        )),
    }
}

/// Every write carries the session's nonce (WCCG_RESTAPIsNonceTokenFunction.html).
pub(super) fn check_nonce(ctx: &Ctx<'_>) -> Result<(), WcError> {
    let sent = ctx.headers.get(NONCE_HEADER).and_then(|v| v.to_str().ok());
    let store = lock(&ctx.st.store);
    match (sent, store.nonce(&ctx.session)) {
        (Some(s), Some(n)) if s == n => Ok(()),
        _ => Err(WcError(
            StatusCode::BAD_REQUEST,
            "INVALID_NONCE",
            "A potential security problem was detected. The CSRF nonce is missing or invalid."
                .into(),
        )),
    }
}

/// `GET {base}/PTC/GetCSRFToken()` — WCCG_RESTAPIsNonceTokenFunction.html.
fn csrf_token(ctx: &Ctx<'_>) -> Response {
    let nonce = lock(&ctx.st.store)
        .nonce(&ctx.session)
        .unwrap_or_default()
        .to_owned();
    ok_json(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{}/PTC/$metadata#CSRFToken", ctx.st.base),
            "NonceKey": NONCE_HEADER,
            "NonceValue": nonce,
        }),
    )
}

/// `GET {base}/{ProdMgmt|DocMgmt}/$metadata` — WindchillCustomizationUsingWRS.html; a soft
/// type appears as a derived entity type (wccg_restapis_wcsubtypes_in_OData.html).
fn metadata(ctx: &Ctx<'_>, domain: Domain) -> Response {
    let soft = lock(&ctx.st.store).soft_type.clone();
    (
        [(header::CONTENT_TYPE, "application/xml")],
        edmx(domain, soft.as_deref()),
    )
        .into_response()
}

/// Whether the documents seen through `cast` (a type-cast segment, None for the entity set's
/// own type) carry the link IBAs; an unknown cast is `404`, as for any unknown segment.
fn cast_has_ibas(ctx: &Ctx<'_>, cast: Option<&str>) -> Result<bool, WcError> {
    let store = lock(&ctx.st.store);
    match cast {
        None | Some("PTC.DocMgmt.Document") => Ok(store.soft_type.is_none()),
        Some(c) if store.is_soft_type(c) => Ok(true),
        Some(c) => Err(not_found(&format!("The type '{c}'"))),
    }
}

/// A collection page with `@odata.nextLink` and `Preference-Applied`
/// (WCCG_RESTAPIsODataPreferHeader.html).
fn collection(
    ctx: &Ctx<'_>,
    set_path: &str,
    context: &str,
    q: &CollectionQuery,
    page: Vec<Value>,
    more: bool,
) -> Response {
    let mut body = json!({
        "@odata.context": format!("{}{context}", ctx.st.base),
        "value": page,
    });
    if more {
        let count = body["value"].as_array().map_or(0, Vec::len);
        let mut qs: Vec<String> = q
            .carry
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    urlencoding::encode(k).replace("%24", "$"),
                    urlencoding::encode(v)
                )
            })
            .collect();
        qs.push(format!("$skiptoken={}", q.offset + count));
        body["@odata.nextLink"] = json!(format!("{}{set_path}?{}", ctx.st.base, qs.join("&")));
    }
    let mut r = ok_json(StatusCode::OK, body);
    if let Some(n) = q.preference_applied
        && let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={n}"))
    {
        r.headers_mut().insert("Preference-Applied", v);
    }
    r
}

fn prefer(ctx: &Ctx<'_>) -> Option<String> {
    ctx.headers
        .get_all("Prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .into()
}

/// `GET {base}/ProdMgmt/Parts?$filter=…` — WCCG_RESTAPIsSupportedQueryOptions.html,
/// WCCG_RESTAPIsDateTimeOffset.html, WCCG_RESTAPIsODataPreferHeader.html.
fn list_parts(ctx: &Ctx<'_>) -> Result<Response, WcError> {
    let q = collection_query(&ctx.params, prefer(ctx).as_deref(), PART_PROPERTIES)
        .map_err(bad_request)?;
    let (page, more) = lock(&ctx.st.store).query_parts(&q);
    Ok(collection(
        ctx,
        "/ProdMgmt/Parts",
        "/ProdMgmt/$metadata#Parts",
        &q,
        page,
        more,
    ))
}

/// `GET {base}/ProdMgmt/Parts('{id}')` — WCCG_RESTAPIsSupportedQueryOptions.html (entity read).
fn read_part(ctx: &Ctx<'_>, id: &str) -> Result<Response, WcError> {
    let store = lock(&ctx.st.store);
    let part = store
        .part(id)
        .ok_or_else(|| not_found(&format!("Part '{id}'")))?;
    let mut body = part.to_json(None);
    body["@odata.context"] = json!(format!("{}/ProdMgmt/$metadata#Parts/$entity", ctx.st.base));
    Ok(ok_json(StatusCode::OK, body))
}

/// `GET {base}/DocMgmt/Documents[/PTC.DocMgmt.<Subtype>]?$filter=…` —
/// WCCG_RESTAPIsSupportedQueryOptions.html (same paging as parts). `$filter` and `$select` may
/// name only the properties of the path's type: a soft type's IBAs through its type cast
/// (wccg_restapis_wcsubtypes_in_OData.html, "perform a search on Windchill subtypes"), never
/// on the base set; the base set lists instances of every subtype, each with its own
/// properties and `@odata.type`.
fn list_documents(ctx: &Ctx<'_>, cast: Option<&str>) -> Result<Response, WcError> {
    let ibas = cast_has_ibas(ctx, cast)?;
    let q = collection_query(
        &ctx.params,
        prefer(ctx).as_deref(),
        document_properties(ibas),
    )
    .map_err(bad_request)?;
    let only_soft = cast.is_some_and(|c| c != "PTC.DocMgmt.Document");
    let (page, more) = lock(&ctx.st.store).query_documents(&q, only_soft);
    let path = match cast {
        Some(c) => format!("/DocMgmt/Documents/{c}"),
        None => "/DocMgmt/Documents".to_owned(),
    };
    Ok(collection(
        ctx,
        &path,
        &format!(
            "/DocMgmt/$metadata#Documents{}",
            cast.map(|c| format!("/{c}")).unwrap_or_default()
        ),
        &q,
        page,
        more,
    ))
}

/// The `$select` of a single-entity read, checked against the path's type.
fn entity_select(ctx: &Ctx<'_>, ibas: bool) -> Result<Option<Vec<String>>, WcError> {
    let props = document_properties(ibas);
    let mut select = None;
    for (k, v) in &ctx.params {
        match k.as_str() {
            "$select" => {
                let names: Vec<String> = v.split(',').map(|s| s.trim().to_owned()).collect();
                if let Some(bad) = names
                    .iter()
                    .find(|n| !props.iter().any(|p| p.0 == n.as_str()))
                {
                    return Err(bad_request(format!("$select: unknown property '{bad}'")));
                }
                select = Some(names);
            }
            k if k.starts_with('$') => {
                return Err(bad_request(format!("unsupported query option '{k}'")));
            }
            _ => {}
        }
    }
    Ok(select)
}

/// `GET {base}/DocMgmt/Documents('{id}')[/PTC.DocMgmt.<Subtype>][?$select=…]` — re-read after
/// an update (WCCG_RESTAccessExamplesUpdateaDocument.html); through a type cast the document
/// must be of that type (else `404`), and `$select` names the properties of the path's type.
fn read_document(ctx: &Ctx<'_>, id: &str, cast: Option<&str>) -> Result<Response, WcError> {
    let select = entity_select(ctx, cast_has_ibas(ctx, cast)?)?;
    let store = lock(&ctx.st.store);
    let doc = store
        .document(id)
        .filter(|d| cast.is_none_or(|c| c == "PTC.DocMgmt.Document" || d.type_name() == c))
        .ok_or_else(|| not_found(&format!("Document '{id}'")))?;
    let mut body = doc.to_json(select.as_deref());
    body["@odata.context"] = json!(format!(
        "{}/DocMgmt/$metadata#Documents/$entity",
        ctx.st.base
    ));
    Ok(ok_json(StatusCode::OK, body))
}

/// `POST {base}/DocMgmt/Documents[/PTC.DocMgmt.<Subtype>]` + `CSRF_NONCE` —
/// WCCG_RESTAccessExamplesCreateDocument; a soft type's instance is created with
/// `"@odata.type": "#PTC.DocMgmt.<Subtype>"` in the body or the type-cast segment
/// (wccg_restapis_wcsubtypes_in_OData.html). Without either the document is a WTDocument, and
/// a soft type's IBA in the body is refused as a property the type does not have.
fn create_document(ctx: &Ctx<'_>, cast: Option<&str>) -> Result<Response, WcError> {
    check_nonce(ctx)?;
    let body = json_body(ctx)?;
    let now = ctx.st.clock.now();
    let doc = lock(&ctx.st.store).create_document(&body, cast, now)?;
    Ok(ok_json(StatusCode::CREATED, doc))
}

/// `PATCH {base}/DocMgmt/Documents('{id}')` + `CSRF_NONCE` —
/// WCCG_RESTAccessExamplesUpdateaDocument.html. Answers `204 No Content`, PATCH's default, or
/// with `Prefer: return=representation` 200 with the entity and `Preference-Applied`
/// (WCCG_RESTAPIsODataPreferHeader.html); `return=minimal` is 204. With
/// `ignore_return_preference` (a server that does not apply it) always 204.
///
/// The document keeps its type: the body may set the properties of that type, through the
/// entity's own path or a type cast to its type (another cast is `404`).
fn update_document(ctx: &Ctx<'_>, id: &str, cast: Option<&str>) -> Result<Response, WcError> {
    check_nonce(ctx)?;
    let body = json_body(ctx)?;
    let now = ctx.st.clock.now();
    let mut store = lock(&ctx.st.store);
    if let Some(c) = cast
        && c != "PTC.DocMgmt.Document"
        && store.document(id).is_some_and(|d| d.type_name() != c)
    {
        return Err(not_found(&format!("Document '{id}' of type '{c}'")));
    }
    if let Some((prop, value)) = store.edit_before_patch.remove(id) {
        store.edit_document(id, |d| {
            d.fields.insert(prop, value);
        });
    }
    let doc = store.patch_document(id, &body, now)?;
    let wants_entity = ctx
        .headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("return=representation"));
    if wants_entity && !store.ignore_return_preference {
        let mut resp = ok_json(StatusCode::OK, doc);
        resp.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("return=representation"),
        );
        return Ok(resp);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET {base}/ProdMgmt/Parts('{id}')/DescribedBy[?$expand=DescribedBy][&$select=ID]` — the
/// part's describe links: `PartDescribeLink` entities (`OR:wt.part.WTPartDescribeLink:…`), not
/// documents; with `$expand=DescribedBy` each carries its document under `DescribedBy`, with
/// `$expand=Describes` its part (PTC Help Center,
/// example_sustainability_retrieve_enggmaterialpartdescribelinks.html and the MfgProcMgmt
/// example `…/DescribedBy?$expand=DescribedBy,Describes`; wrs_ProdMgmt_domain_12_0_2_23.html).
/// Any other query option is refused with 400, as an unknown `$expand` name is.
fn read_described_by(ctx: &Ctx<'_>, id: &str) -> Result<Response, WcError> {
    // A describe link has one property of its own (`ID`): `$select` can only name it.
    let (mut expand_doc, mut expand_part) = (false, false);
    for (k, v) in &ctx.params {
        match k.as_str() {
            "$expand" => {
                for name in v.split(',').map(str::trim) {
                    match name {
                        "DescribedBy" => expand_doc = true,
                        "Describes" => expand_part = true,
                        other => {
                            return Err(bad_request(format!(
                                "$expand: '{other}' is not a navigation property of PTC.ProdMgmt.PartDescribeLink"
                            )));
                        }
                    }
                }
            }
            "$select" => {
                for name in v.split(',').map(str::trim) {
                    if name != "ID" {
                        return Err(bad_request(format!(
                            "$select: unknown property '{name}' of PTC.ProdMgmt.PartDescribeLink"
                        )));
                    }
                }
            }
            k if k.starts_with('$') => {
                return Err(bad_request(format!("unsupported query option '{k}'")));
            }
            _ => {}
        }
    }
    let store = lock(&ctx.st.store);
    let Some(part) = store.part(id) else {
        return Err(not_found(&format!("Part '{id}'")));
    };
    let part_json = expand_part.then(|| part.to_json(None));
    let value: Vec<Value> = store
        .describe_links(id)
        .into_iter()
        .map(|(link, doc)| {
            let mut v = json!({ "ID": link });
            if expand_doc {
                v["DescribedBy"] = doc.to_json(None);
            }
            if let Some(p) = &part_json {
                v["Describes"] = p.clone();
            }
            v
        })
        .collect();
    Ok(ok_json(
        StatusCode::OK,
        json!({"@odata.context": format!("{}/ProdMgmt/$metadata#Parts('{id}')/DescribedBy", ctx.st.base), "value": value}),
    ))
}

/// `POST {base}/ProdMgmt/Parts('{id}')/DescribedBy` + `CSRF_NONCE`, body
/// `{"DescribedBy@odata.bind":"Documents('{docId}')"}` — describe links (ProdMgmt v7,
/// wrs_ProdMgmt_domain_12_0_2_23.html and
/// example_prodmgmt_createpartdescribelink_between_partanddocument.html). Answers 201 with the
/// new link entity, its document under `DescribedBy` (the page says "the details of the link";
/// the shape is inferred, see docs/wire/windchill.md).
fn create_described_by(ctx: &Ctx<'_>, id: &str) -> Result<Response, WcError> {
    check_nonce(ctx)?;
    let body = json_body(ctx)?;
    let bind = body
        .get("DescribedBy@odata.bind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let doc_id = bind
        .rfind("Documents('")
        .and_then(|i| keyed(&bind[i..], "Documents"))
        .map(|(doc, _)| doc.to_owned())
        .ok_or_else(|| {
            WcError(
                StatusCode::BAD_REQUEST,
                "INVALID_BIND",
                format!("Expected DescribedBy@odata.bind = Documents('…'), got '{bind}'."),
            )
        })?;
    let link = lock(&ctx.st.store).link(id, &doc_id)?;
    Ok(ok_json(StatusCode::CREATED, link))
}

/// Requests the malformed-body fault may hit: reads of parts and documents.
pub(crate) fn is_data_read(method: &Method, path: &str) -> bool {
    *method == Method::GET
        && (path.contains("/ProdMgmt/Parts") || path.contains("/DocMgmt/Documents"))
}

/// `Authorization` value for `user`/`password`.
pub(crate) fn basic_value(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::encode(format!("{user}:{password}").as_bytes())
    )
}
