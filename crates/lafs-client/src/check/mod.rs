//! Check, verify and repair (Tahoe's `immutable/checker.py`,
//! `immutable/repairer.py`, `mutable/checker.py`, `mutable/repairer.py`),
//! and deep-check over a directory tree.
//!
//! ## What it owns
//!
//! * [`check`]: one object (file or directory cap) → [`CheckResults`], the
//!   counts Tahoe's check-results JSON carries (spec §10), optionally
//!   verifying every byte of every share and adding leases;
//! * [`check_and_repair`]: the same, then a repair when the object is not
//!   healthy, then a second check → [`CheckAndRepairResults`];
//! * [`deep::deep_check`]: every object reachable from a directory.
//!
//! ## Tahoe's rules, kept here
//!
//! * Healthy iff all N distinct shares are present (immutable), or exactly
//!   one version is recoverable, none is unrecoverable and the best one has
//!   N shares (mutable). Happiness is reported, never used for health.
//! * Without `verify`, an immutable check only lists shares; a mutable one
//!   reads each share's header, key and signature (a servermap update).
//!   With `verify`, every share is read whole and checked against the
//!   cap: block hashes, block tree, share hash chain, crypttext tree
//!   (immutable), or signature, both trees and the private key (mutable).
//!   Corrupt shares are reported to their server (`advise_corrupt`).
//! * Repair of an immutable file re-encodes the plaintext under the same
//!   key and segment size, so the UEB and cap are unchanged, and uploads
//!   only the share numbers that no good share holds (servers holding
//!   nothing first). Repair of a mutable file republishes the best
//!   recoverable version as seqnum + 1, as Tahoe's repairer does (it calls
//!   `node.upload(data, servermap)`), rewriting old and corrupt shares in
//!   place; it refuses when a newer version exists that cannot be
//!   recovered, or two recoverable versions share the highest seqnum.
//!
//! ## What it must never do
//!
//! Call a file healthy on the strength of a share it did not see; repair
//! to a different cap; overwrite a share another writer changed (the
//! mutable publish tests every share it writes).
//!
//! ## Data flow
//!
//! ```text
//! cap ─► LIT: healthy, nothing stored
//!     ─► CHK: list_shares on every server ─(verify)► read each share whole
//!             ─► lafs_format::chk::verify_share ─► CheckResults
//!             repair: download (verified) ─► temp file ─► upload with the
//!             cap's key, skipping shares present and good ─► check again
//!     ─► SSK: servermap update ─(verify)► read each share whole
//!             ─► lafs_format::mutable::retrieve::validate_share ─► CheckResults
//!             repair: retrieve best version ─► publish seqnum+1 over the map
//! ```

pub mod deep;
mod immutable;
mod mutable;

use crate::{DownloadError, Grid, GridServer, StorageClient, UploadError};
use lafs_format::base32;
use lafs_format::cap::{Cap, FileCap};
use lafs_format::keys::StorageIndex;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use deep::{deep_check, deep_check_with, DeepCheckResults, DeepEntry};

/// What to do besides counting shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Read and verify every byte of every share.
    pub verify: bool,
    /// Repair when not healthy (check-and-repair).
    pub repair: bool,
    /// Add (or renew) this client's lease on every server holding shares.
    pub add_lease: bool,
}

/// A share that failed verification: `(server id, share number)`.
pub type ShareLocator = (String, u16);

/// The results of checking one object, as Tahoe's `CheckResults`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResults {
    /// `None` for literal files and directories (nothing is stored).
    pub storage_index: Option<StorageIndex>,
    /// Tahoe's one-line summary ("Healthy", "Not Healthy: …", "Unhealthy: …").
    pub summary: String,
    /// Whether every share is present and good (see the module notes).
    pub healthy: bool,
    /// Whether the (best version of the) object can be read.
    pub recoverable: bool,
    /// Servers that each hold a distinct good share (maximum matching).
    pub count_happiness: usize,
    /// Distinct good share numbers (of the best version, for mutable files).
    pub count_shares_good: usize,
    /// k.
    pub count_shares_needed: u16,
    /// N.
    pub count_shares_expected: u16,
    /// Servers holding at least one good share.
    pub count_good_share_hosts: usize,
    /// Shares that failed verification or a signature check.
    pub list_corrupt_shares: Vec<ShareLocator>,
    /// Servers that answered.
    pub servers_responding: Vec<String>,
    /// Share id (`"3"`, or `"seq2-abcd-sh3"` for mutable files) → servers.
    pub sharemap: BTreeMap<String, BTreeSet<String>>,
    /// Mutable: shares of versions other than the best one.
    pub count_wrong_shares: usize,
    /// Versions with at least k shares.
    pub count_recoverable_versions: usize,
    /// Versions with fewer than k shares.
    pub count_unrecoverable_versions: usize,
}

