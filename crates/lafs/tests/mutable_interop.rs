//! Mutable files and directories shared between a real Tahoe 1.20 client
//! (driven through its web API and CLI) and the lafs library over HTTPS
//! (`lafs_client::mutable`, `Dirnode`, on a grid from the same
//! servers.yaml):
//!
//! * SDMF and MDMF files written by Tahoe are read and overwritten by
//!   lafs, and Tahoe reads the result; the reverse for files lafs creates;
//! * directories made by Tahoe are listed and extended by lafs, and the
//!   reverse, each side seeing the other's children;
//! * the same private key gives the same caps (Tahoe's `private-key=` and
//!   `put --private-key-path`, with the key files from Tahoe's test data).
//!
//! Runs on ten `lafs run` servers and again on five Python 1.20 storage
//! nodes (whose write enablers lafs must derive from their tub ids, §9.3).
//! Needs `scripts/tahoe-venv`; skipped with a message when it cannot be
//! made, unless `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use base64::Engine;
use client_common::{
    data, ok, python_storage_grid, start_grid, start_tahoe_client, tahoe, venv, web,
};
use lafs_client::dirnode::Dirnode;
use lafs_client::mutable::{create, overwrite, private_key, retrieve, PublishOptions};
use lafs_client::{grid_from_servers_yaml, Grid, HttpClient, LeaseSecret};
use lafs_format::cap::{Cap, FileCap, MutableFormat, SskWriteCap};
use lafs_format::mutable::{KeyChain, PrivateKey, Version};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[test]
fn mutable_interop_on_lafs_servers() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = start_grid(tmp.path(), 10);
    exchange(&v, tmp.path(), &yaml, 10, (3, 7, 10));
}

#[test]
fn mutable_interop_on_python_servers() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = python_storage_grid(&v, tmp.path(), 5);
    exchange(&v, tmp.path(), &yaml, 5, (3, 5, 5));
}

/// What the Tahoe web API and the library both need.
struct Side<'a> {
    port: u16,
    grid: &'a Grid<HttpClient>,
    k: u8,
    n: u8,
}

impl Side<'_> {
    fn opts(&self, version: Version) -> PublishOptions {
        PublishOptions {
            version,
            k: self.k,
            n: self.n,
        }
    }

    /// Tahoe reads `cap` (web API).
    fn tahoe_get(&self, cap: &str) -> Vec<u8> {
        let (s, b) = web(self.port, "GET", &format!("/uri/{cap}"), b"").unwrap();
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        b
    }

    /// Tahoe overwrites the mutable file `cap`.
    fn tahoe_overwrite(&self, cap: &str, body: &[u8]) {
        let (s, b) = web(self.port, "PUT", &format!("/uri/{cap}"), body).unwrap();
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    }

    fn tahoe_text(&self, method: &str, path: &str, body: &[u8]) -> String {
        let (s, b) = web(self.port, method, path, body).unwrap();
        let text = String::from_utf8(b).unwrap();
        assert!(s == 200 || s == 201, "{method} {path}: {s} {text}");
        text.trim().to_string()
    }

    /// Children names Tahoe lists in the directory `cap`.
    fn tahoe_list(&self, cap: &str) -> Vec<String> {
        let j: serde_json::Value =
            serde_json::from_str(&self.tahoe_text("GET", &format!("/uri/{cap}?t=json"), b""))
                .unwrap();
        assert_eq!(j[0], "dirnode");
        let mut names: Vec<String> = j[1]["children"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }
}

fn write_keys(cap: &str) -> (KeyChain, SskWriteCap) {
    match Cap::parse(cap).unwrap() {
        Cap::File(FileCap::SskWrite(w)) | Cap::Dir(FileCap::SskWrite(w)) => (
            KeyChain::from_writekey(w.writekey.clone(), w.fingerprint),
            w,
        ),
        c => panic!("not a mutable write cap: {c:?}"),
    }
}

fn file_cap(key: &PrivateKey, format: MutableFormat) -> String {
    Cap::File(FileCap::SskWrite(SskWriteCap {
        format,
        writekey: key.writekey(),
        fingerprint: key.fingerprint(),
    }))
    .to_string()
}

