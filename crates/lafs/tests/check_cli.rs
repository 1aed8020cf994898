//! `lafs check` against ten `lafs run` disk servers over HTTPS: damage a
//! file's shares on disk, then check, verify, repair and read it back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{lafs, ok, start_grid_with};
use std::path::{Path, PathBuf};

/// Every stored copy of share `shnum` of `si` (base32) under the servers.
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

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

#[test]
fn check_verify_repair_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let (_procs, servers) = start_grid_with(tmp.path(), 10, "disk");
    let client = tmp.path().join("client");
    ok(lafs()
        .arg("create-client")
        .arg("--servers")
        .arg(&servers)
        .arg(&client));
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let input = tmp.path().join("in");
    std::fs::write(&input, &data).unwrap();
    let cap = text(ok(lafs().arg("put").arg("-d").arg(&client).arg(&input)));
    let cap = cap.trim();
    let check = || {
        let mut c = lafs();
        c.arg("check").arg("-d").arg(&client);
        c
    };

    let out = text(ok(check().arg(cap)));
    assert!(out.starts_with("Summary: Healthy\n"), "{out}");
    assert!(
        out.contains(" good-shares: 10 (encoding is 3-of-10)\n"),
        "{out}"
    );
    let raw: serde_json::Value =
        serde_json::from_slice(&ok(check().arg("--raw").arg(cap))).unwrap();
    let si = raw["storage-index"].as_str().unwrap().to_string();
    assert_eq!(raw["results"]["count-happiness"], 10);

    for n in [0u16, 1] {
        for f in share_files(tmp.path(), &si, n) {
            std::fs::remove_file(f).unwrap();
        }
    }
    for f in share_files(tmp.path(), &si, 2) {
        let mut b = std::fs::read(&f).unwrap();
        b[1000] ^= 1;
        std::fs::write(&f, b).unwrap();
    }
    let out = text(ok(check().arg(cap)));
    assert!(
        out.starts_with("Summary: Not Healthy: 8 shares (enc 3-of-10)\n"),
        "{out}"
    );
    let out = text(ok(check().arg("--verify").arg(cap)));
    assert!(
        out.contains(" good-shares: 7 (encoding is 3-of-10)\n"),
        "{out}"
    );
    assert!(out.contains(" corrupt shares:\n  server v0-"), "{out}");
    assert!(out.contains(&format!("SI {si}, shnum 2\n")), "{out}");

    let out = text(ok(check()
        .args(["--verify", "--repair", "--add-lease"])
        .arg(cap)));
    assert!(out.starts_with("Summary: not healthy\n"), "{out}");
    assert!(out.ends_with(" repair successful\n"), "{out}");
    let out = text(ok(check().arg("--verify").arg(cap)));
    assert!(
        out.contains(" good-shares: 10 (encoding is 3-of-10)\n"),
        "{out}"
    );
    assert!(out.starts_with("Summary: Healthy\n"), "{out}");
    assert!(ok(lafs().arg("get").arg("-d").arg(&client).arg(cap)) == data);

    let out = text(ok(check().arg("URI:LIT:mfrgg")));
    assert_eq!(out, "Summary: Healthy (LIT)\n storage index: \n");
}
