//! Helpers of batched calls: mapping
//! `ServiceData.partialErrors` back to the element each concerns (docs/wire/teamcenter.md,
//! Transport: `clientId`, else `clientIndex`).

use std::collections::HashMap;

use crate::wire;

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
