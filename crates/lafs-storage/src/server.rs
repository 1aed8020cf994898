//! `StorageServer`: the one type lafs-http calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use lafs_format::container::{ReadVector, TestWriteVectors};
use lafs_format::keys::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, WriteEnabler,
};

use crate::clock::Clock;
use crate::disk::DiskStore;
use crate::engine::Engine;
use crate::error::StorageError;
use crate::expire::{ExpiryReport, ExpiryWorker};
use crate::leasedb::LeaseDb;
use crate::memory::{MemoryStore, NullStore};
use crate::types::{
    Allocation, LeaseInfo, ShareKind, TestWriteResult, UploadSecret, VersionInfo, WriteData,
    WriteProgress,
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
    /// Largest mutable share accepted (and advertised). Mutable containers
    /// are rewritten whole on each change, so this also bounds memory per
    /// write. Default 2^32 bytes (Python advertises 69105·10^12 but cannot
    /// store that either).
    pub max_mutable_share_size: u64,
    /// Where lease times come from (a manual clock in tests).
    pub clock: Clock,
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
            max_mutable_share_size: 1 << 32,
            clock: Clock::system(),
        }
    }
}

/// The storage-server engine. Cheap to clone (an `Arc` inside); every
/// method is safe to call concurrently.
#[derive(Clone, Debug)]
pub struct StorageServer {
    inner: Arc<Backend>,
}

/// The engine over each store. An enum rather than `dyn ShareStore`
/// because the trait's methods return `impl Future` (not object safe);
/// dispatch is one `match` per call.
#[derive(Debug)]
enum Backend {
    Memory(Engine<MemoryStore>),
    Disk(Engine<DiskStore>),
    Null(Engine<NullStore>),
}

macro_rules! dispatch {
    ($self:ident, $e:ident => $body:expr) => {
        match &*$self.inner {
            Backend::Memory($e) => $body,
            Backend::Disk($e) => $body,
            Backend::Null($e) => $body,
        }
    };
}

impl StorageServer {
    /// Serve a Tahoe `storage/` directory (layout §7.1), creating it if
    /// needed: adopts existing v1/v2 containers, cleans abandoned incoming
    /// uploads, opens (and on first start, or after a crash, re-fills by
    /// crawling) the lease database `storage/leases.sqlite`.
    pub async fn open_disk(
        storage_dir: &Path,
        opts: StorageServerOptions,
    ) -> Result<Self, StorageError> {
        let store = DiskStore::open(storage_dir).await?;
        let db_path = storage_dir.join("leases.sqlite");
        let (db, crawl) = tokio::task::spawn_blocking(move || LeaseDb::open(&db_path))
            .await
            .map_err(|_| StorageError::TaskFailed)??;
        let engine = Engine::new(store, opts, Some(db.clone()));
        let server = StorageServer {
            inner: Arc::new(Backend::Disk(engine)),
        };
        if crawl {
            // Empty the tables now, before any request can record a change,
            // then fill them in the background: serving does not wait for a
            // big directory to be read. Until the crawl ends, lease queries
            // may miss shares (expiry then just deletes less; it re-checks
            // every candidate against its container anyway).
            db.start_crawl();
            if let Backend::Disk(e) = &*server.inner {
                e.crawled.send_replace(false);
            }
            let s = server.clone();
            tokio::spawn(async move {
                if let Backend::Disk(e) = &*s.inner {
                    match e.crawl().await {
                        Ok(n) => {
                            db.mark_crawled();
                            tracing::info!(shares = n, "lease database filled from the containers");
                        }
                        Err(err) => {
                            tracing::error!(error = %err, "lease crawl failed; will retry at next start")
                        }
                    }
                    e.crawled.send_replace(true);
                }
            });
        }
        Ok(server)
    }

    /// A server that keeps everything in memory (tests, in-process grids).
    pub fn in_memory(opts: StorageServerOptions) -> Self {
        Self::with_memory_store(MemoryStore::new(), opts)
    }

    /// A memory server over a given store (e.g. [`MemoryStore::with_capacity`]).
    pub fn with_memory_store(store: MemoryStore, opts: StorageServerOptions) -> Self {
        StorageServer {
            inner: Arc::new(Backend::Memory(Engine::new(store, opts, None))),
        }
    }

    /// A server that accepts and acknowledges everything but keeps no share
    /// data (protocol benchmarks): completed immutable shares are listed
    /// and read back as zeros of the right length; mutable writes succeed
    /// and are forgotten.
    pub fn null(opts: StorageServerOptions) -> Self {
        StorageServer {
            inner: Arc::new(Backend::Null(Engine::new(NullStore::default(), opts, None))),
        }
    }

    /// This server's node id.
    pub fn nodeid(&self) -> ServerId20 {
        dispatch!(self, e => e.opts.nodeid)
    }

    /// The options it runs with.
    pub fn options(&self) -> &StorageServerOptions {
        dispatch!(self, e => &e.opts)
    }

    /// The lease database (disk servers only).
    pub fn lease_db(&self) -> Option<&LeaseDb> {
        dispatch!(self, e => e.leasedb.as_ref())
    }

