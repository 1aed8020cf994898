//! The server over real TLS on loopback, driven by the pinned client:
//! SPKI pinning, swissnum, an immutable upload and ranged reads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use http::{Method, StatusCode};
use lafs_http::auth::{Secrets, Swissnum};
use lafs_http::client::{ClientError, StorageClient};
use lafs_http::server::{serve, HttpStorage};
use lafs_http::tls::Identity;
use lafs_http::wire::AllocateRequest;
use lafs_http::{Namespace, Nurl};
use lafs_storage::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, StorageServer,
    StorageServerOptions,
};

async fn start() -> (Nurl, tokio::sync::oneshot::Sender<()>) {
    let id = Identity::generate("127.0.0.1").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let swiss = "s4k6kxo3bdqu2gzx5ws7rmbg2e".to_string();
    let engine = StorageServer::in_memory(StorageServerOptions::new(ServerId20([7; 20])));
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

#[tokio::test]
async fn upload_and_ranged_reads_over_tls() {
    let (nurl, _stop) = start().await;
    let client = StorageClient::new(nurl.clone()).unwrap();
    let mut c = client.connect().await.unwrap();
    let v = c.version().await.unwrap();
    assert!(v.maximum_immutable_share_size > 0);

    let si = StorageIndex([3; 16]);
    let secrets = Secrets {
        renew: Some(LeaseRenewSecret::from_bytes([1; 32])),
        cancel: Some(LeaseCancelSecret::from_bytes([2; 32])),
        upload: Some(vec![9; 20]),
        write_enabler: None,
    };
    let a = c
        .allocate(
            &si,
            &secrets,
            &AllocateRequest::new([0, 1].into(), 10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(a.allocated, [0, 1].into());
    let up = Secrets {
        upload: Some(vec![9; 20]),
        ..Secrets::default()
    };
    let s = c
        .write_share(&si, 0, &up, 0, Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert_eq!(s, StatusCode::OK);
    let s = c
        .write_share(&si, 0, &up, 5, Bytes::from_static(b"world"))
        .await
        .unwrap();
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        &c.read_share(Namespace::Immutable, &si, 0, 3, 100)
            .await
            .unwrap()[..],
        b"loworld"
    );
    assert!(c
        .read_share(Namespace::Immutable, &si, 0, 10, 5)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        c.read_share(Namespace::Immutable, &si, 1, 0, 5).await,
        Err(ClientError::Status(StatusCode::NOT_FOUND))
    ));

    // Wrong swissnum → 401 before anything else.
    let bad = StorageClient::new(Nurl {
        swissnum: "wrong".into(),
        ..nurl.clone()
    })
    .unwrap();
    let mut b = bad.connect().await.unwrap();
    let (s, _, _) = b
        .request(
            Method::GET,
            "/storage/v1/version",
            &Secrets::default(),
            &[],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Wrong pin → the TLS handshake fails.
    let other = Identity::generate("127.0.0.1")
        .unwrap()
        .spki_hash()
        .unwrap();
    let pinned_wrong = StorageClient::new(Nurl {
        spki_hash: other,
        ..nurl
    })
    .unwrap();
    assert!(pinned_wrong.connect().await.is_err());
}

#[tokio::test]
async fn many_clients_at_once() {
    let (nurl, _stop) = start().await;
    let client = StorageClient::new(nurl).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = client.connect().await.unwrap();
            for _ in 0..10 {
                c.version().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