impl CheckResults {
    /// Results for a literal object: always healthy, nothing stored.
    pub fn literal() -> Self {
        CheckResults {
            storage_index: None,
            summary: "Healthy (LIT)".into(),
            healthy: true,
            recoverable: true,
            count_happiness: 0,
            count_shares_good: 0,
            count_shares_needed: 0,
            count_shares_expected: 0,
            count_good_share_hosts: 0,
            list_corrupt_shares: Vec::new(),
            servers_responding: Vec::new(),
            sharemap: BTreeMap::new(),
            count_wrong_shares: 0,
            count_recoverable_versions: 1,
            count_unrecoverable_versions: 0,
        }
    }

    /// Whether this describes a literal object.
    pub fn is_literal(&self) -> bool {
        self.storage_index.is_none()
    }

    /// The storage index in base32, `""` for literal objects.
    pub fn storage_index_string(&self) -> String {
        self.storage_index
            .map(|si| base32::encode(si.as_bytes()))
            .unwrap_or_default()
    }

    /// `list-corrupt-shares` entries: `[server, b32(si), shnum]`.
    fn corrupt_json(&self) -> Vec<Value> {
        let si = self.storage_index_string();
        self.list_corrupt_shares
            .iter()
            .map(|(s, n)| json!([s, si, n]))
            .collect()
    }

    /// Tahoe's `json_check_results` (web/check_results.py).
    pub fn to_tahoe_json(&self) -> Value {
        if self.is_literal() {
            return json!({"storage-index": "", "results": {"healthy": true}});
        }
        let sharemap: Map<String, Value> = self
            .sharemap
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({
            "storage-index": self.storage_index_string(),
            "summary": self.summary,
            "results": {
                "count-happiness": self.count_happiness,
                "count-shares-good": self.count_shares_good,
                "count-shares-needed": self.count_shares_needed,
                "count-shares-expected": self.count_shares_expected,
                "count-good-share-hosts": self.count_good_share_hosts,
                "count-corrupt-shares": self.list_corrupt_shares.len(),
                "list-corrupt-shares": self.corrupt_json(),
                "servers-responding": self.servers_responding,
                "sharemap": sharemap,
                "count-wrong-shares": self.count_wrong_shares,
                "count-recoverable-versions": self.count_recoverable_versions,
                "count-unrecoverable-versions": self.count_unrecoverable_versions,
                "healthy": self.healthy,
                "recoverable": self.recoverable,
            }
        })
    }
}

