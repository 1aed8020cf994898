#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Ten HTTPS storage servers and several clients find each other through
//! lafs introducers (all in-process, real TLS on loopback, port 0):
//! restarting the introducer loses nothing already known and publishers
//! and subscribers reconnect; a second introducer takes over when the
//! first is down. Every wait is bounded; nothing asserts on timing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lafs_client::{download_to_vec, upload_bytes, Grid, HttpClient, LeaseSecret, UploadOptions};
use lafs_format::base32;
use lafs_format::keys::{ConvergenceSecret, ServerId20};
use lafs_http::auth::Swissnum;
use lafs_http::server::HttpStorage;
use lafs_http::tls::Identity;
use lafs_http::Nurl;
use lafs_introducer::ann::{announcement_dict, storage_fields};
use lafs_introducer::client::{read_cache, Backoff, ServerAnns};
use lafs_introducer::{
    introducers_of_node, GridTracker, Introducer, IntroducerEntry, Options, Publisher, SigningKey,
    Subscription,
};
use lafs_storage::{StorageServer, StorageServerOptions};
use tokio::sync::oneshot;

fn fast() -> Options {
    Options {
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
        },
        poll_wait: Duration::from_secs(2),
    }
}

/// A running introducer that can be stopped and started again on the
/// same port with the same identity (what a process restart does).
struct RunningIntroducer {
    identity: Identity,
    swissnum: String,
    port: u16,
    state: Introducer,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningIntroducer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut r = RunningIntroducer {
            identity: Identity::generate("127.0.0.1").unwrap(),
            swissnum: base32::encode(&[port as u8; 20]),
            port,
            state: Introducer::new(Swissnum::new(String::new())),
            stop: None,
            task: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        self.state = Introducer::new(Swissnum::new(self.swissnum.clone()));
        let (tx, rx) = oneshot::channel::<()>();
        self.stop = Some(tx);
        self.task = Some(tokio::spawn(lafs_introducer::server::serve(
            listener,
            self.identity.server_config().unwrap(),
            self.state.clone(),
            async {
                let _ = rx.await;
            },
        )));
    }

