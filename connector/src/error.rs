//! Typed errors shared by connectors, the HTTP plumbing and the engine.
//!
//! The engine decides what to do with a failure by matching on these variants: a
//! [`ConnectorError::is_record_error`] quarantines one record and the run goes on; anything else
//! stops the stream it came from (cursors stay where they were, so nothing is lost).

use std::time::Duration;

/// An error from talking to a remote system.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// The server answered with an error status after retries (or one that is never retried).
    #[error("{system}: {method} {path} answered {status}: {message}")]
    Http {
        /// Configured system name.
        system: String,
        /// HTTP method.
        method: String,
        /// Request path (never the query: it may carry filters with customer data).
        path: String,
        /// HTTP status code.
        status: u16,
        /// The server's error message, shortened.
        message: String,
        /// `Retry-After` the server asked for, if any.
        retry_after: Option<Duration>,
    },
    /// The connection failed, was reset, or the body was cut short, after retries.
    #[error("{system}: {method} {path} failed: {message}")]
    Transport {
        /// Configured system name.
        system: String,
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A write whose outcome is unknown: the request may or may not have been applied
    /// (reset or 5xx after sending a non-idempotent request). The caller must look before
    /// retrying.
    #[error("{system}: {method} {path}: outcome unknown ({message})")]
    Ambiguous {
        /// Configured system name.
        system: String,
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Credentials were refused, even after re-authenticating once.
    #[error("{system}: authentication failed: {message}")]
    Auth {
        /// Configured system name.
        system: String,
        /// What the server said (never the credential).
        message: String,
    },
    /// The server's answer could not be understood.
    #[error("{system}: malformed response to {what}: {detail}")]
    Malformed {
        /// Configured system name.
        system: String,
        /// Which request or record.
        what: String,
        /// Parser message.
        detail: String,
    },
    /// One record was rejected by the server or cannot be written as it is (bad data, 4xx).
    #[error("{system}: record {record}: {message}")]
    Record {
        /// Configured system name.
        system: String,
        /// Record id (asset id, part number, link id).
        record: String,
        /// Why.
        message: String,
    },
    /// A write the server accepted (an asynchronous 202) that did not read back applied
    /// within the confirmation attempts. Not the record's fault: the record stays queued and
    /// is written and checked again on the next run.
    #[error("{system}: record {record}: {message}")]
    Unconfirmed {
        /// Configured system name.
        system: String,
        /// Record id.
        record: String,
        /// What was still not visible.
        message: String,
    },
    /// Configuration or secret problem found while building or using a connector.
    #[error("{0}")]
    Config(String),
}

impl ConnectorError {
    /// A write the server accepted but did not apply: the record reads back other values for
    /// `names` (its `noun`: "properties", "attributes"). A record error, never taken as done.
    pub fn not_applied(system: &str, record: &str, noun: &str, names: &[&str]) -> Self {
        Self::Record {
            system: system.to_string(),
            record: record.to_string(),
            message: format!(
                "the update was accepted but does not read back ({noun} {})",
                names.join(", ")
            ),
        }
    }

    /// True when the failure concerns one record only (quarantine it and go on).
    pub fn is_record_error(&self) -> bool {
        match self {
            Self::Record { .. } => true,
            Self::Http { status, .. } => matches!(status, 400 | 404 | 409 | 412 | 422),
            _ => false,
        }
    }

    /// The HTTP status, when the error carries one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Result alias for connector calls.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;
