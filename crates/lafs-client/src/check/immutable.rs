//! Immutable (CHK) check, verify and repair (Tahoe's
//! `immutable/checker.py`, `immutable/repairer.py`; spec §4.4, §4.5).
//!
//! Verify reads a share in three steps so that a lying server cannot make
//! us read more than the cap allows:
//!
//! ```text
//! header (0x44 bytes) ─► UEB length field ─► UEB (≤ 1 MiB)
//!   UEB hash == cap's ─► geometry from cap + UEB ─► offsets match it
//!   ─► everything after the blocks (trees, chain, UEB)
//!   ─► lafs_format::chk::verify_share_trees (block tree, chain, crypttext tree)
//!   ─► blocks in ~8 MiB reads, each hash against its verified leaf
//! ```
//!
//! Memory per share being verified is one read plus the trees, whatever
//! the file's size; at most [`VERIFY_PARALLEL`] shares are verified at once.

use super::{repaired, CheckAndRepairResults, CheckOptions, CheckResults, RepairError};
use crate::download::check_offsets;
use crate::grid::GridServer;
use crate::{ClientError, Grid, StorageClient};
use futures::future::join_all;
use futures::StreamExt;
use lafs_format::cap::{ChkReadCap, ChkVerifyCap, FileCap};
use lafs_format::chk::{
    verify_share_trees, ChkShare, EncodingParams, Geometry, LayoutVersion, ShareError, ShareHeader,
};
use lafs_format::hash::{block_hash, ueb_hash};
use lafs_format::keys::ct_eq;
use lafs_format::ueb::Ueb;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::Duration;

/// Shares verified concurrently.
const VERIFY_PARALLEL: usize = 2;
/// Bytes per read when fetching a whole share.
const READ_CHUNK: u64 = 8 << 20;
/// Longest UEB we accept (Tahoe's are ~500 bytes; 1.2-era ones reserved 1000).
const MAX_UEB: u64 = 1 << 20;
/// Per-request timeout.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A check plus what repair needs to know.
pub(super) struct ImmutableCheck {
    pub results: CheckResults,
    /// Shares that failed verification, by server id.
    pub corrupt: BTreeSet<(String, u16)>,
    /// One share that passed (or, without verify, was listed), as (grid
    /// index of its server, share number): where repair reads the UEB.
    pub sample: Option<(usize, u16)>,
}

/// Why one share could not be verified.
enum Fail {
    /// The server did not answer: the share is neither good nor corrupt.
    Request(ClientError),
    /// The share is bad.
    Corrupt(String),
}

impl From<ClientError> for Fail {
    fn from(e: ClientError) -> Self {
        Fail::Request(e)
    }
}

async fn timed<T>(
    f: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

/// Read exactly `len` bytes at `off` in bounded pieces; short = corrupt.
async fn read_exact<C: StorageClient>(
    s: &GridServer<C>,
    vc: &ChkVerifyCap,
    shnum: u16,
    off: u64,
    len: u64,
) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    let mut at = off;
    let end = off.saturating_add(len);
    while at < end {
        let n = (end - at).min(READ_CHUNK);
        let b = timed(s.client.read_share(vc.storage_index, shnum, at, n)).await?;
        if b.len() as u64 != n {
            return Err(Fail::Corrupt("share truncated".into()));
        }
        out.extend_from_slice(&b);
        at += n;
    }
    Ok(out)
}

/// Header, UEB (checked against the cap) and the geometry they imply.
async fn read_ueb<C: StorageClient>(
    s: &GridServer<C>,
    vc: &ChkVerifyCap,
    shnum: u16,
) -> Result<(ShareHeader, Ueb, Geometry, u64), Fail> {
    let hb = read_exact(s, vc, shnum, 0, ShareHeader::MAX_LEN as u64).await?;
    let header = ShareHeader::parse(&hb).map_err(|e| Fail::Corrupt(format!("header: {e}")))?;
    let lf = header.version.ueb_length_field_len() as u64;
    let at = header.offsets.uri_extension;
    let field = read_exact(s, vc, shnum, at, lf).await?;
    let ueb_len = match header.version {
        LayoutVersion::V1 => field
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(|b| u64::from(u32::from_be_bytes(b))),
        LayoutVersion::V2 => field
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes),
    }
    .ok_or_else(|| Fail::Corrupt("UEB length field".into()))?;
    if ueb_len > MAX_UEB {
        return Err(Fail::Corrupt("UEB length absurd".into()));
    }
    let ueb_bytes = read_exact(s, vc, shnum, at + lf, ueb_len).await?;
    if !ct_eq(&ueb_hash(&ueb_bytes), &vc.ueb_hash) {
        return Err(Fail::Corrupt("UEB hash does not match the cap".into()));
    }
    let ueb = Ueb::parse(&ueb_bytes).map_err(|e| Fail::Corrupt(format!("UEB: {e}")))?;
    let g = Geometry::from_segment_size(vc.size, vc.needed, vc.total, ueb.segment_size)
        .map_err(|e| Fail::Corrupt(format!("UEB parameters: {e}")))?;
    check_offsets(&header, &g).map_err(Fail::Corrupt)?;
    Ok((header, ueb, g, at + lf + ueb_len))
}

