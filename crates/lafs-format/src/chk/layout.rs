//! CHK share data layout, versions 1 and 2 (spec §4.4, Tahoe's
//! `immutable/layout.py`). This is what a server container stores after its
//! own header (§7.2).
//!
//! ## Header
//!
//! | v1 off | v2 off | field |
//! |---|---|---|
//! | 0x00 (u32) | 0x00 (u32) | version: 1 or 2 |
//! | 0x04 (u32) | 0x04 (u64) | block_size (informational) |
//! | 0x08 (u32) | 0x0c (u64) | share data size (informational) |
//! | 0x0c (u32) | 0x14 (u64) | offset of data (0x24 / 0x44) |
//! | 0x10 (u32) | 0x1c (u64) | offset of plaintext hash tree (unused, zeros) |
//! | 0x14 (u32) | 0x24 (u64) | offset of crypttext hash tree |
//! | 0x18 (u32) | 0x2c (u64) | offset of block hashes |
//! | 0x1c (u32) | 0x34 (u64) | offset of share hashes |
//! | 0x20 (u32) | 0x3c (u64) | offset of UEB length field |
//! | 0x24 | 0x44 | blocks: block s at `data + s·block_size` |
//!
//! ## Sections, back to back
//!
//! 1. blocks (`share_size` bytes);
//! 2. plaintext hash tree area: `(2·roundup_pow2(num_segments) − 1)·32` zero bytes;
//! 3. crypttext hash tree, all nodes in index order (same size);
//! 4. this share's block hash tree, all nodes (same size);
//! 5. share hash chain: records of `u16 index || 32-byte hash`;
//! 6. UEB length (u32 in v1, u64 in v2) then the UEB.
//!
//! Version 1 is used when every field fits in 32 bits; the writer picks v2
//! otherwise (or when forced). Old (≤ 1.2) writers reserved 1000 bytes for
//! the UEB, so shares may carry trailing bytes after it: the reader always
//! uses the length field and ignores what follows. The chain's order is
//! CPython set order ([`super::cpython_set_order`]); readers treat it as a
//! map.

use crate::hash::Hash;
use crate::hashtree::HashTree;
use std::collections::BTreeMap;

/// Size of a share-hash-chain record: u16 index + 32-byte hash.
pub const CHAIN_RECORD_LEN: usize = 34;

/// The layout version word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayoutVersion {
    /// 32-bit fields, 0x24-byte header.
    V1,
    /// 64-bit fields, 0x44-byte header.
    V2,
}

impl LayoutVersion {
    /// Header length.
    pub fn header_len(self) -> usize {
        match self {
            LayoutVersion::V1 => 0x24,
            LayoutVersion::V2 => 0x44,
        }
    }
    /// Width of the UEB length field.
    pub fn ueb_length_field_len(self) -> usize {
        match self {
            LayoutVersion::V1 => 4,
            LayoutVersion::V2 => 8,
        }
    }
    /// The version word.
    pub fn number(self) -> u32 {
        match self {
            LayoutVersion::V1 => 1,
            LayoutVersion::V2 => 2,
        }
    }
}

/// Why share data cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Shorter than the header (or than a section the header points at).
    #[error("share data truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: u64,
        /// Bytes present.
        have: u64,
    },
    /// Version word other than 1 or 2.
    #[error("unknown CHK share layout version {0}")]
    UnknownVersion(u32),
    /// Offsets out of order or before the end of the header.
    #[error("CHK share offsets are inconsistent ({0})")]
    BadOffsets(&'static str),
    /// A hash section whose length is not a whole number of records.
    #[error("CHK share section {0} has a partial record")]
    PartialRecord(&'static str),
    /// A value does not fit the version chosen by the writer.
    #[error("share too large for layout v1")]
    TooLargeForV1,
}

/// The six section offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    /// Start of the blocks.
    pub data: u64,
    /// Start of the (unused) plaintext hash tree area.
    pub plaintext_hash_tree: u64,
    /// Start of the crypttext hash tree.
    pub crypttext_hash_tree: u64,
    /// Start of this share's block hash tree.
    pub block_hashes: u64,
    /// Start of the share hash chain.
    pub share_hashes: u64,
    /// Position of the UEB length field.
    pub uri_extension: u64,
}

/// A parsed or computed share header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareHeader {
    /// v1 or v2.
    pub version: LayoutVersion,
    /// Block size (informational).
    pub block_size: u64,
    /// Share data size (informational).
    pub data_size: u64,
    /// Section offsets.
    pub offsets: Offsets,
}

fn be_u32(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_be_bytes(a))
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

