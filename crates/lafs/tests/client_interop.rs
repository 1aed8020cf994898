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

use client_common::{
    data, free_port, lafs, listens, ok, python_storage_grid, start_grid,
    start_python_storage_node_on, start_tahoe_client, tahoe, venv, web, Kill,
};
use std::path::Path;

#[test]
fn lafs_and_tahoe_clients_interoperate() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = start_grid(tmp.path(), 10);
    exchange(&v, tmp.path(), &yaml, 10, (3, 7, 10));
}

#[test]
fn lafs_client_and_python_storage_servers_interoperate() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = python_storage_grid(&v, tmp.path(), 5);
    exchange(&v, tmp.path(), &yaml, 5, (3, 5, 5));
}

/// Tahoe must be told its storage port before it starts; when another
/// process has taken that port, Tahoe runs on without listening (and
/// writes its furl all the same). The helper every interop test uses
/// replaces such a node with one on a new port.
#[test]
fn python_node_that_lost_its_port_is_started_again_on_another() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let thief = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = thief.local_addr().unwrap().port();
    let mut first = Some(taken);
    let mut pick = || first.take().unwrap_or_else(free_port);
    let nd = tmp.path().join("py");
    let node = Kill(start_python_storage_node_on(
        &v,
        &nd,
        "py",
        &tmp.path().join("py.log"),
        &mut pick,
    ));
    let furl = std::fs::read_to_string(nd.join("private/storage.furl")).unwrap();
    let port: u16 = furl
        .split("@tcp:127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {furl}"));
    assert_ne!(port, taken, "the node must have moved off the taken port");
    assert!(listens(node.0.id(), port));
    assert!(!listens(node.0.id(), taken));
    assert!(
        listens(std::process::id(), taken),
        "the thief keeps its port"
    );
}

/// Start a Tahoe client on `yaml`'s `nservers` servers with encoding
/// (k, happy, N), then swap files with `lafs put`/`lafs get` both ways.
fn exchange(v: &Path, dir: &Path, yaml: &Path, nservers: usize, (k, happy, n): (u32, u32, u32)) {
    let (_tahoe, client, port) = start_tahoe_client(v, dir, yaml, nservers, (k, happy, n));

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
