//! Verifying CHK shares and decoding them back to plaintext (spec §4.5).
//!
//! Trust flows from the cap downwards:
//!
//! 1. the UEB's stored bytes must hash to the cap's UEB hash; its fields
//!    must agree with the cap's k, N and size;
//! 2. the share's block-tree root, with the share-hash chain, must reach the
//!    UEB's `share_root_hash` at leaf `shnum`;
//! 3. the stored block tree must be exactly the tree over the hashes of the
//!    stored blocks (so every block and every node is checked);
//! 4. the stored crypttext tree must be internally consistent and rooted at
//!    the UEB's `crypttext_root_hash`;
//! 5. after zfec, each segment (tail truncated to `tail_size`) must hash to
//!    its crypttext-tree leaf, and the whole ciphertext to `crypttext_hash`.
//!
//! Steps 1–4 happen per share in [`verify_share`], so a bad share is named
//! and dropped; [`decode`] then uses any k good shares. Step 5 can only fail
//! if the uploader itself was malicious, since every block was verified.

use super::layout::{ChkShare, LayoutError};
use super::{Geometry, ParamsError};
use crate::aes::AesCtr;
use crate::cap::{ChkReadCap, ChkVerifyCap};
use crate::hash::{block_hash, crypttext_segment_hash, tags, ueb_hash, Hash, TaggedHasher};
use crate::hashtree::{internal_node, tree_len, HashTree, HashTreeError, PartialHashTree};
use crate::keys::ct_eq;
use crate::ueb::{CodecParams, Ueb, UebError};
use lafs_fec::{Codec, FecError};

