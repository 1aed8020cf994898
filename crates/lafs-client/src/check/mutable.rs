//! Mutable (SDMF/MDMF) check, verify and repair (Tahoe's
//! `mutable/checker.py`, `mutable/repairer.py`; spec §5).
//!
//! The check is a servermap update (header, key and signature of every
//! share). Verify then reads every share of every version whole and runs
//! `validate_share` on it (fingerprint, signature, block tree, share hash
//! chain, and the encrypted private key for write-cap holders); shares that
//! fail leave the map, are listed as corrupt and reported to their server.
//!
//! Results follow `MutableChecker._make_checker_results`: share ids are
//! `seq<N>-<first 4 base32 chars of the root hash>-sh<shnum>`; counts are
//! those of the best recoverable version; `count-wrong-shares` counts
//! shares of every other version.
//!
//! Repair republishes the best recoverable version as seqnum + 1 over the
//! checked map. Every share the map saw (old versions, corrupt blocks) is
//! rewritten in place under a test of the checkstring it holds; shares
//! whose signature failed are read once more for their checkstring so
//! that they, too, are replaced rather than tripping a "must not exist"
//! test.

use super::{repaired, CheckAndRepairResults, CheckOptions, CheckResults, RepairError};
use crate::mutable::servermap::{self, ServerMap, VersionId};
use crate::mutable::{overwrite, retrieve_from_map, MutableError, PublishOptions};
use crate::{ClientError, Grid, ServerProblem, StorageClient};
use futures::StreamExt;
use lafs_format::base32;
use lafs_format::cap::FileCap;
use lafs_format::keys::ReadKey;
use lafs_format::mutable::retrieve::validate_share;
use lafs_format::mutable::{KeyChain, PrivateKey, Version};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Shares verified concurrently (each is held whole while it is checked).
const VERIFY_PARALLEL: usize = 2;
/// Bytes per read when fetching a whole share.
const READ_CHUNK: u64 = 8 << 20;
/// Per-request timeout.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A check plus what repair needs.
pub(super) struct MutableCheck {
    pub results: CheckResults,
    /// The servermap, verified shares only (when verifying).
    pub map: ServerMap,
    /// Corrupt shares as (grid index, shnum).
    pub corrupt: BTreeSet<(usize, u16)>,
}

/// The keys a cap gives. A verify cap has no readkey; the servermap and
/// share validation use only the storage index and the fingerprint, so a
/// zero readkey stands in (it is never used to decrypt).
fn keychain(cap: &FileCap) -> Option<KeyChain> {
    Some(match cap {
        FileCap::SskWrite(c) => KeyChain::from_writekey(c.writekey.clone(), c.fingerprint),
        FileCap::SskRead(c) => KeyChain::from_readkey(c.readkey.clone(), c.fingerprint),
        FileCap::SskVerify(v) => KeyChain {
            writekey: None,
            readkey: ReadKey::from_bytes([0; 16]),
            storage_index: v.storage_index,
            fingerprint: v.fingerprint,
        },
        _ => return None,
    })
}

fn short(v: &VersionId) -> String {
    let b = base32::encode(&v.1);
    format!("seq{}-{}", v.0, &b[..4.min(b.len())])
}

async fn read_whole<C: StorageClient>(
    client: &C,
    keys: &KeyChain,
    shnum: u16,
    len: u64,
) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(READ_CHUNK);
        let b = tokio::time::timeout(
            TIMEOUT,
            client.read_mutable_share(keys.storage_index, shnum, at, n),
        )
        .await
        .unwrap_or(Err(ClientError::Timeout))?;
        let short = (b.len() as u64) < n;
        out.extend_from_slice(&b);
        at += n;
        if short {
            break;
        }
    }
    Ok(out)
}

