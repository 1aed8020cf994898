//! Publish over a grid (spec §5.6, Tahoe's `publish.py`).
//!
//! A publish encodes the whole new version (on a blocking thread, via
//! `lafs_format::mutable::publish::encode`), then sends each server one
//! test-and-set write covering every share it gets:
//!
//! * a share the servermap saw is rewritten in place, tested against the
//!   checkstring (`version‖seqnum‖root hash[‖IV]`) the servermap read;
//! * a new share is tested as "must not exist" (`offset 0, size 1, == ""`);
//! * the whole share goes in one write vector at offset 0 (Tahoe sends
//!   MDMF as one vector per piece; the resulting bytes are the same), with
//!   `new_length` null, and the read vector asks back the checkstring.
//!
//! Placement: every share already seen keeps its server (so old versions
//! are replaced, not left behind), then each missing share number goes to
//! the first server in permuted order holding none, then round-robin to the
//! least-loaded server. Write enablers are per server
//! (`write_enabler(writekey, tubid)`, §9.3), lease secrets as for
//! immutable shares.
//!
//! If any test fails, another writer got there between our servermap and
//! our write: the publish reports [`MutableError::UncoordinatedWrite`]
//! (after all writes finished, so the caller can re-read a settled grid).
//! Servers whose test failed kept the other writer's share.

use super::servermap::{ServerMap, ShareLocation};
use super::MutableError;
use crate::{Grid, ServerFailure, ServerProblem, StorageClient};
use futures::future::join_all;
use lafs_format::keys::mutable as mkeys;
use lafs_format::keys::{Fingerprint, StorageIndex, WriteKey};
use lafs_format::mutable::publish::{encode, random_salt};
use lafs_format::mutable::retrieve::decrypt_privkey;
use lafs_format::mutable::{KeyChain, PrivateKey, PublishParams, Version};
use lafs_storage::{ReadVector, TestVector, TestWriteVectors, WriteVector};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Encoding choices for a publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishOptions {
    /// SDMF or MDMF.
    pub version: Version,
    /// Shares needed.
    pub k: u8,
    /// Shares written.
    pub n: u8,
}

impl Default for PublishOptions {
    /// SDMF 3-of-10, Tahoe's defaults.
    fn default() -> Self {
        PublishOptions {
            version: Version::Sdmf,
            k: 3,
            n: 10,
        }
    }
}

/// A successful publish.
#[derive(Clone, Debug)]
pub struct Published {
    /// The writekey (cap material).
    pub writekey: WriteKey,
    /// The fingerprint (cap material).
    pub fingerprint: Fingerprint,
    /// The storage index.
    pub storage_index: StorageIndex,
    /// The seqnum written.
    pub seqnum: u64,
    /// Where the shares went.
    pub placed: Vec<ShareLocation>,
    /// The checkstring every written share now starts with
    /// (`version‖seqnum‖root hash[‖IV]`): what a [`republish`] tests.
    pub checkstring: Vec<u8>,
}

/// Create a new mutable file under `key` (seqnum 1, every share tested as
/// "must not exist").
pub async fn create<C: StorageClient>(
    grid: &Grid<C>,
    key: Arc<PrivateKey>,
    plaintext: Vec<u8>,
    opts: PublishOptions,
) -> Result<Published, MutableError> {
    publish_version(grid, key, &ServerMap::default(), plaintext, opts, 1).await
}

/// Overwrite the file `keys` names with `plaintext` as seqnum
/// `map.highest_seqnum() + 1`, testing each seen share against what `map`
/// saw. `key` may come from [`private_key`] or a retrieve.
pub async fn overwrite<C: StorageClient>(
    grid: &Grid<C>,
    key: Arc<PrivateKey>,
    map: &ServerMap,
    plaintext: Vec<u8>,
    opts: PublishOptions,
) -> Result<Published, MutableError> {
    let seqnum = map.highest_seqnum().saturating_add(1);
    publish_version(grid, key, map, plaintext, opts, seqnum).await
}

