//! Values exchanged between the engine and its callers.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use bytes::Bytes;
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

/// The bytes of one share write, kept as the chunks they arrived in (a
/// request body's frames) so that no layer gathers them into one buffer:
/// the disk store hands them to one `pwritev`. An upload of 100 MiB
/// writes 333 MiB of shares; each gather copy cost the servers about 5%
/// of their CPU.
#[derive(Clone, Default)]
pub struct WriteData {
    chunks: Vec<Bytes>,
    len: usize,
}

impl WriteData {
    /// Chunks in order (empty ones are dropped).
    pub fn from_chunks(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: Vec<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let len = chunks.iter().map(Bytes::len).sum();
        WriteData { chunks, len }
    }
    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The chunks, in order.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }
    /// Bytes `range` (relative to the start) copied out; `None` if the
    /// range runs past the end.
    pub fn copy_range(&self, range: Range<usize>) -> Option<Vec<u8>> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        let mut out = Vec::with_capacity(range.len());
        let mut at = 0usize;
        for c in &self.chunks {
            let (s, e) = (at, at + c.len());
            at = e;
            let lo = range.start.max(s);
            let hi = range.end.min(e);
            if lo < hi {
                out.extend_from_slice(&c[lo - s..hi - s]);
            }
        }
        Some(out)
    }
    /// All bytes in one buffer (one copy, unless there is a single chunk).
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => Bytes::from(many.concat()),
        }
    }
}

impl std::fmt::Debug for WriteData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WriteData({} bytes in {} chunks)",
            self.len,
            self.chunks.len()
        )
    }
}

impl From<Bytes> for WriteData {
    fn from(b: Bytes) -> Self {
        WriteData::from_chunks([b])
    }
}

impl From<Vec<u8>> for WriteData {
    fn from(v: Vec<u8>) -> Self {
        WriteData::from(Bytes::from(v))
    }
}

impl<T: AsRef<[u8]> + ?Sized> From<&T> for WriteData {
    fn from(v: &T) -> Self {
        WriteData::from(Bytes::copy_from_slice(v.as_ref()))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Split `data` at the given cut points (taken modulo its length).
    fn chunked(data: &[u8], cuts: &[usize]) -> WriteData {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        let mut at = 0;
        let mut chunks = Vec::new();
        for c in cuts.into_iter().chain([data.len()]) {
            chunks.push(Bytes::copy_from_slice(&data[at..c]));
            at = c;
        }
        WriteData::from_chunks(chunks)
    }

    proptest! {
        #[test]
        fn chunks_read_back_as_one_buffer(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            a in any::<usize>(),
            b in any::<usize>(),
        ) {
            let w = chunked(&data, &cuts);
            prop_assert_eq!(w.len(), data.len());
            prop_assert_eq!(w.to_bytes().to_vec(), data.clone());
            let (a, b) = (a % (data.len() + 1), b % (data.len() + 1));
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert_eq!(w.copy_range(lo..hi), Some(data[lo..hi].to_vec()));
            prop_assert_eq!(w.copy_range(lo..data.len() + 1), None);
        }
    }
}
