//! Shared by the client CLI and interop tests: ten `lafs run` servers on
//! loopback, Python 1.20 storage nodes, a Tahoe client node with a web
//! port, and a minimal HTTP/1.0 caller for its web API.
#![allow(dead_code)]

#[path = "../../src/loopback.rs"]
mod loopback;
// Not every test binary that includes this module uses every helper.
#[allow(unused_imports)]
pub use loopback::{listens, node_url_port, wait_listening, Start};

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

pub fn port_of(ann: &str) -> u16 {
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
        let (server, ann) = start_lafs_storage_node(
            &dir.join(format!("s{i}")),
            &["--hostname", "127.0.0.1", "--backend", backend],
            &dir.join(format!("s{i}.log")),
        );
        procs.push(Kill(server));
        yaml.push_str(&ann);
    }
    let servers = dir.join("servers.yaml");
    std::fs::write(&servers, yaml).unwrap();
    (procs, servers)
}

/// `lafs run NODEDIR`, quietly.
pub fn spawn_run(nd: &Path) -> Kill {
    Kill(
        lafs()
            .arg("run")
            .arg(nd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// `lafs create-node ARGS NODEDIR`, then `lafs run NODEDIR` (output in
/// `log`); return it once it listens, with its servers.yaml entry.
/// `create-node` picks a free port that another process may take before
/// `lafs run` binds it (`lafs run` then exits): such a node is made again
/// on a new port (5 attempts).
pub fn start_lafs_storage_node(nd: &Path, args: &[&str], log: &Path) -> (Child, String) {
    for _ in 0..5 {
        let _ = std::fs::remove_dir_all(nd);
        ok(lafs().arg("create-node").args(args).arg(nd));
        let ann = String::from_utf8(ok(lafs().args(["admin", "announcement"]).arg(nd))).unwrap();
        let port = port_of(&ann);
        let f = std::fs::File::create(log).unwrap();
        let mut child = lafs()
            .arg("run")
            .arg(nd)
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        let start = wait_listening(&mut child, port, Duration::from_secs(60), || true);
        if let Ok(Start::Listening) = start {
            return (child, ann);
        }
        let _ = child.kill();
        let _ = child.wait();
        match start {
            Ok(Start::Lost(why)) => eprintln!("{}: {why}; again", nd.display()),
            Ok(_) => panic!("lafs run did not listen on {port} in 60 s"),
            Err(e) => panic!("waiting for lafs run: {e}"),
        }
    }
    panic!("server {} could not listen in 5 attempts", nd.display());
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
        if let Some(port) = node_url_port(dir) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
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

/// The last `n` lines of a log file, for failure messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Create and start a Python 1.20 storage node in `nd` (no web port, log
/// in `log`); return once it listens on its port.
///
/// Tahoe refuses `tcp:0` for its storage port, so the port is picked free
/// beforehand. Another process can take it before Tahoe binds; Tahoe then
/// runs on without listening and writes its furl all the same. Such a node
/// is replaced by a fresh one on a new port (at most 5 attempts).
pub fn start_python_storage_node(v: &Path, nd: &Path, nick: &str, log: &Path) -> Child {
    start_python_storage_node_on(v, nd, nick, log, &mut free_port)
}

/// [`start_python_storage_node`] with the ports to try from `pick`.
pub fn start_python_storage_node_on(
    v: &Path,
    nd: &Path,
    nick: &str,
    log: &Path,
    pick: &mut dyn FnMut() -> u16,
) -> Child {
    let mut why = String::new();
    for attempt in 1..=5 {
        let _ = std::fs::remove_dir_all(nd);
        let port = pick();
        ok(tahoe(v)
            .args(["create-node", "--nickname", nick])
            .arg(format!("--port=tcp:{port}:interface=127.0.0.1"))
            .arg(format!("--location=tcp:127.0.0.1:{port}"))
            .arg("--webport=none")
            .arg(nd));
        let f = std::fs::File::create(log).unwrap();
        let mut child = tahoe(v)
            .args(["run", "--allow-stdin-close"])
            .arg(nd)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        let furl = nd.join("private/storage.furl");
        why = match wait_listening(&mut child, port, Duration::from_secs(120), || furl.exists()) {
            Ok(Start::Listening) => return child,
            Ok(Start::Lost(why)) => why,
            Ok(Start::TimedOut) => "no storage.furl after 120 s".to_string(),
            Err(e) => e.to_string(),
        };
        let _ = child.kill();
        let _ = child.wait();
        eprintln!(
            "Python storage node {nick}, attempt {attempt}: {why}\n{}",
            log_tail(log, 20)
        );
    }
    panic!("Python storage node {nick} did not start: {why}");
}

/// Python 1.20 storage nodes on loopback (no web port).
pub fn python_storage_grid(v: &Path, dir: &Path, n: usize) -> (Vec<Kill>, PathBuf) {
    let mut procs = Vec::new();
    let mut yaml = String::from("storage:\n");
    for i in 0..n {
        let nd = dir.join(format!("py{i}"));
        let nick = format!("py{i}");
        let log = dir.join(format!("py{i}.log"));
        procs.push(Kill(start_python_storage_node(v, &nd, &nick, &log)));
        yaml.push_str(&python_announcement(&nd, &nick));
    }
    let path = dir.join("servers.yaml");
    std::fs::write(&path, yaml).unwrap();
    (procs, path)
}

/// Wait (at most `limit`) until the Tahoe node `nd`, run as `child`, has
/// written node.url and its web API reports `nservers` servers connected.
/// Returns the web port; on failure the panic shows each server's
/// connection status and the end of `log`.
pub fn wait_tahoe_connected(
    child: &mut Child,
    nd: &Path,
    log: &Path,
    nservers: usize,
    limit: Duration,
) -> u16 {
    let t = Instant::now();
    let mut last = String::from("no node.url yet");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("Tahoe node exited ({status}):\n{}", log_tail(log, 40));
        }
        if let Some(port) = node_url_port(nd) {
            match web(port, "GET", "/?t=json", b"") {
                Ok((200, b)) => {
                    let j: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
                    let servers = j["servers"].as_array().cloned().unwrap_or_default();
                    let connected = servers
                        .iter()
                        .filter(|s| s["connection_status"] == "connected")
                        .count();
                    if connected == nservers {
                        return port;
                    }
                    last = servers
                        .iter()
                        .map(|s| {
                            format!(
                                "{} {}",
                                s["nickname"].as_str().unwrap_or("?"),
                                s["connection_status"].as_str().unwrap_or("?")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                }
                Ok((s, _)) => last = format!("web API answered {s}"),
                Err(e) => last = format!("web API: {e}"),
            }
        }
        assert!(
            t.elapsed() < limit,
            "Tahoe client did not connect to {nservers} servers in {limit:?}: {last}\n{}",
            log_tail(log, 40)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
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
    ok(tahoe(v)
        .args(["create-client", "--nickname", "client"])
        .arg("--webport=tcp:0:interface=127.0.0.1")
        .arg(format!("--shares-needed={k}"))
        .arg(format!("--shares-happy={happy}"))
        .arg(format!("--shares-total={n}"))
        .arg(&client));
    std::fs::copy(yaml, client.join("private/servers.yaml")).unwrap();
    let log = dir.join("tahoe-client.log");
    let f = std::fs::File::create(&log).unwrap();
    let mut node = Kill(
        tahoe(v)
            .args(["run", "--allow-stdin-close"])
            .arg(&client)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap(),
    );
    let port = wait_tahoe_connected(
        &mut node.0,
        &client,
        &log,
        nservers,
        Duration::from_secs(180),
    );
    (node, client, port)
}