/// Overwrite the version `prev` describes — one this writer published —
/// with `plaintext` as `prev.seqnum + 1`, without a servermap update: each
/// share `prev` placed is tested against `prev.checkstring`. The tests make
/// this exactly as safe as [`overwrite`] after a fresh servermap: if any
/// other writer touched any of those shares since, the test fails there
/// and the publish reports [`MutableError::UncoordinatedWrite`], and the
/// caller falls back to a servermap update and [`overwrite`]. (Tahoe's
/// `MutableFileNode` keeps its servermap between publishes in the same
/// way; this is what makes one-at-a-time directory edits one round trip.)
pub async fn republish<C: StorageClient>(
    grid: &Grid<C>,
    key: Arc<PrivateKey>,
    prev: &Published,
    plaintext: Vec<u8>,
    opts: PublishOptions,
) -> Result<Published, MutableError> {
    let map = ServerMap {
        seen: prev
            .placed
            .iter()
            .map(|l| ((l.server, l.shnum), prev.checkstring.clone()))
            .collect(),
        ..ServerMap::default()
    };
    publish_version(
        grid,
        key,
        &map,
        plaintext,
        opts,
        prev.seqnum.saturating_add(1),
    )
    .await
}

/// Recover the signing key from the encrypted private key of one share of
/// the newest version (writers only).
pub async fn private_key<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    map: &ServerMap,
) -> Result<PrivateKey, MutableError> {
    let writekey = keys.writekey.as_ref().ok_or(MutableError::ReadOnly)?;
    let mut last = MutableError::NotFound;
    for (header, locs) in map.versions.values().rev() {
        let r = &header.offsets.enc_privkey;
        for loc in locs {
            let Some(server) = grid.servers().get(loc.server) else {
                continue;
            };
            let Ok(enc) = server
                .client
                .read_mutable_share(keys.storage_index, loc.shnum, r.start, r.end - r.start)
                .await
            else {
                continue;
            };
            let der = match decrypt_privkey(writekey, &enc) {
                Ok(d) => d,
                Err(_) => continue,
            };
            match PrivateKey::from_pkcs8_der(&der) {
                Ok(k) if k.fingerprint() == keys.fingerprint => return Ok(k),
                Ok(_) => last = MutableError::KeyMismatch,
                Err(e) => last = MutableError::Key(e),
            }
        }
    }
    Err(last)
}

/// Which shares go where, and what each must test.
pub(super) type Plan = BTreeMap<usize, BTreeMap<u16, Option<Vec<u8>>>>;

fn plan<C>(grid: &Grid<C>, si: &StorageIndex, map: &ServerMap, n: u8) -> Plan {
    let mut plan: Plan = BTreeMap::new();
    for ((server, shnum), checkstring) in &map.seen {
        if *shnum < u16::from(n) {
            plan.entry(*server)
                .or_default()
                .insert(*shnum, Some(checkstring.clone()));
        }
    }
    let placed: BTreeSet<u16> = plan.values().flat_map(|m| m.keys().copied()).collect();
    // Candidates: permuted order, minus servers that failed the update.
    let failed: BTreeSet<&str> = map.problems.iter().map(|f| f.server.as_str()).collect();
    let all = grid.servers();
    let candidates: Vec<usize> = grid
        .permuted(si)
        .iter()
        .filter(|s| !failed.contains(s.id.as_str()) || map.responsive.is_empty())
        .filter_map(|s| all.iter().position(|x| Arc::ptr_eq(x, s)))
        .collect();
    if candidates.is_empty() {
        return plan;
    }
    let mut next = 0usize;
    for shnum in (0..u16::from(n)).filter(|s| !placed.contains(s)) {
        // First a server holding nothing (happiness), else the least
        // loaded one, ties broken by permuted order.
        let empty = candidates
            .iter()
            .find(|c| plan.get(c).is_none_or(BTreeMap::is_empty));
        let target = match empty {
            Some(&c) => c,
            None => {
                let min = candidates
                    .iter()
                    .map(|c| plan.get(c).map_or(0, BTreeMap::len))
                    .min()
                    .unwrap_or(0);
                let pick = (0..candidates.len())
                    .map(|i| candidates[(next + i) % candidates.len()])
                    .find(|c| plan.get(c).map_or(0, BTreeMap::len) == min)
                    .unwrap_or(candidates[0]);
                next += 1;
                pick
            }
        };
        plan.entry(target).or_default().insert(shnum, None);
    }
    plan
}

