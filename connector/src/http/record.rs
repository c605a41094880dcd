//! `--record-wire DIR`: every request [`super::HttpClient`] sends and every answer it gets,
//! written as one text file per exchange — what an admin attaches to a support ticket when a
//! real server surprises partreel.
//!
//! Nothing that authenticates reaches a file: headers whose name speaks of credentials
//! (`Authorization`, `Cookie`, `Set-Cookie`, CSRF nonces and tokens, API keys, sessions,
//! tickets, signatures), query parameters and form fields and JSON members named the same way
//! (tokens, secrets, passwords, nonces, CAS login tickets, URL signatures) are replaced by
//! `[redacted]`, and so is every value once redacted wherever it shows up again. HTML bodies
//! (login pages carry hidden ticket fields) and binary bodies are left out, with their size.
//! Recording is off unless [`start`] is called; it costs nothing then.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

use super::{Request, Response};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";
/// Largest body written (the rest is cut, with a note).
const MAX_BODY: usize = 256 * 1024;
/// Shortest value remembered as a secret for the second pass (shorter ones are too common to
/// replace everywhere; they are still redacted where their name marks them).
const MIN_SECRET: usize = 6;

/// Name fragments that mark a header, parameter, field or JSON member as a credential.
const SECRET_PARTS: &[&str] = &[
    "authorization",
    "cookie",
    "token",
    "nonce",
    "csrf",
    "xsrf",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api-key",
    "api_key",
    "session",
    "ticket",
    "signature",
    "credential",
    "castgc",
];

/// Whole names that mark a credential (too short to match as fragments).
const SECRET_NAMES: &[&str] = &["lt", "execution", "code", "sig", "key", "jsessionid"];

struct Recorder {
    dir: PathBuf,
    seq: AtomicU64,
    secrets: Mutex<HashSet<String>>,
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();

/// Starts recording into `dir` (created when missing). Once per process; a second call with
/// another directory is an error.
pub fn start(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let rec = Recorder {
        dir: dir.to_path_buf(),
        seq: AtomicU64::new(0),
        secrets: Mutex::new(HashSet::new()),
    };
    if RECORDER.set(rec).is_err() && RECORDER.get().is_some_and(|r| r.dir != dir) {
        return Err(std::io::Error::other(
            "wire recording already goes to another directory",
        ));
    }
    Ok(())
}

/// True when recording is on.
pub fn active() -> bool {
    RECORDER.get().is_some()
}

/// True when `name` (a header, parameter, field or JSON member) marks a credential.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_NAMES.contains(&n.as_str()) || SECRET_PARTS.iter().any(|p| n.contains(p))
}

/// Writes one exchange: the request as sent (credentials included, then redacted) and the
/// answer, or what went wrong instead. Failures to write are logged, never returned.
pub(crate) fn exchange(system: &str, req: &Request, outcome: Result<&Response, &str>) {
    let Some(rec) = RECORDER.get() else {
        return;
    };
    let mut learned = HashSet::new();
    let mut text = String::new();
    text.push_str(&format!(
        "> {} {}\n",
        req.method,
        redact_url(&req.url, &mut learned)
    ));
    headers(&mut text, "> ", &req.headers, &mut learned);
    if let Some(b) = &req.body {
        text.push_str(&format!("> content-type: {}\n>\n", b.content_type));
        text.push_str(&body(b.content_type, &b.bytes, &mut learned));
    }
    text.push('\n');
    match outcome {
        Ok(resp) => {
            text.push_str(&format!("< {}\n", resp.status));
            headers(&mut text, "< ", &resp.headers, &mut learned);
            text.push_str("<\n");
            let ct = resp
                .headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            text.push_str(&body(&ct, &resp.body, &mut learned));
        }
        Err(failure) => text.push_str(&format!("< no answer: {failure}\n")),
    }
    let text = {
        let mut known = rec.secrets.lock().unwrap_or_else(|e| e.into_inner());
        known.extend(learned.into_iter().filter(|s| s.len() >= MIN_SECRET));
        scrub(&text, &known)
    };
    let n = rec.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let name = format!(
        "{n:06}-{}-{}-{}.txt",
        slug(system),
        req.method,
        slug(
            req.url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .unwrap_or("root")
        )
    );
    let path = rec.dir.join(name);
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "could not record an exchange");
    }
}

