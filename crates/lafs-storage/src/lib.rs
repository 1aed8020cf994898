//! # lafs-storage: the storage-server engine
//!
//! This crate is what a Tahoe storage server *is*, minus the network: it
//! keeps shares and their leases and enforces the rules of the storage
//! protocol (spec §7). `lafs-http` puts HTTPS in front of it (spec §8) and
//! talks to it through one type, [`StorageServer`]; nothing else here is
//! needed to serve a grid.
//!
//! ## What it must never do
//!
//! * See a cap or a key. A server holds ciphertext shares named by storage
//!   index; the only secrets it handles are lease secrets, upload secrets
//!   and write enablers, all compared in constant time and never logged.
//! * Expose a half-written share, or damage a complete one, whatever
//!   happens to the process (see [`DiskStore`] for how).
//! * Diverge from Tahoe on disk: a Tahoe 1.20 node must be able to take
//!   the `storage/` directory back, so containers are Tahoe's own formats
//!   (`lafs_format::container`) in Tahoe's own layout, and their lease
//!   records stay authoritative.
//!
//! ## How data flows
//!
//! ```text
//!  lafs-http ──► StorageServer ──► Engine<S>  (protocol rules, spec §7.5)
//!                   (enum of         │  per-storage-index locks,
//!                    backends)       │  uploads in progress, leases
//!                                    ▼
//!                              S: ShareStore ── MemoryStore | NullStore | DiskStore
//!                                    │
//!                                    └─► LeaseDb (SQLite mirror of every lease,
//!                                        fed after each change; crawler; expiry)
//! ```
//!
//! * **Immutable upload**: `allocate_buckets` checks space and creates an
//!   incoming share per new share number, bound to the client's upload
//!   secret; `write_immutable` checks the secret and bounds, compares any
//!   overlap with what was written before, writes, and when every byte of
//!   `[0, allocated)` is present publishes the share atomically with its
//!   first lease.
//! * **Mutable write**: `mutable_test_and_write` loads every mutable share
//!   of the storage index, checks the write enabler against all of them,
//!   evaluates the tests and the read vector on the old data, then builds
//!   each new container in memory (pure `MutableContainer::apply`) and has
//!   the store replace it atomically.
//! * **Leases**: add-or-renew on the containers' own records (31 days),
//!   mirrored into [`LeaseDb`] so expiry ([`ExpiryWorker`]) and usage
//!   queries never walk the disk.
//!
//! Async only where there is I/O: the disk store does its file work in
//! `spawn_blocking`; the lease database has its own writer thread fed by a
//! channel, so no upload waits on SQLite or on another upload's lock.

mod clock;
mod disk;
mod engine;
mod error;
mod expire;
mod leasedb;
mod memory;
mod ranges;
mod server;
mod store;
mod types;

pub use clock::Clock;
pub use disk::DiskStore;
pub use error::{BadRequest, StorageError};
pub use expire::{ExpiryReport, ExpiryWorker, WorkerState};
pub use lafs_format::container::{ReadVector, TestVector, TestWriteVectors, WriteVector};
pub use lafs_format::keys::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, WriteEnabler,
};
pub use leasedb::{ExpiredShare, LeaseDb, Usage};
pub use memory::{MemoryStore, NullStore, DEFAULT_MEMORY_CAPACITY};
pub use server::{ExpirationMode, ExpirationOptions, StorageServer, StorageServerOptions};
pub use store::{ImmutableLeases, LeaseWrite, ShareStore};
pub use types::{
    Allocation, LeaseInfo, ShareKind, TestWriteResult, UploadSecret, VersionInfo, WriteData,
    WriteProgress,
};
