//! Reading mutable shares (SDMF §5.4 and MDMF §5.5), by offsets.
//!
//! A share starts with a version byte; [`Version`] dispatches to the SDMF
//! (0) or MDMF (1) header parser, and everything after the header is found
//! through the header's offset table, never by assuming the writer's
//! packing. Parsing is split in two so the network reader can reuse it:
//!
//! * [`ShareHeader::parse`] needs only the first [`HEADER_LEN_MAX`] bytes
//!   (what a servermap update reads): version, seqnum, root hash, salt (SDMF),
//!   k, N, segment size, data length, the raw signed prefix and
//!   checkstring, and every field's byte range.
//! * [`MutableShare::parse`] takes a whole share and slices every field.
//!
//! The stored bytes are kept as slices: signatures and hashes are checked
//! over the bytes as stored, never a re-serialization.

use super::{mdmf, sdmf};
use crate::hash::Hash;
use std::ops::Range;

/// The longest header (MDMF, 123 bytes): read this much to parse any header.
pub const HEADER_LEN_MAX: usize = mdmf::HEADER_LEN;
/// Per-segment salt length (the SDMF IV is also 16 bytes).
pub const SALT_LEN: usize = 16;
/// One share-hash-chain record: `u16 index || 32-byte hash`.
pub const CHAIN_RECORD_LEN: usize = 34;

/// The share layout version (the first byte of the share).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// Version 0: one segment, one IV in the header.
    Sdmf,
    /// Version 1: 128 KiB segments, a salt before every block.
    Mdmf,
}

impl Version {
    /// The version byte.
    pub fn byte(self) -> u8 {
        match self {
            Version::Sdmf => 0,
            Version::Mdmf => 1,
        }
    }
    /// Length of the header (signed prefix + offset table).
    pub fn header_len(self) -> usize {
        match self {
            Version::Sdmf => sdmf::HEADER_LEN,
            Version::Mdmf => mdmf::HEADER_LEN,
        }
    }
    /// Length of the signed prefix.
    pub fn signed_prefix_len(self) -> usize {
        match self {
            Version::Sdmf => sdmf::SIGNED_PREFIX_LEN,
            Version::Mdmf => mdmf::SIGNED_PREFIX_LEN,
        }
    }
    /// Length of the checkstring used in test-and-set writes.
    pub fn checkstring_len(self) -> usize {
        match self {
            Version::Sdmf => sdmf::CHECKSTRING_LEN,
            Version::Mdmf => mdmf::CHECKSTRING_LEN,
        }
    }
}

/// Why a share could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// Fewer bytes than the header needs.
    #[error("share is {have} bytes, header needs {need}")]
    ShortHeader {
        /// Bytes available.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The version byte is neither 0 (SDMF) nor 1 (MDMF).
    #[error("unknown mutable share version {0}")]
    UnknownVersion(u8),
    /// The offset table is not monotonic or points inside the header.
    #[error("offset table is inconsistent at field {field}")]
    BadOffsets {
        /// The first field whose range is wrong.
        field: &'static str,
    },
    /// The share is shorter than its EOF offset.
    #[error("share is {have} bytes, its offsets need {need}")]
    Truncated {
        /// Bytes available.
        have: u64,
        /// EOF offset.
        need: u64,
    },
    /// k or N are out of range (1 <= k <= N <= 256; N stored as u8).
    #[error("bad encoding parameters k={k} N={n}")]
    BadParams {
        /// k.
        k: u8,
        /// N.
        n: u8,
    },
    /// A field's length is not a multiple of its record size.
    #[error("{field} is {len} bytes, not a multiple of {record}")]
    RaggedField {
        /// Field name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// Record size.
        record: usize,
    },
    /// The share data does not have the size the header implies.
    #[error("share data is {have} bytes, header implies {need}")]
    ShareDataSize {
        /// Actual bytes.
        have: u64,
        /// Expected bytes.
        need: u64,
    },
    /// The segment size is not a multiple of k, or segments are impossible.
    #[error("segment size {segment_size} does not fit k={k}, data length {data_length}")]
    BadSegmentation {
        /// Segment size.
        segment_size: u64,
        /// k.
        k: u8,
        /// Data length.
        data_length: u64,
    },
}

