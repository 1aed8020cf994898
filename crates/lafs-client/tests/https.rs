#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Upload and download through 10 lafs-http servers over real TLS on
//! loopback, with the SPKI-pinned pooled client.

mod common;

use bytes::Bytes;
use lafs_client::{download_to_vec, upload_bytes, HttpClient, StorageClient, UploadOptions};
use lafs_format::chk::{encode_cap, EncodingParams};
use lafs_format::keys::{ConvergenceSecret, ServerId20};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_over_https() {
    let (grid, _engines, _stops) = common::https_grid(10, 0x11, 3).await;
    let mut opts = UploadOptions::convergent(ConvergenceSecret::new(b"https".to_vec()));
    opts.params = EncodingParams {
        max_segment_size: 64 * 1024,
        ..EncodingParams::default()
    };
    let plain: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    let up = upload_bytes(&grid, Bytes::from(plain.clone()), &opts)
        .await
        .unwrap();
    assert_eq!(
        up.cap,
        encode_cap(
            &plain,
            &ConvergenceSecret::new(b"https".to_vec()),
            &opts.params
        )
        .unwrap()
    );
    assert_eq!(up.happiness, 10);
    let got = download_to_vec(&grid, &up.cap, None).await.unwrap();
    assert!(got == plain);
    let got = download_to_vec(&grid, &up.cap, Some(200_000..200_100))
        .await
        .unwrap();
    assert!(got == plain[200_000..200_100]);
    // Leases and corruption advisories reach the server.
    let si = match &up.cap {
        lafs_format::cap::FileCap::ChkRead(c) => c.storage_index(),
        _ => panic!(),
    };
    let s = &grid.servers()[0];
    let (r, c) = s.lease_secrets(grid.lease_secret(), &si);
    s.client.add_lease(si, &r, &c).await.unwrap();
    let shares = s.client.list_shares(si).await.unwrap();
    let sh = *shares.iter().next().unwrap();
    s.client
        .advise_corrupt(si, sh, "test advisory")
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_spki_pin_is_refused() {
    let (mut nurl, _engine, _stop) = common::https_server(1, ServerId20([1; 20])).await;
    nurl.spki_hash = "A".repeat(43);
    let c = HttpClient::new(nurl).unwrap();
    let e = c.version().await.unwrap_err();
    assert!(matches!(e, lafs_client::ClientError::Transport(_)), "{e}");
}
