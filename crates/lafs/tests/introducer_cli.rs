#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The introducer as a user runs it: `lafs create-introducer` + `lafs run`,
//! ten `lafs create-node --introducer URL` storage nodes announcing
//! themselves, two client nodes (one configured through
//! `private/introducers.yaml`, one through tahoe.cfg `[client]
//! introducer.furl`) that find them, upload and download; an introducer
//! restart after which the servers announce again and a new client finds
//! them all. Ports are picked at creation; every wait is bounded.

mod client_common;

use client_common::{lafs, ok, spawn_run};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The servers a client knows (0 while `lafs admin servers` fails).
fn known(client: &Path) -> usize {
    let out = lafs()
        .args(["admin", "servers"])
        .arg(client)
        .output()
        .unwrap();
    if !out.status.success() {
        return 0;
    }
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn wait_known(client: &Path, n: usize) {
    for _ in 0..120 {
        if known(client) >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{} never learned {n} servers", client.display());
}

fn client_node(dir: &Path, name: &str) -> PathBuf {
    let c = dir.join(name);
    ok(lafs().arg("create-client").arg(&c));
    c
}

#[test]
fn nodes_find_each_other_through_the_introducer() {
    let dir = lafs_testing::scratch_dir("introducer-cli");
    let intro_dir = dir.join("introducer");
    let out = String::from_utf8(ok(lafs()
        .args(["create-introducer", "--hostname", "127.0.0.1"])
        .arg(&intro_dir)))
    .unwrap();
    let url = std::fs::read_to_string(intro_dir.join("private/introducer.furl")).unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("pb://") && url.ends_with("#v=1"), "{url}");
    assert!(out.contains(&url));
    let mut intro = spawn_run(&intro_dir);

    let mut servers = Vec::new();
    for i in 0..10 {
        let nd = dir.join(format!("s{i}"));
        ok(lafs()
            .args(["create-node", "--backend", "memory", "--introducer", &url])
            .args(["--nickname", &format!("s{i}")])
            .arg(&nd));
        // A stray key is a warning, never a failure.
        let cfg = std::fs::read_to_string(nd.join("tahoe.cfg")).unwrap();
        std::fs::write(
            nd.join("tahoe.cfg"),
            cfg.replace("[node]\n", "[node]\nno.such.key = 1\n"),
        )
        .unwrap();
        servers.push(spawn_run(&nd));
    }

    let c1 = client_node(&dir, "c1");
    std::fs::write(
        c1.join("private/introducers.yaml"),
        format!("introducers:\n  default:\n    furl: \"{url}\"\n"),
    )
    .unwrap();
    let c2 = client_node(&dir, "c2");
    let cfg = std::fs::read_to_string(c2.join("tahoe.cfg")).unwrap();
    std::fs::write(
        c2.join("tahoe.cfg"),
        cfg.replace(
            "[client]\n",
            &format!("[client]\nintroducer.furl = {url}\n"),
        ),
    )
    .unwrap();
    wait_known(&c1, 10);
    wait_known(&c2, 10);
    // Tahoe's cache file, written by the subscription.
    let cache = std::fs::read_to_string(c1.join("private/introducer_default_cache.yaml")).unwrap();
    assert_eq!(cache.matches("key_s:").count(), 10, "{cache}");

    let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let file = dir.join("plain");
    std::fs::write(&file, &plain).unwrap();
    let cap = String::from_utf8(ok(lafs().arg("put").arg("-d").arg(&c1).arg(&file)))
        .unwrap()
        .trim()
        .to_string();
    let got = ok(lafs().arg("get").arg("-d").arg(&c2).arg(&cap));
    assert!(got == plain);

    // Introducer down: clients still work from what they learnt.
    drop(intro);
    let got = ok(lafs().arg("get").arg("-d").arg(&c1).arg(&cap));
    assert!(got == plain);

    // Restarted: every server announces again; a brand-new client finds all.
    intro = spawn_run(&intro_dir);
    let c3 = client_node(&dir, "c3");
    std::fs::write(
        c3.join("private/introducers.yaml"),
        format!("introducers:\n  default:\n    furl: \"{url}\"\n"),
    )
    .unwrap();
    wait_known(&c3, 10);
    let got = ok(lafs().arg("get").arg("-d").arg(&c3).arg(&cap));
    assert!(got == plain);
    drop(intro);
    drop(servers);
}
