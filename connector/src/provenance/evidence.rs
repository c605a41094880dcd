//! The values of a provenance check: the policy it runs under (the `[provenance]` config table),
//! the evidence it records (kept in the state store), and its typed errors.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ConnectorError;
use crate::model::ProvenanceState;

/// Largest original file checked, unless configured otherwise (2 GiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// How clips are judged (the `[provenance]` table of the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvenancePolicy {
    /// Generators whose clips may pass. Each entry is matched case-insensitively as a
    /// **substring** of the manifest's claim generator and of every `claim_generator_info`
    /// name (so `"sora"` allows `sora-2/2.0.3`). Empty: any generator.
    pub allow_generators: Vec<String>,
    /// Trust anchors as a PEM bundle (e.g. the C2PA trust list). Set: manifests signed by a
    /// certificate chaining to one of them read as `trusted`.
    pub trust_anchors_pem: Option<String>,
    /// A PEM file with trust anchors, read when the checker is built (added to
    /// `trust_anchors_pem`).
    pub trust_anchors_file: Option<PathBuf>,
    /// Largest original file downloaded and checked, in bytes.
    pub max_file_bytes: u64,
    /// Files checked at once (downloads go on concurrently, to disk). The check is CPU bound
    /// and c2pa holds up to about twice the file in memory while checking it, so this bounds
    /// the memory of a sync at about `2 × max_concurrent_checks × file size`. Default: one per
    /// CPU core.
    pub max_concurrent_checks: Option<usize>,
}

impl Default for ProvenancePolicy {
    fn default() -> Self {
        ProvenancePolicy {
            allow_generators: Vec::new(),
            trust_anchors_pem: None,
            trust_anchors_file: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_concurrent_checks: None,
        }
    }
}

impl ProvenancePolicy {
    /// [`Self::max_concurrent_checks`], or one per CPU core.
    pub fn concurrent_checks(&self) -> usize {
        self.max_concurrent_checks.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    /// Pure checks of the table; each problem names its key under `provenance.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.max_file_bytes == 0 {
            errors.push("provenance.max_file_bytes: must be at least 1".into());
        }
        if self.max_concurrent_checks == Some(0) {
            errors.push("provenance.max_concurrent_checks: must be at least 1".into());
        }
        if self.allow_generators.iter().any(|g| g.trim().is_empty()) {
            errors.push("provenance.allow_generators: entries must not be empty".into());
        }
        if let Some(pem) = &self.trust_anchors_pem
            && !pem.contains("-----BEGIN CERTIFICATE-----")
        {
            errors.push("provenance.trust_anchors_pem: no PEM certificate in it".into());
        }
        errors
    }

    /// The allow-list verdict for the generator names of a manifest (see the field's doc).
    pub fn generator_allowed<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> bool {
        if self.allow_generators.is_empty() {
            return true;
        }
        let names: Vec<String> = names.into_iter().map(str::to_lowercase).collect();
        self.allow_generators.iter().any(|allowed| {
            let allowed = allowed.to_lowercase();
            names.iter().any(|n| n.contains(&allowed))
        })
    }
}

/// What a clip's C2PA manifest says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ManifestStatus {
    /// No manifest in the file ("no provenance" — stripped, re-encoded, or never signed).
    Absent,
    /// A manifest that fails validation, with its failure codes (e.g.
    /// `assertion.bmffHash.mismatch`, `claimSignature.mismatch`); `signingCredential.untrusted`
    /// is not listed here.
    Invalid {
        /// C2PA validation status codes of the failures.
        codes: Vec<String>,
    },
    /// A well-formed manifest whose signer is not on the trust list (or no list configured).
    Valid,
    /// A well-formed manifest signed by a certificate chaining to a configured trust anchor.
    Trusted,
}

impl ManifestStatus {
    /// Short text for link fields and the CLI: `absent`, `invalid`, `valid`, `trusted`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::Invalid { .. } => "invalid",
            Self::Valid => "valid",
            Self::Trusted => "trusted",
        }
    }
}

/// Everything a provenance check found out about one file. Stored in the state store next to
/// the clip, so a PLM user can see *why* a link is (non-)compliant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Manifest status.
    pub manifest: ManifestStatus,
    /// The active manifest's generator: `claim_generator` (C2PA v1 claims), else the first
    /// `claim_generator_info` entry as `name/version`.
    pub claim_generator: Option<String>,
    /// The signing certificate's issuer (organisation).
    pub issuer: Option<String>,
    /// Whether the generator passed the policy's allow-list (true when no list is configured).
    pub generator_allowed: bool,
    /// Whether the hard binding (data / BMFF / box hash) matched the bytes; None when it was
    /// not evaluated (no manifest, or validation stopped before it).
    pub hard_binding_ok: Option<bool>,
    /// A `c2pa.watermarked*` action or a `c2pa.soft-binding` assertion is in the manifest.
    pub watermark_assertion: bool,
    /// SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
    /// File size in bytes.
    pub size_bytes: u64,
    /// When the check ran.
    pub checked_at: DateTime<Utc>,
    /// Which checker produced this ([`super::CHECKER_ID`]), so a newer checker can re-check.
    #[serde(default)]
    pub checker: String,
}

impl Evidence {
    /// The coarse state the model's [`crate::model::WatermarkStatus`] carries.
    pub fn provenance_state(&self) -> ProvenanceState {
        match self.manifest {
            ManifestStatus::Absent => ProvenanceState::Missing,
            ManifestStatus::Invalid { .. } => ProvenanceState::Invalid,
            ManifestStatus::Valid | ManifestStatus::Trusted => ProvenanceState::Valid,
        }
    }
}

/// Why a file could not be checked. Each is a per-clip outcome: the engine records it on that
/// clip (see [`super::Verdict::from_error`]) and goes on.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// The file (or download) is over the configured limit.
    #[error("file larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The download ended before the announced length, or the connection broke mid-body.
    #[error("download truncated: {detail}")]
    Truncated {
        /// What happened (bytes received versus announced, or the transport error).
        detail: String,
    },
    /// The file is not a media container c2pa can read (e.g. a text file or an HTML error
    /// page served instead of the original).
    #[error("not media: {detail}")]
    NotMedia {
        /// What was found instead.
        detail: String,
    },
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The request for the file failed (status, transport, auth), after the HTTP client's
    /// retries.
    #[error(transparent)]
    Http(#[from] ConnectorError),
    /// The policy cannot be applied (e.g. an unreadable trust-anchor file or bad PEM).
    #[error("provenance policy: {0}")]
    Config(String),
    /// c2pa failed in a way that says nothing about the file (an internal error).
    #[error("c2pa: {0}")]
    C2pa(String),
}

impl ProvenanceError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ProvenanceError::Io {
            path: path.into(),
            source,
        }
    }
}