async fn lafs_names(d: &Dirnode<HttpClient>) -> Vec<String> {
    d.list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect()
}

fn tahoe_key(name: &str) -> PathBuf {
    lafs_testing::vector_path(&format!("tahoe-lafs/src/allmydata/test/data/{name}")).unwrap()
}

fn exchange(v: &Path, dir: &Path, yaml: &Path, nservers: usize, (k, happy, n): (u32, u32, u32)) {
    let (_tahoe, client, port) = start_tahoe_client(v, dir, yaml, nservers, (k, happy, n));
    let grid = grid_from_servers_yaml(
        &std::fs::read_to_string(yaml).unwrap(),
        LeaseSecret::new(vec![0x42; 32]),
    )
    .unwrap();
    let side = Side {
        port,
        grid: &grid,
        k: k as u8,
        n: n as u8,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for (fmt, version, format) in [
            ("SDMF", Version::Sdmf, MutableFormat::Sdmf),
            ("MDMF", Version::Mdmf, MutableFormat::Mdmf),
        ] {
            files(&side, fmt, version, format).await;
            directories(&side, fmt, version).await;
        }
        same_key_same_caps(&side, v, &client).await;
    });
}

/// Files each side writes are read and overwritten by the other.
async fn files(side: &Side<'_>, fmt: &str, version: Version, format: MutableFormat) {
    let g = side.grid;
    // Tahoe creates (300 000 bytes: three MDMF segments).
    let a = data(300_000, 1);
    let cap = side.tahoe_text("PUT", &format!("/uri?format={fmt}"), &a);
    let (keys, _) = write_keys(&cap);
    let (r, map) = retrieve(g, &keys).await.unwrap();
    assert!(r.plaintext == a, "{fmt}: lafs reads what Tahoe wrote");
    assert_eq!((r.version, r.seqnum), (version, 1));
    // lafs overwrites with the key it recovers from the shares.
    let key = Arc::new(private_key(g, &keys, &map).await.unwrap());
    let b = data(200_001, 2);
    let p = overwrite(g, key.clone(), &map, b.clone(), side.opts(version))
        .await
        .unwrap();
    assert_eq!(p.seqnum, 2);
    assert!(
        side.tahoe_get(&cap) == b,
        "{fmt}: Tahoe reads lafs's overwrite"
    );
    // Tahoe overwrites again; lafs sees it (through the read cap too).
    let c = data(1234, 3);
    side.tahoe_overwrite(&cap, &c);
    let ro = KeyChain::from_readkey(keys.readkey.clone(), keys.fingerprint);
    let (r, _) = retrieve(g, &ro).await.unwrap();
    assert!(r.plaintext == c);
    assert_eq!(r.seqnum, 3);

    // lafs creates; Tahoe reads, overwrites; lafs reads and overwrites.
    let key = Arc::new(PrivateKey::generate().unwrap());
    let d = data(150_000, 4);
    create(g, key.clone(), d.clone(), side.opts(version))
        .await
        .unwrap();
    let cap = file_cap(&key, format);
    assert!(
        side.tahoe_get(&cap) == d,
        "{fmt}: Tahoe reads what lafs wrote"
    );
    let e = data(99, 5);
    side.tahoe_overwrite(&cap, &e);
    let keys = key.key_chain();
    let (r, map) = retrieve(g, &keys).await.unwrap();
    assert!(r.plaintext == e);
    let f = data(140_000, 6);
    overwrite(g, key, &map, f.clone(), side.opts(version))
        .await
        .unwrap();
    assert!(side.tahoe_get(&cap) == f);
}

