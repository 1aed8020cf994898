//! `lafs bench grid`: lafs against Tahoe-LAFS 1.20 on two real grids on
//! loopback, in one run, so the ratios compare like with like.
//!
//! What it owns: starting and stopping both grids (child processes behind
//! Drop guards, so an error or a panic leaves nothing running), the
//! workloads, the process accounting, and the table + JSON (coord.md
//! contract 4: `{"rows": [{"metric", "lafs", "tahoe", "unit"}]}`, null
//! where a side did not run).
//!
//! ```text
//! lafs grid:  10 × `lafs run` (disk backend) + a `lafs create-client` dir
//!             immutable rows: `lafs put`/`lafs get` child processes
//!             small files, ranges, mutable rows: in-process lafs-client
//!             over HTTPS (what a long-running lafs node would do)
//! Tahoe grid: 10 × Python storage nodes (HTTPS storage protocol) + one
//!             Python client node; every row through the client's WAPI
//! both:       3-of-10, happy 7, 1 MiB segments
//! ```
//!
//! Accounting comes from /proc (no unsafe, no libc): CPU is utime+stime
//! from `/proc/PID/stat` (for a child we read it once it is a zombie,
//! before reaping, so nothing is lost); peak RSS is `VmHWM` from
//! `/proc/PID/status`, polled while the child runs (for the long-lived
//! Tahoe client node it is reset first through `/proc/PID/clear_refs`).
//!
//! It must never listen on anything but 127.0.0.1, never leave a process
//! behind, and never assert on timings (it only reports them).

use crate::create_client::{load, ClientSource};
use crate::loopback::{self, Start};
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use lafs_client::mutable::{self as mutable, KeyPool, PublishOptions};
use lafs_client::{download, upload_bytes, DownloadOptions, KeyMode, StorageClient, UploadOptions};
use lafs_format::cap::{Cap, FileCap};
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
/// Linux reports /proc CPU times in USER_HZ, 100 on every architecture
/// Linux supports today (sysconf would need libc).
const TICKS_PER_S: f64 = 100.0;

/// Options of `lafs bench grid`.
#[derive(Debug, clap::Args)]
pub struct GridArgs {
    /// A short run (about two minutes): no 1 GiB rows, fewer small files
    /// and one-at-a-time children.
    #[arg(long)]
    pub quick: bool,
    /// Also write the rows as JSON to FILE.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Run only the lafs side (Tahoe columns are null).
    #[arg(long)]
    pub no_tahoe: bool,
    /// The Tahoe 1.20 virtualenv (default: what `scripts/tahoe-venv` makes).
    #[arg(long)]
    pub tahoe_venv: Option<PathBuf>,
    /// Keep the grids' files in this directory (default: a temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Storage backend of the lafs servers (`disk` compares with Tahoe).
    #[arg(long, default_value = "disk")]
    pub backend: String,
    /// Run only the directory and mutable-file rows (for profiling them).
    #[arg(long)]
    pub only_mutable: bool,
}

// ---------------------------------------------------------------- processes

/// A child killed and reaped on drop.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// (state, utime + stime in ticks) from `/proc/PID/stat`.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the
    // last ')'. Then field 3 is the state, 14 and 15 utime and stime.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((state, ut + st))
}

fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|&p| proc_stat(p)).map(|s| s.1).sum()
}

/// Peak resident set (`VmHWM`) in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Reset a process's peak RSS to its current RSS (Linux ≥ 4.0).
fn reset_hwm(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// What one measured child process used.
#[derive(Debug, Clone, Copy)]
struct Usage {
    wall: Duration,
    cpu_s: f64,
    peak_rss_mib: f64,
}

/// Run `cmd` to completion, sampling its peak RSS, and read its CPU time
/// once it has exited but before it is reaped. Stdout goes to `out`.
fn run_measured(cmd: &mut Command, out: &Path, what: &str) -> Result<Usage> {
    let err_path = out.with_extension("stderr");
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out)?)
        .stderr(std::fs::File::create(&err_path)?)
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let pid = child.id();
    let mut peak = 0u64;
    let mut ticks = 0u64;
    // Bounded: a benchmark step that takes over an hour is broken.
    let deadline = Duration::from_secs(3600);
    loop {
        if let Some(h) = vm_hwm_kib(pid) {
            peak = peak.max(h);
        }
        match proc_stat(pid) {
            Some(('Z', t)) | Some(('X', t)) => {
                ticks = t;
                break;
            }
            Some((_, t)) => ticks = t,
            None => break,
        }
        if t0.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} took over an hour");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait()?;
    let wall = t0.elapsed();
    if !status.success() {
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        bail!("{what} failed ({status}): {}", err.trim());
    }
    Ok(Usage {
        wall,
        cpu_s: ticks as f64 / TICKS_PER_S,
        peak_rss_mib: peak as f64 / 1024.0,
    })
}

