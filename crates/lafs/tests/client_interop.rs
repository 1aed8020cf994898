//! Interop of `lafs put`/`lafs get` with a real Tahoe 1.20 client on the
//! same ten `lafs run` storage servers: Tahoe uploads → lafs downloads
//! byte-identical; lafs uploads → Tahoe downloads and `check --verify`
//! says Healthy; same bytes, secret and parameters → the same cap.
//! The same exchange runs again with real Python 1.20 *storage servers*
//! holding the shares (their `node.pem` is an X.509 v1 certificate, which
//! the lafs SPKI pin verifier must accept).
//!
//! Needs `scripts/tahoe-venv` (PyPI on first use); skipped with a message
//! when it cannot be made, unless `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{data, lafs, ok, python_announcement, start_grid, tahoe, venv, Kill};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn web(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let status = String::from_utf8_lossy(&raw[..split])
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    Ok((status, raw[split + 4..].to_vec()))
}

#[test]
fn lafs_and_tahoe_clients_interoperate() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = start_grid(tmp.path(), 10);
    exchange(&v, tmp.path(), &yaml, 10, (3, 7, 10));
}

/// Python 1.20 storage nodes on loopback (no web port).
fn python_storage_grid(v: &Path, dir: &Path, n: usize) -> (Vec<Kill>, PathBuf) {
    let mut procs = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..n {
        let nd = dir.join(format!("py{i}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        ok(tahoe(v)
            .args(["create-node", "--nickname", &format!("py{i}")])
            .arg(format!("--port=tcp:{port}:interface=127.0.0.1"))
            .arg(format!("--location=tcp:127.0.0.1:{port}"))
            .arg("--webport=none")
            .arg(&nd));
        let log = std::fs::File::create(dir.join(format!("py{i}.log"))).unwrap();
        procs.push(Kill(
            tahoe(v)
                .args(["run", "--allow-stdin-close"])
                .arg(&nd)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        ));
        nodes.push(nd);
    }
    let mut yaml = String::from("storage:\n");
    for (i, nd) in nodes.iter().enumerate() {
        let furl = nd.join("private/storage.furl");
        let t = Instant::now();
        while !furl.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "Python storage node {i} did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // storage.furl is written before the listener is up; wait for it.
        std::thread::sleep(Duration::from_millis(200));
        yaml.push_str(&python_announcement(nd, &format!("py{i}")));
    }
    let path = dir.join("servers.yaml");
    std::fs::write(&path, yaml).unwrap();
    (procs, path)
}

#[test]
fn lafs_client_and_python_storage_servers_interoperate() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = python_storage_grid(&v, tmp.path(), 5);
    exchange(&v, tmp.path(), &yaml, 5, (3, 5, 5));
}

/// Start a Tahoe client on `yaml`'s `nservers` servers with encoding
/// (k, happy, N), then swap files with `lafs put`/`lafs get` both ways.
fn exchange(v: &Path, dir: &Path, yaml: &Path, nservers: usize, (k, happy, n): (u32, u32, u32)) {
    let client = dir.join("client");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ok(tahoe(v)
        .args(["create-client", "--nickname", "client"])
        .arg(format!("--webport=tcp:{port}:interface=127.0.0.1"))
        .arg(format!("--shares-needed={k}"))
        .arg(format!("--shares-happy={happy}"))
        .arg(format!("--shares-total={n}"))
        .arg(&client));
    std::fs::copy(yaml, client.join("private/servers.yaml")).unwrap();
    let _tahoe = Kill(
        tahoe(v)
            .args(["run", "--allow-stdin-close"])
            .arg(&client)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    loop {
        let connected = web(port, "GET", "/?t=json", b"")
            .ok()
            .is_some_and(|(s, b)| {
                let j: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
                s == 200
                    && j["servers"].as_array().is_some_and(|a| {
                        a.iter()
                            .filter(|s| s["connection_status"] == "connected")
                            .count()
                            == nservers
                    })
            });
        if connected {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "Tahoe client did not connect"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Tahoe uploads; lafs (same node directory: same convergence secret
    // and parameters) computes the same cap and downloads the same bytes.
    let a = data(2_000_003, 1);
    let (s, cap) = web(port, "PUT", "/uri", &a).unwrap();
    assert!(s == 200 || s == 201);
    let cap = String::from_utf8(cap).unwrap();
    let input = dir.join("a");
    std::fs::write(&input, &a).unwrap();
    let ours = String::from_utf8(ok(lafs().arg("put").arg("-d").arg(&client).arg(&input))).unwrap();
    assert_eq!(
        ours.trim(),
        cap.trim(),
        "same bytes/secret/params → same cap"
    );
    assert!(ok(lafs().arg("get").arg("-d").arg(&client).arg(cap.trim())) == a);

    // lafs uploads; Tahoe downloads and verifies.
    let b = data(1_234_567, 2);
    let input = dir.join("b");
    std::fs::write(&input, &b).unwrap();
    let cap = String::from_utf8(ok(lafs().arg("put").arg("-d").arg(&client).arg(&input))).unwrap();
    let (s, got) = web(port, "GET", &format!("/uri/{}", cap.trim()), b"").unwrap();
    assert_eq!(s, 200);
    assert!(got == b);
    let out = String::from_utf8(ok(tahoe(v).arg("-d").arg(&client).args([
        "check",
        "--verify",
        cap.trim(),
    ])))
    .unwrap();
    assert!(out.contains("Summary: Healthy"), "{out}");
}
