//! Retrieve over a grid (spec §5.7, Tahoe's `retrieve.py`).
//!
//! From a servermap, try versions newest first among those with at least
//! k shares: read k whole shares (one read each, different share numbers,
//! in parallel), verify and decode them with
//! `lafs_format::mutable::retrieve` (fingerprint, signature, block and
//! share hash trees, private key for writers); if some fail, read the
//! version's other shares too; if the version still cannot be recovered,
//! fall back to the next older one.

use super::servermap::{self, ServerMap, ShareLocation};
use super::MutableError;
use crate::{Grid, StorageClient};
use bytes::Bytes;
use futures::future::join_all;
use lafs_format::mutable::retrieve::{retrieve as decode, RetrieveError};
use lafs_format::mutable::{KeyChain, Retrieved};
use std::collections::BTreeSet;

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
        let mut fetched = fetch(grid, keys, first, eof, prefix, &mut changed).await;
        match try_decode(keys, &fetched) {
            Ok(r) => return Ok(r),
            Err(_) if !rest.is_empty() => {
                fetched.extend(fetch(grid, keys, rest, eof, prefix, &mut changed).await);
                match try_decode(keys, &fetched) {
                    Ok(r) => return Ok(r),
                    Err(e) => last = Some(e),
                }
            }
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

fn try_decode(keys: &KeyChain, fetched: &[(u8, Bytes)]) -> Result<Retrieved, RetrieveError> {
    let shares: Vec<(u8, &[u8])> = fetched.iter().map(|(n, b)| (*n, b.as_ref())).collect();
    decode(keys, &shares)
}

async fn fetch<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    locs: &[&ShareLocation],
    eof: u64,
    signed_prefix: &[u8],
    changed: &mut usize,
) -> Vec<(u8, Bytes)> {
    let si = keys.storage_index;
    let reads = locs.iter().filter_map(|l| {
        let s = grid.servers().get(l.server)?.clone();
        let shnum = l.shnum;
        Some(async move {
            let r = s.client.read_mutable_share(si, shnum, 0, eof).await;
            (shnum, r)
        })
    });
    let mut out = Vec::new();
    for (shnum, r) in join_all(reads).await {
        let (Ok(n), Ok(b)) = (u8::try_from(shnum), r) else {
            continue;
        };
        // Only shares still holding the version the map saw take part.
        if b.starts_with(signed_prefix) {
            out.push((n, b));
        } else {
            *changed += 1;
        }
    }
    out
}
