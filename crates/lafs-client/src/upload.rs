//! Immutable upload (spec §4.2, §4.6, §8.6).
//!
//! ```text
//! pass 1 (blocking thread): read the whole input → convergent key (§2.3)
//! SI = H(key) → servers permuted by SI
//! every server, in parallel: version (size limit) + list shares present
//! placement::plan → allocate in parallel (one random 20-byte upload secret
//!   and one lease-secret pair per server) → re-plan refused shares (≤3 rounds)
//! happiness < shares.happy → abort every bucket, fail
//! pass 2: blocking encoder thread ──(bounded channel, 2 segments)──►
//!   writer: segment i's blocks to every bucket in parallel, at most 2
//!   segments in flight, while segment i+1 is encrypted, coded and hashed
//! trailer (hash trees, chain, UEB) to every bucket → 201 / complete
//! happiness over completed shares < happy → abort the rest, fail
//! ```
//!
//! Memory: about `2 + 2 + 1` segments of N blocks (channel, writes in
//! flight, encoder), i.e. ~5·N/k segments — 17 MiB at 3-of-10 with 1 MiB
//! segments — whatever the file size.
//!
//! The convergent key needs the whole input before the first block exists,
//! so the input is read twice (`Read + Seek`). Callers with a pipe spool it
//! to a temporary file first ([`upload_unseekable`]), as Tahoe does.
//! Segment 0's write carries the share header too (the header is fixed by
//! the geometry; the UEB length is known up front from a placeholder UEB,
//! as Tahoe 1.20 does), so each share costs `num_segments + 1` writes.

use crate::grid::{Grid, GridServer};
use crate::placement;
use crate::{ClientError, ServerFailure, ServerProblem, StorageClient, UploadError};
use bytes::{Bytes, BytesMut};
use futures::future::join_all;
use futures::StreamExt;
use lafs_format::cap::{FileCap, LitCap};
use lafs_format::chk::{
    ChkEncoder, EncodedFile, EncodingParams, Geometry, ShareHeader, LIT_THRESHOLD,
};
use lafs_format::keys::{
    chk_storage_index, AesKey, ConvergenceHasher, ConvergenceSecret, StorageIndex,
};
use lafs_format::ueb::{CodecParams, Ueb};
use lafs_storage::UploadSecret;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

/// Where the encryption key comes from.
#[derive(Debug, Clone)]
pub enum KeyMode {
    /// Convergent: same bytes + secret + parameters → same cap (Tahoe's default).
    Convergent(ConvergenceSecret),
    /// A fresh random key per upload.
    Random,
}

/// What the progress callback is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bytes read for the convergent key.
    Hashing {
        /// Done.
        done: u64,
        /// Total.
        total: u64,
    },
    /// Plaintext bytes whose blocks every bucket has acknowledged.
    Uploading {
        /// Done.
        done: u64,
        /// Total.
        total: u64,
    },
}

