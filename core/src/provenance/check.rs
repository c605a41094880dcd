//! Checking one file: hash it (streamed), recognise its container from its first bytes, read and
//! validate its C2PA manifest with the `c2pa` crate, and turn the result into [`Evidence`].
//!
//! Synchronous and CPU/disk bound: the engine runs it inside `tokio::task::spawn_blocking`.
//! Build one [`Checker`] per run (it parses the trust anchors once) and share it; the free
//! function [`check_file`] builds one per call.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use c2pa::validation_status as codes;
use c2pa::{Context, Manifest, Reader, ValidationState};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::{Evidence, ManifestStatus, ProvenanceError, ProvenancePolicy, is_hard_binding_failure};

/// Names the checker in [`Evidence::checker`]: a change of the validating library is a reason
/// to check stored clips again.
pub const CHECKER_ID: &str = "c2pa-rs 0.90.22";

/// Bytes read per step while hashing.
const HASH_CHUNK_BYTES: usize = 64 * 1024;

/// Bytes of the file's start looked at to recognise the container.
const SNIFF_BYTES: usize = 16;

/// Checks files under one policy. Cheap to clone and share across threads.
#[derive(Clone)]
pub struct Checker {
    policy: ProvenancePolicy,
    context: Arc<Context>,
    /// Checks running at once ([`ProvenancePolicy::concurrent_checks`]), for [`Self::check_bounded`].
    permits: Arc<tokio::sync::Semaphore>,
    /// The files being fetched and checked now, by key, for [`Self::turn`].
    turns: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// One file's turn ([`Checker::turn`]): held while the file is fetched, checked and its
/// verdict stored; the next holder of the same key finds the verdict stored.
pub struct FileTurn {
    key: String,
    turns: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for FileTurn {
    fn drop(&mut self) {
        self.guard = None;
        // The last one out removes the key (clones are only made under this lock).
        if let Ok(mut turns) = self.turns.lock()
            && turns
                .get(&self.key)
                .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            turns.remove(&self.key);
        }
    }
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Checker {
    /// Builds the c2pa context of `policy`: its trust anchors (inline PEM plus the PEM file,
    /// which is read here), no network (no remote manifests, no OCSP).
    pub fn new(policy: &ProvenancePolicy) -> Result<Self, ProvenanceError> {
        let mut anchors = policy.trust_anchors_pem.clone().unwrap_or_default();
        if let Some(path) = &policy.trust_anchors_file {
            let pem = std::fs::read_to_string(path).map_err(|e| ProvenanceError::io(path, e))?;
            anchors.push('\n');
            anchors.push_str(&pem);
        }
        let mut settings = serde_json::json!({
            "verify": { "remote_manifest_fetch": false, "ocsp_fetch": false },
        });
        if anchors.contains("-----BEGIN") {
            settings["trust"] = serde_json::json!({ "trust_anchors": anchors });
        } else if !anchors.trim().is_empty() {
            return Err(ProvenanceError::Config(
                "trust anchors hold no PEM certificate".into(),
            ));
        }
        let context = Context::new()
            .with_settings(settings)
            .map_err(|e| ProvenanceError::Config(format!("c2pa settings: {e}")))?;
        Ok(Checker {
            policy: policy.clone(),
            context: Arc::new(context),
            permits: Arc::new(tokio::sync::Semaphore::new(
                policy.concurrent_checks().max(1),
            )),
            turns: Arc::default(),
        })
    }

    /// Waits for `key`'s turn (a DAM file version): jobs sharing this checker (several jobs on
    /// one DAM in a daemon) fetch and check one file version one at a time, so the second
    /// finds the first's verdict stored instead of downloading the file again.
    pub async fn turn(&self, key: String) -> FileTurn {
        let lock = match self.turns.lock() {
            Ok(mut turns) => turns.entry(key.clone()).or_default().clone(),
            // A poisoned map (a panic elsewhere): no sharing, never a deadlock.
            Err(_) => Arc::default(),
        };
        let guard = lock.lock_owned().await;
        FileTurn {
            key,
            turns: self.turns.clone(),
            guard: Some(guard),
        }
    }

    /// Keys with a turn held or awaited.
    #[cfg(test)]
    pub(crate) fn turns_in_use(&self) -> usize {
        self.turns.lock().map_or(0, |t| t.len())
    }

    /// The policy this checker applies.
    pub fn policy(&self) -> &ProvenancePolicy {
        &self.policy
    }

    /// [`Self::check`] on a blocking thread, at most [`ProvenancePolicy::concurrent_checks`]
    /// at once across every caller sharing this checker (which bounds memory and CPU however
    /// many downloads run).
    pub async fn check_bounded(&self, path: &Path) -> Result<Evidence, ProvenanceError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ProvenanceError::C2pa("the checker is shutting down".into()))?;
        let checker = self.clone();
        let owned = path.to_path_buf();
        tokio::task::spawn_blocking(move || checker.check(&owned))
            .await
            .unwrap_or_else(|e| {
                Err(ProvenanceError::io(
                    path,
                    std::io::Error::other(format!("check task failed: {e}")),
                ))
            })
    }

