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

#[test]
fn deep_check_and_repair_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let (_procs, servers) = start_grid_with(tmp.path(), 10, "disk");
    let c = tmp.path().join("client");
    ok(lafs()
        .arg("create-client")
        .arg("--servers")
        .arg(&servers)
        .arg(&c));
    let run = |args: &[&str]| text(ok(lafs().arg("-d").arg(&c).args(args)));
    let big = tmp.path().join("big");
    std::fs::write(&big, vec![7u8; 200_000]).unwrap();
    let small = tmp.path().join("small");
    std::fs::write(&small, b"tiny").unwrap();
    let (big, small) = (big.to_str().unwrap(), small.to_str().unwrap());
    run(&["create-alias", "tahoe:"]);
    run(&["mkdir", "tahoe:sub"]);
    run(&["put", big, "tahoe:sub/f"]);
    run(&["put", "--mutable", big, "tahoe:m"]);
    run(&["put", small, "tahoe:lit"]);

    let out = run(&["deep-check", "-v", "--verify", "tahoe:"]);
    assert_eq!(
        out,
        "'<root>': Healthy\n'lit': Healthy (LIT)\n'm': Healthy\n'sub': Healthy\n\
         'sub/f': Healthy\ndone: 5 objects checked, 5 healthy, 0 unhealthy\n"
    );

    // One share of the immutable file and one of the mutable file go.
    let si_of = |path: &str| {
        let raw: serde_json::Value = serde_json::from_str(&run(&["check", "--raw", path])).unwrap();
        raw["storage-index"].as_str().unwrap().to_string()
    };
    for (path, shnum) in [("tahoe:sub/f", 0u16), ("tahoe:m", 1)] {
        let si = si_of(path);
        let files = share_files(tmp.path(), &si, shnum);
        assert!(!files.is_empty(), "{path} share {shnum}");
        for f in files {
            std::fs::remove_file(f).unwrap();
        }
    }
    let out = run(&["deep-check", "tahoe:"]);
    assert_eq!(out, "done: 5 objects checked, 3 healthy, 2 unhealthy\n");
    let out = run(&["check", "tahoe:m"]);
    assert!(
        out.starts_with("Summary: Unhealthy: 9 shares (enc 3-of-10)\n"),
        "{out}"
    );

    let out = run(&["deep-check", "--repair", "tahoe:"]);
    assert!(
        out.ends_with(
            "done: 5 objects checked\n pre-repair: 3 healthy, 2 unhealthy\n \
             2 repairs attempted, 2 successful, 0 failed\n post-repair: 5 healthy, 0 unhealthy\n"
        ),
        "{out}"
    );
    let raw = run(&["deep-check", "--raw", "--verify", "tahoe:"]);
    let lines: Vec<serde_json::Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(lines[..5]
        .iter()
        .all(|l| l["check-results"]["results"]["healthy"] == true));
    assert_eq!(lines[5]["type"], "stats");
    assert_eq!(
        text(ok(lafs().arg("-d").arg(&c).args(["get", "tahoe:m"]))).len(),
        200_000
    );
}
