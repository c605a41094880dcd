//! The media proxy: `GET /media/{system}/{asset_id}` streams a clip's rendition from the DAM.
//!
//! - It only ever fetches the rendition URL the state store holds for that clip, and only
//!   when its host is one of `viewer.dam_hosts`. Redirects are not followed by the HTTP
//!   client: each `Location` is checked against the same list, so a DAM (or anything
//!   pretending to be one) cannot bounce the viewer to another host.
//! - `Range` is passed upstream. When the upstream ignores it (200 with a known length), the
//!   proxy cuts the requested single range out of the stream itself and answers 206 with
//!   `Content-Range` (416 when the range lies outside the file), so browsers can seek.
//! - The DAM's own credentials go with a request to the DAM's own host only
//!   ([`partreel_core::connector::DamConnector::media_request`]: AEM serves renditions to an
//!   authenticated caller), never to a pre-signed, CDN or redirect target elsewhere.
//! - Nothing of the viewer's caller (cookies, `Authorization`) is forwarded; the body is
//!   streamed, never buffered; a content type other than video/audio/image is replaced by
//!   `application/octet-stream` so DAM-served HTML can never run on the viewer's origin.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::ready;

use super::ViewerState;
use super::auth;
use super::error::AppError;

/// Redirect hops followed (each to an allowed host only).
pub const MAX_REDIRECTS: usize = 3;
/// Upstream headers passed through to the browser.
const PASSED_HEADERS: &[header::HeaderName] = &[
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::ETAG,
    header::LAST_MODIFIED,
];

/// A `Range` header, judged against a file size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// Bytes `start..=end`.
    Bytes {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// Outside the file: 416.
    Unsatisfiable,
    /// Malformed, or several ranges: answer the whole file (RFC 9110 allows ignoring Range).
    Ignore,
}

/// Parses a single `bytes=` range against `size`. Written here rather than taken from a crate:
/// the proxy serves one range only (RFC 9110 lets it ignore several), which is these few lines,
/// property-tested in `src/props.rs` (a satisfiable range always lies inside the file).
pub fn parse_range(value: &str, size: u64) -> RangeSpec {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeSpec::Ignore;
    };
    if spec.contains(',') {
        return RangeSpec::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix: the last n bytes.
        return match b.parse::<u64>() {
            Ok(0) => RangeSpec::Unsatisfiable,
            Ok(_) if size == 0 => RangeSpec::Unsatisfiable,
            Ok(n) => RangeSpec::Bytes {
                start: size.saturating_sub(n),
                end: size - 1,
            },
            Err(_) => RangeSpec::Ignore,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeSpec::Ignore;
    };
    let end = if b.is_empty() {
        None
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => Some(e),
            _ => return RangeSpec::Ignore,
        }
    };
    if start >= size {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Bytes {
        start,
        end: end.map_or(size - 1, |e| e.min(size - 1)),
    }
}

/// Checks a URL against the DAM host list.
fn allowed(st: &ViewerState, url: &url::Url) -> bool {
    matches!(url.scheme(), "http" | "https") && st.config.dam_hosts.iter().any(|h| h.matches(url))
}

fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => "(no host)".into(),
    }
}

