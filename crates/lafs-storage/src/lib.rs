//! # lafs-storage: the storage-server engine
//!
//! (Essay follows in a later commit.)

mod clock;
mod disk;
mod engine;
mod error;
mod leasedb;
mod memory;
mod ranges;
mod server;
mod store;
mod types;

pub use clock::Clock;
pub use disk::DiskStore;
pub use error::{BadRequest, StorageError};
pub use lafs_format::container::{ReadVector, TestVector, TestWriteVectors, WriteVector};
pub use lafs_format::keys::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, WriteEnabler,
};
pub use leasedb::{ExpiredShare, LeaseDb, Usage};
pub use memory::{MemoryStore, NullStore};
pub use server::{ExpirationMode, ExpirationOptions, StorageServer, StorageServerOptions};
pub use store::{ImmutableLeases, LeaseWrite, ShareStore};
pub use types::{Allocation, ShareKind, TestWriteResult, UploadSecret, VersionInfo, WriteProgress};