async fn publish_version<C: StorageClient>(
    grid: &Grid<C>,
    key: Arc<PrivateKey>,
    map: &ServerMap,
    plaintext: Vec<u8>,
    opts: PublishOptions,
    seqnum: u64,
) -> Result<Published, MutableError> {
    let params = PublishParams {
        version: opts.version,
        k: opts.k,
        n: opts.n,
        seqnum,
    };
    let t0 = std::time::Instant::now();
    let k2 = key.clone();
    // RSA signing and zfec are CPU work: keep them off the async workers.
    let encoded = tokio::task::spawn_blocking(move || {
        encode(&k2, &plaintext, params, &mut random_salt).map(|e| e.shares())
    })
    .await
    .map_err(|_| MutableError::TaskFailed)??;
    // Every share starts with the same checkstring.
    let checkstring = encoded
        .first()
        .and_then(|s| s.get(..opts.version.checkstring_len()))
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let writekey = key.writekey();
    let fingerprint = key.fingerprint();
    let si = mkeys::storage_index(&mkeys::readkey(&writekey));
    let plan = plan(grid, &si, map, opts.n);
    // What Tahoe asks back, to learn the current checkstring on a failed
    // test (spec §5.6).
    let read_back = [ReadVector {
        offset: 0,
        size: opts.version.checkstring_len() as u64,
    }];
    let read_back = &read_back[..];

    // A fresh publish writes each whole share in one vector at offset 0.
    let writes: Vec<Vec<WriteVector>> = encoded
        .into_iter()
        .map(|data| vec![WriteVector { offset: 0, data }])
        .collect();
    let ctx = Round {
        si,
        writekey: &writekey,
        writes: &writes,
        read_back,
    };
    let encoded_at = t0.elapsed();
    let mut out = ctx.send(grid, plan).await;
    tracing::debug!(
        seqnum,
        encode_ms = encoded_at.as_secs_f64() * 1e3,
        write_ms = (t0.elapsed() - encoded_at).as_secs_f64() * 1e3,
        "publish"
    );
    // Shares whose server failed get one more chance elsewhere: the least
    // loaded server that has not failed, as a new share there.
    let lost: Vec<u16> = out.lost.iter().map(|(_, n)| *n).collect();
    if !lost.is_empty() && out.conflicts == 0 {
        let bad: BTreeSet<usize> = out.lost.iter().map(|(s, _)| *s).collect();
        let mut load: BTreeMap<usize, usize> = BTreeMap::new();
        for l in &out.placed {
            *load.entry(l.server).or_default() += 1;
        }
        let candidates: Vec<usize> = grid
            .permuted(&si)
            .iter()
            .filter_map(|s| grid.servers().iter().position(|x| Arc::ptr_eq(x, s)))
            .filter(|i| !bad.contains(i))
            .collect();
        let mut retry: Plan = BTreeMap::new();
        for shnum in lost {
            let Some(&target) = candidates
                .iter()
                .min_by_key(|c| load.get(c).copied().unwrap_or(0))
            else {
                break;
            };
            *load.entry(target).or_default() += 1;
            retry.entry(target).or_default().insert(shnum, None);
        }
        let second = ctx.send(grid, retry).await;
        out.placed.extend(second.placed);
        out.failures.extend(second.failures);
        out.conflicts += second.conflicts;
    }
    let placed = out.check(seqnum, opts.n)?;
    Ok(Published {
        writekey,
        fingerprint,
        storage_index: si,
        seqnum,
        placed,
        checkstring,
    })
}