/// The callback type.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Upload knobs.
#[derive(Clone)]
pub struct UploadOptions {
    /// k, happy, N and the maximum segment size.
    pub params: EncodingParams,
    /// Convergent or random key.
    pub key: KeyMode,
    /// Called from the upload task (keep it cheap).
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadOptions")
            .field("params", &self.params)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl UploadOptions {
    /// Tahoe's defaults (3/7/10, 1 MiB segments) with a convergence secret.
    pub fn convergent(secret: ConvergenceSecret) -> Self {
        UploadOptions {
            params: EncodingParams::default(),
            key: KeyMode::Convergent(secret),
            progress: None,
        }
    }

    fn report(&self, p: Progress) {
        if let Some(f) = &self.progress {
            f(p);
        }
    }
}

/// What an upload produced.
#[derive(Debug, Clone)]
pub struct UploadResult {
    /// The cap (`URI:LIT:` or `URI:CHK:`).
    pub cap: FileCap,
    /// Servers holding distinct shares (0 for LIT).
    pub happiness: usize,
    /// Shares written by this upload, as (server id, share number).
    pub written: Vec<(String, u16)>,
    /// Shares found already in place (not rewritten).
    pub already_present: usize,
}

const READ_CHUNK: usize = 1 << 20;

/// Files at least this large hash for long enough (≥ 5 ms) that warming
/// the connections during the key pass pays; below it the survey could
/// race the warm-up and open a second connection per server.
const WARM_UP_MIN: u64 = 8 << 20;

/// Upload from a seekable reader (read twice: key pass, then encoding).
pub async fn upload<C, R>(
    grid: &Grid<C>,
    mut reader: R,
    opts: &UploadOptions,
) -> Result<UploadResult, UploadError>
where
    C: StorageClient,
    R: Read + Seek + Send + 'static,
{
    let size = reader.seek(SeekFrom::End(0))?;
    if size >= WARM_UP_MIN && matches!(opts.key, KeyMode::Convergent(_)) {
        // The convergence pass reads the whole file before the storage
        // index is known; meanwhile open (TLS-handshake) a connection to
        // every server, so that the survey starts on warm connections.
        // Detached: a slow server must not hold up the upload, and a
        // failure here is met again, and decided on, by the survey.
        for s in grid.servers() {
            let s = Arc::clone(s);
            tokio::spawn(async move {
                let _ = s.client.version().await;
            });
        }
    }
    let o2 = opts.clone();
    let first = tokio::task::spawn_blocking(move || key_pass(reader, &o2))
        .await
        .map_err(|_| UploadError::TaskFailed)??;
    match first {
        KeyPass::Lit(data) => Ok(UploadResult {
            cap: FileCap::Lit(LitCap { data }),
            happiness: 0,
            written: Vec::new(),
            already_present: 0,
        }),
        KeyPass::Chk {
            reader,
            geometry,
            key,
        } => upload_chk(grid, reader, geometry, key, opts, &BTreeSet::new()).await,
    }
}

/// Upload under a given key (repair: the cap's own key and, through
/// `params.max_segment_size`, its UEB's segment size, so the encoding and
/// the cap come out identical). Shares in `skip` (`(server id, shnum)`,
/// found corrupt) do not count as present and are not asked of that server.
pub(crate) async fn upload_with_key<C, R>(
    grid: &Grid<C>,
    mut reader: R,
    key: AesKey,
    params: EncodingParams,
    skip: &BTreeSet<(String, u16)>,
) -> Result<UploadResult, UploadError>
where
    C: StorageClient,
    R: Read + Seek + Send + 'static,
{
    let size = reader.seek(SeekFrom::End(0))?;
    let geometry = Geometry::new(size, params.needed, params.total, params.max_segment_size)
        .map_err(lafs_format::chk::encode::EncodeError::from)?;
    let opts = UploadOptions {
        params,
        key: KeyMode::Random,
        progress: None,
    };
    upload_chk(grid, reader, geometry, key, &opts, skip).await
}

/// Upload from a reader that cannot seek (a pipe): spooled to a temporary
/// file first, because the convergent key needs all of it before any block.
pub async fn upload_unseekable<C, R>(
    grid: &Grid<C>,
    mut reader: R,
    opts: &UploadOptions,
) -> Result<UploadResult, UploadError>
where
    C: StorageClient,
    R: Read + Send + 'static,
{
    let spool = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let mut f = tempfile::tempfile()?;
        std::io::copy(&mut reader, &mut f)?;
        Ok(f)
    })
    .await
    .map_err(|_| UploadError::TaskFailed)??;
    upload(grid, spool, opts).await
}

/// Upload an in-memory buffer.
pub async fn upload_bytes<C: StorageClient>(
    grid: &Grid<C>,
    data: Bytes,
    opts: &UploadOptions,
) -> Result<UploadResult, UploadError> {
    upload(grid, std::io::Cursor::new(data), opts).await
}

enum KeyPass<R> {
    Lit(Vec<u8>),
    Chk {
        reader: R,
        geometry: Geometry,
        key: AesKey,
    },
}