/// Check the mutable file (or directory) `cap` names.
pub(super) async fn check<C: StorageClient>(
    grid: &Grid<C>,
    cap: &FileCap,
    opts: CheckOptions,
) -> MutableCheck {
    let Some(keys) = keychain(cap) else {
        return MutableCheck {
            results: CheckResults::literal(),
            map: ServerMap::default(),
            corrupt: BTreeSet::new(),
        };
    };
    let mut map = servermap::update(grid, &keys).await;
    let index_of = |id: &str| grid.servers().iter().position(|s| s.id == id);
    let mut corrupt: BTreeSet<(usize, u16)> = map
        .problems
        .iter()
        .filter_map(|p| match &p.error {
            ServerProblem::Corrupt { shnum, .. } => index_of(&p.server).map(|i| (i, *shnum)),
            _ => None,
        })
        .collect();
    if opts.verify {
        let jobs: Vec<(VersionId, usize, u16, u64)> = map
            .versions
            .iter()
            .flat_map(|(v, (h, locs))| {
                locs.iter()
                    .map(move |l| (v.clone(), l.server, l.shnum, h.offsets.eof))
            })
            .collect();
        let keys = &keys;
        let checked: Vec<_> = futures::stream::iter(jobs.into_iter().map(|(v, idx, n, eof)| {
            let server = grid.servers().get(idx).cloned();
            async move {
                let ok = match (&server, u8::try_from(n)) {
                    (Some(s), Ok(n8)) => match read_whole(&s.client, keys, n, eof).await {
                        Ok(b) => validate_share(keys, n8, &b)
                            .map(|_| ())
                            .map_err(|e| Some(e.to_string())),
                        // Unreadable now: not counted either way.
                        Err(_) => Err(None),
                    },
                    _ => Err(None),
                };
                (v, idx, n, ok)
            }
        }))
        .buffer_unordered(VERIFY_PARALLEL)
        .collect()
        .await;
        for (v, idx, n, ok) in checked {
            if ok.is_ok() {
                continue;
            }
            if let Err(Some(reason)) = &ok {
                tracing::warn!(shnum = n, %reason, "corrupt mutable share");
                corrupt.insert((idx, n));
                // Tahoe tells the server; failure to do so changes nothing.
                if let Some(s) = grid.servers().get(idx) {
                    let advice = s
                        .client
                        .advise_corrupt_mutable(keys.storage_index, n, reason);
                    let _ = tokio::time::timeout(TIMEOUT, advice).await;
                }
            }
            if let Some((_, locs)) = map.versions.get_mut(&v) {
                locs.retain(|l| !(l.server == idx && l.shnum == n));
            }
        }
        map.versions.retain(|_, (_, locs)| !locs.is_empty());
    }
    if opts.add_lease {
        let holders: BTreeMap<usize, Arc<crate::GridServer<C>>> = map
            .seen
            .keys()
            .filter_map(|(i, _)| grid.servers().get(*i).map(|s| (*i, s.clone())))
            .collect();
        super::add_leases(grid, keys.storage_index, holders.values()).await;
    }
    let results = results(grid, &keys, &map, &corrupt);
    MutableCheck {
        results,
        map,
        corrupt,
    }
}

fn distinct(locs: &[servermap::ShareLocation]) -> usize {
    locs.iter().map(|l| l.shnum).collect::<BTreeSet<_>>().len()
}

fn results<C>(
    grid: &Grid<C>,
    keys: &KeyChain,
    map: &ServerMap,
    corrupt: &BTreeSet<(usize, u16)>,
) -> CheckResults {
    let server = |i: usize| grid.servers().get(i).map_or("", |s| s.id.as_str());
    let name = |i: usize| super::long_name(server(i)).to_string();
    let recoverable: Vec<&VersionId> = map
        .versions
        .iter()
        .filter(|(_, (h, l))| distinct(l) >= usize::from(h.k))
        .map(|(v, _)| v)
        .collect();
    let unrecoverable = map.versions.len() - recoverable.len();
    let mut summary: Vec<String> = Vec::new();
    if unrecoverable > 0 {
        summary.push("some versions are unrecoverable".into());
    }
    if recoverable.is_empty() {
        summary.push("no versions are recoverable".into());
    }
    if recoverable.len() > 1 {
        summary.push("multiple versions are recoverable".into());
    }
    // Counters of the best recoverable version, else of some version.
    let counted = recoverable
        .last()
        .copied()
        .or_else(|| map.versions.keys().next_back());
    let (good, k, n, hosts, wrong) = match counted.and_then(|v| map.versions.get_key_value(v)) {
        Some((v, (h, locs))) => {
            let hosts: BTreeSet<usize> = locs.iter().map(|l| l.server).collect();
            let wrong: usize = map
                .versions
                .iter()
                .filter(|(o, _)| *o != v)
                .map(|(_, (_, l))| l.len())
                .sum();
            (
                distinct(locs),
                u16::from(h.k),
                u16::from(h.n),
                hosts.len(),
                wrong,
            )
        }
        // Nothing at all: Tahoe's arbitrary defaults.
        None => (0, 3, 10, 0, 0),
    };
    if !recoverable.is_empty() && good < usize::from(n) {
        summary.push(format!("{good} shares (enc {k}-of-{n})"));
    }
    let healthy = summary.is_empty() && good >= usize::from(n);
    if !corrupt.is_empty() {
        summary.push("Corrupt Shares:".into());
        for (i, shnum) in corrupt {
            summary.push(format!("{}-sh{shnum}", super::short_name(server(*i))));
        }
    }
    let mut sharemap: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (v, (_, locs)) in &map.versions {
        for l in locs {
            sharemap
                .entry(format!("{}-sh{}", short(v), l.shnum))
                .or_default()
                .insert(name(l.server));
        }
    }
    CheckResults {
        storage_index: Some(keys.storage_index),
        summary: if healthy {
            "Healthy".into()
        } else {
            format!("Unhealthy: {}", summary.join(" "))
        },
        // As Tahoe: corrupt shares appear in the summary but only count
        // against health through the good-share count.
        healthy,
        recoverable: !recoverable.is_empty(),
        count_happiness: super::happiness(&sharemap),
        count_shares_good: good,
        count_shares_needed: k,
        count_shares_expected: n,
        count_good_share_hosts: hosts,
        list_corrupt_shares: corrupt.iter().map(|(i, s)| (name(*i), *s)).collect(),
        servers_responding: map.responsive.iter().map(|i| name(*i)).collect(),
        sharemap,
        count_wrong_shares: wrong,
        count_recoverable_versions: recoverable.len(),
        count_unrecoverable_versions: unrecoverable,
    }
}

