//! What a connector needs of provenance: [`download()`] streams a clip's original file to disk
//! with bounded memory, and the types the check's outcome is stored in — [`Evidence`],
//! [`ProvenanceError`], the rule [`watermark_preserved`] and its [`Verdict`]. The check itself
//! (reading the C2PA manifest) is `partreel_core::provenance`, which re-exports all of this.

mod download;
mod evidence;
mod rule;

pub use download::{DownloadInfo, download};
pub use evidence::{Evidence, ManifestStatus, ProvenanceError, ProvenancePolicy};
pub use rule::{Verdict, is_hard_binding_failure, watermark_preserved};
