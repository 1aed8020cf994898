//! In-memory retrieve: shares → verified plaintext (spec §5.3, §5.7).
//!
//! Each share is checked on its own, and a share that fails any check is
//! set aside with its share number and the reason ([`ShareFailure`]):
//!
//! 1. parse by offsets ([`MutableShare::parse`]);
//! 2. `H_PUBKEY(verification key) == fingerprint` from the cap;
//! 3. RSA-PSS signature over the stored signed prefix;
//! 4. block hashes (SDMF `H(block)`, MDMF `H(salt‖block)`) rebuild the
//!    stored block hash tree, node for node;
//! 5. the block-tree root, with the stored share hash chain, reaches the
//!    signed `root_hash`;
//! 6. writers only: `H_WRITEKEY(AES-CTR(writekey, enc_privkey)) == writekey`.
//!
//! Valid shares are grouped by version `(seqnum, root_hash)`; the highest
//! seqnum with at least k distinct shares is decoded with zfec and each
//! segment decrypted with its own datakey. The network servermap and
//! retriever reuse the steps one by one: [`check_signature`] on a fetched
//! header, [`check_block_hash_tree`], [`check_share_hash_chain`] and
//! [`decrypt_privkey`] as fields arrive.

use super::rsa::{verify_spki, KeyChain, VerifyError};
use super::share::{block_leaf_hash, MutableShare, SaltedBlock, ShareError, ShareHeader, Version};
use crate::hash::Hash;
use crate::hashtree::{HashTree, HashTreeError, PartialHashTree};
use crate::keys::{mutable as mkeys, WriteKey};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// Why one share was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareCheckError {
    /// It does not parse.
    #[error(transparent)]
    Parse(#[from] ShareError),
    /// Its verification key does not hash to the cap's fingerprint.
    #[error("verification key does not match the cap's fingerprint")]
    WrongFingerprint,
    /// The signature does not verify.
    #[error(transparent)]
    Signature(#[from] VerifyError),
    /// A block does not hash into the stored block hash tree.
    #[error("block hash tree does not match the blocks")]
    BlockHashTree,
    /// The block-tree root does not chain to the signed root hash.
    #[error("share hash chain does not reach the root hash: {0}")]
    ShareHashChain(HashTreeError),
    /// The share number is not below N.
    #[error("share number {shnum} is not below N={n}")]
    ShareNumber {
        /// Share number.
        shnum: u8,
        /// N.
        n: u8,
    },
    /// The decrypted private key does not hash to the writekey.
    #[error("encrypted private key does not hash to the writekey")]
    PrivateKey,
}

/// One rejected share.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("share {shnum}: {error}")]
pub struct ShareFailure {
    /// Its share number.
    pub shnum: u8,
    /// Why.
    pub error: ShareCheckError,
}

/// Why no plaintext could be recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetrieveError {
    /// Fewer than k good shares of any version.
    #[error("not enough good shares: need {needed}, have {have} ({} rejected{})",
        .failures.len(),
        .failures.first().map(|f| format!(", first: {f}")).unwrap_or_default())]
    NotEnoughShares {
        /// k of the best version (0 if no share parsed).
        needed: usize,
        /// Good shares of that version.
        have: usize,
        /// Every rejected share and why.
        failures: Vec<ShareFailure>,
    },
    /// The erasure decoder failed (cannot happen with validated shares).
    #[error("erasure decoding failed: {0}")]
    Fec(#[from] lafs_fec::FecError),
}

/// How retrieve tells versions apart: seqnum first, so the newest sorts last.
type VersionKey = (u64, Hash, Vec<u8>);

/// A share that passed every check.
#[derive(Debug, Clone)]
pub struct ValidShare<'a> {
    /// Share number.
    pub shnum: u8,
    /// The parsed share.
    pub share: MutableShare<'a>,
}

/// Step 2–3, what a servermap update checks from the header, verification
/// key and signature alone: the key hashes to the cap's fingerprint and
/// signs the stored signed prefix.
pub fn check_signature(
    fingerprint: &crate::keys::Fingerprint,
    header: &ShareHeader,
    verification_key: &[u8],
    signature: &[u8],
) -> Result<(), ShareCheckError> {
    if mkeys::fingerprint(verification_key) != *fingerprint {
        return Err(ShareCheckError::WrongFingerprint);
    }
    verify_spki(verification_key, &header.signed_prefix, signature)?;
    Ok(())
}