/// Byte ranges of every field, as the offset table says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offsets {
    /// Verification key (SPKI DER).
    pub verification_key: Range<u64>,
    /// RSA-PSS signature over the signed prefix.
    pub signature: Range<u64>,
    /// Share hash chain records.
    pub share_hash_chain: Range<u64>,
    /// Block hash tree (all nodes).
    pub block_hash_tree: Range<u64>,
    /// Share data (SDMF: one block; MDMF: `salt || block` per segment).
    pub share_data: Range<u64>,
    /// AES-CTR(writekey) encrypted PKCS#8 private key.
    pub enc_privkey: Range<u64>,
    /// End of the share.
    pub eof: u64,
}

/// The parsed header: everything a servermap update needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareHeader {
    /// SDMF or MDMF.
    pub version: Version,
    /// Sequence number (higher wins).
    pub seqnum: u64,
    /// Root of the share hash tree.
    pub root_hash: Hash,
    /// SDMF's single IV; `None` for MDMF (salts live with the blocks).
    pub sdmf_salt: Option<[u8; 16]>,
    /// Shares needed.
    pub k: u8,
    /// Shares total.
    pub n: u8,
    /// Segment size (SDMF: data length rounded up to k).
    pub segment_size: u64,
    /// Plaintext length.
    pub data_length: u64,
    /// The offset table.
    pub offsets: Offsets,
    /// The signed prefix exactly as stored (75 or 59 bytes).
    pub signed_prefix: Vec<u8>,
}

pub(crate) fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

pub(crate) fn be_u32(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_be_bytes(a))
}

pub(crate) fn hash_at(b: &[u8], at: usize) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(&b[at..at + 32]);
    h
}

impl ShareHeader {
    /// Parse the header from the first bytes of a share (at least
    /// [`Version::header_len`] of them; [`HEADER_LEN_MAX`] is always enough).
    pub fn parse(data: &[u8]) -> Result<Self, ShareError> {
        let version = match data.first() {
            None => return Err(ShareError::ShortHeader { have: 0, need: 1 }),
            Some(0) => Version::Sdmf,
            Some(1) => Version::Mdmf,
            Some(&v) => return Err(ShareError::UnknownVersion(v)),
        };
        let need = version.header_len();
        if data.len() < need {
            return Err(ShareError::ShortHeader {
                have: data.len(),
                need,
            });
        }
        let h = match version {
            Version::Sdmf => sdmf::parse_header(&data[..need]),
            Version::Mdmf => mdmf::parse_header(&data[..need]),
        }?;
        if h.k == 0 || h.n == 0 || h.k > h.n {
            return Err(ShareError::BadParams { k: h.k, n: h.n });
        }
        Ok(h)
    }

    /// The checkstring (SDMF: bytes 0..57, MDMF: bytes 0..41).
    pub fn checkstring(&self) -> &[u8] {
        &self.signed_prefix[..self.version.checkstring_len()]
    }

    /// Number of segments (SDMF: 0 or 1).
    pub fn num_segments(&self) -> u64 {
        if self.segment_size == 0 {
            0
        } else {
            self.data_length.div_ceil(self.segment_size)
        }
    }

    /// Block size of a full segment.
    pub fn block_size(&self) -> u64 {
        self.segment_size / u64::from(self.k)
    }

    /// Block size of the last segment.
    pub fn tail_block_size(&self) -> u64 {
        if self.segment_size == 0 {
            return 0;
        }
        let tail = self.data_length % self.segment_size;
        if tail == 0 {
            self.block_size()
        } else {
            tail.div_ceil(u64::from(self.k))
        }
    }

    /// Plaintext bytes in segment `seg`.
    pub fn segment_len(&self, seg: u64) -> u64 {
        let start = seg.saturating_mul(self.segment_size);
        self.data_length
            .saturating_sub(start)
            .min(self.segment_size)
    }

    /// A JSON summary (for `lafs debug dump-share`).
    pub fn fields(&self) -> serde_json::Value {
        let o = &self.offsets;
        let r = |r: &Range<u64>| serde_json::json!([r.start, r.end]);
        serde_json::json!({
            "version": match self.version { Version::Sdmf => "SDMF", Version::Mdmf => "MDMF" },
            "seqnum": self.seqnum,
            "root_hash": crate::base32::encode(&self.root_hash),
            "salt": self.sdmf_salt.map(|s| crate::base32::encode(&s)),
            "k": self.k,
            "N": self.n,
            "segment_size": self.segment_size,
            "data_length": self.data_length,
            "num_segments": self.num_segments(),
            "offsets": {
                "verification_key": r(&o.verification_key),
                "signature": r(&o.signature),
                "share_hash_chain": r(&o.share_hash_chain),
                "block_hash_tree": r(&o.block_hash_tree),
                "share_data": r(&o.share_data),
                "enc_privkey": r(&o.enc_privkey),
                "EOF": o.eof,
            },
        })
    }
}

