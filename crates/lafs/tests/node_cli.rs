//! `lafs create-node`, `lafs admin announcement` and `lafs run` as a user
//! runs them: the config Tahoe's names, a permanent tub id, a clean stop on
//! SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn lafs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lafs"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn create_node_writes_tahoe_config_and_announcement() {
    let nd = tmpdir("node-cli");
    let out = lafs()
        .args(["create-node", "--nickname", "n1"])
        .arg(&nd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = std::fs::read_to_string(nd.join("tahoe.cfg")).unwrap();
    for key in [
        "[node]",
        "nickname=n1",
        "tub.port=tcp:",
        "tub.location=tcp:127.0.0.1:",
        "web.port=",
        "[storage]",
        "enabled=true",
        "reserved_space=",
        "readonly=false",
        "expire.enabled=false",
        "[client]",
        "shares.needed=3",
    ] {
        assert!(cfg.contains(key), "tahoe.cfg lacks {key}:\n{cfg}");
    }
    // A port was picked at creation time and written down.
    let port: u16 = cfg
        .lines()
        .find_map(|l| l.strip_prefix("tub.location=tcp:127.0.0.1:"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(port > 0);

    let ann = lafs()
        .args(["admin", "announcement"])
        .arg(&nd)
        .output()
        .unwrap();
    assert!(ann.status.success());
    let ann = String::from_utf8(ann.stdout).unwrap();
    let tubid = std::fs::read_to_string(nd.join("private/tubid")).unwrap();
    assert_eq!(tubid.trim().len(), 32);
    assert!(
        ann.contains(&format!("anonymous-storage-FURL: \"pb://{}@", tubid.trim())),
        "{ann}"
    );
    assert!(
        ann.contains(&format!("@127.0.0.1:{port}/")) && ann.contains("#v=1\""),
        "{ann}"
    );
    assert!(ann.trim_start().starts_with("v0-"), "{ann}");
    // The announcement is stable: nothing identifying changes between calls.
    let again = lafs()
        .args(["admin", "announcement"])
        .arg(&nd)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), ann);
    // Refuses to overwrite.
    assert!(!lafs()
        .arg("create-node")
        .arg(&nd)
        .output()
        .unwrap()
        .status
        .success());
    std::fs::remove_dir_all(&nd).unwrap();
}

#[test]
fn run_serves_and_stops_on_sigterm() {
    let nd = tmpdir("node-run");
    assert!(lafs()
        .args(["create-node", "--backend", "memory"])
        .arg(&nd)
        .status()
        .unwrap()
        .success());
    let cfg = std::fs::read_to_string(nd.join("tahoe.cfg")).unwrap();
    let port: u16 = cfg
        .lines()
        .find_map(|l| l.strip_prefix("tub.location=tcp:127.0.0.1:"))
        .unwrap()
        .parse()
        .unwrap();
    let mut child = lafs()
        .arg("run")
        .arg(&nd)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "lafs run never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "lafs run ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("storage server stopped"), "{log}");
    // Never log the swissnum.
    let swiss = std::fs::read_to_string(nd.join("private/swissnum")).unwrap();
    assert!(!log.contains(swiss.trim()));
    std::fs::remove_dir_all(&nd).unwrap();
}
