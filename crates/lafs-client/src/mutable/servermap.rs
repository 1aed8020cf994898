//! Servermap update (spec §5.7, Tahoe's `servermap.py`): which server
//! holds which share of which version.
//!
//! Every server is asked for its mutable shares of the storage index (in
//! permuted order, all at once); each share is read once, [`PREFIX_READ`]
//! bytes from offset 0, which covers the header, offsets, verification key
//! and signature of both layouts (SDMF puts key and signature right after
//! its 107-byte header; MDMF keeps them before its fixed share-data offset
//! 2167). A share whose key does not hash to the cap's fingerprint, or
//! whose signature over the signed prefix fails, is recorded as a problem
//! (and reported to its server through the corruption advisory, as
//! Tahoe's servermap does) and never counted.

use crate::{Grid, ServerFailure, ServerProblem, StorageClient};
use futures::future::join_all;
use lafs_format::hash::Hash;
use lafs_format::keys::StorageIndex;
use lafs_format::mutable::retrieve::check_signature;
use lafs_format::mutable::{KeyChain, ShareHeader};
use std::collections::BTreeMap;
use std::ops::Range;

/// Bytes read from each share by a servermap update.
pub const PREFIX_READ: u64 = 4096;

/// Furthest a verification key or signature may end for us to fetch it.
const MAX_KEY_SIG_END: u64 = 65536;

/// A version: `(seqnum, root hash, signed prefix)`, ordered newest last.
/// The whole signed prefix takes part so that shares only group when they
/// agree on k, N and sizes too (as Python's `verinfo`).
pub type VersionId = (u64, Hash, Vec<u8>);

/// One share of one version on one server.
#[derive(Clone, Debug)]
pub struct ShareLocation {
    /// Index into [`Grid::servers`].
    pub server: usize,
    /// Share number.
    pub shnum: u16,
}

/// What a servermap update found.
#[derive(Debug, Default)]
pub struct ServerMap {
    /// Per version: its header and where its good shares are.
    pub versions: BTreeMap<VersionId, (ShareHeader, Vec<ShareLocation>)>,
    /// Every share seen on every server with its checkstring (good shares
    /// only): what an overwrite must test for.
    pub seen: BTreeMap<(usize, u16), Vec<u8>>,
    /// Servers in permuted order (indices into [`Grid::servers`]) that
    /// answered the share listing.
    pub responsive: Vec<usize>,
    /// Shares that exist but failed a check, or servers that failed.
    pub problems: Vec<ServerFailure>,
    /// Good shares the update read whole (a share no longer than
    /// [`PREFIX_READ`]: a small directory or file), so that a retrieve
    /// from this map needs no second read of them, as Tahoe's servermap
    /// caches what it read.
    pub whole: BTreeMap<(usize, u16), bytes::Bytes>,
}

impl ServerMap {
    /// The highest seqnum of any good share (0 when there is none).
    pub fn highest_seqnum(&self) -> u64 {
        self.versions.keys().next_back().map_or(0, |v| v.0)
    }

    /// The newest version with at least k distinct shares.
    pub fn best_recoverable(&self) -> Option<(&VersionId, &ShareHeader, &[ShareLocation])> {
        self.versions.iter().rev().find_map(|(v, (h, locs))| {
            let mut shnums: Vec<u16> = locs.iter().map(|l| l.shnum).collect();
            shnums.sort_unstable();
            shnums.dedup();
            (shnums.len() >= usize::from(h.k)).then_some((v, h, locs.as_slice()))
        })
    }

    /// Whether some version is newer than the best recoverable one (a
    /// partial publish, or a concurrent writer in progress).
    pub fn has_newer_unrecoverable(&self) -> bool {
        match (self.best_recoverable(), self.versions.keys().next_back()) {
            (Some((best, _, _)), Some(newest)) => newest > best,
            (None, Some(_)) => true,
            _ => false,
        }
    }
}

fn slice(buf: &[u8], r: &Range<u64>) -> Option<Vec<u8>> {
    let s = usize::try_from(r.start).ok()?;
    let e = usize::try_from(r.end).ok()?;
    buf.get(s..e).map(<[u8]>::to_vec)
}