/// Why a repair was not done or did not finish (the check itself never
/// fails: unreachable servers are simply not counted).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepairError {
    /// Fewer than k good shares: nothing to rebuild from.
    #[error("the file is unrecoverable")]
    Unrecoverable,
    /// Immutable repair needs the read cap (lafs re-encodes plaintext).
    #[error("repairing an immutable file needs its read cap, not a verify cap")]
    NeedsReadCap,
    /// Mutable repair needs the write cap (to sign and to write).
    #[error("repairing a mutable file needs its write cap")]
    NeedsWriteCap,
    /// Tahoe's `MustForceRepairError`: a newer version is unrecoverable, or
    /// several recoverable versions share the highest seqnum.
    #[error("repair refused: {0}")]
    MustForce(&'static str),
    /// Downloading the data to re-encode failed.
    #[error("downloading for repair: {0}")]
    Download(#[from] DownloadError),
    /// Uploading the missing shares failed.
    #[error("uploading repaired shares: {0}")]
    Upload(#[from] UploadError),
    /// The re-encoded file has a different cap (a bug, or a file written
    /// by an encoder that does not reproduce Tahoe's bytes).
    #[error("re-encoding produced a different cap; repair abandoned")]
    CapChanged,
    /// Reading or republishing the mutable file failed.
    #[error(transparent)]
    Mutable(#[from] crate::mutable::MutableError),
    /// Spooling to a temporary file failed.
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

/// The results of a check-and-repair, as Tahoe's `CheckAndRepairResults`.
#[derive(Debug)]
pub struct CheckAndRepairResults {
    /// Before repair.
    pub pre: CheckResults,
    /// After repair (the same as `pre` when no repair was attempted).
    pub post: CheckResults,
    /// Whether a repair ran.
    pub repair_attempted: bool,
    /// Whether it left the object healthy.
    pub repair_successful: bool,
    /// Why the repair failed, if it did.
    pub repair_error: Option<RepairError>,
}

impl CheckAndRepairResults {
    /// Tahoe's `json_check_and_repair_results`.
    pub fn to_tahoe_json(&self) -> Value {
        if self.pre.is_literal() {
            return json!({"storage-index": "", "repair-attempted": false});
        }
        json!({
            "storage-index": self.pre.storage_index_string(),
            "repair-attempted": self.repair_attempted,
            "repair-successful": self.repair_successful,
            "pre-repair-results": self.pre.to_tahoe_json(),
            "post-repair-results": self.post.to_tahoe_json(),
        })
    }
}

/// Either kind of result, as the web API and CLI show them.
#[derive(Debug)]
pub enum CheckOutcome {
    /// `repair` was not asked for.
    Checked(CheckResults),
    /// `repair` was asked for.
    Repaired(Box<CheckAndRepairResults>),
}

impl CheckOutcome {
    /// The results before any repair.
    pub fn pre(&self) -> &CheckResults {
        match self {
            CheckOutcome::Checked(c) => c,
            CheckOutcome::Repaired(r) => &r.pre,
        }
    }
    /// The results after any repair.
    pub fn post(&self) -> &CheckResults {
        match self {
            CheckOutcome::Checked(c) => c,
            CheckOutcome::Repaired(r) => &r.post,
        }
    }
    /// The JSON Tahoe's `t=check&output=JSON` returns.
    pub fn to_tahoe_json(&self) -> Value {
        match self {
            CheckOutcome::Checked(c) => c.to_tahoe_json(),
            CheckOutcome::Repaired(r) => r.to_tahoe_json(),
        }
    }
}

/// Check one object (a directory is checked through the mutable or
/// immutable file holding its entries). `opts.repair` is ignored here; see
/// [`check_and_repair`] or [`run`].
pub async fn check<C: StorageClient>(
    grid: &Grid<C>,
    cap: &Cap,
    opts: CheckOptions,
) -> CheckResults {
    match cap.file() {
        FileCap::Lit(_) => CheckResults::literal(),
        FileCap::ChkRead(c) => immutable::check(grid, &c.verifier(), opts).await.results,
        FileCap::ChkVerify(v) => immutable::check(grid, v, opts).await.results,
        f @ (FileCap::SskWrite(_) | FileCap::SskRead(_) | FileCap::SskVerify(_)) => {
            mutable::check(grid, f, opts).await.results
        }
    }
}

/// Check, repair if not healthy, check again.
pub async fn check_and_repair<C: StorageClient>(
    grid: &Grid<C>,
    cap: &Cap,
    opts: CheckOptions,
) -> CheckAndRepairResults {
    match cap.file() {
        FileCap::Lit(_) => CheckAndRepairResults {
            pre: CheckResults::literal(),
            post: CheckResults::literal(),
            repair_attempted: false,
            repair_successful: false,
            repair_error: None,
        },
        FileCap::ChkRead(_) | FileCap::ChkVerify(_) => {
            immutable::check_and_repair(grid, cap.file(), opts).await
        }
        f => mutable::check_and_repair(grid, f, opts).await,
    }
}

/// [`check`] or [`check_and_repair`], as `opts.repair` says.
pub async fn run<C: StorageClient>(grid: &Grid<C>, cap: &Cap, opts: CheckOptions) -> CheckOutcome {
    if opts.repair {
        CheckOutcome::Repaired(Box::new(check_and_repair(grid, cap, opts).await))
    } else {
        CheckOutcome::Checked(check(grid, cap, opts).await)
    }
}

/// Assemble a pre/post pair from a repair attempt.
/// The results of a repair attempt: after a successful repair the file is
/// checked again with `post_check` (a failed one leaves the pre-repair
/// results standing, and `post_check` is never run).
async fn repaired(
    pre: CheckResults,
    outcome: Result<(), RepairError>,
    post_check: impl std::future::Future<Output = CheckResults>,
) -> CheckAndRepairResults {
    let (post, ok, err) = match outcome {
        Ok(()) => {
            let post = post_check.await;
            let ok = post.healthy;
            (post, ok, None)
        }
        Err(e) => (pre.clone(), false, Some(e)),
    };
    CheckAndRepairResults {
        pre,
        post,
        repair_attempted: true,
        repair_successful: ok,
        repair_error: err,
    }
}

/// Servers of happiness over a share map (`share id → servers`), as
/// Tahoe's `servers_of_happiness(sharemap)`.
fn happiness(sharemap: &BTreeMap<String, BTreeSet<String>>) -> usize {
    // Index share ids, then hand the matching per-server sets.
    let mut by_server: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
    for (i, servers) in sharemap.values().enumerate() {
        let i = u16::try_from(i).unwrap_or(u16::MAX);
        for s in servers {
            by_server.entry(s.as_str()).or_default().insert(i);
        }
    }
    let holds: Vec<BTreeSet<u16>> = by_server.into_values().collect();
    crate::placement::happiness(&holds)
}

/// Tahoe's `get_longname()` of a server: its id, without the
/// ` (nickname)` the broker appends for messages.
pub(crate) fn long_name(id: &str) -> &str {
    id.split_once(" (").map_or(id, |(a, _)| a)
}

/// Tahoe's `get_name()`: the first 8 characters of the key.
pub(crate) fn short_name(id: &str) -> String {
    let l = long_name(id);
    l.strip_prefix("v0-").unwrap_or(l).chars().take(8).collect()
}

/// Add this client's lease on `si` at each of `servers` (best effort, as
/// Tahoe: a failed lease never makes a share bad).
async fn add_leases<'a, C: StorageClient>(
    grid: &Grid<C>,
    si: StorageIndex,
    servers: impl Iterator<Item = &'a Arc<GridServer<C>>>,
) {
    let secret = grid.lease_secret();
    futures::future::join_all(servers.map(|s| async move {
        let (renew, cancel) = s.lease_secrets(secret, &si);
        if let Err(e) = s.client.add_lease(si, &renew, &cancel).await {
            tracing::warn!(server = %s.id, error = %e, "add-lease failed");
        }
    }))
    .await;
}
