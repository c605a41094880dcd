//! Test clips with real C2PA manifests, for tests and the emulators.
//!
//! [`mp4`] builds a minimal ISO BMFF file (`ftyp`, `moov` with an `mvhd`, `mdat`) and [`jpeg`] a
//! minimal baseline JPEG (one 8×8 grey block) — just enough structure for c2pa's BMFF and JPEG
//! handlers. [`sign`] embeds a manifest signed by an ephemeral certificate chain generated once
//! per process ([`c2pa::EphemeralSigner`], local use only); [`strip`] removes the manifest the
//! way a re-encode does, [`tamper`] flips one media byte after signing. [`clip`] does the whole
//! thing for a [`ClipKind`], and [`trust_anchor_pem`] gives the ephemeral CA for "trusted" tests.

use std::io::Cursor;
use std::sync::OnceLock;

use c2pa::Signer;
use c2pa::{
    Builder, BuilderIntent, ClaimGeneratorInfo, Context, DigitalSourceType, EphemeralSigner,
};
use sha2::{Digest, Sha256};

/// The UUID of the `uuid` box that carries a C2PA manifest store in ISO BMFF.
const C2PA_UUID: [u8; 16] = [
    0xD8, 0xFE, 0xC3, 0xD6, 0x1B, 0x0E, 0x48, 0x3C, 0x92, 0x97, 0x58, 0x28, 0x87, 0x7E, 0xC4, 0x81,
];

/// JPEG APP11 marker (JUMBF segments, where C2PA manifests live in JPEG).
const APP11: u8 = 0xEB;

/// Why a fixture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// c2pa refused to sign.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The bytes are not of the shape this module builds.
    #[error("unexpected file shape: {0}")]
    Shape(&'static str),
}

/// The containers fixtures come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaFormat {
    /// ISO BMFF video (`video/mp4`).
    Mp4,
    /// JPEG image.
    Jpeg,
}

impl MediaFormat {
    /// The MIME type c2pa takes.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Mp4 => "video/mp4",
            Self::Jpeg => "image/jpeg",
        }
    }
}

/// What a served or tested clip carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClipKind {
    /// Signed, with a `c2pa.watermarked` action (the generator's visible watermark).
    Signed,
    /// Signed, then the manifest removed (as a re-encode does).
    Stripped,
    /// Signed, then one media byte changed.
    Altered,
}

/// Who signs and what the manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOptions {
    /// `claim_generator_info` name (e.g. `sora-2`).
    pub generator: String,
    /// `claim_generator_info` version.
    pub version: Option<String>,
    /// Add a `c2pa.watermarked` action.
    pub watermarked: bool,
}

impl SignOptions {
    /// A watermarked clip by `generator` (`name` or `name/version`).
    pub fn watermarked(generator: &str) -> Self {
        let (name, version) = match generator.split_once('/') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (generator, None),
        };
        SignOptions {
            generator: name.to_string(),
            version,
            watermarked: true,
        }
    }
}

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len() + 8).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// A minimal ISO BMFF file of about `size` bytes: `ftyp`, `moov`/`mvhd`, and an `mdat` filled
/// with a keystream of `seed` (so different seeds give different bytes).
pub fn mp4(size: usize, seed: &[u8]) -> Vec<u8> {
    let mut ftyp = b"isom".to_vec();
    ftyp.extend_from_slice(&0x200u32.to_be_bytes());
    ftyp.extend_from_slice(b"isommp42");
    let mut out = boxed(b"ftyp", &ftyp);
    // mvhd v0: flags, creation, modification, timescale 1000, duration 1 s, rate 1.0,
    // volume 1.0, reserved, unity matrix, pre_defined, next_track_ID.
    let mut mvhd = vec![0u8; 12];
    mvhd.extend_from_slice(&1000u32.to_be_bytes());
    mvhd.extend_from_slice(&1000u32.to_be_bytes());
    mvhd.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    mvhd.extend_from_slice(&0x0100u16.to_be_bytes());
    mvhd.extend_from_slice(&[0u8; 10]);
    for m in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        mvhd.extend_from_slice(&m.to_be_bytes());
    }
    mvhd.extend_from_slice(&[0u8; 24]);
    mvhd.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(&boxed(b"moov", &boxed(b"mvhd", &mvhd)));
    let want = size.saturating_sub(out.len() + 8).max(64);
    let mut payload = Vec::with_capacity(want + 32);
    let mut counter = 0u64;
    while payload.len() < want {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(counter.to_be_bytes());
        payload.extend_from_slice(&h.finalize());
        counter += 1;
    }
    payload.truncate(want);
    out.extend_from_slice(&boxed(b"mdat", &payload));
    out
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).unwrap_or(u16::MAX);
    let mut out = vec![0xFF, marker];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A minimal baseline JPEG: one 8×8 grey block (DC 0, end of block), decodable.
