//! SDMF share layout, version byte 0 (spec §5.4; Tahoe `mutable/layout.py`).
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 1 | version = 0 |
//! | 1 | 8 | seqnum |
//! | 9 | 32 | root_hash (share hash tree root) |
//! | 41 | 16 | IV / salt |
//! | 57 | 1 | k |
//! | 58 | 1 | N |
//! | 59 | 8 | segment_size (= data_length rounded up to k) |
//! | 67 | 8 | data_length |
//! | 75 | 4 | offset: signature |
//! | 79 | 4 | offset: share hash chain |
//! | 83 | 4 | offset: block hash tree |
//! | 87 | 4 | offset: share data |
//! | 91 | 8 | offset: encrypted private key |
//! | 99 | 8 | offset: EOF |
//! | 107 | | verification key, signature, chain, block tree, share data, enc privkey |
//!
//! Signed prefix = bytes 0..75; checkstring = bytes 0..57. The verification
//! key runs from the end of the header to the signature offset.

use super::share::{
    be_u32, be_u64, check_range, hash_at, Offsets, ShareError, ShareHeader, SharePieces, Version,
};
use crate::hash::Hash;

/// Signed prefix length (`>BQ32s16sBBQQ`).
pub const SIGNED_PREFIX_LEN: usize = 75;
/// Header length (signed prefix + `>LLLLQQ`).
pub const HEADER_LEN: usize = 107;
/// Checkstring length (`>BQ32s16s`).
pub const CHECKSTRING_LEN: usize = 57;

/// The signed prefix for an SDMF share.
pub fn signed_prefix(
    seqnum: u64,
    root_hash: &Hash,
    salt: &[u8; 16],
    k: u8,
    n: u8,
    segment_size: u64,
    data_length: u64,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(SIGNED_PREFIX_LEN);
    p.push(0);
    p.extend_from_slice(&seqnum.to_be_bytes());
    p.extend_from_slice(root_hash);
    p.extend_from_slice(salt);
    p.push(k);
    p.push(n);
    p.extend_from_slice(&segment_size.to_be_bytes());
    p.extend_from_slice(&data_length.to_be_bytes());
    p
}

/// Parse the 107-byte header (the caller checked the length and version).
pub(crate) fn parse_header(b: &[u8]) -> Result<ShareHeader, ShareError> {
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&b[41..57]);
    let sig = be_u32(b, 75);
    let chain = be_u32(b, 79);
    let bht = be_u32(b, 83);
    let sd = be_u32(b, 87);
    let epk = be_u64(b, 91);
    let eof = be_u64(b, 99);
    let offsets = Offsets {
        verification_key: HEADER_LEN as u64..sig,
        signature: sig..chain,
        share_hash_chain: chain..bht,
        block_hash_tree: bht..sd,
        share_data: sd..epk,
        enc_privkey: epk..eof,
        eof,
    };
    for (r, f) in [
        (&offsets.verification_key, "signature"),
        (&offsets.signature, "share_hash_chain"),
        (&offsets.share_hash_chain, "block_hash_tree"),
        (&offsets.block_hash_tree, "share_data"),
        (&offsets.share_data, "enc_privkey"),
        (&offsets.enc_privkey, "EOF"),
    ] {
        check_range(r, HEADER_LEN, eof, f)?;
    }
    Ok(ShareHeader {
        version: Version::Sdmf,
        seqnum: be_u64(b, 1),
        root_hash: hash_at(b, 9),
        sdmf_salt: Some(salt),
        k: b[57],
        n: b[58],
        segment_size: be_u64(b, 59),
        data_length: be_u64(b, 67),
        offsets,
        signed_prefix: b[..SIGNED_PREFIX_LEN].to_vec(),
    })
}

/// Pack an SDMF share, fields back to back (Python's `pack_share`).
pub fn pack_share(p: &SharePieces<'_>) -> Vec<u8> {
    let chain_len = p.share_hash_chain.len() * 34;
    let bht_len = p.block_hash_tree.len() * 32;
    let sig = HEADER_LEN + p.verification_key.len();
    let chain = sig + p.signature.len();
    let bht = chain + chain_len;
    let sd = bht + bht_len;
    let block: &[u8] = p.blocks.first().map(|(_, b)| *b).unwrap_or(&[]);
    let epk = sd + block.len();
    let eof = epk + p.enc_privkey.len();
    let mut out = Vec::with_capacity(eof);
    out.extend_from_slice(p.signed_prefix);
    // The u32 offsets cannot overflow for any share we can hold in memory
    // below 4 GiB of header fields; the share data offset is u32 as in Python.
    for o in [sig, chain, bht, sd] {
        out.extend_from_slice(&(o as u32).to_be_bytes());
    }
    for o in [epk, eof] {
        out.extend_from_slice(&(o as u64).to_be_bytes());
    }
    out.extend_from_slice(p.verification_key);
    out.extend_from_slice(p.signature);
    for (i, h) in p.share_hash_chain {
        out.extend_from_slice(&i.to_be_bytes());
        out.extend_from_slice(h);
    }
    for h in p.block_hash_tree {
        out.extend_from_slice(h);
    }
    out.extend_from_slice(block);
    out.extend_from_slice(p.enc_privkey);
    out
}
