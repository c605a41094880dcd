//! Files behind the Bynder emulator's download URLs: real C2PA clips from partreel-core's
//! `fixtures` (a minimal ISO BMFF signed by an ephemeral test certificate chain, with the
//! generator's `c2pa.watermarked` action).
//!
//! - the original of a [`Provenance::Signed`] item is the signed clip; [`Provenance::Missing`]
//!   has its manifest stripped (an editor's re-encode); [`Provenance::Altered`] has one `mdat`
//!   byte flipped after signing;
//! - `preview.*` (a transcode) is always stripped, `thumb.jpg` is a small JPEG without a manifest.
//!
//! Signing happens lazily, on the first download, once per (generator, size): every item with
//! the same generator and kind serves the same bytes, so seeding 100k clips costs nothing here.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use partreel_testkit::fixtures::{self, ClipKind, FixtureError, MediaFormat};

use super::store::Provenance;
use crate::framework::clock::lock;

/// Which file of an item is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rendition {
    /// The original upload.
    Original,
    /// The transcoded preview (no manifest survives a transcode).
    Preview,
    /// The thumbnail image.
    Thumbnail,
}

impl Rendition {
    /// From the file name in the URL (`preview.mp4`, `thumb.jpg`, anything else: the original).
    pub(crate) fn from_file_name(name: &str) -> Self {
        if name.starts_with("preview.") {
            Rendition::Preview
        } else if name.starts_with("thumb.") {
            Rendition::Thumbnail
        } else {
            Rendition::Original
        }
    }

    /// Its `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Rendition::Thumbnail => "image/jpeg",
            Rendition::Original | Rendition::Preview => "video/mp4",
        }
    }
}

/// The fixture kind of an item's file (a cut-short download starts as the signed file).
pub(crate) fn clip_kind(p: Provenance) -> ClipKind {
    match p {
        Provenance::Signed | Provenance::CutShort | Provenance::NotMedia => ClipKind::Signed,
        Provenance::Missing => ClipKind::Stripped,
        Provenance::Altered => ClipKind::Altered,
    }
}

/// What a not-media original holds.
pub(crate) const NOT_MEDIA: &[u8] =
    b"<!DOCTYPE html><html><body><h1>403 Forbidden</h1><p>Access denied.</p></body></html>\n";

type Key = (ClipKind, MediaFormat, String, usize);

/// The bytes of one rendition of an item whose file is `provenance`, signed as `generator`,
/// about `size` bytes long (MP4). Synchronous and, on a cache miss, CPU-bound: call it from
/// `spawn_blocking`.
pub(crate) fn bytes(
    provenance: Provenance,
    generator: &str,
    rendition: Rendition,
    size: usize,
) -> Result<Bytes, FixtureError> {
    if provenance == Provenance::NotMedia && rendition == Rendition::Original {
        return Ok(Bytes::from_static(NOT_MEDIA));
    }
    let (kind, format) = match rendition {
        Rendition::Original => (clip_kind(provenance), MediaFormat::Mp4),
        Rendition::Preview => (ClipKind::Stripped, MediaFormat::Mp4),
        Rendition::Thumbnail => (ClipKind::Stripped, MediaFormat::Jpeg),
    };
    static CACHE: OnceLock<Mutex<HashMap<Key, Bytes>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let key = (kind, format, generator.to_owned(), size);
    let cached = lock(cache).get(&key).cloned();
    if let Some(b) = cached {
        return Ok(b);
    }
    // Signed once per (generator, size); stripped and altered files derive from it.
    let signed_key = (ClipKind::Signed, format, generator.to_owned(), size);
    let cached = lock(cache).get(&signed_key).cloned();
    let signed = match cached {
        Some(b) => b,
        None => {
            let b = Bytes::from(fixtures::clip(
                ClipKind::Signed,
                format,
                size,
                generator.as_bytes(),
                generator,
            )?);
            lock(cache).insert(signed_key, b.clone());
            b
        }
    };
    let out = match kind {
        ClipKind::Signed => signed,
        ClipKind::Stripped => Bytes::from(fixtures::strip(format, &signed)?),
        ClipKind::Altered => Bytes::from(fixtures::tamper(format, &signed)?),
    };
    lock(cache).insert(key, out.clone());
    Ok(out)
}

