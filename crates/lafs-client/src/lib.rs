//! The lafs storage client: immutable upload and download over any
//! [`StorageClient`] — an in-process engine ([`LocalClient`]) or a Tahoe
//! 1.20 HTTPS storage server.
//!
//! ## What it owns
//!
//! * [`grid`]: the servers a client knows, their permutation seeds and
//!   20-byte lease seeds, and the node's lease secret (spec §2.5, §2.6, §9.3);
//! * [`placement`]: servers-of-happiness share placement;
//! * [`upload`]: convergent CHK encoding streamed to buckets, segment by
//!   segment, with bounded memory (spec §4.2, §4.6);
//! * [`download`]: verifying, streaming, random-access CHK download that
//!   survives server failures and corrupt shares (spec §4.5).
//!
//! ## What it must never do
//!
//! Trust a byte from a server before it chains to the cap; hold a whole
//! file in memory; leave allocated buckets behind after a failed upload;
//! return wrong bytes instead of an error.
//!
//! ## Data flow
//!
//! ```text
//! upload:   Read+Seek ─key pass─► SI ─► permuted servers ─► plan/allocate
//!           ─► ChkEncoder (blocking thread) ─► blocks ─► write_share × N
//! download: cap ─► SI ─► list_shares on all servers ─► k fastest shares
//!           ─► per segment: block + missing hash-tree nodes ─► verify ─► zfec
//!           ─► crypttext tree ─► AES-CTR ─► Stream<Bytes>
//! ```
//!
//! On top sits [`client::Client`], the facade the CLI, web API, checker
//! and benchmarks use: caps and paths in, grid operations out, with the
//! node's settings ([`nodedir`]) and Tahoe's aliases ([`aliases`]).
//!
//! The format work (trees, UEB, layout, caps) is `lafs_format`'s; this crate
//! only schedules I/O around it.

pub mod aliases;
pub mod broker;
pub mod client;
pub mod dirnode;
pub mod download;
mod error;
pub mod grid;
pub mod http;
pub mod mutable;
pub mod nodedir;
pub mod placement;
pub mod storage;
pub mod upload;

pub use broker::{grid_from_servers_yaml, BrokerError};
pub use client::{
    Client, DeepStats, Entry, Error as FacadeError, FileFormat, LinkCaps, Listing, ManifestEntry,
    Node, Replace,
};
pub use download::{download, download_to_vec, DownloadOptions};
pub use error::{ClientError, DownloadError, ServerFailure, ServerProblem, UploadError};
pub use grid::secret::LeaseSecret;
pub use grid::{Grid, GridServer};
pub use http::HttpClient;
pub use nodedir::{ClientConfig, ConfigError};
pub use storage::{LocalClient, StorageClient};
pub use upload::{
    upload, upload_bytes, upload_unseekable, KeyMode, Progress, ProgressFn, UploadOptions,
    UploadResult,
};
