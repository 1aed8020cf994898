//! AES-128-CTR (spec §2.8), the only cipher Tahoe uses.
//!
//! The 16-byte IV is the initial 128-bit big-endian counter block; Tahoe
//! always starts at zero and gets uniqueness from per-file or per-salt keys.
//! [`AesCtr::seek`] jumps to any byte offset, which is what random-access
//! downloads need.

use aes::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

type Ctr = ctr::Ctr128BE<aes::Aes128>;
type Ctr256 = ctr::Ctr128BE<aes::Aes256>;

/// A keyed AES-128-CTR keystream positioned at some byte offset.
#[derive(Clone)]
pub struct AesCtr(Ctr);

impl std::fmt::Debug for AesCtr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesCtr(<redacted>)")
    }
}

impl AesCtr {
    /// Keystream for `key` starting at counter 0 (Tahoe's zero IV).
    pub fn new(key: &[u8; 16]) -> Self {
        Self::with_iv(key, &[0u8; 16])
    }

    /// Keystream starting at counter block `iv`.
    pub fn with_iv(key: &[u8; 16], iv: &[u8; 16]) -> Self {
        AesCtr(Ctr::new(key.into(), iv.into()))
    }

    /// Move to byte offset `pos` of the keystream.
    pub fn seek(&mut self, pos: u64) {
        self.0.seek(pos);
    }

    /// XOR the keystream into `buf` (encrypts and decrypts alike).
    pub fn apply(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
}

/// One-shot AES-128-CTR from counter 0.
pub fn aes128_ctr(key: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    AesCtr::new(key).apply(&mut out);
    out
}

/// AES-CTR with a 16- or 32-byte key and any IV (only the regression
/// vectors use AES-256; Tahoe itself only uses AES-128).
pub fn aes_ctr_any(key: &[u8], iv: &[u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    let mut out = data.to_vec();
    match key.len() {
        16 => Ctr::new_from_slices(key, iv)
            .ok()?
            .apply_keystream(&mut out),
        32 => Ctr256::new_from_slices(key, iv)
            .ok()?
            .apply_keystream(&mut out),
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_matches_stream() {
        let key = [7u8; 16];
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let whole = aes128_ctr(&key, &data);
        let mut c = AesCtr::new(&key);
        c.seek(333);
        let mut part = data[333..700].to_vec();
        c.apply(&mut part);
        assert_eq!(part, &whole[333..700]);
    }
}