/// The provenance an item gets when its file is replaced by a clip of `kind`.
pub(crate) fn provenance_of(kind: ClipKind) -> Provenance {
    match kind {
        ClipKind::Signed => Provenance::Signed,
        ClipKind::Stripped => Provenance::Missing,
        ClipKind::Altered => Provenance::Altered,
    }
}

#[cfg(test)]
mod tests {
    use partreel_core::provenance::{
        ManifestStatus, ProvenancePolicy, check_file, watermark_preserved,
    };

    use crate::{ClipKind, Sim, SimConfig};

    /// Downloads an item's file by name through the emulator and checks it.
    async fn check(sim: &Sim, id: &str, file: &str) -> partreel_core::provenance::Evidence {
        let url = format!("{}/__sim/files/{id}/{file}", sim.bynder.url);
        let resp = reqwest::get(&url).await.expect("download");
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        let bytes = resp.bytes().await.expect("body");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clip");
        std::fs::write(&path, &bytes).expect("write");
        check_file(&path, &ProvenancePolicy::default()).expect("checked")
    }

    fn id_of(sim: &Sim, name: &str) -> String {
        sim.bynder_asset_ids()
            .into_iter()
            .find(|id| {
                sim.bynder_asset(id)
                    .and_then(|a| a.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                    .is_some_and(|n| n.starts_with(name))
            })
            .unwrap_or_else(|| panic!("no asset {name}"))
    }

    /// The story's clips show all three outcomes, previews carry no manifest, and a re-upload
    /// changes the file and `dateModified`.
    #[tokio::test]
    async fn story_clips_are_signed_stripped_and_altered_and_replace_file_reuploads() {
        let sim = Sim::start(SimConfig::default()).await.expect("sim");
        for name in [
            "chase-sequence-v3",
            "beach-day-playful",
            "beach-day-educational",
        ] {
            let ev = check(&sim, &id_of(&sim, name), &format!("{name}.mp4")).await;
            assert_eq!(ev.manifest, ManifestStatus::Valid, "{name}: {ev:?}");
            assert!(watermark_preserved(Some(&ev), None).preserved, "{name}");
        }
        let spoiler = id_of(&sim, "spoiler-closeup");
        let ev = check(&sim, &spoiler, "spoiler-closeup.mp4").await;
        assert_eq!(ev.manifest, ManifestStatus::Absent);
        let ev = check(&sim, &id_of(&sim, "packaging-cameo"), "packaging-cameo.mp4").await;
        assert!(
            matches!(&ev.manifest, ManifestStatus::Invalid { codes } if codes.iter().any(|c| c == "assertion.bmffHash.mismatch")),
            "{ev:?}"
        );

        let chase = id_of(&sim, "chase-sequence-v3");
        let ev = check(&sim, &chase, "preview.mp4").await;
        assert_eq!(
            ev.manifest,
            ManifestStatus::Absent,
            "a transcode has no manifest"
        );

        let before = sim
            .bynder_asset(&chase)
            .and_then(|a| a.get("dateModified").cloned());
        sim.clock.advance(std::time::Duration::from_secs(300));
        sim.bynder_replace_file(&chase, ClipKind::Stripped);
        let after = sim
            .bynder_asset(&chase)
            .and_then(|a| a.get("dateModified").cloned());
        assert_ne!(before, after);
        let ev = check(&sim, &chase, "chase-sequence-v3.mp4").await;
        assert_eq!(ev.manifest, ManifestStatus::Absent);
        sim.bynder_replace_file(&spoiler, ClipKind::Signed);
        let ev = check(&sim, &spoiler, "spoiler-closeup.mp4").await;
        assert_eq!(ev.manifest, ManifestStatus::Valid);
        sim.shutdown().await;
    }
}