impl ShareHeader {
    /// Bytes a reader should fetch first to learn the layout (spec §4.5).
    pub const MAX_LEN: usize = 0x44;

    /// Parse the header from the first bytes of the share (at least 0x24
    /// for v1, 0x44 for v2). Checks that the offsets are ordered.
    pub fn parse(b: &[u8]) -> Result<ShareHeader, LayoutError> {
        let have = b.len() as u64;
        if b.len() < 4 {
            return Err(LayoutError::Truncated { need: 4, have });
        }
        let version = match be_u32(b, 0) {
            1 => LayoutVersion::V1,
            2 => LayoutVersion::V2,
            v => return Err(LayoutError::UnknownVersion(v as u32)),
        };
        let need = version.header_len();
        if b.len() < need {
            return Err(LayoutError::Truncated {
                need: need as u64,
                have,
            });
        }
        let f: Vec<u64> = match version {
            LayoutVersion::V1 => (0..8).map(|i| be_u32(b, 4 + 4 * i)).collect(),
            LayoutVersion::V2 => (0..8).map(|i| be_u64(b, 4 + 8 * i)).collect(),
        };
        let h = ShareHeader {
            version,
            block_size: f[0],
            data_size: f[1],
            offsets: Offsets {
                data: f[2],
                plaintext_hash_tree: f[3],
                crypttext_hash_tree: f[4],
                block_hashes: f[5],
                share_hashes: f[6],
                uri_extension: f[7],
            },
        };
        h.check()?;
        Ok(h)
    }

    fn check(&self) -> Result<(), LayoutError> {
        let o = &self.offsets;
        if o.data < self.version.header_len() as u64 {
            return Err(LayoutError::BadOffsets("data overlaps the header"));
        }
        let order = [
            o.data,
            o.plaintext_hash_tree,
            o.crypttext_hash_tree,
            o.block_hashes,
            o.share_hashes,
            o.uri_extension,
        ];
        if order.windows(2).any(|w| w[0] > w[1]) {
            return Err(LayoutError::BadOffsets("sections out of order"));
        }
        Ok(())
    }

    /// The writer's header for the shares of a file with this geometry
    /// (the UEB length does not enter it). `version = None` picks v1 when
    /// it fits.
    pub fn for_share(
        geometry: &super::Geometry,
        version: Option<LayoutVersion>,
    ) -> Result<ShareHeader, LayoutError> {
        let tree = (crate::hashtree::tree_len(
            usize::try_from(geometry.num_segments).map_err(|_| LayoutError::TooLargeForV1)?,
        ) as u64)
            .checked_mul(32)
            .ok_or(LayoutError::TooLargeForV1)?;
        let chain_len = (chain_records(usize::from(geometry.total)) * CHAIN_RECORD_LEN) as u64;
        let build = |v: LayoutVersion| -> Option<ShareHeader> {
            let data = v.header_len() as u64;
            let pt = data.checked_add(geometry.share_size)?;
            let ct = pt.checked_add(tree)?;
            let bh = ct.checked_add(tree)?;
            let sh = bh.checked_add(tree)?;
            let ueb = sh.checked_add(chain_len)?;
            Some(ShareHeader {
                version: v,
                block_size: geometry.block_size,
                data_size: geometry.share_size,
                offsets: Offsets {
                    data,
                    plaintext_hash_tree: pt,
                    crypttext_hash_tree: ct,
                    block_hashes: bh,
                    share_hashes: sh,
                    uri_extension: ueb,
                },
            })
        };
        // Exactly Tahoe's test (`WriteBucketProxy._create_offsets`): block
        // size, share size and the last offset must be below 2^32; the UEB
        // itself may run past it.
        let fits_v1 = |h: &ShareHeader| {
            [h.block_size, h.data_size, h.offsets.uri_extension]
                .iter()
                .all(|&x| x < 1 << 32)
        };
        match version {
            Some(LayoutVersion::V2) => build(LayoutVersion::V2).ok_or(LayoutError::TooLargeForV1),
            Some(LayoutVersion::V1) => match build(LayoutVersion::V1) {
                Some(h) if fits_v1(&h) => Ok(h),
                _ => Err(LayoutError::TooLargeForV1),
            },
            None => match build(LayoutVersion::V1) {
                Some(h) if fits_v1(&h) => Ok(h),
                _ => build(LayoutVersion::V2).ok_or(LayoutError::TooLargeForV1),
            },
        }
    }

