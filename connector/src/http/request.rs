//! The request and response values [`super::HttpClient`] works with: plain data, cloneable so a
//! request can be replayed after a retry or a re-authentication.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::ConnectorError;

/// A request body with its content type.
#[derive(Debug, Clone)]
pub struct Body {
    /// The bytes.
    pub bytes: Bytes,
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: Url,
    /// Headers (credentials are added by the [`super::Auth`], not here).
    pub headers: HeaderMap,
    /// Body, if any.
    pub body: Option<Body>,
    /// True when sending it twice has the same effect as once (GET, PUT, PATCH of fixed
    /// values, DELETE). Non-idempotent requests are never retried blindly.
    pub idempotent: bool,
    /// True for a request that leaves the system's API for file storage (a pre-signed
    /// download URL the API handed out): the API's rate limit does not cover it, so it takes
    /// no token from the limiter and is counted under [`crate::connector::ConnectorStats`]'s
    /// `file_requests`, not `requests`.
    pub off_api: bool,
}

impl Request {
    /// A request with no body.
    pub fn new(method: Method, url: Url) -> Self {
        let idempotent = !matches!(method, Method::POST);
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            idempotent,
            off_api: false,
        }
    }

    /// `GET url`.
    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, ConnectorError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ConnectorError::Config(format!("cannot encode request body: {e}")))?;
        self.body = Some(Body {
            bytes: bytes.into(),
            content_type: "application/json",
        });
        Ok(self)
    }

    /// Sets a form-urlencoded body.
    pub fn form(mut self, pairs: &[(String, String)]) -> Self {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        self.body = Some(Body {
            bytes: Bytes::from(ser.finish()),
            content_type: "application/x-www-form-urlencoded",
        });
        self
    }

    /// Sets a body of another type (a `multipart/mixed` batch).
    pub fn bytes(mut self, bytes: impl Into<Bytes>, content_type: &'static str) -> Self {
        self.body = Some(Body {
            bytes: bytes.into(),
            content_type,
        });
        self
    }

    /// Adds a header. Names and values are static or already validated by the caller.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }

    /// Overrides idempotency (e.g. a POST that is a pure query, or a write that is safe to
    /// repeat).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Marks a request to file storage outside the system's API (see [`Request::off_api`]).
    pub fn off_api(mut self) -> Self {
        self.off_api = true;
        self
    }
}

impl From<Url> for Request {
    fn from(url: Url) -> Self {
        Request::get(url)
    }
}

/// A response read in full.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// The server's clock (from `Date`), when it sent one.
    pub server_time: Option<DateTime<Utc>>,
}

/// Longest server message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

impl Response {
    /// Decodes the body as JSON; a failure names the system and what was being read.
    pub fn json<T: DeserializeOwned>(&self, system: &str, what: &str) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| ConnectorError::Malformed {
            system: system.to_string(),
            what: what.to_string(),
            detail: e.to_string(),
        })
    }

    /// `Retry-After` in seconds (the HTTP-date form is read too).
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self
            .headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?;
        if let Ok(secs) = v.trim().parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = super::parse_http_date(v)?;
        let now = self.server_time.unwrap_or_else(Utc::now);
        (at - now).to_std().ok()
    }

    /// The server's error message, from the common JSON error shapes (OData `error.message`,
    /// Bynder `message`, OAuth `error_description`/`error`), else the start of the body.
    pub fn error_message(&self) -> String {
        let msg = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| {
                let pick = |v: &serde_json::Value| v.as_str().map(str::to_string);
                v.pointer("/error/message")
                    .and_then(pick)
                    .or_else(|| v.get("message").and_then(pick))
                    .or_else(|| v.get("error_description").and_then(pick))
                    .or_else(|| v.get("error").and_then(pick))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().to_string());
        let msg = if msg.is_empty() {
            self.status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        } else {
            msg
        };
        msg.chars().take(MAX_MESSAGE_CHARS).collect()
    }

    /// The OData / JSON error code (`error.code`), when there is one.
    pub fn error_code(&self) -> Option<String> {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()?
            .pointer("/error/code")?
            .as_str()
            .map(str::to_string)
    }
}
