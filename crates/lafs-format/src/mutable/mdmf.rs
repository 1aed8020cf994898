//! MDMF share layout, version byte 1 (spec §5.5; Tahoe `mutable/layout.py`).
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 1 | version = 1 |
//! | 1 | 8 | seqnum |
//! | 9 | 32 | root_hash (share hash tree root) |
//! | 41 | 1 | k |
//! | 42 | 1 | N |
//! | 43 | 8 | segment_size (= next_multiple(131072, k)) |
//! | 51 | 8 | data_length |
//! | 59 | 8 | offset: encrypted private key |
//! | 67 | 8 | offset: share hash chain |
//! | 75 | 8 | offset: signature |
//! | 83 | 8 | offset: verification key |
//! | 91 | 8 | offset: end of verification key |
//! | 99 | 8 | offset: share data |
//! | 107 | 8 | offset: block hash tree |
//! | 115 | 8 | offset: EOF |
//! | 123 | | enc privkey, chain, signature, verification key, (gap), share data at 2167, block tree |
//!
//! Signed prefix = bytes 0..59; checkstring = bytes 0..41 (no salt). Share
//! data = `salt(16) || block` per segment; the block hash leaves are
//! `H_BLOCK(salt || block)`, which is how salts are authenticated.
//!
//! Python's writer puts the share data at the fixed offset
//! `123 + 1220 + 260 + 292 + 272 = 2167` and leaves the gap after the
//! verification key zero. We do the same whenever the variable fields fit
//! (they always do for RSA-2048 and N ≤ 256), so shares are byte-identical.

use super::share::{
    be_u64, check_range, hash_at, Offsets, ShareError, ShareHeader, SharePieces, Version,
};
use crate::hash::Hash;

/// Signed prefix length (`>BQ32sBBQQ`).
pub const SIGNED_PREFIX_LEN: usize = 59;
/// Header length (signed prefix + eight u64 offsets).
pub const HEADER_LEN: usize = 123;
/// Checkstring length (`>BQ32s`).
pub const CHECKSTRING_LEN: usize = 41;
/// Where Python's writer puts the share data.
pub const SHARE_DATA_OFFSET: usize = HEADER_LEN + 1220 + 260 + 292 + 34 * 8;
/// MDMF's maximum segment size before rounding up to a multiple of k.
pub const MAX_SEGMENT_SIZE: u64 = 131072;

/// The signed prefix for an MDMF share.
pub fn signed_prefix(
    seqnum: u64,
    root_hash: &Hash,
    k: u8,
    n: u8,
    segment_size: u64,
    data_length: u64,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(SIGNED_PREFIX_LEN);
    p.push(1);
    p.extend_from_slice(&seqnum.to_be_bytes());
    p.extend_from_slice(root_hash);
    p.push(k);
    p.push(n);
    p.extend_from_slice(&segment_size.to_be_bytes());
    p.extend_from_slice(&data_length.to_be_bytes());
    p
}

/// Parse the 123-byte header (the caller checked the length and version).
pub(crate) fn parse_header(b: &[u8]) -> Result<ShareHeader, ShareError> {
    let o: [u64; 8] = std::array::from_fn(|i| be_u64(b, 59 + 8 * i));
    let [epk, chain, sig, vk, vke, sd, bht, eof] = o;
    let offsets = Offsets {
        enc_privkey: epk..chain,
        share_hash_chain: chain..sig,
        signature: sig..vk,
        verification_key: vk..vke,
        share_data: sd..bht,
        block_hash_tree: bht..eof,
        eof,
    };
    for (r, f) in [
        (&offsets.enc_privkey, "enc_privkey"),
        (&offsets.share_hash_chain, "share_hash_chain"),
        (&offsets.signature, "signature"),
        (&offsets.verification_key, "verification_key"),
        (&offsets.share_data, "share_data"),
        (&offsets.block_hash_tree, "block_hash_tree"),
    ] {
        check_range(r, HEADER_LEN, eof, f)?;
    }
    if sd < vke {
        return Err(ShareError::BadOffsets {
            field: "share_data",
        });
    }
    Ok(ShareHeader {
        version: Version::Mdmf,
        seqnum: be_u64(b, 1),
        root_hash: hash_at(b, 9),
        sdmf_salt: None,
        k: b[41],
        n: b[42],
        segment_size: be_u64(b, 43),
        data_length: be_u64(b, 51),
        offsets,
        signed_prefix: b[..SIGNED_PREFIX_LEN].to_vec(),
    })
}

/// An MDMF share without its share data: what a partial update (spec
/// §5.6, Tahoe's `publish.py` update path) rewrites around the segments it
/// touches, the untouched `salt || block` pieces staying on the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Bytes `0..share_data_offset`: header and offsets, encrypted private
    /// key, share hash chain, signature, verification key, zero gap.
    pub head: Vec<u8>,
    /// Where the share data starts.
    pub share_data_offset: u64,
    /// The block hash tree, which goes right after the share data; EOF
    /// follows it.
    pub tail: Vec<u8>,
}

/// Lay out everything but the share data (`p.blocks` is ignored) for
/// `share_data_len` bytes of `salt || block` pieces, as
/// Python's `MDMFSlotWriteProxy` does.
pub fn pack_frame(p: &SharePieces<'_>, share_data_len: usize) -> Frame {
    let epk = HEADER_LEN;
    let chain = epk + p.enc_privkey.len();
    let sig = chain + p.share_hash_chain.len() * 34;
    let vk = sig + p.signature.len();
    let vke = vk + p.verification_key.len();
    // Python's fixed placement when the variable fields fit; packed tight
    // otherwise (readers follow the offsets either way).
    let sd = SHARE_DATA_OFFSET.max(vke);
    let bht = sd + share_data_len;
    let eof = bht + p.block_hash_tree.len() * 32;
    let mut head = Vec::with_capacity(sd);
    head.extend_from_slice(p.signed_prefix);
    for o in [epk, chain, sig, vk, vke, sd, bht, eof] {
        head.extend_from_slice(&(o as u64).to_be_bytes());
    }
    head.extend_from_slice(p.enc_privkey);
    for (i, h) in p.share_hash_chain {
        head.extend_from_slice(&i.to_be_bytes());
        head.extend_from_slice(h);
    }
    head.extend_from_slice(p.signature);
    head.extend_from_slice(p.verification_key);
    head.resize(sd, 0);
    Frame {
        head,
        share_data_offset: sd as u64,
        tail: p.block_hash_tree.iter().flatten().copied().collect(),
    }
}

/// Pack an MDMF share the way Python's `MDMFSlotWriteProxy` lays it out.
pub fn pack_share(p: &SharePieces<'_>) -> Vec<u8> {
    let sd_len: usize = p.blocks.iter().map(|(_, b)| 16 + b.len()).sum();
    let Frame { mut head, tail, .. } = pack_frame(p, sd_len);
    head.reserve(sd_len + tail.len());
    for (salt, block) in p.blocks {
        head.extend_from_slice(salt);
        head.extend_from_slice(block);
    }
    head.extend_from_slice(&tail);
    head
}