    /// Serialize the header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let o = &self.offsets;
        let fields = [
            self.block_size,
            self.data_size,
            o.data,
            o.plaintext_hash_tree,
            o.crypttext_hash_tree,
            o.block_hashes,
            o.share_hashes,
            o.uri_extension,
        ];
        let mut out = Vec::with_capacity(self.version.header_len());
        out.extend_from_slice(&self.version.number().to_be_bytes());
        for f in fields {
            match self.version {
                // for_share() only picks v1 when every field fits.
                LayoutVersion::V1 => out.extend_from_slice(&(f as u32).to_be_bytes()),
                LayoutVersion::V2 => out.extend_from_slice(&f.to_be_bytes()),
            }
        }
        out
    }

    /// The size to request from servers: everything up to the end of the UEB.
    pub fn allocated_size(&self, ueb_len: usize) -> u64 {
        self.offsets.uri_extension + self.version.ueb_length_field_len() as u64 + ueb_len as u64
    }
}

/// Records in the share hash chain for N shares: `log2(roundup_pow2(N)) + 1`.
pub fn chain_records(total: usize) -> usize {
    crate::hashtree::roundup_pow2(total).trailing_zeros() as usize + 1
}

/// Everything after the blocks: plaintext-tree zeros, crypttext tree, block
/// tree, chain, UEB length and UEB (sections 2–6).
pub fn share_trailer(
    header: &ShareHeader,
    crypttext_tree: &HashTree,
    block_tree: &HashTree,
    chain: &[(usize, Hash)],
    ueb: &[u8],
) -> Vec<u8> {
    let tree_bytes = crypttext_tree.nodes().len() * 32;
    let mut out =
        Vec::with_capacity(3 * tree_bytes + chain.len() * CHAIN_RECORD_LEN + 8 + ueb.len());
    out.resize(tree_bytes, 0);
    out.extend_from_slice(&crypttext_tree.to_bytes());
    out.extend_from_slice(&block_tree.to_bytes());
    for (i, h) in chain {
        // Share-tree indexes are < 511 for N ≤ 256.
        out.extend_from_slice(&(*i as u16).to_be_bytes());
        out.extend_from_slice(h);
    }
    match header.version {
        LayoutVersion::V1 => out.extend_from_slice(&(ueb.len() as u32).to_be_bytes()),
        LayoutVersion::V2 => out.extend_from_slice(&(ueb.len() as u64).to_be_bytes()),
    }
    out.extend_from_slice(ueb);
    out
}

/// A whole share's data parsed by its offsets. Nothing here is verified:
/// see [`super::verify_share`].
#[derive(Clone, PartialEq, Eq)]
pub struct ChkShare<'a> {
    /// The header.
    pub header: ShareHeader,
    /// The blocks area `[data, plaintext_hash_tree)`.
    pub data: &'a [u8],
    /// The unused plaintext hash tree area (zeros when written by 1.20).
    pub plaintext_hash_area: &'a [u8],
    /// Crypttext hash tree nodes in index order.
    pub crypttext_hash_tree: Vec<Hash>,
    /// This share's block hash tree nodes in index order.
    pub block_hash_tree: Vec<Hash>,
    /// The share hash chain in stored order.
    pub share_hashes: Vec<(u16, Hash)>,
    /// The UEB bytes as stored.
    pub ueb: &'a [u8],
    /// Bytes after the UEB (old writers' reservation padding).
    pub trailing: &'a [u8],
}

impl std::fmt::Debug for ChkShare<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChkShare")
            .field("header", &self.header)
            .field("data_len", &self.data.len())
            .field("crypttext_hash_tree", &self.crypttext_hash_tree.len())
            .field("block_hash_tree", &self.block_hash_tree.len())
            .field("share_hashes", &self.share_hashes.len())
            .field("ueb_len", &self.ueb.len())
            .field("trailing", &self.trailing.len())
            .finish()
    }
}

fn section(b: &[u8], from: u64, to: u64) -> Result<&[u8], LayoutError> {
    let have = b.len() as u64;
    if to > have || from > to {
        return Err(LayoutError::Truncated { need: to, have });
    }
    // from ≤ to ≤ len, so both fit in usize.
    Ok(&b[from as usize..to as usize])
}

