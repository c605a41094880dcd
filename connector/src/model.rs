//! The data partreel moves: part revisions, video experiments and the links between them.
//!
//! Records carry their remote fields as strings keyed by the remote field name
//! ([`RemoteFields`]); the mapping engine (`partreel_core::mapping`) turns those into canonical values
//! ([`CanonicalValues`]) keyed by the names in [`canonical`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Field values as a remote system holds them: remote field name → value as text.
pub type RemoteFields = BTreeMap<String, String>;

/// Field values in partreel's own vocabulary: canonical field name → value as text.
pub type CanonicalValues = BTreeMap<String, String>;

/// Names of the canonical fields partreel itself understands. Mappings may name others too;
/// they are carried through unchanged.
pub mod canonical {
    /// Stock-keeping unit of the product.
    pub const SKU: &str = "sku";
    /// Part number the clip is about (DAM side tag).
    pub const PART_NUMBER: &str = "part_number";
    /// Part revision the clip is about (DAM side tag).
    pub const PART_REVISION: &str = "part_revision";
    /// The part's display name.
    pub const PART_NAME: &str = "part_name";
    /// The part revision's lifecycle state.
    pub const LIFECYCLE_STATE: &str = "lifecycle_state";
    /// Clip title.
    pub const TITLE: &str = "title";
    /// Prompt text the clip was generated from.
    pub const PROMPT: &str = "prompt";
    /// Generator model.
    pub const MODEL: &str = "model";
    /// Generator model version.
    pub const MODEL_VERSION: &str = "model_version";
    /// Marketing campaign.
    pub const CAMPAIGN: &str = "campaign";
    /// Free-text rights notes.
    pub const RIGHTS_NOTES: &str = "rights_notes";
    /// Date the usage rights expire (YYYY-MM-DD).
    pub const RIGHTS_EXPIRY: &str = "rights_expiry";
    /// Review status of the clip.
    pub const REVIEW_STATUS: &str = "review_status";
    /// The DAM's hand-set visible-watermark field ("true"/"false").
    pub const VISIBLE_WATERMARK: &str = "visible_watermark";
    /// Derived: watermark and provenance intact ("true"/"false").
    pub const WATERMARK_PRESERVED: &str = "watermark_preserved";
    /// Derived: provenance state of the file (valid, invalid, missing, unchecked).
    pub const PROVENANCE_STATE: &str = "provenance_state";
    /// Written by partreel: the clip's playable URL.
    pub const CLIP_URL: &str = "clip_url";
    /// Written by partreel: the DAM asset id.
    pub const ASSET_ID: &str = "asset_id";
    /// Written by partreel: the DAM system name.
    pub const ASSET_SYSTEM: &str = "asset_system";
    /// Written by partreel: the deterministic link id.
    pub const LINK_ID: &str = "link_id";
    /// Written by partreel: link status (active, retired, non_compliant, rights_expired).
    pub const LINK_STATUS: &str = "link_status";

    /// Derived: why the watermark flag is what it is (the rule's first failed condition).
    pub const PROVENANCE_REASON: &str = "provenance_reason";
    /// Derived: the generator named by the file's C2PA manifest.
    pub const CLAIM_GENERATOR: &str = "claim_generator";
    /// Derived: SHA-256 of the checked file.
    pub const FILE_SHA256: &str = "file_sha256";

    /// Fields whose value partreel computes itself; a mapping can only write them.
    pub const DERIVED: &[&str] = &[
        WATERMARK_PRESERVED,
        PROVENANCE_STATE,
        PROVENANCE_REASON,
        CLAIM_GENERATOR,
        FILE_SHA256,
        CLIP_URL,
        ASSET_ID,
        ASSET_SYSTEM,
        LINK_ID,
        LINK_STATUS,
    ];

    /// Every canonical field partreel knows (mappings may add custom `x_…` ones).
    pub const ALL: &[&str] = &[
        SKU,
        PART_NUMBER,
        PART_REVISION,
        PART_NAME,
        LIFECYCLE_STATE,
        TITLE,
        PROMPT,
        MODEL,
        MODEL_VERSION,
        CAMPAIGN,
        RIGHTS_NOTES,
        RIGHTS_EXPIRY,
        REVIEW_STATUS,
        VISIBLE_WATERMARK,
        WATERMARK_PRESERVED,
        PROVENANCE_STATE,
        PROVENANCE_REASON,
        CLAIM_GENERATOR,
        FILE_SHA256,
        CLIP_URL,
        ASSET_ID,
        ASSET_SYSTEM,
        LINK_ID,
        LINK_STATUS,
    ];
}

/// One revision of a part as a PLM holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRevision {
    /// Configured name of the PLM system.
    pub system: String,
    /// The PLM's own id of this revision (Windchill OID, Teamcenter uid, 3DX physical id).
    pub remote_id: String,
    /// Part number.
    pub number: String,
    /// Revision label (A, B, …).
    pub revision: String,
    /// Display name.
    pub name: String,
    /// Lifecycle state as the PLM displays it.
    pub lifecycle_state: Option<String>,
    /// Last modification time on the PLM's clock.
    pub modified: DateTime<Utc>,
    /// Remote fields read with the part (mapped properties).
    pub fields: RemoteFields,
}