/// Verify all of share `shnum` against the cap without holding it whole:
/// the header and everything after the blocks first (a few kilobytes per
/// thousand segments), then the blocks in reads of about [`READ_CHUNK`],
/// each checked against its verified leaf hash.
async fn verify_one<C: StorageClient>(
    s: &GridServer<C>,
    vc: &ChkVerifyCap,
    shnum: u16,
) -> Result<(), Fail> {
    let (header, _, _, total) = read_ueb(s, vc, shnum).await?;
    let o = header.offsets;
    let tail_at = o.plaintext_hash_tree;
    let tail = read_exact(s, vc, shnum, tail_at, total.saturating_sub(tail_at)).await?;
    let corrupt = |e: &dyn std::fmt::Display| Fail::Corrupt(e.to_string());
    let parts = ChkShare::parse_parts(header, &tail).map_err(|e| corrupt(&e))?;
    let trees = verify_share_trees(vc, shnum, &parts).map_err(|e| corrupt(&e))?;
    let g = trees.geometry;
    // Whole blocks per read; every block but the last has `block_size`.
    let per_read = (READ_CHUNK / g.block_size.max(1)).max(1);
    let mut seg = 0u64;
    while seg < g.num_segments {
        let last = (seg + per_read).min(g.num_segments);
        let from = o.data + seg * g.block_size;
        let len = (last - 1 - seg) * g.block_size + g.block_len(last - 1);
        let bytes = read_exact(s, vc, shnum, from, len).await?;
        for s_ in seg..last {
            let at = ((s_ - seg) * g.block_size) as usize;
            let block = bytes
                .get(at..at + g.block_len(s_) as usize)
                .ok_or_else(|| Fail::Corrupt("share truncated".into()))?;
            if block_hash(block) != trees.block_hashes[s_ as usize] {
                return Err(corrupt(&ShareError::Block { segment: s_ }));
            }
        }
        seg = last;
    }
    Ok(())
}

/// Check the file `vc` names.
pub(super) async fn check<C: StorageClient>(
    grid: &Grid<C>,
    vc: &ChkVerifyCap,
    opts: CheckOptions,
) -> ImmutableCheck {
    let si = vc.storage_index;
    let servers = grid.permuted(&si);
    let listed = join_all(servers.iter().map(|s| async move {
        let r = timed(s.client.list_shares(si)).await;
        (s.clone(), r)
    }))
    .await;
    let mut responding = Vec::new();
    let mut found: Vec<(Arc<GridServer<C>>, u16)> = Vec::new();
    for (s, r) in listed {
        match r {
            Ok(shares) => {
                responding.push(super::long_name(&s.id).to_string());
                found.extend(shares.into_iter().map(|n| (s.clone(), n)));
            }
            Err(e) => tracing::warn!(server = %s.id, error = %e, "share listing failed"),
        }
    }
    if opts.add_lease {
        let holders: BTreeMap<String, Arc<GridServer<C>>> = found
            .iter()
            .map(|(s, _)| (s.id.clone(), s.clone()))
            .collect();
        super::add_leases(grid, si, holders.values()).await;
    }
    let mut good: Vec<(Arc<GridServer<C>>, u16)> = Vec::new();
    let mut corrupt: BTreeSet<(String, u16)> = BTreeSet::new();
    // The same, by Tahoe's server names, for the results.
    let mut named: BTreeSet<(String, u16)> = BTreeSet::new();
    if opts.verify {
        let checked: Vec<_> = futures::stream::iter(found.into_iter().map(|(s, n)| async move {
            let r = verify_one(&s, vc, n).await;
            (s, n, r)
        }))
        .buffer_unordered(VERIFY_PARALLEL)
        .collect()
        .await;
        for (s, n, r) in checked {
            match r {
                Ok(()) => good.push((s, n)),
                Err(Fail::Corrupt(reason)) => {
                    tracing::warn!(server = %s.id, shnum = n, %reason, "corrupt share");
                    // Tahoe tells the server; failure to do so changes nothing.
                    let _ = timed(s.client.advise_corrupt(si, n, &reason)).await;
                    corrupt.insert((s.id.clone(), n));
                    named.insert((super::long_name(&s.id).to_string(), n));
                }
                Err(Fail::Request(e)) => {
                    tracing::warn!(server = %s.id, shnum = n, error = %e, "share unreadable");
                }
            }
        }
    } else {
        // Without verify a listed share counts (Tahoe: "the server says so").
        good = found.into_iter().filter(|(_, n)| *n < vc.total).collect();
    }
    let all = grid.servers();
    let sample = good
        .first()
        .and_then(|(s, n)| all.iter().position(|x| Arc::ptr_eq(x, s)).map(|i| (i, *n)));
    ImmutableCheck {
        results: results(vc, &good, &named, responding),
        corrupt,
        sample,
    }
}

