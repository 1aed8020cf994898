//! Values exchanged between the engine and its callers.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The opaque secret a client binds to the shares it allocates; later
/// writes and aborts must present it. The Python client sends 20 random
/// bytes; any non-empty length is accepted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct UploadSecret(Vec<u8>);

impl UploadSecret {
    /// Wrap raw bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        UploadSecret(bytes)
    }
    /// The raw bytes. Handle with care: this is a secret.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for UploadSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadSecret(<redacted>)")
    }
}

impl PartialEq for UploadSecret {
    fn eq(&self, other: &Self) -> bool {
        // Lengths are not secret (the client picks them); contents are.
        self.0.len() == other.0.len() && bool::from(self.0.ct_eq(&other.0))
    }
}
impl Eq for UploadSecret {}

/// Immutable or mutable: the two share namespaces of the protocol (they
/// share one directory on disk and are told apart by the container's first
/// bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShareKind {
    /// CHK shares (immutable containers).
    Immutable,
    /// SDMF/MDMF shares (mutable containers).
    Mutable,
}

/// What `GET /storage/v1/version` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// Largest immutable share this server accepts now.
    pub maximum_immutable_share_size: u64,
    /// Largest mutable share (Python: 69105·10^12).
    pub maximum_mutable_share_size: u64,
    /// Free space after `reserved_space` (2^64−1 if unknown).
    pub available_space: u64,
}

/// The answer to `allocate_buckets`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Every complete share of the storage index (not only those asked for).
    pub already_have: BTreeSet<u16>,
    /// Shares newly allocated to this upload secret (or already in
    /// progress under the same secret).
    pub allocated: BTreeSet<u16>,
}

/// Progress of an immutable upload after a write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteProgress {
    /// Byte ranges still missing (end exclusive), in order.
    pub required: Vec<Range<u64>>,
    /// True when this write completed the share (HTTP 201); the share is
    /// then final and visible.
    pub complete: bool,
}

/// The answer to a mutable test-and-set write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestWriteResult {
    /// Whether every test vector passed (and so the writes were applied).
    pub success: bool,
    /// The read vector evaluated on every share that existed before the
    /// writes: `shnum → one byte string per ReadVector`.
    pub data: BTreeMap<u16, Vec<Vec<u8>>>,
}

/// A lease as the container records it (secrets omitted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    /// Owner number (0: allocate, 1: lease endpoint and mutable writes).
    pub owner_num: u32,
    /// Unix seconds.
    pub expiration: u32,
}
