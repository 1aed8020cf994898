//! Dev-only helpers shared by every crate's tests.
//!
//! The known-answer vectors live outside this repository, in
//! `../shared/vectors` beside the checkout (or wherever `$LAFS_VECTORS`
//! points). They are read from there and never copied in.
//!
//! Two rules keep the vector tests honest:
//!
//! * Under `CI=true` a missing vector file is a test *failure*: a vector test
//!   never passes by skipping silently.
//! * Every test that checks a family of vectors calls [`report_family`] with
//!   the number of cases it checked. `./scripts/test` prints the collected
//!   counts at the end of the run, so the output names each family and how
//!   many of its cases passed.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The root of the workspace (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// The directory holding the shared vectors: `$LAFS_VECTORS`, else
/// `<workspace>/../shared/vectors`.
pub fn vectors_dir() -> PathBuf {
    match std::env::var_os("LAFS_VECTORS") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join("../shared/vectors"),
    }
}

fn in_ci() -> bool {
    matches!(
        std::env::var("CI").as_deref(),
        Ok("true") | Ok("1") | Ok("yes")
    )
}

/// Path of a vector file relative to [`vectors_dir`], or `None` when it is
/// missing outside CI (the caller then skips, loudly). Under `CI=true` a
/// missing file panics, failing the test.
pub fn vector_path(rel: &str) -> Option<PathBuf> {
    let p = vectors_dir().join(rel);
    if p.exists() {
        return Some(p);
    }
    if in_ci() {
        panic!(
            "vector file {} is missing (CI=true: vector tests never skip)",
            p.display()
        );
    }
    eprintln!("SKIP: vector file {} is missing", p.display());
    None
}

/// Read a vector file's bytes (see [`vector_path`] for the missing-file rule).
pub fn read_vector(rel: &str) -> Option<Vec<u8>> {
    vector_path(rel).map(|p| fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// Read and parse a JSON vector file.
pub fn read_json(rel: &str) -> Option<serde_json::Value> {
    read_vector(rel)
        .map(|b| serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{rel}: bad JSON: {e}")))
}

/// Read and parse a YAML vector file into any deserializable type.
pub fn read_yaml<T: serde::de::DeserializeOwned>(rel: &str) -> Option<T> {
    read_vector(rel).map(|b| {
        let s = std::str::from_utf8(&b).unwrap_or_else(|e| panic!("{rel}: not UTF-8: {e}"));
        serde_saphyr::from_str(s).unwrap_or_else(|e| panic!("{rel}: bad YAML: {e}"))
    })
}

/// Directory where vector tests record how many cases of each family they
/// checked; `./scripts/test` prints it.
fn report_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("vector-report")
}

/// Record that `count` cases of vector family `family` were checked and
/// passed. Call it at the end of the test, after every assertion.
pub fn report_family(family: &str, count: usize) {
    let dir = report_dir();
    let _ = fs::create_dir_all(&dir);
    let safe: String = family
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(mut f) = fs::File::create(dir.join(safe)) {
        let _ = writeln!(f, "{family}\t{count}");
    }
}

/// Decode standard base64 (test helper; panics on bad input).
pub fn b64(s: &str) -> Vec<u8> {
    b64_decode(s).unwrap_or_else(|| panic!("bad base64: {s:.40}"))
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in s.as_bytes() {
        if c == b'=' || c.is_ascii_whitespace() {
            continue;
        }
        let v = match c {
            b'-' => 62,
            b'_' => 63,
            _ => ALPHA.iter().position(|&a| a == c)? as u32,
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// A fresh, empty scratch directory under the system temp dir, unique to
/// this process and `name`.
pub fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lafs-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    d
}

/// The plaintext of a share-set vector: `{"plaintext": {"seed", "length"}}`
/// expanded as `(seed · ∞)[:length]`.
pub fn sample_plaintext(m: &serde_json::Value) -> Vec<u8> {
    let seed = m["plaintext"]["seed"].as_str().expect("seed").as_bytes();
    let len = m["plaintext"]["length"].as_u64().expect("length") as usize;
    seed.iter().copied().cycle().take(len).collect()
}