    /// Sizes and free space for the version endpoint.
    pub async fn version(&self) -> VersionInfo {
        dispatch!(self, e => e.version().await)
    }

    /// Allocate immutable shares (spec §7.5): `already_have` lists every
    /// complete share of `si`; shares being uploaded by anyone are in
    /// neither set. New shares get a lease (owner 0) when they complete;
    /// the requester's lease on existing immutable shares is renewed.
    /// Read-only or full servers allocate nothing (as Tahoe: no error).
    pub async fn allocate_buckets(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        upload_secret: &UploadSecret,
        share_numbers: &BTreeSet<u16>,
        allocated_size: u64,
    ) -> Result<Allocation, StorageError> {
        dispatch!(self, e => e.allocate_buckets(si, renew, cancel, upload_secret, share_numbers, allocated_size).await)
    }

    /// Write `data` at `offset` of an allocated immutable share. Overlaps
    /// with earlier writes must carry identical bytes. The write that
    /// covers the last missing byte publishes the share (`complete`).
    /// Errors: `NoSuchUpload`, `AlreadyComplete` (share done),
    /// `WrongUploadSecret`, `WriteBeyondAllocated`, `ConflictingWrite`.
    pub async fn write_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
        offset: u64,
        data: impl Into<WriteData>,
    ) -> Result<WriteProgress, StorageError> {
        let data = data.into();
        dispatch!(self, e => e.write_immutable(si, shnum, upload_secret, offset, data).await)
    }

    /// Abandon an upload in progress, freeing its space.
    /// Errors: `NoSuchUpload`, `AlreadyComplete`, `WrongUploadSecret`.
    pub async fn abort_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
    ) -> Result<(), StorageError> {
        dispatch!(self, e => e.abort_immutable(si, shnum, upload_secret).await)
    }

    /// Complete immutable shares of `si` (empty for an unknown SI).
    pub async fn list_immutable(&self, si: StorageIndex) -> Result<BTreeSet<u16>, StorageError> {
        dispatch!(self, e => e.list(si, ShareKind::Immutable).await)
    }

    /// Read share data `[offset, offset+len)`, truncated at the data end.
    pub async fn read_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        dispatch!(self, e => e.read_immutable(si, shnum, offset, len).await)
    }

    /// Length of a complete immutable share's data.
    pub async fn immutable_len(&self, si: StorageIndex, shnum: u16) -> Result<u64, StorageError> {
        dispatch!(self, e => e.immutable_len(si, shnum).await)
    }

    /// Record a corruption advisory (logged and kept; never acted on).
    /// `NoSuchShare` if there is no such share of that kind.
    pub async fn advise_corrupt(
        &self,
        kind: ShareKind,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), StorageError> {
        dispatch!(self, e => e.advise_corrupt(kind, si, shnum, reason).await)
    }

    /// Add or renew a lease (owner 1) on every share (mutable or
    /// immutable) of `si`; `NoSuchShare` if it has none.
    pub async fn add_or_renew_lease(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
    ) -> Result<(), StorageError> {
        dispatch!(self, e => e.add_or_renew_lease(si, renew, cancel).await)
    }

    /// The leases recorded in a share's container (either kind).
    pub async fn leases(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<Vec<LeaseInfo>, StorageError> {
        dispatch!(self, e => e.leases(si, shnum).await)
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
        dispatch!(self, e => e.mutable_test_and_write(si, write_enabler, renew, cancel, test_write, read_vector).await)
    }

    /// Mutable shares of `si` (empty for an unknown SI).
    pub async fn list_mutable(&self, si: StorageIndex) -> Result<BTreeSet<u16>, StorageError> {
        dispatch!(self, e => e.list(si, ShareKind::Mutable).await)
    }

    /// Read mutable share data `[offset, offset+len)`, truncated at the data end.
    pub async fn read_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        dispatch!(self, e => e.read_mutable(si, shnum, offset, len).await)
    }

    /// Length of a mutable share's data.
    pub async fn mutable_len(&self, si: StorageIndex, shnum: u16) -> Result<u64, StorageError> {
        dispatch!(self, e => e.mutable_len(si, shnum).await)
    }

    /// Run one lease-expiry pass now (see [`crate::ExpiryWorker`]); a no-op
    /// unless `expire.enabled` on a disk server.
    pub async fn expire_once(&self) -> Result<ExpiryReport, StorageError> {
        dispatch!(self, e => e.expire_once().await)
    }

    /// Start the background lease expirer, one pass per `interval`.
    pub fn spawn_expiry_worker(&self, interval: std::time::Duration) -> ExpiryWorker {
        ExpiryWorker::spawn(self.clone(), interval)
    }

    /// Wait until the lease database has been filled from the containers
    /// (immediate unless a first-start or after-crash crawl is running).
    pub async fn wait_for_crawl(&self) {
        let mut rx = dispatch!(self, e => e.crawled.subscribe());
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Flush the lease database and mark a clean shutdown (disk servers).
    /// Waits for a running crawl first, so that a clean mark always means
    /// a complete database.
    pub async fn close(&self) {
        self.wait_for_crawl().await;
        if let Some(db) = self.lease_db().cloned() {
            let _ = tokio::task::spawn_blocking(move || db.close_clean()).await;
        }
    }
}
