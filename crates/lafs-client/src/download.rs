//! Verifying, streaming, random-access CHK download (spec §4.4, §4.5).
//!
//! ```text
//! list_shares on every server at once ─► candidates in answer order
//! activate k shares with distinct numbers, fastest first:
//!   header (0x44 bytes) ─► chain + UEB (one read) ∥ block-tree root (32 bytes)
//!   UEB hash == cap; UEB fields agree with the cap; offsets match the geometry;
//!   block-tree root chains to the UEB's share root at leaf shnum
//! per segment (at most `depth` segments in flight):
//!   each active share: block + the block-tree uncles not yet proven
//!   ─► block hash chains to the share's block-tree root
//!   crypttext-tree uncles ─► zfec ─► segment hash chains to the UEB root
//!   ─► AES-CTR at the segment's offset ─► the stream
//! ```
//!
//! A request error or a corrupt block retires that share for the rest of
//! the download and activates the next candidate; the segment is retried
//! with the new share only, never restarted. Corruption is reported to the
//! server (`advise_corrupt`). Hash-tree nodes are fetched only as far as a
//! segment needs them; proven nodes are kept (a few KiB for any file), so
//! a sequential read fetches about one uncle per segment per share.
//!
//! Memory: `depth` segments (k blocks in, one segment out) plus the
//! channel to the consumer — a few MiB whatever the file size. The
//! whole-file `crypttext_hash` of the UEB is not checked (Tahoe 1.20's
//! downloader does not either); every segment is checked against the tree.

use crate::grid::{Grid, GridServer};
use crate::{ClientError, DownloadError, ServerFailure, ServerProblem, StorageClient};
use bytes::Bytes;
use futures::future::join_all;
use futures::{Stream, StreamExt};
use lafs_fec::Codec;
use lafs_format::aes::AesCtr;
use lafs_format::cap::{ChkReadCap, FileCap};
use lafs_format::chk::layout::{chain_records, CHAIN_RECORD_LEN};
use lafs_format::chk::{Geometry, LayoutVersion, ShareHeader};
use lafs_format::hash::{block_hash, crypttext_segment_hash, ueb_hash, Hash};
use lafs_format::hashtree::{tree_len, PartialHashTree};
use lafs_format::keys::{ct_eq, StorageIndex};
use lafs_format::ueb::Ueb;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Download knobs.
#[derive(Debug, Clone, Copy)]
pub struct DownloadOptions {
    /// Segments fetched ahead of the consumer.
    pub depth: usize,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            depth: 3,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Bytes the first UEB read fetches past the length field (UEBs written by
/// Tahoe are ~300–500 bytes; longer ones cost one more read).
const UEB_GUESS: u64 = 1024;

/// Stream the bytes of `cap` in `range` (the whole file if `None`).
/// Errors that prevent starting are returned at once; later ones end the
/// stream with an `Err` item. Needs a tokio runtime.
pub async fn download<C: StorageClient>(
    grid: &Grid<C>,
    cap: &FileCap,
    range: Option<Range<u64>>,
    opts: DownloadOptions,
) -> Result<impl Stream<Item = Result<Bytes, DownloadError>> + Send + 'static, DownloadError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, DownloadError>>(2);
    match cap {
        FileCap::Lit(l) => {
            let size = l.data.len() as u64;
            let r = check_range(range, size)?;
            let data = Bytes::copy_from_slice(&l.data[r.start as usize..r.end as usize]);
            if !data.is_empty() {
                let _ = tx.send(Ok(data)).await;
            }
        }
        FileCap::ChkRead(c) => {
            let r = check_range(range, c.size)?;
            let ctx = Arc::new(Ctx::new(grid.clone(), c.clone(), opts));
            ctx.start().await?;
            tokio::spawn(run(ctx, r, tx));
        }
        other => return Err(DownloadError::UnsupportedCap(kind(other))),
    }
    Ok(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|x| (x, rx))
    }))
}

/// Download into memory (tests and small files).
pub async fn download_to_vec<C: StorageClient>(
    grid: &Grid<C>,
    cap: &FileCap,
    range: Option<Range<u64>>,
) -> Result<Vec<u8>, DownloadError> {
    let mut s = Box::pin(download(grid, cap, range, DownloadOptions::default()).await?);
    let mut out = Vec::new();
    while let Some(b) = s.next().await {
        out.extend_from_slice(&b?);
    }
    Ok(out)
}