fn check(cmd: &mut Command, what: &str) -> Result<Vec<u8>> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let t = Instant::now();
    while !ready() {
        if t.elapsed() > limit {
            bail!("{what} not ready after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// [`loopback::wait_listening`] for the bench: `Ok(Some(why))` when the
/// node lost its port, an error when it timed out.
fn wait_listening(
    what: &str,
    child: &mut Child,
    port: u16,
    limit: Duration,
    ready: impl FnMut() -> bool,
) -> Result<Option<String>> {
    match loopback::wait_listening(child, port, limit, ready)? {
        Start::Listening => Ok(None),
        Start::Lost(why) => Ok(Some(format!("{what}: {why}"))),
        Start::TimedOut => bail!("{what} not ready after {limit:?}"),
    }
}

/// Attempts at starting one storage node, each on a newly picked port.
const START_ATTEMPTS: u32 = 5;

/// A file of `len` pseudo-random (incompressible, reproducible) bytes.
fn write_data(path: &Path, len: u64, seed: u64) -> Result<()> {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for c in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    // On disk before anything is timed: left dirty, a 1 GiB input was
    // written back by the kernel about 30 s later, in the middle of
    // whichever row was running then (it doubled the add-child row in
    // about half the full runs).
    f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

// ---------------------------------------------------------------- lafs grid

struct LafsGrid {
    servers: Vec<Proc>,
    client_dir: PathBuf,
}

impl LafsGrid {
    fn start(exe: &Path, dir: &Path, n: usize, backend: &str) -> Result<Self> {
        let mut yaml = String::from("storage:\n");
        let mut servers = Vec::new();
        for i in 0..n {
            let (server, ann) = Self::start_server(exe, dir, i, backend)?;
            servers.push(server);
            yaml.push_str(&ann);
        }
        let servers_yaml = dir.join("lafs-servers.yaml");
        std::fs::write(&servers_yaml, yaml)?;
        let client_dir = dir.join("lafs-client");
        check(
            Command::new(exe)
                .args([
                    "create-client",
                    "--needed",
                    "3",
                    "--happy",
                    "7",
                    "--total",
                    "10",
                ])
                .arg("--servers")
                .arg(&servers_yaml)
                .arg(&client_dir),
            "lafs create-client",
        )?;
        Ok(LafsGrid {
            servers,
            client_dir,
        })
    }

    /// Create and run server `i`; returns it listening, and its
    /// servers.yaml entry.
    fn start_server(exe: &Path, dir: &Path, i: usize, backend: &str) -> Result<(Proc, String)> {
        let nd = dir.join(format!("lafs-s{i}"));
        let what = format!("lafs server {i}");
        for _ in 0..START_ATTEMPTS {
            let _ = std::fs::remove_dir_all(&nd);
            check(
                Command::new(exe)
                    .args([
                        "create-node",
                        "--hostname",
                        "127.0.0.1",
                        "--backend",
                        backend,
                    ])
                    .args(["--reserved-space", "0", "--nickname", &format!("s{i}")])
                    .arg(&nd),
                "lafs create-node",
            )?;
            let ann = String::from_utf8(check(
                Command::new(exe).args(["admin", "announcement"]).arg(&nd),
                "lafs admin announcement",
            )?)?;
            let port = nurl_port(&ann).context("no port in the announcement")?;
            let log = std::fs::File::create(dir.join(format!("lafs-s{i}.log")))?;
            let mut server = Proc {
                child: Command::new(exe)
                    .arg("run")
                    .arg(&nd)
                    .stdin(Stdio::null())
                    .stdout(log.try_clone()?)
                    .stderr(log)
                    .spawn()?,
            };
            match wait_listening(
                &what,
                &mut server.child,
                port,
                Duration::from_secs(60),
                || true,
            )? {
                None => return Ok((server, ann)),
                Some(why) => eprintln!("{why}; starting it again on another port"),
            }
        }
        bail!("{what} could not listen in {START_ATTEMPTS} attempts")
    }

    fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(Proc::pid).collect()
    }

    /// `lafs put FILE` as a child process; its usage and the cap.
    fn put(&self, exe: &Path, file: &Path, out: &Path) -> Result<(Usage, String)> {
        let mut c = Command::new(exe);
        c.arg("put").arg("-d").arg(&self.client_dir).arg(file);
        let u = run_measured(&mut c, out, "lafs put")?;
        Ok((u, std::fs::read_to_string(out)?.trim().to_string()))
    }

    /// `lafs get CAP /dev/null` as a child process.
    fn get(&self, exe: &Path, cap: &str, out: &Path) -> Result<Usage> {
        let mut c = Command::new(exe);
        c.arg("get").arg("-d").arg(&self.client_dir).arg(cap);
        c.arg("/dev/null");
        run_measured(&mut c, out, "lafs get")
    }
}

/// The port of the `…@127.0.0.1:PORT/…#v=1` NURL in an announcement.
fn nurl_port(ann: &str) -> Option<u16> {
    let nurl = ann.lines().find(|l| l.contains("#v=1"))?;
    let after = nurl.split("@127.0.0.1:").nth(1)?;
    after.split('/').next()?.parse().ok()
}

// --------------------------------------------------------------- Tahoe grid

struct TahoeGrid {
    storage: Vec<Proc>,
    client: Proc,
    web_port: u16,
}

fn repo_root() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|d| d.join("scripts/tahoe-venv").is_file())
        .map(Path::to_path_buf)
}

fn find_venv(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(v) = explicit {
        return Ok(v.to_path_buf());
    }
    let root = repo_root().context("cannot find scripts/tahoe-venv above the lafs binary")?;
    let out = Command::new(root.join("scripts/tahoe-venv"))
        .stderr(Stdio::inherit())
        .output()
        .context("running scripts/tahoe-venv")?;
    if !out.status.success() {
        bail!("scripts/tahoe-venv failed");
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

/// `tahoe_loopback.py` (Tahoe with its log port moved to 127.0.0.1).
fn find_shim() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LAFS_TAHOE_SHIM") {
        return Ok(PathBuf::from(p));
    }
    let root = repo_root().context("cannot find the repository")?;
    let p = root.join("../shared/tahoe/tahoe_loopback.py");
    if !p.is_file() {
        bail!("{} not found (set LAFS_TAHOE_SHIM)", p.display());
    }
    Ok(p)
}

fn tahoe_cmd(venv: &Path, shim: &Path) -> Command {
    let mut c = Command::new(venv.join("bin/python"));
    c.arg(shim);
    c
}

/// `tahoe create-node` for storage node `i` on loopback `port`.
fn tahoe_create_storage(venv: &Path, shim: &Path, nd: &Path, i: usize, port: u16) -> Command {
    let mut c = tahoe_cmd(venv, shim);
    c.args(["create-node", "--nickname", &format!("py{i}")])
        .arg(format!("--port=tcp:{port}:interface=127.0.0.1"))
        .arg(format!("--location=tcp:127.0.0.1:{port}"))
        .arg("--webport=none")
        .arg(nd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// `tahoe run NODEDIR`, its output in `log`.
fn tahoe_run(venv: &Path, shim: &Path, nd: &Path, log: &Path) -> Result<Proc> {
    let log = std::fs::File::create(log)?;
    Ok(Proc {
        child: tahoe_cmd(venv, shim)
            .args(["run", "--allow-stdin-close"])
            .arg(nd)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?,
    })
}

impl TahoeGrid {
    fn start(venv: &Path, dir: &Path, n: usize) -> Result<Self> {
        let shim = find_shim()?;
        // Python starts slowly: create and start every node in parallel.
        let mut creators = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..n {
            let nd = dir.join(format!("tahoe-s{i}"));
            let port = free_port()?;
            creators.push(Proc {
                child: tahoe_create_storage(venv, &shim, &nd, i, port)
                    .spawn()
                    .context("starting tahoe create-node")?,
            });
            nodes.push((nd, port));
        }
        for mut c in creators {
            if !c.child.wait()?.success() {
                bail!("tahoe create-node failed");
            }
        }
        let client_dir = dir.join("tahoe-client");
        check(
            tahoe_cmd(venv, &shim)
                .args(["create-client", "--nickname", "client"])
                .arg("--webport=tcp:0:interface=127.0.0.1")
                .args(["--shares-needed=3", "--shares-happy=7", "--shares-total=10"])
                .arg(&client_dir),
            "tahoe create-client",
        )?;
        let mut storage = Vec::new();
        for (i, (nd, _)) in nodes.iter().enumerate() {
            storage.push(tahoe_run(
                venv,
                &shim,
                nd,
                &dir.join(format!("tahoe-s{i}.log")),
            )?);
        }
        let mut yaml = String::from("storage:\n");
        for (i, (nd, port)) in nodes.iter().enumerate() {
            let what = format!("Tahoe storage node {i}");
            let furl = nd.join("private/storage.furl");
            let log = dir.join(format!("tahoe-s{i}.log"));
            let mut port = *port;
            let mut attempt = 1;
            while let Some(why) = wait_listening(
                &what,
                &mut storage[i].child,
                port,
                Duration::from_secs(180),
                || furl.exists(),
            )? {
                if attempt == START_ATTEMPTS {
                    bail!("{what} could not listen in {START_ATTEMPTS} attempts: {why}");
                }
                attempt += 1;
                eprintln!("{why}; starting it again on another port");
                let _ = std::fs::remove_dir_all(nd);
                port = free_port()?;
                check(
                    &mut tahoe_create_storage(venv, &shim, nd, i, port),
                    "tahoe create-node",
                )?;
                storage[i] = tahoe_run(venv, &shim, nd, &log)?;
            }
            yaml.push_str(&crate::admin::tahoe_announcement_yaml(nd)?);
        }
        std::fs::write(client_dir.join("private/servers.yaml"), yaml)?;
        let _ = std::fs::remove_file(client_dir.join("node.url"));
        let client = tahoe_run(venv, &shim, &client_dir, &dir.join("tahoe-client.log"))?;
        let mut web_port = None;
        wait_for(
            "the Tahoe client's web port",
            Duration::from_secs(180),
            || {
                web_port = loopback::node_url_port(&client_dir);
                web_port.is_some()
            },
        )?;
        let g = TahoeGrid {
            storage,
            client,
            web_port: web_port.context("no web port")?,
        };
        wait_for(
            "the Tahoe client's connections",
            Duration::from_secs(180),
            || {
                g.get_json("/?t=json").is_ok_and(|j| {
                    j["servers"].as_array().is_some_and(|a| {
                        a.iter()
                            .filter(|s| s["connection_status"] == "connected")
                            .count()
                            == n
                    })
                })
            },
        )?;
        Ok(g)
    }

    fn pids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.storage.iter().map(Proc::pid).collect();
        v.push(self.client.pid());
        v
    }

    fn get_json(&self, path: &str) -> Result<Value> {
        let r = wapi(self.web_port, "GET", path, &[], Body::Empty, true)?;
        if r.status != 200 {
            bail!("GET {path}: HTTP {}", r.status);
        }
        Ok(serde_json::from_slice(&r.body)?)
    }

    /// A request whose body is text (a cap); fails unless 2xx.
    fn text(&self, method: &str, path: &str, body: Body) -> Result<String> {
        let r = wapi(self.web_port, method, path, &[], body, true)?;
        if !(200..300).contains(&r.status) {
            bail!(
                "{method} {path}: HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        Ok(String::from_utf8(r.body)?.trim().to_string())
    }
}

// ------------------------------------------------------------- a WAPI client

/// A request body for [`wapi`].
enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a Path),
}

struct Reply {
    status: u16,
    /// The body, if kept.
    body: Vec<u8>,
    /// Body bytes received.
    len: u64,
    /// From the request's start to the first body byte.
    ttfb: Duration,
}

/// One HTTP/1.0 request to the Tahoe client's web port (plain HTTP on
/// loopback; a hand-written client keeps big bodies streaming from and to
/// disk with nothing buffered). `keep` keeps the response body.
fn wapi(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Body<'_>,
    keep: bool,
) -> Result<Reply> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(1800)))?;
    s.set_nodelay(true)?;
    let len = match &body {
        Body::Empty => 0,
        Body::Bytes(b) => b.len() as u64,
        Body::File(p) => std::fs::metadata(p)?.len(),
    };
    let mut head =
        format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {len}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    match body {
        Body::Empty => {}
        Body::Bytes(b) => s.write_all(b)?,
        Body::File(p) => {
            std::io::copy(&mut std::fs::File::open(p)?, &mut s)?;
        }
    }
    s.flush()?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, s);
    let mut status_line = String::new();
    r.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .context("no HTTP status line")?;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 || l == "\r\n" || l == "\n" {
            break;
        }
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0u64;
    let mut ttfb = None;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ttfb.get_or_insert_with(|| t0.elapsed());
        got += n as u64;
        if keep {
            out.extend_from_slice(&buf[..n]);
        }
    }
    Ok(Reply {
        status,
        body: out,
        len: got,
        ttfb: ttfb.unwrap_or_else(|| t0.elapsed()),
    })
}

