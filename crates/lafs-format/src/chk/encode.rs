//! The CHK encoder (spec §4.2), streaming one segment at a time.
//!
//! ```text
//! ChkEncoder::new(geometry, key)
//!   push_segment(plaintext of segment 0) → N blocks   ┐ AES-CTR continues,
//!   push_segment(plaintext of segment 1) → N blocks   │ block and segment
//!   …                                                 ┘ hashes accumulate
//! finish() → EncodedFile { cap, UEB, crypttext tree, block trees, share tree }
//!   EncodedFile::share_header / share_trailer(shnum) → the bytes around the blocks
//! ```
//!
//! The caller owns I/O: the uploader writes each block at
//! `header.offsets.data + s·block_size` and the trailer at the end, so a
//! share never has to sit in memory whole. [`encode_shares`] and
//! [`encode_cap`] are the whole-buffer conveniences used by tests and
//! `lafs debug`.

use super::layout::{share_trailer, LayoutError, LayoutVersion, ShareHeader};
use super::{EncodingParams, Geometry, ParamsError, LIT_THRESHOLD};
use crate::aes::AesCtr;
use crate::cap::{ChkReadCap, FileCap, LitCap};
use crate::hash::{block_hash, crypttext_segment_hash, tags, ueb_hash, Hash, TaggedHasher};
use crate::hashtree::{needed_for, HashTree};
use crate::keys::{convergence_key, AesKey, ConvergenceSecret};
use crate::ueb::{CodecParams, Ueb};
use lafs_fec::{Codec, FecError};
use std::sync::Arc;

/// Why encoding failed (all are caller mistakes or impossible sizes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Bad k/N/segment size or file size.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The erasure coder refused its inputs.
    #[error("erasure coding: {0}")]
    Fec(#[from] FecError),
    /// A segment of the wrong length was pushed.
    #[error("segment {segment} must be {expected} bytes, got {got}")]
    SegmentLength {
        /// Segment number.
        segment: u64,
        /// Expected length.
        expected: u64,
        /// Supplied length.
        got: usize,
    },
    /// More segments pushed than the file has, or `finish` called early.
    #[error("pushed {pushed} of {expected} segments")]
    SegmentCount {
        /// Segments pushed so far.
        pushed: u64,
        /// Segments in the file.
        expected: u64,
    },
    /// The share does not fit the requested layout version.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A size does not fit in memory on this platform.
    #[error("segment too large for this platform")]
    TooLarge,
}

/// Streaming CHK encoder. See the module notes.
pub struct ChkEncoder {
    geometry: Geometry,
    codec: Arc<Codec>,
    key: AesKey,
    aes: AesCtr,
    next_segment: u64,
    crypttext: TaggedHasher,
    segment_hashes: Vec<Hash>,
    /// `block_hashes[shnum][segment]`.
    block_hashes: Vec<Vec<Hash>>,
    /// The current segment's N blocks.
    blocks: Vec<Vec<u8>>,
    segment: Vec<u8>,
}

impl std::fmt::Debug for ChkEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChkEncoder")
            .field("geometry", &self.geometry)
            .field("next_segment", &self.next_segment)
            .finish_non_exhaustive()
    }
}

fn to_usize(x: u64) -> Result<usize, EncodeError> {
    usize::try_from(x).map_err(|_| EncodeError::TooLarge)
}

/// Segments at least this long hash on two threads (below it, thread
/// start-up costs more than it saves).
pub(crate) const PARALLEL_HASH_MIN: usize = 32 * 1024;

/// Whether a second core is there to hash on.
pub(crate) fn parallel_hashing() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

impl ChkEncoder {
    /// Start encoding a file of `geometry.size` bytes under `key`.
    pub fn new(geometry: Geometry, key: AesKey) -> Result<Self, EncodeError> {
        let (k, n) = (usize::from(geometry.needed), usize::from(geometry.total));
        let codec = Codec::cached(k, n)?;
        let nseg = to_usize(geometry.num_segments)?;
        Ok(ChkEncoder {
            aes: AesCtr::new(key.as_bytes()),
            codec,
            key,
            next_segment: 0,
            crypttext: TaggedHasher::new(tags::CIPHERTEXT),
            segment_hashes: Vec::with_capacity(nseg),
            block_hashes: vec![Vec::with_capacity(nseg); n],
            blocks: vec![Vec::new(); n],
            segment: Vec::with_capacity(to_usize(geometry.segment_size)?),
            geometry,
        })
    }

