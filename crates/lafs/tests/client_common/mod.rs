//! Shared by the client CLI and interop tests: ten `lafs run` servers on
//! loopback, Python 1.20 storage nodes, a Tahoe client node with a web
//! port, and a minimal HTTP/1.0 caller for its web API.
#![allow(dead_code)]

use std::io::{Read, Write};
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
    start_grid_with(dir, n, "memory")
}

/// `n` servers with the given storage backend; server `i`'s node
/// directory is `dir/s{i}` (disk shares under `dir/s{i}/storage/shares`).
pub fn start_grid_with(dir: &Path, n: usize, backend: &str) -> (Vec<Kill>, PathBuf) {
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
                backend,
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

/// `lafs create-client --servers SERVERS DIR` with `[node] web.port =
/// WEB_PORT`, then `lafs run DIR` (log in `DIR/lafs-run.log`); returns
/// once node.url is written and its port accepts connections.
pub fn start_web_client(dir: &Path, servers: &Path, web_port: &str) -> Kill {
    ok(lafs()
        .args(["create-client", "--servers"])
        .arg(servers)
        .arg(dir));
    let cfg = dir.join("tahoe.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replacen("[node]\n", &format!("[node]\nweb.port = {web_port}\n"), 1),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("lafs-run.log")).unwrap();
    let child = lafs()
        .arg("run")
        .arg(dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let k = Kill(child);
    let t = Instant::now();
    loop {
        if let Ok(url) = std::fs::read_to_string(dir.join("node.url")) {
            let hp = url
                .trim()
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/');
            if std::net::TcpStream::connect(hp).is_ok() {
                return k;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "lafs run did not write node.url: {}",
            std::fs::read_to_string(dir.join("lafs-run.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// servers.yaml entry for a Python 1.20 storage node (spec §9.4), as
/// `lafs admin announcement` builds it from the node's files.
pub fn python_announcement(nd: &Path, _nick: &str) -> String {
    String::from_utf8(ok(lafs().args(["admin", "announcement"]).arg(nd))).unwrap()
}

/// A loopback port that was free a moment ago (for nodes that must be
/// told their port before they start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn venv() -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let out = Command::new(root().join("scripts/tahoe-venv"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    if !out.status.success() {
        assert!(!ci, "scripts/tahoe-venv failed under CI=true");
        eprintln!("client interop: SKIPPED (no Tahoe 1.20 venv)");
        return None;
    }
    Some(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
}

pub fn tahoe(v: &Path) -> Command {
    let mut c = Command::new(v.join("bin/python"));
    c.current_dir(root().join("../shared/tahoe"))
        .arg("tahoe_loopback.py");
    c
}

/// Start `lafs run` on a client node with a loopback web port; wait for
/// node.url and the port.
pub fn start_client_node(dir: &Path, servers: &Path) -> Kill {
    start_web_client(dir, servers, "tcp:0:interface=127.0.0.1")
}

pub fn web(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
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

pub fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Python 1.20 storage nodes on loopback (no web port).
pub fn python_storage_grid(v: &Path, dir: &Path, n: usize) -> (Vec<Kill>, PathBuf) {
    let mut procs = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..n {
        let nd = dir.join(format!("py{i}"));
        let port = free_port();
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

/// Start a Tahoe 1.20 client node (web port on loopback) on `yaml`'s
/// `nservers` servers with encoding (k, happy, N); wait until it is
/// connected to all of them. Returns the process, node directory and web
/// port.
pub fn start_tahoe_client(
    v: &Path,
    dir: &Path,
    yaml: &Path,
    nservers: usize,
    (k, happy, n): (u32, u32, u32),
) -> (Kill, PathBuf, u16) {
    let client = dir.join("client");
    let port = free_port();
    ok(tahoe(v)
        .args(["create-client", "--nickname", "client"])
        .arg(format!("--webport=tcp:{port}:interface=127.0.0.1"))
        .arg(format!("--shares-needed={k}"))
        .arg(format!("--shares-happy={happy}"))
        .arg(format!("--shares-total={n}"))
        .arg(&client));
    std::fs::copy(yaml, client.join("private/servers.yaml")).unwrap();
    let node = Kill(
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

    (node, client, port)
}
