//! The client facade: one object that turns caps and paths into grid
//! operations, for the CLI, the web API, the checker and the benchmarks.
//!
//! ## What it owns
//!
//! * the current grid, swappable while operations run (the introducer
//!   replaces it as servers come and go; an operation keeps the grid it
//!   started with);
//! * the node's settings: encoding parameters, convergence secret, format
//!   of new mutable files ([`ClientConfig`], loaded by
//!   [`Client::from_nodedir`]);
//! * a lazily started RSA [`KeyPool`];
//! * the directories it wrote lately ([`Client::dirnode`]): a
//!   [`Dirnode`] remembers the version it published, so the next edit of
//!   the same directory through this client is one round trip;
//! * Tahoe's dirnode semantics over paths: resolve `cap/a/b/c`, list,
//!   link with `replace` = yes / no / only-files, unlink, rename and relink
//!   across directories, put at a path creating intermediate directories
//!   (overwriting a mutable file in place), and deep walks (manifest, deep
//!   stats).
//!
//! ## What it must never do
//!
//! Lose another writer's directory edit (every edit is a
//! [`Dirnode::modify`], re-applied on a lost race); store a child's write
//! cap where only a read cap was given; drop a child of an unknown cap kind
//! when rewriting a directory (children travel as raw bytes); follow a
//! directory cycle forever in a deep walk (storage indexes are remembered).
//!
//! ## Data flow
//!
//! ```text
//! cap + "a/b/c" ─► resolve: list(cap) ─► child "a" ─► list ─► … ─► Node
//! put at path:   mkdir -p parent ─► upload (CHK | SDMF | MDMF) ─► link
//! link/unlink:   parent write cap ─► Dirnode::modify(edit) (retries races)
//! deep walk:     BFS over directories ─► ManifestEntry per node ─► DeepStats
//! ```

use crate::dirnode::{link_metadata, now, DirError, Dirnode};
use crate::mutable::publish::{create, overwrite, private_key, PublishOptions};
use crate::mutable::{backoff, retrieve, servermap, KeyPool, MutableError};
use crate::nodedir::{self, ClientConfig, ConfigError};
use crate::{
    download, upload, upload_unseekable, DownloadError, DownloadOptions, Grid, HttpClient, KeyMode,
    ProgressFn, StorageClient, UploadError, UploadOptions,
};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use lafs_format::cap::{parse_child, Cap, ChildCap, FileCap, MutableFormat, SskWriteCap};
use lafs_format::dirnode::{pack, unpack, Child, DirKind, DirnodeError, PackKind};
use lafs_format::mutable::{KeyChain, PrivateKey, Version};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Seek};
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// Why a facade operation failed. Each variant is one thing the web API
/// maps to one status code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Uploading an immutable file failed.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// Downloading an immutable file failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// A mutable-file operation failed.
    #[error(transparent)]
    Mutable(#[from] MutableError),
    /// A directory body does not parse, or children do not pack.
    #[error(transparent)]
    Dirnode(#[from] DirnodeError),
    /// The path names nothing.
    #[error("no such child: {path:?}")]
    NoSuchChild {
        /// The path up to and including the missing name.
        path: String,
    },
    /// A path went through something that is not a directory.
    #[error("{path:?} is not a directory")]
    NotADirectory {
        /// The path of the non-directory.
        path: String,
    },
    /// A file operation was given a directory.
    #[error("{path:?} is a directory")]
    IsADirectory {
        /// The path (or cap) of the directory.
        path: String,
    },
    /// A child exists and replacing it was not allowed.
    #[error("a child named {name:?} already exists")]
    ChildExists {
        /// The name.
        name: String,
    },
    /// The operation needs write authority the cap does not carry.
    #[error("{what} is read-only")]
    ReadOnly {
        /// What was read-only (a path or "the cap").
        what: String,
    },
    /// A verify cap cannot be read.
    #[error("a verify cap cannot be read")]
    VerifyCap,
    /// The child's cap is of a kind this version does not know.
    #[error("{path:?} has a cap of unknown kind")]
    UnknownCap {
        /// The path of the child.
        path: String,
    },
    /// The operation needs a name and the path has none (e.g. unlinking
    /// the root).
    #[error("the path is empty")]
    EmptyPath,
    /// A byte range outside a mutable file.
    #[error("range {start}..{end} is outside the file of {size} bytes")]
    BadRange {
        /// Start.
        start: u64,
        /// End (exclusive).
        end: u64,
        /// File size.
        size: u64,
    },
    /// A directory edit lost the race with other writers too many times.
    #[error("gave up after {0} uncoordinated-write retries")]
    TooManyRetries(u32),
    /// Mutable child in an immutable directory (mkdir-immutable).
    #[error("child {name:?} is not deep-immutable")]
    NotImmutable {
        /// The child's name.
        name: String,
    },
    /// Reading local input failed.
    #[error("reading input: {0}")]
    Io(#[from] std::io::Error),
    /// A background task died.
    #[error("internal task failed")]
    TaskFailed,
}

impl From<DirError> for Error {
    fn from(e: DirError) -> Self {
        match e {
            DirError::Mutable(m) => Error::Mutable(m),
            DirError::Format(f) => Error::Dirnode(f),
            DirError::ChildExists(name) => Error::ChildExists { name },
            DirError::NoSuchChild(path) => Error::NoSuchChild { path },
            DirError::TooManyRetries(n) => Error::TooManyRetries(n),
        }
    }
}

/// What the next version of a mutable file holds.
enum Change {
    /// Entirely new contents.
    Replace(Vec<u8>),
    /// The old contents with `data` written at `offset`.
    Update { offset: u64, data: Vec<u8> },
}

/// Bytes of a file, streamed.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// What to do when the name being linked already exists (Tahoe's
/// `replace=` / `overwrite=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Replace {
    /// Replace any existing child (Tahoe's default).
    #[default]
    Yes,
    /// Refuse with [`Error::ChildExists`].
    No,
    /// Replace files, refuse directories (`replace=only-files`).
    OnlyFiles,
}

/// What kind of file to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Immutable (`URI:CHK:` or `URI:LIT:`).
    Chk,
    /// Mutable SDMF (`URI:SSK:`).
    Sdmf,
    /// Mutable MDMF (`URI:MDMF:`).
    Mdmf,
}

