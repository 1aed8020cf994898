//! Tahoe's base32 (spec §1.1): RFC 4648 alphabet, lowercase, unpadded.
//!
//! The decoder is strict, as Tahoe's cap regexes are: the unused low bits of
//! the last character must be zero, and lengths ≡ 1, 3, 6 (mod 8) never
//! decode. Strictness matters because a cap is an identifier: two strings
//! that decode to the same bytes must not both be accepted.

use data_encoding::{Encoding, Specification};
use std::sync::OnceLock;

/// Why a string is not Tahoe base32.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base32Error {
    /// A character outside `a-z2-7`.
    #[error("invalid base32 character {0:?} at position {1}")]
    BadChar(char, usize),
    /// The length can never be produced by the encoder.
    #[error("invalid base32 length {0}")]
    BadLength(usize),
    /// The final character carries non-zero padding bits.
    #[error("non-canonical base32: trailing bits are not zero")]
    NonCanonical,
    /// Decoded to a different number of bytes than required.
    #[error("base32 value has {got} bytes, expected {want}")]
    WrongSize {
        /// Bytes decoded.
        got: usize,
        /// Bytes required.
        want: usize,
    },
}

fn encoding() -> &'static Encoding {
    static ENC: OnceLock<Encoding> = OnceLock::new();
    ENC.get_or_init(|| {
        let mut spec = Specification::new();
        spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
        spec.check_trailing_bits = true;
        // The specification above is statically valid; `encoding()` cannot
        // fail for it, and a unit test exercises it on every run.
        #[allow(clippy::expect_used)]
        spec.encoding().expect("static base32 spec is valid")
    })
}

/// Encode bytes as Tahoe base32.
pub fn encode(data: &[u8]) -> String {
    encoding().encode(data)
}

/// Length in characters of the encoding of `nbytes` bytes.
pub const fn encoded_len(nbytes: usize) -> usize {
    (nbytes * 8).div_ceil(5)
}

/// Decode strict Tahoe base32.
pub fn decode(s: &str) -> Result<Vec<u8>, Base32Error> {
    if let Some((i, c)) = s
        .char_indices()
        .find(|&(_, c)| !matches!(c, 'a'..='z' | '2'..='7'))
    {
        return Err(Base32Error::BadChar(c, i));
    }
    if matches!(s.len() % 8, 1 | 3 | 6) {
        return Err(Base32Error::BadLength(s.len()));
    }
    encoding().decode(s.as_bytes()).map_err(|e| match e.kind {
        data_encoding::DecodeKind::Trailing => Base32Error::NonCanonical,
        data_encoding::DecodeKind::Length => Base32Error::BadLength(s.len()),
        _ => Base32Error::BadChar('?', e.position),
    })
}

/// Decode exactly `N` bytes.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], Base32Error> {
    let v = decode(s)?;
    <[u8; N]>::try_from(v.as_slice()).map_err(|_| Base32Error::WrongSize {
        got: v.len(),
        want: N,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        assert_eq!(encode(b"\x12\x34"), "ci2a");
        assert_eq!(encode(b"hello"), "nbswy3dp");
        assert_eq!(decode("nbswy3dp").unwrap(), b"hello");
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(encoded_len(16), 26);
        assert_eq!(encoded_len(32), 52);
        assert_eq!(encoded_len(20), 32);
    }

    #[test]
    fn strictness() {
        assert_eq!(decode("ci2b"), Err(Base32Error::NonCanonical));
        assert!(matches!(decode("CI2A"), Err(Base32Error::BadChar('C', 0))));
        assert!(matches!(decode("a"), Err(Base32Error::BadLength(1))));
        assert!(matches!(decode("abc"), Err(Base32Error::BadLength(3))));
        assert!(matches!(decode("ci2a="), Err(Base32Error::BadChar('=', 4))));
        // 16-byte values: last char must be one of a e i m q u y 4.
        let ok = encode(&[0xffu8; 16]);
        assert!(ok.ends_with('4'));
        let mut bad = ok.clone();
        bad.pop();
        bad.push('7');
        assert!(decode(&bad).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let s = encode(&data);
            prop_assert_eq!(s.len(), encoded_len(data.len()));
            prop_assert_eq!(decode(&s).unwrap(), data);
        }

        #[test]
        fn never_panics(s in ".{0,80}") {
            let _ = decode(&s);
        }

        #[test]
        fn canonical_only(s in "[a-z2-7]{0,40}") {
            if let Ok(v) = decode(&s) {
                prop_assert_eq!(encode(&v), s);
            }
        }
    }
}
