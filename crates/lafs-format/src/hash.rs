//! Tagged SHA-256d hashes (spec §2.1, §2.2).
//!
//! Every hash Tahoe stores is `SHA256(SHA256(netstring(tag) || value))`.
//! The tag separates uses, so a block hash can never be mistaken for a UEB
//! hash. [`TaggedHasher`] is the streaming form, used where the value is a
//! whole file (the convergence key, the crypttext hash).

use crate::netstring;
use sha2::{Digest, Sha256};

/// A 32-byte hash value.
pub type Hash = [u8; 32];

/// Every tag Tahoe 1.20 uses (spec §2.2), by its Tahoe constant name.
pub mod tags {
    /// CHK storage index = H(key)[:16].
    pub const STORAGE_INDEX: &[u8] = b"allmydata_immutable_key_to_storage_index_v1";
    /// Leaf of block hash trees.
    pub const BLOCK: &[u8] = b"allmydata_encoded_subshare_v1";
    /// Hash of the serialized UEB.
    pub const UEB: &[u8] = b"allmydata_uri_extension_v1";
    /// Flat plaintext hash (no longer stored).
    pub const PLAINTEXT: &[u8] = b"allmydata_plaintext_v1";
    /// UEB `crypttext_hash`.
    pub const CIPHERTEXT: &[u8] = b"allmydata_crypttext_v1";
    /// Leaves of the crypttext hash tree.
    pub const CIPHERTEXT_SEGMENT: &[u8] = b"allmydata_crypttext_segment_v1";
    /// Plaintext segment hash (not stored).
    pub const PLAINTEXT_SEGMENT: &[u8] = b"allmydata_plaintext_segment_v1";
    /// Prefix of the CHK convergent-key tag.
    pub const CONVERGENT_ENCRYPTION: &[u8] =
        b"allmydata_immutable_content_to_key_with_added_secret_v1+";
    /// Client renewal secret (used as the *value*, see §2.5).
    pub const CLIENT_RENEWAL: &[u8] = b"allmydata_client_renewal_secret_v1";
    /// Client cancel secret (used as the *value*).
    pub const CLIENT_CANCEL: &[u8] = b"allmydata_client_cancel_secret_v1";
    /// Per-file renewal secret.
    pub const FILE_RENEWAL: &[u8] = b"allmydata_file_renewal_secret_v1";
    /// Per-file cancel secret.
    pub const FILE_CANCEL: &[u8] = b"allmydata_file_cancel_secret_v1";
    /// Per-bucket renewal secret.
    pub const BUCKET_RENEWAL: &[u8] = b"allmydata_bucket_renewal_secret_v1";
    /// Per-bucket cancel secret.
    pub const BUCKET_CANCEL: &[u8] = b"allmydata_bucket_cancel_secret_v1";
    /// writekey = H(privkey DER)[:16].
    pub const MUTABLE_WRITEKEY: &[u8] = b"allmydata_mutable_privkey_to_writekey_v1";
    /// Write-enabler master.
    pub const MUTABLE_WRITE_ENABLER_MASTER: &[u8] =
        b"allmydata_mutable_writekey_to_write_enabler_master_v1";
    /// Per-server write enabler.
    pub const MUTABLE_WRITE_ENABLER: &[u8] =
        b"allmydata_mutable_write_enabler_master_and_nodeid_to_write_enabler_v1";
    /// fingerprint = H(pubkey DER).
    pub const MUTABLE_PUBKEY: &[u8] = b"allmydata_mutable_pubkey_to_fingerprint_v1";
    /// readkey = H(writekey)[:16].
    pub const MUTABLE_READKEY: &[u8] = b"allmydata_mutable_writekey_to_readkey_v1";
    /// Per-salt data key (pair hash, salt first).
    pub const MUTABLE_DATAKEY: &[u8] = b"allmydata_mutable_readkey_to_datakey_v1";
    /// Mutable SI = H(readkey)[:16].
    pub const MUTABLE_STORAGEINDEX: &[u8] = b"allmydata_mutable_readkey_to_storage_index_v1";
    /// Dirnode child rw-cap key.
    pub const DIRNODE_CHILD_WRITECAP: &[u8] =
        b"allmydata_mutable_writekey_and_salt_to_dirnode_child_capkey_v1";
    /// Dirnode child rw-cap salt.
    pub const DIRNODE_CHILD_SALT: &[u8] = b"allmydata_dirnode_child_rwcap_to_salt_v1";
    /// Merkle padding leaves.
    pub const MERKLE_EMPTY_LEAF: &[u8] = b"Merkle tree empty leaf";
    /// Merkle internal nodes.
    pub const MERKLE_INTERNAL_NODE: &[u8] = b"Merkle tree internal node";
    /// Mutable container v2 magic.
    pub const MUTABLE_CONTAINER_HEADER: &[u8] = b"allmydata_mutable_container_header";
    /// `tahoe backup` dirhash (local only).
    pub const BACKUPDB_DIRHASH: &[u8] = b"allmydata_backupdb_dirhash_v1";
}