/// Check that a range lies after the header and before EOF.
pub(crate) fn check_range(
    r: &Range<u64>,
    header_len: usize,
    eof: u64,
    field: &'static str,
) -> Result<(), ShareError> {
    if r.start > r.end || r.start < header_len as u64 || r.end > eof {
        return Err(ShareError::BadOffsets { field });
    }
    Ok(())
}

/// The pieces of one share as a publisher produced them; [`super::sdmf::pack_share`]
/// and [`super::mdmf::pack_share`] lay them out.
#[derive(Clone, Debug)]
pub struct SharePieces<'a> {
    /// The signed prefix (75 bytes SDMF, 59 MDMF).
    pub signed_prefix: &'a [u8],
    /// SPKI DER.
    pub verification_key: &'a [u8],
    /// Signature over the signed prefix.
    pub signature: &'a [u8],
    /// Share hash chain, sorted by index, leaf excluded.
    pub share_hash_chain: &'a [(u16, Hash)],
    /// All block hash tree nodes.
    pub block_hash_tree: &'a [Hash],
    /// `(salt, block)` per segment (SDMF: at most one; its salt is in the prefix).
    pub blocks: &'a [SaltedBlock<'a>],
    /// Encrypted private key.
    pub enc_privkey: &'a [u8],
}

/// Leaf of a share's block hash tree (spec §5.3): SDMF `H_BLOCK(block)`,
/// MDMF `H_BLOCK(salt || block)` (which authenticates the salt).
pub fn block_leaf_hash(version: Version, salt: &[u8; 16], block: &[u8]) -> Hash {
    match version {
        Version::Sdmf => crate::hash::block_hash(block),
        Version::Mdmf => {
            let mut h = crate::hash::TaggedHasher::new(crate::hash::tags::BLOCK);
            h.update(salt);
            h.update(block);
            h.finalize()
        }
    }
}

/// One segment's salt and block.
pub type SaltedBlock<'a> = ([u8; 16], &'a [u8]);

/// The share hash chain field: `u16 index || 32-byte hash` records (a
/// reader that fetched only this field parses it with this too).
pub fn parse_share_hash_chain(b: &[u8]) -> Result<Vec<(u16, Hash)>, ShareError> {
    if !b.len().is_multiple_of(CHAIN_RECORD_LEN) {
        return Err(ShareError::RaggedField {
            field: "share_hash_chain",
            len: b.len(),
            record: CHAIN_RECORD_LEN,
        });
    }
    Ok(b.chunks_exact(CHAIN_RECORD_LEN)
        .map(|c| (u16::from_be_bytes([c[0], c[1]]), hash_at(c, 2)))
        .collect())
}

/// The block hash tree field: every node, 32 bytes each, in index order.
pub fn parse_block_hash_tree(b: &[u8]) -> Result<Vec<Hash>, ShareError> {
    if !b.len().is_multiple_of(32) {
        return Err(ShareError::RaggedField {
            field: "block_hash_tree",
            len: b.len(),
            record: 32,
        });
    }
    Ok(b.chunks_exact(32).map(|c| hash_at(c, 0)).collect())
}

/// A whole share, every field sliced out of the stored bytes.
#[derive(Clone, Debug)]
pub struct MutableShare<'a> {
    /// The header.
    pub header: ShareHeader,
    /// Verification key (SPKI DER).
    pub verification_key: &'a [u8],
    /// Signature.
    pub signature: &'a [u8],
    /// Share hash chain, in stored order (writers sort by index).
    pub share_hash_chain: Vec<(u16, Hash)>,
    /// Block hash tree nodes, in index order.
    pub block_hash_tree: Vec<Hash>,
    /// Raw share data.
    pub share_data: &'a [u8],
    /// Encrypted private key.
    pub enc_privkey: &'a [u8],
    /// `(salt, block)` per segment (SDMF: the header IV and the one block).
    pub blocks: Vec<SaltedBlock<'a>>,
}

fn slice<'a>(data: &'a [u8], r: &Range<u64>) -> Result<&'a [u8], ShareError> {
    let s = usize::try_from(r.start).map_err(|_| ShareError::BadOffsets { field: "range" })?;
    let e = usize::try_from(r.end).map_err(|_| ShareError::BadOffsets { field: "range" })?;
    data.get(s..e).ok_or(ShareError::Truncated {
        have: data.len() as u64,
        need: r.end,
    })
}