fn kind(c: &FileCap) -> &'static str {
    match c {
        FileCap::Lit(_) => "LIT",
        FileCap::ChkRead(_) => "CHK",
        FileCap::ChkVerify(_) => "CHK verify cap",
        FileCap::SskWrite(_) | FileCap::SskRead(_) => "mutable cap",
        FileCap::SskVerify(_) => "mutable verify cap",
    }
}

fn check_range(range: Option<Range<u64>>, size: u64) -> Result<Range<u64>, DownloadError> {
    let r = range.unwrap_or(0..size);
    if r.start > r.end || r.end > size {
        return Err(DownloadError::BadRange {
            start: r.start,
            end: r.end,
            size,
        });
    }
    Ok(r)
}

/// What the first good UEB told us (identical for every share: its hash is
/// in the cap).
#[derive(Debug)]
struct FileInfo {
    g: Geometry,
}

/// A share being read.
struct Active<C> {
    server: Arc<GridServer<C>>,
    shnum: u16,
    header: ShareHeader,
    block_tree: Mutex<PartialHashTree>,
    /// The share's whole block hash tree and crypttext hash tree as stored
    /// (unverified: a node is trusted only once `verify_leaf` chains it to
    /// a root), read at activation when small, so no segment costs a
    /// round trip per uncle. `None`: fetch uncles per segment.
    trees: Option<(Bytes, Bytes)>,
}

/// Largest hash tree (bytes) read whole at activation: 8192 segments,
/// 8 GiB at 1 MiB segments; a bigger file reads uncles per segment.
const WHOLE_TREE_MAX: u64 = 32 * (2 * 8192 - 1);

/// Hash nodes `need` from a whole stored tree.
fn nodes_from(tree: &[u8], need: &[usize]) -> Result<BTreeMap<usize, Hash>, Fail> {
    need.iter()
        .map(|&i| {
            tree.get(32 * i..32 * i + 32)
                .and_then(|b| Hash::try_from(b).ok())
                .map(|h| (i, h))
                .ok_or_else(|| Fail::Corrupt(format!("hash node {i} truncated")))
        })
        .collect()
}

struct State<C> {
    active: Vec<Arc<Active<C>>>,
    candidates: VecDeque<(Arc<GridServer<C>>, u16)>,
    failures: Vec<ServerFailure>,
}

struct Ctx<C> {
    grid: Grid<C>,
    cap: ChkReadCap,
    si: StorageIndex,
    opts: DownloadOptions,
    file: OnceLock<FileInfo>,
    state: tokio::sync::Mutex<State<C>>,
    ct_tree: Mutex<PartialHashTree>,
}

enum Fail {
    Request(ClientError),
    Corrupt(String),
}

impl From<ClientError> for Fail {
    fn from(e: ClientError) -> Self {
        Fail::Request(e)
    }
}

impl<C: StorageClient> Ctx<C> {
    fn new(grid: Grid<C>, cap: ChkReadCap, opts: DownloadOptions) -> Self {
        let si = cap.storage_index();
        Ctx {
            grid,
            si,
            opts,
            file: OnceLock::new(),
            state: tokio::sync::Mutex::new(State {
                active: Vec::new(),
                candidates: VecDeque::new(),
                failures: Vec::new(),
            }),
            ct_tree: Mutex::new(PartialHashTree::new(1, [0; 32])),
            cap,
        }
    }

