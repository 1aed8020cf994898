//! MDMF range reads and partial writes (spec §5.5, §5.6; Tahoe's
//! `retrieve.py` with `offset`/`read_size` and `publish.py`'s update path).
//!
//! An MDMF share is `salt || block` per segment at fixed positions:
//! segment `s` of share data starts at `share_data + s·(block_size+16)`.
//! So a reader fetches, from k shares, only the segments a byte range
//! needs plus each share's block hash tree and share hash chain, and checks
//! every fetched block against the tree and the tree against the signed
//! root hash (`lafs_format::mutable::retrieve::check_blocks`).
//!
//! A partial write (`update`) re-encodes only the segments the new bytes
//! touch (fresh salt each), and rewrites per share: the head (header,
//! offsets, chain, signature, key — `mdmf::pack_frame`), the touched
//! `salt || block` pieces, and the block hash tree, whose untouched
//! leaves come from the share's own stored tree (verified first). All N
//! shares' trees are needed for the new root hash, so the fast path needs
//! every share of the current version; otherwise, and for SDMF (one
//! segment: nothing to save), it falls back to read-splice-overwrite.
//! The writes are test-and-set against the checkstring the servermap saw,
//! like a publish, so a concurrent writer is detected, never overwritten.
//!
//! A range read given an old servermap whose shares have since changed or
//! moved updates the map and reads again (bounded) instead of failing; a
//! share that fails verification while still holding the map's version is
//! corrupt and is reported to its server.
//!
//! ```text
//! read_range: map ─ best version ─ k shares × (chain, tree, segments) ─ verify ─ zfec ─ AES-CTR ─ slice
//! update:     map ─ old plaintext of touched segments (read_range) ─ splice ─ encode touched
//!             ─ N stored trees (verified) ─ new leaves ─ new root ─ sign ─ per share (head, pieces, tree)
//! ```

use super::publish::{overwrite, Plan, PublishOptions, Published, Round};
use super::retrieve::retrieve_from_map;
use super::servermap::{ServerMap, ShareLocation};
use super::MutableError;
use crate::{Grid, ServerFailure, ServerProblem, StorageClient};
use futures::future::join_all;
use lafs_format::aes::AesCtr;
use lafs_format::hash::Hash;
use lafs_format::hashtree::HashTree;
use lafs_format::keys::mutable as mkeys;
use lafs_format::mutable::mdmf::{pack_frame, signed_prefix};
use lafs_format::mutable::publish::{encode_segment, random_salt};
use lafs_format::mutable::retrieve::{check_blocks, check_share_hash_chain, RetrieveError};
use lafs_format::mutable::share::{
    block_leaf_hash, parse_block_hash_tree, parse_share_hash_chain, SharePieces,
};
use lafs_format::mutable::{KeyChain, PrivateKey, ShareHeader, Version};
use lafs_storage::{ReadVector, WriteVector};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

/// One re-encoded segment: its fresh salt and the N blocks.
type EncodedSegment = ([u8; 16], Vec<Vec<u8>>);

/// Salt plus block, per fetched segment.
type Pieces = Vec<([u8; 16], Vec<u8>)>;

/// One share's verified fetch: its number and the pieces of the segments
/// asked for.
struct Fetched {
    shnum: u8,
    pieces: Pieces,
}

fn corrupt(shnum: u16, e: impl std::fmt::Display) -> ServerProblem {
    ServerProblem::Corrupt {
        shnum,
        reason: e.to_string(),
    }
}

/// Where segment `seg`'s `salt || block` lies within the share data.
fn piece_range(h: &ShareHeader, seg: u64) -> Range<u64> {
    let full = h.block_size() + 16;
    let start = seg * full;
    let len = if seg + 1 == h.num_segments() {
        h.tail_block_size() + 16
    } else {
        full
    };
    start..start + len
}