// ------------------------------------------------------------------- results

/// One row of the table and the JSON.
struct Row {
    metric: &'static str,
    unit: &'static str,
    /// Higher is better (MB/s, files/s) or lower (seconds, MiB).
    higher_better: bool,
    lafs: Result<f64, String>,
    tahoe: Result<f64, String>,
}

#[derive(Default)]
struct Rows(Vec<Row>);

impl Rows {
    fn set(&mut self, metric: &'static str, unit: &'static str, side: Side, v: Result<f64>) {
        let v = v.map_err(|e| format!("{e:#}"));
        if let Err(e) = &v {
            eprintln!("  {metric} ({side:?}): {e}");
        }
        let hb = matches!(unit, "MB/s" | "files/s");
        let i = match self.0.iter().position(|r| r.metric == metric) {
            Some(i) => i,
            None => {
                self.0.push(Row {
                    metric,
                    unit,
                    higher_better: hb,
                    lafs: Err("not run".into()),
                    tahoe: Err("not run".into()),
                });
                self.0.len() - 1
            }
        };
        match side {
            Side::Lafs => self.0[i].lafs = v,
            Side::Tahoe => self.0[i].tahoe = v,
        }
    }

    fn json(&self) -> Value {
        let f = |v: &Result<f64, String>| match v {
            Ok(x) if x.is_finite() => json!((x * 1000.0).round() / 1000.0),
            _ => Value::Null,
        };
        let rows: Vec<Value> = self
            .0
            .iter()
            .map(|r| {
                let mut o = json!({"metric": r.metric, "lafs": f(&r.lafs), "tahoe": f(&r.tahoe), "unit": r.unit});
                let errs: Vec<String> = [("lafs", &r.lafs), ("tahoe", &r.tahoe)]
                    .iter()
                    .filter_map(|(s, v)| match v {
                        Err(e) if e != "not run" => Some(format!("{s}: {e}")),
                        _ => None,
                    })
                    .collect();
                if !errs.is_empty() {
                    o["error"] = json!(errs.join("; "));
                }
                o
            })
            .collect();
        json!({ "rows": rows })
    }