impl FileFormat {
    /// Parse Tahoe's `format=` values (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "chk" => Some(FileFormat::Chk),
            "sdmf" => Some(FileFormat::Sdmf),
            "mdmf" => Some(FileFormat::Mdmf),
            _ => None,
        }
    }
    fn mutable(self) -> Option<MutableFormat> {
        match self {
            FileFormat::Chk => None,
            FileFormat::Sdmf => Some(MutableFormat::Sdmf),
            FileFormat::Mdmf => Some(MutableFormat::Mdmf),
        }
    }
}

/// A child caps as a directory stores them: raw bytes, so that caps of
/// unknown kinds survive a move untouched.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkCaps {
    /// Write cap (secret), if any.
    pub rw: Option<Vec<u8>>,
    /// Read cap, if any.
    pub ro: Option<Vec<u8>>,
}

impl std::fmt::Debug for LinkCaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkCaps")
            .field("rw", &self.rw.as_ref().map(|_| "<redacted>"))
            .field("ro", &self.ro.as_ref().map(|r| String::from_utf8_lossy(r)))
            .finish()
    }
}

impl LinkCaps {
    /// How Tahoe links a node: its write cap (if it has one) and its read
    /// cap. Immutable files and read-only caps have no write cap.
    pub fn of(cap: &Cap) -> Self {
        let ro = cap.readonly().to_string().into_bytes();
        let rw = (!cap.is_readonly()).then(|| cap.to_string().into_bytes());
        LinkCaps { rw, ro: Some(ro) }
    }

    /// The most authoritative cap, parsed (write cap if present and
    /// known, else the read cap).
    pub fn cap(&self) -> ChildCap {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if let Some(rw) = &self.rw {
            if let ChildCap::Known(c) = parse_child(&text(rw), false) {
                return ChildCap::Known(c);
            }
        }
        match (&self.ro, &self.rw) {
            (Some(ro), _) => parse_child(&text(ro), false),
            (None, Some(rw)) => parse_child(&text(rw), false),
            (None, None) => parse_child("", false),
        }
    }
}

/// One entry of a directory.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its name (NFC).
    pub name: String,
    /// Its caps as stored.
    pub caps: LinkCaps,
    /// The parsed cap ([`LinkCaps::cap`]).
    pub cap: ChildCap,
    /// Link metadata (`{"tahoe": {"linkcrtime", "linkmotime"}}`, …).
    pub metadata: Map<String, Value>,
}

impl Entry {
    fn from_child(c: Child) -> Self {
        let caps = LinkCaps {
            rw: c.rw_uri.as_ref().map(|r| r.to_vec()),
            ro: c.ro_uri.clone(),
        };
        Entry {
            name: c.name,
            cap: caps.cap(),
            caps,
            metadata: c.metadata,
        }
    }
    /// Whether this child is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(&self.cap, ChildCap::Known(c) if c.is_dir())
    }
}

/// What a path resolved to.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node's cap (the strongest its parent gave).
    pub cap: Cap,
    /// The link metadata in its parent; `None` for the root.
    pub metadata: Option<Map<String, Value>>,
}

/// A directory's contents as read.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Children in name order.
    pub entries: Vec<Entry>,
    /// Size of the directory body in bytes (Tahoe's directory size).
    pub size: u64,
}

/// One node reached by a deep walk.
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    /// Names from the root (empty for the root itself).
    pub path: Vec<String>,
    /// The node's cap.
    pub cap: ChildCap,
}

impl ManifestEntry {
    /// Tahoe's manifest `type`: `"directory"`, `"file"` or `"unknown"`.
    pub fn kind(&self) -> &'static str {
        match &self.cap {
            ChildCap::Known(c) if c.is_dir() => "directory",
            ChildCap::Known(_) => "file",
            ChildCap::Unknown(_) => "unknown",
        }
    }
}

/// Tahoe's deep-stats (`dirnode.DeepStats`): counts, sizes and a file-size
/// histogram in buckets `(0,0), (1,3), (4,10), (11,31), (32,100), …`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeepStats {
    /// Counters by Tahoe key (`count-files`, `size-directories`, …).
    pub counts: BTreeMap<&'static str, u64>,
    /// `(min, max) → count`, for `size-files-histogram`.
    pub histogram: BTreeMap<(u64, u64), u64>,
}

/// Keys of [`DeepStats::counts`], all present (0 when nothing counted),
/// in the order Tahoe lists them.
pub const DEEP_STATS_KEYS: [&str; 12] = [
    "count-immutable-files",
    "count-mutable-files",
    "count-literal-files",
    "count-files",
    "count-directories",
    "count-unknown",
    "size-immutable-files",
    "size-literal-files",
    "size-directories",
    "largest-directory",
    "largest-directory-children",
    "largest-immutable-file",
];

impl DeepStats {
    fn new() -> Self {
        DeepStats {
            counts: DEEP_STATS_KEYS.iter().map(|k| (*k, 0)).collect(),
            histogram: BTreeMap::new(),
        }
    }
    fn add(&mut self, k: &'static str, v: u64) {
        *self.counts.entry(k).or_default() += v;
    }
    fn max(&mut self, k: &'static str, v: u64) {
        let e = self.counts.entry(k).or_default();
        *e = (*e).max(v);
    }
    fn file_size(&mut self, size: u64) {
        *self.histogram.entry(size_bucket(size)).or_default() += 1;
    }
    /// The JSON Tahoe's `t=start-deep-stats` returns: every counter, and
    /// `size-files-histogram` as sorted `[min, max, count]` triples.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.counts {
            m.insert((*k).into(), Value::from(*v));
        }
        let h: Vec<Value> = self
            .histogram
            .iter()
            .map(|((lo, hi), n)| Value::from(vec![*lo, *hi, *n]))
            .collect();
        m.insert("size-files-histogram".into(), Value::from(h));
        Value::Object(m)
    }
}

