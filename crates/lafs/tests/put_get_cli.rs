//! `lafs create-client`, `put` and `get` against ten `lafs run` storage
//! servers (memory backend) over HTTPS on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{lafs, ok, start_grid};
use std::process::Stdio;

#[test]
fn put_get_roundtrip_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let (_procs, servers) = start_grid(tmp.path(), 10);
    let client = tmp.path().join("client");
    ok(lafs()
        .arg("create-client")
        .arg("--servers")
        .arg(&servers)
        .arg(&client));
    let data: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let input = tmp.path().join("in");
    std::fs::write(&input, &data).unwrap();
    let cap = String::from_utf8(ok(lafs().arg("put").arg("-d").arg(&client).arg(&input))).unwrap();
    let cap = cap.trim();
    assert!(
        cap.starts_with("URI:CHK:") && cap.ends_with(":3:10:2500000"),
        "{cap}"
    );
    // Same bytes, same secret: same cap (convergence), and from stdin too.
    let mut c = lafs()
        .arg("put")
        .arg("-d")
        .arg(&client)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(&data).unwrap();
    }
    let out = c.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), cap);
    let got = ok(lafs().arg("get").arg("-d").arg(&client).arg(cap));
    assert!(got == data);
    let got = ok(lafs()
        .arg("get")
        .arg("--servers")
        .arg(&servers)
        .args(["--range", "2400000-2400100"])
        .arg(cap));
    assert!(got == data[2_400_000..2_400_100]);
    // LIT.
    let small = tmp.path().join("small");
    std::fs::write(&small, b"hello").unwrap();
    let lit = String::from_utf8(ok(lafs().arg("put").arg("-d").arg(&client).arg(&small))).unwrap();
    assert!(lit.starts_with("URI:LIT:"));
    assert_eq!(ok(lafs().arg("get").arg(lit.trim())), b"hello");
}

#[test]
fn get_with_no_servers_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (procs, servers) = start_grid(tmp.path(), 3);
    drop(procs);
    let out = lafs()
        .arg("get")
        .arg("--servers")
        .arg(&servers)
        .arg("URI:CHK:t5zgcaqb2m6f46kk7jdk5tixna:gcec3ifbme2jcyxazzh6equenic6vrfghbn2jzg5gqcgwyhnrewq:3:10:3000001")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not enough good shares") && err.contains("v0-"),
        "{err}"
    );
}
