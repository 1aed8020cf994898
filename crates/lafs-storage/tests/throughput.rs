//! Engine-level throughput, without HTTP (`--ignored`; prints figures, asserts
//! nothing about time). `lafs bench storage` measures the same through
//! HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use lafs_storage::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, StorageServer,
    StorageServerOptions, TestWriteVectors, UploadSecret, WriteEnabler, WriteVector,
};

async fn run(name: &str, s: StorageServer) {
    let renew = LeaseRenewSecret::from_bytes([1; 32]);
    let cancel = LeaseCancelSecret::from_bytes([2; 32]);
    let secret = UploadSecret::new(vec![3; 20]);
    let share = vec![0x5au8; 1 << 20];
    let n = 64u32;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let (s, renew, cancel, secret, share) = (
            s.clone(),
            renew.clone(),
            cancel.clone(),
            secret.clone(),
            share.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let si = StorageIndex([
                (i % 256) as u8,
                (i / 256) as u8,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
            ]);
            s.allocate_buckets(
                si,
                &renew,
                &cancel,
                &secret,
                &BTreeSet::from([0]),
                share.len() as u64,
            )
            .await
            .unwrap();
            // 4 PATCHes of 256 KiB, as a client with small chunks would send.
            for c in 0..4u64 {
                let off = c * (256 << 10);
                s.write_immutable(
                    si,
                    0,
                    &secret,
                    off,
                    &share[off as usize..off as usize + (256 << 10)],
                )
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let up = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..n {
        let si = StorageIndex([
            (i % 256) as u8,
            (i / 256) as u8,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
        ]);
        assert_eq!(
            s.read_immutable(si, 0, 0, 1 << 20).await.unwrap().len(),
            1 << 20
        );
    }
    let down = t.elapsed().as_secs_f64();
    let m = 500u32;
    let t = Instant::now();
    for i in 0..m {
        let tw = TestWriteVectors {
            test: vec![],
            write: vec![WriteVector {
                offset: 0,
                data: vec![i as u8; 2000],
            }],
            new_length: None,
        };
        s.mutable_test_and_write(
            StorageIndex([9; 16]),
            &WriteEnabler::from_bytes([4; 32]),
            &renew,
            &cancel,
            BTreeMap::from([((i % 10) as u16, tw)]),
            &[],
        )
        .await
        .unwrap();
    }
    let rtw = t.elapsed().as_secs_f64();
    println!(
        "{name}: immutable upload {:.0} MiB/s ({n} x 1 MiB, 4 writes each), read {:.0} MiB/s, mutable 2 KB test-and-write {:.0}/s",
        f64::from(n) / up,
        f64::from(n) / down,
        f64::from(m) / rtw
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --no-capture"]
async fn engine_throughput() {
    let opts = StorageServerOptions::new(ServerId20([1; 20]));
    run("memory", StorageServer::in_memory(opts.clone())).await;
    run("null", StorageServer::null(opts.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    run(
        "disk",
        StorageServer::open_disk(&dir.path().join("storage"), opts)
            .await
            .unwrap(),
    )
    .await;
}