/// Read a share's chain and block tree (one request each, in parallel).
async fn read_trees<C: StorageClient>(
    client: &C,
    si: lafs_format::keys::StorageIndex,
    h: &ShareHeader,
    shnum: u16,
) -> Result<(Vec<(u16, Hash)>, Vec<Hash>), ServerProblem> {
    let o = &h.offsets;
    let (chain, tree) = futures::join!(
        client.read_mutable_share(
            si,
            shnum,
            o.share_hash_chain.start,
            o.share_hash_chain.end - o.share_hash_chain.start
        ),
        client.read_mutable_share(
            si,
            shnum,
            o.block_hash_tree.start,
            o.block_hash_tree.end - o.block_hash_tree.start
        ),
    );
    let chain = parse_share_hash_chain(&chain?).map_err(|e| corrupt(shnum, e))?;
    let tree = parse_block_hash_tree(&tree?).map_err(|e| corrupt(shnum, e))?;
    Ok((chain, tree))
}

/// Why one share's segments could not be used.
enum Miss {
    /// The share no longer holds the version the servermap saw (another
    /// writer, or it moved): a fresh servermap may find what we need.
    Changed,
    /// A request failed, or the share is corrupt.
    Failed(ServerProblem),
}

/// Fetch and verify segments `segs` of one share. A share that fails
/// verification is re-read at its checkstring: if that changed, the share
/// was rewritten under us ([`Miss::Changed`]), else it is corrupt.
async fn fetch_share<C: StorageClient>(
    client: &C,
    si: lafs_format::keys::StorageIndex,
    h: &ShareHeader,
    shnum: u16,
    segs: Range<u64>,
) -> Result<Fetched, Miss> {
    match fetch_share_once(client, si, h, shnum, segs).await {
        Err(ServerProblem::Corrupt { shnum, reason }) => {
            let cs = h.checkstring();
            match client
                .read_mutable_share(si, shnum, 0, cs.len() as u64)
                .await
            {
                Ok(now) if now.as_ref() == cs => {
                    Err(Miss::Failed(ServerProblem::Corrupt { shnum, reason }))
                }
                _ => Err(Miss::Changed),
            }
        }
        Err(e) => Err(Miss::Failed(e)),
        Ok(f) => Ok(f),
    }
}

async fn fetch_share_once<C: StorageClient>(
    client: &C,
    si: lafs_format::keys::StorageIndex,
    h: &ShareHeader,
    shnum: u16,
    segs: Range<u64>,
) -> Result<Fetched, ServerProblem> {
    let sd = h.offsets.share_data.start;
    let first = piece_range(h, segs.start);
    let last = piece_range(h, segs.end - 1);
    let (trees, data) = futures::join!(
        read_trees(client, si, h, shnum),
        client.read_mutable_share(si, shnum, sd + first.start, last.end - first.start),
    );
    let (chain, tree) = trees?;
    let data = data?;
    let mut pieces: Pieces = Vec::new();
    for seg in segs.clone() {
        let r = piece_range(h, seg);
        let s = usize::try_from(r.start - first.start).unwrap_or(usize::MAX);
        let e = usize::try_from(r.end - first.start).unwrap_or(usize::MAX);
        let Some(p) = data.get(s..e) else {
            return Err(corrupt(shnum, "share data shorter than its offsets"));
        };
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&p[..16]);
        pieces.push((salt, p[16..].to_vec()));
    }
    let n8 = u8::try_from(shnum).map_err(|_| corrupt(shnum, "share number above 255"))?;
    let borrowed: Vec<([u8; 16], &[u8])> = pieces.iter().map(|(s, b)| (*s, b.as_slice())).collect();
    check_blocks(h, n8, &chain, &tree, segs.start, &borrowed).map_err(|e| corrupt(shnum, e))?;
    Ok(Fetched { shnum: n8, pieces })
}

/// Servermap updates [`read_range`] tries when its map turns out stale.
const STALE_MAP_RETRIES: u32 = 8;