    async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        match tokio::time::timeout(self.opts.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout),
        }
    }

    async fn read(&self, a: &Active<C>, off: u64, len: u64) -> Result<Bytes, ClientError> {
        self.timed(a.server.client.read_share(self.si, a.shnum, off, len))
            .await
    }

    /// Find shares and activate k of them; returns the file info.
    async fn start(&self) -> Result<(), DownloadError> {
        let servers = self.grid.permuted(&self.si);
        let mut answers = futures::stream::iter(servers.into_iter().map(|s| async move {
            let r = self.timed(s.client.list_shares(self.si)).await;
            (s, r)
        }))
        .buffer_unordered(usize::MAX);
        {
            let mut st = self.state.lock().await;
            // Answer order = fastest servers first.
            while let Some((s, r)) = answers.next().await {
                match r {
                    Ok(shares) => st
                        .candidates
                        .extend(shares.into_iter().map(|sh| (s.clone(), sh))),
                    Err(e) => st.failures.push(ServerFailure {
                        server: s.id.clone(),
                        error: e.into(),
                    }),
                }
            }
            // Spread over servers: one share per server first.
            let mut seen = std::collections::BTreeSet::new();
            let (first, rest): (Vec<_>, Vec<_>) = st
                .candidates
                .drain(..)
                .partition(|(s, _)| seen.insert(s.id.clone()));
            st.candidates = first.into_iter().chain(rest).collect();
        }
        self.fill(0).await?;
        Ok(())
    }

    /// Bring the active set up to k shares with distinct numbers.
    async fn fill(&self, segment: u64) -> Result<Vec<Arc<Active<C>>>, DownloadError> {
        let k = usize::from(self.cap.needed);
        let mut st = self.state.lock().await;
        while st.active.len() < k {
            let want = k - st.active.len();
            let mut batch = Vec::new();
            while batch.len() < want {
                let Some((s, sh)) = st.candidates.pop_front() else {
                    break;
                };
                let dup =
                    st.active.iter().any(|a| a.shnum == sh) || batch.iter().any(|(_, b)| *b == sh);
                if !dup {
                    batch.push((s, sh));
                }
            }
            if batch.is_empty() {
                return Err(DownloadError::NotEnoughShares {
                    segment,
                    found: st.active.len(),
                    needed: self.cap.needed,
                    failures: std::mem::take(&mut st.failures),
                });
            }
            let results = join_all(batch.into_iter().map(|(s, sh)| async move {
                let r = self.activate(&s, sh).await;
                (s, sh, r)
            }))
            .await;
            for (s, sh, r) in results {
                match r {
                    Ok(a) => st.active.push(Arc::new(a)),
                    Err(f) => self.record(&mut st, &s, sh, f),
                }
            }
        }
        Ok(st.active.clone())
    }

    fn record(&self, st: &mut State<C>, s: &Arc<GridServer<C>>, shnum: u16, f: Fail) {
        let error = match f {
            Fail::Request(e) => ServerProblem::Request(e),
            Fail::Corrupt(reason) => {
                tracing::warn!(server = %s.id, shnum, %reason, "corrupt share");
                let s2 = s.clone();
                let si = self.si;
                let why = reason.clone();
                // Fire and forget: the advisory must not slow the download.
                tokio::spawn(async move {
                    let _ = s2.client.advise_corrupt(si, shnum, &why).await;
                });
                ServerProblem::Corrupt { shnum, reason }
            }
        };
        st.failures.push(ServerFailure {
            server: s.id.clone(),
            error,
        });
    }

    async fn retire(&self, a: &Arc<Active<C>>, f: Fail) {
        let mut st = self.state.lock().await;
        let before = st.active.len();
        st.active.retain(|x| !Arc::ptr_eq(x, a));
        if st.active.len() != before {
            self.record(&mut st, &a.server, a.shnum, f);
        }
    }

    /// Read and verify everything a share needs before its blocks.
    async fn activate(&self, s: &Arc<GridServer<C>>, shnum: u16) -> Result<Active<C>, Fail> {
        let si = self.si;
        let rd = |off: u64, len: u64| self.timed(s.client.read_share(si, shnum, off, len));
        let hb = rd(0, ShareHeader::MAX_LEN as u64).await?;
        let header = ShareHeader::parse(&hb).map_err(|e| Fail::Corrupt(format!("header: {e}")))?;
        let o = header.offsets;
        let lf = header.version.ueb_length_field_len() as u64;
        let tail_len = (o.uri_extension - o.share_hashes) + lf + UEB_GUESS;
        // Both trees have this size (checked below against the geometry).
        let tree_len = o.share_hashes.saturating_sub(o.block_hashes);
        let whole = (32..=WHOLE_TREE_MAX).contains(&tree_len)
            && o.block_hashes.checked_sub(o.crypttext_hash_tree) == Some(tree_len);
        let (tail, bt, ct) = if whole {
            futures::join!(
                rd(o.share_hashes, tail_len),
                rd(o.block_hashes, tree_len),
                rd(o.crypttext_hash_tree, tree_len)
            )
        } else {
            let (t, r) = futures::join!(rd(o.share_hashes, tail_len), rd(o.block_hashes, 32));
            (t, r, Ok(Bytes::new()))
        };
        let (tail, bt, ct) = (tail?, bt?, ct?);
        if whole && (bt.len() as u64 != tree_len || ct.len() as u64 != tree_len) {
            return Err(Fail::Corrupt("hash trees truncated".into()));
        }
        let root = bt.slice(..bt.len().min(32));
        let trees = whole.then_some((bt, ct));
        let chain_len = (o.uri_extension - o.share_hashes) as usize;
        if tail.len() < chain_len + lf as usize || root.len() != 32 {
            return Err(Fail::Corrupt("share truncated".into()));
        }
        let ueb_len = match header.version {
            LayoutVersion::V1 => u64::from(u32::from_be_bytes(
                tail[chain_len..chain_len + 4]
                    .try_into()
                    .map_err(|_| Fail::Corrupt("ueb length".into()))?,
            )),
            LayoutVersion::V2 => u64::from_be_bytes(
                tail[chain_len..chain_len + 8]
                    .try_into()
                    .map_err(|_| Fail::Corrupt("ueb length".into()))?,
            ),
        };
        let ueb_start = chain_len + lf as usize;
        let ueb_bytes: Bytes = if ueb_len <= UEB_GUESS {
            if tail.len() < ueb_start + ueb_len as usize {
                return Err(Fail::Corrupt("UEB truncated".into()));
            }
            tail.slice(ueb_start..ueb_start + ueb_len as usize)
        } else if ueb_len > 1 << 20 {
            return Err(Fail::Corrupt("UEB length absurd".into()));
        } else {
            let b = rd(o.uri_extension + lf, ueb_len).await?;
            if b.len() as u64 != ueb_len {
                return Err(Fail::Corrupt("UEB truncated".into()));
            }
            b
        };
        if !ct_eq(&ueb_hash(&ueb_bytes), &self.cap.ueb_hash) {
            return Err(Fail::Corrupt("UEB hash does not match the cap".into()));
        }
        let ueb = Ueb::parse(&ueb_bytes).map_err(|e| Fail::Corrupt(format!("UEB: {e}")))?;
        let g = check_ueb(&self.cap, &ueb).map_err(Fail::Corrupt)?;
        check_offsets(&header, &g).map_err(Fail::Corrupt)?;
        let nrec = chain_records(usize::from(self.cap.total));
        if chain_len != nrec * CHAIN_RECORD_LEN {
            return Err(Fail::Corrupt(
                "share hash chain has the wrong length".into(),
            ));
        }
        let chain: BTreeMap<usize, Hash> = tail[..chain_len]
            .chunks_exact(CHAIN_RECORD_LEN)
            .map(|r| {
                let mut h = [0u8; 32];
                h.copy_from_slice(&r[2..]);
                (usize::from(u16::from_be_bytes([r[0], r[1]])), h)
            })
            .collect();
        let mut rootb = [0u8; 32];
        rootb.copy_from_slice(&root);
        let mut st = PartialHashTree::new(usize::from(self.cap.total), ueb.share_root_hash);
        st.verify_leaf(usize::from(shnum), rootb, &chain)
            .map_err(|e| Fail::Corrupt(format!("share hash chain: {e}")))?;
        let nseg = g.num_segments as usize;
        // The first good UEB fixes the file's shape for everyone.
        if self.file.get().is_none() {
            if let Ok(mut ct) = self.ct_tree.lock() {
                if self.file.get().is_none() {
                    *ct = PartialHashTree::new(nseg, ueb.crypttext_root_hash);
                    let _ = self.file.set(FileInfo { g });
                }
            }
        }
        Ok(Active {
            server: s.clone(),
            shnum,
            header,
            block_tree: Mutex::new(PartialHashTree::new(nseg, rootb)),
            trees,
        })
    }

    /// Fetch and verify one block of `a`, with the uncles it needs.
    async fn block(&self, a: &Active<C>, g: &Geometry, s: u64) -> Result<Bytes, Fail> {
        let need = a
            .block_tree
            .lock()
            .map(|t| t.needed_for_leaf(s as usize))
            .unwrap_or_default();
        let bl = g.block_len(s);
        let off = a.header.offsets.data + s * g.block_size;
        let bh = a.header.offsets.block_hashes;
        let (block, extra) = match &a.trees {
            Some((bt, _)) => (self.read(a, off, bl).await, nodes_from(bt, &need)?),
            None => {
                let (block, nodes) = futures::join!(
                    self.read(a, off, bl),
                    join_all(need.iter().map(|&i| self.read(a, bh + 32 * i as u64, 32)))
                );
                (block, to_nodes(&need, nodes)?)
            }
        };
        let block = block?;
        if block.len() as u64 != bl {
            return Err(Fail::Corrupt(format!("block {s} truncated")));
        }
        let h = block_hash(&block);
        let mut t = a
            .block_tree
            .lock()
            .map_err(|_| Fail::Corrupt("poisoned".into()))?;
        t.verify_leaf(s as usize, h, &extra)
            .map_err(|e| Fail::Corrupt(format!("block {s}: {e}")))?;
        Ok(block)
    }

    /// Crypttext-tree uncles for segment `s`, from share `a`.
    async fn ct_uncles(
        &self,
        a: &Active<C>,
        s: u64,
    ) -> Result<(Vec<usize>, BTreeMap<usize, Hash>), Fail> {
        let need = self
            .ct_tree
            .lock()
            .map(|t| t.needed_for_leaf(s as usize))
            .unwrap_or_default();
        if let Some((_, ct)) = &a.trees {
            let m = nodes_from(ct, &need)?;
            return Ok((need, m));
        }
        let ct = a.header.offsets.crypttext_hash_tree;
        let nodes = join_all(need.iter().map(|&i| self.read(a, ct + 32 * i as u64, 32))).await;
        let m = to_nodes(&need, nodes)?;
        Ok((need, m))
    }

    /// Build segment `s` (ciphertext verified, then decrypted).
    async fn segment(self: &Arc<Self>, s: u64) -> Result<Bytes, DownloadError> {
        let info = self.file.get().ok_or(DownloadError::TaskFailed)?;
        let g = info.g;
        let k = usize::from(self.cap.needed);
        let mut have: BTreeMap<u16, Bytes> = BTreeMap::new();
        // Every pass either completes or retires a share, and candidates are
        // finite, so this ends; the cap bounds it regardless.
        for _ in 0..(4 * usize::from(self.cap.total) + 4) {
            let active = self.fill(s).await?;
            let todo: Vec<Arc<Active<C>>> = active
                .into_iter()
                .filter(|a| !have.contains_key(&a.shnum))
                .collect();
            let results = join_all(todo.iter().map(|a| self.block(a, &g, s))).await;
            for (a, r) in todo.iter().zip(results) {
                match r {
                    Ok(b) => {
                        have.insert(a.shnum, b);
                    }
                    Err(f) => self.retire(a, f).await,
                }
            }
            // Only blocks of still-active shares count (a share retired by a
            // parallel segment may have served us a good block: keep it).
            if have.len() >= k {
                break;
            }
        }
        if have.len() < k {
            let st = self.state.lock().await;
            return Err(DownloadError::NotEnoughShares {
                segment: s,
                found: have.len(),
                needed: self.cap.needed,
                failures: st.failures.iter().map(clone_failure).collect(),
            });
        }
        let blocks: Vec<(u16, Bytes)> = have.into_iter().take(k).collect();
        let cap = self.cap.clone();
        let seg = tokio::task::spawn_blocking(move || decode_segment(&cap, &g, s, &blocks))
            .await
            .map_err(|_| DownloadError::TaskFailed)??;
        // Verify against the crypttext tree, fetching uncles from active
        // shares until one share's copy of the tree proves it.
        let h = crypttext_segment_hash(&seg);
        let active = self.fill(s).await?;
        let mut proven = false;
        for a in &active {
            match self.ct_uncles(a, s).await {
                Ok((_, extra)) => {
                    let ok = self
                        .ct_tree
                        .lock()
                        .map(|mut t| t.verify_leaf(s as usize, h, &extra).is_ok())
                        .unwrap_or(false);
                    if ok {
                        proven = true;
                        break;
                    }
                }
                Err(f) => self.retire(a, f).await,
            }
        }
        if !proven {
            return Err(DownloadError::SegmentHash(s));
        }
        let mut seg = seg;
        let mut aes = AesCtr::new(self.cap.key.as_bytes());
        aes.seek(s * g.segment_size);
        aes.apply(&mut seg);
        Ok(Bytes::from(seg))
    }
}

