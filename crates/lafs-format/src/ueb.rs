//! The URI Extension Block (spec §4.3, Tahoe's `uri.pack_extension` /
//! `unpack_extension` and `immutable/downloader/share.py`).
//!
//! Every CHK share ends with a copy of the UEB: the file-wide facts a
//! downloader needs (segment size, the two Merkle roots) plus redundant
//! ones it checks. Its hash is in the read cap, so a UEB whose bytes hash
//! right can be trusted entirely.
//!
//! ## Serialization
//!
//! For each key in sorted (byte) order: `key || ":" || netstring(value)`,
//! concatenated. Integers are ASCII decimal, hashes raw 32 bytes. 1.20
//! writes exactly these keys:
//!
//! | key | value |
//! |---|---|
//! | `codec_name` | `crs` |
//! | `codec_params` | `<segment_size>-<k>-<N>` |
//! | `crypttext_hash` | 32 bytes, `H_CIPHERTEXT(whole ciphertext)` |
//! | `crypttext_root_hash` | 32 bytes |
//! | `needed_shares` | k |
//! | `num_segments` | decimal |
//! | `segment_size` | decimal |
//! | `share_root_hash` | 32 bytes |
//! | `size` | file size |
//! | `tail_codec_params` | `<padded_tail>-<k>-<N>` |
//! | `total_shares` | N |
//!
//! ## Parsing
//!
//! The reader follows Tahoe: `segment_size`, `crypttext_root_hash` and
//! `share_root_hash` are required; the others are optional and, when
//! present, checked against the cap by the decoder ([`crate::chk`]). Unknown
//! keys (e.g. the old `plaintext_hash`) are kept in [`Ueb::extra`] and
//! otherwise ignored. A repeated key keeps its last value (a Python dict).
//! A UEB of 2000 bytes or more is refused, as Tahoe's downloader does.
//! Verification always hashes the *stored* bytes; [`Ueb::to_bytes`] is for
//! writers.

use crate::hash::Hash;
use crate::netstring;
use std::collections::BTreeMap;

/// Tahoe's downloader refuses UEBs of this length or more.
pub const MAX_UEB_LEN: usize = 2000;

/// Why bytes are not a UEB.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UebError {
    /// Length ≥ [`MAX_UEB_LEN`].
    #[error("UEB is {0} bytes (limit {MAX_UEB_LEN})")]
    TooLong(usize),
    /// A key without its `:`, a bad netstring, or a non-UTF-8 key.
    #[error("malformed UEB at byte {0}")]
    Malformed(usize),
    /// A required key is absent.
    #[error("UEB lacks required key {0}")]
    Missing(&'static str),
    /// A value has the wrong form (not a number, not 32 bytes, bad params).
    #[error("UEB key {0} has a malformed value")]
    BadValue(&'static str),
}

/// `"<size>-<k>-<N>"` as in `codec_params` / `tail_codec_params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecParams {
    /// Bytes per (padded) segment.
    pub segment_size: u64,
    /// Needed shares.
    pub k: u16,
    /// Total shares.
    pub n: u16,
}

impl CodecParams {
    fn to_bytes(self) -> Vec<u8> {
        format!("{}-{}-{}", self.segment_size, self.k, self.n).into_bytes()
    }
    fn parse(v: &[u8], key: &'static str) -> Result<Self, UebError> {
        let s = std::str::from_utf8(v).map_err(|_| UebError::BadValue(key))?;
        let mut it = s.split('-');
        let (Some(a), Some(b), Some(c), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(UebError::BadValue(key));
        };
        Ok(CodecParams {
            segment_size: digits(a.as_bytes(), key)?,
            k: u16::try_from(digits(b.as_bytes(), key)?).map_err(|_| UebError::BadValue(key))?,
            n: u16::try_from(digits(c.as_bytes(), key)?).map_err(|_| UebError::BadValue(key))?,
        })
    }
}

/// A parsed UEB. Optional fields are those Tahoe's reader does not require.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ueb {
    /// `codec_name` (always `crs`).
    pub codec_name: Option<Vec<u8>>,
    /// `codec_params`.
    pub codec_params: Option<CodecParams>,
    /// `tail_codec_params`.
    pub tail_codec_params: Option<CodecParams>,
    /// `crypttext_hash`: hash of the whole ciphertext.
    pub crypttext_hash: Option<Hash>,
    /// `crypttext_root_hash` (required).
    pub crypttext_root_hash: Hash,
    /// `share_root_hash` (required).
    pub share_root_hash: Hash,
    /// `segment_size` (required).
    pub segment_size: u64,
    /// `num_segments`.
    pub num_segments: Option<u64>,
    /// `needed_shares`.
    pub needed_shares: Option<u64>,
    /// `total_shares`.
    pub total_shares: Option<u64>,
    /// `size`.
    pub size: Option<u64>,
    /// Keys this version does not interpret, with their raw values.
    pub extra: BTreeMap<String, Vec<u8>>,
}

fn digits(v: &[u8], key: &'static str) -> Result<u64, UebError> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(UebError::BadValue(key));
    }
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(UebError::BadValue(key))
}

fn hash32(v: &[u8], key: &'static str) -> Result<Hash, UebError> {
    Hash::try_from(v).map_err(|_| UebError::BadValue(key))
}