    fn table(&self) -> String {
        let cell = |v: &Result<f64, String>| match v {
            Ok(x) if *x >= 100.0 => format!("{x:.0}"),
            Ok(x) if *x >= 1.0 => format!("{x:.2}"),
            Ok(x) => format!("{x:.4}"),
            Err(_) => "—".into(),
        };
        let mut s = format!(
            "| {:<34} | {:>10} | {:>10} | {:<7} | {:>14} |\n|{}|{}|{}|{}|{}|\n",
            "metric",
            "lafs",
            "Tahoe 1.20",
            "unit",
            "lafs advantage",
            "-".repeat(36),
            "-".repeat(12),
            "-".repeat(12),
            "-".repeat(9),
            "-".repeat(16)
        );
        for r in &self.0 {
            let ratio = match (&r.lafs, &r.tahoe) {
                // Nothing measurable on the lafs side of a lower-is-better
                // row (an idle grid at 0 ticks): the ratio is unbounded.
                (Ok(l), Ok(t)) if *l == 0.0 && *t > 0.0 && !r.higher_better => "∞".into(),
                (Ok(l), Ok(t)) if *l > 0.0 && *t > 0.0 => {
                    let x = if r.higher_better { l / t } else { t / l };
                    format!("{x:.1}×")
                }
                _ => "—".into(),
            };
            s.push_str(&format!(
                "| {:<34} | {:>10} | {:>10} | {:<7} | {:>14} |\n",
                r.metric,
                cell(&r.lafs),
                cell(&r.tahoe),
                r.unit,
                ratio
            ));
        }
        s
    }
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Lafs,
    Tahoe,
}

// ----------------------------------------------------------------- workloads

struct Plan {
    small_files: usize,
    children_one_by_one: usize,
    big: bool,
    /// Only the directory and mutable-file rows.
    only_mutable: bool,
}

/// `lafs bench grid`.
pub fn run(a: GridArgs) -> Result<()> {
    let exe = std::env::current_exe()?;
    let _tmp;
    let dir = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("lafs-bench-grid")
                .tempdir()?;
            let p = t.path().to_path_buf();
            _tmp = t;
            p
        }
    };
    let plan = if a.quick {
        Plan {
            small_files: 20,
            children_one_by_one: 10,
            big: false,
            only_mutable: a.only_mutable,
        }
    } else {
        Plan {
            small_files: 200,
            children_one_by_one: 200,
            big: true,
            only_mutable: a.only_mutable,
        }
    };
    let mut rows = Rows::default();
    let t_all = Instant::now();

    let f100 = dir.join("data-100mib");
    if !plan.only_mutable {
        write_data(&f100, 100 * MIB, 1)?;
    }
    let f1g = dir.join("data-1gib");
    if plan.big && !plan.only_mutable {
        write_data(&f1g, 1024 * MIB, 2)?;
    }

    eprintln!("bench grid: starting 10 lafs servers in {}", dir.display());
    {
        let g = LafsGrid::start(&exe, &dir, 10, &a.backend)?;
        lafs_side(&exe, &g, &dir, &plan, &f100, &f1g, &mut rows);
    }

    if a.no_tahoe {
        eprintln!("bench grid: Tahoe side skipped (--no-tahoe)");
    } else {
        match find_venv(a.tahoe_venv.as_deref()) {
            Err(e) => eprintln!("bench grid: Tahoe side skipped: {e:#}"),
            Ok(venv) => {
                eprintln!("bench grid: starting a Tahoe 1.20 grid (10 storage nodes + client)");
                match TahoeGrid::start(&venv, &dir, 10) {
                    Ok(g) => tahoe_side(&g, &dir, &plan, &f100, &f1g, &mut rows),
                    Err(e) => eprintln!("bench grid: Tahoe grid did not start: {e:#}"),
                }
            }
        }
    }

    eprintln!("bench grid: done in {:.0} s", t_all.elapsed().as_secs_f64());
    print!("{}", rows.table());
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&rows.json())? + "\n")
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Every grid process's CPU over a few idle seconds, in cores.
fn idle_cores(pids: &[u32]) -> Result<f64> {
    let secs = 3.0;
    let a = cpu_ticks(pids);
    std::thread::sleep(Duration::from_secs_f64(secs));
    let b = cpu_ticks(pids);
    Ok((b - a) as f64 / TICKS_PER_S / secs)
}

