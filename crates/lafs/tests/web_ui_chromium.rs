//! The web UI in a real browser: `lafs demo` plus headless Chromium driven
//! over WebDriver (Debian's `chromium` and `chromium-driver`, which
//! `scripts/test` installs).
//!
//! A person's first minutes, step by step: the welcome page lists the ten
//! demo servers; "Create a directory" makes one; "Make directory" makes a
//! subdirectory inside it; a file goes up through the upload form (the
//! page's own JavaScript posts it with progress); it is listed; the browser
//! downloads it and the bytes match; it is renamed and deleted through the
//! row's action menu. Screenshots land in
//! `target/artifacts/` (desktop and phone width).
//!
//! Without chromedriver the test is skipped with a message; with `CI=true`
//! it fails instead.

// Helpers outside #[test] fns: a failure is a test failure.
#![allow(clippy::expect_used)]

mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use webdriver::{which, Driver};

/// `lafs demo` as a child, stopped with SIGTERM (its clean shutdown path).
struct Demo {
    child: Child,
    url: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_demo(dir: &Path) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lafs"))
        .arg("demo")
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start lafs demo");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(u) = line.trim().strip_prefix("Web UI:") {
                let _ = tx.send(u.trim().to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("lafs demo printed no Web UI line");
    Demo { child, url }
}

fn artifacts_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("artifacts");
    std::fs::create_dir_all(&d).expect("artifacts dir");
    d
}

/// Deterministic, incompressible-looking test content (xorshift).
fn content(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Wait for a finished download called `name` (Chromium writes
/// `name.crdownload` first).
fn wait_download(dir: &Path, name: &str, secs: u64) -> Option<Vec<u8>> {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        let p = dir.join(name);
        if p.exists() && !dir.join(format!("{name}.crdownload")).exists() {
            if let Ok(b) = std::fs::read(&p) {
                return Some(b);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn web_ui_in_headless_chromium() {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let (Some(chromedriver), Some(chromium)) = (
        which("chromedriver"),
        which("chromium").or_else(|| which("chromium-browser")),
    ) else {
        assert!(
            !ci,
            "chromium / chromedriver missing under CI=true (scripts/test installs them)"
        );
        eprintln!("skipping: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)");
        return;
    };
    let scratch = lafs_testing::scratch_dir("web-ui");
    let demo = start_demo(&scratch.join("grid"));
    let artifacts = artifacts_dir();
    let d = Driver::start(&chromedriver, &chromium, &scratch);

    // The welcome page: ten servers.
    d.goto(&demo.url);
    d.wait_for("#servers tr.server", 30);
    assert_eq!(d.find_all("#servers tr.server").len(), 10);
    let count = d.wait_for("#server-count", 5);
    assert_eq!(d.attr(&count, "data-count").as_deref(), Some("10"));
    std::fs::write(artifacts.join("web-ui-welcome.png"), d.screenshot()).expect("screenshot");

    // Create a directory from the welcome page: the form posts to
    // /uri?t=mkdir&redirect_to_result=true and lands on its listing.
    let b = d.wait_for("#mkdir-root button", 5);
    d.click(&b);
    d.wait_for("#dir", 60);
    assert!(
        d.current_url().contains("/uri/URI%3ADIR2%3A")
            || d.current_url().contains("/uri/URI:DIR2:"),
        "not a directory URL: {}",
        d.current_url()
    );

    // A subdirectory through "Make directory".
    let name_box = d.wait_for("#mkdir input[name=name]", 5);
    d.type_into(&name_box, "holiday photos");
    let b = d.wait_for("#mkdir button", 5);
    d.click(&b);
    let link = d.wait_for("tr.child[data-name='holiday photos'] td.name a", 60);
    d.click(&link);
    d.wait_for("#dir[data-base$='/holiday%20photos']", 60);

    // Upload through the form (the page's script posts it with progress,
    // then reloads the listing).
    let upload_dir = scratch.join("upload");
    std::fs::create_dir_all(&upload_dir).expect("upload dir");
    let bytes = content(300_000);
    let file = upload_dir.join("lafs-ui-test.bin");
    std::fs::write(&file, &bytes).expect("write upload");
    let input = d.wait_for("#file", 5);
    d.type_into(&input, &file.to_string_lossy());
    let b = d.wait_for("#upload-button", 5);
    d.click(&b);
    let row = "tr.child[data-name='lafs-ui-test.bin']";
    d.wait_for(row, 120);
    assert!(d.text(&format!("{row} td.num")).contains("293 KiB"));

    // Download it through the browser and compare bytes.
    let a = d.wait_for(&format!("{row} td.name a"), 5);
    let href = d.attr(&a, "href").expect("download link");
    d.click(&a);
    let got = match wait_download(&d.downloads, "lafs-ui-test.bin", 60) {
        Some(b) => b,
        None => {
            // Some headless builds ignore downloads: fetch in the page.
            eprintln!("browser download did not appear; fetching {href} in the page");
            let b64 = d.exec_async(
                "const done = arguments[arguments.length - 1];\
                 fetch(arguments[0]).then(r => r.arrayBuffer()).then(buf => {\
                   let s = ''; const u = new Uint8Array(buf);\
                   for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);\
                   done(btoa(s)); }).catch(e => done('ERR ' + e));",
                serde_json::json!([href]),
            );
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_str().unwrap_or_default())
                .expect("fetched bytes")
        }
    };
    assert_eq!(got.len(), bytes.len());
    assert!(got == bytes, "downloaded bytes differ from the upload");

    // Screenshots: the directory with its file, desktop and phone width.
    let png = d.screenshot();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(artifacts.join("web-ui.png"), png).expect("screenshot");
    d.set_window(390, 844);
    std::fs::write(artifacts.join("web-ui-phone.png"), d.screenshot()).expect("screenshot");
    d.set_window(1200, 900);

    // The operations page lists the upload and the download by name.
    let dir_url = d.current_url();
    d.goto(&format!("{}status", demo.url));
    d.wait_for("#ops table", 30);
    let ops = d.text("#ops");
    assert!(ops.contains("lafs-ui-test.bin"), "{ops}");
    assert!(ops.contains("upload") && ops.contains("download"), "{ops}");
    assert!(!ops.contains("failed"), "{ops}");
    std::fs::write(artifacts.join("web-ui-status.png"), d.screenshot()).expect("screenshot");
    d.goto(&dir_url);
    d.wait_for(row, 60);

    // Rename through the row's action menu, then delete (accepting the
    // page's confirmation dialog).
    let menu = d.wait_for(&format!("{row} details.pop summary"), 5);
    d.click(&menu);
    let to = d.wait_for(&format!("{row} input[name=to_name]"), 5);
    d.clear(&to);
    d.type_into(&to, "renamed.bin");
    let b = d.wait_for(&format!("{row} form[action$='?t=rename'] button"), 5);
    d.click(&b);
    let renamed = "tr.child[data-name='renamed.bin']";
    d.wait_for(renamed, 60);
    assert!(d.find_all(row).is_empty(), "old name still listed");
    let menu = d.wait_for(&format!("{renamed} details.pop summary"), 5);
    d.click(&menu);
    let b = d.wait_for(&format!("{renamed} form.confirm button"), 5);
    d.click(&b);
    d.accept_alert();
    d.wait_for("tr.empty", 60);
    drop(d);
    drop(demo);
    let _ = std::fs::remove_dir_all(&scratch);
}