fn clone_failure(f: &ServerFailure) -> ServerFailure {
    ServerFailure {
        server: f.server.clone(),
        error: match &f.error {
            ServerProblem::Corrupt { shnum, reason } => ServerProblem::Corrupt {
                shnum: *shnum,
                reason: reason.clone(),
            },
            other => ServerProblem::Corrupt {
                shnum: u16::MAX,
                reason: other.to_string(),
            },
        },
    }
}

fn to_nodes(
    need: &[usize],
    nodes: Vec<Result<Bytes, ClientError>>,
) -> Result<BTreeMap<usize, Hash>, Fail> {
    let mut m = BTreeMap::new();
    for (&i, n) in need.iter().zip(nodes) {
        let n = n?;
        let h: Hash = n
            .as_ref()
            .try_into()
            .map_err(|_| Fail::Corrupt(format!("hash node {i} truncated")))?;
        m.insert(i, h);
    }
    Ok(m)
}

/// A spawned task that is aborted when its handle is dropped (a download
/// dropped by its reader stops fetching the segments it had in flight).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn decode_segment(
    cap: &ChkReadCap,
    g: &Geometry,
    s: u64,
    blocks: &[(u16, Bytes)],
) -> Result<Vec<u8>, DownloadError> {
    let k = usize::from(cap.needed);
    let codec = Codec::cached(k, usize::from(cap.total))?;
    let bl = g.block_len(s) as usize;
    let seg_len = g.segment_len(s) as usize;
    let mut out = vec![0u8; bl * k];
    let inputs: Vec<(usize, &[u8])> = blocks
        .iter()
        .map(|(n, b)| (usize::from(*n), b.as_ref()))
        .collect();
    {
        let mut outs: Vec<&mut [u8]> = out.chunks_mut(bl.max(1)).take(k).collect();
        if bl > 0 {
            codec.decode(&inputs, &mut outs)?;
        }
    }
    out.truncate(seg_len);
    Ok(out)
}