fn key_pass<R: Read + Seek>(mut r: R, opts: &UploadOptions) -> Result<KeyPass<R>, UploadError> {
    let size = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    if size <= LIT_THRESHOLD {
        let mut data = Vec::new();
        r.read_to_end(&mut data)?;
        return Ok(KeyPass::Lit(data));
    }
    let p = opts.params;
    let geometry = Geometry::new(size, p.needed, p.total, p.max_segment_size)
        .map_err(lafs_format::chk::encode::EncodeError::from)?;
    let key = match &opts.key {
        KeyMode::Random => {
            let mut k = [0u8; 16];
            getrandom::fill(&mut k).map_err(|e| std::io::Error::other(e.to_string()))?;
            AesKey::from_bytes(k)
        }
        KeyMode::Convergent(secret) => {
            let mut h = ConvergenceHasher::new(secret, p.needed, p.total, geometry.segment_size);
            let mut buf = vec![0u8; READ_CHUNK];
            let mut done = 0u64;
            loop {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                done += n as u64;
                opts.report(Progress::Hashing { done, total: size });
            }
            if done != size {
                return Err(UploadError::InputChanged {
                    expected: size,
                    got: done,
                });
            }
            h.finish()
        }
    };
    Ok(KeyPass::Chk {
        reader: r,
        geometry,
        key,
    })
}

/// The UEB length is fixed by the parameters: serialize one with
/// placeholder hashes (what Tahoe 1.20 does to size its buckets).
fn ueb_len(g: &Geometry) -> usize {
    let (k, n) = (g.needed, g.total);
    Ueb {
        codec_name: Some(b"crs".to_vec()),
        codec_params: Some(CodecParams {
            segment_size: g.segment_size,
            k,
            n,
        }),
        tail_codec_params: Some(CodecParams {
            segment_size: g.padded_tail,
            k,
            n,
        }),
        crypttext_hash: Some([0; 32]),
        crypttext_root_hash: [0; 32],
        share_root_hash: [0; 32],
        segment_size: g.segment_size,
        num_segments: Some(g.num_segments),
        needed_shares: Some(u64::from(k)),
        total_shares: Some(u64::from(n)),
        size: Some(g.size),
        extra: Default::default(),
    }
    .to_bytes()
    .len()
}

fn random_upload_secret() -> Result<UploadSecret, UploadError> {
    let mut b = vec![0u8; 20];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(UploadSecret::new(b))
}

/// One server's part in an upload.
struct Bucket<C> {
    server: Arc<GridServer<C>>,
    secret: UploadSecret,
    /// Shares present before (listed or `already-have`).
    present: BTreeSet<u16>,
    /// Shares allocated to this upload.
    allocated: BTreeSet<u16>,
    /// Allocated shares that completed.
    complete: BTreeSet<u16>,
    writeable: bool,
    failed: bool,
}