/// What one round of test-and-write calls sends.
pub(super) struct Round<'a> {
    pub(super) si: StorageIndex,
    pub(super) writekey: &'a WriteKey,
    /// Per share number, the write vectors of that share.
    pub(super) writes: &'a [Vec<WriteVector>],
    pub(super) read_back: &'a [ReadVector],
}

/// What one round achieved.
#[derive(Default)]
pub(super) struct Outcome {
    placed: Vec<ShareLocation>,
    failures: Vec<ServerFailure>,
    /// `(server, shnum)` whose request failed (not a failed test).
    lost: Vec<(usize, u16)>,
    /// Shares whose test failed.
    conflicts: usize,
}

impl Outcome {
    /// Success only if no test failed and all `n` share numbers were
    /// written somewhere.
    pub(super) fn check(self, seqnum: u64, n: u8) -> Result<Vec<ShareLocation>, MutableError> {
        if self.conflicts > 0 {
            return Err(MutableError::UncoordinatedWrite {
                seqnum,
                conflicts: self.conflicts,
            });
        }
        let distinct: BTreeSet<u16> = self.placed.iter().map(|l| l.shnum).collect();
        if distinct.len() < usize::from(n) {
            return Err(MutableError::NotEnoughPlaced {
                placed: distinct.len(),
                wanted: usize::from(n),
                failures: self.failures,
            });
        }
        Ok(self.placed)
    }
}

impl Round<'_> {
    /// One test-and-write request per server of `plan`, all in flight.
    pub(super) async fn send<C: StorageClient>(&self, grid: &Grid<C>, plan: Plan) -> Outcome {
        let si = self.si;
        let read_back = self.read_back;
        let writes = plan.into_iter().filter_map(|(server, shares)| {
            let s = grid.servers().get(server)?.clone();
            let we = mkeys::write_enabler(self.writekey, &s.lease_seed);
            let (renew, cancel) = s.lease_secrets(grid.lease_secret(), &si);
            let tw: BTreeMap<u16, TestWriteVectors> = shares
                .into_iter()
                .filter_map(|(shnum, checkstring)| {
                    let write = self.writes.get(usize::from(shnum))?.clone();
                    let test = match checkstring {
                        Some(c) => TestVector {
                            offset: 0,
                            size: c.len() as u64,
                            specimen: c,
                        },
                        // Tahoe's "no share here yet": a missing share
                        // reads as empty.
                        None => TestVector {
                            offset: 0,
                            size: 1,
                            specimen: Vec::new(),
                        },
                    };
                    Some((
                        shnum,
                        TestWriteVectors {
                            test: vec![test],
                            write,
                            // As Tahoe: shares never shrink on republish;
                            // readers go by the EOF offset.
                            new_length: None,
                        },
                    ))
                })
                .collect();
            Some(async move {
                let shnums: Vec<u16> = tw.keys().copied().collect();
                let r = s
                    .client
                    .mutable_test_and_write(si, &we, &renew, &cancel, tw, read_back)
                    .await;
                (server, s.id.clone(), shnums, r)
            })
        });
        let mut out = Outcome::default();
        for (server, id, shnums, r) in join_all(writes).await {
            match r {
                Ok(res) if res.success => out.placed.extend(
                    shnums
                        .into_iter()
                        .map(|shnum| ShareLocation { server, shnum }),
                ),
                Ok(_) => out.conflicts += shnums.len(),
                Err(e) => {
                    out.lost.extend(shnums.into_iter().map(|n| (server, n)));
                    out.failures.push(ServerFailure {
                        server: id,
                        error: ServerProblem::Request(e),
                    });
                }
            }
        }
        out
    }
}
