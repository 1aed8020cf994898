//! Mutable files over a grid: servermap update, publish, retrieve (spec
//! §5.6, §5.7), and a background RSA key pool.
//!
//! ## What it owns
//!
//! * [`servermap`]: which server holds which share of which version
//!   `(seqnum, root hash)`, from one read per share, signatures checked;
//! * [`mod@publish`]: create (test "share must not exist"), overwrite
//!   (test "share still holds the checkstring we saw") and republish
//!   (test "share still holds the version we wrote", no servermap), one
//!   test-and-set write per server, reporting
//!   [`MutableError::UncoordinatedWrite`] when any test fails — never
//!   silently losing another writer's update;
//! * [`mod@retrieve`]: the newest recoverable version, verified by
//!   `lafs_format::mutable::retrieve`;
//! * [`mod@update`]: MDMF range reads (only the segments a range needs,
//!   re-mapping when the map went stale) and partial writes (only the
//!   touched segments re-encoded and rewritten);
//! * corruption advisories: a share that fails verification in a
//!   servermap update, a retrieve or a range read is reported to its
//!   server (`advise_corrupt_mutable`), as Tahoe does;
//! * [`keypool`]: RSA-2048 keys generated ahead on blocking threads.
//!
//! ## What it must never do
//!
//! Write a share without a test vector; accept a share whose key does not
//! hash to the cap's fingerprint or whose signature fails; report success
//! when any server refused a test.
//!
//! ## Data flow
//!
//! ```text
//! update:   permuted servers ─ list ─ read 4 KiB per share ─ header+key+sig
//!           ─ verify ─ ServerMap{version → (server, shnum)}
//! publish:  ServerMap ─ seqnum+1 ─ encode (blocking) ─ place N shares
//!           ─ test-and-write per server (checkstring seen / must not exist)
//! retrieve: ServerMap ─ newest version ─ read k whole shares (more on failure)
//!           ─ lafs_format::mutable::retrieve
//! ```

pub mod keypool;
pub mod publish;
pub mod retrieve;
pub mod servermap;
pub mod update;

use crate::ServerFailure;
use lafs_format::mutable::publish::PublishError;
use lafs_format::mutable::retrieve::RetrieveError;
use lafs_format::mutable::rsa::RsaError;

pub use keypool::KeyPool;
pub use publish::{create, overwrite, private_key, republish, PublishOptions, Published};
pub use retrieve::{retrieve, retrieve_from_map};
pub use servermap::{ServerMap, ShareLocation, VersionId};
pub use update::{read_range, update};

impl MutableError {
    /// Whether re-reading the grid may succeed: shares changed under us,
    /// or the servermap saw shares but no version with k of them (which
    /// a snapshot taken while writers publish can do).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            MutableError::ShareChanged { .. }
                | MutableError::Unrecoverable(_)
                | MutableError::UncoordinatedWrite { .. }
        )
    }
}

/// Tell server `server` (an index into [`crate::Grid::servers`]) that its
/// share `shnum` of mutable slot `si` failed verification, as Tahoe's
/// servermap and retrieve do (`notify_server_corruption`). Fire and
/// forget, as the immutable downloader's advisories: the read must not
/// wait for it, and a server that cannot take it changes nothing.
pub(crate) fn advise_corrupt<C: crate::StorageClient>(
    grid: &crate::Grid<C>,
    server: usize,
    si: lafs_format::keys::StorageIndex,
    shnum: u16,
    reason: String,
) {
    let Some(s) = grid.servers().get(server).cloned() else {
        return;
    };
    tracing::warn!(server = %s.id, shnum, %reason, "corrupt mutable share");
    tokio::spawn(async move {
        let _ = s.client.advise_corrupt_mutable(si, shnum, &reason).await;
    });
}

/// Random back-off before retry `attempt`: up to 2^attempt ms, capped at
/// 64 ms, so racing writers spread out instead of colliding again.
pub(crate) async fn backoff(attempt: u32) {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let cap = 1u64 << attempt.min(6);
    let ms = u64::from(u16::from_le_bytes(b)) % cap;
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// Why a mutable operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MutableError {
    /// No server holds a share of this file.
    #[error("no shares found for this mutable file")]
    NotFound,
    /// No server answered the servermap update.
    #[error("no storage server answered ({failed} failed)")]
    NoServers {
        /// Servers that failed.
        failed: usize,
    },
    /// Shares exist but no version has k good ones.
    #[error("no recoverable version: {0}")]
    Unrecoverable(#[from] RetrieveError),
    /// Another writer changed shares between our servermap and our write
    /// (a test vector failed). Nothing of ours is lost on servers whose
    /// test passed, and nothing of theirs was overwritten where it failed;
    /// re-read and retry.
    #[error("uncoordinated write detected (seqnum {seqnum}): {conflicts} share test(s) failed")]
    UncoordinatedWrite {
        /// The seqnum we tried to publish.
        seqnum: u64,
        /// How many share tests failed.
        conflicts: usize,
    },
    /// Fewer than N shares (or fewer than k) could be written.
    #[error("only {placed} of {wanted} shares written ({} server failures)", .failures.len())]
    NotEnoughPlaced {
        /// Shares written.
        placed: usize,
        /// Shares wanted.
        wanted: usize,
        /// What failed.
        failures: Vec<ServerFailure>,
    },
    /// Shares were rewritten between the servermap update and the reads
    /// (a concurrent writer): update the servermap and try again.
    #[error("{changed} share(s) changed since the servermap update")]
    ShareChanged {
        /// Shares found holding another version.
        changed: usize,
    },
    /// A partial write would start past the end of the file.
    #[error("write offset {offset} is past the end of the {size}-byte file")]
    BadOffset {
        /// The offset asked for.
        offset: u64,
        /// The current size.
        size: u64,
    },
    /// The cap is read-only.
    #[error("a write cap is needed to publish")]
    ReadOnly,
    /// Encoding failed.
    #[error(transparent)]
    Encode(#[from] PublishError),
    /// Key generation or key decoding failed.
    #[error(transparent)]
    Key(#[from] RsaError),
    /// The private key in the shares does not match the cap's fingerprint.
    #[error("stored private key does not match the cap")]
    KeyMismatch,
    /// A blocking encode or key-generation task panicked or was
    /// cancelled.
    #[error("encoder task failed")]
    TaskFailed,
}