    /// The file's geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Plaintext length of the next segment, or `None` when all are pushed.
    pub fn next_segment_len(&self) -> Option<u64> {
        (self.next_segment < self.geometry.num_segments)
            .then(|| self.geometry.segment_len(self.next_segment))
    }

    /// Encrypt and erasure-code the next segment; returns its N blocks
    /// (index = share number), valid until the next call.
    pub fn push_segment(&mut self, plaintext: &[u8]) -> Result<&[Vec<u8>], EncodeError> {
        let g = self.geometry;
        let s = self.next_segment;
        if s >= g.num_segments {
            return Err(EncodeError::SegmentCount {
                pushed: s + 1,
                expected: g.num_segments,
            });
        }
        let want = g.segment_len(s);
        if plaintext.len() as u64 != want {
            return Err(EncodeError::SegmentLength {
                segment: s,
                expected: want,
                got: plaintext.len(),
            });
        }
        self.segment.clear();
        self.segment.extend_from_slice(plaintext);
        self.aes.apply(&mut self.segment);
        let unpadded = plaintext.len();
        // zfec gets the padded tail; the hashes below cover the unpadded
        // ciphertext.
        self.segment.resize(to_usize(g.padded_segment_len(s))?, 0);

        let k = usize::from(g.needed);
        let bl = to_usize(g.block_len(s))?;
        let inputs: Vec<&[u8]> = self.segment.chunks_exact(bl.max(1)).take(k).collect();
        let (primary, secondary) = self.blocks.split_at_mut(k);
        for (dst, src) in primary.iter_mut().zip(&inputs) {
            dst.clear();
            dst.extend_from_slice(src);
        }
        for b in secondary.iter_mut() {
            b.clear();
            b.resize(bl, 0);
        }
        if !secondary.is_empty() {
            let mut outs: Vec<&mut [u8]> = secondary.iter_mut().map(|v| v.as_mut_slice()).collect();
            self.codec.encode(&inputs, &mut outs)?;
        }

        // SHA-256 bounds uploads: per input byte, the crypttext hash and the
        // segment hash read it twice and the block hashes N/k more times.
        // On a large segment, a second thread takes the two whole-segment
        // hashes plus enough leading blocks to even the load (in units of
        // one block: 2k + j on that thread, N - j here). Results land in
        // the same places in the same order, so the output is unchanged.
        let ciphertext = &self.segment[..unpadded];
        let crypttext = &mut self.crypttext;
        let n = self.blocks.len();
        let split = if unpadded >= PARALLEL_HASH_MIN && parallel_hashing() {
            Some(n.saturating_sub(2 * k) / 2)
        } else {
            None
        };
        let mut block_hashes: Vec<Hash> = Vec::with_capacity(n);
        let segment_hash = match split {
            Some(j) => {
                let (first, rest) = self.blocks.split_at(j);
                std::thread::scope(|scope| {
                    let other = scope.spawn(move || {
                        crypttext.update(ciphertext);
                        let h = crypttext_segment_hash(ciphertext);
                        (h, first.iter().map(|b| block_hash(b)).collect::<Vec<_>>())
                    });
                    let mine: Vec<Hash> = rest.iter().map(|b| block_hash(b)).collect();
                    // A panic in pure hashing code is a bug, not input: pass
                    // it on rather than invent an error.
                    let (h, theirs) = other
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e));
                    block_hashes.extend(theirs);
                    block_hashes.extend(mine);
                    h
                })
            }
            None => {
                crypttext.update(ciphertext);
                block_hashes.extend(self.blocks.iter().map(|b| block_hash(b)));
                crypttext_segment_hash(ciphertext)
            }
        };
        self.segment_hashes.push(segment_hash);
        for (hashes, h) in self.block_hashes.iter_mut().zip(block_hashes) {
            hashes.push(h);
        }
        self.next_segment += 1;
        Ok(&self.blocks)
    }

    /// Take the blocks `push_segment` just returned, as owned buffers (the
    /// uploader hands them to the network without copying); the next
    /// segment writes into buffers from `replacement` (any length; they
    /// are cleared), so that a caller can recycle them.
    pub fn take_blocks(&mut self, mut replacement: impl FnMut() -> Vec<u8>) -> Vec<Vec<u8>> {
        let fresh = self.blocks.iter().map(|_| replacement()).collect();
        std::mem::replace(&mut self.blocks, fresh)
    }

    /// Build the trees, the UEB and the cap once every segment is pushed.
    pub fn finish(self) -> Result<EncodedFile, EncodeError> {
        let g = self.geometry;
        if self.next_segment != g.num_segments {
            return Err(EncodeError::SegmentCount {
                pushed: self.next_segment,
                expected: g.num_segments,
            });
        }
        let block_trees: Vec<HashTree> =
            self.block_hashes.iter().map(|h| HashTree::new(h)).collect();
        let roots: Vec<Hash> = block_trees.iter().map(HashTree::root).collect();
        let share_tree = HashTree::new(&roots);
        let crypttext_tree = HashTree::new(&self.segment_hashes);
        let (k, n) = (g.needed, g.total);
        let ueb = Ueb {
            codec_name: Some(b"crs".to_vec()),
            codec_params: Some(CodecParams {
                segment_size: g.segment_size,
                k,
                n,
            }),
            tail_codec_params: Some(CodecParams {
                segment_size: g.padded_tail,
                k,
                n,
            }),
            crypttext_hash: Some(self.crypttext.finalize()),
            crypttext_root_hash: crypttext_tree.root(),
            share_root_hash: share_tree.root(),
            segment_size: g.segment_size,
            num_segments: Some(g.num_segments),
            needed_shares: Some(u64::from(k)),
            total_shares: Some(u64::from(n)),
            size: Some(g.size),
            extra: Default::default(),
        };
        let ueb_bytes = ueb.to_bytes();
        let cap = ChkReadCap {
            key: self.key,
            ueb_hash: ueb_hash(&ueb_bytes),
            needed: k,
            total: n,
            size: g.size,
        };
        Ok(EncodedFile {
            cap,
            geometry: g,
            ueb,
            ueb_bytes,
            crypttext_tree,
            block_trees,
            share_tree,
        })
    }
}

