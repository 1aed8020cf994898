//! The engine's one error type. lafs-http maps it to a status code in a
//! single function (spec §8.4, §8.7).

use lafs_format::keys::ServerId20;

/// Why a storage operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// No complete share with that number exists for the storage index.
    #[error("no such share")]
    NoSuchShare,
    /// No upload in progress for that (storage index, share number).
    #[error("no such upload in progress")]
    NoSuchUpload,
    /// The upload secret does not match the one bound at allocation.
    #[error("wrong upload secret")]
    WrongUploadSecret,
    /// An immutable write overlapped earlier bytes with different bytes.
    #[error("write conflicts with data already written")]
    ConflictingWrite,
    /// An immutable write reached past the allocated size.
    #[error("write beyond the allocated size")]
    WriteBeyondAllocated,
    /// The share is already complete (abort or write after completion).
    #[error("share already complete")]
    AlreadyComplete,
    /// The supplied write enabler does not match the one stored in an
    /// existing mutable share; names the nodeid stored with it.
    #[error("bad write enabler (share was written via server {nodeid})")]
    BadWriteEnabler {
        /// The nodeid stored in the container next to the write enabler.
        nodeid: ServerId20,
    },
    /// Writing would eat into `reserved_space` (or the disk is full).
    #[error("not enough space")]
    NoSpace,
    /// The server is in read-only mode.
    #[error("server is read-only")]
    ReadOnly,
    /// The requested size exceeds what this server stores for one share.
    #[error("share too large")]
    TooLarge,
    /// A mutable operation found an immutable share at that number (or the
    /// reverse).
    #[error("share is of the other kind (mutable vs immutable)")]
    WrongShareKind,
    /// Request arguments are malformed.
    #[error("bad request: {0}")]
    BadRequest(#[from] BadRequest),
    /// A stored container is unreadable.
    #[error("corrupt container: {0}")]
    Corrupt(#[from] lafs_format::container::ContainerError),
    /// An I/O error from the backend.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The lease database failed.
    #[error("lease database error: {0}")]
    LeaseDb(#[from] rusqlite::Error),
    /// A blocking backend task was cancelled or panicked.
    #[error("backend task failed")]
    TaskFailed,
}

/// Malformed arguments, refused before anything is touched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadRequest {
    /// Share numbers are 0..=255.
    #[error("share number out of range")]
    ShareNumberOutOfRange,
    /// The upload secret is empty.
    #[error("empty upload secret")]
    EmptyUploadSecret,
    /// offset + length overflows.
    #[error("range overflows")]
    RangeOverflow,
}