fn check_ueb(cap: &ChkReadCap, ueb: &Ueb) -> Result<Geometry, String> {
    let g = Geometry::from_segment_size(cap.size, cap.needed, cap.total, ueb.segment_size)
        .map_err(|e| format!("UEB parameters: {e}"))?;
    let same = |v: Option<u64>, want: u64, name: &str| match v {
        Some(v) if v != want => Err(format!("UEB field {name} disagrees with the cap")),
        _ => Ok(()),
    };
    same(ueb.size, cap.size, "size")?;
    same(ueb.needed_shares, u64::from(cap.needed), "needed_shares")?;
    same(ueb.total_shares, u64::from(cap.total), "total_shares")?;
    same(ueb.num_segments, g.num_segments, "num_segments")?;
    Ok(g)
}

/// The sections must have exactly the sizes the geometry implies, so no
/// read lands outside the section it means.
pub(crate) fn check_offsets(h: &ShareHeader, g: &Geometry) -> Result<(), String> {
    let o = h.offsets;
    let tree = tree_len(g.num_segments as usize) as u64 * 32;
    let ok = o.data == h.version.header_len() as u64
        && o.plaintext_hash_tree >= o.data + g.share_size
        && o.block_hashes - o.crypttext_hash_tree == tree
        && o.share_hashes - o.block_hashes == tree;
    if ok {
        Ok(())
    } else {
        Err("share offsets disagree with the file's geometry".into())
    }
}

