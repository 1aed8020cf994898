//! `lafs check` beside a real Tahoe 1.20 client on the same ten `lafs run`
//! disk servers: for a damaged CHK, SDMF and MDMF file, Tahoe's
//! `t=check&verify=true&output=JSON` and `lafs check --verify --raw` agree
//! on every count, on health and on the summary; after `lafs check
//! --repair`, Tahoe's verifier calls every file healthy and reads them.
//! Needs `scripts/tahoe-venv`; skipped with a message when it cannot be
//! made, unless `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{data, lafs, ok, start_grid_with, start_tahoe_client, venv, web};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn share_files(root: &Path, si: &str, shnum: u16) -> Vec<PathBuf> {
    (0..10)
        .map(|i| {
            root.join(format!("s{i}/storage/shares"))
                .join(&si[..2])
                .join(si)
                .join(shnum.to_string())
        })
        .filter(|p| p.exists())
        .collect()
}

/// The fields both sides must agree on (server names differ: Tahoe names
/// servers by its own ids).
fn comparable(j: &Value) -> Value {
    let r = &j["results"];
    let keys = [
        "count-happiness",
        "count-shares-good",
        "count-shares-needed",
        "count-shares-expected",
        "count-good-share-hosts",
        "count-corrupt-shares",
        "count-wrong-shares",
        "count-recoverable-versions",
        "count-unrecoverable-versions",
        "healthy",
        "recoverable",
    ];
    let mut m = serde_json::Map::new();
    for k in keys {
        m.insert(k.into(), r[k].clone());
    }
    let mut shares: Vec<String> = r["sharemap"].as_object().unwrap().keys().cloned().collect();
    shares.sort();
    m.insert("sharemap-keys".into(), shares.into());
    let corrupt: Vec<Value> = r["list-corrupt-shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!([c[0], c[2]]))
        .collect();
    m.insert("corrupt-shnums".into(), corrupt.into());
    m.insert("storage-index".into(), j["storage-index"].clone());
    m.insert("summary".into(), j["summary"].clone());
    let mut responding: Vec<Value> = r["servers-responding"].as_array().unwrap().clone();
    responding.sort_by_key(|v| v.to_string());
    m.insert("servers-responding".into(), responding.into());
    Value::Object(m)
}

#[test]
fn tahoe_and_lafs_agree_and_tahoe_verifies_lafs_repairs() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = start_grid_with(tmp.path(), 10, "disk");
    let (_tahoe, _tc, port) = start_tahoe_client(&v, tmp.path(), &yaml, 10, (3, 7, 10));
    let c = tmp.path().join("lafs-client");
    ok(lafs()
        .arg("create-client")
        .arg("--servers")
        .arg(&yaml)
        .arg(&c));
    let run = |args: &[&str]| String::from_utf8(ok(lafs().arg("-d").arg(&c).args(args))).unwrap();
    let tahoe_check = |cap: &str| -> Value {
        let (status, body) = web(
            port,
            "POST",
            &format!("/uri/{cap}?t=check&verify=true&output=JSON"),
            b"",
        )
        .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    };
    let lafs_check = |cap: &str| -> Value {
        serde_json::from_str(&run(&["check", "--verify", "--raw", cap])).unwrap()
    };

    let plain = data(400_000, 5);
    let input = tmp.path().join("in");
    std::fs::write(&input, &plain).unwrap();
    let input = input.to_str().unwrap();
    let chk = run(&["put", input]).trim().to_string();
    let ssk = run(&["put", "--mutable", input]).trim().to_string();
    let mdmf = run(&["put", "--format", "mdmf", input]).trim().to_string();

    for (cap, deleted, corrupt) in [
        (&chk, &[0u16, 1, 2, 3][..], 4u16),
        (&ssk, &[0, 1][..], 2),
        (&mdmf, &[9][..], 8),
    ] {
        let before = lafs_check(cap);
        assert_eq!(comparable(&before), comparable(&tahoe_check(cap)), "{cap}");
        let si = before["storage-index"].as_str().unwrap().to_string();
        for &n in deleted {
            for f in share_files(tmp.path(), &si, n) {
                std::fs::remove_file(f).unwrap();
            }
        }
        for f in share_files(tmp.path(), &si, corrupt) {
            let mut b = std::fs::read(&f).unwrap();
            let at = b.len() / 2;
            b[at] ^= 0x10;
            std::fs::write(&f, b).unwrap();
        }
        let ours = lafs_check(cap);
        let theirs = tahoe_check(cap);
        assert_eq!(comparable(&ours), comparable(&theirs), "{cap}: {theirs:#}");
        assert_eq!(ours["results"]["healthy"], false);

        let out = run(&["check", "--verify", "--repair", cap]);
        assert!(out.ends_with(" repair successful\n"), "{out}");
        let theirs = tahoe_check(cap);
        assert_eq!(theirs["results"]["healthy"], true, "{theirs:#}");
        assert_eq!(theirs["results"]["count-shares-good"], 10);
        let (status, body) = web(port, "GET", &format!("/uri/{cap}"), b"").unwrap();
        assert_eq!(status, 200);
        assert!(body == plain, "Tahoe reads the repaired file");
    }
}
