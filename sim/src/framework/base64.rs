//! HTTP Basic credentials for the emulators, with the `base64` crate (already in the tree
//! through c2pa and jsonwebtoken).

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64; padding optional on decode (clients differ).
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes with padding.
pub(crate) fn encode(input: &[u8]) -> String {
    ENGINE.encode(input)
}

/// Decodes padded or unpadded input; None on any invalid character.
pub(crate) fn decode(input: &str) -> Option<Vec<u8>> {
    ENGINE.decode(input).ok()
}

/// The `user`/`password` pair of an `Authorization: Basic …` header value.
pub(crate) fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = String::from_utf8(decode(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        for s in ["", "a", "ab", "abc", "user:pa ss", "wcadmin:wcadmin"] {
            let e = super::encode(s.as_bytes());
            assert_eq!(super::decode(&e).as_deref(), Some(s.as_bytes()));
            assert_eq!(
                super::decode(e.trim_end_matches('=')).as_deref(),
                Some(s.as_bytes()),
                "unpadded"
            );
        }
        assert_eq!(
            super::encode(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(super::decode("not base64!"), None);
    }
}