/// Tahoe's histogram bucket of `size`: `(0,0)`, `(1,3)`, then each next
/// bucket from `prev_max+1` to `next_power_of_k(prev_max+1, sqrt(10))`,
/// two per decade. Float arithmetic as in Python, so the bounds match.
pub fn size_bucket(size: u64) -> (u64, u64) {
    if size == 0 {
        return (0, 0);
    }
    let root = 10f64.sqrt();
    let (mut lo, mut hi) = (1u64, 3u64);
    // Bounded: each bucket at least doubles hi, so ≤ 64 rounds for u64.
    for _ in 0..128 {
        if size <= hi {
            return (lo, hi);
        }
        lo = hi + 1;
        hi = next_power_of_k(lo, root).max(lo);
    }
    (lo, u64::MAX)
}

/// `allmydata.util.mathutil.next_power_of_k` with a float `k`.
fn next_power_of_k(n: u64, k: f64) -> u64 {
    let nf = n as f64;
    let x = (nf.ln() / k.ln() + 0.5).floor();
    let p = k.powf(x);
    let p = if p < nf { k.powf(x + 1.0) } else { p };
    // Python's int() truncates.
    p as u64
}

/// Split a `/`-separated path into names, dropping empty components
/// (leading, trailing and doubled slashes), as Tahoe's web API does.
pub fn split_path(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfc().collect()
}

/// The facade. `C` is how servers are reached ([`HttpClient`] for a
/// node, [`crate::LocalClient`] in tests).
pub struct Client<C: StorageClient> {
    grid: RwLock<Arc<Grid<C>>>,
    config: ClientConfig,
    pool: OnceLock<KeyPool>,
    /// Directories opened or created lately, most recent first (at most
    /// [`DIRNODE_CACHE`]), each with the grid it was opened on.
    dirs: Mutex<Vec<OpenDir<C>>>,
}

/// A directory a [`Client`] keeps open, with the grid it was opened on.
type OpenDir<C> = (Arc<Grid<C>>, Arc<Dirnode<C>>);

/// Directories a [`Client`] keeps open. Each holds its last body (a
/// directory of a few thousand children is a few hundred KiB) and its
/// signing key; a running node edits few directories at a time.
pub const DIRNODE_CACHE: usize = 32;

