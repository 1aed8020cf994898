//! In-memory publish: plaintext → N signed shares (spec §5.2, §5.3).
//!
//! ```text
//! plaintext ─ split into segments (SDMF: one; MDMF: next_multiple(131072, k))
//!   └─ per segment: salt = salts(); datakey = H_DATAKEY(salt, readkey)[:16]
//!        AES-CTR(datakey, iv 0) ─ zero-pad to k·⌈len/k⌉ ─ zfec → N blocks
//! per share: block hashes (SDMF H(block), MDMF H(salt‖block)) → block tree
//! share tree over the N block-tree roots → root_hash
//! signed prefix(seqnum, root_hash, [IV], k, N, segsize, datalen) → RSA-PSS
//! per share: chain = uncles of leaf shnum (sorted, leaf excluded) → layout
//! ```
//!
//! Salts come from a caller-supplied source so tests can reproduce Python's
//! shares exactly (Tahoe calls `os.urandom(16)` once per SDMF publish — even
//! for an empty file — and once per MDMF segment, in segment order); real
//! publishes use [`random_salt`]. The network publisher reuses
//! [`encode`] (blocks, trees and signed prefix) and sends the pieces as
//! test-and-set write vectors; [`Encoded::share`] packs one share whole.

use super::rsa::PrivateKey;
use super::share::{block_leaf_hash, SaltedBlock, SharePieces, Version};
use super::{mdmf, sdmf};
use crate::aes::AesCtr;
use crate::hash::Hash;
use crate::hashtree::HashTree;
use crate::keys::mutable as mkeys;
use crate::keys::ReadKey;

/// Why a publish could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// k and N must satisfy 1 ≤ k ≤ N ≤ 255 (N is stored in one byte).
    #[error("bad encoding parameters k={k} N={n} (need 1 <= k <= N <= 255)")]
    BadParams {
        /// k.
        k: u16,
        /// N.
        n: u16,
    },
    /// The erasure coder failed (cannot happen with checked parameters).
    #[error("erasure coding failed: {0}")]
    Fec(#[from] lafs_fec::FecError),
    /// Signing failed.
    #[error(transparent)]
    Rsa(#[from] super::rsa::RsaError),
}

/// Publish parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishParams {
    /// SDMF or MDMF.
    pub version: Version,
    /// Shares needed.
    pub k: u8,
    /// Shares total.
    pub n: u8,
    /// Sequence number (1 for a new file).
    pub seqnum: u64,
}

/// A fresh random 16-byte salt (what Tahoe uses: `os.urandom(16)`).
pub fn random_salt() -> [u8; 16] {
    let mut s = [0u8; 16];
    // aws-lc's RNG only fails if the OS RNG is gone; a zero salt would
    // still be a correct (if weaker) share, so there is nothing to report.
    let _ = aws_lc_rs::rand::fill(&mut s);
    s
}

/// Segment size for `data_length` bytes (spec §5.2).
pub fn segment_size(version: Version, k: u8, data_length: u64) -> u64 {
    let k = u64::from(k.max(1));
    match version {
        Version::Sdmf => data_length.next_multiple_of(k),
        Version::Mdmf => mdmf::MAX_SEGMENT_SIZE.next_multiple_of(k),
    }
}

/// Everything a publish produces except the per-share packing.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The parameters.
    pub params: PublishParams,
    /// Segment size.
    pub segment_size: u64,
    /// Plaintext length.
    pub data_length: u64,
    /// Per segment: its salt.
    pub salts: Vec<[u8; 16]>,
    /// `blocks[shnum][segment]`.
    pub blocks: Vec<Vec<Vec<u8>>>,
    /// Per share: its block hash tree.
    pub block_trees: Vec<HashTree>,
    /// The share hash tree over the block-tree roots.
    pub share_tree: HashTree,
    /// SDMF's single IV (also generated for an empty file).
    pub sdmf_salt: Option<[u8; 16]>,
    /// The signed prefix.
    pub signed_prefix: Vec<u8>,
    /// The signature over [`Encoded::signed_prefix`].
    pub signature: Vec<u8>,
    /// SPKI DER.
    pub verification_key: Vec<u8>,
    /// AES-CTR(writekey, PKCS#8 DER).
    pub enc_privkey: Vec<u8>,
}

impl Encoded {
    /// The root hash (share tree root).
    pub fn root_hash(&self) -> Hash {
        self.share_tree.root()
    }

    /// Share hash chain for `shnum`: the uncles of its leaf, sorted by
    /// index, the leaf itself excluded (spec §5.3).
    pub fn share_hash_chain(&self, shnum: usize) -> Vec<(u16, Hash)> {
        let mut chain: Vec<(u16, Hash)> = self
            .share_tree
            .needed_hashes(shnum)
            .into_iter()
            .map(|(i, h)| (i as u16, h))
            .collect();
        chain.sort_by_key(|(i, _)| *i);
        chain
    }

    /// Pack share `shnum` (None if out of range).
    pub fn share(&self, shnum: usize) -> Option<Vec<u8>> {
        let blocks = self.blocks.get(shnum)?;
        let tree = self.block_trees.get(shnum)?;
        let chain = self.share_hash_chain(shnum);
        let salted: Vec<SaltedBlock<'_>> = self
            .salts
            .iter()
            .copied()
            .zip(blocks.iter().map(Vec::as_slice))
            .collect();
        let pieces = SharePieces {
            signed_prefix: &self.signed_prefix,
            verification_key: &self.verification_key,
            signature: &self.signature,
            share_hash_chain: &chain,
            block_hash_tree: tree.nodes(),
            blocks: &salted,
            enc_privkey: &self.enc_privkey,
        };
        Some(match self.params.version {
            Version::Sdmf => sdmf::pack_share(&pieces),
            Version::Mdmf => mdmf::pack_share(&pieces),
        })
    }

