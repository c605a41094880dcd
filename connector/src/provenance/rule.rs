//! The documented rule (see the module doc of [`super`]) that turns [`Evidence`] into the
//! watermark-preserved flag, with the reason a PLM user reads next to it.

use serde::{Deserialize, Serialize};

use super::evidence::{Evidence, ManifestStatus, ProvenanceError};

/// Validation codes of a hard binding (c2pa's `validation_status`), by prefix.
const HARD_BINDING_PREFIXES: [&str; 4] = [
    "assertion.dataHash.",
    "assertion.bmffHash.",
    "assertion.boxesHash.",
    "assertion.collectionHash.",
];

/// True when a validation code is a failed hard binding: a hash mismatch, or a malformed,
/// missing (`claim.hardBindings.missing`) or doubled (`assertion.multipleHardBindings`) binding.
/// The codes are c2pa's `validation_status` constants, written out so this crate needs no c2pa
/// (`partreel_core::provenance` checks they agree).
pub fn is_hard_binding_failure(code: &str) -> bool {
    HARD_BINDING_PREFIXES.iter().any(|p| code.starts_with(p))
        || code == "claim.hardBindings.missing"
        || code == "assertion.multipleHardBindings"
}

/// The flag and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the clip's watermark counts as preserved.
    pub preserved: bool,
    /// Why, in one line: the first condition of the rule that failed, or what made it pass.
    pub reason: String,
}

impl Verdict {
    fn fail(reason: impl Into<String>) -> Self {
        Verdict {
            preserved: false,
            reason: reason.into(),
        }
    }

    /// The verdict of a clip whose file could not be checked (too large, truncated, not
    /// media…): not preserved, with the error as the reason.
    pub fn from_error(error: &ProvenanceError) -> Self {
        Verdict::fail(format!("not checked: {error}"))
    }
}

/// Applies the rule to a clip's evidence (None: never checked) and the DAM's visible-watermark
/// field (None: unset).
pub fn watermark_preserved(evidence: Option<&Evidence>, visible_field: Option<bool>) -> Verdict {
    let Some(ev) = evidence else {
        return Verdict::fail("not checked");
    };
    let trust = match &ev.manifest {
        ManifestStatus::Absent => return Verdict::fail("no provenance (manifest absent)"),
        ManifestStatus::Invalid { codes } => {
            let list = if codes.is_empty() {
                "no failure code".to_string()
            } else {
                codes.join(", ")
            };
            let tampered = codes
                .iter()
                .any(|c| is_hard_binding_failure(c) && c.ends_with(".mismatch"));
            return Verdict::fail(if tampered {
                format!("tampered: {list}")
            } else {
                format!("invalid manifest: {list}")
            });
        }
        ManifestStatus::Valid => "valid",
        ManifestStatus::Trusted => "trusted",
    };
    if ev.hard_binding_ok != Some(true) {
        return Verdict::fail("hard binding not verified");
    }
    let generator = ev.claim_generator.as_deref().unwrap_or("(unnamed)");
    if !ev.generator_allowed {
        return Verdict::fail(format!("generator {generator} not on the allow-list"));
    }
    let watermark = if ev.watermark_assertion {
        "watermark assertion in the manifest"
    } else if visible_field == Some(true) {
        "visible-watermark field set in the DAM"
    } else {
        return Verdict::fail("no watermark evidence");
    };
    Verdict {
        preserved: true,
        reason: format!("manifest {trust}, generator {generator}, {watermark}"),
    }
}