async fn upload_chk<C, R>(
    grid: &Grid<C>,
    reader: R,
    g: Geometry,
    key: AesKey,
    opts: &UploadOptions,
    skip: &BTreeSet<(String, u16)>,
) -> Result<UploadResult, UploadError>
where
    C: StorageClient,
    R: Read + Seek + Send + 'static,
{
    let si = chk_storage_index(&key);
    let skipped = |b: &Bucket<C>, n: u16| skip.contains(&(b.server.id.clone(), n));
    let header =
        ShareHeader::for_share(&g, None).map_err(lafs_format::chk::encode::EncodeError::from)?;
    let allocated_size = header.allocated_size(ueb_len(&g));
    let mut failures: Vec<ServerFailure> = Vec::new();

    // Survey: size limit and shares already present, all servers at once.
    let servers = grid.permuted(&si);
    let survey = join_all(servers.iter().map(|s| async move {
        // Both questions at once: one round trip, not two.
        let (v, l) = tokio::join!(s.client.version(), s.client.list_shares(si));
        Ok::<_, ClientError>((v?, l?))
    }))
    .await;
    let mut buckets: Vec<Bucket<C>> = Vec::with_capacity(servers.len());
    for (s, r) in servers.into_iter().zip(survey) {
        let mut b = Bucket {
            server: s,
            secret: random_upload_secret()?,
            present: BTreeSet::new(),
            allocated: BTreeSet::new(),
            complete: BTreeSet::new(),
            writeable: false,
            failed: false,
        };
        match r {
            Ok((v, l)) => {
                b.present = l.into_iter().filter(|n| !skipped(&b, *n)).collect();
                if v.maximum_immutable_share_size >= allocated_size {
                    b.writeable = true;
                } else {
                    failures.push(ServerFailure {
                        server: b.server.id.clone(),
                        error: ServerProblem::TooSmall {
                            need: allocated_size,
                            limit: v.maximum_immutable_share_size,
                        },
                    });
                }
            }
            Err(e) => {
                b.failed = true;
                failures.push(ServerFailure {
                    server: b.server.id.clone(),
                    error: e.into(),
                });
            }
        }
        buckets.push(b);
    }

    // Allocate, re-planning refused shares onto the servers that took theirs.
    for _round in 0..3 {
        let holds: Vec<BTreeSet<u16>> = buckets
            .iter()
            .map(|b| b.present.union(&b.allocated).copied().collect())
            .collect();
        let can: Vec<bool> = buckets.iter().map(|b| b.writeable && !b.failed).collect();
        let mut ask = placement::plan(g.total, &holds, &can);
        // A server holding a corrupt copy would answer "already have": give
        // that share to another server, an empty one first, else the least
        // loaded (permuted order breaks ties).
        let mut dropped = Vec::new();
        for (a, b) in ask.iter_mut().zip(&buckets) {
            let bad: Vec<u16> = a.iter().copied().filter(|n| skipped(b, *n)).collect();
            for n in &bad {
                a.remove(n);
            }
            dropped.extend(bad);
        }
        for n in dropped {
            let target = (0..buckets.len())
                .filter(|&j| can[j] && !skipped(&buckets[j], n) && !holds[j].contains(&n))
                .min_by_key(|&j| holds[j].len() + ask[j].len());
            if let Some(j) = target {
                ask[j].insert(n);
            }
        }
        if ask.iter().all(BTreeSet::is_empty) {
            break;
        }
        let secrets = grid.lease_secret();
        let replies = join_all(buckets.iter().zip(&ask).map(|(b, want)| async move {
            if want.is_empty() {
                return None;
            }
            let (renew, cancel) = b.server.lease_secrets(secrets, &si);
            Some(
                b.server
                    .client
                    .allocate_buckets(si, &renew, &cancel, &b.secret, want, allocated_size)
                    .await,
            )
        }))
        .await;
        let mut refused_any = false;
        for ((b, want), r) in buckets.iter_mut().zip(&ask).zip(replies) {
            match r {
                None => {}
                Some(Ok(a)) => {
                    let have: Vec<u16> = a
                        .already_have
                        .iter()
                        .copied()
                        .filter(|n| !skipped(b, *n))
                        .collect();
                    b.present.extend(have);
                    b.allocated.extend(&a.allocated);
                    let refused: Vec<u16> = want
                        .iter()
                        .filter(|s| !a.allocated.contains(s) && !a.already_have.contains(s))
                        .copied()
                        .collect();
                    if !refused.is_empty() {
                        refused_any = true;
                        b.writeable = false;
                        failures.push(ServerFailure {
                            server: b.server.id.clone(),
                            error: ServerProblem::Refused(refused),
                        });
                    }
                }
                Some(Err(e)) => {
                    refused_any = true;
                    b.failed = true;
                    failures.push(ServerFailure {
                        server: b.server.id.clone(),
                        error: e.into(),
                    });
                }
            }
        }
        if !refused_any {
            break;
        }
    }
    failures = ensure_happy(&buckets, si, opts.params.happy, false, failures).await?;

    // Stream the blocks.
    let file = match write_blocks(&mut buckets, reader, g, key, &header, si, opts).await {
        Ok((f, mut fs)) => {
            failures.append(&mut fs);
            f
        }
        Err(e) => {
            abort_all(&buckets, si).await;
            return Err(e);
        }
    };

    // Check before the trailers: a trailer publishes a share, which can
    // then no longer be aborted.
    failures = ensure_happy(&buckets, si, opts.params.happy, false, failures).await?;

    // Trailers complete the shares.
    let trailer_at = header.offsets.plaintext_hash_tree;
    let results = join_all(buckets.iter().map(|b| {
        let file = &file;
        let header = &header;
        async move {
            if b.failed {
                return Vec::new();
            }
            join_all(b.allocated.iter().map(|&sh| async move {
                let t = Bytes::from(file.share_trailer(header, usize::from(sh)));
                let r = b
                    .server
                    .client
                    .write_share(si, sh, &b.secret, trailer_at, t)
                    .await;
                (sh, r)
            }))
            .await
        }
    }))
    .await;
    for (b, rs) in buckets.iter_mut().zip(results) {
        for (sh, r) in rs {
            match r {
                Ok(p) if p.complete => {
                    b.complete.insert(sh);
                }
                Ok(_) => failures.push(ServerFailure {
                    server: b.server.id.clone(),
                    error: ClientError::Malformed("share incomplete after its last write").into(),
                }),
                Err(e) => {
                    b.failed = true;
                    failures.push(ServerFailure {
                        server: b.server.id.clone(),
                        error: e.into(),
                    });
                }
            }
        }
    }
    let (achieved, _) = happiness_of(&buckets, true);
    ensure_happy(&buckets, si, opts.params.happy, true, failures).await?;
    Ok(UploadResult {
        cap: FileCap::ChkRead(file.cap),
        happiness: achieved,
        written: buckets
            .iter()
            .flat_map(|b| b.complete.iter().map(|s| (b.server.id.clone(), *s)))
            .collect(),
        already_present: buckets.iter().map(|b| b.present.len()).sum(),
    })
}