/// GETs `url` with `range`, following redirects only to allowed hosts; each hop carries the
/// DAM `system`'s credentials only when that hop is on the DAM's own host.
async fn fetch(
    st: &ViewerState,
    system: &str,
    url: &str,
    range: Option<&str>,
) -> Result<reqwest::Response, AppError> {
    let mut url = url::Url::parse(url)
        .map_err(|e| AppError::Upstream(format!("stored rendition URL is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AppError::Forbidden(format!(
            "the rendition is a {}:// URL; only http and https renditions are served",
            url.scheme()
        )));
    }
    if !allowed(st, &url) {
        return Err(AppError::Forbidden(format!(
            "{} is not a configured DAM host",
            host_of(&url)
        )));
    }
    for _ in 0..=MAX_REDIRECTS {
        let mut req = match st.dams.get(system) {
            Some(dam) => {
                let prepared = dam.media_request(url.clone()).await.map_err(|e| {
                    AppError::Upstream(format!("{system}: credentials for the media: {e}"))
                })?;
                st.http.get(prepared.url).headers(prepared.headers)
            }
            None => st.http.get(url.clone()),
        };
        if let Some(r) = range {
            req = req.header(header::RANGE, r);
        }
        let resp = req
            .send()
            .await
            // Without the URL: a signed URL's query is a credential, even in the log.
            .map_err(|e| {
                AppError::Upstream(format!("{}: {}", host_of(&url), chain(&e.without_url())))
            })?;
        if !resp.status().is_redirection() || resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        let next = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url.join(l).ok())
            .ok_or_else(|| AppError::Upstream("redirect without a usable Location".into()))?;
        if !allowed(st, &next) {
            return Err(AppError::Forbidden(format!(
                "redirect to {} refused: not a configured DAM host",
                host_of(&next)
            )));
        }
        url = next;
    }
    Err(AppError::Upstream(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

/// An error with its sources, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

fn content_type(upstream: &reqwest::header::HeaderMap) -> HeaderValue {
    upstream
        .get(header::CONTENT_TYPE)
        .filter(|v| {
            v.to_str().is_ok_and(|t| {
                let t = t.to_ascii_lowercase();
                t.starts_with("video/") || t.starts_with("audio/") || t.starts_with("image/")
            })
        })
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// `GET /media/{system}/{asset_id}`: needs a signature from a page, or a credential.
pub async fn media(
    State(st): State<Arc<ViewerState>>,
    Path((system, asset_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    if !st.signer.verify(&system, &asset_id, uri.query()) {
        auth::check(&st, &headers, uri.query()).await?;
    }
    let what = || format!("clip {system} / {asset_id}");
    let detail = st
        .store
        .clip(&system, &asset_id)
        .await?
        .ok_or_else(|| AppError::NotFound { what: what() })?;
    let rendition = detail
        .clip
        .rendition_url
        .ok_or_else(|| AppError::NotFound {
            what: format!("a playable rendition of {}", what()),
        })?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let up = fetch(&st, &system, &rendition, range.as_deref()).await?;
    let status = up.status();
    if !(status.is_success() || status == StatusCode::NOT_MODIFIED)
        && status != StatusCode::RANGE_NOT_SATISFIABLE
    {
        return Err(AppError::Upstream(format!("the DAM answered {status}")));
    }
    let ctype = content_type(up.headers());
    let mut passed = HeaderMap::new();
    for h in PASSED_HEADERS {
        if let Some(v) = up.headers().get(h) {
            passed.insert(h.clone(), v.clone());
        }
    }
    let length = up.content_length();

    // The upstream ignored our Range: cut it out ourselves.
    if status == StatusCode::OK
        && let (Some(r), Some(size)) = (range.as_deref(), length)
    {
        match parse_range(r, size) {
            RangeSpec::Unsatisfiable => return Err(AppError::RangeNotSatisfiable { size }),
            RangeSpec::Bytes { start, end } => {
                let len = end - start + 1;
                let body = slice(up.bytes_stream(), start, len);
                let mut resp = Response::new(Body::from_stream(body));
                *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
                let h = resp.headers_mut();
                h.insert(header::CONTENT_TYPE, ctype);
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
                    h.insert(header::CONTENT_RANGE, v);
                }
                h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
                for k in [header::ETAG, header::LAST_MODIFIED] {
                    if let Some(v) = passed.get(&k) {
                        h.insert(k, v.clone());
                    }
                }
                return Ok(resp);
            }
            RangeSpec::Ignore => {}
        }
    }
    let mut resp = Response::new(Body::from_stream(up.bytes_stream()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.extend(passed);
    h.insert(header::CONTENT_TYPE, ctype);
    if status == StatusCode::OK && length.is_some() {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    Ok(resp)
}

/// Skips `start` bytes of a stream and yields the next `len`, then ends (dropping the
/// upstream connection).
fn slice<S, E>(stream: S, start: u64, len: u64) -> impl futures::Stream<Item = Result<Bytes, E>>
where
    S: futures::Stream<Item = Result<Bytes, E>>,
{
    stream.scan((start, len), |(skip, left), item| {
        if *left == 0 {
            return ready(None);
        }
        let out = item.map(|mut b| {
            let n = b.len() as u64;
            if *skip >= n {
                *skip -= n;
                return Bytes::new();
            }
            // Both fit in usize: they are at most `b.len()`.
            b = b.slice(usize::try_from(*skip).unwrap_or(0)..);
            *skip = 0;
            let take = usize::try_from((*left).min(b.len() as u64)).unwrap_or(b.len());
            b.truncate(take);
            *left -= take as u64;
            b
        });
        ready(Some(out))
    })
}

#[cfg(test)]
mod tests {
    //! Range parsing and stream slicing.

    use super::*;

    #[test]
    fn range_table() {
        use RangeSpec::*;
        let cases = [
            ("bytes=0-99", 1000, Bytes { start: 0, end: 99 }),
            (
                "bytes=100-",
                1000,
                Bytes {
                    start: 100,
                    end: 999,
                },
            ),
            (
                "bytes=-10",
                1000,
                Bytes {
                    start: 990,
                    end: 999,
                },
            ),
            ("bytes=-5000", 1000, Bytes { start: 0, end: 999 }),
            (
                "bytes=900-5000",
                1000,
                Bytes {
                    start: 900,
                    end: 999,
                },
            ),
            ("bytes=1000-", 1000, Unsatisfiable),
            ("bytes=-0", 1000, Unsatisfiable),
            ("bytes=5-1", 1000, Ignore),
            ("bytes=0-1,5-6", 1000, Ignore),
            ("items=0-1", 1000, Ignore),
            ("bytes=x-", 1000, Ignore),
        ];
        for (h, size, want) in cases {
            assert_eq!(parse_range(h, size), want, "{h}");
        }
    }

    #[tokio::test]
    async fn slice_cuts_across_chunks() {
        let chunks: Vec<Result<Bytes, ()>> = vec![
            Ok(Bytes::from_static(b"0123")),
            Ok(Bytes::from_static(b"4567")),
            Ok(Bytes::from_static(b"89ab")),
        ];
        let out: Vec<u8> = slice(futures::stream::iter(chunks), 3, 6)
            .map(|r| r.expect("ok"))
            .collect::<Vec<_>>()
            .await
            .concat();
        assert_eq!(out, b"345678");
    }
}