pub fn jpeg() -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend_from_slice(&segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
    let mut dqt = vec![0u8];
    dqt.extend_from_slice(&[1u8; 64]);
    out.extend_from_slice(&segment(0xDB, &dqt));
    // SOF0: 8-bit, 8×8, one component (id 1, 1×1 sampling, table 0).
    out.extend_from_slice(&segment(0xC0, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0]));
    // One 1-bit code per table: DC category 0, AC end-of-block.
    for class in [0x00u8, 0x10] {
        let mut dht = vec![class, 1];
        dht.extend_from_slice(&[0u8; 15]);
        dht.push(0);
        out.extend_from_slice(&segment(0xC4, &dht));
    }
    out.extend_from_slice(&segment(0xDA, &[1, 1, 0x00, 0, 63, 0]));
    // Bits "0" (DC diff 0) + "0" (EOB), padded with ones.
    out.push(0x3F);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

struct TestSigner {
    signer: EphemeralSigner,
    ca_pem: String,
}

fn test_signer() -> Result<&'static TestSigner, FixtureError> {
    static SIGNER: OnceLock<Result<TestSigner, String>> = OnceLock::new();
    SIGNER
        .get_or_init(|| {
            let signer =
                EphemeralSigner::new("partreel-fixtures.local").map_err(|e| e.to_string())?;
            let certs = signer.certs().map_err(|e| e.to_string())?;
            let ca = certs.last().ok_or("ephemeral signer has no certificate")?;
            let ca_pem = pem("CERTIFICATE", ca);
            Ok(TestSigner { signer, ca_pem })
        })
        .as_ref()
        .map_err(|e| FixtureError::Sign(e.clone()))
}

/// The ephemeral CA that signs every fixture, as PEM: configure it as a trust anchor to see
/// fixtures as `trusted`.
pub fn trust_anchor_pem() -> Result<String, FixtureError> {
    Ok(test_signer()?.ca_pem.clone())
}

/// Embeds a signed manifest: `c2pa.created` from trained algorithmic media, plus
/// `c2pa.watermarked` when asked.
pub fn sign(
    format: MediaFormat,
    bytes: &[u8],
    opts: &SignOptions,
) -> Result<Vec<u8>, FixtureError> {
    let signer = test_signer()?;
    let err = |e: c2pa::Error| FixtureError::Sign(e.to_string());
    let context = Context::new()
        .with_settings(serde_json::json!({"builder": {"thumbnail": {"enabled": false}}}))
        .map_err(err)?;
    let mut builder = Builder::from_context(context);
    builder.set_intent(BuilderIntent::Create(
        DigitalSourceType::TrainedAlgorithmicMedia,
    ));
    let mut info = ClaimGeneratorInfo::new(opts.generator.clone());
    if let Some(v) = &opts.version {
        info.set_version(v.clone());
    }
    builder.set_claim_generator_info(info);
    if opts.watermarked {
        builder
            .add_action(serde_json::json!({"action": "c2pa.watermarked"}))
            .map_err(err)?;
    }
    let mut src = Cursor::new(bytes);
    let mut dst = Cursor::new(Vec::with_capacity(bytes.len() + 32 * 1024));
    builder
        .sign(&signer.signer, format.mime(), &mut src, &mut dst)
        .map_err(err)?;
    Ok(dst.into_inner())
}

