//! Mutable publish and retrieve with dead servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use lafs_client::mutable::{create, overwrite, retrieve, servermap, MutableError};
use lafs_client::{ClientError, Grid, GridServer, LeaseSecret, LocalClient, StorageClient};
use lafs_format::keys::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, WriteEnabler,
};
use lafs_format::mutable::PrivateKey;
use lafs_storage::{
    Allocation, ReadVector, StorageServer, StorageServerOptions, TestWriteResult, TestWriteVectors,
    UploadSecret, VersionInfo, WriteProgress,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A server that can be switched off; only the mutable operations work.
struct Switch {
    inner: LocalClient,
    dead: Arc<AtomicBool>,
}

impl Switch {
    fn up(&self) -> Result<(), ClientError> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(ClientError::Status { status: 503 });
        }
        Ok(())
    }
}

const NO: ClientError = ClientError::Unsupported("immutable");

impl StorageClient for Switch {
    async fn version(&self) -> Result<VersionInfo, ClientError> {
        Err(NO)
    }
    async fn allocate_buckets(
        &self,
        _: StorageIndex,
        _: &LeaseRenewSecret,
        _: &LeaseCancelSecret,
        _: &UploadSecret,
        _: &BTreeSet<u16>,
        _: u64,
    ) -> Result<Allocation, ClientError> {
        Err(NO)
    }
    async fn write_share(
        &self,
        _: StorageIndex,
        _: u16,
        _: &UploadSecret,
        _: u64,
        _: Bytes,
    ) -> Result<WriteProgress, ClientError> {
        Err(NO)
    }
    async fn abort_share(
        &self,
        _: StorageIndex,
        _: u16,
        _: &UploadSecret,
    ) -> Result<(), ClientError> {
        Err(NO)
    }
    async fn list_shares(&self, _: StorageIndex) -> Result<BTreeSet<u16>, ClientError> {
        Err(NO)
    }
    async fn read_share(
        &self,
        _: StorageIndex,
        _: u16,
        _: u64,
        _: u64,
    ) -> Result<Bytes, ClientError> {
        Err(NO)
    }
    async fn advise_corrupt(&self, _: StorageIndex, _: u16, _: &str) -> Result<(), ClientError> {
        Err(NO)
    }
    async fn add_lease(
        &self,
        _: StorageIndex,
        _: &LeaseRenewSecret,
        _: &LeaseCancelSecret,
    ) -> Result<(), ClientError> {
        Err(NO)
    }
    async fn list_mutable_shares(&self, si: StorageIndex) -> Result<BTreeSet<u16>, ClientError> {
        self.up()?;
        self.inner.list_mutable_shares(si).await
    }
    async fn read_mutable_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        self.up()?;
        self.inner.read_mutable_share(si, shnum, offset, len).await
    }
    async fn mutable_test_and_write(
        &self,
        si: StorageIndex,
        we: &WriteEnabler,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        tw: BTreeMap<u16, TestWriteVectors>,
        rv: &[ReadVector],
    ) -> Result<TestWriteResult, ClientError> {
        self.up()?;
        self.inner
            .mutable_test_and_write(si, we, renew, cancel, tw, rv)
            .await
    }
}

fn grid(n: usize) -> (Grid<Switch>, Vec<Arc<AtomicBool>>) {
    let mut switches = Vec::new();
    let servers = (0..n)
        .map(|i| {
            let id = ServerId20([i as u8; 20]);
            let dead = Arc::new(AtomicBool::new(false));
            switches.push(dead.clone());
            GridServer {
                id: format!("server-{i}"),
                permutation_seed: vec![i as u8; 32],
                lease_seed: id,
                client: Switch {
                    inner: LocalClient::new(StorageServer::in_memory(StorageServerOptions::new(
                        id,
                    ))),
                    dead,
                },
            }
        })
        .collect();
    (Grid::new(servers, LeaseSecret::new(vec![3; 32])), switches)
}

#[test]
fn dead_servers_during_publish_and_read() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let (g, sw) = grid(12);
            let key = Arc::new(PrivateKey::generate().unwrap());
            let keys = key.key_chain();
            create(&g, key.clone(), b"v1".to_vec(), Default::default())
                .await
                .unwrap();
            // Two share holders die: reads still work from the others.
            let map = servermap::update(&g, &keys).await;
            let holders: Vec<usize> = map
                .versions
                .values()
                .next()
                .unwrap()
                .1
                .iter()
                .map(|l| l.server)
                .collect();
            sw[holders[0]].store(true, Ordering::SeqCst);
            sw[holders[1]].store(true, Ordering::SeqCst);
            assert_eq!(retrieve(&g, &keys).await.unwrap().0.plaintext, b"v1");
            // An overwrite with a stale map (taken while they were up)
            // re-places their shares on live servers.
            let p = overwrite(&g, key.clone(), &map, b"v2".to_vec(), Default::default())
                .await
                .unwrap();
            assert_eq!(p.seqnum, 2);
            let (r, map) = retrieve(&g, &keys).await.unwrap();
            assert_eq!((r.seqnum, r.plaintext.as_slice()), (2, &b"v2"[..]));
            let best = map.versions.values().next_back().unwrap();
            let shnums: BTreeSet<u16> = best.1.iter().map(|l| l.shnum).collect();
            assert_eq!(shnums.len(), 10);
            // With ten of twelve servers dead, all ten shares still go
            // out, doubled up on the two live servers.
            for (i, s) in sw.iter().enumerate() {
                s.store(i < 10, Ordering::SeqCst);
            }
            let map = servermap::update(&g, &keys).await;
            let p = overwrite(&g, key.clone(), &map, b"v3".to_vec(), Default::default())
                .await
                .unwrap();
            // A share number can be written twice: a server that was dead
            // during the v2 overwrite may come back holding its v1 copy of
            // a share v2 re-placed elsewhere, and both copies are updated.
            let servers: BTreeSet<usize> = p.placed.iter().map(|l| l.server).collect();
            let shnums: BTreeSet<u16> = p.placed.iter().map(|l| l.shnum).collect();
            assert_eq!((shnums.len(), servers.len()), (10, 2), "{:?}", p.placed);
            assert_eq!(retrieve(&g, &keys).await.unwrap().0.plaintext, b"v3");
            // With every server dead nothing is placed, and it says so.
            for s in &sw {
                s.store(true, Ordering::SeqCst);
            }
            let map = servermap::update(&g, &keys).await;
            let e = overwrite(&g, key.clone(), &map, b"v4".to_vec(), Default::default())
                .await
                .unwrap_err();
            assert!(
                matches!(e, MutableError::NotEnoughPlaced { placed: 0, wanted: 10, ref failures } if failures.len() == 12),
                "{e}"
            );
            assert!(matches!(retrieve(&g, &keys).await.unwrap_err(), MutableError::NoServers { failed: 12 }));
        });
}