/// Bytes `range` of the newest recoverable version `map` knows of,
/// fetching only the segments the range covers (MDMF). The range is
/// clamped to the file. SDMF files (one segment) are read whole.
///
/// `map` may be an old one the caller kept: if its shares changed or moved
/// since (another writer, a repair), the read updates the servermap and
/// tries again (bounded), reading the version that is newest then, rather
/// than failing.
pub async fn read_range<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    map: &ServerMap,
    range: Range<u64>,
) -> Result<Vec<u8>, MutableError> {
    let mut r = read_range_from(grid, keys, map, range.clone()).await;
    let mut tries = 0;
    while matches!(&r, Err(e) if e.is_transient()) && tries < STALE_MAP_RETRIES {
        if tries > 0 {
            super::backoff(tries).await;
        }
        tries += 1;
        let fresh = super::servermap::update(grid, keys).await;
        r = read_range_from(grid, keys, &fresh, range.clone()).await;
    }
    r
}

async fn read_range_from<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    map: &ServerMap,
    range: Range<u64>,
) -> Result<Vec<u8>, MutableError> {
    let Some((_, h, locs)) = map.best_recoverable() else {
        // Let the whole-file path report why (not found, no servers, ...).
        retrieve_from_map(grid, keys, map).await?;
        return Err(MutableError::NotFound);
    };
    let end = range.end.min(h.data_length);
    let start = range.start.min(end);
    if start == end {
        return Ok(Vec::new());
    }
    if h.version == Version::Sdmf {
        let r = retrieve_from_map(grid, keys, map).await?;
        let (s, e) = (start as usize, end as usize);
        return Ok(r
            .plaintext
            .get(s..e)
            .map(<[u8]>::to_vec)
            .unwrap_or_default());
    }
    let segs = start / h.segment_size..(end - 1) / h.segment_size + 1;
    let plain = decode_segments(grid, keys, h, locs, segs.clone()).await?;
    let base = segs.start * h.segment_size;
    let s = usize::try_from(start - base).unwrap_or(usize::MAX);
    let e = usize::try_from(end - base).unwrap_or(usize::MAX);
    Ok(plain.get(s..e).map(<[u8]>::to_vec).unwrap_or_default())
}

/// The plaintext of segments `segs` of version `h`, from k verified
/// shares (more when some fail).
async fn decode_segments<C: StorageClient>(
    grid: &Grid<C>,
    keys: &KeyChain,
    h: &ShareHeader,
    locs: &[ShareLocation],
    segs: Range<u64>,
) -> Result<Vec<u8>, MutableError> {
    let k = usize::from(h.k);
    let mut seen = BTreeSet::new();
    let unique: Vec<&ShareLocation> = locs.iter().filter(|l| seen.insert(l.shnum)).collect();
    let si = keys.storage_index;
    let mut good: Vec<Fetched> = Vec::new();
    let mut failures = Vec::new();
    let mut changed = 0usize;
    // k at a time, in permuted order, until k verified shares.
    for batch in unique.chunks(k.max(1)) {
        let need = k - good.len();
        let reads = batch.iter().take(need).filter_map(|l| {
            let s = grid.servers().get(l.server)?.clone();
            let segs = segs.clone();
            Some(async move {
                let r = fetch_share(&s.client, si, h, l.shnum, segs).await;
                (l.server, s.id.clone(), r)
            })
        });
        for (idx, id, r) in join_all(reads).await {
            match r {
                Ok(f) => good.push(f),
                Err(Miss::Changed) => changed += 1,
                Err(Miss::Failed(error)) => {
                    if let ServerProblem::Corrupt { shnum, reason } = &error {
                        super::advise_corrupt(grid, idx, si, *shnum, reason.clone());
                    }
                    failures.push(ServerFailure { server: id, error });
                }
            }
        }
        if good.len() >= k {
            break;
        }
    }
    if good.len() < k && changed > 0 {
        return Err(MutableError::ShareChanged { changed });
    }
    if good.len() < k {
        return Err(MutableError::Unrecoverable(
            RetrieveError::NotEnoughShares {
                needed: k,
                have: good.len(),
                failures: Vec::new(),
            },
        ));
    }
    let codec = lafs_fec::Codec::cached(k, usize::from(h.n))
        .map_err(|e| MutableError::Unrecoverable(RetrieveError::Fec(e)))?;
    let mut out = Vec::new();
    for (i, seg) in segs.enumerate() {
        let inputs: Vec<(usize, &[u8])> = good
            .iter()
            .map(|f| (usize::from(f.shnum), f.pieces[i].1.as_slice()))
            .collect();
        let pieces = codec
            .decode_all(&inputs)
            .map_err(|e| MutableError::Unrecoverable(RetrieveError::Fec(e)))?;
        let mut segment = pieces.concat();
        segment.truncate(usize::try_from(h.segment_len(seg)).unwrap_or(usize::MAX));
        // Every share's leaf covers its salt, so any share's copy will do.
        let salt = good[0].pieces[i].0;
        let datakey = mkeys::datakey(&salt, &keys.readkey);
        AesCtr::new(datakey.as_bytes()).apply(&mut segment);
        out.extend_from_slice(&segment);
    }
    Ok(out)
}