/// Top-level ISO BMFF boxes as `(start, end, type)`.
fn bmff_boxes(bytes: &[u8]) -> Result<Vec<(usize, usize, [u8; 4])>, FixtureError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size32 = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let kind = [bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]];
        let size = match size32 {
            0 => bytes.len() - at,
            1 => {
                let large = bytes
                    .get(at + 8..at + 16)
                    .ok_or(FixtureError::Shape("short largesize box"))?;
                let mut b = [0u8; 8];
                b.copy_from_slice(large);
                usize::try_from(u64::from_be_bytes(b))
                    .map_err(|_| FixtureError::Shape("box too large"))?
            }
            n => n as usize,
        };
        if size < 8 || at + size > bytes.len() {
            return Err(FixtureError::Shape("box size out of range"));
        }
        out.push((at, at + size, kind));
        at += size;
    }
    Ok(out)
}

/// A JPEG segment: `(start, end, marker)`.
type Segment = (usize, usize, u8);

/// JPEG segments before the scan, and where the scan starts.
fn jpeg_segments(bytes: &[u8]) -> Result<(Vec<Segment>, usize), FixtureError> {
    if bytes.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err(FixtureError::Shape("no JPEG SOI"));
    }
    let mut out = Vec::new();
    let mut at = 2usize;
    loop {
        let head = bytes
            .get(at..at + 4)
            .ok_or(FixtureError::Shape("JPEG ends before its scan"))?;
        if head[0] != 0xFF {
            return Err(FixtureError::Shape("JPEG marker expected"));
        }
        let marker = head[1];
        let end = at + 2 + usize::from(u16::from_be_bytes([head[2], head[3]]));
        if end > bytes.len() {
            return Err(FixtureError::Shape("JPEG segment out of range"));
        }
        out.push((at, end, marker));
        at = end;
        if marker == 0xDA {
            return Ok((out, at));
        }
    }
}

/// Removes the embedded manifest store (BMFF `uuid` box with the C2PA UUID; JPEG APP11
/// segments), as an editor's re-encode would.
pub fn strip(format: MediaFormat, bytes: &[u8]) -> Result<Vec<u8>, FixtureError> {
    let mut out = Vec::with_capacity(bytes.len());
    match format {
        MediaFormat::Mp4 => {
            for (start, end, kind) in bmff_boxes(bytes)? {
                let c2pa = &kind == b"uuid" && bytes.get(start + 8..start + 24) == Some(&C2PA_UUID);
                if !c2pa {
                    out.extend_from_slice(&bytes[start..end]);
                }
            }
        }
        MediaFormat::Jpeg => {
            let (segments, scan) = jpeg_segments(bytes)?;
            out.extend_from_slice(&bytes[..2]);
            for (start, end, marker) in segments {
                if marker != APP11 {
                    out.extend_from_slice(&bytes[start..end]);
                }
            }
            out.extend_from_slice(&bytes[scan..]);
        }
    }
    Ok(out)
}

/// Flips one bit of the media itself (the middle of `mdat`; the JPEG's entropy-coded data),
/// which the manifest's hard binding covers.
pub fn tamper(format: MediaFormat, bytes: &[u8]) -> Result<Vec<u8>, FixtureError> {
    let mut out = bytes.to_vec();
    let at = match format {
        MediaFormat::Mp4 => {
            let (start, end, _) = bmff_boxes(bytes)?
                .into_iter()
                .find(|b| &b.2 == b"mdat")
                .ok_or(FixtureError::Shape("no mdat box"))?;
            start + 8 + (end - start - 8) / 2
        }
        MediaFormat::Jpeg => jpeg_segments(bytes)?.1,
    };
    let byte = out
        .get_mut(at)
        .ok_or(FixtureError::Shape("nothing to alter"))?;
    *byte ^= 0x01;
    Ok(out)
}

/// A whole clip of `kind`: an MP4 of about `size` bytes (or the fixed small JPEG) with `seed`
/// as its media content, signed as `generator` with a watermark action, then stripped or
/// altered as asked.
pub fn clip(
    kind: ClipKind,
    format: MediaFormat,
    size: usize,
    seed: &[u8],
    generator: &str,
) -> Result<Vec<u8>, FixtureError> {
    let media = match format {
        MediaFormat::Mp4 => mp4(size, seed),
        MediaFormat::Jpeg => jpeg(),
    };
    let signed = sign(format, &media, &SignOptions::watermarked(generator))?;
    match kind {
        ClipKind::Signed => Ok(signed),
        ClipKind::Stripped => strip(format, &signed),
        ClipKind::Altered => tamper(format, &signed),
    }
}

/// PEM armour of DER bytes.
fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
