//! Concurrent and interrupted mutable writers across processes, over real
//! HTTPS to ten `lafs run` servers: two client nodes (`lafs run`, web API)
//! each adding 100 children to one directory, and `lafs put` onto a
//! mutable file killed (SIGKILL) at points spread over its whole run. The
//! in-process versions of both are in `lafs-client`'s tests; these add
//! separate processes, real TLS and each node's memory of the version it
//! published (`Client::dirnode`), which the other node keeps invalidating.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{data, lafs, ok, start_client_node, start_grid, web};
use std::path::Path;
use std::time::Instant;

fn port(node: &Path) -> u16 {
    let url = std::fs::read_to_string(node.join("node.url")).unwrap();
    url.trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn web_ok(port: u16, method: &str, path: &str, body: &[u8]) -> String {
    let (status, out) = web(port, method, path, body).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {out}"
    );
    out
}

#[test]
fn two_nodes_add_100_children_each_to_one_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = start_grid(tmp.path(), 10);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let _na = start_client_node(&a, &yaml);
    let _nb = start_client_node(&b, &yaml);
    let (pa, pb) = (port(&a), port(&b));
    let dir = web_ok(pa, "POST", "/uri?t=mkdir", b"");
    let child = web_ok(pa, "PUT", "/uri", b"one small child, linked 200 times");
    const EACH: usize = 100;
    let writers: Vec<_> = [("a", pa), ("b", pb)]
        .into_iter()
        .map(|(who, port)| {
            let (dir, child) = (dir.clone(), child.clone());
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let path = format!("/uri/{dir}/{who}{i:03}?t=uri&replace=false");
                    web_ok(port, "PUT", &path, child.as_bytes());
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    // Both nodes see all 200.
    for p in [pa, pb] {
        let j: serde_json::Value =
            serde_json::from_str(&web_ok(p, "GET", &format!("/uri/{dir}?t=json"), b"")).unwrap();
        let kids = j[1]["children"].as_object().unwrap();
        assert_eq!(kids.len(), 2 * EACH);
        for who in ["a", "b"] {
            for i in 0..EACH {
                assert!(
                    kids.contains_key(&format!("{who}{i:03}")),
                    "{who}{i:03} lost"
                );
            }
        }
    }
}

#[test]
fn killed_mutable_writer_leaves_old_or_new_and_the_next_write_repairs() {
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = start_grid(tmp.path(), 10);
    let c = tmp.path().join("client");
    ok(lafs()
        .arg("create-client")
        .arg("--servers")
        .arg(&yaml)
        .arg(&c));
    let lafs_c = || {
        let mut cmd = lafs();
        cmd.arg("-d").arg(&c);
        cmd
    };
    let file = |i: u32| {
        let p = tmp.path().join(format!("v{i}"));
        std::fs::write(&p, data(1 << 20, i)).unwrap();
        p
    };
    let read = |cap: &str| {
        let out = tmp.path().join("got");
        ok(lafs_c().arg("get").arg(cap).arg(&out));
        std::fs::read(&out).unwrap()
    };
    let check = |cap: &str| String::from_utf8(ok(lafs_c().arg("check").arg(cap))).unwrap();

    let cap = String::from_utf8(ok(lafs_c().args(["put", "--mutable"]).arg(file(0))))
        .unwrap()
        .trim()
        .to_string();
    // One uninterrupted overwrite, to spread the kills over a whole run
    // (process start, servermap, encode, share writes); not an assertion.
    let t = Instant::now();
    ok(lafs_c().arg("put").arg(file(1)).arg(&cap));
    let whole = t.elapsed();
    let mut current = data(1 << 20, 1);
    let mut mixed = 0;
    for i in 2..10u32 {
        let new = data(1 << 20, i);
        let mut p = lafs_c()
            .arg("put")
            .arg(file(i))
            .arg(&cap)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole.mul_f64(f64::from(i - 1) / 8.0));
        let _ = p.kill(); // SIGKILL; the writer may have finished already
        p.wait().unwrap();
        // The file reads as the old version or the new one, never a mix.
        let got = read(&cap);
        assert!(
            got == current || got == new,
            "kill {i}: neither old nor new"
        );
        if !check(&cap).starts_with("Summary: Healthy") {
            // Shares of two versions: killed between share writes.
            mixed += 1;
        }
        // The next write succeeds, and leaves every share at its version.
        let next = tmp.path().join(format!("w{i}"));
        std::fs::write(&next, data(1 << 20, 100 + i)).unwrap();
        ok(lafs_c().arg("put").arg(&next).arg(&cap));
        current = data(1 << 20, 100 + i);
        assert!(
            read(&cap) == current,
            "after kill {i}: the next write did not land"
        );
        let out = check(&cap);
        assert!(out.starts_with("Summary: Healthy"), "after kill {i}: {out}");
    }
    eprintln!(
        "killed writer: {mixed} of 8 kills left shares of two versions (whole put {:.0} ms)",
        whole.as_secs_f64() * 1e3
    );
}
