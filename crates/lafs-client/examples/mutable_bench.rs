//! Latency of mutable-file and directory operations on an in-process grid
//! of 10 memory servers (3-of-10): `cargo run --release -p lafs-client
//! --example mutable_bench`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use lafs_client::dirnode::Dirnode;
use lafs_client::mutable::{create, overwrite, retrieve, servermap, KeyPool, PublishOptions};
use lafs_client::{Grid, GridServer, LeaseSecret, LocalClient};
use lafs_format::keys::ServerId20;
use lafs_format::mutable::Version;
use lafs_storage::{StorageServer, StorageServerOptions};
use std::sync::Arc;
use std::time::Instant;

fn grid() -> Grid<LocalClient> {
    let servers = (0..10u8)
        .map(|i| {
            let id = ServerId20([i; 20]);
            GridServer {
                id: format!("s{i}"),
                permutation_seed: vec![i; 32],
                lease_seed: id,
                client: LocalClient::new(StorageServer::in_memory(StorageServerOptions::new(id))),
            }
        })
        .collect();
    Grid::new(servers, LeaseSecret::new(vec![1; 32]))
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    const ROUNDS: usize = 10;
    let pool = KeyPool::new(4);
    // Let the pool fill so creation measures a warm node.
    while pool.ready().await < 4 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let plain: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7) as u8).collect();
    for version in [Version::Sdmf, Version::Mdmf] {
        let g = grid();
        let opts = PublishOptions {
            version,
            ..Default::default()
        };
        let (mut c, mut o, mut r) = (0.0, 0.0, 0.0);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let key = Arc::new(pool.take().await.unwrap());
            create(&g, key.clone(), plain.clone(), opts).await.unwrap();
            c += ms(t);
            let keys = key.key_chain();
            let t = Instant::now();
            let map = servermap::update(&g, &keys).await;
            overwrite(&g, key.clone(), &map, plain.clone(), opts)
                .await
                .unwrap();
            o += ms(t);
            let t = Instant::now();
            let (got, _) = retrieve(&g, &keys).await.unwrap();
            r += ms(t);
            assert_eq!(got.plaintext.len(), plain.len());
            // Keep the pool from running dry: it refills in the background.
            while pool.ready().await < 1 {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        let n = ROUNDS as f64;
        println!(
            "{version:?} 1 MiB: create {:.1} ms (warm key pool), overwrite (servermap+publish) {:.1} ms, read (servermap+retrieve) {:.1} ms",
            c / n,
            o / n,
            r / n
        );
    }
    let g = grid();
    let d = Dirnode::create(&g, Arc::new(pool.take().await.unwrap()), Default::default())
        .await
        .unwrap();
    let t = Instant::now();
    const ADDS: usize = 200;
    for i in 0..ADDS {
        d.add_child(
            &format!("child-{i:04}"),
            None,
            Some(b"URI:LIT:mfrgg"),
            false,
        )
        .await
        .unwrap();
    }
    println!(
        "SDMF dir add_child: {:.2} ms average over {ADDS} adds (directory grows to {ADDS} children)",
        ms(t) / ADDS as f64
    );
    let t = Instant::now();
    let n = d.list().await.unwrap().len();
    println!("list of {n} children: {:.2} ms", ms(t));
}