fn results<C>(
    vc: &ChkVerifyCap,
    good: &[(Arc<GridServer<C>>, u16)],
    corrupt: &BTreeSet<(String, u16)>,
    responding: Vec<String>,
) -> CheckResults {
    let mut sharemap: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut hosts: BTreeSet<&str> = BTreeSet::new();
    for (s, n) in good {
        sharemap
            .entry(n.to_string())
            .or_default()
            .insert(s.id.clone());
        hosts.insert(&s.id);
    }
    let distinct = sharemap.len();
    let healthy = distinct >= usize::from(vc.total);
    let recoverable = distinct >= usize::from(vc.needed);
    let summary = if healthy {
        "Healthy".to_string()
    } else {
        format!(
            "Not Healthy: {distinct} shares (enc {}-of-{})",
            vc.needed, vc.total
        )
    };
    CheckResults {
        storage_index: Some(vc.storage_index),
        summary,
        healthy,
        recoverable,
        count_happiness: super::happiness(&sharemap),
        count_shares_good: distinct,
        count_shares_needed: vc.needed,
        count_shares_expected: vc.total,
        count_good_share_hosts: hosts.len(),
        list_corrupt_shares: corrupt.iter().cloned().collect(),
        servers_responding: responding,
        sharemap,
        // No such thing for immutable files.
        count_wrong_shares: 0,
        count_recoverable_versions: usize::from(recoverable),
        count_unrecoverable_versions: usize::from(!recoverable),
    }
}

/// Check, and repair when not healthy.
pub(super) async fn check_and_repair<C: StorageClient>(
    grid: &Grid<C>,
    cap: &FileCap,
    opts: CheckOptions,
) -> CheckAndRepairResults {
    let vc = match cap {
        FileCap::ChkRead(c) => c.verifier(),
        FileCap::ChkVerify(v) => v.clone(),
        _ => {
            return CheckAndRepairResults {
                pre: CheckResults::literal(),
                post: CheckResults::literal(),
                repair_attempted: false,
                repair_successful: false,
                repair_error: None,
            }
        }
    };
    let pre = check(grid, &vc, opts).await;
    if pre.results.healthy {
        return CheckAndRepairResults {
            post: pre.results.clone(),
            pre: pre.results,
            repair_attempted: false,
            repair_successful: false,
            repair_error: None,
        };
    }
    let outcome = match cap {
        FileCap::ChkRead(rc) if pre.results.recoverable => repair(grid, rc, &pre).await,
        FileCap::ChkRead(_) => Err(RepairError::Unrecoverable),
        _ => Err(RepairError::NeedsReadCap),
    };
    let post_opts = CheckOptions {
        add_lease: false,
        ..opts
    };
    repaired(pre.results, outcome, async {
        check(grid, &vc, post_opts).await.results
    })
    .await
}

/// Download (verified) to a temporary file, re-encode under the cap's key
/// and segment size, and upload the share numbers no good share holds.
async fn repair<C: StorageClient>(
    grid: &Grid<C>,
    rc: &ChkReadCap,
    pre: &ImmutableCheck,
) -> Result<(), RepairError> {
    let vc = rc.verifier();
    // The segment size is only in the UEB: read it from a share.
    let Some((idx, shnum)) = pre.sample else {
        return Err(RepairError::Unrecoverable);
    };
    let server = grid.servers().get(idx).ok_or(RepairError::Unrecoverable)?;
    let (_, _, g, _) = read_ueb(server, &vc, shnum)
        .await
        .map_err(|_| RepairError::Unrecoverable)?;
    let mut spool = tempfile::tempfile()?;
    let file = FileCap::ChkRead(rc.clone());
    let mut stream = Box::pin(
        crate::download::download(grid, &file, None, crate::DownloadOptions::default()).await?,
    );
    while let Some(chunk) = stream.next().await {
        spool.write_all(&chunk?)?;
    }
    spool.flush()?;
    spool.seek(SeekFrom::Start(0))?;
    let params = EncodingParams {
        needed: rc.needed,
        // Repair reports happiness; it does not refuse to improve a file
        // because the grid is small.
        happy: 1,
        total: rc.total,
        max_segment_size: g.segment_size,
    };
    let up =
        crate::upload::upload_with_key(grid, spool, rc.key.clone(), params, &pre.corrupt).await?;
    if up.cap != file {
        return Err(RepairError::CapChanged);
    }
    Ok(())
}
