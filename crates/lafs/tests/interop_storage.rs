//! Interop: real Tahoe-LAFS 1.20 clients (and servers) against `lafs run`
//! storage servers over the HTTPS storage protocol.
//!
//! Needs a Python venv with the pinned Tahoe 1.20 set, made by
//! `scripts/tahoe-venv` (network to PyPI on first use). Under `CI=true` a
//! venv that cannot be made fails the tests; elsewhere they are skipped
//! with a message, or explicitly with `LAFS_SKIP_INTEROP=1`.
//!
//! Every node listens on 127.0.0.1 with ports picked free at creation;
//! every wait is bounded; child processes are killed on drop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{
    python_announcement, root as repo_root, start_lafs_storage_node, start_python_storage_node,
    wait_tahoe_connected,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The venv, or None (skip) outside CI when it cannot be made.
fn venv() -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !ci && std::env::var("LAFS_SKIP_INTEROP").is_ok_and(|v| v == "1") {
        eprintln!("interop: skipped (LAFS_SKIP_INTEROP=1)");
        return None;
    }
    let out = Command::new(repo_root().join("scripts/tahoe-venv"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/tahoe-venv");
    if !out.status.success() {
        if ci {
            panic!("interop: scripts/tahoe-venv failed under CI=true");
        }
        eprintln!(
            "interop: SKIPPED — could not make the Tahoe 1.20 venv (no network?). \
             Run scripts/tahoe-venv once with network access; set LAFS_SKIP_INTEROP=1 to silence."
        );
        return None;
    }
    Some(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
}

/// A child process killed (and reaped) on drop.
struct Proc(Child, String);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Grid {
    venv: PathBuf,
    dir: PathBuf,
    procs: Vec<Proc>,
    client: PathBuf,
    web: u16,
}

impl Drop for Grid {
    fn drop(&mut self) {
        // Stop every node first, then remove the grid (hundreds of MiB of
        // shares) unless the test failed, when it is kept for inspection.
        self.procs.clear();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("interop: grid kept in {}", self.dir.display());
        }
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Grid {
    fn new(venv: PathBuf, name: &str) -> Grid {
        let dir = repo_root()
            .join("target/interop")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Grid {
            venv,
            client: dir.join("client"),
            dir,
            procs: Vec::new(),
            web: 0,
        }
    }

    fn tahoe(&self) -> Command {
        let mut c = Command::new(self.venv.join("bin/python"));
        c.current_dir(repo_root().join("../shared/tahoe"))
            .arg("tahoe_loopback.py");
        c
    }

    fn spawn(&mut self, mut cmd: Command, log: &str) {
        let f = std::fs::File::create(self.dir.join(log)).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        self.procs.push(Proc(child, log.to_string()));
    }

    /// Create and run a `lafs` storage node; return (dir, servers.yaml
    /// entry) once it listens. `create-node` picks a free port that another
    /// process may take before `lafs run` binds it (`lafs run` then exits):
    /// the node is then made again, on a new port.
    fn lafs_node(&mut self, name: &str, extra: &[&str]) -> (PathBuf, String) {
        let nd = self.dir.join(name);
        let log = format!("{name}.log");
        let args = [&["--nickname", name][..], extra].concat();
        let (child, ann) = start_lafs_storage_node(&nd, &args, &self.dir.join(&log));
        self.procs.push(Proc(child, log));
        (nd, ann)
    }

    /// Create and start a Python storage node; return (dir, servers.yaml entry).
    fn python_node(&mut self, name: &str) -> (PathBuf, String) {
        let nd = self.dir.join(name);
        let log = format!("{name}.log");
        let child = start_python_storage_node(&self.venv, &nd, name, &self.dir.join(&log));
        self.procs.push(Proc(child, log));
        (nd.clone(), python_announcement(&nd, name))
    }

    fn start_client(&mut self, k: u32, happy: u32, n: u32, servers: &[String]) {
        let mut c = self.tahoe();
        c.args(["create-client", "--nickname", "client"])
            .arg("--webport=tcp:0:interface=127.0.0.1")
            .arg(format!("--shares-needed={k}"))
            .arg(format!("--shares-happy={happy}"))
            .arg(format!("--shares-total={n}"))
            .arg(&self.client);
        run_ok(&mut c);
        self.write_servers(servers);
        self.run_client(servers.len());
    }

    fn write_servers(&self, servers: &[String]) {
        let yaml = format!("storage:\n{}", servers.concat());
        std::fs::write(self.client.join("private/servers.yaml"), yaml).unwrap();
    }

    /// Run the client node (its web port is picked anew each run) and
    /// wait until it is connected to `nservers` servers.
    fn run_client(&mut self, nservers: usize) {
        let _ = std::fs::remove_file(self.client.join("node.url"));
        let mut r = self.tahoe();
        r.args(["run", "--allow-stdin-close"]).arg(&self.client);
        self.spawn(r, "client.log");
        let log = self.dir.join("client.log");
        let child = &mut self.procs.last_mut().unwrap().0;
        self.web = wait_tahoe_connected(
            child,
            &self.client,
            &log,
            nservers,
            Duration::from_secs(180),
        );
    }

    fn stop_client(&mut self) {
        self.procs.retain(|p| p.1 != "client.log");
    }

    fn cli(&self, args: &[&str]) -> String {
        let mut c = self.tahoe();
        c.arg("-d").arg(&self.client).args(args);
        run_ok(&mut c)
    }

    fn put(&self, data: &[u8], query: &str) -> String {
        let (s, b) = http(self.web, "PUT", &format!("/uri{query}"), data).unwrap();
        assert!(
            s == 200 || s == 201,
            "PUT /uri{query}: {s} {}",
            String::from_utf8_lossy(&b)
        );
        String::from_utf8(b).unwrap().trim().to_string()
    }

    fn overwrite(&self, cap: &str, data: &[u8]) {
        let (s, b) = http(self.web, "PUT", &format!("/uri/{cap}"), data).unwrap();
        assert!(
            s == 200 || s == 201,
            "overwrite: {s} {}",
            String::from_utf8_lossy(&b)
        );
    }

    fn get(&self, cap: &str) -> Vec<u8> {
        let (s, b) = http(self.web, "GET", &format!("/uri/{cap}"), b"").unwrap();
        assert_eq!(s, 200, "GET {cap}: {}", String::from_utf8_lossy(&b));
        b
    }

    fn check_healthy(&self, cap: &str) {
        let out = self.cli(&["check", "--verify", cap]);
        assert!(
            out.contains("Summary: Healthy"),
            "check --verify {cap}:\n{out}"
        );
    }

    fn deep_check_healthy(&self, cap: &str, extra: &[&str]) -> String {
        let mut args = vec!["deep-check", "--verify"];
        args.extend_from_slice(extra);
        args.push(cap);
        let out = self.cli(&args);
        assert!(
            out.contains(" 0 unhealthy") && !out.contains("ERROR"),
            "deep-check:\n{out}"
        );
        out
    }
}

/// Minimal HTTP/1.1 to the client's web API (one request per connection).
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status"))?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(
            String::from_utf8_lossy(&b[..i])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    // Not compressible, not convergent with other tests' data.
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// The common workload: immutable files, SDMF and MDMF create/overwrite/
/// read, a directory, and verifying checks.
fn workload(g: &Grid, sizes: &[usize], seed: u8) {
    let mut caps = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let data = pattern(n, seed.wrapping_add(i as u8));
        let cap = g.put(&data, "");
        assert!(
            cap.starts_with("URI:CHK:") || cap.starts_with("URI:LIT:"),
            "{cap}"
        );
        assert!(
            g.get(&cap) == data,
            "immutable {n} bytes read back differently"
        );
        caps.push(cap);
    }
    for fmt in ["SDMF", "MDMF"] {
        let v1 = pattern(3000, seed ^ 0x55);
        let cap = g.put(&v1, &format!("?format={fmt}"));
        assert_eq!(g.get(&cap), v1);
        let v2 = pattern(200_000, seed ^ 0x66);
        g.overwrite(&cap, &v2);
        assert_eq!(g.get(&cap), v2, "{fmt} overwrite");
        g.check_healthy(&cap);
        caps.push(cap);
    }
    let (s, d) = http(g.web, "POST", "/uri?t=mkdir", b"").unwrap();
    assert_eq!(s, 200);
    let dir = String::from_utf8(d).unwrap();
    for (i, c) in caps.iter().enumerate() {
        let (s, b) = http(
            g.web,
            "PUT",
            &format!("/uri/{dir}/f{i}?t=uri"),
            c.as_bytes(),
        )
        .unwrap();
        assert!(s == 200 || s == 201, "{}", String::from_utf8_lossy(&b));
    }
    let (s, listing) = http(g.web, "GET", &format!("/uri/{dir}?t=json"), b"").unwrap();
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_slice(&listing).unwrap();
    assert_eq!(v[1]["children"].as_object().unwrap().len(), caps.len());
    g.check_healthy(&caps[0]);
    g.deep_check_healthy(&dir, &[]);
}

#[test]
fn python_client_on_ten_lafs_servers() {
    let Some(v) = venv() else { return };
    let mut g = Grid::new(v, "lafs10");
    let mut anns = Vec::new();
    for i in 0..10 {
        let (_, ann) = g.lafs_node(&format!("lafs{i}"), &[]);
        anns.push(ann);
    }
    g.start_client(3, 7, 10, &anns);
    workload(&g, &[1024, 10 << 20, 100 << 20], 1);
}

#[test]
fn mixed_grid_five_lafs_five_python() {
    let Some(v) = venv() else { return };
    let mut g = Grid::new(v, "mixed");
    let mut anns = Vec::new();
    for i in 0..5 {
        let (_, ann) = g.lafs_node(&format!("lafs{i}"), &[]);
        anns.push(ann);
        let (_, ann) = g.python_node(&format!("py{i}"));
        anns.push(ann);
    }
    g.start_client(3, 7, 10, &anns);
    workload(&g, &[1024, 10 << 20, 100 << 20], 2);
}

#[test]
fn lafs_serves_adopted_python_storage_dir() {
    let Some(v) = venv() else { return };
    let mut g = Grid::new(v, "adopt");
    let (pydir, ann) = g.python_node("py0");
    g.start_client(1, 1, 2, std::slice::from_ref(&ann));
    // Fill the Python server.
    let imm: Vec<(String, Vec<u8>)> = [1024usize, 300_000, 3 << 20]
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let d = pattern(n, 40 + i as u8);
            (g.put(&d, ""), d)
        })
        .collect();
    let sdmf_v1 = pattern(5000, 50);
    let sdmf = g.put(&sdmf_v1, "?format=SDMF");
    let mdmf_v1 = pattern(300_000, 51);
    let mdmf = g.put(&mdmf_v1, "?format=MDMF");
    let (_, d) = http(g.web, "POST", "/uri?t=mkdir", b"").unwrap();
    let dir = String::from_utf8(d).unwrap();
    for (i, (c, _)) in imm.iter().enumerate() {
        http(
            g.web,
            "PUT",
            &format!("/uri/{dir}/f{i}?t=uri"),
            c.as_bytes(),
        )
        .unwrap();
    }
    http(
        g.web,
        "PUT",
        &format!("/uri/{dir}/sdmf?t=uri"),
        sdmf.as_bytes(),
    )
    .unwrap();

    // Stop everything; copy the Python storage dir; serve it with lafs
    // under the Python node's tub id (write enablers and lease seeds).
    g.procs.clear();
    let furl = std::fs::read_to_string(pydir.join("private/storage.furl")).unwrap();
    let tubid = furl
        .trim()
        .strip_prefix("pb://")
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_string();
    let copy = g.dir.join("adopted-storage");
    copy_dir(&pydir.join("storage"), &copy);
    let (_, ann) = g.lafs_node(
        "lafs-adopt",
        &["--tub-id", &tubid, "--storage-dir", copy.to_str().unwrap()],
    );
    g.write_servers(std::slice::from_ref(&ann));
    g.run_client(1);

    for (c, d) in &imm {
        assert!(&g.get(c) == d, "adopted immutable read back differently");
    }
    assert_eq!(g.get(&sdmf), sdmf_v1);
    assert_eq!(g.get(&mdmf), mdmf_v1);
    let out = g.deep_check_healthy(&dir, &["--add-lease"]);
    assert!(out.contains("objects checked"), "{out}");
    g.cli(&["check", "--add-lease", &mdmf]);
    let sdmf_v2 = pattern(7000, 60);
    g.overwrite(&sdmf, &sdmf_v2);
    assert_eq!(g.get(&sdmf), sdmf_v2);
    let mdmf_v2 = pattern(400_000, 61);
    g.overwrite(&mdmf, &mdmf_v2);
    assert_eq!(g.get(&mdmf), mdmf_v2);
    let (s, _) = http(
        g.web,
        "PUT",
        &format!("/uri/{dir}/new?t=uri"),
        imm[0].0.as_bytes(),
    )
    .unwrap();
    assert!(s == 200 || s == 201);
    g.check_healthy(&mdmf);
    g.stop_client();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}