async fn run<C: StorageClient>(
    ctx: Arc<Ctx<C>>,
    r: Range<u64>,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, DownloadError>>,
) {
    let Some(info) = ctx.file.get() else { return };
    let g = info.g;
    if r.start == r.end {
        return;
    }
    let first = r.start / g.segment_size;
    let last = (r.end - 1) / g.segment_size;
    let c2 = ctx.clone();
    // Each segment is its own task, so that the segments in flight are
    // fetched, hashed and decoded on all worker threads; polled inside
    // this one task they verified on one core at a time (SHA-256 of every
    // block and segment is most of a download's CPU).
    let mut segs = futures::stream::iter(first..=last)
        .map(move |s| {
            let c = c2.clone();
            let task = AbortOnDrop(tokio::spawn(async move { c.segment(s).await }));
            async move {
                let res = task.await.unwrap_or(Err(DownloadError::TaskFailed));
                (s, res)
            }
        })
        .buffered(ctx.opts.depth.max(1));
    while let Some((s, res)) = segs.next().await {
        let item = res.map(|b| {
            let base = s * g.segment_size;
            let lo = r.start.saturating_sub(base) as usize;
            let hi = ((r.end - base) as usize).min(b.len());
            b.slice(lo..hi)
        });
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            return;
        }
    }
}