/// Announce a row group, after writing back every dirty page on the
/// machine (`sync`): a compile or test run just before leaves gigabytes
/// for the kernel to write back about 30 s later, in the middle of
/// whichever row runs then (it tripled the add-child row of one CI smoke
/// run). Both sides get the same quiet disk; Tahoe, which never fsyncs,
/// also starts each group with its previous group's writes on disk.
fn row_group(what: &str) {
    rustix::fs::sync();
    eprintln!("bench grid: {what}");
}

fn lafs_side(
    exe: &Path,
    g: &LafsGrid,
    dir: &Path,
    plan: &Plan,
    f100: &Path,
    f1g: &Path,
    rows: &mut Rows,
) {
    let l = Side::Lafs;
    if plan.only_mutable {
        row_group("lafs directories and mutable files");
        lafs_mutable(g, plan, rows);
        return;
    }
    let pids = g.pids();
    row_group("lafs idle");
    rows.set("idle_grid_cpu_cores", "cores", l, idle_cores(&pids));

    row_group("lafs put/get 100 MiB");
    let r = (|| -> Result<String> {
        let grid0 = cpu_ticks(&pids);
        let (u, cap) = g.put(exe, f100, &dir.join("lafs-put-100"))?;
        let servers_s = (cpu_ticks(&pids) - grid0) as f64 / TICKS_PER_S;
        rows.set("upload_100mib_mbps", "MB/s", l, Ok(mbps(100 * MIB, u.wall)));
        rows.set("cpu_s_per_100mib_upload", "s", l, Ok(u.cpu_s + servers_s));
        rows.set("client_cpu_s_per_100mib_upload", "s", l, Ok(u.cpu_s));
        if !plan.big {
            rows.set("client_peak_rss_upload_mib", "MiB", l, Ok(u.peak_rss_mib));
        }
        let grid0 = cpu_ticks(&pids);
        let u = g.get(exe, &cap, &dir.join("lafs-get-100"))?;
        let servers_s = (cpu_ticks(&pids) - grid0) as f64 / TICKS_PER_S;
        rows.set(
            "download_100mib_mbps",
            "MB/s",
            l,
            Ok(mbps(100 * MIB, u.wall)),
        );
        rows.set("cpu_s_per_100mib_download", "s", l, Ok(u.cpu_s + servers_s));
        if !plan.big {
            rows.set("client_peak_rss_download_mib", "MiB", l, Ok(u.peak_rss_mib));
        }
        Ok(cap)
    })();
    match r {
        Err(e) => rows.set("upload_100mib_mbps", "MB/s", l, Err(e)),
        Ok(cap) if !plan.big => {
            let v = in_process(g, |c| async move { ttfb_end(&c, &cap).await });
            rows.set("ttfb_1mib_range_end_of_100mib_s", "s", l, v);
        }
        Ok(_) => {}
    }

    if plan.big {
        row_group("lafs put/get 1 GiB");
        let r = (|| -> Result<String> {
            let (u, cap) = g.put(exe, f1g, &dir.join("lafs-put-1g"))?;
            rows.set("upload_1gib_mbps", "MB/s", l, Ok(mbps(1024 * MIB, u.wall)));
            rows.set("client_peak_rss_upload_mib", "MiB", l, Ok(u.peak_rss_mib));
            let u = g.get(exe, &cap, &dir.join("lafs-get-1g"))?;
            rows.set(
                "download_1gib_mbps",
                "MB/s",
                l,
                Ok(mbps(1024 * MIB, u.wall)),
            );
            rows.set("client_peak_rss_download_mib", "MiB", l, Ok(u.peak_rss_mib));
            Ok(cap)
        })();
        match r {
            Err(e) => rows.set("upload_1gib_mbps", "MB/s", l, Err(e)),
            Ok(cap) => {
                let v = in_process(g, |c| async move { ttfb_end(&c, &cap).await });
                rows.set("ttfb_1mib_range_end_of_1gib_s", "s", l, v);
            }
        }
    }

    row_group("lafs small files");
    let n = plan.small_files;
    let v = in_process(g, |c| async move {
        let opts = UploadOptions {
            params: c.config().params,
            key: match &c.config().convergence {
                Some(s) => KeyMode::Convergent(s.clone()),
                None => KeyMode::Random,
            },
            progress: None,
        };
        let t = Instant::now();
        for i in 0..n {
            let mut b = vec![b'x'; 1024];
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            upload_bytes(&c.grid(), Bytes::from(b), &opts).await?;
        }
        Ok(n as f64 / t.elapsed().as_secs_f64())
    });
    rows.set("small_1kib_files_per_s", "files/s", l, v);

    row_group("lafs directories and mutable files");
    lafs_mutable(g, plan, rows);
}