/// One AI video experiment (a clip) as a DAM holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoExperiment {
    /// Configured name of the DAM system.
    pub system: String,
    /// The DAM's asset id.
    pub asset_id: String,
    /// Title / file name.
    pub title: String,
    /// Last modification time on the DAM's clock.
    pub modified: DateTime<Utc>,
    /// DAM version or etag, when the DAM has one.
    pub version: Option<String>,
    /// Archived (or otherwise withdrawn) in the DAM.
    pub archived: bool,
    /// A playable rendition URL, when the listing carries one.
    pub rendition_url: Option<String>,
    /// Remote fields (metaproperties) as the DAM holds them.
    pub fields: RemoteFields,
}

/// Provenance state of a clip's file, from its C2PA manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProvenanceState {
    /// Not checked (yet).
    #[default]
    Unchecked,
    /// A manifest is present and valid.
    Valid,
    /// A manifest is present but fails validation.
    Invalid,
    /// No manifest.
    Missing,
}

impl ProvenanceState {
    /// The text stored in link fields.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unchecked => "unchecked",
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Missing => "missing",
        }
    }
}

/// What partreel knows of a clip's watermark and provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WatermarkStatus {
    /// The DAM's visible-watermark field, as set by hand (None when unset).
    pub visible_field: Option<bool>,
    /// C2PA provenance state of the file.
    pub provenance: ProvenanceState,
    /// Claim generator named by the manifest.
    pub claim_generator: Option<String>,
    /// What the check of the file itself found (None: not checked).
    #[serde(default)]
    pub evidence: Option<crate::provenance::Evidence>,
    /// The DAM file version (or modification time) the evidence is about: a clip whose file
    /// has this version is not downloaded again.
    #[serde(default)]
    pub checked_version: Option<String>,
    /// Why the file could not be checked (too large, cut short, not media …).
    #[serde(default)]
    pub check_error: Option<String>,
}

impl WatermarkStatus {
    /// The verdict, by the rule in [`crate::provenance`] when the file was checked. A clip
    /// whose file could not be checked is not preserved. A clip never checked (the check is
    /// off) rests on the DAM's visible-watermark field alone, and says so.
    pub fn verdict(&self) -> crate::provenance::Verdict {
        use crate::provenance::{Verdict, watermark_preserved};
        if let Some(e) = &self.check_error {
            return Verdict {
                preserved: false,
                reason: format!("not checked: {e}"),
            };
        }
        match (&self.evidence, self.provenance) {
            (Some(ev), _) => watermark_preserved(Some(ev), self.visible_field),
            (None, ProvenanceState::Missing) => Verdict {
                preserved: false,
                reason: "no provenance (manifest absent)".into(),
            },
            (None, ProvenanceState::Invalid) => Verdict {
                preserved: false,
                reason: "invalid manifest".into(),
            },
            (None, _) => Verdict {
                preserved: self.visible_field == Some(true),
                reason: match self.visible_field {
                    Some(true) => "file not checked; visible watermark marked in the DAM",
                    Some(false) => "file not checked; no visible watermark marked in the DAM",
                    None => "file not checked; visible-watermark field unset",
                }
                .into(),
            },
        }
    }

    /// The derived flag (see [`Self::verdict`]).
    pub fn watermark_preserved(&self) -> bool {
        self.verdict().preserved
    }
}

/// The deterministic id of a prompt-to-part link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LinkId(pub String);

impl LinkId {
    /// Hash of DAM system + asset id + PLM system + part number + revision, so every run and
    /// every machine computes the same id for the same link.
    pub fn new(dam: &str, asset_id: &str, plm: &str, number: &str, revision: &str) -> Self {
        let mut h = Sha256::new();
        for part in [dam, asset_id, plm, number, revision] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        let digest = h.finalize();
        LinkId(format!("ptp-{}", hex::encode(&digest[..12])))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LinkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Status of a prompt-to-part link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Linked and compliant.
    Active,
    /// The clip was withdrawn, deleted or untagged; the record stays.
    Retired,
    /// Watermark or provenance not preserved.
    NonCompliant,
    /// Usage rights have expired.
    RightsExpired,
}

impl LinkStatus {
    /// The text stored in link fields and the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Retired => "retired",
            Self::NonCompliant => "non_compliant",
            Self::RightsExpired => "rights_expired",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "retired" => Self::Retired,
            "non_compliant" => Self::NonCompliant,
            "rights_expired" => Self::RightsExpired,
            _ => return None,
        })
    }
}

/// A link record as the PLM holds it (for Windchill: a document described by the part).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteLink {
    /// The link id stored on the record.
    pub link_id: LinkId,
    /// The PLM's id of the record (document OID, relation uid, …).
    pub remote_id: String,
    /// The PLM's id of the part revision it hangs on, when known.
    pub part_remote_id: Option<String>,
    /// Last modification time on the PLM's clock.
    pub modified: DateTime<Utc>,
    /// Creation time on the PLM's clock, when the PLM gives it (of several records carrying
    /// one link id, the oldest is kept).
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
    /// Remote fields of the record.
    pub fields: RemoteFields,
}

/// Where a link points on the PLM side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartKey {
    /// Part number.
    pub number: String,
    /// Revision label.
    pub revision: String,
}
