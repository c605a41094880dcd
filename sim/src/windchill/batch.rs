//! `POST {base}/{domain}/$batch`: OData batch requests as Windchill REST Services takes them
//! (PTC Help Center, WCCG_RESTAPIsBatchSupport.html and WCCG_RESTAPIsBatchSupport_examples.html).
//!
//! What the pages say, and how it is modelled:
//! - The batch is a `multipart/mixed` body posted to one domain's `$batch` with the session's
//!   `CSRF_NONCE`; its parts are individual requests (`application/http`) or change sets
//!   (a nested `multipart/mixed`), processed in order.
//! - An individual request that fails does not stop the others.
//! - A change set is "an atomic unit … implemented as a Windchill transaction": if one of its
//!   requests fails, the data changes the others made are rolled back. Here: the store is
//!   copied before a change set of several requests and put back when one fails. Change sets
//!   take modifying requests and actions only; a `GET` in one is refused.
//! - The answer is `multipart/mixed` with one part per request or change set, each request's
//!   answer as `application/http` (status line, headers, body) carrying its `Content-ID`.
//!
//! Where the pages are silent, OData 4.0 Part 1 §11.7 is followed: a failed change set is
//! answered with the failing request's answer alone in place of the change set's part; a
//! request URL is an absolute path (as in PTC's example) or relative to the domain's service
//! root, and must stay in the batch's domain (another domain's URL is refused, 400).
//! `Sim::windchill_batch_unsupported` models a server without `$batch` (501).

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::routes::{BASE_PATH, Ctx, WcError, check_nonce, route};
use crate::framework::clock::lock;

/// Requests one batch may hold.
const MAX_REQUESTS: usize = 1000;

/// One request inside a batch.
struct Inner {
    method: Method,
    /// Path below [`BASE_PATH`], decoded, and the query string.
    path: String,
    query: String,
    headers: HeaderMap,
    content_id: Option<String>,
    body: Bytes,
}

/// A part of the batch: a request, or a change set of requests.
enum Part {
    Single(Inner),
    ChangeSet(Vec<Inner>),
}

/// An inner request's answer, ready to encode.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    content_id: Option<String>,
}

fn refuse(message: impl Into<String>) -> WcError {
    WcError(StatusCode::BAD_REQUEST, "INVALID_BATCH", message.into())
}

/// The `boundary` parameter of a `multipart/mixed` content type.
fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// The bodies of a multipart body's parts (between `--boundary` lines, up to `--boundary--`).
fn split_parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, WcError> {
    let delim = format!("--{boundary}");
    let text = body;
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(at) = find(&text[i..], delim.as_bytes()) {
        let at = i + at;
        // A delimiter starts a line.
        if at == 0 || text[at - 1] == b'\n' {
            starts.push(at);
        }
        i = at + delim.len();
    }
    let mut parts = Vec::new();
    let mut closed = false;
    for (n, &s) in starts.iter().enumerate() {
        let after = s + delim.len();
        if text[after..].starts_with(b"--") {
            closed = true;
            break;
        }
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let mut part = &text[after..end];
        part = part
            .strip_prefix(b"\r\n")
            .or(part.strip_prefix(b"\n"))
            .unwrap_or(part);
        part = part
            .strip_suffix(b"\r\n")
            .or(part.strip_suffix(b"\n"))
            .unwrap_or(part);
        parts.push(part);
    }
    if !closed {
        return Err(refuse(format!(
            "The batch body does not end with --{boundary}--."
        )));
    }
    Ok(parts)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Headers and the rest of `text` after the blank line that ends them.
fn headers_and_rest(text: &[u8]) -> Result<(HeaderMap, &[u8]), WcError> {
    // No headers at all: the blank line comes first.
    if let Some(rest) = text.strip_prefix(b"\r\n").or(text.strip_prefix(b"\n")) {
        return Ok((HeaderMap::new(), rest));
    }
    let (head, rest) = match find(text, b"\r\n\r\n") {
        Some(i) if find(text, b"\n\n").is_none_or(|j| i < j) => (&text[..i], &text[i + 4..]),
        _ => match find(text, b"\n\n") {
            Some(i) => (&text[..i], &text[i + 2..]),
            // Headers only, no blank line: an empty rest.
            None => (text, &text[text.len()..]),
        },
    };
    let head = std::str::from_utf8(head).map_err(|_| refuse("A part's headers are not UTF-8."))?;
    let mut map = HeaderMap::new();
    for line in head.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| refuse(format!("Not a header line: '{line}'.")))?;
        let name = HeaderName::from_bytes(k.trim().as_bytes())
            .map_err(|_| refuse(format!("Not a header name: '{k}'.")))?;
        let value = HeaderValue::from_str(v.trim())
            .map_err(|_| refuse(format!("Not a header value for '{k}'.")))?;
        map.append(name, value);
    }
    Ok((map, rest))
}