/// Check, and repair when not healthy.
pub(super) async fn check_and_repair<C: StorageClient>(
    grid: &Grid<C>,
    cap: &FileCap,
    opts: CheckOptions,
) -> CheckAndRepairResults {
    let pre = check(grid, cap, opts).await;
    if pre.results.healthy {
        return CheckAndRepairResults {
            post: pre.results.clone(),
            pre: pre.results,
            repair_attempted: false,
            repair_successful: false,
            repair_error: None,
        };
    }
    let outcome = repair(grid, cap, pre.map, &pre.corrupt).await;
    let post_opts = CheckOptions {
        add_lease: false,
        ..opts
    };
    repaired(pre.results, outcome, async {
        check(grid, cap, post_opts).await.results
    })
    .await
}

async fn repair<C: StorageClient>(
    grid: &Grid<C>,
    cap: &FileCap,
    mut map: ServerMap,
    corrupt: &BTreeSet<(usize, u16)>,
) -> Result<(), RepairError> {
    let FileCap::SskWrite(wc) = cap else {
        return Err(RepairError::NeedsWriteCap);
    };
    let keys = KeyChain::from_writekey(wc.writekey.clone(), wc.fingerprint);
    let Some((best, _, _)) = map.best_recoverable() else {
        return Err(RepairError::Unrecoverable);
    };
    let best_seq = best.0;
    if map.has_newer_unrecoverable() {
        return Err(RepairError::MustForce(
            "there were unrecoverable newer versions",
        ));
    }
    let same_seq = map
        .versions
        .iter()
        .filter(|(v, (h, l))| v.0 == best_seq && distinct(l) >= usize::from(h.k))
        .count();
    if same_seq > 1 {
        return Err(RepairError::MustForce(
            "there were multiple recoverable versions with identical seqnums",
        ));
    }
    let r = retrieve_from_map(grid, &keys, &map).await?;
    let der = r.privkey_der.as_ref().ok_or(MutableError::ReadOnly)?;
    let key = PrivateKey::from_pkcs8_der(der).map_err(MutableError::Key)?;
    if key.fingerprint() != keys.fingerprint {
        return Err(MutableError::KeyMismatch.into());
    }
    // Shares the servermap rejected are not in `seen`: learn what they
    // hold so the publish replaces them under a matching test.
    for &(idx, shnum) in corrupt {
        if map.seen.contains_key(&(idx, shnum)) {
            continue;
        }
        let Some(s) = grid.servers().get(idx) else {
            continue;
        };
        let sdmf = Version::Sdmf.checkstring_len() as u64;
        if let Ok(b) = s
            .client
            .read_mutable_share(keys.storage_index, shnum, 0, sdmf)
            .await
        {
            let len = match b.first() {
                Some(1) => Version::Mdmf.checkstring_len(),
                _ => Version::Sdmf.checkstring_len(),
            };
            map.seen
                .insert((idx, shnum), b[..len.min(b.len())].to_vec());
        }
    }
    let opts = PublishOptions {
        version: r.version,
        k: r.k,
        n: r.n,
    };
    overwrite(grid, Arc::new(key), &map, r.plaintext.clone(), opts).await?;
    Ok(())
}
