//! The Tahoe-style grid verbs (aliases, mkdir, ls, ln, mv, rm, put, get,
//! cp -r, manifest, deep-stats) against ten `lafs run` servers over HTTPS
//! on loopback, and two concurrent `lafs ln` writers into one directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{lafs, ok, start_grid};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A client node on a fresh grid; the servers die with the first field.
fn setup(tmp: &Path) -> (Vec<client_common::Kill>, PathBuf) {
    let (procs, servers) = start_grid(tmp, 10);
    let client = tmp.join("client");
    ok(lafs()
        .arg("create-client")
        .arg("--servers")
        .arg(&servers)
        .arg(&client));
    (procs, client)
}

fn cmd(client: &Path, args: &[&str]) -> Command {
    let mut c = lafs();
    c.arg("-d").arg(client).args(args);
    c
}

fn out(client: &Path, args: &[&str]) -> String {
    String::from_utf8(ok(&mut cmd(client, args))).unwrap()
}

/// Runs `args`, expects failure, returns stderr.
fn fails(client: &Path, args: &[&str]) -> String {
    let o = cmd(client, args).output().unwrap();
    assert!(!o.status.success(), "{args:?} succeeded");
    let e = String::from_utf8(o.stderr).unwrap();
    assert_eq!(e.trim_end().lines().count(), 1, "one clear line: {e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

fn names(ls: &str) -> Vec<&str> {
    ls.lines().map(str::trim).collect()
}

/// Every file under `dir` as (relative path, bytes), directories as `None`.
fn tree(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.push((rel, None));
                stack.push(p);
            } else {
                out.push((rel, Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn grid_verbs_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (_procs, c) = setup(tmp.path());

    // Aliases: create, add, list (Tahoe's text and JSON), file format.
    assert_eq!(
        out(&c, &["create-alias", "tahoe:"]),
        "Alias 'tahoe' created\n"
    );
    let work = out(&c, &["mkdir", "--format", "mdmf"]);
    let work = work.trim();
    assert!(work.starts_with("URI:DIR2-MDMF:"), "{work}");
    assert_eq!(
        out(&c, &["add-alias", "work", work]),
        "Alias 'work' added\n"
    );
    assert!(fails(&c, &["add-alias", "work", work]).contains("already exists"));
    assert!(fails(&c, &["add-alias", "bad name", work]).contains("spaces"));
    let file = std::fs::read_to_string(c.join("private/aliases")).unwrap();
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 2, "{file}");
    assert!(lines[0].starts_with("tahoe: URI:DIR2:"), "{file}");
    assert_eq!(lines[1], format!("work: {work}"));
    let tahoe_cap = lines[0].strip_prefix("tahoe: ").unwrap().to_string();
    let listed = out(&c, &["list-aliases"]);
    assert_eq!(listed, format!("  tahoe: {tahoe_cap}\n   work: {work}\n"));
    let j: serde_json::Value = serde_json::from_str(&out(&c, &["list-aliases", "--json"])).unwrap();
    assert_eq!(j["work"]["readwrite"], work);
    assert!(j["work"]["readonly"]
        .as_str()
        .unwrap()
        .starts_with("URI:DIR2-MDMF-RO:"));
    // A hand-written Tahoe alias file (comments, no final newline) is read,
    // and adding keeps every old byte.
    std::fs::write(
        c.join("private/aliases"),
        format!("# mine\ntahoe: {tahoe_cap}\n\nwork:{work}"),
    )
    .unwrap();
    ok(&mut cmd(&c, &["add-alias", "w2", work]));
    assert_eq!(
        std::fs::read_to_string(c.join("private/aliases")).unwrap(),
        format!("# mine\ntahoe: {tahoe_cap}\n\nwork:{work}\nw2: {work}\n")
    );

    // put / get over paths, immutable and mutable.
    let a = tmp.path().join("a.txt");
    std::fs::write(&a, b"hello grid").unwrap();
    let a_s = a.to_str().unwrap();
    let cap = out(&c, &["put", a_s, "docs/a.txt"]);
    assert!(cap.starts_with("URI:LIT:"), "{cap}");
    assert_eq!(out(&c, &["get", "tahoe:docs/a.txt"]), "hello grid");
    assert_eq!(out(&c, &["get", "docs/a.txt"]), "hello grid");
    let m1 = out(&c, &["put", "--mutable", a_s, "tahoe:m.txt"]);
    assert!(m1.starts_with("URI:SSK:"), "{m1}");
    std::fs::write(&a, b"second version").unwrap();
    let m2 = out(&c, &["put", a_s, "tahoe:m.txt"]);
    assert_eq!(m1, m2, "a mutable file is overwritten in place");
    assert_eq!(out(&c, &["get", "tahoe:m.txt"]), "second version");
    std::fs::write(&a, b"third").unwrap();
    ok(&mut cmd(&c, &["put", a_s, m1.trim()]));
    assert_eq!(out(&c, &["get", m1.trim()]), "third");
    let md = out(&c, &["put", "--format", "mdmf", a_s]);
    assert!(md.starts_with("URI:MDMF:"), "{md}");

    // mkdir at a path, ls in its forms.
    let y = out(&c, &["mkdir", "tahoe:x/y"]);
    assert!(y.starts_with("URI:DIR2:"), "{y}");
    assert_eq!(names(&out(&c, &["ls"])), ["docs", "m.txt", "x"]);
    assert_eq!(
        names(&out(&c, &["ls", "-F", "tahoe:"])),
        ["docs/", "m.txt*", "x/"]
    );
    let long = out(&c, &["ls", "-l", "tahoe:docs"]);
    assert!(long.starts_with("-r-- 10 "), "{long}");
    assert!(long.trim_end().ends_with(" a.txt"), "{long}");
    let uri = out(&c, &["ls", "--uri", "tahoe:docs"]);
    assert_eq!(uri.trim(), format!("a.txt {}", cap.trim()));
    let j: serde_json::Value = serde_json::from_str(&out(&c, &["ls", "--json", "tahoe:"])).unwrap();
    assert_eq!(j[0], "dirnode");
    assert_eq!(j[1]["children"]["m.txt"][1]["format"], "SDMF");
    assert_eq!(j[1]["children"]["x"][0], "dirnode");
    // A bare cap with a path.
    assert_eq!(names(&out(&c, &["ls", &format!("{tahoe_cap}/x")])), ["y"]);

    // ln, mv, rm.
    assert_eq!(out(&c, &["ln", "tahoe:docs/a.txt", "tahoe:x/"]), "OK\n");
    assert_eq!(names(&out(&c, &["ls", "tahoe:x"])), ["a.txt", "y"]);
    ok(&mut cmd(&c, &["mv", "tahoe:x/a.txt", "tahoe:x/b.txt"]));
    ok(&mut cmd(&c, &["mv", "tahoe:x/b.txt", "work:b.txt"]));
    assert_eq!(names(&out(&c, &["ls", "work:"])), ["b.txt"]);
    assert_eq!(names(&out(&c, &["ls", "tahoe:x"])), ["y"]);
    assert!(fails(&c, &["ln", "tahoe:m.txt", "tahoe:x"]).contains("overwrite a directory"));
    ok(&mut cmd(&c, &["rm", "work:b.txt"]));
    ok(&mut cmd(&c, &["unlink", "tahoe:x/y"]));
    assert_eq!(out(&c, &["ls", "tahoe:x"]), "");
    assert!(fails(&c, &["ls", "tahoe:nope"])
        .to_lowercase()
        .contains("no such child"));
    assert!(fails(&c, &["ls", "nosuch:x"]).contains("Unknown alias"));
    assert!(fails(&c, &["get", "tahoe:x"]).contains("directory"));

    // cp -r both ways, byte-identical.
    let src = tmp.path().join("tree");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::write(src.join("small"), b"s").unwrap();
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("sub/big.bin"), &big).unwrap();
    std::fs::write(src.join("sub/deeper/x"), b"deep").unwrap();
    ok(&mut cmd(
        &c,
        &["cp", "-r", src.to_str().unwrap(), "tahoe:copy"],
    ));
    assert_eq!(
        names(&out(&c, &["ls", "tahoe:copy"])),
        ["empty", "small", "sub"]
    );
    let back = tmp.path().join("back");
    ok(&mut cmd(
        &c,
        &["cp", "-r", "tahoe:copy", back.to_str().unwrap()],
    ));
    assert_eq!(tree(&src), tree(&back));
    // Into an existing directory, under the source's name; single files.
    ok(&mut cmd(
        &c,
        &["cp", "-r", src.to_str().unwrap(), "tahoe:x/"],
    ));
    assert_eq!(names(&out(&c, &["ls", "tahoe:x"])), ["tree"]);
    let one = tmp.path().join("one.bin");
    ok(&mut cmd(
        &c,
        &["cp", "tahoe:copy/sub/big.bin", one.to_str().unwrap()],
    ));
    assert_eq!(std::fs::read(&one).unwrap(), big);
    assert!(fails(&c, &["cp", "tahoe:copy", "/tmp/x"]).contains("-r"));

    // manifest and deep-stats.
    let man = out(&c, &["manifest", "tahoe:copy"]);
    let paths: Vec<&str> = man.lines().map(|l| l.split_once(' ').unwrap().1).collect();
    assert_eq!(
        paths,
        [
            "",
            "small",
            "empty",
            "sub",
            "sub/big.bin",
            "sub/deeper",
            "sub/deeper/x"
        ]
    );
    let sis = out(&c, &["manifest", "--storage-index", "tahoe:copy"]);
    // LIT files have no storage index.
    assert_eq!(sis.lines().count(), 5, "{sis}");
    let raw = out(&c, &["manifest", "--raw", "tahoe:copy"]);
    let first: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "directory");
    let stats = out(&c, &["deep-stats", "tahoe:copy"]);
    assert!(stats.starts_with("Counts and Total Sizes:\n"), "{stats}");
    assert!(stats.contains("           count-files: 3\n"), "{stats}");
    assert!(stats.contains("     count-directories: 4\n"), "{stats}");
    assert!(
        stats.contains("  size-immutable-files: 1500000    (1.50 MB, 1.43 MiB)\n"),
        "{stats}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&out(&c, &["deep-stats", "--raw", "tahoe:copy"])).unwrap();
    assert_eq!(j["largest-immutable-file"], 1_500_000);
}

#[test]
fn concurrent_ln_writers_both_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let (_procs, c) = setup(tmp.path());
    ok(&mut cmd(&c, &["create-alias", "tahoe"]));
    let f = tmp.path().join("f");
    std::fs::write(&f, b"shared child").unwrap();
    ok(&mut cmd(&c, &["put", f.to_str().unwrap(), "src"]));
    ok(&mut cmd(&c, &["mkdir", "tahoe:d"]));
    const EACH: usize = 6;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    ok(&mut cmd(
                        &c,
                        &["ln", "tahoe:src", &format!("tahoe:d/w{w}-{i}")],
                    ));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let ls = out(&c, &["ls", "tahoe:d"]);
    assert_eq!(ls.lines().count(), 2 * EACH, "{ls}");
}
