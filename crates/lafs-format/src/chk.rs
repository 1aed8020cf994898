//! Immutable (CHK) files: parameters, the share layout, and the in-memory
//! encoder and verifying decoder (spec §4).
//!
//! ## Data flow (spec §4.2)
//!
//! ```text
//! plaintext ──► convergent key (§2.3, a first pass over the whole file)
//!           ──► AES-128-CTR (one stream, IV 0)
//!           ──► segments of `segment_size` (tail zero-padded to a multiple of k)
//!           ──► zfec: k pieces → N blocks per segment
//!           ──► H_BLOCK per block, H_SEGMENT per unpadded ciphertext segment
//!           ──► block hash tree per share, crypttext hash tree, share hash tree
//!           ──► UEB (§4.3) ──► cap `URI:CHK:key:H_UEB:k:N:size`
//!           ──► share data (§4.4, [`layout`]) for the server containers
//! ```
//!
//! [`encode::ChkEncoder`] is streaming: feed segment `i` (plaintext), get
//! its N blocks back, and [`encode::ChkEncoder::finish`] yields the trees,
//! UEB and cap. Memory stays at one segment × N blocks plus the hashes, so
//! the uploader can push blocks to servers as they come. The key needs the
//! whole plaintext first, so an uploader reads a file twice.
//!
//! [`decode`] is the reverse: it verifies *everything* before trusting a
//! byte (UEB hash vs cap, block tree vs share root via the share-hash
//! chain, every block, the crypttext tree, every segment) and names the
//! share that failed.
//!
//! ## Parameters (spec §4.1)
//!
//! ```text
//! segment_size    = next_multiple(min(max_segment_size, size), k)
//! num_segments    = ceil(size / segment_size)
//! tail_size       = size mod segment_size, or segment_size if 0
//! padded_tail     = next_multiple(tail_size, k)
//! block_size      = segment_size / k;   tail_block_size = padded_tail / k
//! share_size      = (num_segments − 1)·block_size + tail_block_size
//! ```
//!
//! Files of at most [`LIT_THRESHOLD`] bytes are never encoded: their cap is
//! `URI:LIT:` (see [`encode::encode_cap`]).

pub mod decode;
pub mod encode;
pub mod layout;
mod set_order;

pub use decode::{
    decode, verify_share, verify_share_trees, BadShare, DecodeError, Decoded, ShareError,
    VerifiedShare, VerifiedTrees,
};
pub use encode::convergent_geometry;
pub use encode::{encode_cap, encode_shares, ChkEncoder, EncodedFile};
pub use layout::{ChkShare, LayoutError, LayoutVersion, Offsets, ShareHeader};
pub use set_order::cpython_set_order;

/// Files of this many bytes or fewer become LIT caps.
pub const LIT_THRESHOLD: u64 = 55;
/// Tahoe 1.19+ default maximum segment size (1 MiB; spec §12 item 1).
pub const DEFAULT_MAX_SEGMENT_SIZE: u64 = 1 << 20;

/// Why CHK parameters are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// k and N must satisfy `1 ≤ k ≤ N ≤ 256`.
    #[error("invalid encoding parameters k={k}, N={n}")]
    BadShares {
        /// Needed.
        k: u16,
        /// Total.
        n: u16,
    },
    /// A segment size of zero (or a zero maximum).
    #[error("segment size must be positive")]
    ZeroSegmentSize,
    /// The segment size is not a multiple of k (never written by Tahoe).
    #[error("segment size {segment_size} is not a multiple of k={k}")]
    SegmentNotMultipleOfK {
        /// Segment size.
        segment_size: u64,
        /// Needed shares.
        k: u16,
    },
    /// CHK cannot encode an empty file (it is a LIT cap).
    #[error("CHK cannot encode an empty file")]
    EmptyFile,
    /// Sizes overflow 64-bit arithmetic.
    #[error("file size overflows")]
    Overflow,
}

/// The encoding knobs (tahoe.cfg `shares.needed/happy/total` and the
/// maximum segment size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingParams {
    /// k.
    pub needed: u16,
    /// Servers of happiness (placement only; no effect on the bytes).
    pub happy: u16,
    /// N.
    pub total: u16,
    /// Upper bound on the segment size; it feeds the key (spec §4.1).
    pub max_segment_size: u64,
}

impl Default for EncodingParams {
    fn default() -> Self {
        EncodingParams {
            needed: 3,
            happy: 7,
            total: 10,
            max_segment_size: DEFAULT_MAX_SEGMENT_SIZE,
        }
    }
}