/// A file-name-safe piece of at most 60 characters.
fn slug(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(60)
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

/// The URL with every credential-like query parameter's value redacted.
fn redact_url(url: &Url, learned: &mut HashSet<String>) -> String {
    let mut u = url.clone();
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                if is_secret_name(&k) {
                    learned.insert(v.to_string());
                    (k.into_owned(), REDACTED.to_string())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    u.to_string()
}

fn headers(out: &mut String, prefix: &str, map: &HeaderMap, learned: &mut HashSet<String>) {
    for (name, value) in map {
        let v = value.to_str().unwrap_or("[not text]");
        let shown = if is_secret_name(name.as_str()) || value.is_sensitive() {
            remember_header(v, learned);
            REDACTED.to_string()
        } else if name == reqwest::header::LOCATION {
            match Url::parse(v) {
                Ok(u) => redact_url(&u, learned),
                Err(_) => v.to_string(),
            }
        } else {
            v.to_string()
        };
        out.push_str(&format!("{prefix}{name}: {shown}\n"));
    }
}

/// Remembers a credential header's value and its parts (`Bearer x` → `x`, cookie pairs →
/// each value).
fn remember_header(v: &str, learned: &mut HashSet<String>) {
    learned.insert(v.to_string());
    if let Some((_, rest)) = v.split_once(' ') {
        learned.insert(rest.trim().to_string());
    }
    for part in v.split(';') {
        if let Some((_, val)) = part.split_once('=') {
            learned.insert(val.trim().to_string());
        }
    }
}

/// A body as text, redacted by its content type.
fn body(content_type: &str, bytes: &[u8], learned: &mut HashSet<String>) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    let ct = content_type.to_ascii_lowercase();
    let cut = |s: &str| -> String {
        if s.len() > MAX_BODY {
            let mut end = MAX_BODY;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!(
                "{}\n[… {} more bytes not recorded]\n",
                &s[..end],
                s.len() - end
            )
        } else {
            format!("{s}\n")
        }
    };
    if ct.contains("html") {
        return format!("[HTML body, {} bytes, not recorded]\n", bytes.len());
    }
    if ct.contains("x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes)
            .map(|(k, v)| {
                if is_secret_name(&k) {
                    learned.insert(v.to_string());
                    (k.into_owned(), REDACTED.to_string())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        let text: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        return cut(&text);
    }
    if let Ok(mut v) = serde_json::from_slice::<Value>(bytes) {
        redact_json(&mut v, false, learned);
        return cut(&serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    match std::str::from_utf8(bytes) {
        Ok(s) if ct.is_empty() || ct.starts_with("text/") || ct.contains("xml") => cut(s),
        _ => format!("[binary body, {} bytes, not recorded]\n", bytes.len()),
    }
}

/// Replaces every string under a credential-named member (the whole subtree of one).
fn redact_json(v: &mut Value, inside_secret: bool, learned: &mut HashSet<String>) {
    match v {
        Value::String(s) if inside_secret => {
            learned.insert(std::mem::take(s));
            *s = REDACTED.to_string();
        }
        // A URL carries its own credentials in the query (a pre-signed download link).
        Value::String(s) if s.contains('?') && s.starts_with("http") => {
            if let Ok(u) = Url::parse(s) {
                *s = redact_url(&u, learned);
            }
        }
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                redact_json(child, inside_secret || is_secret_name(k), learned);
            }
        }
        Value::Array(items) => {
            for child in items {
                redact_json(child, inside_secret, learned);
            }
        }
        _ => {}
    }
}

/// Replaces every known secret value, longest first, wherever it appears.
fn scrub(text: &str, known: &HashSet<String>) -> String {
    let mut values: Vec<&String> = known.iter().filter(|s| text.contains(s.as_str())).collect();
    values.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in values {
        out = out.replace(s.as_str(), REDACTED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_are_recognised_and_ordinary_ones_are_not() {
        for n in [
            "Authorization",
            "Set-Cookie",
            "CSRF_NONCE",
            "ENO_CSRF_TOKEN",
            "X-Api-Key",
            "access_token",
            "client_secret",
            "NonceValue",
            "X-Amz-Signature",
            "lt",
            "ticket",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "ID",
            "Name",
            "value",
            "dateModified",
            "PartreelLinkId",
            "alt",
            "result",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn json_form_and_url_secrets_are_redacted_and_remembered() {
        let mut learned = HashSet::new();
        let json = br#"{"access_token":"tok-123456","value":[{"ID":"OR:1"}],
            "csrf":{"name":"ENO_CSRF_TOKEN","value":"csrf-abcdef"}}"#;
        let text = body("application/json", json, &mut learned);
        assert!(
            !text.contains("tok-123456") && !text.contains("csrf-abcdef"),
            "{text}"
        );
        assert!(text.contains("OR:1"), "ordinary values stay: {text}");
        let form = b"grant_type=client_credentials&client_id=app&client_secret=s3cr3t-value";
        let text = body("application/x-www-form-urlencoded", form, &mut learned);
        assert!(
            !text.contains("s3cr3t-value") && text.contains("client_id=app"),
            "{text}"
        );
        let url = Url::parse("https://s3/f.mp4?X-Amz-Signature=abcdef123&part=1").expect("url");
        let shown = redact_url(&url, &mut learned);
        assert!(
            !shown.contains("abcdef123") && shown.contains("part=1"),
            "{shown}"
        );
        let signed = br#"{"s3_file":"https://s3/clip.mp4?X-Amz-Credential=AKIA1234567&X-Amz-Signature=feedbeef99"}"#;
        let text = body("application/json", signed, &mut learned);
        assert!(
            !text.contains("feedbeef99") && !text.contains("AKIA1234567"),
            "{text}"
        );
        let html = body(
            "text/html; charset=utf-8",
            b"<input name=lt value=LT-1>",
            &mut learned,
        );
        assert!(!html.contains("LT-1"), "{html}");
        // A secret seen once is scrubbed wherever it shows up again.
        let known: HashSet<String> = learned.into_iter().collect();
        let again = scrub("echo tok-123456 and s3cr3t-value", &known);
        assert_eq!(again, format!("echo {REDACTED} and {REDACTED}"));
    }
}
