//! Shared by the client CLI tests: ten `lafs run` servers on loopback.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn lafs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lafs"))
}

pub struct Kill(pub Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn port_of(ann: &str) -> u16 {
    // …@127.0.0.1:PORT/swissnum#v=1
    let nurl = ann.lines().find(|l| l.contains("#v=1")).unwrap();
    let after = nurl.split("@127.0.0.1:").nth(1).unwrap();
    after.split('/').next().unwrap().parse().unwrap()
}

pub fn start_grid(dir: &Path, n: usize) -> (Vec<Kill>, PathBuf) {
    let mut procs = Vec::new();
    let mut yaml = String::from("storage:\n");
    for i in 0..n {
        let nd = dir.join(format!("s{i}"));
        ok(lafs()
            .args([
                "create-node",
                "--hostname",
                "127.0.0.1",
                "--backend",
                "memory",
            ])
            .arg(&nd));
        let ann = String::from_utf8(ok(lafs().args(["admin", "announcement"]).arg(&nd))).unwrap();
        let port = port_of(&ann);
        yaml.push_str(&ann);
        let child = lafs()
            .arg("run")
            .arg(&nd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        procs.push(Kill(child));
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "server {i} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let servers = dir.join("servers.yaml");
    std::fs::write(&servers, yaml).unwrap();
    (procs, servers)
}

/// servers.yaml entry for a Python 1.20 storage node (spec §9.4), as
/// `lafs admin announcement` builds it from the node's files.
pub fn python_announcement(nd: &Path, _nick: &str) -> String {
    String::from_utf8(ok(lafs().args(["admin", "announcement"]).arg(nd))).unwrap()
}