/// Why one share failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// The share data cannot be parsed.
    #[error("layout: {0}")]
    Layout(#[from] LayoutError),
    /// The stored UEB does not hash to the cap's UEB hash.
    #[error("UEB hash does not match the cap")]
    UebHash,
    /// The UEB hashes right but cannot be parsed.
    #[error("UEB: {0}")]
    Ueb(#[from] UebError),
    /// A UEB field disagrees with the cap or with the geometry.
    #[error("UEB field {0} disagrees with the cap")]
    UebMismatch(&'static str),
    /// The UEB's parameters are unusable.
    #[error("UEB parameters: {0}")]
    Params(#[from] ParamsError),
    /// The share number is not below N.
    #[error("share number {shnum} out of range (N={total})")]
    ShareNumber {
        /// The share number.
        shnum: u16,
        /// N.
        total: u16,
    },
    /// The data area is shorter than the blocks it must hold.
    #[error("share data area holds {have} bytes, expected {need}")]
    ShortData {
        /// Bytes required.
        need: u64,
        /// Bytes present.
        have: u64,
    },
    /// The stored block hash tree has the wrong number of nodes.
    #[error("block hash tree has {have} nodes, expected {need}")]
    BlockTreeShape {
        /// Nodes required.
        need: usize,
        /// Nodes present.
        have: usize,
    },
    /// A block does not match the stored block hash tree.
    #[error("block {segment} does not match its hash")]
    Block {
        /// Segment number.
        segment: u64,
    },
    /// A node of the stored block hash tree is wrong.
    #[error("block hash tree node {0} is corrupt")]
    BlockTreeNode(usize),
    /// The block-tree root does not chain to the share root.
    #[error("share hash chain: {0}")]
    ShareChain(HashTreeError),
    /// The crypttext hash tree has the wrong number of nodes.
    #[error("crypttext hash tree has {have} nodes, expected {need}")]
    CrypttextTreeShape {
        /// Nodes required.
        need: usize,
        /// Nodes present.
        have: usize,
    },
    /// A node of the crypttext hash tree is inconsistent with its children
    /// or the root with the UEB.
    #[error("crypttext hash tree node {0} is corrupt")]
    CrypttextTreeNode(usize),
}

/// A share whose every hash has been checked against the cap.
#[derive(Debug, Clone)]
pub struct VerifiedShare<'a> {
    /// Its share number.
    pub shnum: u16,
    /// The parsed share.
    pub share: ChkShare<'a>,
    /// The verified UEB.
    pub ueb: Ueb,
    /// The file's geometry (from the cap and UEB).
    pub geometry: Geometry,
}

impl VerifiedShare<'_> {
    /// Block `s` (verified).
    pub fn block(&self, s: u64) -> Option<&[u8]> {
        self.share.block(&self.geometry, s)
    }
}

fn check_ueb(cap: &ChkVerifyCap, ueb: &Ueb) -> Result<Geometry, ShareError> {
    let g = Geometry::from_segment_size(cap.size, cap.needed, cap.total, ueb.segment_size)?;
    let eq = |v: Option<u64>, want: u64, name| match v {
        Some(v) if v != want => Err(ShareError::UebMismatch(name)),
        _ => Ok(()),
    };
    eq(ueb.size, cap.size, "size")?;
    eq(ueb.needed_shares, u64::from(cap.needed), "needed_shares")?;
    eq(ueb.total_shares, u64::from(cap.total), "total_shares")?;
    eq(ueb.num_segments, g.num_segments, "num_segments")?;
    let cp = |v: Option<CodecParams>, seg: u64, name| match v {
        Some(p) if (p.segment_size, p.k, p.n) != (seg, cap.needed, cap.total) => {
            Err(ShareError::UebMismatch(name))
        }
        _ => Ok(()),
    };
    cp(ueb.codec_params, g.segment_size, "codec_params")?;
    cp(ueb.tail_codec_params, g.padded_tail, "tail_codec_params")?;
    Ok(g)
}

/// Check everything about share `shnum` that can be checked without the
/// other shares (steps 1–4 of the module notes).
pub fn verify_share<'a>(
    cap: &ChkVerifyCap,
    shnum: u16,
    bytes: &'a [u8],
) -> Result<VerifiedShare<'a>, ShareError> {
    if shnum >= cap.total {
        return Err(ShareError::ShareNumber {
            shnum,
            total: cap.total,
        });
    }
    let share = ChkShare::parse(bytes)?;
    // 1. UEB.
    if !ct_eq(&ueb_hash(share.ueb), &cap.ueb_hash) {
        return Err(ShareError::UebHash);
    }
    let ueb = Ueb::parse(share.ueb)?;
    let g = check_ueb(cap, &ueb)?;
    if (share.data.len() as u64) < g.share_size {
        return Err(ShareError::ShortData {
            need: g.share_size,
            have: share.data.len() as u64,
        });
    }
    // share_size ≤ data.len() bounds num_segments, so these fit in memory.
    let nseg = g.num_segments as usize;
    let need = tree_len(nseg);

    // 3. Block tree: exactly the tree over this share's blocks.
    if share.block_hash_tree.len() != need {
        return Err(ShareError::BlockTreeShape {
            need,
            have: share.block_hash_tree.len(),
        });
    }
    let mut leaves = Vec::with_capacity(nseg);
    for s in 0..g.num_segments {
        let b = share.block(&g, s).ok_or(ShareError::ShortData {
            need: g.share_size,
            have: share.data.len() as u64,
        })?;
        leaves.push(block_hash(b));
    }
    let tree = HashTree::new(&leaves);
    // Leaves first, so a bad block is reported as such rather than as the
    // root it also spoils.
    let first_leaf = need / 2;
    if let Some(j) = (0..nseg).find(|&j| leaves[j] != share.block_hash_tree[first_leaf + j]) {
        return Err(ShareError::Block { segment: j as u64 });
    }
    if let Some(i) = (0..need).find(|&i| tree.nodes()[i] != share.block_hash_tree[i]) {
        return Err(ShareError::BlockTreeNode(i));
    }

    check_chain_and_crypttext(cap, shnum, &share, &ueb, tree.root(), need)?;
    Ok(VerifiedShare {
        shnum,
        share,
        ueb,
        geometry: g,
    })
}

