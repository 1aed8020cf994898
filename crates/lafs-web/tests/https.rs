//! The web port over HTTPS (`web.port = ssl:…`): a node directory with
//! an rcgen certificate serves `/?t=json` to a client that trusts exactly
//! that certificate, writes an `https://` node.url, and refuses plain HTTP
//! on the same port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_client::{Client, ClientConfig, Grid, LeaseSecret, LocalClient};
use lafs_web::{AppState, BoundPort, NodeInfo, WebPort};
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn state() -> AppState<LocalClient> {
    let grid: Grid<LocalClient> = Grid::new(Vec::new(), LeaseSecret::new(vec![7; 32]));
    let client = Client::new(grid, ClientConfig::default());
    AppState::new(NodeInfo::new("tls-node"), Arc::new(client))
}

/// Read a whole response (the server closes after `Connection: close`),
/// bounded in time so a broken server fails the test instead of hanging.
async fn read_all(mut r: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), r.read_to_end(&mut out)).await;
    out
}

#[test]
fn ssl_web_port_serves_https_only() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let node = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        std::fs::create_dir(node.path().join("private")).unwrap();
        std::fs::write(
            node.path().join("private/web.key"),
            ck.key_pair.serialize_pem(),
        )
        .unwrap();
        std::fs::write(node.path().join("web.crt"), ck.cert.pem()).unwrap();

        // Relative paths resolve against the node directory.
        let wp =
            WebPort::parse("ssl:0:privateKey=private/web.key:certKey=web.crt:interface=127.0.0.1")
                .unwrap()
                .unwrap();
        let port = BoundPort::bind(&wp, node.path()).await.unwrap();
        assert!(port.is_tls());
        let addr = port.local_addr().unwrap();
        let url = port.write_node_url(node.path()).unwrap();
        assert_eq!(url, format!("https://127.0.0.1:{}/", addr.port()));
        assert_eq!(
            std::fs::read_to_string(node.path().join("node.url")).unwrap(),
            format!("{url}\n")
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(lafs_web::serve_port(port, state(), async {
            let _ = stopped.await;
        }));

        // A client trusting exactly this certificate.
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ck.cert.der().to_vec()))
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        tls.write_all(b"GET /?t=json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let resp = String::from_utf8(read_all(tls).await).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        let body = resp.split_once("\r\n\r\n").unwrap().1;
        // Chunked or not, the JSON object is in there whole.
        let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert!(v["servers"].is_array(), "{v}");
        assert!(resp
            .to_ascii_lowercase()
            .contains("referrer-policy: no-referrer"));

        // Plain HTTP on the TLS port gets no HTTP answer.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /?t=json HTTP/1.0\r\n\r\n")
            .await
            .unwrap();
        let raw = read_all(tcp).await;
        assert!(
            !raw.starts_with(b"HTTP/"),
            "{:?}",
            String::from_utf8_lossy(&raw)
        );
        assert!(!String::from_utf8_lossy(&raw).contains("servers"));

        // A TLS port whose key is missing is refused before binding.
        let bad = WebPort::parse("ssl:0:privateKey=nope.pem:interface=127.0.0.1")
            .unwrap()
            .unwrap();
        let err = BoundPort::bind(&bad, node.path()).await.unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    });
}
