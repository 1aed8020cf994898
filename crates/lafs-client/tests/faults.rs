#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Failure handling: dying servers, corrupt shares, unhappy uploads.

mod common;

use bytes::Bytes;
use common::{data, grid};
use lafs_client::{
    download_to_vec, upload_bytes, DownloadError, LocalClient, StorageClient, UploadError,
    UploadOptions,
};
use lafs_format::cap::FileCap;
use lafs_format::chk::EncodingParams;
use lafs_format::keys::ConvergenceSecret;
use lafs_storage::UploadSecret;
use std::sync::atomic::Ordering;

fn opts() -> UploadOptions {
    let mut o = UploadOptions::convergent(ConvergenceSecret::new(b"faults".to_vec()));
    o.params = EncodingParams {
        max_segment_size: 3000,
        ..EncodingParams::default()
    };
    o
}

const LEN: usize = 30 * 3000 + 17; // 31 segments

#[test]
fn seven_of_ten_servers_die_halfway() {
    common::rt().block_on(async {
        let g = grid(10);
        let plain = data(LEN, 1);
        let up = upload_bytes(&g.grid, Bytes::from(plain.clone()), &opts())
            .await
            .unwrap();
        // Every server answers the listing and ~15 reads, then 7 of them die.
        for f in &g.faults[..7] {
            f.reads_left.store(15, Ordering::SeqCst);
        }
        let got = download_to_vec(&g.grid, &up.cap, None).await.unwrap();
        assert!(got == plain);
        assert!(g.faults[..7].iter().any(|f| f.dead.load(Ordering::SeqCst)));
    });
}

#[test]
fn corrupt_shares_on_n_minus_k_servers_are_detected_reported_tolerated() {
    common::rt().block_on(async {
        let g = grid(10);
        let plain = data(LEN, 2);
        let up = upload_bytes(&g.grid, Bytes::from(plain.clone()), &opts())
            .await
            .unwrap();
        for (i, f) in g.faults[..7].iter().enumerate() {
            if i % 2 == 0 {
                f.corrupt_blocks.store(true, Ordering::SeqCst);
            } else {
                f.corrupt_all.store(true, Ordering::SeqCst);
            }
        }
        let got = download_to_vec(&g.grid, &up.cap, None).await.unwrap();
        assert!(got == plain);
        // Give the fire-and-forget advisories a moment (bounded).
        for _ in 0..100 {
            let n = g.faults[..7]
                .iter()
                .filter(|f| !f.advisories.lock().unwrap().is_empty())
                .count();
            if n > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let advised: usize = g.faults[..7]
            .iter()
            .map(|f| f.advisories.lock().unwrap().len())
            .sum();
        assert!(advised > 0, "corruption was reported to the servers");
        assert!(g.faults[7..]
            .iter()
            .all(|f| f.advisories.lock().unwrap().is_empty()));
    });
}

#[test]
fn fewer_than_k_good_shares_is_an_error_never_wrong_bytes() {
    common::rt().block_on(async {
        let g = grid(10);
        let plain = data(LEN, 3);
        let up = upload_bytes(&g.grid, Bytes::from(plain.clone()), &opts())
            .await
            .unwrap();
        for f in &g.faults[..8] {
            f.corrupt_blocks.store(true, Ordering::SeqCst);
        }
        let err = download_to_vec(&g.grid, &up.cap, None).await.unwrap_err();
        assert!(
            matches!(err, DownloadError::NotEnoughShares { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("server-") && msg.contains("corrupt"), "{msg}");
        // All dead: clear error naming servers.
        for f in &g.faults {
            f.dead.store(true, Ordering::SeqCst);
        }
        let err = download_to_vec(&g.grid, &up.cap, None).await.unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
    });
}

#[test]
fn unhappy_upload_fails_and_leaves_nothing_allocated() {
    common::rt().block_on(async {
        let g = grid(10);
        // 4 servers are full: 6 < happy = 7.
        for f in &g.faults[..4] {
            f.full.store(true, Ordering::SeqCst);
        }
        let plain = data(LEN, 4);
        let err = upload_bytes(&g.grid, Bytes::from(plain.clone()), &opts())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                UploadError::NotHappy {
                    achieved: 6,
                    happy: 7,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("server-0"), "{err}");
        assert_nothing_claimed(&g, &plain).await;
    });
}

#[test]
fn servers_dying_mid_upload_fail_happiness_and_abort() {
    common::rt().block_on(async {
        let g = grid(10);
        for f in &g.faults[..5] {
            f.writes_left.store(3, Ordering::SeqCst);
        }
        let plain = data(LEN, 5);
        let err = upload_bytes(&g.grid, Bytes::from(plain.clone()), &opts())
            .await
            .unwrap_err();
        assert!(matches!(err, UploadError::NotHappy { .. }), "{err}");
        assert_nothing_claimed(&g, &plain).await;
    });
}

#[test]
fn happy_with_a_few_failures() {
    common::rt().block_on(async {
        let g = grid(10);
        // Two dead, one full: 7 servers remain, happiness 7 is reachable.
        g.faults[0].dead.store(true, Ordering::SeqCst);
        g.faults[1].dead.store(true, Ordering::SeqCst);
        g.faults[2].full.store(true, Ordering::SeqCst);
        let plain = data(LEN, 6);
        let up = upload_bytes(&g.grid, Bytes::from(plain.clone()), &opts())
            .await
            .unwrap();
        assert_eq!(up.happiness, 7);
        for f in &g.faults {
            f.dead.store(false, Ordering::SeqCst);
        }
        assert!(download_to_vec(&g.grid, &up.cap, None).await.unwrap() == plain);
    });
}

/// No engine holds a complete share nor an upload in progress: a fresh
/// allocation under another secret gets every share number.
async fn assert_nothing_claimed(g: &common::TestGrid, plain: &[u8]) {
    let FileCap::ChkRead(cap) = lafs_format::chk::encode_cap(
        plain,
        &ConvergenceSecret::new(b"faults".to_vec()),
        &opts().params,
    )
    .unwrap() else {
        panic!("not CHK")
    };
    let si = cap.storage_index();
    for e in &g.engines {
        let c = LocalClient::new(e.clone());
        assert!(c.list_shares(si).await.unwrap().is_empty());
        let want = (0..10).collect();
        let (r, k) = lafs_format::keys::lease::for_server(&[1; 32], &si, &e.nodeid());
        let a = c
            .allocate_buckets(si, &r, &k, &UploadSecret::new(vec![9; 20]), &want, 100_000)
            .await
            .unwrap();
        assert_eq!(a.allocated, want, "a bucket was left allocated");
    }
}
