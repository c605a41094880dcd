//! Helpers of batched calls: spreading a whole-call failure over every element, and mapping
//! `ServiceData.partialErrors` back to the element each concerns (docs/wire/teamcenter.md,
//! Transport: `clientId`, else `clientIndex`).

use std::collections::HashMap;

use partreel_connector::error::ConnectorError;

use crate::wire;

/// A copy of an error, for every element of a batch a whole-call failure concerns.
pub(crate) fn dup(e: &ConnectorError) -> ConnectorError {
    use ConnectorError as E;
    match e {
        E::Http {
            system,
            method,
            path,
            status,
            message,
            retry_after,
        } => E::Http {
            system: system.clone(),
            method: method.clone(),
            path: path.clone(),
            status: *status,
            message: message.clone(),
            retry_after: *retry_after,
        },
        E::Transport {
            system,
            method,
            path,
            message,
        } => E::Transport {
            system: system.clone(),
            method: method.clone(),
            path: path.clone(),
            message: message.clone(),
        },
        E::Ambiguous {
            system,
            method,
            path,
            message,
        } => E::Ambiguous {
            system: system.clone(),
            method: method.clone(),
            path: path.clone(),
            message: message.clone(),
        },
        E::Auth { system, message } => E::Auth {
            system: system.clone(),
            message: message.clone(),
        },
        E::Malformed {
            system,
            what,
            detail,
        } => E::Malformed {
            system: system.clone(),
            what: what.clone(),
            detail: detail.clone(),
        },
        E::Record {
            system,
            record,
            message,
        } => E::Record {
            system: system.clone(),
            record: record.clone(),
            message: message.clone(),
        },
        E::Config(m) => E::Config(m.clone()),
    }
}

/// Partial errors keyed by the element they concern: by `clientId`, else by `clientIndex`.
pub(super) fn errors_by_item<'a>(
    sd: &wire::ServiceData,
    ids: impl Iterator<Item = &'a str>,
) -> HashMap<String, String> {
    let ids: Vec<&str> = ids.collect();
    let mut out: HashMap<String, String> = HashMap::new();
    for e in sd.errors() {
        let key = e
            .client_id
            .as_deref()
            .filter(|c| ids.contains(c))
            .or_else(|| e.index().and_then(|i| ids.get(i).copied()));
        if let Some(k) = key {
            let msg = e.message();
            out.entry(k.to_string())
                .and_modify(|m| {
                    m.push_str("; ");
                    m.push_str(&msg);
                })
                .or_insert(msg);
        }
    }
    out
}