/// Query every server of `grid` for shares of the file `keys` names.
pub async fn update<C: StorageClient>(grid: &Grid<C>, keys: &KeyChain) -> ServerMap {
    let si: StorageIndex = keys.storage_index;
    let permuted = grid.permuted(&si);
    let all = grid.servers();
    let index_of = |s: &std::sync::Arc<crate::GridServer<C>>| {
        all.iter().position(|x| std::sync::Arc::ptr_eq(x, s))
    };
    let queries = permuted.iter().filter_map(|s| {
        let idx = index_of(s)?;
        let s = s.clone();
        Some(async move {
            let shares = match s.client.list_mutable_shares(si).await {
                Ok(v) => v,
                Err(e) => return (idx, s.id.clone(), Err(e), Vec::new()),
            };
            let reads = join_all(shares.iter().map(|&shnum| {
                let s = s.clone();
                async move {
                    let r = read_header(&s.client, si, shnum).await;
                    (shnum, r)
                }
            }))
            .await;
            (idx, s.id.clone(), Ok(()), reads)
        })
    });
    let mut map = ServerMap::default();
    for (idx, id, listed, reads) in join_all(queries).await {
        if let Err(e) = listed {
            map.problems.push(ServerFailure {
                server: id,
                error: ServerProblem::Request(e),
            });
            continue;
        }
        map.responsive.push(idx);
        for (shnum, r) in reads {
            match r.and_then(|(h, buf)| check(keys, shnum, h, &buf).map(|h| (h, buf))) {
                Ok((h, buf)) => {
                    if let Some(eof) = usize::try_from(h.offsets.eof)
                        .ok()
                        .filter(|e| *e <= buf.len())
                    {
                        let mut buf = buf;
                        buf.truncate(eof);
                        map.whole.insert((idx, shnum), bytes::Bytes::from(buf));
                    }
                    map.seen.insert((idx, shnum), h.checkstring().to_vec());
                    let v = (h.seqnum, h.root_hash, h.signed_prefix.clone());
                    map.versions
                        .entry(v)
                        .or_insert_with(|| (h, Vec::new()))
                        .1
                        .push(ShareLocation { server: idx, shnum });
                }
                Err(error) => {
                    if let ServerProblem::Corrupt { shnum, reason } = &error {
                        super::advise_corrupt(grid, idx, si, *shnum, reason.clone());
                    }
                    map.problems.push(ServerFailure {
                        server: id.clone(),
                        error,
                    })
                }
            }
        }
    }
    map
}

async fn read_header<C: StorageClient>(
    client: &C,
    si: StorageIndex,
    shnum: u16,
) -> Result<(ShareHeader, Vec<u8>), ServerProblem> {
    let buf = client.read_mutable_share(si, shnum, 0, PREFIX_READ).await?;
    let h = ShareHeader::parse(&buf).map_err(|e| ServerProblem::Corrupt {
        shnum,
        reason: e.to_string(),
    })?;
    let mut buf = buf.to_vec();
    // A share whose key or signature lies past the prefix (not written by
    // Tahoe, but legal by offsets) costs a second read.
    let end = h.offsets.verification_key.end.max(h.offsets.signature.end);
    // Bounded: a key plus a signature is well under 64 KiB.
    if end > buf.len() as u64 && end <= MAX_KEY_SIG_END {
        let more = client
            .read_mutable_share(si, shnum, buf.len() as u64, end - buf.len() as u64)
            .await?;
        buf.extend_from_slice(&more);
    }
    Ok((h, buf))
}

fn check(
    keys: &KeyChain,
    shnum: u16,
    h: ShareHeader,
    buf: &[u8],
) -> Result<ShareHeader, ServerProblem> {
    let corrupt = |reason: String| ServerProblem::Corrupt { shnum, reason };
    let vk = slice(buf, &h.offsets.verification_key)
        .ok_or_else(|| corrupt("verification key out of range".into()))?;
    let sig =
        slice(buf, &h.offsets.signature).ok_or_else(|| corrupt("signature out of range".into()))?;
    check_signature(&keys.fingerprint, &h, &vk, &sig).map_err(|e| corrupt(e.to_string()))?;
    Ok(h)
}