/// An `application/http` part: its MIME headers, then the request line, headers and body.
fn inner_request(part: &[u8], domain: &str) -> Result<Inner, WcError> {
    let (mime, http) = headers_and_rest(part)?;
    let kind = mime
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !kind.trim().eq_ignore_ascii_case("application/http") {
        return Err(refuse(format!(
            "A batch part must be application/http or a multipart/mixed change set, not '{kind}'."
        )));
    }
    let content_id = mime
        .get("content-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let line_end = find(http, b"\n").unwrap_or(http.len());
    let line = std::str::from_utf8(&http[..line_end])
        .map_err(|_| refuse("A request line is not UTF-8."))?
        .trim();
    let rest = http.get(line_end + 1..).unwrap_or_default();
    let mut words = line.split_whitespace();
    let (Some(method), Some(url)) = (words.next(), words.next()) else {
        return Err(refuse(format!("Not a request line: '{line}'.")));
    };
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| refuse(format!("Not a method: '{method}'.")))?;
    let (headers, body) = headers_and_rest(rest)?;
    // The line break before the next delimiter belongs to it; PTC's example leaves a blank
    // line after each body as well.
    let mut body = body;
    while let Some(b) = body.strip_suffix(b"\n") {
        body = b.strip_suffix(b"\r").unwrap_or(b);
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let root = format!("{BASE_PATH}/{domain}/");
    let below = if let Some(abs) = path.strip_prefix(BASE_PATH) {
        if !path.starts_with(&root) {
            return Err(refuse(format!(
                "The request URL '{url}' is not in the {domain} domain of this batch."
            )));
        }
        abs.to_string()
    } else if path.starts_with('/') || path.contains("://") {
        return Err(refuse(format!(
            "The request URL '{url}' is not in the {domain} domain of this batch."
        )));
    } else {
        format!("/{domain}/{path}")
    };
    let path = urlencoding::decode(&below)
        .map(|p| p.into_owned())
        .map_err(|_| refuse(format!("The request URL '{url}' is not UTF-8.")))?;
    Ok(Inner {
        method,
        path,
        query: query.to_string(),
        headers,
        content_id,
        body: Bytes::copy_from_slice(body),
    })
}

/// The batch's parts.
fn parse(body: &[u8], content_type: &str, domain: &str) -> Result<Vec<Part>, WcError> {
    let outer = boundary(content_type).ok_or_else(|| {
        refuse("A batch request must be multipart/mixed with a boundary.".to_string())
    })?;
    let mut parts = Vec::new();
    let mut count = 0;
    for raw in split_parts(body, &outer)? {
        let (mime, rest) = headers_and_rest(raw)?;
        let kind = mime
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if let Some(cs) = boundary(kind) {
            let mut reqs = Vec::new();
            for inner in split_parts(rest, &cs)? {
                let r = inner_request(inner, domain)?;
                if r.method == Method::GET {
                    return Err(refuse("A change set may not contain a GET request."));
                }
                reqs.push(r);
            }
            count += reqs.len();
            parts.push(Part::ChangeSet(reqs));
        } else {
            parts.push(Part::Single(inner_request(raw, domain)?));
            count += 1;
        }
        if count > MAX_REQUESTS {
            return Err(refuse(format!(
                "A batch may hold at most {MAX_REQUESTS} requests."
            )));
        }
    }
    Ok(parts)
}

/// Runs one inner request through the same routes as a request of its own, with the batch's
/// session and headers under its own.
async fn run(outer: &Ctx<'_>, req: Inner) -> Answer {
    let mut headers = outer.headers.clone();
    for (k, v) in &req.headers {
        headers.insert(k.clone(), v.clone());
    }
    let params = req
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                urlencoding::decode(&s).map_or(s.clone(), |d| d.into_owned())
            };
            (decode(k), decode(v))
        })
        .collect();
    let ctx = Ctx {
        st: outer.st,
        params,
        headers,
        session: outer.session.clone(),
        body: req.body,
    };
    let resp = match req.path.ends_with("/$batch") {
        true => refuse("A batch may not contain a batch.").into_response(),
        false => route(&ctx, &req.method, &req.path).unwrap_or_else(IntoResponse::into_response),
    };
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
        content_id: req.content_id,
    }
}

