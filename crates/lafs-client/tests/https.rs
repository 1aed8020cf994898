#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Upload and download through 10 lafs-http servers over real TLS on
//! loopback, with the SPKI-pinned pooled client.

use bytes::Bytes;
use lafs_client::{
    download_to_vec, upload_bytes, Grid, GridServer, HttpClient, LeaseSecret, StorageClient,
    UploadOptions,
};
use lafs_format::chk::{encode_cap, EncodingParams};
use lafs_format::keys::{ConvergenceSecret, ServerId20};
use lafs_http::auth::Swissnum;
use lafs_http::server::{serve, HttpStorage};
use lafs_http::tls::Identity;
use lafs_http::Nurl;
use lafs_storage::{StorageServer, StorageServerOptions};

async fn start(i: u8) -> (Nurl, tokio::sync::oneshot::Sender<()>) {
    let id = Identity::generate("127.0.0.1").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let swiss = format!("swiss{i}abcdefghijklmnopqrstu");
    let engine = StorageServer::in_memory(StorageServerOptions::new(ServerId20([i; 20])));
    let storage = HttpStorage::new(engine, Swissnum::new(swiss.clone()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        id.server_config().unwrap(),
        storage,
        async {
            let _ = rx.await;
        },
    ));
    let nurl = Nurl {
        spki_hash: id.spki_hash().unwrap(),
        host: "127.0.0.1".into(),
        port,
        swissnum: swiss,
    };
    (nurl, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_over_https() {
    let mut servers = Vec::new();
    let mut stops = Vec::new();
    for i in 0..10u8 {
        let (nurl, stop) = start(i).await;
        stops.push(stop);
        servers.push(GridServer {
            id: format!("https-{i}"),
            permutation_seed: vec![i; 32],
            lease_seed: ServerId20([i; 20]),
            client: HttpClient::new(nurl).unwrap(),
        });
    }
    let grid = Grid::new(servers, LeaseSecret::new(vec![3; 32]));
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
    let (mut nurl, _stop) = start(1).await;
    nurl.spki_hash = "A".repeat(43);
    let c = HttpClient::new(nurl).unwrap();
    let e = c.version().await.unwrap_err();
    assert!(matches!(e, lafs_client::ClientError::Transport(_)), "{e}");
}