impl Ueb {
    /// Serialize: sorted keys, `key:netstring(value)` each.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut d: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        let num = |v: u64| v.to_string().into_bytes();
        if let Some(v) = &self.codec_name {
            d.insert("codec_name", v.clone());
        }
        if let Some(v) = self.codec_params {
            d.insert("codec_params", v.to_bytes());
        }
        if let Some(v) = self.tail_codec_params {
            d.insert("tail_codec_params", v.to_bytes());
        }
        if let Some(v) = self.crypttext_hash {
            d.insert("crypttext_hash", v.to_vec());
        }
        d.insert("crypttext_root_hash", self.crypttext_root_hash.to_vec());
        d.insert("share_root_hash", self.share_root_hash.to_vec());
        d.insert("segment_size", num(self.segment_size));
        for (k, v) in [
            ("num_segments", self.num_segments),
            ("needed_shares", self.needed_shares),
            ("total_shares", self.total_shares),
            ("size", self.size),
        ] {
            if let Some(v) = v {
                d.insert(k, num(v));
            }
        }
        for (k, v) in &self.extra {
            d.entry(k.as_str()).or_insert_with(|| v.clone());
        }
        let mut out = Vec::new();
        for (k, v) in d {
            out.extend_from_slice(k.as_bytes());
            out.push(b':');
            netstring::write(&mut out, &v);
        }
        out
    }

    /// Parse UEB bytes (see the module notes for what is required).
    pub fn parse(data: &[u8]) -> Result<Ueb, UebError> {
        if data.len() >= MAX_UEB_LEN {
            return Err(UebError::TooLong(data.len()));
        }
        let mut raw: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut rest = data;
        while !rest.is_empty() {
            let at = data.len() - rest.len();
            let colon = rest
                .iter()
                .position(|&b| b == b':')
                .ok_or(UebError::Malformed(at))?;
            let key = std::str::from_utf8(&rest[..colon]).map_err(|_| UebError::Malformed(at))?;
            let (value, tail) =
                netstring::split(&rest[colon + 1..]).map_err(|_| UebError::Malformed(at))?;
            raw.insert(key.to_owned(), value.to_vec());
            rest = tail;
        }
        let mut take = |k: &str| raw.remove(k);
        let num = |v: Option<Vec<u8>>, k: &'static str| v.map(|v| digits(&v, k)).transpose();
        let ueb = Ueb {
            codec_name: take("codec_name"),
            codec_params: take("codec_params")
                .map(|v| CodecParams::parse(&v, "codec_params"))
                .transpose()?,
            tail_codec_params: take("tail_codec_params")
                .map(|v| CodecParams::parse(&v, "tail_codec_params"))
                .transpose()?,
            crypttext_hash: take("crypttext_hash")
                .map(|v| hash32(&v, "crypttext_hash"))
                .transpose()?,
            crypttext_root_hash: hash32(
                &take("crypttext_root_hash").ok_or(UebError::Missing("crypttext_root_hash"))?,
                "crypttext_root_hash",
            )?,
            share_root_hash: hash32(
                &take("share_root_hash").ok_or(UebError::Missing("share_root_hash"))?,
                "share_root_hash",
            )?,
            segment_size: digits(
                &take("segment_size").ok_or(UebError::Missing("segment_size"))?,
                "segment_size",
            )?,
            num_segments: num(take("num_segments"), "num_segments")?,
            needed_shares: num(take("needed_shares"), "needed_shares")?,
            total_shares: num(take("total_shares"), "total_shares")?,
            size: num(take("size"), "size")?,
            extra: BTreeMap::new(),
        };
        Ok(Ueb { extra: raw, ..ueb })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Ueb {
        Ueb {
            codec_name: Some(b"crs".to_vec()),
            codec_params: Some(CodecParams {
                segment_size: 312,
                k: 3,
                n: 10,
            }),
            tail_codec_params: Some(CodecParams {
                segment_size: 312,
                k: 3,
                n: 10,
            }),
            crypttext_hash: Some([1; 32]),
            crypttext_root_hash: [2; 32],
            share_root_hash: [3; 32],
            segment_size: 312,
            num_segments: Some(1),
            needed_shares: Some(3),
            total_shares: Some(10),
            size: Some(310),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn sorted_keys_and_round_trip() {
        let u = sample();
        let b = u.to_bytes();
        assert!(b.starts_with(b"codec_name:3:crs,codec_params:8:312-3-10,crypttext_hash:32:"));
        assert!(b.ends_with(b"tail_codec_params:8:312-3-10,total_shares:2:10,"));
        assert_eq!(Ueb::parse(&b).unwrap(), u);
    }

    #[test]
    fn unknown_keys_kept_required_enforced() {
        let mut b = sample().to_bytes();
        b.extend_from_slice(b"zzz_future:3:abc,");
        let u = Ueb::parse(&b).unwrap();
        assert_eq!(
            u.extra.get("zzz_future").map(Vec::as_slice),
            Some(&b"abc"[..])
        );
        assert_eq!(
            Ueb::parse(b"segment_size:1:5,"),
            Err(UebError::Missing("crypttext_root_hash"))
        );
        assert!(matches!(
            Ueb::parse(&vec![b'a'; 2000]),
            Err(UebError::TooLong(2000))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Ueb::parse(&data);
        }

        #[test]
        fn round_trip(seg in 1u64..1<<40, k in 1u16..=256, n in 1u16..=256, size in 0u64..u64::MAX,
                      h in any::<[u8; 32]>(), extra in proptest::option::of("[a-z_]{1,12}")) {
            let mut u = sample();
            u.segment_size = seg;
            u.codec_params = Some(CodecParams { segment_size: seg, k, n });
            u.size = Some(size);
            u.share_root_hash = h;
            if let Some(e) = extra {
                if !["codec_name","codec_params","tail_codec_params","crypttext_hash",
                     "crypttext_root_hash","share_root_hash","segment_size","num_segments",
                     "needed_shares","total_shares","size"].contains(&e.as_str()) {
                    u.extra.insert(e, vec![1, 2, 3]);
                }
            }
            let b = u.to_bytes();
            prop_assert_eq!(Ueb::parse(&b).unwrap(), u);
        }
    }
}