/// Steps 2 and 4: the block tree's root is leaf `shnum` of the share
/// tree the UEB commits to, and the crypttext tree is consistent under
/// the UEB's root.
fn check_chain_and_crypttext(
    cap: &ChkVerifyCap,
    shnum: u16,
    share: &ChkShare<'_>,
    ueb: &Ueb,
    block_root: Hash,
    need: usize,
) -> Result<(), ShareError> {
    // 2. Share hash chain: block-tree root is leaf `shnum` under share_root.
    let chain = share.share_hash_map();
    let mut st = PartialHashTree::new(usize::from(cap.total), ueb.share_root_hash);
    let leaf = st.leaf_index(usize::from(shnum));
    if chain.get(&leaf).is_some_and(|h| *h != block_root) {
        return Err(ShareError::ShareChain(HashTreeError::Mismatch(leaf)));
    }
    st.verify_leaf(usize::from(shnum), block_root, &chain)
        .map_err(ShareError::ShareChain)?;
    // Like Tahoe's `set_hashes`, refuse a chain carrying any hash that does
    // not belong to the proven path (a corrupted index, a stray entry).
    if let Some((&i, _)) = chain.iter().find(|(i, h)| st.get(**i) != Some(*h)) {
        return Err(ShareError::ShareChain(HashTreeError::Mismatch(i)));
    }

    // 4. Crypttext tree: consistent, rooted at the UEB's root.
    let ct = &share.crypttext_hash_tree;
    if ct.len() != need {
        return Err(ShareError::CrypttextTreeShape {
            need,
            have: ct.len(),
        });
    }
    if ct[0] != ueb.crypttext_root_hash {
        return Err(ShareError::CrypttextTreeNode(0));
    }
    if let Some(i) = (0..need / 2).find(|&i| internal_node(&ct[2 * i + 1], &ct[2 * i + 2]) != ct[i])
    {
        return Err(ShareError::CrypttextTreeNode(i));
    }
    Ok(())
}

/// What a streaming verifier needs to check the blocks one at a time.
#[derive(Debug, Clone)]
pub struct VerifiedTrees {
    /// The verified UEB.
    pub ueb: Ueb,
    /// The file's geometry (from the cap and UEB).
    pub geometry: Geometry,
    /// Block `s`'s hash must equal `block_hashes[s]`.
    pub block_hashes: Vec<Hash>,
}

/// Verify everything about share `shnum` except its blocks, from a share
/// parsed without them ([`ChkShare::parse_parts`]): the UEB against the
/// cap, the block hash tree's shape and internal consistency, its root in
/// the share hash chain, and the crypttext tree. A block then verifies by
/// its hash alone. Together with those block checks this accepts exactly
/// the shares [`verify_share`] accepts.
pub fn verify_share_trees(
    cap: &ChkVerifyCap,
    shnum: u16,
    share: &ChkShare<'_>,
) -> Result<VerifiedTrees, ShareError> {
    if shnum >= cap.total {
        return Err(ShareError::ShareNumber {
            shnum,
            total: cap.total,
        });
    }
    if !ct_eq(&ueb_hash(share.ueb), &cap.ueb_hash) {
        return Err(ShareError::UebHash);
    }
    let ueb = Ueb::parse(share.ueb)?;
    let g = check_ueb(cap, &ueb)?;
    let o = share.header.offsets;
    let area = o.plaintext_hash_tree.saturating_sub(o.data);
    if area < g.share_size {
        return Err(ShareError::ShortData {
            need: g.share_size,
            have: area,
        });
    }
    let nseg = usize::try_from(g.num_segments).map_err(|_| ShareError::ShortData {
        need: g.share_size,
        have: area,
    })?;
    let need = tree_len(nseg);
    if share.block_hash_tree.len() != need {
        return Err(ShareError::BlockTreeShape {
            need,
            have: share.block_hash_tree.len(),
        });
    }
    let first_leaf = need / 2;
    let leaves = &share.block_hash_tree[first_leaf..first_leaf + nseg];
    let tree = HashTree::new(leaves);
    if let Some(i) = (0..need).find(|&i| tree.nodes()[i] != share.block_hash_tree[i]) {
        return Err(ShareError::BlockTreeNode(i));
    }
    check_chain_and_crypttext(cap, shnum, share, &ueb, tree.root(), need)?;
    Ok(VerifiedTrees {
        ueb,
        geometry: g,
        block_hashes: leaves.to_vec(),
    })
}

/// A share that was dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadShare {
    /// Position in the caller's list.
    pub input: usize,
    /// The share number it was offered as.
    pub shnum: u16,
    /// What failed.
    pub error: ShareError,
}