/// Step 4 for a whole share: rebuild the block hash tree from every
/// `(salt, block)` and compare it node for node with the stored one.
/// Returns the block-tree root.
pub fn check_block_hash_tree(
    version: Version,
    blocks: &[SaltedBlock<'_>],
    stored: &[Hash],
) -> Result<Hash, ShareCheckError> {
    let leaves: Vec<Hash> = blocks
        .iter()
        .map(|(salt, b)| block_leaf_hash(version, salt, b))
        .collect();
    let tree = HashTree::new(&leaves);
    if tree.nodes() != stored {
        return Err(ShareCheckError::BlockHashTree);
    }
    Ok(tree.root())
}

/// Step 5: the block-tree root of share `shnum`, with its stored chain,
/// reaches the signed root hash.
pub fn check_share_hash_chain(
    header: &ShareHeader,
    shnum: u8,
    block_tree_root: Hash,
    chain: &[(u16, Hash)],
) -> Result<(), ShareCheckError> {
    if shnum >= header.n {
        return Err(ShareCheckError::ShareNumber { shnum, n: header.n });
    }
    let mut share_tree = PartialHashTree::new(usize::from(header.n), header.root_hash);
    let chain: BTreeMap<usize, Hash> = chain.iter().map(|(i, h)| (usize::from(*i), *h)).collect();
    share_tree
        .verify_leaf(usize::from(shnum), block_tree_root, &chain)
        .map_err(ShareCheckError::ShareHashChain)
}

/// Steps 4–5 for some segments of a share fetched without the rest (a
/// range read or a partial update): `block_tree` (every stored node) must
/// chain to the signed root hash through `chain`, and each `(salt, block)`
/// of `blocks` must be leaf `first + i` of it. The stored tree's other
/// nodes are only used as uncles, so a wrong one fails a leaf.
pub fn check_blocks(
    header: &ShareHeader,
    shnum: u8,
    chain: &[(u16, Hash)],
    block_tree: &[Hash],
    first: u64,
    blocks: &[SaltedBlock<'_>],
) -> Result<(), ShareCheckError> {
    let leaves = usize::try_from(header.num_segments().max(1)).unwrap_or(usize::MAX);
    if block_tree.len() != crate::hashtree::tree_len(leaves) {
        return Err(ShareCheckError::BlockHashTree);
    }
    let root = block_tree[0];
    check_share_hash_chain(header, shnum, root, chain)?;
    let mut tree = PartialHashTree::new(leaves, root);
    let extra: BTreeMap<usize, Hash> = block_tree.iter().copied().enumerate().collect();
    for (i, (salt, block)) in blocks.iter().enumerate() {
        let j = usize::try_from(first)
            .ok()
            .and_then(|f| f.checked_add(i))
            .ok_or(ShareCheckError::BlockHashTree)?;
        tree.verify_leaf(j, block_leaf_hash(header.version, salt, block), &extra)
            .map_err(|_| ShareCheckError::BlockHashTree)?;
    }
    Ok(())
}

/// Step 6 (writers): decrypt the stored private key and check that it
/// hashes to the writekey. Returns the stored PKCS#8 bytes.
pub fn decrypt_privkey(
    writekey: &WriteKey,
    enc_privkey: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ShareCheckError> {
    let pk = Zeroizing::new(crate::aes::aes128_ctr(writekey.as_bytes(), enc_privkey));
    if mkeys::writekey(&pk) != *writekey {
        return Err(ShareCheckError::PrivateKey);
    }
    Ok(pk)
}

/// Check one whole share against the cap's keys (steps 1–6 above).
pub fn validate_share<'a>(
    keys: &KeyChain,
    shnum: u8,
    data: &'a [u8],
) -> Result<ValidShare<'a>, ShareCheckError> {
    let share = MutableShare::parse(data)?;
    let h = &share.header;
    if shnum >= h.n {
        return Err(ShareCheckError::ShareNumber { shnum, n: h.n });
    }
    check_signature(
        &keys.fingerprint,
        h,
        share.verification_key,
        share.signature,
    )?;
    let root = check_block_hash_tree(h.version, &share.blocks, &share.block_hash_tree)?;
    check_share_hash_chain(h, shnum, root, &share.share_hash_chain)?;
    if let Some(wk) = &keys.writekey {
        decrypt_privkey(wk, share.enc_privkey)?;
    }
    Ok(ValidShare { shnum, share })
}

/// A recovered mutable file version.
#[derive(Clone)]
pub struct Retrieved {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// SDMF or MDMF.
    pub version: Version,
    /// Its sequence number.
    pub seqnum: u64,
    /// Its root hash.
    pub root_hash: Hash,
    /// k.
    pub k: u8,
    /// N.
    pub n: u8,
    /// Share numbers used for decoding.
    pub used: Vec<u8>,
    /// The decrypted PKCS#8 private key, stored bytes (writers only).
    pub privkey_der: Option<Zeroizing<Vec<u8>>>,
    /// Shares that were rejected (the file was recovered without them).
    pub failures: Vec<ShareFailure>,
}

impl std::fmt::Debug for Retrieved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrieved")
            .field("plaintext_len", &self.plaintext.len())
            .field("version", &self.version)
            .field("seqnum", &self.seqnum)
            .field("k", &self.k)
            .field("n", &self.n)
            .field("used", &self.used)
            .field(
                "privkey_der",
                &self.privkey_der.as_ref().map(|_| "<redacted>"),
            )
            .field("failures", &self.failures)
            .finish()
    }
}