/// `SHA256(x)`.
pub fn sha256(x: &[u8]) -> Hash {
    Sha256::digest(x).into()
}

/// `SHA256(SHA256(x))`.
pub fn sha256d(x: &[u8]) -> Hash {
    Sha256::digest(Sha256::digest(x)).into()
}

/// `H_tag(value) = SHA256d(netstring(tag) || value)`.
pub fn tagged_hash(tag: &[u8], value: &[u8]) -> Hash {
    let mut h = TaggedHasher::new(tag);
    h.update(value);
    h.finalize()
}

/// `H_tag(a, b) = SHA256d(netstring(tag) || netstring(a) || netstring(b))`.
pub fn tagged_pair_hash(tag: &[u8], a: &[u8], b: &[u8]) -> Hash {
    let mut h = TaggedHasher::new(tag);
    h.update(&netstring::encode(a));
    h.update(&netstring::encode(b));
    h.finalize()
}

/// The first 16 bytes of a hash: keys and storage indexes.
pub fn truncate16(h: &Hash) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&h[..16]);
    out
}

/// Streaming `H_tag`: feed the value in pieces.
#[derive(Clone)]
pub struct TaggedHasher(Sha256);

impl std::fmt::Debug for TaggedHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaggedHasher")
    }
}

impl TaggedHasher {
    /// Start a hash with the given tag.
    pub fn new(tag: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(netstring::encode(tag));
        TaggedHasher(h)
    }
    /// Feed more of the value.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    /// Finish: the outer SHA-256 of the inner digest.
    pub fn finalize(self) -> Hash {
        Sha256::digest(self.0.finalize()).into()
    }
}

/// Block hash (leaf of block hash trees).
pub fn block_hash(block: &[u8]) -> Hash {
    tagged_hash(tags::BLOCK, block)
}

/// Hash of a serialized UEB: the second field of a CHK cap.
pub fn ueb_hash(ueb: &[u8]) -> Hash {
    tagged_hash(tags::UEB, ueb)
}

/// Leaf of the crypttext hash tree.
pub fn crypttext_segment_hash(segment: &[u8]) -> Hash {
    tagged_hash(tags::CIPHERTEXT_SEGMENT, segment)
}

/// Tahoe's non-standard "hmac" (spec §2.6): the key is XORed over its own
/// length, never padded to the block size. Used only for the legacy dirnode
/// child MAC, which readers ignore.
pub fn tahoe_hmac(key: &[u8], data: &[u8]) -> Hash {
    let ik: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
    let ok: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ik)
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(&ok)
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base32;

    #[test]
    fn known_answers() {
        assert_eq!(
            base32::encode(&tagged_hash(b"tag", b"hello world")),
            "yra322btzoqjp4ts2jon5dztgnilcdg6jgztgk7joi6qpjkitg2q"
        );
        assert_eq!(
            base32::encode(&tagged_pair_hash(b"tag", b"hello", b"world")),
            "wmto44q3shtezwggku2fxztfkwibvznkfu6clatnvfog527sb6dq"
        );
        assert_eq!(
            base32::encode(&tahoe_hmac(b"tag", b"")),
            "c54ypfi6pevb3nvo6ba42jtglpkry2kbdopqsi7dgrm4r7tw5sra"
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut h = TaggedHasher::new(b"t");
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finalize(), tagged_hash(b"t", b"hello world"));
    }
}
