//! Original files behind the Bynder emulator's download URLs: a small MP4-shaped byte string
//! (`ftyp`, an optional provenance box, `mdat`), deterministic per asset.
//!
//! The provenance box is a stand-in for a C2PA manifest (not real JUMBF/COSE): a `uuid` box
//! with the C2PA UUID whose payload is JSON `{"claim_generator":…,"alg":"sha256","hash":…}`,
//! the hash covering the `mdat` payload. "Altered" files have one payload byte changed after
//! hashing; "missing" files have no such box.

use sha2::{Digest, Sha256};

use super::store::{Media, Provenance};

/// The C2PA box UUID used by MP4 embedding.
const C2PA_UUID: [u8; 16] = [
    0xD8, 0xFE, 0xC3, 0xD6, 0x1B, 0x0E, 0x48, 0x3C, 0x92, 0x97, 0x58, 0x28, 0x87, 0x7E, 0xC4, 0x81,
];

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len() + 8).unwrap_or(u32::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// The bytes of a media item's original file, about `size` bytes long.
pub(crate) fn original(m: &Media, size: usize) -> Vec<u8> {
    let mut ftyp = b"isom".to_vec();
    ftyp.extend_from_slice(&[0, 0, 2, 0]);
    ftyp.extend_from_slice(b"isommp42");
    let mut out = boxed(b"ftyp", &ftyp);
    // Payload: a keyed stream from the asset id (sha256 in counter mode).
    let want = size.saturating_sub(out.len() + 8 + 200).max(64);
    let mut payload = Vec::with_capacity(want + 32);
    let mut counter = 0u64;
    while payload.len() < want {
        let mut h = Sha256::new();
        h.update(m.id.as_bytes());
        h.update(counter.to_be_bytes());
        payload.extend_from_slice(&h.finalize());
        counter += 1;
    }
    payload.truncate(want);
    if m.provenance != Provenance::Missing {
        let manifest = serde_json::json!({
            "claim_generator": m.generator,
            "alg": "sha256",
            "hash": hex::encode(Sha256::digest(&payload)),
        });
        let mut uuid = C2PA_UUID.to_vec();
        uuid.extend_from_slice(manifest.to_string().as_bytes());
        out.extend_from_slice(&boxed(b"uuid", &uuid));
    }
    if m.provenance == Provenance::Altered {
        let mid = payload.len() / 2;
        payload[mid] ^= 0x01;
    }
    out.extend_from_slice(&boxed(b"mdat", &payload));
    out
}