/// Write `data` at byte `offset` of the mutable file `key` signs, as a new
/// version (seqnum + 1) of the newest one `map` saw. `offset` may be at
/// most the current size (the file grows when the write runs past its
/// end). MDMF rewrites only the touched segments when every share of the
/// current version is present; otherwise the whole file is republished.
pub async fn update<C: StorageClient>(
    grid: &Grid<C>,
    key: Arc<PrivateKey>,
    map: &ServerMap,
    offset: u64,
    data: &[u8],
) -> Result<Published, MutableError> {
    let keys = key.key_chain();
    let Some((_, h, locs)) = map.best_recoverable() else {
        retrieve_from_map(grid, &keys, map).await?;
        return Err(MutableError::NotFound);
    };
    let h = h.clone();
    let locs = locs.to_vec();
    if offset > h.data_length {
        return Err(MutableError::BadOffset {
            offset,
            size: h.data_length,
        });
    }
    let opts = PublishOptions {
        version: h.version,
        k: h.k,
        n: h.n,
    };
    let new_len = h.data_length.max(offset + data.len() as u64);
    let all_shares: BTreeSet<u16> = locs.iter().map(|l| l.shnum).collect();
    let fast = h.version == Version::Mdmf
        && !data.is_empty()
        && h.data_length > 0
        && all_shares.len() == usize::from(h.n);
    if fast {
        match partial(grid, &key, map, &h, &locs, offset, data, new_len).await {
            Err(Fallback) => {}
            Ok(r) => return r,
        }
    }
    // Read, splice, republish.
    let mut plain = retrieve_from_map(grid, &keys, map).await?.plaintext;
    let o = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = o + data.len();
    if plain.len() < end {
        plain.resize(end, 0);
    }
    plain[o..end].copy_from_slice(data);
    overwrite(grid, key, map, plain, opts).await
}

/// The fast path could not be used (a share's tree failed or a share could
/// not be read): republish the whole file instead.
struct Fallback;