/// Run `f` on a fresh runtime with the client loaded from the lafs client
/// node directory (in-process, over HTTPS, like a long-running node).
fn in_process<F, Fut, T>(g: &LafsGrid, f: F) -> Result<T>
where
    F: FnOnce(Arc<lafs_client::Client<lafs_client::HttpClient>>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let c = Arc::new(load(&ClientSource {
        node_directory: Some(g.client_dir.clone()),
        servers: None,
    })?);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        // Warm the connection pools first: Tahoe's client node keeps its
        // connections open, so the comparison times the work, not TLS setup.
        let grid = c.grid();
        futures::future::join_all(grid.servers().iter().map(|s| s.client.version())).await;
        f(c).await
    })
}

/// Seconds to the first byte of the last MiB of `cap`.
async fn ttfb_end(c: &lafs_client::Client<lafs_client::HttpClient>, cap: &str) -> Result<f64> {
    let Cap::File(fc) = Cap::parse(cap)? else {
        bail!("not a file cap");
    };
    let FileCap::ChkRead(chk) = &fc else {
        bail!("not a CHK cap");
    };
    let size = chk.size;
    let t = Instant::now();
    let s = download(
        &c.grid(),
        &fc,
        Some(size.saturating_sub(MIB)..size),
        DownloadOptions::default(),
    )
    .await?;
    let mut s = Box::pin(s);
    let first = s.next().await.context("empty range")??;
    let ttfb = t.elapsed().as_secs_f64();
    drop(first);
    while let Some(b) = s.next().await {
        b?;
    }
    Ok(ttfb)
}

/// Samples per create/overwrite/read row (p50 reported); odd, so the
/// median is one measured value.
fn samples(plan: &Plan) -> usize {
    if plan.big {
        9
    } else {
        5
    }
}

/// The median of `v` (upper middle for an even count).
fn p50(mut v: Vec<f64>) -> Result<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().context("no samples")
}

