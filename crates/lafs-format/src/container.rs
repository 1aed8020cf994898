//! Server-side share containers (spec §7.2, §7.3, §7.4).
//!
//! A Tahoe storage server never stores a share's bytes bare: it wraps them
//! in a *container* that adds a small header and the share's leases. There
//! are two families, both in two versions:
//!
//! * [`immutable`] (`storage/immutable.py`): a 12-byte header, the share
//!   data, then 72-byte lease records at the end of the file. Version 1
//!   stores lease secrets in clear, version 2 (what 1.20 writes) stores
//!   `BLAKE2b-256(secret)`.
//! * [`mutable`] (`storage/mutable.py`): a 468-byte header (magic, write
//!   enabler and its nodeid, data length, the offset of the extra-lease
//!   block, four 92-byte lease slots), the data, then a counted block of
//!   extra leases. The magic string tells v1 from v2; v2 hashes lease
//!   secrets like immutable v2.
//!
//! Both families share one namespace on disk (`shares/<prefix>/<si>/<n>`)
//! and are told apart by their first bytes: [`ContainerKind::detect`].
//!
//! Everything here is pure: parsers borrow the container bytes and return
//! typed views, builders return bytes, and the mutable write semantics
//! ([`mutable::MutableContainer::apply`]) are plain functions over the
//! parsed value, so the storage engine decides how to put the result on
//! disk (it writes a new copy and renames it into place). Parsers check
//! every offset against the length first and never panic.

pub mod immutable;
pub mod lease;
pub mod mutable;

pub use immutable::{ImmutableContainer, ImmutableVersion};
pub use lease::{ImmutableLease, LeaseScheme, MutableLease};
pub use mutable::{MutableContainer, MutableVersion};

/// One test of a mutable test-and-set write: read `[offset, offset+size)`
/// of the share's data (truncated at the data end; a missing share reads
/// as empty) and compare it with `specimen`. The only operator is `eq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestVector {
    /// First byte to compare.
    pub offset: u64,
    /// How many bytes to read before truncation.
    pub size: u64,
    /// The bytes the share must hold.
    pub specimen: Vec<u8>,
}

impl TestVector {
    /// Evaluate against a share's data (`&[]` for a missing share).
    pub fn matches(&self, data: &[u8]) -> bool {
        read_range(data, self.offset, self.size) == self.specimen.as_slice()
    }
}

/// One write of a mutable test-and-set write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteVector {
    /// Where the data goes in the share's data region.
    pub offset: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// One range read of a mutable read vector, truncated at the data end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadVector {
    /// First byte.
    pub offset: u64,
    /// Maximum bytes.
    pub size: u64,
}

/// Everything a test-and-set write asks of one share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestWriteVectors {
    /// All must pass (for all shares) before any write happens.
    pub test: Vec<TestVector>,
    /// Applied in order.
    pub write: Vec<WriteVector>,
    /// `Some(0)` deletes the share; a smaller length truncates; a larger
    /// length or `None` leaves the length alone.
    pub new_length: Option<u64>,
}

/// `data[offset .. offset+size]`, truncated at the end of `data` (empty when
/// `offset` is past the end). This is how Tahoe reads share data for test
/// vectors, read vectors and range reads.
pub fn read_range(data: &[u8], offset: u64, size: u64) -> &[u8] {
    let len = data.len() as u64;
    let start = offset.min(len);
    let end = offset.saturating_add(size).min(len);
    // start <= end <= len, both fit usize because len came from a slice.
    &data[start as usize..end.max(start) as usize]
}

/// Why bytes are not a valid container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    /// Shorter than the header and lease table need.
    #[error("container truncated: {len} bytes, need at least {need}")]
    Truncated {
        /// Bytes present.
        len: u64,
        /// Bytes the header and lease table need.
        need: u64,
    },
    /// Neither an immutable version word (1, 2) nor a mutable magic.
    #[error("unknown container version")]
    UnknownVersion,
    /// Header fields point outside the file or contradict each other.
    #[error("inconsistent container header: {0}")]
    Inconsistent(&'static str),
    /// A write or new length would make the share larger than this
    /// implementation can address.
    #[error("container too large")]
    TooLarge,
}

/// Which family a container belongs to, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// An immutable container of the given version.
    Immutable(ImmutableVersion),
    /// A mutable container of the given version.
    Mutable(MutableVersion),
}

impl ContainerKind {
    /// How many leading bytes [`ContainerKind::detect`] wants (fewer are
    /// fine when the file is shorter).
    pub const PREFIX_LEN: usize = mutable::MAGIC_LEN;

    /// Tell the families apart by their first bytes: a mutable magic
    /// (32 bytes) or an immutable version word (4 bytes, 1 or 2).
    pub fn detect(prefix: &[u8]) -> Result<ContainerKind, ContainerError> {
        if let Some(v) = MutableVersion::from_magic(prefix) {
            return Ok(ContainerKind::Mutable(v));
        }
        match prefix.get(0..4) {
            None => Err(ContainerError::Truncated {
                len: prefix.len() as u64,
                need: 4,
            }),
            Some(word) => ImmutableVersion::from_word(be_u32(word)).map(ContainerKind::Immutable),
        }
    }
}

/// A parsed container of either family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Container<'a> {
    /// An immutable container.
    Immutable(ImmutableContainer<'a>),
    /// A mutable container.
    Mutable(MutableContainer),
}

impl<'a> Container<'a> {
    /// Parse any container.
    pub fn parse(bytes: &'a [u8]) -> Result<Container<'a>, ContainerError> {
        match ContainerKind::detect(bytes)? {
            ContainerKind::Immutable(_) => {
                ImmutableContainer::parse(bytes).map(Container::Immutable)
            }
            ContainerKind::Mutable(_) => MutableContainer::parse(bytes).map(Container::Mutable),
        }
    }

    /// The share data inside.
    pub fn data(&self) -> &[u8] {
        match self {
            Container::Immutable(c) => c.data,
            Container::Mutable(c) => c.data(),
        }
    }

    /// Serialize back to bytes (identical to what was parsed).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Container::Immutable(c) => c.to_bytes(),
            Container::Mutable(c) => c.to_bytes(),
        }
    }
}

// Big-endian field readers. Callers pass slices of the exact width, taken
// with `get` after a length check, so the conversions cannot fail; we
// still avoid `unwrap` by copying byte by byte.
pub(crate) fn be_u32(b: &[u8]) -> u32 {
    b.iter()
        .take(4)
        .fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
}

pub(crate) fn be_u64(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

pub(crate) fn array32(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, i) in out.iter_mut().zip(b) {
        *o = *i;
    }
    out
}

pub(crate) fn array20(b: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (o, i) in out.iter_mut().zip(b) {
        *o = *i;
    }
    out
}
