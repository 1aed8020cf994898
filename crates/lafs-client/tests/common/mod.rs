//! An in-process grid with fault injection.
#![allow(dead_code)]

use bytes::Bytes;
use lafs_client::{ClientError, Grid, GridServer, LeaseSecret, LocalClient, StorageClient};
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex};
use lafs_storage::{
    Allocation, StorageServer, StorageServerOptions, UploadSecret, VersionInfo, WriteProgress,
};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How a server misbehaves.
#[derive(Debug, Default)]
pub struct Faults {
    /// Reads allowed before every request fails (negative: unlimited).
    pub reads_left: AtomicI64,
    /// Every request fails.
    pub dead: AtomicBool,
    /// Refuse allocations (answer as a full server does: nothing allocated).
    pub full: AtomicBool,
    /// Flip a byte in every block read (reads of more than 32 bytes past the header).
    pub corrupt_blocks: AtomicBool,
    /// Flip a byte in every read.
    pub corrupt_all: AtomicBool,
    /// Writes allowed before writes fail (negative: unlimited).
    pub writes_left: AtomicI64,
    /// Corruption advisories received.
    pub advisories: Mutex<Vec<(u16, String)>>,
    /// Mutable-share corruption advisories received.
    pub mutable_advisories: Mutex<Vec<(u16, String)>>,
    pub reads: AtomicUsize,
    /// Mutable share bytes read.
    pub mutable_read: AtomicU64,
    /// Mutable bytes sent in write vectors.
    pub mutable_written: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct Faulty {
    pub inner: LocalClient,
    pub faults: Arc<Faults>,
}

fn dead() -> ClientError {
    ClientError::Status { status: 503 }
}

impl Faulty {
    fn check(&self) -> Result<(), ClientError> {
        if self.faults.dead.load(Ordering::SeqCst) {
            return Err(dead());
        }
        Ok(())
    }
}

impl StorageClient for Faulty {
    async fn version(&self) -> Result<VersionInfo, ClientError> {
        self.check()?;
        self.inner.version().await
    }
    async fn allocate_buckets(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        upload_secret: &UploadSecret,
        share_numbers: &BTreeSet<u16>,
        allocated_size: u64,
    ) -> Result<Allocation, ClientError> {
        self.check()?;
        if self.faults.full.load(Ordering::SeqCst) {
            let have = self.inner.list_shares(si).await?;
            return Ok(Allocation {
                already_have: have,
                allocated: BTreeSet::new(),
            });
        }
        self.inner
            .allocate_buckets(
                si,
                renew,
                cancel,
                upload_secret,
                share_numbers,
                allocated_size,
            )
            .await
    }
    async fn write_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
        offset: u64,
        data: Bytes,
    ) -> Result<WriteProgress, ClientError> {
        self.check()?;
        if self.faults.writes_left.fetch_sub(1, Ordering::SeqCst) == 0 {
            self.faults.dead.store(true, Ordering::SeqCst);
            return Err(dead());
        }
        self.inner
            .write_share(si, shnum, upload_secret, offset, data)
            .await
    }
    async fn abort_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
    ) -> Result<(), ClientError> {
        // Aborts reach the engine even from a "dead" server so tests can
        // check nothing is left; a real dead server expires uploads itself.
        self.inner.abort_share(si, shnum, upload_secret).await
    }
    async fn list_shares(&self, si: StorageIndex) -> Result<BTreeSet<u16>, ClientError> {
        self.check()?;
        self.inner.list_shares(si).await
    }
    async fn read_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        self.check()?;
        self.faults.reads.fetch_add(1, Ordering::SeqCst);
        if self.faults.reads_left.fetch_sub(1, Ordering::SeqCst) == 0 {
            self.faults.dead.store(true, Ordering::SeqCst);
            return Err(dead());
        }
        let b = self.inner.read_share(si, shnum, offset, len).await?;
        let all = self.faults.corrupt_all.load(Ordering::SeqCst);
        let blocks =
            self.faults.corrupt_blocks.load(Ordering::SeqCst) && offset >= 0x24 && len > 32;
        if (all || blocks) && !b.is_empty() {
            let mut v = b.to_vec();
            v[0] ^= 0x55;
            return Ok(Bytes::from(v));
        }
        Ok(b)
    }
    async fn advise_corrupt(
        &self,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), ClientError> {
        if let Ok(mut a) = self.faults.advisories.lock() {
            a.push((shnum, reason.to_string()));
        }
        self.inner.advise_corrupt(si, shnum, reason).await
    }
    async fn add_lease(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
    ) -> Result<(), ClientError> {
        self.check()?;
        self.inner.add_lease(si, renew, cancel).await
    }
    async fn list_mutable_shares(&self, si: StorageIndex) -> Result<BTreeSet<u16>, ClientError> {
        self.check()?;
        self.inner.list_mutable_shares(si).await
    }
    async fn read_mutable_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        self.check()?;
        let b = self
            .inner
            .read_mutable_share(si, shnum, offset, len)
            .await?;
        self.faults
            .mutable_read
            .fetch_add(b.len() as u64, Ordering::SeqCst);
        Ok(b)
    }
    async fn advise_corrupt_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), ClientError> {
        if let Ok(mut a) = self.faults.mutable_advisories.lock() {
            a.push((shnum, reason.to_string()));
        }
        self.inner.advise_corrupt_mutable(si, shnum, reason).await
    }
    async fn mutable_test_and_write(
        &self,
        si: StorageIndex,
        write_enabler: &lafs_format::keys::WriteEnabler,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        test_write: std::collections::BTreeMap<u16, lafs_storage::TestWriteVectors>,
        read_vector: &[lafs_storage::ReadVector],
    ) -> Result<lafs_storage::TestWriteResult, ClientError> {
        self.check()?;
        let sent: usize = test_write
            .values()
            .flat_map(|v| v.write.iter().map(|w| w.data.len()))
            .sum();
        self.faults
            .mutable_written
            .fetch_add(sent as u64, Ordering::SeqCst);
        self.inner
            .mutable_test_and_write(si, write_enabler, renew, cancel, test_write, read_vector)
            .await
    }
}

