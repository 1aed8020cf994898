#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Upload/download through an in-process grid of 10 memory servers.

mod common;

use bytes::Bytes;
use common::{data, grid};
use lafs_client::{download_to_vec, upload_bytes, UploadOptions};
use lafs_format::chk::{encode_cap, EncodingParams};
use lafs_format::keys::ConvergenceSecret;
use proptest::prelude::*;

fn opts(seg: u64) -> UploadOptions {
    let mut o = UploadOptions::convergent(ConvergenceSecret::new(b"lafs-client-test".to_vec()));
    o.params = EncodingParams {
        max_segment_size: seg,
        ..EncodingParams::default()
    };
    o
}

async fn roundtrip(len: usize, seg: u64, seed: u64) {
    let g = grid(10);
    let plain = data(len, seed);
    let o = opts(seg);
    let up = upload_bytes(&g.grid, Bytes::from(plain.clone()), &o)
        .await
        .unwrap();
    // Same cap as the reference encoder (which matches Tahoe's vectors).
    let want = encode_cap(
        &plain,
        &ConvergenceSecret::new(b"lafs-client-test".to_vec()),
        &o.params,
    )
    .unwrap();
    assert_eq!(up.cap, want, "cap for {len} bytes");
    if len > 55 {
        assert_eq!(up.happiness, 10);
    }
    let got = download_to_vec(&g.grid, &up.cap, None).await.unwrap();
    assert!(got == plain, "round trip of {len} bytes");
}

#[test]
fn edge_sizes_roundtrip() {
    let seg = 4096u64;
    common::rt().block_on(async {
        for len in [
            0usize,
            1,
            55,
            56,
            57,
            4095,
            4096,
            4097,
            3 * 4096,
            3 * 4096 + 1,
            10 * 4096 - 1,
        ] {
            roundtrip(len, seg, len as u64).await;
        }
    });
}

#[test]
fn default_segment_size_roundtrip() {
    // Tahoe's 1 MiB segments: two segments, the tail one byte.
    common::rt().block_on(roundtrip((1 << 20) + 1, 1 << 20, 99));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_sizes_and_ranges(len in 0usize..40_000, seed in any::<u64>(), a in any::<u64>(), b in any::<u64>()) {
        common::rt().block_on(async {
            let g = grid(10);
            let plain = data(len, seed);
            let up = upload_bytes(&g.grid, Bytes::from(plain.clone()), &opts(3000)).await.unwrap();
            let got = download_to_vec(&g.grid, &up.cap, None).await.unwrap();
            assert!(got == plain);
            let (lo, hi) = if len == 0 { (0, 0) } else {
                let x = (a % (len as u64 + 1)) as usize;
                let y = (b % (len as u64 + 1)) as usize;
                (x.min(y), x.max(y))
            };
            let got = download_to_vec(&g.grid, &up.cap, Some(lo as u64..hi as u64)).await.unwrap();
            assert!(got == plain[lo..hi]);
        });
    }
}

#[test]
fn reupload_reuses_present_shares() {
    common::rt().block_on(async {
        let g = grid(10);
        let plain = Bytes::from(data(20_000, 5));
        let a = upload_bytes(&g.grid, plain.clone(), &opts(4096))
            .await
            .unwrap();
        let b = upload_bytes(&g.grid, plain, &opts(4096)).await.unwrap();
        assert_eq!(a.cap, b.cap);
        assert_eq!(b.written.len(), 0);
        assert_eq!(b.already_present, 10);
        assert_eq!(b.happiness, 10);
    });
}

#[test]
fn bad_range_is_an_error() {
    common::rt().block_on(async {
        let g = grid(10);
        let up = upload_bytes(&g.grid, Bytes::from(data(1000, 1)), &opts(4096))
            .await
            .unwrap();
        assert!(download_to_vec(&g.grid, &up.cap, Some(10..1001))
            .await
            .is_err());
    });
}
