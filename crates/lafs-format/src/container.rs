//! Server-side share containers (spec §7.2, §7.3, §7.4). (In progress:
//! parsers and builders land in the next commit; the vector types below are
//! the contract the storage engine is written against.)

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

/// Why bytes are not a valid container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    /// Shorter than the fixed header.
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
}