pub struct TestGrid {
    pub grid: Grid<Faulty>,
    pub faults: Vec<Arc<Faults>>,
    pub engines: Vec<StorageServer>,
}

impl TestGrid {
    /// Mutable bytes read and sent over all servers since the last call.
    pub fn take_mutable_traffic(&self) -> (u64, u64) {
        self.faults.iter().fold((0, 0), |(r, w), f| {
            (
                r + f.mutable_read.swap(0, Ordering::SeqCst),
                w + f.mutable_written.swap(0, Ordering::SeqCst),
            )
        })
    }
}

/// The 20-byte id of test server `i`; `tag` keeps each suite's ids apart.
pub fn server_id(i: usize, tag: u8) -> ServerId20 {
    let mut id = [0u8; 20];
    id[0] = i as u8;
    id[19] = tag;
    ServerId20(id)
}

/// A plain in-process grid of `n` memory servers (no fault injection).
pub fn local_grid(n: usize, tag: u8, lease_secret: u8) -> Grid<LocalClient> {
    let servers = (0..n)
        .map(|i| {
            let id = server_id(i, tag);
            GridServer {
                id: format!("server-{i}"),
                permutation_seed: vec![i as u8; 32],
                lease_seed: id,
                client: LocalClient::new(StorageServer::in_memory(StorageServerOptions::new(id))),
            }
        })
        .collect();
    Grid::new(servers, LeaseSecret::new(vec![lease_secret; 32]))
}

/// A two-thread runtime for driving the async client from a test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn grid(n: usize) -> TestGrid {
    let mut servers = Vec::new();
    let mut faults = Vec::new();
    let mut engines = Vec::new();
    for i in 0..n {
        let id = server_id(i, 0xa5).0;
        let engine = StorageServer::in_memory(StorageServerOptions::new(ServerId20(id)));
        let f = Arc::new(Faults {
            reads_left: AtomicI64::new(-1),
            writes_left: AtomicI64::new(-1),
            ..Default::default()
        });
        servers.push(GridServer {
            id: format!("server-{i}"),
            permutation_seed: vec![i as u8; 32],
            lease_seed: ServerId20(id),
            client: Faulty {
                inner: LocalClient::new(engine.clone()),
                faults: f.clone(),
            },
        });
        faults.push(f);
        engines.push(engine);
    }
    TestGrid {
        grid: Grid::new(servers, LeaseSecret::new(vec![7; 32])),
        faults,
        engines,
    }
}