/// Everything derived from (size, k, N, segment_size): spec §4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Plaintext size.
    pub size: u64,
    /// k.
    pub needed: u16,
    /// N.
    pub total: u16,
    /// Effective segment size (multiple of k).
    pub segment_size: u64,
    /// Number of segments (≥ 1).
    pub num_segments: u64,
    /// Unpadded bytes in the last segment.
    pub tail_size: u64,
    /// `tail_size` rounded up to a multiple of k.
    pub padded_tail: u64,
    /// Bytes per block of a full segment.
    pub block_size: u64,
    /// Bytes per block of the tail segment.
    pub tail_block_size: u64,
    /// Bytes of block data per share.
    pub share_size: u64,
}

fn next_multiple(a: u64, k: u64) -> Option<u64> {
    a.div_ceil(k).checked_mul(k)
}

impl Geometry {
    /// Writer's geometry: the segment size shrinks for small files.
    pub fn new(
        size: u64,
        needed: u16,
        total: u16,
        max_segment_size: u64,
    ) -> Result<Self, ParamsError> {
        if max_segment_size == 0 {
            return Err(ParamsError::ZeroSegmentSize);
        }
        if size == 0 {
            return Err(ParamsError::EmptyFile);
        }
        check_shares(needed, total)?;
        let seg = next_multiple(max_segment_size.min(size), u64::from(needed))
            .ok_or(ParamsError::Overflow)?;
        Self::from_segment_size(size, needed, total, seg)
    }

    /// Reader's geometry: `segment_size` comes from the UEB.
    pub fn from_segment_size(
        size: u64,
        needed: u16,
        total: u16,
        segment_size: u64,
    ) -> Result<Self, ParamsError> {
        check_shares(needed, total)?;
        if size == 0 {
            return Err(ParamsError::EmptyFile);
        }
        if segment_size == 0 {
            return Err(ParamsError::ZeroSegmentSize);
        }
        let k = u64::from(needed);
        if !segment_size.is_multiple_of(k) {
            return Err(ParamsError::SegmentNotMultipleOfK {
                segment_size,
                k: needed,
            });
        }
        let num_segments = size.div_ceil(segment_size);
        let tail_size = match size % segment_size {
            0 => segment_size,
            t => t,
        };
        let padded_tail = next_multiple(tail_size, k).ok_or(ParamsError::Overflow)?;
        let block_size = segment_size / k;
        let tail_block_size = padded_tail / k;
        let share_size = (num_segments - 1)
            .checked_mul(block_size)
            .and_then(|x| x.checked_add(tail_block_size))
            .ok_or(ParamsError::Overflow)?;
        Ok(Geometry {
            size,
            needed,
            total,
            segment_size,
            num_segments,
            tail_size,
            padded_tail,
            block_size,
            tail_block_size,
            share_size,
        })
    }

    /// Unpadded ciphertext bytes of segment `s`.
    pub fn segment_len(&self, s: u64) -> u64 {
        if s + 1 == self.num_segments {
            self.tail_size
        } else {
            self.segment_size
        }
    }

    /// Padded bytes of segment `s` (what zfec encodes).
    pub fn padded_segment_len(&self, s: u64) -> u64 {
        if s + 1 == self.num_segments {
            self.padded_tail
        } else {
            self.segment_size
        }
    }

    /// Block bytes of segment `s`.
    pub fn block_len(&self, s: u64) -> u64 {
        if s + 1 == self.num_segments {
            self.tail_block_size
        } else {
            self.block_size
        }
    }
}

fn check_shares(k: u16, n: u16) -> Result<(), ParamsError> {
    if k == 0 || k > n || n > 256 {
        return Err(ParamsError::BadShares { k, n });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_examples() {
        // spec §4.3 example: 310 bytes, 3-of-10.
        let g = Geometry::new(310, 3, 10, 131072).unwrap();
        assert_eq!(
            (g.segment_size, g.num_segments, g.padded_tail),
            (312, 1, 312)
        );
        assert_eq!(g.share_size, 104);
        let g = Geometry::new(263144, 3, 10, 131072).unwrap();
        assert_eq!(g.segment_size, 131073);
        assert_eq!(g.num_segments, 3);
        assert_eq!(g.tail_size, 263144 - 2 * 131073);
        assert_eq!(g.share_size, 263144u64.div_ceil(3));
        assert!(Geometry::new(0, 3, 10, 100).is_err());
        assert!(Geometry::new(10, 0, 10, 100).is_err());
        assert!(Geometry::new(10, 3, 257, 100).is_err());
        assert!(Geometry::new(10, 3, 10, 0).is_err());
    }
}
