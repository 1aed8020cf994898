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

/// Update a servermap, then retrieve the newest recoverable version.
pub async fn retrieve<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
) -> Result<(Retrieved, ServerMap), MutableError> {
    let map = servermap::update(grid, keys).await;
    let r = retrieve_from_map(grid, keys, &map).await?;
    Ok((r, map))
}

/// Retrieve the newest recoverable version `map` knows of.
pub async fn retrieve_from_map<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    map: &ServerMap,
) -> Result<Retrieved, MutableError> {
    if map.versions.is_empty() {
        return Err(MutableError::NotFound);
    }
    let mut last: Option<RetrieveError> = None;
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
        let mut fetched = fetch(grid, keys, first, eof).await;
        match try_decode(keys, &fetched) {
            Ok(r) => return Ok(r),
            Err(_) if !rest.is_empty() => {
                fetched.extend(fetch(grid, keys, rest, eof).await);
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
    join_all(reads)
        .await
        .into_iter()
        .filter_map(|(shnum, r)| Some((u8::try_from(shnum).ok()?, r.ok()?)))
        .collect()
}
