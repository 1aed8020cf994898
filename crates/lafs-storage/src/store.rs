//! `ShareStore`: where shares live. The engine ([`crate::engine::Engine`])
//! owns every protocol rule; a store only keeps bytes and must make each
//! call atomic with respect to crashes: after a crash, a share is either
//! as it was before the call or as the call left it, never in between.
//!
//! The store speaks in containers (spec §7.2/§7.3), because that is what a
//! Tahoe node's `storage/` directory holds and what must stay readable by
//! Python: immutable data is written into an *incoming* area and published
//! in one step by [`ShareStore::finish_incoming`]; mutable containers are
//! replaced whole by [`ShareStore::put_mutable`].

use std::collections::BTreeMap;
use std::future::Future;

use lafs_format::container::immutable::ImmutableVersion;
use lafs_format::container::lease::ImmutableLease;
use lafs_format::container::mutable::MutableContainer;
use lafs_format::keys::StorageIndex;

use crate::error::StorageError;
use crate::types::{ShareKind, WriteData};

/// The lease table of one immutable share, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImmutableLeases {
    /// Container version (decides how lease secrets are stored).
    pub version: ImmutableVersion,
    /// Share data length.
    pub data_len: u64,
    /// Lease records in file order.
    pub leases: Vec<ImmutableLease>,
}

/// A change to an immutable share's lease table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseWrite {
    /// Only lease `index`'s expiration changed: a 4-byte in-place update
    /// (a single sector write cannot tear).
    Renew {
        /// Which record.
        index: usize,
        /// New expiration (unix seconds).
        expiration: u32,
    },
    /// The table grew: the store must rewrite the share crash-safely.
    Replace(Vec<ImmutableLease>),
}

/// Backend operations. Every method is independent; the engine serializes
/// calls per storage index, so a store need not lock across calls for the
/// same share, but must tolerate calls for different storage indexes
/// running concurrently.
pub trait ShareStore: Send + Sync + 'static {
    /// False for stores that discard data ([`crate::NullStore`]): the engine
    /// then skips the overlapping-write comparison.
    const KEEPS_DATA: bool = true;

    /// Complete shares of `si` (both kinds), never in-progress uploads.
    fn list(
        &self,
        si: StorageIndex,
    ) -> impl Future<Output = Result<BTreeMap<u16, ShareKind>, StorageError>> + Send;

    /// Read immutable share data, truncated at the data end.
    /// `NoSuchShare` if absent (or not immutable).
    fn read_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, StorageError>> + Send;

    /// The lease table and data length of an immutable share.
    fn immutable_leases(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> impl Future<Output = Result<ImmutableLeases, StorageError>> + Send;

    /// Change an immutable share's lease table.
    fn write_immutable_leases(
        &self,
        si: StorageIndex,
        shnum: u16,
        change: LeaseWrite,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Start an upload: an empty incoming share of `allocated` data bytes.
    fn create_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        allocated: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Write into an incoming share (the engine checked the bounds).
    fn write_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        data: WriteData,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Read back bytes of an incoming share (to check overlapping writes).
    fn read_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, StorageError>> + Send;

    /// Publish a fully written incoming share with its first lease, as a
    /// version-2 container, atomically.
    fn finish_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        allocated: u64,
        lease: ImmutableLease,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Delete a complete immutable share (lease expiry); absent is fine.
    fn delete_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Drop an incoming share.
    fn abort_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// A whole mutable container, or `None` if there is no such share.
    fn get_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> impl Future<Output = Result<Option<MutableContainer>, StorageError>> + Send;

    /// Read mutable share data by offset without loading the container.
    fn read_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, StorageError>> + Send;

    /// Mutable data length.
    fn mutable_len(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Atomically replace (or with `None`, delete) a mutable container.
    fn put_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        container: Option<MutableContainer>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Free bytes where shares are written (`None`: unknown/unlimited).
    fn available_space(&self) -> impl Future<Output = Result<Option<u64>, StorageError>> + Send;

    /// Keep a corruption advisory.
    fn record_corruption(
        &self,
        kind: ShareKind,
        si: StorageIndex,
        shnum: u16,
        reason: String,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}
