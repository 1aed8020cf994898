//! # lafs-storage: the storage-server engine
//!
//! (Skeleton: public API for lafs-http; implementation follows.)

mod error;
mod server;
mod types;

pub use error::{BadRequest, StorageError};
pub use lafs_format::container::{ReadVector, TestVector, TestWriteVectors, WriteVector};
pub use lafs_format::keys::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, WriteEnabler,
};
pub use server::{ExpirationMode, ExpirationOptions, StorageServer, StorageServerOptions};
pub use types::{Allocation, ShareKind, TestWriteResult, UploadSecret, VersionInfo, WriteProgress};