    /// Checks one file on disk. `Err` only when the file cannot be judged (too large, not
    /// media, unreadable); a missing or broken manifest is evidence, returned as `Ok`.
    pub fn check(&self, path: &Path) -> Result<Evidence, ProvenanceError> {
        let mut file = File::open(path).map_err(|e| ProvenanceError::io(path, e))?;
        let size_bytes = file
            .metadata()
            .map_err(|e| ProvenanceError::io(path, e))?
            .len();
        if size_bytes > self.policy.max_file_bytes {
            return Err(ProvenanceError::TooLarge {
                limit: self.policy.max_file_bytes,
            });
        }
        let (sha256, head) = hash_file(&mut file).map_err(|e| ProvenanceError::io(path, e))?;
        let format = sniff_format(&head)?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| ProvenanceError::io(path, e))?;
        let read = Reader::from_shared_context(&self.context).with_stream(format, file);
        let mut evidence = Evidence {
            manifest: ManifestStatus::Absent,
            claim_generator: None,
            issuer: None,
            generator_allowed: self.policy.allow_generators.is_empty(),
            hard_binding_ok: None,
            watermark_assertion: false,
            sha256,
            size_bytes,
            checked_at: Utc::now(),
            checker: CHECKER_ID.to_string(),
        };
        let reader = match read {
            Ok(reader) => reader,
            Err(e) => {
                evidence.manifest = classify_read_error(e, format)?;
                return Ok(evidence);
            }
        };
        let (failures, successes) = status_codes(&reader);
        evidence.hard_binding_ok = hard_binding(&failures, &successes);
        evidence.manifest = match reader.validation_state() {
            ValidationState::Trusted => ManifestStatus::Trusted,
            ValidationState::Valid => ManifestStatus::Valid,
            ValidationState::Invalid => ManifestStatus::Invalid {
                codes: failures
                    .into_iter()
                    .filter(|c| c != codes::SIGNING_CREDENTIAL_UNTRUSTED)
                    .collect(),
            },
        };
        if let Some(manifest) = reader.active_manifest() {
            let names = generator_names(manifest);
            evidence.generator_allowed = self
                .policy
                .generator_allowed(names.iter().map(String::as_str));
            evidence.claim_generator = names.into_iter().next();
            evidence.issuer = manifest.issuer();
            evidence.watermark_assertion = has_watermark_assertion(manifest);
        } else {
            evidence.generator_allowed = false;
        }
        Ok(evidence)
    }
}

/// Checks one file under `policy` (builds a [`Checker`] for this one call; reuse a `Checker`
/// when checking many files).
pub fn check_file(path: &Path, policy: &ProvenancePolicy) -> Result<Evidence, ProvenanceError> {
    Checker::new(policy)?.check(path)
}

/// SHA-256 of the whole file, read in chunks, plus its first [`SNIFF_BYTES`] bytes.
fn hash_file(file: &mut File) -> std::io::Result<(String, Vec<u8>)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_CHUNK_BYTES];
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), head))
}

/// Recognises the container from its signature bytes, never from the file name (a download's
/// name says nothing). Only containers the `c2pa` crate reads are accepted.
pub(crate) fn sniff_format(head: &[u8]) -> Result<&'static str, ProvenanceError> {
    let at = |i: usize, sig: &[u8]| head.get(i..i + sig.len()) == Some(sig);
    let format = if at(4, b"ftyp") {
        if at(8, b"qt  ") {
            Some("video/quicktime")
        } else {
            Some("video/mp4")
        }
    } else if at(0, &[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if at(0, b"\x89PNG") {
        Some("image/png")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("image/webp")
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        Some("audio/wav")
    } else if at(0, b"RIFF") && at(8, b"AVI ") {
        Some("video/avi")
    } else if at(0, b"II*\0") || at(0, b"MM\0*") {
        Some("image/tiff")
    } else if at(0, b"GIF8") {
        Some("image/gif")
    } else if at(0, b"ID3") {
        Some("audio/mpeg")
    } else {
        None
    };
    match format {
        Some(f) if supported().iter().any(|s| s == f) => Ok(f),
        _ => Err(ProvenanceError::NotMedia {
            detail: describe_head(head),
        }),
    }
}

/// The MIME types this build of `c2pa` reads.
fn supported() -> &'static [String] {
    static SUPPORTED: OnceLock<Vec<String>> = OnceLock::new();
    SUPPORTED.get_or_init(Reader::supported_mime_types)
}

fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "empty file".into();
    }
    let texty = head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if texty {
        format!(
            "looks like text ({:?}…), not a media container",
            String::from_utf8_lossy(head)
        )
    } else {
        format!(
            "unrecognised container (starts with {})",
            hex::encode(&head[..head.len().min(8)])
        )
    }
}

/// A failed read: no manifest is evidence ("absent"); a container c2pa cannot parse is not
/// media; a manifest that cannot be decoded is an invalid one; anything else is c2pa's own
/// failure.
fn classify_read_error(e: c2pa::Error, format: &str) -> Result<ManifestStatus, ProvenanceError> {
    use c2pa::Error as E;
    match e {
        E::JumbfNotFound | E::ProvenanceMissing => Ok(ManifestStatus::Absent),
        E::UnsupportedType
        | E::InvalidAsset(_)
        | E::BmffError(_)
        | E::JpegError(_)
        | E::PngError(_)
        | E::GifError(_)
        | E::RiffError(_)
        | E::TiffError(_) => Err(ProvenanceError::NotMedia {
            detail: format!("cannot read as {format}: {e}"),
        }),
        E::IoError(io) => Err(ProvenanceError::C2pa(format!("reading the file: {io}"))),
        E::InsufficientMemory
        | E::OperationCancelled
        | E::InternalError(_)
        | E::ThreadReceiveError
        | E::NotImplemented(_) => Err(ProvenanceError::C2pa(e.to_string())),
        other => {
            tracing::debug!(error = %other, "manifest present but unreadable");
            Ok(ManifestStatus::Invalid {
                codes: vec![format!("manifest.unreadable ({other})")],
            })
        }
    }
}

/// Failure and success codes of the active manifest and of ingredient deltas.
fn status_codes(reader: &Reader) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut successes = Vec::new();
    if let Some(results) = reader.validation_results() {
        if let Some(active) = results.active_manifest() {
            failures.extend(active.failure().iter().map(|s| s.code().to_string()));
            successes.extend(active.success().iter().map(|s| s.code().to_string()));
        }
        for delta in results.ingredient_deltas().into_iter().flatten() {
            failures.extend(
                delta
                    .validation_deltas()
                    .failure()
                    .iter()
                    .map(|s| s.code().to_string()),
            );
        }
    } else if let Some(status) = reader.validation_status() {
        failures.extend(status.iter().map(|s| s.code().to_string()));
    }
    failures.dedup();
    (failures, successes)
}

fn hard_binding(failures: &[String], successes: &[String]) -> Option<bool> {
    if failures.iter().any(|c| is_hard_binding_failure(c)) {
        return Some(false);
    }
    let matched = [
        codes::ASSERTION_DATAHASH_MATCH,
        codes::ASSERTION_BMFFHASH_MATCH,
        codes::ASSERTION_BOXHASH_MATCH,
        codes::ASSERTION_COLLECTIONHASH_MATCH,
    ];
    successes
        .iter()
        .any(|c| matched.contains(&c.as_str()))
        .then_some(true)
}

/// The claim generator (v1 string) first, then each `claim_generator_info` as `name/version`.
fn generator_names(manifest: &Manifest) -> Vec<String> {
    let mut names: Vec<String> = manifest
        .claim_generator()
        .map(str::to_string)
        .into_iter()
        .collect();
    for info in manifest.claim_generator_info.iter().flatten() {
        names.push(match &info.version {
            Some(v) => format!("{}/{v}", info.name),
            None => info.name.clone(),
        });
    }
    names
}

/// A `c2pa.watermarked*` action (any actions assertion version) or a soft-binding assertion.
fn has_watermark_assertion(manifest: &Manifest) -> bool {
    manifest.assertions().iter().any(|a| {
        let label = a.label();
        if label.starts_with(c2pa::assertions::labels::SOFT_BINDING) {
            return true;
        }
        if !label.starts_with("c2pa.actions") {
            return false;
        }
        a.value()
            .ok()
            .and_then(|v| v.get("actions"))
            .and_then(|v| v.as_array())
            .is_some_and(|actions| {
                actions.iter().any(|act| {
                    act.get("action")
                        .and_then(|v| v.as_str())
                        .is_some_and(|s| s.starts_with("c2pa.watermarked"))
                })
            })
    })
}