/// One answer as an `application/http` part.
fn encode_answer(out: &mut Vec<u8>, a: &Answer) {
    out.extend_from_slice(
        b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n",
    );
    if let Some(id) = &a.content_id {
        out.extend_from_slice(format!("Content-ID: {id}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "\r\nHTTP/1.1 {} {}\r\n",
            a.status.as_u16(),
            a.status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    for (k, v) in &a.headers {
        if k == header::CONTENT_LENGTH {
            continue;
        }
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", a.body.len()).as_bytes());
    out.extend_from_slice(&a.body);
    out.extend_from_slice(b"\r\n");
}

fn fresh_boundary(kind: &str) -> String {
    format!("{kind}_{}", hex::encode(rand::random::<[u8; 12]>()))
}

/// `POST {base}/{domain}/$batch`.
pub(super) async fn batch(ctx: &Ctx<'_>, domain: &str) -> Result<Response, WcError> {
    if lock(&ctx.st.store).batch_unsupported {
        return Err(WcError(
            StatusCode::NOT_IMPLEMENTED,
            "NOT_IMPLEMENTED",
            "Batch requests are not supported.".into(),
        ));
    }
    check_nonce(ctx)?;
    let content_type = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let parts = parse(&ctx.body, &content_type, domain)?;
    let outer = fresh_boundary("batch");
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{outer}\r\n").as_bytes());
        match part {
            Part::Single(req) => encode_answer(&mut out, &run(ctx, req).await),
            Part::ChangeSet(reqs) => {
                // A Windchill transaction: what the change set did is undone when one fails.
                let before = (reqs.len() > 1).then(|| lock(&ctx.st.store).clone());
                let mut answers = Vec::new();
                let mut failed = None;
                for req in reqs {
                    let a = run(ctx, req).await;
                    if !a.status.is_success() {
                        failed = Some(a);
                        break;
                    }
                    answers.push(a);
                }
                match failed {
                    Some(a) => {
                        if let Some(before) = before {
                            *lock(&ctx.st.store) = before;
                        }
                        encode_answer(&mut out, &a);
                    }
                    None => {
                        let cs = fresh_boundary("changeset");
                        out.extend_from_slice(
                            format!("Content-Type: multipart/mixed; boundary={cs}\r\n\r\n")
                                .as_bytes(),
                        );
                        for a in &answers {
                            out.extend_from_slice(format!("--{cs}\r\n").as_bytes());
                            encode_answer(&mut out, a);
                        }
                        out.extend_from_slice(format!("--{cs}--\r\n").as_bytes());
                    }
                }
            }
        }
    }
    out.extend_from_slice(format!("--{outer}--\r\n").as_bytes());
    let mut resp = (StatusCode::OK, out).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("multipart/mixed; boundary={outer}")) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ptcs_example_shape() {
        let body = "--batch_request\nContent-Type:multipart/mixed;boundary=changeset_abc\n\n\
            --changeset_abc\nContent-Type: application/http\nContent-Transfer-Encoding:binary\n\
            Content-Id: 1\n\nPOST /Windchill/servlet/odata/ProdMgmt/Parts HTTP/1.1\n\
            Content-Type: application/json\n\n{\"Name\":\"BatchPart1\"}\n\n\
            --changeset_abc\nContent-Type: application/http\nContent-Transfer-Encoding:binary\n\
            Content-Id: 2\n\nPOST Parts HTTP/1.1\nContent-Type: application/json\n\n\
            {\"Name\":\"BatchPart2\"}\n--changeset_abc--\n\n--batch_request--\n";
        let parts = parse(
            body.as_bytes(),
            "multipart/mixed;boundary=batch_request",
            "ProdMgmt",
        )
        .unwrap_or_else(|e| panic!("{}", e.2));
        let [Part::ChangeSet(reqs)] = parts.as_slice() else {
            panic!("one change set");
        };
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].path, "/ProdMgmt/Parts");
        assert_eq!(
            reqs[1].path, "/ProdMgmt/Parts",
            "relative to the domain's root"
        );
        assert_eq!(reqs[0].content_id.as_deref(), Some("1"));
        assert_eq!(&reqs[0].body[..], b"{\"Name\":\"BatchPart1\"}");
        assert_eq!(&reqs[1].body[..], b"{\"Name\":\"BatchPart2\"}");
    }

    #[test]
    fn refuses_other_domains_gets_in_change_sets_and_unclosed_bodies() {
        let part = |line: &str| {
            format!(
                "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\
                 Content-Type: application/http\r\n\r\n{line} HTTP/1.1\r\n\r\n\r\n--c--\r\n--b--\r\n"
            )
        };
        let other = part("POST /Windchill/servlet/odata/DocMgmt/Documents");
        assert!(parse(other.as_bytes(), "multipart/mixed; boundary=b", "ProdMgmt").is_err());
        let get = part("GET /Windchill/servlet/odata/ProdMgmt/Parts");
        assert!(parse(get.as_bytes(), "multipart/mixed; boundary=b", "ProdMgmt").is_err());
        let unclosed = "--b\r\nContent-Type: application/http\r\n\r\nGET Parts HTTP/1.1\r\n\r\n";
        assert!(
            parse(
                unclosed.as_bytes(),
                "multipart/mixed; boundary=b",
                "ProdMgmt"
            )
            .is_err()
        );
        assert!(parse(b"", "application/json", "ProdMgmt").is_err());
    }
}