/// Why a file could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer than k distinct good shares.
    #[error("only {good} good shares, {needed} needed ({} bad)", bad.len())]
    NotEnoughShares {
        /// Distinct good shares.
        good: usize,
        /// k.
        needed: u16,
        /// The shares that failed.
        bad: Vec<BadShare>,
    },
    /// A decoded segment does not match the crypttext tree (only a
    /// malicious uploader can cause this: every block was verified).
    #[error("segment {0} does not match the crypttext hash tree")]
    SegmentHash(u64),
    /// The whole ciphertext does not match the UEB's `crypttext_hash`.
    #[error("ciphertext does not match crypttext_hash")]
    CrypttextHash,
    /// The erasure decoder refused its inputs.
    #[error("erasure decoding: {0}")]
    Fec(#[from] FecError),
    /// A size does not fit in memory on this platform.
    #[error("file too large for this platform")]
    TooLarge,
}

/// A decoded file and the shares that were dropped on the way.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// Shares that failed verification.
    pub bad_shares: Vec<BadShare>,
}

/// Verify `shares` (`(shnum, share data)`), then decode any k good ones.
pub fn decode(cap: &ChkReadCap, shares: &[(u16, &[u8])]) -> Result<Decoded, DecodeError> {
    let vcap = cap.verifier();
    let mut bad = Vec::new();
    let mut good: Vec<VerifiedShare<'_>> = Vec::new();
    for (input, &(shnum, bytes)) in shares.iter().enumerate() {
        match verify_share(&vcap, shnum, bytes) {
            // A duplicate share number adds nothing to zfec.
            Ok(v) if good.iter().any(|g| g.shnum == v.shnum) => {}
            Ok(v) => good.push(v),
            Err(error) => bad.push(BadShare {
                input,
                shnum,
                error,
            }),
        }
    }
    let k = usize::from(cap.needed);
    if good.len() < k {
        return Err(DecodeError::NotEnoughShares {
            good: good.len(),
            needed: cap.needed,
            bad,
        });
    }
    // Primary shares decode for free: prefer low share numbers.
    good.sort_by_key(|v| v.shnum);
    good.truncate(k);
    let g = good[0].geometry;
    let ct_tree = good[0].share.crypttext_hash_tree.clone();
    let crypttext_hash = good[0].ueb.crypttext_hash;
    let codec = Codec::cached(k, usize::from(cap.total))?;
    let size = usize::try_from(g.size).map_err(|_| DecodeError::TooLarge)?;
    let mut plaintext = Vec::with_capacity(size);
    let mut aes = AesCtr::new(cap.key.as_bytes());
    let mut whole = TaggedHasher::new(tags::CIPHERTEXT);
    let first_leaf = ct_tree.len() / 2;
    let mut pieces: Vec<Vec<u8>> = vec![Vec::new(); k];
    for s in 0..g.num_segments {
        let blocks: Vec<(usize, &[u8])> = good
            .iter()
            .map(|v| (usize::from(v.shnum), v.block(s).unwrap_or(&[])))
            .collect();
        let bl = blocks.first().map(|b| b.1.len()).unwrap_or(0);
        for p in &mut pieces {
            p.clear();
            p.resize(bl, 0);
        }
        {
            let mut outs: Vec<&mut [u8]> = pieces.iter_mut().map(|p| p.as_mut_slice()).collect();
            codec.decode(&blocks, &mut outs)?;
        }
        let start = plaintext.len();
        let seg_len = g.segment_len(s) as usize;
        for p in &pieces {
            let room = start + seg_len - plaintext.len();
            plaintext.extend_from_slice(&p[..p.len().min(room)]);
        }
        let seg = &mut plaintext[start..];
        let leaf = ct_tree.get(first_leaf + s as usize);
        if leaf != Some(&crypttext_segment_hash(seg)) {
            return Err(DecodeError::SegmentHash(s));
        }
        whole.update(seg);
        aes.apply(seg);
    }
    if let Some(h) = crypttext_hash {
        if whole.finalize() != h {
            return Err(DecodeError::CrypttextHash);
        }
    }
    Ok(Decoded {
        plaintext,
        bad_shares: bad,
    })
}
