//! The OData `$batch` wire format as Windchill REST Services takes it (PTC Help Center,
//! WCCG_RESTAPIsBatchSupport.html and WCCG_RESTAPIsBatchSupport_examples.html): a
//! `multipart/mixed` body whose parts are change sets (nested `multipart/mixed`), each part an
//! `application/http` request with a `Content-Id`; the answer has one part per change set
//! holding each request's status line, headers and body.
//!
//! [`encode`] writes a batch of writes, each in a change set of its own (so one refused write
//! does not roll back the others); [`decode`] reads the answer into one [`Answer`] per request,
//! by `Content-ID`. A failed change set is answered with the failing request's answer alone
//! (OData 4.0 Part 1 §11.7.4; PTC's pages do not show it), which [`decode`] reads the same way.
//! Anything that is not that shape is an error naming what was wrong, never a panic.

use std::collections::HashMap;

/// The outer boundary of every batch partreel sends. [`encode`] refuses a batch whose bodies
/// contain it (a prompt could), and the caller sends those writes one by one.
pub(crate) const BOUNDARY: &str = "batch_partreel_5b8e0c1d9f";

/// The `Content-Type` of a batch [`encode`] wrote.
pub(crate) const CONTENT_TYPE: &str = "multipart/mixed; boundary=batch_partreel_5b8e0c1d9f";

/// One write of a batch.
pub(crate) struct Op<'a> {
    /// `POST`, `PATCH`.
    pub method: &'a str,
    /// Absolute path of the request (`/Windchill/servlet/odata/DocMgmt/Documents`), as in
    /// PTC's example.
    pub path: &'a str,
    /// JSON body.
    pub body: &'a [u8],
}

/// One request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body (JSON, or empty).
    pub body: Vec<u8>,
}

/// The batch body: op `i` in change set `i + 1`, with `Content-Id: i + 1`. None when a body
/// contains a boundary, which would cut the part short.
pub(crate) fn encode(ops: &[Op<'_>]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let id = i + 1;
        let cs = format!("changeset_{BOUNDARY}_{id}");
        if find(op.body, BOUNDARY.as_bytes()).is_some() || find(op.body, cs.as_bytes()).is_some() {
            return None;
        }
        out.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n\
                 --{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\
                 Content-Id: {id}\r\n\r\n{} {} HTTP/1.1\r\nContent-Type: application/json\r\n\
                 Accept: application/json\r\n\r\n",
                op.method, op.path
            )
            .as_bytes(),
        );
        out.extend_from_slice(op.body);
        out.extend_from_slice(format!("\r\n--{cs}--\r\n").as_bytes());
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Some(out)
}

/// The answers of a batch response, by `Content-ID` (as sent: `1`, `2`, …). A request the
/// answer does not mention is missing from the map: its outcome is unknown.
pub(crate) fn decode(content_type: &str, body: &[u8]) -> Result<HashMap<usize, Answer>, String> {
    let outer = boundary(content_type)
        .ok_or_else(|| format!("not multipart/mixed with a boundary: {content_type:?}"))?;
    let mut out = HashMap::new();
    let mut unnamed = 0usize;
    for part in split(body, &outer)? {
        let (mime, rest) = head(part)?;
        let kind = header(&mime, "content-type").unwrap_or_default();
        let answers: Vec<(Option<String>, &[u8])> = match boundary(&kind) {
            Some(cs) => split(rest, &cs)?
                .into_iter()
                .map(|p| head(p).map(|(h, r)| (header(&h, "content-id"), r)))
                .collect::<Result<_, _>>()?,
            None => vec![(header(&mime, "content-id"), rest)],
        };
        for (id, http) in answers {
            let answer = response(http)?;
            let id = match id {
                Some(id) => id
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("Content-ID {id:?} is not one partreel sent"))?,
                None => {
                    // A server that leaves Content-ID out answers in order.
                    unnamed += 1;
                    unnamed
                }
            };
            if out.insert(id, answer).is_some() {
                return Err(format!("two answers for Content-ID {id}"));
            }
        }
    }
    Ok(out)
}

/// `boundary` of a `multipart/mixed` content type.
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The parts between `--boundary` lines, up to `--boundary--`.
fn split<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, String> {
    let delim = format!("--{boundary}");
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(at) = find(&body[i..], delim.as_bytes()) {
        let at = i + at;
        if at == 0 || body[at - 1] == b'\n' {
            starts.push(at);
        }
        i = at + delim.len();
    }
    let mut parts = Vec::new();
    for (n, &s) in starts.iter().enumerate() {
        let after = s + delim.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts);
        }
        let end = starts.get(n + 1).copied().unwrap_or(body.len());
        let mut part = &body[after..end];
        part = part
            .strip_prefix(b"\r\n")
            .or(part.strip_prefix(b"\n"))
            .unwrap_or(part);
        parts.push(part);
    }
    Err(format!("no closing --{boundary}--"))
}

/// Header lines: lower-cased name, value.
type Headers = Vec<(String, String)>;