/// Directories each side makes are listed and extended by the other.
async fn directories(side: &Side<'_>, fmt: &str, version: Version) {
    let g = side.grid;
    let lit = "URI:LIT:mfrgg";
    // Tahoe makes a directory and links a child; lafs lists and adds.
    let dircap = side.tahoe_text("POST", &format!("/uri?t=mkdir&format={fmt}"), b"");
    side.tahoe_text(
        "PUT",
        &format!("/uri/{dircap}/from-tahoe?t=uri"),
        lit.as_bytes(),
    );
    let (_, w) = write_keys(&dircap);
    let d = Dirnode::open(g, &w);
    assert_eq!(lafs_names(&d).await, ["from-tahoe"]);
    let kids = d.list().await.unwrap();
    assert_eq!(kids[0].ro_uri.as_deref(), Some(lit.as_bytes()));
    d.add_child("from-lafs", None, Some(lit.as_bytes()), false)
        .await
        .unwrap();
    assert_eq!(side.tahoe_list(&dircap), ["from-lafs", "from-tahoe"]);
    // Tahoe uploads a file into it; lafs sees the new child.
    side.tahoe_text("PUT", &format!("/uri/{dircap}/uploaded"), &data(5000, 7));
    d.unlink("from-tahoe").await.unwrap();
    assert_eq!(side.tahoe_list(&dircap), ["from-lafs", "uploaded"]);

    // lafs makes a directory; Tahoe lists and adds; lafs sees it.
    let opts = side.opts(version);
    let d = Dirnode::create(g, Arc::new(PrivateKey::generate().unwrap()), opts)
        .await
        .unwrap();
    d.add_child("lafs-child", None, Some(lit.as_bytes()), false)
        .await
        .unwrap();
    let dircap = d.cap().to_string();
    assert_eq!(side.tahoe_list(&dircap), ["lafs-child"]);
    side.tahoe_text(
        "PUT",
        &format!("/uri/{dircap}/tahoe-child?t=uri"),
        lit.as_bytes(),
    );
    side.tahoe_text("POST", &format!("/uri/{dircap}?t=mkdir&name=sub"), b"");
    assert_eq!(lafs_names(&d).await, ["lafs-child", "sub", "tahoe-child"]);
    d.rename("lafs-child", "renamed", false).await.unwrap();
    assert_eq!(side.tahoe_list(&dircap), ["renamed", "sub", "tahoe-child"]);
}

/// The same key gives the same caps on both sides.
async fn same_key_same_caps(side: &Side<'_>, v: &Path, client: &Path) {
    let g = side.grid;
    // Directory: WAPI `private-key=` (urlsafe base64 of PKCS#8 DER) with
    // the key whose cap Tahoe's test_dirnode expects.
    let pem = std::fs::read_to_string(tahoe_key("openssl-rsa-2048-2.txt")).unwrap();
    let key = PrivateKey::from_pem(&pem).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE
        .encode(key.pkcs8_der())
        .replace('=', "%3D");
    let dircap = side.tahoe_text("POST", &format!("/uri?t=mkdir&private-key={b64}"), b"");
    let expected =
        "URI:DIR2:n4opqgewgcn4mddu4oiippaxru:ukpe4z6xdlujdpguoabergyih3bj7iaafukdqzwthy2ytdd5bs2a";
    assert_eq!(dircap, expected);
    let ours = Cap::Dir(FileCap::SskWrite(SskWriteCap {
        format: MutableFormat::Sdmf,
        writekey: key.writekey(),
        fingerprint: key.fingerprint(),
    }));
    assert_eq!(ours.to_string(), expected);
    let (_, w) = write_keys(&dircap);
    assert!(Dirnode::open(g, &w).list().await.unwrap().is_empty());

    // File: `tahoe put --mutable --private-key-path` (PKCS#8 PEM key, and
    // a PKCS#1 one for MDMF).
    for (file, format, flag) in [
        ("openssl-rsa-2048.txt", MutableFormat::Sdmf, "--format=sdmf"),
        (
            "openssl-rsa-2048-3.txt",
            MutableFormat::Mdmf,
            "--format=mdmf",
        ),
    ] {
        let path = tahoe_key(file);
        let key = PrivateKey::from_pem(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let body = data(4321, 8);
        let input = client.join(format!("in-{file}"));
        std::fs::write(&input, &body).unwrap();
        let out = ok(tahoe(v)
            .arg("-d")
            .arg(client)
            .args(["put", "--mutable", flag, "--private-key-path"])
            .arg(&path)
            .arg(&input));
        let cap = String::from_utf8(out).unwrap().trim().to_string();
        assert_eq!(cap, file_cap(&key, format), "{file}");
        let (keys, _) = write_keys(&cap);
        assert!(retrieve(g, &keys).await.unwrap().0.plaintext == body);
    }
}