impl<'a> MutableShare<'a> {
    /// Parse a whole share (bytes after EOF are ignored: shares never
    /// shrink, so an older, longer version may leave a tail).
    pub fn parse(data: &'a [u8]) -> Result<Self, ShareError> {
        let header = ShareHeader::parse(data)?;
        let o = header.offsets.clone();
        if (data.len() as u64) < o.eof {
            return Err(ShareError::Truncated {
                have: data.len() as u64,
                need: o.eof,
            });
        }
        let share_hash_chain = parse_share_hash_chain(slice(data, &o.share_hash_chain)?)?;
        let block_hash_tree = parse_block_hash_tree(slice(data, &o.block_hash_tree)?)?;
        let share_data = slice(data, &o.share_data)?;
        let blocks = split_blocks(&header, share_data)?;
        Ok(MutableShare {
            verification_key: slice(data, &o.verification_key)?,
            signature: slice(data, &o.signature)?,
            share_hash_chain,
            block_hash_tree,
            share_data,
            enc_privkey: slice(data, &o.enc_privkey)?,
            blocks,
            header,
        })
    }

    /// A JSON dump of every field (hashes and salts in base32, sizes for
    /// the bulky fields).
    pub fn fields(&self) -> serde_json::Value {
        let b32 = crate::base32::encode;
        let mut v = self.header.fields();
        if let Some(m) = v.as_object_mut() {
            m.insert(
                "verification_key_fingerprint".into(),
                b32(crate::keys::mutable::fingerprint(self.verification_key).as_bytes()).into(),
            );
            m.insert("signature_len".into(), (self.signature.len() as u64).into());
            m.insert(
                "share_hash_chain".into(),
                self.share_hash_chain
                    .iter()
                    .map(|(i, h)| serde_json::json!([i, b32(h)]))
                    .collect(),
            );
            m.insert(
                "block_hash_tree".into(),
                self.block_hash_tree.iter().map(|h| b32(h)).collect(),
            );
            m.insert(
                "segments".into(),
                self.blocks
                    .iter()
                    .map(|(s, b)| serde_json::json!({"salt": b32(s), "block_len": b.len()}))
                    .collect(),
            );
            m.insert(
                "enc_privkey_len".into(),
                (self.enc_privkey.len() as u64).into(),
            );
        }
        v
    }
}

/// Cut the share data into `(salt, block)` per segment.
fn split_blocks<'a>(
    h: &ShareHeader,
    share_data: &'a [u8],
) -> Result<Vec<SaltedBlock<'a>>, ShareError> {
    let bad_seg = || ShareError::BadSegmentation {
        segment_size: h.segment_size,
        k: h.k,
        data_length: h.data_length,
    };
    if !h.segment_size.is_multiple_of(u64::from(h.k)) || (h.segment_size == 0 && h.data_length != 0)
    {
        return Err(bad_seg());
    }
    match (h.version, h.sdmf_salt) {
        (Version::Sdmf, Some(salt)) => {
            // SDMF: exactly one segment covering the whole file.
            if h.num_segments() > 1 {
                return Err(bad_seg());
            }
            let need = h.block_size();
            if share_data.len() as u64 != need {
                return Err(ShareError::ShareDataSize {
                    have: share_data.len() as u64,
                    need,
                });
            }
            if h.num_segments() == 0 {
                Ok(Vec::new())
            } else {
                Ok(vec![(salt, share_data)])
            }
        }
        _ => {
            let nseg = h.num_segments();
            let bs = h.block_size();
            let tbs = h.tail_block_size();
            let need = if nseg == 0 {
                0
            } else {
                // Every size here comes from the share: checked arithmetic.
                bs.checked_add(SALT_LEN as u64)
                    .and_then(|b| b.checked_mul(nseg - 1))
                    .and_then(|x| x.checked_add(tbs))
                    .and_then(|x| x.checked_add(SALT_LEN as u64))
                    .ok_or_else(bad_seg)?
            };
            if share_data.len() as u64 != need {
                return Err(ShareError::ShareDataSize {
                    have: share_data.len() as u64,
                    need,
                });
            }
            let mut out = Vec::new();
            let mut rest = share_data;
            for seg in 0..nseg {
                let this = if seg + 1 == nseg { tbs } else { bs } as usize;
                let (salt, tail) = rest.split_at(SALT_LEN);
                let (block, tail) = tail.split_at(this);
                let mut s = [0u8; 16];
                s.copy_from_slice(salt);
                out.push((s, block));
                rest = tail;
            }
            Ok(out)
        }
    }
}