/// Header lines and what follows the blank line after them.
fn head(text: &[u8]) -> Result<(Headers, &[u8]), String> {
    // No headers at all: the blank line comes first.
    if let Some(rest) = text.strip_prefix(b"\r\n").or(text.strip_prefix(b"\n")) {
        return Ok((Vec::new(), rest));
    }
    let crlf = find(text, b"\r\n\r\n");
    let lf = find(text, b"\n\n");
    let (head, rest) = match (crlf, lf) {
        (Some(i), Some(j)) if j < i => (&text[..j], &text[j + 2..]),
        (Some(i), _) => (&text[..i], &text[i + 4..]),
        (None, Some(j)) => (&text[..j], &text[j + 2..]),
        (None, None) => (text, &text[text.len()..]),
    };
    let head = std::str::from_utf8(head).map_err(|_| "headers are not UTF-8".to_string())?;
    let mut out = Vec::new();
    for line in head.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("not a header line: {:?}", truncate(line)))?;
        out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok((out, rest))
}

fn header(headers: &Headers, name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// `HTTP/1.1 201 Created`, headers, body.
fn response(http: &[u8]) -> Result<Answer, String> {
    let end = find(http, b"\n").unwrap_or(http.len());
    let line = std::str::from_utf8(&http[..end])
        .map_err(|_| "status line is not UTF-8".to_string())?
        .trim();
    let mut words = line.split_whitespace();
    let status = match (words.next(), words.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code
            .parse::<u16>()
            .ok()
            .filter(|c| (100..600).contains(c))
            .ok_or_else(|| format!("not a status line: {:?}", truncate(line)))?,
        _ => return Err(format!("not a status line: {:?}", truncate(line))),
    };
    let (_, mut body) = head(http.get(end + 1..).unwrap_or_default())?;
    while let Some(b) = body.strip_suffix(b"\n") {
        body = b.strip_suffix(b"\r").unwrap_or(b);
    }
    Ok(Answer {
        status,
        body: body.to_vec(),
    })
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_change_sets_with_content_ids() {
        let ops = [
            Op {
                method: "POST",
                path: "/Windchill/servlet/odata/DocMgmt/Documents",
                body: br#"{"Name":"a"}"#,
            },
            Op {
                method: "POST",
                path: "/Windchill/servlet/odata/DocMgmt/Documents",
                body: br#"{"Name":"b"}"#,
            },
        ];
        let body = String::from_utf8(encode(&ops).expect("encodes")).expect("utf-8");
        assert_eq!(body.matches("Content-Id: ").count(), 2);
        assert!(body.contains(
            "Content-Id: 2\r\n\r\nPOST /Windchill/servlet/odata/DocMgmt/Documents HTTP/1.1\r\n"
        ));
        assert!(body.ends_with(&format!("--{BOUNDARY}--\r\n")));
        let evil = format!("{{\"Name\":\"--{BOUNDARY}\"}}");
        assert!(
            encode(&[Op {
                method: "POST",
                path: "/x",
                body: evil.as_bytes()
            }])
            .is_none()
        );
    }

    #[test]
    fn decodes_ptcs_answer_and_a_failed_change_set() {
        // The answer shape of WCCG_RESTAPIsBatchSupport_examples.html (LF line ends), then a
        // failed change set answered alone (OData 4.0 §11.7.4).
        let body = "--batch_3487\nContent-Type: multipart/mixed; boundary=changeset_2f39\n\n\
            --changeset_2f39\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\
            Content-ID: 1\n\nHTTP/1.1 201 Created\nOData-Version: 4.0\n\
            Content-Type: application/json;odata.metadata=minimal\nContent-Length: 13\n\n\
            {\"ID\":\"OR:1\"}\n--changeset_2f39--\n\
            --batch_3487\nContent-Type: application/http\nContent-ID: 2\n\n\
            HTTP/1.1 400 Bad Request\nContent-Type: application/json\n\n\
            {\"error\":{\"code\":\"X\",\"message\":\"no\"}}\n--batch_3487--\n";
        let answers =
            decode("multipart/mixed; boundary=batch_3487", body.as_bytes()).expect("decodes");
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[&1].status, 201);
        assert_eq!(answers[&1].body, br#"{"ID":"OR:1"}"#);
        assert_eq!(answers[&2].status, 400);
    }

    #[test]
    fn malformed_answers_are_errors() {
        for (ct, body) in [
            ("application/json", "{}"),
            (
                "multipart/mixed; boundary=b",
                "--b\nContent-Type: application/http\n\nHTTP/1.1 201\n",
            ),
            (
                "multipart/mixed; boundary=b",
                "--b\nContent-Type: application/http\n\nnonsense\n--b--",
            ),
            (
                "multipart/mixed; boundary=b",
                "--b\nContent-Type: application/http\nContent-ID: x\n\nHTTP/1.1 200 OK\n\n--b--",
            ),
            (
                "multipart/mixed; boundary=b",
                "--b\nContent-ID: 1\n\nHTTP/1.1 200 OK\n\n--b\nContent-ID: 1\n\nHTTP/1.1 200 OK\n\n--b--",
            ),
        ] {
            assert!(decode(ct, body.as_bytes()).is_err(), "{body}");
        }
    }
}
