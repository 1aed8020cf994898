//! `StorageServer`: the one type lafs-http calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use lafs_format::container::{ReadVector, TestWriteVectors};
use lafs_format::keys::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, WriteEnabler,
};

use crate::error::StorageError;
use crate::types::{
    Allocation, ShareKind, TestWriteResult, UploadSecret, VersionInfo, WriteProgress,
};

/// `[storage] expire.*` from tahoe.cfg: lease expiry and garbage collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpirationOptions {
    /// `expire.enabled`. Off by default, as in Tahoe.
    pub enabled: bool,
    /// `expire.mode = age`: a lease expires `override_lease_duration`
    /// seconds after its last renewal (None: the lease's own expiry time).
    /// `expire.mode = cutoff-date`: leases renewed before `cutoff_date`
    /// (unix seconds) expire.
    pub mode: ExpirationMode,
    /// `expire.immutable` (default true).
    pub immutable: bool,
    /// `expire.mutable` (default true).
    pub mutable: bool,
}

/// `expire.mode`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ExpirationMode {
    /// `age`, optionally with `expire.override_lease_duration` in seconds.
    #[default]
    Age,
    /// `age` with an override duration (seconds).
    AgeOverride(u64),
    /// `cutoff-date` (unix seconds).
    CutoffDate(u64),
}

/// How to run a storage server. Build with [`StorageServerOptions::new`] and
/// struct-update syntax (`..StorageServerOptions::new(nodeid)`), so that new
/// fields do not break callers.
#[derive(Clone, Debug)]
pub struct StorageServerOptions {
    /// `[storage] reserved_space` in bytes: refuse new shares that would
    /// leave less than this free.
    pub reserved_space: u64,
    /// `[storage] readonly`: refuse all writes (reads and leases still work).
    pub readonly: bool,
    /// This server's 20-byte node id (spec §9.3), stored in new mutable
    /// containers and lease records.
    pub nodeid: ServerId20,
    /// Lease expiry / GC policy.
    pub expire: ExpirationOptions,
}

impl StorageServerOptions {
    /// Defaults: no reserved space, writable, expiry off.
    pub fn new(nodeid: ServerId20) -> Self {
        StorageServerOptions {
            reserved_space: 0,
            readonly: false,
            nodeid,
            expire: ExpirationOptions {
                immutable: true,
                mutable: true,
                ..Default::default()
            },
        }
    }
}

/// The storage-server engine. Cheap to clone (an `Arc` inside); every
/// method is safe to call concurrently.
#[derive(Clone, Debug)]
pub struct StorageServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    opts: StorageServerOptions,
}

#[allow(clippy::todo, unused_variables)]
impl StorageServer {
    /// Serve a Tahoe `storage/` directory (layout §7.1), creating it if
    /// needed: adopts existing v1/v2 containers, cleans abandoned incoming
    /// uploads, opens (and on first start fills) the lease database.
    pub async fn open_disk(
        storage_dir: &Path,
        opts: StorageServerOptions,
    ) -> Result<Self, StorageError> {
        todo!()
    }

    /// A server that keeps everything in memory (tests, in-process grids).
    pub fn in_memory(opts: StorageServerOptions) -> Self {
        StorageServer {
            inner: Arc::new(Inner { opts }),
        }
    }

    /// A server that accepts and acknowledges everything but keeps no share
    /// data (protocol benchmarks). Reads return zeros of the written length.
    pub fn null(opts: StorageServerOptions) -> Self {
        StorageServer {
            inner: Arc::new(Inner { opts }),
        }
    }

    /// This server's node id.
    pub fn nodeid(&self) -> ServerId20 {
        self.inner.opts.nodeid
    }

    /// Sizes and free space for the version endpoint.
    pub async fn version(&self) -> VersionInfo {
        todo!()
    }

    /// Allocate immutable shares (spec §7.5): `already_have` lists every
    /// complete share of `si`; shares being uploaded by someone else are in
    /// neither set. Adds a lease (owner 0) to new shares and renews the
    /// requester's lease on existing ones.
    pub async fn allocate_buckets(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        upload_secret: &UploadSecret,
        share_numbers: &BTreeSet<u16>,
        allocated_size: u64,
    ) -> Result<Allocation, StorageError> {
        todo!()
    }

    /// Write `data` at `offset` of an allocated immutable share.
    pub async fn write_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
        offset: u64,
        data: &[u8],
    ) -> Result<WriteProgress, StorageError> {
        todo!()
    }

    /// Abandon an upload in progress, freeing its space.
    pub async fn abort_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
    ) -> Result<(), StorageError> {
        todo!()
    }

    /// Complete immutable shares of `si` (empty for an unknown SI).
    pub async fn list_immutable(&self, si: StorageIndex) -> Result<BTreeSet<u16>, StorageError> {
        todo!()
    }

    /// Read share data `[offset, offset+len)`, truncated at the data end.
    pub async fn read_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        todo!()
    }

    /// Length of a complete immutable share's data.
    pub async fn immutable_len(&self, si: StorageIndex, shnum: u16) -> Result<u64, StorageError> {
        todo!()
    }

    /// Record a corruption advisory (logged and kept; never acted on).
    pub async fn advise_corrupt(
        &self,
        kind: ShareKind,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), StorageError> {
        todo!()
    }

    /// Add or renew a lease on every share (mutable or immutable) of `si`;
    /// `NoSuchShare` if it has none.
    pub async fn add_or_renew_lease(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
    ) -> Result<(), StorageError> {
        todo!()
    }

    /// Mutable test-and-set write (spec §7.5).
    pub async fn mutable_test_and_write(
        &self,
        si: StorageIndex,
        write_enabler: &WriteEnabler,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        test_write: BTreeMap<u16, TestWriteVectors>,
        read_vector: &[ReadVector],
    ) -> Result<TestWriteResult, StorageError> {
        todo!()
    }

    /// Mutable shares of `si` (empty for an unknown SI).
    pub async fn list_mutable(&self, si: StorageIndex) -> Result<BTreeSet<u16>, StorageError> {
        todo!()
    }

    /// Read mutable share data `[offset, offset+len)`, truncated at the data end.
    pub async fn read_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        todo!()
    }

    /// Length of a mutable share's data.
    pub async fn mutable_len(&self, si: StorageIndex, shnum: u16) -> Result<u64, StorageError> {
        todo!()
    }
}
