//! `lafs status` and `lafs webopen` against a running client node (`lafs
//! run` with a web port over two `lafs run` storage servers), and the web
//! port over HTTPS (`web.port = ssl:…`): node.url says `https://`, the
//! CLI follows it (trusting the certificate web.port names), and plain
//! HTTP on that port gets no answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{lafs, ok, start_grid, start_web_client, web, Kill};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    let d =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(node: &Path, args: &[&str]) -> Output {
    lafs().arg("-d").arg(node).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// `lafs status --json`, polled until `n` servers say connected (the node
/// learns it from each server's version answer; bounded).
fn status_when_connected(node: &Path, n: usize) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let v: serde_json::Value =
            serde_json::from_str(&stdout(&run(node, &["status", "--json"]))).unwrap();
        let up = v["node"]["servers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["connection_status"] == "connected")
            .count();
        if up == n {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "never {n} connected: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn status_and_webopen_against_a_running_node() {
    let dir = tmpdir("web-cli");
    let (_servers, yaml) = start_grid(&dir, 2);
    let node = dir.join("client");
    let _client = start_web_client(&node, &yaml, "tcp:0:interface=127.0.0.1");
    let url = std::fs::read_to_string(node.join("node.url"))
        .unwrap()
        .trim()
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let v = status_when_connected(&node, 2);
    assert_eq!(v["url"], url.as_str());
    assert_eq!(v["node"]["servers"].as_array().unwrap().len(), 2);

    // An upload through the web API shows up among the operations.
    let port: u16 = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // (Literal-sized: two servers cannot make the default 7 happy.)
    let (code, cap) = web(port, "PUT", "/uri", b"a small file").unwrap();
    assert_eq!(code, 200);
    let cap = String::from_utf8(cap).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&run(&node, &["status", "--json"]))).unwrap();
    let recent = v["operations"]["recent"].as_array().unwrap();
    assert!(recent.iter().any(|o| o["type"] == "upload"), "{v}");

    let text = stdout(&run(&node, &["status"]));
    assert!(text.contains(&format!("node: {url}")), "{text}");
    assert!(text.contains("storage servers: 2 of 2 connected"), "{text}");
    assert!(text.contains("operations: 0 active, 1 recent"), "{text}");

    // webopen: --print, a cap with a path (each segment encoded).
    assert_eq!(stdout(&run(&node, &["webopen", "--print"])).trim(), url);
    let got = stdout(&run(
        &node,
        &["webopen", "--print", &format!("{cap}/sub dir/f")],
    ));
    let enc = cap.replace(':', "%3A");
    assert_eq!(got.trim(), format!("{url}uri/{enc}/sub%20dir/f"));
    // An alias, as Tahoe's webopen takes it.
    let o = run(&node, &["create-alias", "docs"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let aliases = std::fs::read_to_string(node.join("private/aliases")).unwrap();
    let dircap = aliases.trim().strip_prefix("docs: ").unwrap();
    let got = stdout(&run(&node, &["webopen", "--print", "docs:a b"]));
    assert_eq!(
        got.trim(),
        format!("{url}uri/{}/a%20b", dircap.replace(':', "%3A"))
    );
    // $BROWSER is honoured, `%s` standing for the URL; a browser that
    // fails leaves the URL printed.
    let o = lafs()
        .arg("-d")
        .arg(&node)
        .arg("webopen")
        .env("BROWSER", "echo opened=%s")
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), format!("opened={url}"));
    let o = lafs()
        .arg("-d")
        .arg(&node)
        .arg("webopen")
        .env("BROWSER", "false")
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), url);

    // No node.url: one clear line, no panic.
    let empty = dir.join("not-running");
    std::fs::create_dir_all(&empty).unwrap();
    for verb in ["status", "webopen"] {
        let o = run(&empty, &[verb]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("is the node running?"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn https_web_port() {
    let dir = tmpdir("web-https");
    let node = dir.join("client");
    // The certificate and key sit in the node directory, named relative
    // to it in web.port (create-client keeps files already there).
    let id = lafs_http::tls::Identity::generate("localhost").unwrap();
    std::fs::create_dir_all(node.join("private")).unwrap();
    std::fs::write(node.join("private/web.key"), &id.key_pem).unwrap();
    std::fs::write(node.join("web.crt"), &id.cert_pem).unwrap();
    let (_servers, yaml) = start_grid(&dir, 1);
    let _client = start_web_client(
        &node,
        &yaml,
        "ssl:0:privateKey=private/web.key:certKey=web.crt:interface=127.0.0.1",
    );
    let url = std::fs::read_to_string(node.join("node.url"))
        .unwrap()
        .trim()
        .to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // The CLI speaks TLS to it, trusting the certificate web.port names.
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&run(&node, &["status", "--json"]))).unwrap();
    assert_eq!(v["url"], url.as_str());
    assert_eq!(v["node"]["servers"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(stdout(&run(&node, &["webopen", "--print"])).trim(), url);

    // Plain HTTP on the TLS port gets no HTTP answer.
    let hp = url.trim_start_matches("https://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(hp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /?t=json HTTP/1.0\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(
        !raw.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A storage node with a web port and an introducer (`lafs run` serves
/// storage and, beside it, the client's web API): its welcome JSON names
/// the introducer as connected, the server (itself, learnt through the
/// introducer) as connected with its free space, and its own storage use.
#[test]
fn welcome_shows_introducer_and_own_storage() {
    let dir = tmpdir("web-intro");
    let intro_dir = dir.join("introducer");
    ok(lafs()
        .args(["create-introducer", "--hostname", "127.0.0.1"])
        .arg(&intro_dir));
    let url = std::fs::read_to_string(intro_dir.join("private/introducer.furl")).unwrap();
    let _intro = Kill(lafs().arg("run").arg(&intro_dir).spawn().unwrap());

    let nd = dir.join("node");
    ok(lafs()
        .args([
            "create-node",
            "--introducer",
            url.trim(),
            "--nickname",
            "both",
        ])
        .arg(&nd));
    let cfg = std::fs::read_to_string(nd.join("tahoe.cfg")).unwrap();
    assert!(cfg.contains("web.port=\n"), "{cfg}");
    std::fs::write(
        nd.join("tahoe.cfg"),
        cfg.replace("web.port=\n", "web.port=tcp:0:interface=127.0.0.1\n"),
    )
    .unwrap();
    // A share file already on disk counts as used space.
    let share = nd.join("storage/shares/aa/aaaaaaaaaaaaaaaaaaaaaaaaaa");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("0"), vec![0u8; 1234]).unwrap();
    let _node = Kill(
        lafs()
            .arg("run")
            .arg(&nd)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("node.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    let v = loop {
        let o = run(&nd, &["status", "--json"]);
        if o.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let intro_up = v["node"]["introducers"]["statuses"][0]
                .as_str()
                .is_some_and(|s| s.starts_with("Connected to 127.0.0.1:"));
            let server_up = v["node"]["servers"][0]["connection_status"] == "connected";
            let storage = v["node"]["node"]["storage"]["used"].as_u64().is_some();
            if intro_up && server_up && storage {
                break v;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "welcome never showed introducer, server and storage: {}",
            std::fs::read_to_string(dir.join("node.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let node = &v["node"];
    assert_eq!(node["servers"][0]["nickname"], "both", "{v}");
    assert!(
        node["servers"][0]["available_space"].as_u64().unwrap() > 0,
        "{v}"
    );
    let me = &node["node"];
    assert_eq!(me["nickname"], "both");
    assert!(me["nodeid"].as_str().unwrap().starts_with("v0-"), "{v}");
    assert_eq!(me["storage"]["used"], 1234, "{v}");
    assert!(me["storage"]["available"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(me["introducers"][0]["connected"], true);
    assert!(me["introducers"][0]["since"].as_f64().is_some());
    // The URL holds the introducer's host and port, never its swissnum.
    let swiss = std::fs::read_to_string(intro_dir.join("private/swissnum")).unwrap();
    assert!(!v.to_string().contains(swiss.trim()));
    // The summary says the same.
    let text = stdout(&run(&nd, &["status"]));
    assert!(text.contains("storage servers: 1 of 1 connected"), "{text}");
    assert!(
        text.contains("introducer: Connected to 127.0.0.1:"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
