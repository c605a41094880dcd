//! Provenance you can prove: the watermark-preserved flag computed from the clip file itself.
//!
//! A DAM's "visible watermark" field is a claim someone ticked by hand. This module turns it into
//! evidence: it streams the clip's **original** file from the DAM ([`download()`]), reads its C2PA
//! manifest with the `c2pa` crate ([`check_file`] / [`Checker`]) and records an [`Evidence`]
//! (manifest status with its failure codes, claim generator, issuer, allow-list verdict, hard
//! binding, watermark assertion, SHA-256, size, time). [`watermark_preserved`] derives the flag
//! from that evidence by the rule below; the engine stores the evidence next to the link.
//!
//! # The rule
//!
//! A clip's watermark is **preserved** iff all of these hold, checked in this order (the first
//! one that fails is the [`Verdict::reason`]):
//!
//! 1. the file was checked (no evidence → "not checked");
//! 2. it carries a C2PA manifest (absent → "no provenance (manifest absent)" — which is *not*
//!    "tampered": re-encoding or a generator that never signs also gives it);
//! 3. the manifest validates: state `Valid` or `Trusted` (`Invalid` → "tampered: <codes>" when a
//!    hash-mismatch code is among the failures, else "invalid manifest: <codes>");
//! 4. the hard binding holds: a data/BMFF/box hash assertion matched the bytes;
//! 5. the claim generator is on the configured allow-list — case-insensitive **substring** match
//!    against the claim generator string and every `claim_generator_info` name; an empty list
//!    allows any generator ("generator X not on the allow-list");
//! 6. there is watermark evidence: a `c2pa.watermarked*` action or a `c2pa.soft-binding`
//!    assertion in the manifest, **or** the DAM's visible-watermark field is `true`
//!    ("no watermark evidence"). A field set to `false` does not cancel a signed watermark
//!    assertion: the assertion is signed evidence, the field is a claim (the engine reports the
//!    disagreement as a conflict).
//!
//! A trust list is optional: without [`ProvenancePolicy::trust_anchors_pem`] a well-formed
//! manifest by any signer reads as `Valid`; with it, signers chaining to an anchor read as
//! `Trusted` and the others still as `Valid` (`signingCredential.untrusted` is informational for
//! the rule, and recorded).
//!
//! A file that cannot be checked — larger than [`ProvenancePolicy::max_file_bytes`], a cut-short
//! download, not a media container c2pa reads (e.g. a text file), unreadable — is a
//! [`ProvenanceError`], not evidence; [`Verdict::from_error`] gives that clip a clear,
//! not-preserved verdict and the run goes on.
//!
//! # Layout
//! - `check`: [`Checker`] / [`check_file`] — hash the file, read and validate its manifest.
//! - re-exported from `partreel_connector::provenance` (connectors need them without c2pa):
//!   [`ProvenancePolicy`] (the `[provenance]` config table), [`Evidence`], [`ManifestStatus`],
//!   [`ProvenanceError`]; [`watermark_preserved`] and [`Verdict`]; [`download()`] — the
//!   original file to disk with bounded memory.
//!
//! The signed, stripped and altered test clips live in `partreel-testkit` (`fixtures`), never in
//! this crate.

mod check;

#[cfg(test)]
mod tests;

pub use check::{CHECKER_ID, Checker, FileTurn, check_file};
pub use partreel_connector::provenance::{
    DownloadInfo, Evidence, ManifestStatus, ProvenanceError, ProvenancePolicy, Verdict, download,
    is_hard_binding_failure, watermark_preserved,
};