impl<C: StorageClient> std::fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("servers", &self.grid().servers().len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client<HttpClient> {
    /// A client from a Tahoe-style node directory: `tahoe.cfg [client]`,
    /// `private/convergence`, `private/secret`, `private/servers.yaml`.
    pub fn from_nodedir(dir: &Path) -> Result<Self, ConfigError> {
        Self::from_nodedir_with_servers(dir, None)
    }

    /// As [`Client::from_nodedir`], with another servers.yaml.
    pub fn from_nodedir_with_servers(
        dir: &Path,
        servers: Option<&Path>,
    ) -> Result<Self, ConfigError> {
        let nd = nodedir::load(dir)?;
        let path = servers.unwrap_or(&nd.servers_yaml);
        let grid = nodedir::grid_from_file(path, nd.lease_secret)?;
        Ok(Client::new(grid, nd.config))
    }

    /// A client with no node directory, from a servers.yaml alone: random
    /// lease secret (its leases cannot be renewed by a later run) and
    /// random-key uploads.
    pub fn from_servers_file(servers: &Path) -> Result<Self, ConfigError> {
        let mut secret = [0u8; 32];
        // An RNG failure leaves zeros: leases then share a guessable
        // secret, which only lets others renew or cancel them.
        let _ = getrandom::fill(&mut secret);
        let grid = nodedir::grid_from_file(servers, crate::LeaseSecret::new(secret.to_vec()))?;
        Ok(Client::new(grid, ClientConfig::default()))
    }
}

impl<C: StorageClient> Client<C> {
    /// A client over `grid` with `config`.
    pub fn new(grid: Grid<C>, config: ClientConfig) -> Self {
        Client {
            grid: RwLock::new(Arc::new(grid)),
            config,
            pool: OnceLock::new(),
            dirs: Mutex::new(Vec::new()),
        }
    }

    /// Keep `size` RSA keys generated ahead (a long-running node wants
    /// this; one-shot commands keep the default 0). Call before the first
    /// mutable create.
    pub fn with_key_pool(mut self, size: usize) -> Self {
        self.config.key_pool_size = size;
        self
    }

    /// The current grid (operations keep the one they started with).
    pub fn grid(&self) -> Arc<Grid<C>> {
        self.grid.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replace the grid (new servers apply to operations started later).
    pub fn set_grid(&self, g: Arc<Grid<C>>) {
        *self.grid.write().unwrap_or_else(|p| p.into_inner()) = g;
    }

    /// The writable directory `w`, shared with earlier operations on it
    /// through this client: an edit then starts from the version this
    /// client published last, if no one else wrote since (one round trip;
    /// see [`crate::dirnode`]). Safe to use from concurrent tasks.
    pub fn dirnode(&self, w: &SskWriteCap) -> Arc<Dirnode<C>> {
        let grid = self.grid();
        let cap = Cap::Dir(FileCap::SskWrite(w.clone()));
        let mut dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        // What a Dirnode remembers names servers of its grid: entries made
        // before the grid changed are dropped.
        dirs.retain(|(g, _)| Arc::ptr_eq(g, &grid));
        let d = match dirs.iter().position(|(_, d)| d.cap() == cap) {
            Some(i) => dirs.remove(i).1,
            None => Arc::new(Dirnode::open(&grid, w)),
        };
        dirs.insert(0, (grid, d.clone()));
        dirs.truncate(DIRNODE_CACHE);
        d
    }

    /// Keep `d`, made on `grid`, for [`Client::dirnode`].
    fn keep_dirnode(&self, grid: Arc<Grid<C>>, d: Dirnode<C>) {
        let cap = d.cap();
        let mut dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        dirs.retain(|(g, x)| Arc::ptr_eq(g, &grid) && x.cap() != cap);
        dirs.insert(0, (grid, Arc::new(d)));
        dirs.truncate(DIRNODE_CACHE);
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Immutable upload options for this node (convergent when it has a
    /// convergence secret).
    pub fn upload_options(&self, progress: Option<ProgressFn>) -> UploadOptions {
        UploadOptions {
            params: self.config.params,
            key: match &self.config.convergence {
                Some(c) => KeyMode::Convergent(c.clone()),
                None => KeyMode::Random,
            },
            progress,
        }
    }

    fn publish_options(&self, format: MutableFormat) -> PublishOptions {
        let p = &self.config.params;
        PublishOptions {
            version: match format {
                MutableFormat::Sdmf => Version::Sdmf,
                MutableFormat::Mdmf => Version::Mdmf,
            },
            // Mutable shares number at most 255; k ≤ N was checked at load.
            k: u8::try_from(p.needed).unwrap_or(u8::MAX),
            n: u8::try_from(p.total).unwrap_or(u8::MAX),
        }
    }

    /// Start filling the key pool now (when `key_pool_size > 0`), so that
    /// the first create after a node starts does not wait for a key. Must
    /// be called inside a tokio runtime; later calls do nothing.
    pub fn start_key_pool(&self) {
        if self.config.key_pool_size > 0 {
            self.pool
                .get_or_init(|| KeyPool::new(self.config.key_pool_size));
        }
    }

    /// A fresh RSA-2048 key: from the pool when `key_pool_size > 0`
    /// (started on first use, inside the caller's runtime), else generated
    /// now on a blocking thread.
    pub async fn new_key(&self) -> Result<Arc<PrivateKey>, Error> {
        if self.config.key_pool_size > 0 {
            let pool = self
                .pool
                .get_or_init(|| KeyPool::new(self.config.key_pool_size));
            return Ok(Arc::new(pool.take().await?));
        }
        let k = tokio::task::spawn_blocking(PrivateKey::generate)
            .await
            .map_err(|_| Error::TaskFailed)?
            .map_err(MutableError::Key)?;
        Ok(Arc::new(k))
    }

    // ------------------------------------------------------------ files

    /// Upload an immutable file from a seekable reader (read twice).
    pub async fn upload_immutable<R>(
        &self,
        reader: R,
        progress: Option<ProgressFn>,
    ) -> Result<Cap, Error>
    where
        R: Read + Seek + Send + 'static,
    {
        let g = self.grid();
        let r = upload(&g, reader, &self.upload_options(progress)).await?;
        Ok(Cap::File(r.cap))
    }

    /// Upload an immutable file from a pipe (spooled to a temporary file).
    pub async fn upload_immutable_stream<R>(
        &self,
        reader: R,
        progress: Option<ProgressFn>,
    ) -> Result<Cap, Error>
    where
        R: Read + Send + 'static,
    {
        let g = self.grid();
        let r = upload_unseekable(&g, reader, &self.upload_options(progress)).await?;
        Ok(Cap::File(r.cap))
    }

    /// Upload bytes as `format` (immutable, or a new mutable file).
    pub async fn upload_bytes(&self, data: Vec<u8>, format: FileFormat) -> Result<Cap, Error> {
        match format.mutable() {
            None => {
                self.upload_immutable(std::io::Cursor::new(data), None)
                    .await
            }
            Some(m) => self.create_mutable(data, m, None).await,
        }
    }

    /// Create a mutable file holding `data`; `key` as Tahoe's
    /// `private-key=` (else a fresh one). Returns its write cap.
    pub async fn create_mutable(
        &self,
        data: Vec<u8>,
        format: MutableFormat,
        key: Option<Arc<PrivateKey>>,
    ) -> Result<Cap, Error> {
        let key = match key {
            Some(k) => k,
            None => self.new_key().await?,
        };
        let g = self.grid();
        let p = create(&g, key, data, self.publish_options(format)).await?;
        Ok(Cap::File(FileCap::SskWrite(SskWriteCap {
            format,
            writekey: p.writekey,
            fingerprint: p.fingerprint,
        })))
    }

    /// Replace the contents of the mutable file `cap` (a write cap) with
    /// `data`, keeping its format, k and N. Another writer's concurrent
    /// publish is retried over (last writer wins, as in Tahoe).
    pub async fn overwrite_mutable(&self, cap: &Cap, data: Vec<u8>) -> Result<u64, Error> {
        self.new_mutable_version(cap, Change::Replace(data)).await
    }

    /// Write `data` at byte `offset` of the mutable file `cap` (a write
    /// cap), as Tahoe's `MutableFileVersion.update` (web API `PUT
    /// $FILECAP?offset=N`): MDMF rewrites only the segments the write
    /// touches, SDMF is read, spliced and republished whole. `offset` may
    /// be the current size (an append) but not beyond it. Returns the new
    /// sequence number.
    pub async fn update_mutable(
        &self,
        cap: &Cap,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<u64, Error> {
        self.new_mutable_version(cap, Change::Update { offset, data })
            .await
    }

    /// Publish the next version of the mutable file `cap`, retrying over
    /// another writer's concurrent publish.
    async fn new_mutable_version(&self, cap: &Cap, change: Change) -> Result<u64, Error> {
        let w = match cap {
            Cap::File(FileCap::SskWrite(w)) => w,
            Cap::Dir(_) => {
                return Err(Error::IsADirectory {
                    path: "the cap".into(),
                })
            }
            _ => {
                return Err(Error::ReadOnly {
                    what: "the cap".into(),
                })
            }
        };
        let g = self.grid();
        let keys = KeyChain::from_writekey(w.writekey.clone(), w.fingerprint);
        let mut key: Option<Arc<PrivateKey>> = None;
        let mut last = None;
        for attempt in 0..=crate::dirnode::DEFAULT_MAX_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let map = servermap::update(&g, &keys).await;
            let Some((_, header, _)) = map.best_recoverable() else {
                // Nothing recoverable yet: let retrieve say why (or retry
                // if writers are mid-publish).
                match retrieve(&g, &keys).await {
                    Ok(_) => continue,
                    Err(e) if e.is_transient() => {
                        last = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            let opts = PublishOptions {
                version: header.version,
                k: header.k,
                n: header.n,
            };
            let k = match &key {
                Some(k) => k.clone(),
                None => {
                    let k = Arc::new(private_key(&g, &keys, &map).await?);
                    key = Some(k.clone());
                    k
                }
            };
            let r = match &change {
                Change::Replace(data) => overwrite(&g, k, &map, data.clone(), opts).await,
                Change::Update { offset, data } => {
                    crate::mutable::update(&g, k, &map, *offset, data).await
                }
            };
            match r {
                Ok(p) => return Ok(p.seqnum),
                Err(e) if e.is_transient() => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.map_or(
            Error::TooManyRetries(crate::dirnode::DEFAULT_MAX_RETRIES),
            Error::from,
        ))
    }

    /// The whole plaintext of a mutable file (any of its caps but the
    /// verifier).
    pub async fn read_mutable(&self, cap: &FileCap) -> Result<Vec<u8>, Error> {
        let keys = mutable_keys(cap)?;
        let g = self.grid();
        Ok(retrieve(&g, &keys).await?.0.plaintext)
    }

    /// The size of a file: from the cap for immutable files, by reading
    /// the newest version for mutable ones.
    pub async fn file_size(&self, cap: &FileCap) -> Result<u64, Error> {
        match cap {
            FileCap::Lit(l) => Ok(l.data.len() as u64),
            FileCap::ChkRead(c) => Ok(c.size),
            FileCap::ChkVerify(c) => Ok(c.size),
            // The newest recoverable version's header says; no data read.
            FileCap::SskWrite(_) | FileCap::SskRead(_) | FileCap::SskVerify(_) => {
                let keys = mutable_keys(cap)?;
                let g = self.grid();
                let map = servermap::update(&g, &keys).await;
                match map.best_recoverable() {
                    Some((_, h, _)) => Ok(h.data_length),
                    None => Err(retrieve(&g, &keys)
                        .await
                        .err()
                        .unwrap_or(MutableError::NotFound)
                        .into()),
                }
            }
        }
    }

    /// Stream `range` (the whole file if `None`) of any file cap.
    /// Immutable files stream segment by segment; a mutable file is
    /// retrieved whole, then sliced.
    pub async fn download(
        &self,
        cap: &Cap,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, Error> {
        let f = match cap {
            Cap::File(f) => f,
            Cap::Dir(_) => {
                return Err(Error::IsADirectory {
                    path: "the cap".into(),
                })
            }
        };
        match f {
            FileCap::Lit(_) | FileCap::ChkRead(_) => {
                let g = self.grid();
                let s = download(&g, f, range, DownloadOptions::default()).await?;
                Ok(Box::pin(s.map(|r| r.map_err(Error::from))))
            }
            FileCap::SskWrite(_) | FileCap::SskRead(_) => {
                let data = self.read_mutable(f).await?;
                let size = data.len() as u64;
                let r = range.unwrap_or(0..size);
                if r.start > r.end || r.end > size {
                    return Err(Error::BadRange {
                        start: r.start,
                        end: r.end,
                        size,
                    });
                }
                // In range by the check above.
                let b = Bytes::from(data).slice(r.start as usize..r.end as usize);
                Ok(Box::pin(futures::stream::iter(
                    (!b.is_empty()).then_some(Ok(b)),
                )))
            }
            FileCap::ChkVerify(_) | FileCap::SskVerify(_) => Err(Error::VerifyCap),
        }
    }

    /// A whole file in memory (tests, small files).
    pub async fn download_to_vec(&self, cap: &Cap) -> Result<Vec<u8>, Error> {
        let mut s = self.download(cap, None).await?;
        let mut out = Vec::new();
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b?);
        }
        Ok(out)
    }

    // ------------------------------------------------------------ directories

    /// Create a mutable directory (format from the config if `None`),
    /// optionally with children and a given signing key.
    pub async fn mkdir(
        &self,
        format: Option<MutableFormat>,
        children: &[(String, LinkCaps)],
        key: Option<Arc<PrivateKey>>,
    ) -> Result<Cap, Error> {
        let format = format.unwrap_or(self.config.mutable_format);
        let key = match key {
            Some(k) => k,
            None => self.new_key().await?,
        };
        let g = self.grid();
        let opts = self.publish_options(format);
        let d = Dirnode::create_with_children(&g, key, &new_children(children), opts).await?;
        let cap = d.cap();
        self.keep_dirnode(g, d);
        Ok(cap)
    }

    /// Create an immutable directory (`URI:DIR2-CHK:` or `URI:DIR2-LIT:`);
    /// every child must be deep-immutable, as Tahoe requires.
    pub async fn mkdir_immutable(&self, children: &[(String, LinkCaps)]) -> Result<Cap, Error> {
        for (name, caps) in children {
            let text = caps.ro.as_deref().or(caps.rw.as_deref()).unwrap_or(&[]);
            let ok = matches!(
                parse_child(&String::from_utf8_lossy(text), true),
                ChildCap::Known(_)
            );
            if !ok || caps.rw.is_some() {
                return Err(Error::NotImmutable { name: name.clone() });
            }
        }
        let body = pack(&new_children(children), PackKind::Immutable)?;
        let g = self.grid();
        let r = upload(&g, std::io::Cursor::new(body), &self.upload_options(None)).await?;
        Ok(Cap::Dir(r.cap))
    }

    /// Read a directory.
    pub async fn list(&self, dir: &Cap) -> Result<Listing, Error> {
        let f = match dir {
            Cap::Dir(f) => f,
            Cap::File(_) => {
                return Err(Error::NotADirectory {
                    path: "the cap".into(),
                })
            }
        };
        let (body, kind_wk) = match f {
            FileCap::SskWrite(w) => {
                let keys = KeyChain::from_writekey(w.writekey.clone(), w.fingerprint);
                let g = self.grid();
                (
                    retrieve(&g, &keys).await?.0.plaintext,
                    Some(w.writekey.clone()),
                )
            }
            FileCap::SskRead(_) => (self.read_mutable(f).await?, None),
            FileCap::Lit(l) => (l.data.clone(), None),
            FileCap::ChkRead(_) => (self.download_to_vec(&Cap::File(f.clone())).await?, None),
            FileCap::ChkVerify(_) | FileCap::SskVerify(_) => return Err(Error::VerifyCap),
        };
        let kind = match (f.is_mutable(), &kind_wk) {
            (true, wk) => DirKind::Mutable(wk.as_ref()),
            (false, _) => DirKind::Immutable,
        };
        let mut entries: Vec<Entry> = unpack(&body, kind)?
            .into_iter()
            .map(Entry::from_child)
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Listing {
            entries,
            size: body.len() as u64,
        })
    }

    /// Follow `path` (names separated by `/`) from `root`.
    pub async fn resolve(&self, root: &Cap, path: &str) -> Result<Node, Error> {
        let mut node = Node {
            cap: root.clone(),
            metadata: None,
        };
        let mut walked = String::new();
        for name in split_path(path) {
            let name = nfc(name);
            if !node.cap.is_dir() {
                return Err(Error::NotADirectory {
                    path: walked.clone(),
                });
            }
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(&name);
            let listing = self.list(&node.cap).await?;
            let e = listing
                .entries
                .into_iter()
                .find(|e| e.name == name)
                .ok_or_else(|| Error::NoSuchChild {
                    path: walked.clone(),
                })?;
            node = Node {
                cap: match e.cap {
                    ChildCap::Known(c) => c,
                    ChildCap::Unknown(_) => {
                        return Err(Error::UnknownCap {
                            path: walked.clone(),
                        })
                    }
                },
                metadata: Some(e.metadata),
            };
        }
        Ok(node)
    }

    /// The writable directory at `path` below `root`.
    async fn writable_dir(&self, root: &Cap, path: &str) -> Result<Arc<Dirnode<C>>, Error> {
        let node = self.resolve(root, path).await?;
        let shown = || {
            if path.is_empty() {
                "the directory".to_string()
            } else {
                path.to_string()
            }
        };
        match node.cap {
            Cap::Dir(FileCap::SskWrite(w)) => Ok(self.dirnode(&w)),
            Cap::Dir(_) => Err(Error::ReadOnly { what: shown() }),
            Cap::File(_) => Err(Error::NotADirectory { path: shown() }),
        }
    }

    /// Link `caps` as `path` (the last name in it) below `root`, with
    /// Tahoe's link metadata; `replace` decides about an existing child.
    /// Returns whether a child was replaced.
    pub async fn link(
        &self,
        root: &Cap,
        path: &str,
        caps: &LinkCaps,
        replace: Replace,
    ) -> Result<bool, Error> {
        let (parent, name) = parent_and_name(path)?;
        let d = self.writable_dir(root, parent).await?;
        link_in(&d, &name, caps, replace).await
    }

    /// Link several children into the directory at `dir_path` below
    /// `root` in one publish (Tahoe's `t=set_children`); `replace` applies
    /// to each. Returns how many existing children were replaced.
    pub async fn link_many(
        &self,
        root: &Cap,
        dir_path: &str,
        children: &[(String, LinkCaps)],
        replace: Replace,
    ) -> Result<usize, Error> {
        let d = self.writable_dir(root, dir_path).await?;
        let mut replaced = 0;
        d.modify(|kids| {
            replaced = 0;
            for (name, caps) in children {
                replaced += usize::from(set_child(kids, &nfc(name), caps, replace)?);
            }
            Ok(())
        })
        .await?;
        Ok(replaced)
    }

    /// Remove the child at `path`; returns what was there.
    pub async fn unlink(&self, root: &Cap, path: &str) -> Result<Entry, Error> {
        let (parent, name) = parent_and_name(path)?;
        let d = self.writable_dir(root, parent).await?;
        let mut removed = None;
        d.modify(|children| {
            let i = children
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| DirError::NoSuchChild(name.clone()))?;
            removed = Some(children.remove(i));
            Ok(())
        })
        .await?;
        removed
            .map(Entry::from_child)
            .ok_or(Error::NoSuchChild { path: path.into() })
    }

    /// Move `from` to `to` (both paths below `root`), Tahoe's `mv` /
    /// `t=relink`: within one directory a single rename; across
    /// directories link at the target first, then unlink the source, so a
    /// failure never loses the child. Link metadata moves with it.
    pub async fn rename(
        &self,
        root: &Cap,
        from: &str,
        to_root: &Cap,
        to: &str,
        replace: Replace,
    ) -> Result<(), Error> {
        let (fp, fname) = parent_and_name(from)?;
        let (tp, tname) = parent_and_name(to)?;
        let src = self.writable_dir(root, fp).await?;
        let dst = self.writable_dir(to_root, tp).await?;
        if src.cap() == dst.cap() {
            if fname == tname {
                return Ok(());
            }
            let mut missing = false;
            src.modify(|children| {
                let Some(i) = children.iter().position(|c| c.name == fname) else {
                    missing = true;
                    return Err(DirError::NoSuchChild(fname.clone()));
                };
                if let Some(j) = children.iter().position(|c| c.name == tname) {
                    check_replace(&children[j], replace, &tname)?;
                }
                let old = children.remove(i);
                children.retain(|c| c.name != tname);
                children.push(Child::new(
                    &tname,
                    old.rw_uri.as_deref().map(Vec::as_slice),
                    old.ro_uri.as_deref(),
                    link_metadata(Some(&old.metadata), now()),
                ));
                Ok(())
            })
            .await?;
            return Ok(());
        }
        let listing = self.list(&src.cap()).await?;
        let e = listing
            .entries
            .into_iter()
            .find(|e| e.name == fname)
            .ok_or_else(|| Error::NoSuchChild { path: from.into() })?;
        link_in(&dst, &tname, &e.caps, replace).await?;
        match self.unlink(root, from).await {
            // Another writer removed it meanwhile: the move still happened.
            Ok(_) | Err(Error::NoSuchChild { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `mkdir -p`: the directory at `path` below `root`, creating each
    /// missing one (format from the config). Returns its cap.
    pub async fn mkdir_p(&self, root: &Cap, path: &str) -> Result<Cap, Error> {
        self.mkdir_p_with_format(root, path, None).await
    }

    /// [`Client::mkdir_p`] creating new directories as `format` (the
    /// config's if `None`).
    pub async fn mkdir_p_with_format(
        &self,
        root: &Cap,
        path: &str,
        format: Option<MutableFormat>,
    ) -> Result<Cap, Error> {
        let mut cur = root.clone();
        let mut walked = String::new();
        for name in split_path(path) {
            let name = nfc(name);
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(&name);
            let existing = match self.resolve(&cur, &name).await {
                Ok(n) => Some(n.cap),
                Err(Error::NoSuchChild { .. }) => None,
                Err(e) => return Err(e),
            };
            cur = match existing {
                Some(c) if c.is_dir() => c,
                Some(_) => return Err(Error::NotADirectory { path: walked }),
                None => {
                    let new = self.mkdir(format, &[], None).await?;
                    let d = match &cur {
                        Cap::Dir(FileCap::SskWrite(w)) => self.dirnode(w),
                        _ => return Err(Error::ReadOnly { what: walked }),
                    };
                    // Refuse to replace: if a racing writer made the same
                    // directory first, use theirs.
                    match link_in(&d, &name, &LinkCaps::of(&new), Replace::No).await {
                        Ok(_) => new,
                        Err(Error::ChildExists { .. }) => self.resolve(&cur, &name).await?.cap,
                        Err(e) => return Err(e),
                    }
                }
            };
        }
        Ok(cur)
    }

    /// Tahoe's `PUT /uri/$DIRCAP/path`: write `data` at `path` below
    /// `root`, creating intermediate directories. A mutable file already
    /// there (with a write cap) is overwritten in place and keeps its cap;
    /// otherwise a new file of `format` is linked (replacing per
    /// `replace`). Returns the file's cap.
    pub async fn put(
        &self,
        root: &Cap,
        path: &str,
        data: Vec<u8>,
        format: FileFormat,
        replace: Replace,
    ) -> Result<Cap, Error> {
        let (parent, name) = parent_and_name(path)?;
        let dir = self.mkdir_p(root, parent).await?;
        match self.resolve(&dir, &name).await {
            Ok(Node {
                cap: c @ Cap::File(FileCap::SskWrite(_)),
                ..
            }) if replace != Replace::No => {
                self.overwrite_mutable(&c, data).await?;
                return Ok(c);
            }
            Ok(Node { cap, .. }) if cap.is_dir() && replace != Replace::Yes => {
                return Err(Error::ChildExists { name })
            }
            Ok(_) if replace == Replace::No => return Err(Error::ChildExists { name }),
            Ok(_) | Err(Error::NoSuchChild { .. }) => {}
            Err(e) => return Err(e),
        }
        let cap = self.upload_bytes(data, format).await?;
        self.link(&dir, &name, &LinkCaps::of(&cap), replace).await?;
        Ok(cap)
    }

    /// Link an already uploaded `cap` at `path`, creating intermediate
    /// directories (`tahoe cp`, `tahoe put` of a streamed file).
    pub async fn put_cap(
        &self,
        root: &Cap,
        path: &str,
        cap: &Cap,
        replace: Replace,
    ) -> Result<(), Error> {
        let (parent, name) = parent_and_name(path)?;
        let dir = self.mkdir_p(root, parent).await?;
        self.link(&dir, &name, &LinkCaps::of(cap), replace).await?;
        Ok(())
    }

    /// Every node reachable from `root` as Tahoe's `deep_traverse` visits
    /// them: depth first, the root first, then in each directory its
    /// non-directory children (name order) before descending into its
    /// subdirectories (name order). A node whose verify cap was already
    /// seen is skipped (so a cycle ends, and a file linked twice appears
    /// once); LIT nodes have no verify cap and always appear. Returns the
    /// manifest and Tahoe's deep stats.
    pub async fn deep_walk(&self, root: &Cap) -> Result<(Vec<ManifestEntry>, DeepStats), Error> {
        let mut out = Vec::new();
        let stats = self.deep_walk_with(root, &mut |e| out.push(e)).await?;
        Ok((out, stats))
    }

    /// [`Client::deep_walk`], handing each entry to `on_entry` as the walk
    /// reaches it (for `t=stream-manifest`, which answers line by line).
    /// Entries already handed over stay valid when a later directory
    /// fails to list.
    pub async fn deep_walk_with(
        &self,
        root: &Cap,
        on_entry: &mut (dyn FnMut(ManifestEntry) + Send),
    ) -> Result<DeepStats, Error> {
        let mut stats = DeepStats::new();
        let mut found: HashSet<String> = HashSet::new();
        if let Some(v) = root.verifier() {
            found.insert(v.to_string());
        }
        on_entry(ManifestEntry {
            path: Vec::new(),
            cap: ChildCap::Known(root.clone()),
        });
        if !root.is_dir() {
            count_file(&mut stats, root.file());
            return Ok(stats);
        }
        stats.add("count-directories", 1);
        // Directories still to enter; the top is the next one.
        let mut stack: Vec<(Vec<String>, Cap)> = vec![(Vec::new(), root.clone())];
        while let Some((path, dir)) = stack.pop() {
            // Tahoe adds a directory when it enters it, so a directory
            // follows the whole subtree of its elder siblings.
            if !path.is_empty() {
                stats.add("count-directories", 1);
                on_entry(ManifestEntry {
                    path: path.clone(),
                    cap: ChildCap::Known(dir.clone()),
                });
            }
            let listing = self.list(&dir).await?;
            stats.add("size-directories", listing.size);
            stats.max("largest-directory", listing.size);
            stats.max("largest-directory-children", listing.entries.len() as u64);
            let mut dirkids = Vec::new();
            for e in listing.entries {
                let mut p = path.clone();
                p.push(e.name.clone());
                let c = match e.cap {
                    ChildCap::Known(c) => c,
                    unknown @ ChildCap::Unknown(_) => {
                        stats.add("count-unknown", 1);
                        on_entry(ManifestEntry {
                            path: p,
                            cap: unknown,
                        });
                        continue;
                    }
                };
                if let Some(v) = c.verifier() {
                    if !found.insert(v.to_string()) {
                        continue;
                    }
                }
                if c.is_dir() {
                    dirkids.push((p, c));
                } else {
                    count_file(&mut stats, c.file());
                    on_entry(ManifestEntry {
                        path: p,
                        cap: ChildCap::Known(c),
                    });
                }
            }
            // Entered in name order: push reversed so the first is on top.
            for (p, c) in dirkids.into_iter().rev() {
                stack.push((p, c));
            }
        }
        Ok(stats)
    }
}

/// Tahoe's `DeepStats.add_node` for a file.
fn count_file(stats: &mut DeepStats, f: &FileCap) {
    stats.add("count-files", 1);
    match f {
        FileCap::Lit(l) => {
            let size = l.data.len() as u64;
            stats.add("count-literal-files", 1);
            stats.add("size-literal-files", size);
            stats.file_size(size);
        }
        FileCap::ChkRead(c) => {
            stats.add("count-immutable-files", 1);
            stats.add("size-immutable-files", c.size);
            stats.max("largest-immutable-file", c.size);
            stats.file_size(c.size);
        }
        // Tahoe counts mutable files without sizing them.
        _ if f.is_mutable() => stats.add("count-mutable-files", 1),
        _ => {}
    }
}

/// The key chain of a mutable read or write cap.
fn mutable_keys(cap: &FileCap) -> Result<KeyChain, Error> {
    match cap {
        FileCap::SskWrite(w) => Ok(KeyChain::from_writekey(w.writekey.clone(), w.fingerprint)),
        FileCap::SskRead(r) => Ok(KeyChain::from_readkey(r.readkey.clone(), r.fingerprint)),
        _ => Err(Error::VerifyCap),
    }
}

fn new_children(children: &[(String, LinkCaps)]) -> Vec<Child> {
    let t = now();
    children
        .iter()
        .map(|(name, caps)| {
            Child::new(
                name,
                caps.rw.as_deref(),
                caps.ro.as_deref(),
                link_metadata(None, t),
            )
        })
        .collect()
}

/// Split `a/b/c` into (`a/b`, `c`); the name NFC-normalized.
fn parent_and_name(path: &str) -> Result<(&str, String), Error> {
    let trimmed = path.trim_end_matches('/');
    let (parent, name) = match trimmed.rfind('/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    if name.is_empty() {
        return Err(Error::EmptyPath);
    }
    Ok((parent, nfc(name)))
}

/// Whether an existing child may be replaced under `replace`.
fn check_replace(existing: &Child, replace: Replace, name: &str) -> Result<(), DirError> {
    let is_dir = || {
        let caps = LinkCaps {
            rw: existing.rw_uri.as_ref().map(|r| r.to_vec()),
            ro: existing.ro_uri.clone(),
        };
        matches!(caps.cap(), ChildCap::Known(c) if c.is_dir())
    };
    match replace {
        Replace::Yes => Ok(()),
        Replace::No => Err(DirError::ChildExists(name.into())),
        Replace::OnlyFiles if is_dir() => Err(DirError::ChildExists(name.into())),
        Replace::OnlyFiles => Ok(()),
    }
}

/// Link `name` → `caps` in `d`. Linking the same caps again is a no-op (a
/// retried edit that already landed succeeds). Returns whether a
/// different child was replaced.
async fn link_in<C: StorageClient>(
    d: &Dirnode<C>,
    name: &str,
    caps: &LinkCaps,
    replace: Replace,
) -> Result<bool, Error> {
    let mut replaced = false;
    d.modify(|children| {
        replaced = set_child(children, name, caps, replace)?;
        Ok(())
    })
    .await?;
    Ok(replaced)
}

/// One link edit on a children list: add, keep (same caps), or replace
/// per `replace`, with Tahoe's link metadata. Returns whether a different
/// child was replaced.
fn set_child(
    children: &mut Vec<Child>,
    name: &str,
    caps: &LinkCaps,
    replace: Replace,
) -> Result<bool, DirError> {
    let t = now();
    let rw = caps.rw.as_deref();
    let ro = caps.ro.as_deref();
    match children.iter_mut().find(|c| c.name == name) {
        Some(c) if c.rw_uri.as_deref().map(Vec::as_slice) == rw && c.ro_uri.as_deref() == ro => {
            Ok(false)
        }
        Some(c) => {
            check_replace(c, replace, name)?;
            let md = link_metadata(Some(&c.metadata), t);
            *c = Child::new(name, rw, ro, md);
            Ok(true)
        }
        None => {
            children.push(Child::new(name, rw, ro, link_metadata(None, t)));
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_tahoe() {
        // DeepStats.which_bucket in Tahoe 1.20.
        let want = [
            (0, (0, 0)),
            (1, (1, 3)),
            (3, (1, 3)),
            (4, (4, 10)),
            (10, (4, 10)),
            (11, (11, 31)),
            (32, (32, 100)),
            (101, (101, 316)),
            (317, (317, 1000)),
            (1001, (1001, 3162)),
            (3163, (3163, 10000)),
        ];
        for (size, b) in want {
            assert_eq!(size_bucket(size), b, "size {size}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(split_path("/a//b/"), vec!["a", "b"]);
        assert!(split_path("").is_empty());
        assert!(matches!(parent_and_name(""), Err(Error::EmptyPath)));
        let (p, n) = parent_and_name("a/b/c").unwrap_or(("x", String::new()));
        assert_eq!((p, n.as_str()), ("a/b", "c"));
        let (p, n) = parent_and_name("c/").unwrap_or(("x", String::new()));
        assert_eq!((p, n.as_str()), ("", "c"));
    }
}