/// Deterministic test data.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One raw test-and-write of share `shnum` on server `server`, behind the
/// write enabler a client would use there.
pub async fn raw_test_write<C: StorageClient>(
    g: &Grid<C>,
    keys: &lafs_format::mutable::KeyChain,
    server: usize,
    shnum: u16,
    tw: lafs_storage::TestWriteVectors,
) -> lafs_storage::TestWriteResult {
    let s = &g.servers()[server];
    let wk = keys.writekey.as_ref().unwrap();
    let (renew, cancel) = s.lease_secrets(g.lease_secret(), &keys.storage_index);
    s.client
        .mutable_test_and_write(
            keys.storage_index,
            &lafs_format::keys::mutable::write_enabler(wk, &s.lease_seed),
            &renew,
            &cancel,
            [(shnum, tw)].into(),
            &[],
        )
        .await
        .unwrap()
}

/// One raw test-and-write of a whole share, as a Tahoe client (or a
/// publisher killed after this write) would leave it.
pub async fn raw_write<C: StorageClient>(
    g: &Grid<C>,
    keys: &lafs_format::mutable::KeyChain,
    server: usize,
    shnum: u16,
    test: Vec<lafs_storage::TestVector>,
    data: Vec<u8>,
) {
    let tw = lafs_storage::TestWriteVectors {
        test,
        write: vec![lafs_storage::WriteVector { offset: 0, data }],
        new_length: None,
    };
    assert!(raw_test_write(g, keys, server, shnum, tw).await.success);
}

/// Delete a mutable share (`new-length: 0`, spec §8.7).
pub async fn raw_delete<C: StorageClient>(
    g: &Grid<C>,
    keys: &lafs_format::mutable::KeyChain,
    server: usize,
    shnum: u16,
) {
    let tw = lafs_storage::TestWriteVectors {
        test: vec![],
        write: vec![],
        new_length: Some(0),
    };
    assert!(raw_test_write(g, keys, server, shnum, tw).await.success);
}

/// One lafs-http server over real TLS on a loopback port 0, backed by an
/// in-memory engine whose node id is `id`. Dropping (or sending on) the
/// returned sender stops it.
pub async fn https_server(
    i: u8,
    id: ServerId20,
) -> (
    lafs_http::Nurl,
    StorageServer,
    tokio::sync::oneshot::Sender<()>,
) {
    use lafs_http::server::{serve, HttpStorage};
    let ident = lafs_http::tls::Identity::generate("127.0.0.1").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let swiss = format!("swiss{i}abcdefghijklmnopqrstu");
    let engine = StorageServer::in_memory(StorageServerOptions::new(id));
    let storage = HttpStorage::new(
        engine.clone(),
        lafs_http::auth::Swissnum::new(swiss.clone()),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        ident.server_config().unwrap(),
        storage,
        async {
            let _ = rx.await;
        },
    ));
    let nurl = lafs_http::Nurl {
        spki_hash: ident.spki_hash().unwrap(),
        host: "127.0.0.1".into(),
        port,
        swissnum: swiss,
    };
    (nurl, engine, tx)
}

/// `n` in-process HTTPS servers and a grid of pinned [`lafs_client::HttpClient`]s
/// to them (must run inside a tokio runtime; the servers stop when the
/// returned senders drop).
pub async fn https_grid(
    n: usize,
    tag: u8,
    lease_secret: u8,
) -> (
    Grid<lafs_client::HttpClient>,
    Vec<StorageServer>,
    Vec<tokio::sync::oneshot::Sender<()>>,
) {
    let mut servers = Vec::new();
    let mut engines = Vec::new();
    let mut stops = Vec::new();
    for i in 0..n {
        let id = server_id(i, tag);
        let (nurl, engine, stop) = https_server(i as u8, id).await;
        servers.push(GridServer {
            id: format!("https-{i}"),
            permutation_seed: vec![i as u8; 32],
            lease_seed: id,
            client: lafs_client::HttpClient::new(nurl).unwrap(),
        });
        engines.push(engine);
        stops.push(stop);
    }
    (
        Grid::new(servers, LeaseSecret::new(vec![lease_secret; 32])),
        engines,
        stops,
    )
}