#[allow(clippy::too_many_arguments)]
async fn partial<C: StorageClient>(
    grid: &Grid<C>,
    key: &Arc<PrivateKey>,
    map: &ServerMap,
    h: &ShareHeader,
    locs: &[ShareLocation],
    offset: u64,
    data: &[u8],
    new_len: u64,
) -> Result<Result<Published, MutableError>, Fallback> {
    let keys = key.key_chain();
    let si = keys.storage_index;
    let segsize = h.segment_size;
    let k = usize::from(h.k);
    let n = usize::from(h.n);
    let old_nseg = h.num_segments();
    let new_nseg = new_len.div_ceil(segsize);
    // Touched: from the segment holding `offset` to the last one of the
    // new bytes, plus (when the file grows) everything to the new end,
    // which includes the old tail segment whose block size changes.
    let first = offset / segsize;
    let last = if new_len > h.data_length {
        new_nseg - 1
    } else {
        (offset + data.len() as u64 - 1) / segsize
    };
    // Old plaintext of the touched segments that exist, then the splice.
    let old_end = h.data_length.min((last + 1) * segsize);
    let mut plain = if first < old_nseg {
        match decode_segments(grid, &keys, h, locs, first..old_nseg.min(last + 1)).await {
            Ok(p) => p,
            Err(_) => return Err(Fallback),
        }
    } else {
        Vec::new()
    };
    plain.truncate(usize::try_from(old_end - first * segsize).unwrap_or(usize::MAX));
    let rel = usize::try_from(offset - first * segsize).unwrap_or(usize::MAX);
    let end = rel + data.len();
    if plain.len() < end {
        plain.resize(end, 0);
    }
    plain[rel..end].copy_from_slice(data);

    // Every share's stored tree, verified against the signed root, for
    // the leaves of the untouched segments.
    let mut stored: BTreeMap<u16, Vec<Hash>> = BTreeMap::new();
    let one_per_shnum: BTreeMap<u16, &ShareLocation> =
        locs.iter().rev().map(|l| (l.shnum, l)).collect();
    let reads = one_per_shnum.values().filter_map(|l| {
        let s = grid.servers().get(l.server)?.clone();
        Some(async move { (l.shnum, read_trees(&s.client, si, h, l.shnum).await) })
    });
    for (shnum, r) in join_all(reads).await {
        let Ok((chain, tree)) = r else {
            return Err(Fallback);
        };
        let leaves = usize::try_from(old_nseg.max(1)).unwrap_or(usize::MAX);
        let ok = tree.len() == lafs_format::hashtree::tree_len(leaves)
            && u8::try_from(shnum)
                .is_ok_and(|s| check_share_hash_chain(h, s, tree[0], &chain).is_ok())
            && {
                let base = tree.len() / 2;
                let t = HashTree::new(&tree[base..base + leaves]);
                t.nodes() == tree.as_slice()
            };
        if !ok {
            return Err(Fallback);
        }
        stored.insert(shnum, tree);
    }
    if stored.len() != n {
        return Err(Fallback);
    }

    // Encode the touched segments (CPU: off the async workers).
    let key_c = Arc::clone(key);
    let (kk, nn) = (k, n);
    let readkey = keys.readkey.clone();
    let encoded = tokio::task::spawn_blocking(move || {
        encode_segments(&plain, segsize, kk, nn, &readkey).map(|e| (e, key_c))
    })
    .await
    .map_err(|_| Fallback)?;
    let Ok((touched, key_c)) = encoded else {
        return Err(Fallback);
    };
    // New block trees: stored leaves, touched ones replaced or appended.
    let new_leaf_count = usize::try_from(new_nseg).unwrap_or(usize::MAX);
    let old_leaf_count = usize::try_from(old_nseg).unwrap_or(usize::MAX);
    let first_u = usize::try_from(first).unwrap_or(usize::MAX);
    let block_trees: Vec<HashTree> = (0..n)
        .map(|shnum| {
            let tree = &stored[&(shnum as u16)];
            let base = tree.len() / 2;
            let mut leaves: Vec<Hash> = tree[base..base + old_leaf_count].to_vec();
            leaves.resize(new_leaf_count, [0; 32]);
            for (i, (salt, blocks)) in touched.iter().enumerate() {
                leaves[first_u + i] = block_leaf_hash(Version::Mdmf, salt, &blocks[shnum]);
            }
            HashTree::new(&leaves)
        })
        .collect();
    let roots: Vec<Hash> = block_trees.iter().map(HashTree::root).collect();
    let share_tree = HashTree::new(&roots);
    let seqnum = map.highest_seqnum().saturating_add(1);
    let prefix = signed_prefix(seqnum, &share_tree.root(), h.k, h.n, segsize, new_len);
    let signature = match tokio::task::spawn_blocking({
        let p = prefix.clone();
        move || key_c.sign(&p)
    })
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Ok(Err(MutableError::Key(e))),
        Err(_) => return Ok(Err(MutableError::TaskFailed)),
    };
    let writekey = key.writekey();
    let enc_privkey = lafs_format::aes::aes128_ctr(writekey.as_bytes(), key.pkcs8_der());
    let vk = key.public_key_der().to_vec();
    // Share data length of the new version: full pieces, then the tail.
    let block = segsize / h.k as u64;
    let tail = new_len - (new_nseg - 1) * segsize;
    let tail_block = tail.div_ceil(u64::from(h.k));
    let sd_len = (block + 16) * (new_nseg - 1) + tail_block + 16;
    let sd_len = usize::try_from(sd_len).unwrap_or(usize::MAX);
    let writes: Vec<Vec<WriteVector>> = (0..n)
        .map(|shnum| {
            let mut chain: Vec<(u16, Hash)> = share_tree
                .needed_hashes(shnum)
                .into_iter()
                .map(|(i, h)| (i as u16, h))
                .collect();
            chain.sort_by_key(|(i, _)| *i);
            let frame = pack_frame(
                &SharePieces {
                    signed_prefix: &prefix,
                    verification_key: &vk,
                    signature: &signature,
                    share_hash_chain: &chain,
                    block_hash_tree: block_trees[shnum].nodes(),
                    blocks: &[],
                    enc_privkey: &enc_privkey,
                },
                sd_len,
            );
            let mut pieces = Vec::new();
            for (salt, blocks) in &touched {
                pieces.extend_from_slice(salt);
                pieces.extend_from_slice(&blocks[shnum]);
            }
            let sd = frame.share_data_offset;
            vec![
                WriteVector {
                    offset: sd + first * (block + 16),
                    data: pieces,
                },
                WriteVector {
                    offset: sd + sd_len as u64,
                    data: frame.tail,
                },
                // The head (new offsets and signature) goes last. The
                // server applies one request's vectors together (lafs holds
                // the slot's lock, Python runs them in one reactor turn),
                // so the order only matters to a server that crashes
                // mid-request: the share keeps its old header, fails the
                // old version's hash checks and is read around, never
                // passing for the new version half-written.
                WriteVector {
                    offset: 0,
                    data: frame.head,
                },
            ]
        })
        .collect();
    let mut plan: Plan = BTreeMap::new();
    for l in locs {
        if let Some(cs) = map.seen.get(&(l.server, l.shnum)) {
            plan.entry(l.server)
                .or_default()
                .insert(l.shnum, Some(cs.clone()));
        }
    }
    let read_back = [ReadVector {
        offset: 0,
        size: Version::Mdmf.checkstring_len() as u64,
    }];
    let out = Round {
        si,
        writekey: &writekey,
        writes: &writes,
        read_back: &read_back,
    }
    .send(grid, plan)
    .await;
    Ok(out.check(seqnum, h.n).map(|placed| Published {
        writekey: writekey.clone(),
        fingerprint: key.fingerprint(),
        storage_index: si,
        seqnum,
        placed,
        checkstring: prefix
            .get(..Version::Mdmf.checkstring_len())
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
    }))
}

/// Encrypt and erasure-code consecutive segments of `plain` (each with a
/// fresh salt): per segment its salt and the N blocks.
fn encode_segments(
    plain: &[u8],
    segsize: u64,
    k: usize,
    n: usize,
    readkey: &lafs_format::keys::ReadKey,
) -> Result<Vec<EncodedSegment>, lafs_fec::FecError> {
    let codec = lafs_fec::Codec::cached(k, n)?;
    let chunk = usize::try_from(segsize).unwrap_or(usize::MAX).max(1);
    plain
        .chunks(chunk)
        .map(|seg| {
            let salt = random_salt();
            Ok((salt, encode_segment(&codec, k, readkey, &salt, seg)?))
        })
        .collect()
}