/// Wait (bounded) until `pool` holds `n` keys, as a running node's pool
/// would between user requests. Every timed sample starts from a full
/// pool and an idle refill thread: the rows then time the create or edit,
/// not RSA key generation for an earlier one running beside it.
async fn warm(pool: &KeyPool, n: usize) -> Result<()> {
    for _ in 0..12_000 {
        if pool.ready().await >= n {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("the key pool did not fill to {n} keys in 120 s")
}

fn lafs_mutable(g: &LafsGrid, plan: &Plan, rows: &mut Rows) {
    use lafs_client::dirnode::Dirnode;
    let l = Side::Lafs;
    let one_by_one = plan.children_one_by_one;
    let n = samples(plan);
    let r = in_process(g, |c| async move {
        let pool = KeyPool::new(n);
        let opts = PublishOptions::default();
        let mut out: Vec<(&'static str, &'static str, Result<f64>)> = Vec::new();
        // A child to link: a small immutable file.
        let child = upload_bytes(
            &c.grid(),
            Bytes::from(vec![7u8; 1000]),
            &UploadOptions {
                params: c.config().params,
                key: KeyMode::Random,
                progress: None,
            },
        )
        .await?
        .cap
        .to_string();
        let mut times = Vec::new();
        let mut dirs = Vec::new();
        for _ in 0..n {
            warm(&pool, n).await?;
            let t = Instant::now();
            let key = Arc::new(pool.take().await?);
            dirs.push(Dirnode::create(&c.grid(), key, opts).await?);
            times.push(t.elapsed().as_secs_f64());
        }
        out.push(("mkdir_s", "s", p50(times)));
        let d = dirs.pop().context("no directory")?;
        warm(&pool, n).await?;
        let t = Instant::now();
        for i in 0..one_by_one {
            d.add_child(&format!("f{i:03}"), None, Some(child.as_bytes()), false)
                .await?;
        }
        out.push((
            "add_child_ms",
            "ms",
            Ok(t.elapsed().as_secs_f64() * 1000.0 / one_by_one.max(1) as f64),
        ));
        if one_by_one < 200 {
            let child = child.clone();
            d.modify(move |ch| {
                for i in one_by_one..200 {
                    let md = lafs_client::dirnode::link_metadata(None, 0.0);
                    ch.push(lafs_format::dirnode::Child::new(
                        &format!("f{i:03}"),
                        None,
                        Some(child.as_bytes()),
                        md,
                    ));
                }
                Ok(())
            })
            .await?;
        }
        let t = Instant::now();
        let listed = d.list().await?.len();
        if listed != 200 {
            bail!("listed {listed} children, expected 200");
        }
        out.push(("list_200_children_s", "s", Ok(t.elapsed().as_secs_f64())));

        let data = vec![0x5au8; MIB as usize];
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..n {
            warm(&pool, n).await?;
            let t = Instant::now();
            let key = Arc::new(pool.take().await?);
            let p = mutable::create(&c.grid(), key.clone(), data.clone(), opts).await?;
            times.push(t.elapsed().as_secs_f64());
            last = Some((key, p));
        }
        out.push(("mutable_create_1mib_s", "s", p50(times)));
        let (key, p) = last.context("no mutable file")?;
        let keys = lafs_format::mutable::KeyChain::from_writekey(p.writekey, p.fingerprint);
        warm(&pool, n).await?;
        let mut times = Vec::new();
        let mut data2 = data;
        for i in 0..n {
            data2[0] = i as u8 + 1;
            let t = Instant::now();
            // What an overwrite by cap costs: servermap, then publish.
            let map = mutable::servermap::update(&c.grid(), &keys).await;
            mutable::overwrite(&c.grid(), key.clone(), &map, data2.clone(), opts).await?;
            times.push(t.elapsed().as_secs_f64());
        }
        out.push(("mutable_overwrite_1mib_s", "s", p50(times)));
        let mut times = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            let (got, _) = mutable::retrieve(&c.grid(), &keys).await?;
            times.push(t.elapsed().as_secs_f64());
            if got.plaintext != data2 {
                bail!("mutable read returned the wrong bytes");
            }
        }
        out.push(("mutable_read_1mib_s", "s", p50(times)));
        Ok(out)
    });
    match r {
        Ok(out) => {
            for (m, u, v) in out {
                rows.set(m, u, l, v);
            }
        }
        Err(e) => {
            // One error (e.g. mutable operations unsupported over HTTPS)
            // nulls every mutable row, with the reason.
            let msg = format!("{e:#}");
            for (m, u) in MUTABLE_ROWS {
                rows.set(m, u, l, Err(anyhow::anyhow!("{msg}")));
            }
        }
    }
}

const MUTABLE_ROWS: [(&str, &str); 6] = [
    ("mkdir_s", "s"),
    ("add_child_ms", "ms"),
    ("list_200_children_s", "s"),
    ("mutable_create_1mib_s", "s"),
    ("mutable_overwrite_1mib_s", "s"),
    ("mutable_read_1mib_s", "s"),
];

fn tahoe_side(g: &TahoeGrid, dir: &Path, plan: &Plan, f100: &Path, f1g: &Path, rows: &mut Rows) {
    let t = Side::Tahoe;
    if plan.only_mutable {
        row_group("Tahoe directories and mutable files");
        tahoe_mutable(g, plan, rows);
        return;
    }
    let pids = g.pids();
    let client = g.client.pid();
    row_group("Tahoe idle");
    rows.set("idle_grid_cpu_cores", "cores", t, idle_cores(&pids));

    row_group("Tahoe PUT/GET 100 MiB");
    let up = |f: &Path| -> Result<(String, Duration, f64, f64)> {
        reset_hwm(client);
        let c0 = cpu_ticks(&pids);
        let t0 = Instant::now();
        let cap = g.text("PUT", "/uri", Body::File(f))?;
        let wall = t0.elapsed();
        let cpu = (cpu_ticks(&pids) - c0) as f64 / TICKS_PER_S;
        let rss = vm_hwm_kib(client).unwrap_or(0) as f64 / 1024.0;
        Ok((cap, wall, cpu, rss))
    };
    let down = |cap: &str, size: u64| -> Result<(Duration, f64, f64)> {
        reset_hwm(client);
        let c0 = cpu_ticks(&pids);
        let t0 = Instant::now();
        let r = wapi(
            g.web_port,
            "GET",
            &format!("/uri/{cap}"),
            &[],
            Body::Empty,
            false,
        )?;
        let wall = t0.elapsed();
        if r.status != 200 || r.len != size {
            bail!("GET: HTTP {} with {} bytes", r.status, r.len);
        }
        let cpu = (cpu_ticks(&pids) - c0) as f64 / TICKS_PER_S;
        let rss = vm_hwm_kib(client).unwrap_or(0) as f64 / 1024.0;
        Ok((wall, cpu, rss))
    };
    match up(f100) {
        Err(e) => rows.set("upload_100mib_mbps", "MB/s", t, Err(e)),
        Ok((cap, wall, cpu, rss)) => {
            rows.set("upload_100mib_mbps", "MB/s", t, Ok(mbps(100 * MIB, wall)));
            rows.set("cpu_s_per_100mib_upload", "s", t, Ok(cpu));
            if !plan.big {
                rows.set("client_peak_rss_upload_mib", "MiB", t, Ok(rss));
            }
            match down(&cap, 100 * MIB) {
                Err(e) => rows.set("download_100mib_mbps", "MB/s", t, Err(e)),
                Ok((wall, cpu, rss)) => {
                    rows.set("download_100mib_mbps", "MB/s", t, Ok(mbps(100 * MIB, wall)));
                    rows.set("cpu_s_per_100mib_download", "s", t, Ok(cpu));
                    if !plan.big {
                        rows.set("client_peak_rss_download_mib", "MiB", t, Ok(rss));
                        let v = tahoe_ttfb(g, &cap, 100 * MIB);
                        rows.set("ttfb_1mib_range_end_of_100mib_s", "s", t, v);
                    }
                }
            }
        }
    }
    if plan.big {
        row_group("Tahoe PUT/GET 1 GiB");
        match up(f1g) {
            Err(e) => rows.set("upload_1gib_mbps", "MB/s", t, Err(e)),
            Ok((cap, wall, _, rss)) => {
                rows.set("upload_1gib_mbps", "MB/s", t, Ok(mbps(1024 * MIB, wall)));
                rows.set("client_peak_rss_upload_mib", "MiB", t, Ok(rss));
                match down(&cap, 1024 * MIB) {
                    Err(e) => rows.set("download_1gib_mbps", "MB/s", t, Err(e)),
                    Ok((wall, _, rss)) => {
                        rows.set("download_1gib_mbps", "MB/s", t, Ok(mbps(1024 * MIB, wall)));
                        rows.set("client_peak_rss_download_mib", "MiB", t, Ok(rss));
                    }
                }
                let v = tahoe_ttfb(g, &cap, 1024 * MIB);
                rows.set("ttfb_1mib_range_end_of_1gib_s", "s", t, v);
            }
        }
    }

    row_group("Tahoe small files");
    let n = plan.small_files;
    let v = (|| -> Result<f64> {
        let t0 = Instant::now();
        for i in 0..n {
            let mut b = vec![b'y'; 1024];
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            g.text("PUT", "/uri", Body::Bytes(&b))?;
        }
        Ok(n as f64 / t0.elapsed().as_secs_f64())
    })();
    rows.set("small_1kib_files_per_s", "files/s", t, v);

    row_group("Tahoe directories and mutable files");
    let _ = dir;
    tahoe_mutable(g, plan, rows);
}

fn tahoe_mutable(g: &TahoeGrid, plan: &Plan, rows: &mut Rows) {
    let t = Side::Tahoe;
    let r = (|| -> Result<Vec<(&'static str, &'static str, f64)>> {
        let mut out = Vec::new();
        let child = g.text("PUT", "/uri", Body::Bytes(&[7u8; 1000]))?;
        // The same operations as the lafs side, p50 of as many samples:
        // an empty SDMF directory (Tahoe's default `mutable.format`), 1 MiB
        // SDMF creates, overwrites by cap and reads. Tahoe 1.20 has no key
        // pool, so its creates include generating the RSA key.
        let n = samples(plan);
        let mut times = Vec::new();
        let mut d = String::new();
        for _ in 0..n {
            let t0 = Instant::now();
            d = g.text("POST", "/uri?t=mkdir", Body::Empty)?;
            times.push(t0.elapsed().as_secs_f64());
        }
        out.push(("mkdir_s", "s", p50(times)?));
        let m = plan.children_one_by_one;
        let t0 = Instant::now();
        for i in 0..m {
            g.text(
                "PUT",
                &format!("/uri/{d}/f{i:03}?t=uri"),
                Body::Bytes(child.as_bytes()),
            )?;
        }
        out.push((
            "add_child_ms",
            "ms",
            t0.elapsed().as_secs_f64() * 1000.0 / m.max(1) as f64,
        ));
        if m < 200 {
            let mut set = serde_json::Map::new();
            for i in m..200 {
                set.insert(format!("f{i:03}"), json!(["filenode", {"ro_uri": child}]));
            }
            let body = serde_json::to_vec(&Value::Object(set))?;
            g.text(
                "POST",
                &format!("/uri/{d}?t=set_children"),
                Body::Bytes(&body),
            )?;
        }
        let t0 = Instant::now();
        let j = g.get_json(&format!("/uri/{d}?t=json"))?;
        let listed = j[1]["children"].as_object().map_or(0, |c| c.len());
        if listed != 200 {
            bail!("listed {listed} children, expected 200");
        }
        out.push(("list_200_children_s", "s", t0.elapsed().as_secs_f64()));
        let data = vec![0x5au8; MIB as usize];
        let mut times = Vec::new();
        let mut w = String::new();
        for _ in 0..n {
            let t0 = Instant::now();
            w = g.text("PUT", "/uri?format=SDMF", Body::Bytes(&data))?;
            times.push(t0.elapsed().as_secs_f64());
        }
        out.push(("mutable_create_1mib_s", "s", p50(times)?));
        let mut data2 = data;
        let mut times = Vec::new();
        for i in 0..n {
            data2[0] = i as u8 + 1;
            let t0 = Instant::now();
            g.text("PUT", &format!("/uri/{w}"), Body::Bytes(&data2))?;
            times.push(t0.elapsed().as_secs_f64());
        }
        out.push(("mutable_overwrite_1mib_s", "s", p50(times)?));
        let mut times = Vec::new();
        for _ in 0..n {
            let t0 = Instant::now();
            let r = wapi(
                g.web_port,
                "GET",
                &format!("/uri/{w}"),
                &[],
                Body::Empty,
                true,
            )?;
            times.push(t0.elapsed().as_secs_f64());
            if r.status != 200 || r.body != data2 {
                bail!("mutable read: HTTP {} / wrong bytes", r.status);
            }
        }
        out.push(("mutable_read_1mib_s", "s", p50(times)?));
        Ok(out)
    })();
    match r {
        Ok(out) => {
            for (m, u, v) in out {
                rows.set(m, u, t, Ok(v));
            }
        }
        Err(e) => {
            let msg = format!("{e:#}");
            for (m, u) in MUTABLE_ROWS {
                rows.set(m, u, t, Err(anyhow::anyhow!("{msg}")));
            }
        }
    }
}

fn tahoe_ttfb(g: &TahoeGrid, cap: &str, size: u64) -> Result<f64> {
    let range = [("Range", format!("bytes={}-{}", size - MIB, size - 1))];
    let r = wapi(
        g.web_port,
        "GET",
        &format!("/uri/{cap}"),
        &range,
        Body::Empty,
        false,
    )?;
    if r.status != 206 || r.len != MIB {
        bail!("range GET: HTTP {} with {} bytes", r.status, r.len);
    }
    Ok(r.ttfb.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_names_the_process_that_holds_the_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        assert!(loopback::listens(std::process::id(), port));
        // Another process, e.g. our parent, does not hold it.
        assert!(!loopback::listens(
            std::os::unix::process::parent_id(),
            port
        ));
        drop(l);
        assert!(!loopback::listens(std::process::id(), port));
    }

    #[test]
    fn own_process_accounting_reads_proc() {
        let me = std::process::id();
        let (state, _) = proc_stat(me).unwrap_or(('?', 0));
        assert!(matches!(state, 'R' | 'S'));
        assert!(vm_hwm_kib(me).unwrap_or(0) > 0);
        assert_eq!(proc_stat(u32::MAX), None);
    }

    #[test]
    fn rows_are_contract_json_with_nulls_and_errors() {
        let mut rows = Rows::default();
        rows.set("upload_100mib_mbps", "MB/s", Side::Lafs, Ok(200.0));
        rows.set("upload_100mib_mbps", "MB/s", Side::Tahoe, Ok(10.0));
        rows.set(
            "mkdir_s",
            "s",
            Side::Lafs,
            Err(anyhow::anyhow!("unsupported")),
        );
        let j = rows.json();
        let r = &j["rows"];
        assert_eq!(r[0]["metric"], "upload_100mib_mbps");
        assert_eq!(r[0]["lafs"], 200.0);
        assert_eq!(r[0]["tahoe"], 10.0);
        assert_eq!(r[0]["unit"], "MB/s");
        assert!(r[1]["lafs"].is_null() && r[1]["tahoe"].is_null());
        assert!(r[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("unsupported")));
        let t = rows.table();
        assert!(t.contains("20.0×"), "{t}");
    }

    #[test]
    fn announcement_port() {
        let ann = "  v0-x:\n    ann:\n      anonymous-storage-NURLs:\n        - \"pb://h@127.0.0.1:4567/s#v=1\"\n";
        assert_eq!(nurl_port(ann), Some(4567));
    }
}
