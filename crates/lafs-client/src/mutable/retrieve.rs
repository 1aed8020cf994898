//! Retrieve over a grid (spec §5.7, Tahoe's `retrieve.py`).
//!
//! From a servermap, try versions newest first among those with at least
//! k shares: read k whole shares (one read each, different share numbers,
//! in parallel; none for shares the servermap already read whole), verify and decode them with
//! `lafs_format::mutable::retrieve` (fingerprint, signature, block and
//! share hash trees, private key for writers); if some fail, read the
//! version's other shares too; if the version still cannot be recovered,
//! fall back to the next older one. Every share that fails verification
//! is reported to its server (`advise_corrupt_mutable`), once per
//! retrieve; shares that merely changed since the servermap (another
//! writer) are not corrupt and are only counted.

use super::servermap::{self, ServerMap, ShareLocation};
use super::MutableError;
use crate::{Grid, StorageClient};
use bytes::Bytes;
use futures::future::join_all;
use lafs_format::mutable::retrieve::{retrieve as decode, RetrieveError, ShareFailure};
use lafs_format::mutable::{KeyChain, Retrieved};
use std::collections::{BTreeMap, BTreeSet};

/// Servermap updates [`retrieve`] tries when shares change under it.
const STALE_MAP_RETRIES: u32 = 8;

/// Update a servermap, then retrieve the newest recoverable version; if a
/// writer changed the shares in between, or the map caught writers
/// mid-publish so that no version had k shares, update again (bounded).
pub async fn retrieve<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
) -> Result<(Retrieved, ServerMap), MutableError> {
    let mut tries = 0;
    loop {
        let map = servermap::update(grid, keys).await;
        match retrieve_from_map(grid, keys, &map).await {
            Ok(r) => return Ok((r, map)),
            Err(e) if e.is_transient() && tries < STALE_MAP_RETRIES => {
                tries += 1;
                super::backoff(tries).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Retrieve the newest recoverable version `map` knows of.
pub async fn retrieve_from_map<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    map: &ServerMap,
) -> Result<Retrieved, MutableError> {
    if map.versions.is_empty() {
        // "No shares" only means something if someone answered.
        if map.responsive.is_empty() && !map.problems.is_empty() {
            return Err(MutableError::NoServers {
                failed: map.problems.len(),
            });
        }
        return Err(MutableError::NotFound);
    }
    let mut last: Option<RetrieveError> = None;
    let mut changed = 0usize;
    let mut advised = BTreeSet::new();
    for (header, locs) in map.versions.values().rev() {
        let k = usize::from(header.k);
        // One location per share number, first seen (permuted order) first.
        let mut seen = BTreeSet::new();
        let unique: Vec<&ShareLocation> = locs.iter().filter(|l| seen.insert(l.shnum)).collect();
        if unique.len() < k {
            continue;
        }
        let eof = header.offsets.eof;
        let (first, rest) = unique.split_at(k);
        let prefix = header.signed_prefix.as_slice();
        let mut fetched = fetch(grid, keys, map, first, eof, prefix, &mut changed).await;
        let mut r = try_decode(keys, &fetched);
        if r.is_err() && !rest.is_empty() {
            fetched.extend(fetch(grid, keys, map, rest, eof, prefix, &mut changed).await);
            r = try_decode(keys, &fetched);
        }
        let failures = match &r {
            Ok(got) => got.failures.as_slice(),
            Err(RetrieveError::NotEnoughShares { failures, .. }) => failures.as_slice(),
            Err(_) => &[],
        };
        advise(grid, keys, &fetched, failures, &mut advised);
        match r {
            Ok(got) => return Ok(got),
            Err(e) => last = Some(e),
        }
    }
    Err(MutableError::Unrecoverable(
        last.unwrap_or(RetrieveError::NotEnoughShares {
            needed: map
                .versions
                .values()
                .next_back()
                .map_or(0, |(h, _)| usize::from(h.k)),
            have: map
                .versions
                .values()
                .next_back()
                .map_or(0, |(_, l)| l.len()),
            failures: Vec::new(),
        }),
    ))
}

/// A fetched share: its number, the server it came from, its bytes.
type FetchedShare = (u8, usize, Bytes);

fn try_decode(keys: &KeyChain, fetched: &[FetchedShare]) -> Result<Retrieved, RetrieveError> {
    let shares: Vec<(u8, &[u8])> = fetched.iter().map(|(n, _, b)| (*n, b.as_ref())).collect();
    decode(keys, &shares)
}

/// Report each failed share to the server it came from (once). Every
/// fetched share held the servermap's signed prefix, so a failure is
/// corruption, not a newer version.
fn advise<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    fetched: &[FetchedShare],
    failures: &[ShareFailure],
    advised: &mut BTreeSet<(usize, u8)>,
) {
    // Share numbers are unique among the fetched shares.
    let from: BTreeMap<u8, usize> = fetched.iter().map(|(n, s, _)| (*n, *s)).collect();
    for f in failures {
        let Some(&server) = from.get(&f.shnum) else {
            continue;
        };
        if advised.insert((server, f.shnum)) {
            super::advise_corrupt(
                grid,
                server,
                keys.storage_index,
                u16::from(f.shnum),
                f.error.to_string(),
            );
        }
    }
}

async fn fetch<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    map: &ServerMap,
    locs: &[&ShareLocation],
    eof: u64,
    signed_prefix: &[u8],
    changed: &mut usize,
) -> Vec<FetchedShare> {
    let si = keys.storage_index;
    let reads = locs.iter().filter_map(|l| {
        let s = grid.servers().get(l.server)?.clone();
        let (server, shnum) = (l.server, l.shnum);
        // Read whole by the servermap already: that snapshot will do (it
        // is of the version the map names, and gets verified below).
        let cached = map
            .whole
            .get(&(server, shnum))
            .filter(|b| b.len() as u64 == eof)
            .cloned();
        Some(async move {
            let r = match cached {
                Some(b) => Ok(b),
                None => s.client.read_mutable_share(si, shnum, 0, eof).await,
            };
            (shnum, server, r)
        })
    });
    let mut out = Vec::new();
    for (shnum, server, r) in join_all(reads).await {
        let (Ok(n), Ok(b)) = (u8::try_from(shnum), r) else {
            continue;
        };
        // Only shares still holding the version the map saw take part.
        if b.starts_with(signed_prefix) {
            out.push((n, server, b));
        } else {
            *changed += 1;
        }
    }
    out
}