    /// All N shares, index = share number.
    pub fn shares(&self) -> Vec<Vec<u8>> {
        (0..usize::from(self.params.n))
            .filter_map(|i| self.share(i))
            .collect()
    }
}

/// Encrypt one non-empty segment with the datakey of `salt` (spec §5.2)
/// and erasure-code it into N blocks: the ciphertext is zero-padded to k
/// pieces of `ceil(len/k)` bytes. A partial MDMF update encodes just the
/// segments it touches with this.
pub fn encode_segment(
    codec: &lafs_fec::Codec,
    k: usize,
    readkey: &ReadKey,
    salt: &[u8; 16],
    seg: &[u8],
) -> Result<Vec<Vec<u8>>, lafs_fec::FecError> {
    let datakey = mkeys::datakey(salt, readkey);
    let piece = seg.len().div_ceil(k.max(1)).max(1);
    let mut buf = vec![0u8; piece * k];
    buf[..seg.len()].copy_from_slice(seg);
    AesCtr::new(datakey.as_bytes()).apply(&mut buf[..seg.len()]);
    let inputs: Vec<&[u8]> = buf.chunks(piece).collect();
    codec.encode_all(&inputs)
}

/// Encrypt, encode, hash and sign: everything for N shares.
pub fn encode(
    key: &PrivateKey,
    plaintext: &[u8],
    params: PublishParams,
    salts: &mut dyn FnMut() -> [u8; 16],
) -> Result<Encoded, PublishError> {
    let (k, n) = (usize::from(params.k), usize::from(params.n));
    if k == 0 || k > n {
        return Err(PublishError::BadParams {
            k: params.k.into(),
            n: params.n.into(),
        });
    }
    let codec = lafs_fec::Codec::cached(k, n)?;
    let writekey = key.writekey();
    let readkey = mkeys::readkey(&writekey);
    let data_length = plaintext.len() as u64;
    let segsize = segment_size(params.version, params.k, data_length);
    let chunk = usize::try_from(segsize).unwrap_or(usize::MAX).max(1);

    // SDMF draws its one IV up front, even for an empty file (Python's
    // publish does), MDMF one salt per segment in order.
    let sdmf_salt = match params.version {
        Version::Sdmf => Some(salts()),
        Version::Mdmf => None,
    };
    let mut seg_salts = Vec::new();
    let mut blocks: Vec<Vec<Vec<u8>>> = vec![Vec::new(); n];
    for seg in plaintext.chunks(chunk) {
        let salt = match sdmf_salt {
            Some(s) => s,
            None => salts(),
        };
        seg_salts.push(salt);
        let all = encode_segment(&codec, k, &readkey, &salt, seg)?;
        for (shnum, b) in all.into_iter().enumerate() {
            blocks[shnum].push(b);
        }
    }
    let tree_of = |share_blocks: &Vec<Vec<u8>>| {
        let leaves: Vec<Hash> = share_blocks
            .iter()
            .zip(&seg_salts)
            .map(|(b, salt)| block_leaf_hash(params.version, salt, b))
            .collect();
        HashTree::new(&leaves)
    };
    // Hashing the blocks is most of the work: on a file of some size,
    // half the shares' trees are built on a second thread. The trees are
    // the same either way.
    let block_trees: Vec<HashTree> = if plaintext.len() >= crate::chk::encode::PARALLEL_HASH_MIN
        && crate::chk::encode::parallel_hashing()
    {
        let (first, rest) = blocks.split_at(n / 2);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| first.iter().map(tree_of).collect::<Vec<_>>());
            let mine: Vec<HashTree> = rest.iter().map(tree_of).collect();
            // A panic in pure hashing code is a bug, not input: pass it on.
            let mut trees = other
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            trees.extend(mine);
            trees
        })
    } else {
        blocks.iter().map(tree_of).collect()
    };
    let roots: Vec<Hash> = block_trees.iter().map(HashTree::root).collect();
    let share_tree = HashTree::new(&roots);
    let root = share_tree.root();
    let signed_prefix = match (params.version, sdmf_salt) {
        (Version::Sdmf, Some(iv)) => sdmf::signed_prefix(
            params.seqnum,
            &root,
            &iv,
            params.k,
            params.n,
            segsize,
            data_length,
        ),
        _ => mdmf::signed_prefix(
            params.seqnum,
            &root,
            params.k,
            params.n,
            segsize,
            data_length,
        ),
    };
    let signature = key.sign(&signed_prefix)?;
    let enc_privkey = crate::aes::aes128_ctr(writekey.as_bytes(), key.pkcs8_der());
    Ok(Encoded {
        params,
        segment_size: segsize,
        data_length,
        salts: seg_salts,
        blocks,
        block_trees,
        share_tree,
        sdmf_salt,
        signed_prefix,
        signature,
        verification_key: key.public_key_der().to_vec(),
        enc_privkey,
    })
}

/// Publish in memory: the N share byte strings (index = share number).
pub fn publish(
    key: &PrivateKey,
    plaintext: &[u8],
    params: PublishParams,
    salts: &mut dyn FnMut() -> [u8; 16],
) -> Result<Vec<Vec<u8>>, PublishError> {
    Ok(encode(key, plaintext, params, salts)?.shares())
}