/// Happiness over live buckets' present shares plus their allocated
/// (`complete = false`) or completed (`true`) ones; and usable servers.
fn happiness_of<C>(buckets: &[Bucket<C>], complete: bool) -> (usize, usize) {
    let live = buckets.iter().filter(|b| !b.failed);
    let holds: Vec<BTreeSet<u16>> = live
        .clone()
        .map(|b| {
            let ours = if complete { &b.complete } else { &b.allocated };
            b.present.union(ours).copied().collect()
        })
        .collect();
    (placement::happiness(&holds), live.count())
}

/// Fail (after aborting every unfinished bucket) unless happy.
async fn ensure_happy<C: StorageClient>(
    buckets: &[Bucket<C>],
    si: StorageIndex,
    happy: u16,
    complete: bool,
    failures: Vec<ServerFailure>,
) -> Result<Vec<ServerFailure>, UploadError> {
    let (achieved, usable) = happiness_of(buckets, complete);
    if achieved >= usize::from(happy) {
        return Ok(failures);
    }
    abort_all(buckets, si).await;
    Err(UploadError::NotHappy {
        achieved,
        happy,
        usable,
        failures,
    })
}

/// Abort every allocated share that has not completed (best effort: a
/// server that is gone keeps nothing of ours past its own upload expiry).
async fn abort_all<C: StorageClient>(buckets: &[Bucket<C>], si: StorageIndex) {
    join_all(buckets.iter().flat_map(|b| {
        b.allocated
            .difference(&b.complete)
            .map(move |&sh| async move {
                let _ = b.server.client.abort_share(si, sh, &b.secret).await;
            })
    }))
    .await;
}

/// Segments encoded ahead of the network, and segments on the wire at once.
const SEGMENTS_AHEAD: usize = 2;

/// Block buffers that come back when the network is done with them. Fresh
/// buffers cost more than their copy: glibc hands freed blocks back to
/// the kernel, and each new one page-faults in (10% of an upload's client
/// CPU before this pool).
#[derive(Clone)]
struct BlockPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
    keep: usize,
}

impl BlockPool {
    fn new(keep: usize) -> Self {
        BlockPool {
            free: Arc::new(Mutex::new(Vec::with_capacity(keep))),
            keep,
        }
    }
    /// A buffer to encode into (empty; capacity from an earlier block).
    fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .ok()
            .and_then(|mut f| f.pop())
            .unwrap_or_default()
    }
    /// `b` as `Bytes` that return to the pool when the last clone drops.
    fn wrap(&self, b: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            buf: b,
            pool: self.clone(),
        })
    }
}

struct Pooled {
    buf: Vec<u8>,
    pool: BlockPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Ok(mut f) = self.pool.free.lock() {
            if f.len() < self.pool.keep {
                let mut b = std::mem::take(&mut self.buf);
                b.clear();
                f.push(b);
            }
        }
    }
}