/// Everything known once a file is encoded, except the blocks themselves.
#[derive(Debug, Clone)]
pub struct EncodedFile {
    /// The read cap.
    pub cap: ChkReadCap,
    /// The geometry.
    pub geometry: Geometry,
    /// The UEB.
    pub ueb: Ueb,
    /// The UEB as serialized (its hash is in the cap).
    pub ueb_bytes: Vec<u8>,
    /// Tree over the crypttext segment hashes.
    pub crypttext_tree: HashTree,
    /// Each share's block hash tree.
    pub block_trees: Vec<HashTree>,
    /// Tree over the block-tree roots.
    pub share_tree: HashTree,
}

impl EncodedFile {
    /// Share `shnum`'s hash chain: its uncles in the share tree plus its own
    /// leaf, in CPython set order so the bytes match Tahoe (spec §4.4).
    pub fn share_hash_chain(&self, shnum: usize) -> Vec<(usize, Hash)> {
        let leaf = self.share_tree.leaf_index(shnum);
        let mut idx = needed_for(leaf);
        idx.push(leaf);
        super::cpython_set_order(&idx)
            .into_iter()
            .filter_map(|i| self.share_tree.get(i).map(|h| (i, *h)))
            .collect()
    }

    /// The header every share of this file carries.
    pub fn share_header(&self, version: Option<LayoutVersion>) -> Result<ShareHeader, LayoutError> {
        ShareHeader::for_share(&self.geometry, version)
    }

    /// Everything after share `shnum`'s blocks.
    pub fn share_trailer(&self, header: &ShareHeader, shnum: usize) -> Vec<u8> {
        let empty = HashTree::new(&[]);
        let bt = self.block_trees.get(shnum).unwrap_or(&empty);
        share_trailer(
            header,
            &self.crypttext_tree,
            bt,
            &self.share_hash_chain(shnum),
            &self.ueb_bytes,
        )
    }
}