    async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    async fn restart(&mut self) {
        self.stop().await;
        // The port was just released; binding it again may race a
        // lingering socket, so retry a bounded number of times.
        let mut listener = None;
        for _ in 0..100 {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        self.serve(listener.expect("introducer port stays bindable"));
    }

    fn url(&self) -> String {
        Nurl {
            spki_hash: self.identity.spki_hash().unwrap(),
            host: "127.0.0.1".into(),
            port: self.port,
            swissnum: self.swissnum.clone(),
        }
        .to_url()
    }

    fn entry(&self, petname: &str, cache: Option<&Path>) -> IntroducerEntry {
        IntroducerEntry {
            petname: petname.into(),
            url: Nurl::parse(&self.url()).unwrap(),
            cache: cache.map(|d| d.join(format!("introducer_{petname}_cache.yaml"))),
        }
    }
}

/// One in-process storage server announcing itself.
struct StorageNode {
    key_s: String,
    _publisher: Publisher,
    _stop: oneshot::Sender<()>,
}

async fn storage_node(i: u8, introducers: &[IntroducerEntry]) -> StorageNode {
    let id = Identity::generate("127.0.0.1").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let swiss = base32::encode(&[i; 20]);
    let tubid = ServerId20([i; 20]);
    let engine = StorageServer::in_memory(StorageServerOptions::new(tubid));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(lafs_http::server::serve(
        listener,
        id.server_config().unwrap(),
        HttpStorage::new(engine, Swissnum::new(swiss.clone())),
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
    let (key, _) = SigningKey::generate().unwrap();
    let fields = storage_fields(
        &tubid.to_base32(),
        "127.0.0.1",
        port,
        &[nurl.to_url()],
        &key.public_b32(),
    );
    let ann = announcement_dict(&format!("storage-{i}"), "storage", 1, "nonce", fields);
    StorageNode {
        key_s: key.key_s(),
        _publisher: Publisher::start(introducers, key.sign(&ann), fast()),
        _stop: tx,
    }
}

/// Wait (bounded) until `sub` knows at least `n` servers.
async fn wait_for(sub: &Subscription, n: usize) -> Arc<ServerAnns> {
    let mut rx = sub.watch();
    for _ in 0..600 {
        let cur = rx.borrow_and_update().clone();
        if cur.len() >= n {
            return cur;
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), rx.changed()).await;
    }
    panic!("subscription never learned {n} servers");
}

async fn wait_introducer(i: &Introducer, n: usize) {
    for _ in 0..600 {
        if i.snapshot("storage").announcements.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("introducer never held {n} announcements");
}

fn grid_of(sub: &Subscription, tracker: &mut GridTracker) -> Grid<HttpClient> {
    tracker.update(&sub.current())
}

fn opts() -> UploadOptions {
    UploadOptions::convergent(ConvergenceSecret::new(b"intro".to_vec()))
}

async fn roundtrip(up_grid: &Grid<HttpClient>, down_grid: &Grid<HttpClient>, seed: u32) {
    let plain: Vec<u8> = (0..50_000u32).map(|i| (i * seed % 251) as u8).collect();
    let up = upload_bytes(up_grid, Bytes::from(plain.clone()), &opts())
        .await
        .unwrap();
    assert_eq!(up.happiness, 10);
    let got = download_to_vec(down_grid, &up.cap, None).await.unwrap();
    assert!(got == plain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_servers_two_clients_survive_an_introducer_restart() {
    let mut intro = RunningIntroducer::start().await;
    let entries = [intro.entry("default", None)];
    let mut nodes = Vec::new();
    for i in 0..10u8 {
        nodes.push(storage_node(i, &entries).await);
    }
    let dirs = [
        lafs_testing::scratch_dir("intro-client-1"),
        lafs_testing::scratch_dir("intro-client-2"),
    ];
    let subs: Vec<Subscription> = dirs
        .iter()
        .map(|d| Subscription::start(&[intro.entry("default", Some(d))], "storage", fast()))
        .collect();
    for s in &subs {
        let known = wait_for(s, 10).await;
        for n in &nodes {
            assert!(known.contains_key(&n.key_s));
        }
    }
    let mut trackers: Vec<GridTracker> = (0..2)
        .map(|_| GridTracker::new(LeaseSecret::new(vec![9; 32]), Vec::new()))
        .collect();
    let g1 = grid_of(&subs[0], &mut trackers[0]);
    let g2 = grid_of(&subs[1], &mut trackers[1]);
    assert_eq!(g1.servers().len(), 10);
    roundtrip(&g1, &g2, 7).await;
    // Tahoe's cache format, one file per introducer.
    for d in &dirs {
        let cached = read_cache(&d.join("introducer_default_cache.yaml"));
        assert_eq!(cached.len(), 10);
        assert!(cached.iter().all(|a| a.service_name() == "storage"));
    }

    // Restart: the new process knows nothing at first.
    intro.restart().await;
    // Clients keep every server (and every open connection: the grids are
    // the same objects) and keep working while the introducer is empty.
    for s in &subs {
        assert_eq!(s.current().len(), 10);
    }
    let g1_after = grid_of(&subs[0], &mut trackers[0]);
    for (a, b) in g1_after.servers().iter().zip(g1.servers()) {
        assert!(
            Arc::ptr_eq(a, b),
            "unchanged servers keep their Arc (and pool)"
        );
    }
    roundtrip(&g1_after, &g2, 11).await;
    // Publishers notice and publish again.
    wait_introducer(&intro.state, 10).await;
    // Subscribers resubscribed: a server that appears only now reaches both.
    let late = storage_node(10, &[intro.entry("default", None)]).await;
    for s in &subs {
        let known = wait_for(s, 11).await;
        assert!(known.contains_key(&late.key_s));
    }
    let g = grid_of(&subs[1], &mut trackers[1]);
    assert_eq!(g.servers().len(), 11);
    roundtrip(&g, &grid_of(&subs[0], &mut trackers[0]), 13).await;
    intro.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_introducer_takes_over() {
    let mut first = RunningIntroducer::start().await;
    let mut second = RunningIntroducer::start().await;
    let both = [first.entry("first", None), second.entry("second", None)];
    let mut nodes = Vec::new();
    for i in 0..10u8 {
        nodes.push(storage_node(i, &both).await);
    }
    wait_introducer(&first.state, 10).await;
    wait_introducer(&second.state, 10).await;
    first.stop().await;

    // A new client configured the Tahoe way (introducers.yaml plus the
    // tahoe.cfg default) learns every server from the second alone.
    let dir = lafs_testing::scratch_dir("intro-takeover");
    std::fs::create_dir_all(dir.join("private")).unwrap();
    std::fs::write(
        dir.join("private/introducers.yaml"),
        format!("introducers:\n  second:\n    furl: \"{}\"\n", second.url()),
    )
    .unwrap();
    let entries = introducers_of_node(&dir, Some(&first.url())).unwrap();
    assert_eq!(entries.len(), 2);
    let sub = Subscription::start(&entries, "storage", fast());
    let known = wait_for(&sub, 10).await;
    for n in &nodes {
        assert!(known.contains_key(&n.key_s));
    }
    assert!(dir.join("private/introducer_second_cache.yaml").exists());
    assert!(!dir.join("private/introducer_default_cache.yaml").exists());
    let mut t = GridTracker::new(LeaseSecret::new(vec![5; 32]), Vec::new());
    let g = grid_of(&sub, &mut t);
    roundtrip(&g, &g, 17).await;
    drop(sub);

    // The cache alone (every introducer down) still gives the full grid.
    second.stop().await;
    let sub = Subscription::start(&entries, "storage", fast());
    assert_eq!(sub.current().len(), 10);
    let g = grid_of(
        &sub,
        &mut GridTracker::new(LeaseSecret::new(vec![5; 32]), Vec::new()),
    );
    roundtrip(&g, &g, 19).await;
}