/// One encoded segment: block per share number.
struct Segment {
    index: u64,
    plain_len: u64,
    blocks: Vec<Bytes>,
}

async fn write_blocks<C, R>(
    buckets: &mut [Bucket<C>],
    mut reader: R,
    g: Geometry,
    key: AesKey,
    header: &ShareHeader,
    si: StorageIndex,
    opts: &UploadOptions,
) -> Result<(EncodedFile, Vec<ServerFailure>), UploadError>
where
    C: StorageClient,
    R: Read + Seek + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Segment>(SEGMENTS_AHEAD);
    let header_bytes = header.to_bytes();
    let pool = BlockPool::new(usize::from(g.total) * (SEGMENTS_AHEAD + 3));
    let encoder = tokio::task::spawn_blocking(move || -> Result<EncodedFile, UploadError> {
        reader.seek(SeekFrom::Start(0))?;
        let mut enc = ChkEncoder::new(g, key)?;
        let mut buf = Vec::new();
        let mut index = 0u64;
        while let Some(len) = enc.next_segment_len() {
            buf.resize(len as usize, 0);
            reader.read_exact(&mut buf).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => UploadError::InputChanged {
                    expected: g.size,
                    got: index * g.segment_size,
                },
                _ => UploadError::Io(e),
            })?;
            enc.push_segment(&buf)?;
            // The blocks go to the network as they are, without a copy.
            let blocks = enc
                .take_blocks(|| pool.take())
                .into_iter()
                .map(|b| {
                    if index == 0 {
                        // The header rides with block 0.
                        let mut m = BytesMut::with_capacity(header_bytes.len() + b.len());
                        m.extend_from_slice(&header_bytes);
                        m.extend_from_slice(&b);
                        m.freeze()
                    } else {
                        pool.wrap(b)
                    }
                })
                .collect();
            let seg = Segment {
                index,
                plain_len: len,
                blocks,
            };
            if tx.blocking_send(seg).is_err() {
                // The writer gave up; its error is the one to report.
                return Err(UploadError::TaskFailed);
            }
            index += 1;
        }
        Ok(enc.finish()?)
    });

    let failed: Mutex<BTreeMap<usize, ClientError>> = Mutex::new(BTreeMap::new());
    let bk: &[Bucket<C>] = buckets;
    let data_off = header.offsets.data;
    let stream = Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|s| (s, rx))
    }));
    let mut writes = stream
        .map(|seg: Segment| {
            let failed = &failed;
            async move {
                let offset = if seg.index == 0 {
                    0
                } else {
                    data_off + seg.index * g.block_size
                };
                let seg = &seg;
                join_all(bk.iter().enumerate().flat_map(|(i, b)| {
                    b.allocated.iter().map(move |&sh| async move {
                        if b.failed || failed.lock().map(|f| f.contains_key(&i)).unwrap_or(true) {
                            return;
                        }
                        let data = seg.blocks[usize::from(sh)].clone();
                        if let Err(e) = b
                            .server
                            .client
                            .write_share(si, sh, &b.secret, offset, data)
                            .await
                        {
                            if let Ok(mut f) = failed.lock() {
                                f.entry(i).or_insert(e);
                            }
                        }
                    })
                }))
                .await;
                seg.plain_len
            }
        })
        .buffered(SEGMENTS_AHEAD);
    let mut done = 0u64;
    while let Some(n) = writes.next().await {
        done += n;
        opts.report(Progress::Uploading {
            done,
            total: g.size,
        });
    }
    drop(writes);
    let file = encoder.await.map_err(|_| UploadError::TaskFailed)??;
    let failed = failed.into_inner().unwrap_or_default();
    let mut failures = Vec::new();
    for (i, e) in failed {
        if let Some(b) = buckets.get_mut(i) {
            b.failed = true;
            tracing::warn!(server = %b.server.id, error = %e, "write failed");
            failures.push(ServerFailure {
                server: b.server.id.clone(),
                error: e.into(),
            });
        }
    }
    Ok((file, failures))
}