/// Verify, decode and decrypt the newest recoverable version among
/// `shares` (`(shnum, share bytes)`).
pub fn retrieve(keys: &KeyChain, shares: &[(u8, &[u8])]) -> Result<Retrieved, RetrieveError> {
    let mut failures = Vec::new();
    // Version = (seqnum, root_hash, whole signed prefix), as Python's
    // verinfo: shares only mix if they agree on k, N and the sizes too.
    // shnum -> share; the first copy of a shnum wins.
    let mut versions: BTreeMap<VersionKey, BTreeMap<u8, MutableShare<'_>>> = BTreeMap::new();
    for &(shnum, data) in shares {
        match validate_share(keys, shnum, data) {
            Ok(v) => {
                let h = &v.share.header;
                let key = (h.seqnum, h.root_hash, h.signed_prefix.clone());
                versions
                    .entry(key)
                    .or_default()
                    .entry(shnum)
                    .or_insert(v.share);
            }
            Err(error) => failures.push(ShareFailure { shnum, error }),
        }
    }
    // Newest first; a version is recoverable with k distinct shares.
    let best = versions.iter().rev().find(|(_, m)| {
        m.values()
            .next()
            .is_some_and(|s| m.len() >= usize::from(s.header.k))
    });
    let Some((_, group)) = best else {
        let (needed, have) = versions
            .values()
            .next_back()
            .and_then(|m| {
                m.values()
                    .next()
                    .map(|s| (usize::from(s.header.k), m.len()))
            })
            .unwrap_or((0, 0));
        return Err(RetrieveError::NotEnoughShares {
            needed,
            have,
            failures,
        });
    };
    let first = group
        .values()
        .next()
        .ok_or(RetrieveError::NotEnoughShares {
            needed: 0,
            have: 0,
            failures: Vec::new(),
        })?;
    let h = first.header.clone();
    let k = usize::from(h.k);
    let used: Vec<(u8, &MutableShare<'_>)> = group.iter().take(k).map(|(n, s)| (*n, s)).collect();
    let codec = lafs_fec::Codec::cached(k, usize::from(h.n))?;
    let nseg = first.blocks.len();
    // No preallocation from the header's data length: it is share input.
    let mut plaintext = Vec::new();
    for seg in 0..nseg {
        let inputs: Vec<(usize, &[u8])> = used
            .iter()
            .filter_map(|(n, s)| s.blocks.get(seg).map(|(_, b)| (usize::from(*n), *b)))
            .collect();
        let pieces = codec.decode_all(&inputs)?;
        let salt = first.blocks[seg].0;
        let seglen = usize::try_from(h.segment_len(seg as u64)).unwrap_or(0);
        let mut segment: Vec<u8> = pieces.concat();
        segment.truncate(seglen);
        let datakey = mkeys::datakey(&salt, &keys.readkey);
        crate::aes::AesCtr::new(datakey.as_bytes()).apply(&mut segment);
        plaintext.extend_from_slice(&segment);
    }
    // Every share in the group passed `decrypt_privkey` when we hold the
    // writekey, so this cannot fail here.
    let privkey_der = keys
        .writekey
        .as_ref()
        .and_then(|wk| decrypt_privkey(wk, first.enc_privkey).ok());
    Ok(Retrieved {
        plaintext,
        version: h.version,
        seqnum: h.seqnum,
        root_hash: h.root_hash,
        k: h.k,
        n: h.n,
        used: used.iter().map(|(n, _)| *n).collect(),
        privkey_der,
        failures,
    })
}