/// The geometry and convergent key for `plaintext` (spec §2.3, §4.1).
pub fn convergent_geometry(
    plaintext: &[u8],
    secret: &ConvergenceSecret,
    params: &EncodingParams,
) -> Result<(Geometry, AesKey), ParamsError> {
    let g = Geometry::new(
        plaintext.len() as u64,
        params.needed,
        params.total,
        params.max_segment_size,
    )?;
    let key = convergence_key(secret, g.needed, g.total, g.segment_size, plaintext);
    Ok((g, key))
}

/// Run the encoder over a whole buffer, handing each segment's blocks to `sink`.
fn encode_with(
    plaintext: &[u8],
    geometry: Geometry,
    key: AesKey,
    mut sink: impl FnMut(&[Vec<u8>]),
) -> Result<EncodedFile, EncodeError> {
    let mut enc = ChkEncoder::new(geometry, key)?;
    let mut pos = 0usize;
    while let Some(len) = enc.next_segment_len() {
        let end = pos + to_usize(len)?;
        let seg = plaintext.get(pos..end).ok_or(EncodeError::TooLarge)?;
        sink(enc.push_segment(seg)?);
        pos = end;
    }
    enc.finish()
}

/// Encode a whole buffer with a convergent key into complete share data,
/// one `Vec` per share number. Files ≤ 55 bytes are encoded as CHK anyway
/// (callers wanting LIT use [`encode_cap`]).
pub fn encode_shares(
    plaintext: &[u8],
    secret: &ConvergenceSecret,
    params: &EncodingParams,
    version: Option<LayoutVersion>,
) -> Result<(EncodedFile, Vec<Vec<u8>>), EncodeError> {
    let (g, key) = convergent_geometry(plaintext, secret, params)?;
    encode_shares_with_key(plaintext, g, key, version)
}

/// As [`encode_shares`] with a given key and geometry (random-key uploads).
pub fn encode_shares_with_key(
    plaintext: &[u8],
    geometry: Geometry,
    key: AesKey,
    version: Option<LayoutVersion>,
) -> Result<(EncodedFile, Vec<Vec<u8>>), EncodeError> {
    // The header needs only the UEB length, which is fixed by the
    // parameters (1.20 computes it up front with placeholder hashes):
    // write blocks after a placeholder header and patch it at the end.
    let n = usize::from(geometry.total);
    let cap = to_usize(geometry.share_size)? + 0x44;
    let mut shares: Vec<Vec<u8>> = (0..n).map(|_| Vec::with_capacity(cap)).collect();
    let hdr_len = version.unwrap_or(LayoutVersion::V1).header_len();
    for s in &mut shares {
        s.resize(hdr_len, 0);
    }
    let file = encode_with(plaintext, geometry, key, |blocks| {
        for (s, b) in shares.iter_mut().zip(blocks) {
            s.extend_from_slice(b);
        }
    })?;
    let header = file.share_header(version)?;
    let hb = header.to_bytes();
    for (shnum, s) in shares.iter_mut().enumerate() {
        // Automatic choice may have picked v2 for a huge file: re-seat.
        s.splice(..hdr_len, hb.iter().copied());
        s.extend_from_slice(&file.share_trailer(&header, shnum));
    }
    Ok((file, shares))
}

/// The cap a Tahoe client would print for `plaintext`: `URI:LIT:` for
/// ≤ 55 bytes, else the convergent CHK read cap. Keeps one segment in memory.
pub fn encode_cap(
    plaintext: &[u8],
    secret: &ConvergenceSecret,
    params: &EncodingParams,
) -> Result<FileCap, EncodeError> {
    if plaintext.len() as u64 <= LIT_THRESHOLD {
        return Ok(FileCap::Lit(LitCap {
            data: plaintext.to_vec(),
        }));
    }
    let (g, key) = convergent_geometry(plaintext, secret, params)?;
    let file = encode_with(plaintext, g, key, |_| {})?;
    Ok(FileCap::ChkRead(file.cap))
}
