//! A small WebDriver (W3C) client over plain HTTP/1.1 for the web UI test:
//! chromedriver listens on loopback, so a blocking `TcpStream`, JSON bodies
//! and `Connection: close` are all it takes (no HTTP client dependency).
//!
//! `Driver::start` runs Debian's `chromedriver` on a free port and opens a
//! headless Chromium session with a fresh profile; dropping the driver
//! ends the session and kills chromedriver (and with it Chromium).
#![allow(dead_code)]
// Test-harness helpers outside #[test] fns: a failure is a test failure.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Find an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One HTTP request to `127.0.0.1:port`; returns (status, body).
pub fn http(port: u16, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let body = body.unwrap_or(b"");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    // chromedriver may keep the connection open despite `Connection:
    // close`, so read exactly the head and Content-Length bytes (or to EOF
    // for chunked bodies, which end with a zero chunk).
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = s.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            match len {
                Some(len) if raw.len() >= end + 4 + len => break,
                None if head.contains("transfer-encoding: chunked")
                    && raw.ends_with(b"0\r\n\r\n") =>
                {
                    break
                }
                _ => {}
            }
        }
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> (u16, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut body = raw[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size_str = String::from_utf8_lossy(&b[..nl]).to_string();
        let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = nl + 2;
        out.extend_from_slice(&b[start..start + size]);
        b = &b[start + size + 2..];
    }
    out
}

/// A chromedriver process and one browser session.
pub struct Driver {
    child: Child,
    port: u16,
    session: String,
    pub profile: PathBuf,
    pub downloads: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on a port picked free; it exits when another process took
/// that port first, and is then started again on a new one (5 attempts).
fn start_chromedriver(chromedriver: &Path) -> (Child, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let t = Instant::now();
        loop {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let (st, _) = http(port, "GET", "/status", None);
                if st == 200 {
                    return (child, port);
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("chromedriver exited at start (port {port} taken?); again");
    }
    panic!("chromedriver could not start in 5 attempts");
}

impl Driver {
    /// Start chromedriver and a headless Chromium with a fresh profile
    /// under `scratch`.
    pub fn start(chromedriver: &Path, chromium: &Path, scratch: &Path) -> Driver {
        let profile = scratch.join("chromium-profile");
        let downloads = scratch.join("downloads");
        std::fs::create_dir_all(&profile).expect("profile dir");
        std::fs::create_dir_all(&downloads).expect("downloads dir");
        let (child, port) = start_chromedriver(chromedriver);
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium.to_string_lossy(),
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1200,900",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                    "prefs": {
                        "download.default_directory": downloads.to_string_lossy(),
                        "download.prompt_for_download": false,
                    },
                },
            }}
        });
        let (st, body) = http(port, "POST", "/session", Some(caps.to_string().as_bytes()));
        let v: Value = serde_json::from_slice(&body).expect("session json");
        assert_eq!(st, 200, "new session: {v}");
        let session = v["value"]["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        let d = Driver {
            child,
            port,
            session,
            profile,
            downloads,
        };
        // Headless Chromium downloads only where it is told to.
        let _ = d.cmd(
            "POST",
            "goog/cdp/execute",
            json!({"cmd": "Browser.setDownloadBehavior",
                   "params": {"behavior": "allow", "downloadPath": d.downloads.to_string_lossy()}}),
        );
        d
    }

    /// A session command; panics with WebDriver's message on an error.
    pub fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let (st, out) = self.try_cmd(method, path, body);
        assert_eq!(st, 200, "{method} {path}: {out}");
        out
    }

    fn try_cmd(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let url = format!("/session/{}/{path}", self.session);
        let payload = if method == "GET" {
            None
        } else {
            Some(body.to_string())
        };
        let (st, out) = http(
            self.port,
            method,
            &url,
            payload.as_deref().map(str::as_bytes),
        );
        let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        (st, v["value"].clone())
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "url", json!({ "url": url }));
    }

    pub fn current_url(&self) -> String {
        self.cmd("GET", "url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn title(&self) -> String {
        self.cmd("GET", "title", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Elements matching a CSS selector (possibly none).
    pub fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.cmd(
            "POST",
            "elements",
            json!({"using": "css selector", "value": css}),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, waiting up to `secs` for it.
    pub fn wait_for(&self, css: &str, secs: u64) -> String {
        let t = Instant::now();
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                return e;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "no {css} after {secs} s on {} (page: {})",
                self.current_url(),
                self.text("body")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn click(&self, el: &str) {
        self.cmd("POST", &format!("element/{el}/click"), json!({}));
    }

    pub fn type_into(&self, el: &str, text: &str) {
        self.cmd(
            "POST",
            &format!("element/{el}/value"),
            json!({ "text": text }),
        );
    }

    pub fn clear(&self, el: &str) {
        self.cmd("POST", &format!("element/{el}/clear"), json!({}));
    }

    pub fn attr(&self, el: &str, name: &str) -> Option<String> {
        self.cmd(
            "GET",
            &format!("element/{el}/attribute/{name}"),
            Value::Null,
        )
        .as_str()
        .map(str::to_string)
    }

    /// Visible text of the first element matching `css` ("" if none).
    pub fn text(&self, css: &str) -> String {
        match self.find_all(css).into_iter().next() {
            Some(e) => self
                .try_cmd("GET", &format!("element/{e}/text"), Value::Null)
                .1
                .as_str()
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        }
    }

    /// Run synchronous JavaScript; returns its value.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "execute/sync",
            json!({ "script": script, "args": args }),
        )
    }

    /// Run asynchronous JavaScript (the last argument is the callback).
    pub fn exec_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "execute/async",
            json!({ "script": script, "args": args }),
        )
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let b64 = self.cmd("GET", "screenshot", Value::Null);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("screenshot base64")
    }

    /// Accept a `confirm()` dialog, waiting a little for it to open.
    pub fn accept_alert(&self) {
        let t = Instant::now();
        loop {
            let (st, v) = self.try_cmd("POST", "alert/accept", json!({}));
            if st == 200 {
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "no dialog: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn set_window(&self, w: u32, h: u32) {
        self.cmd("POST", "window/rect", json!({"width": w, "height": h}));
    }
}