fn hashes(s: &[u8], name: &'static str) -> Result<Vec<Hash>, LayoutError> {
    if !s.len().is_multiple_of(32) {
        return Err(LayoutError::PartialRecord(name));
    }
    Ok(s.chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

impl<'a> ChkShare<'a> {
    /// Parse whole share data by its offsets.
    pub fn parse(b: &'a [u8]) -> Result<ChkShare<'a>, LayoutError> {
        let header = ShareHeader::parse(b)?;
        let o = header.offsets;
        let data = section(b, o.data, o.plaintext_hash_tree)?;
        Self::parse_sections(header, data, b.len() as u64, |from, to| {
            section(b, from, to)
        })
    }

    /// Parse a share from everything but its blocks: its parsed `header`
    /// and `tail`, the bytes from the plaintext hash area
    /// (`offsets.plaintext_hash_tree`) to the end. The result's `data` is
    /// empty. A verifier reads these few kilobytes first and then streams
    /// the blocks, instead of holding a share whole (a third of the file
    /// for 3-of-N).
    pub fn parse_parts(header: ShareHeader, tail: &'a [u8]) -> Result<ChkShare<'a>, LayoutError> {
        let tail_at = header.offsets.plaintext_hash_tree;
        let end = tail_at.saturating_add(tail.len() as u64);
        Self::parse_sections(header, &[], end, |from, to| {
            // Every section after the blocks starts at or after `tail_at`.
            let from = from.checked_sub(tail_at).ok_or(LayoutError::Truncated {
                need: tail_at,
                have: from,
            })?;
            section(tail, from, to.saturating_sub(tail_at))
        })
    }

    /// The sections after the blocks, read through `get(from, to)`; `len`
    /// is the share's total length.
    fn parse_sections(
        header: ShareHeader,
        data: &'a [u8],
        len: u64,
        get: impl Fn(u64, u64) -> Result<&'a [u8], LayoutError>,
    ) -> Result<ChkShare<'a>, LayoutError> {
        let o = header.offsets;
        let plaintext_hash_area = get(o.plaintext_hash_tree, o.crypttext_hash_tree)?;
        let crypttext_hash_tree = hashes(
            get(o.crypttext_hash_tree, o.block_hashes)?,
            "crypttext hash tree",
        )?;
        let block_hash_tree = hashes(get(o.block_hashes, o.share_hashes)?, "block hash tree")?;
        let chain = get(o.share_hashes, o.uri_extension)?;
        if !chain.len().is_multiple_of(CHAIN_RECORD_LEN) {
            return Err(LayoutError::PartialRecord("share hash chain"));
        }
        let share_hashes = chain
            .chunks_exact(CHAIN_RECORD_LEN)
            .map(|r| {
                let mut h = [0u8; 32];
                h.copy_from_slice(&r[2..]);
                (u16::from_be_bytes([r[0], r[1]]), h)
            })
            .collect();
        let lf = header.version.ueb_length_field_len() as u64;
        let len_field = get(o.uri_extension, o.uri_extension.saturating_add(lf))?;
        let ueb_len = match header.version {
            LayoutVersion::V1 => be_u32(len_field, 0),
            LayoutVersion::V2 => be_u64(len_field, 0),
        };
        let ueb_start = o.uri_extension + lf;
        let ueb_end = ueb_start
            .checked_add(ueb_len)
            .ok_or(LayoutError::Truncated {
                need: u64::MAX,
                have: len,
            })?;
        let ueb = get(ueb_start, ueb_end)?;
        let trailing = get(ueb_end, len)?;
        Ok(ChkShare {
            header,
            data,
            plaintext_hash_area,
            crypttext_hash_tree,
            block_hash_tree,
            share_hashes,
            ueb,
            trailing,
        })
    }

    /// The share hash chain as an index → hash map (order never matters;
    /// a repeated index keeps its last hash, as Tahoe's dict does).
    pub fn share_hash_map(&self) -> BTreeMap<usize, Hash> {
        self.share_hashes
            .iter()
            .map(|(i, h)| (usize::from(*i), *h))
            .collect()
    }

    /// Block `s` given the file's geometry, if the data area holds it.
    pub fn block(&self, g: &super::Geometry, s: u64) -> Option<&'a [u8]> {
        let start = s.checked_mul(g.block_size)?;
        let end = start.checked_add(g.block_len(s))?;
        if end > self.data.len() as u64 {
            return None;
        }
        Some(&self.data[start as usize..end as usize])
    }

    /// Guess the share number from the chain: the leaf-level entry whose
    /// hash is this share's block-tree root. (Share data does not record
    /// its own number; servers keep it in the file name.)
    pub fn infer_shnum(&self, total: u16) -> Option<u16> {
        let root = self.block_hash_tree.first()?;
        let first_leaf = crate::hashtree::roundup_pow2(usize::from(total)) - 1;
        self.share_hashes.iter().find_map(|(i, h)| {
            let i = usize::from(*i);
            (i >= first_leaf && i < first_leaf + usize::from(total) && h == root)
                .then(|| (i - first_leaf) as u16)
        })
    }
}
