//! Python's own `tahoe` CLI (Tahoe-LAFS 1.20 from `scripts/tahoe-venv`)
//! against a lafs client node: `lafs run CLIENT` serves the web API and
//! writes `CLIENT/node.url`, and `tahoe -d CLIENT …` drives it over ten
//! `lafs run` storage servers. Every command's result is checked (bytes
//! equal, listings hold what they should, manifests name the paths, checks
//! say healthy); the test reports each command and fails listing those
//! that did not give the right result.
//!
//! Needs `scripts/tahoe-venv`; skipped with a message when it cannot be
//! made, unless `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{data, lafs, ok, start_client_node, start_grid, tahoe, venv};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Cli {
    venv: PathBuf,
    node: PathBuf,
    results: Vec<(String, Result<(), String>)>,
}

impl Cli {
    fn run(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
        let mut c: Command = tahoe(&self.venv);
        c.arg("-d").arg(&self.node);
        for a in args {
            c.arg(a);
        }
        c.stdin(Stdio::null()).output().unwrap()
    }

    /// Run `tahoe ARGS`, then `verify` its output; record the outcome.
    fn step(
        &mut self,
        name: &str,
        args: &[&dyn AsRef<std::ffi::OsStr>],
        verify: impl FnOnce(&str) -> Result<(), String>,
    ) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let r = if out.status.success() {
            verify(&stdout)
        } else {
            Err(format!(
                "exit {:?}: {}{}",
                out.status.code(),
                stdout,
                String::from_utf8_lossy(&out.stderr)
            ))
        };
        eprintln!(
            "tahoe {name}: {}",
            match &r {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("FAILED: {e}"),
            }
        );
        self.results.push((name.to_string(), r));
        stdout
    }
}

fn check(cond: bool, what: &str) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn same_file(a: &Path, b: &Path) -> Result<(), String> {
    let x = std::fs::read(a).map_err(|e| format!("{}: {e}", a.display()))?;
    let y = std::fs::read(b).map_err(|e| format!("{}: {e}", b.display()))?;
    check(
        x == y,
        &format!("{} differs from {}", b.display(), a.display()),
    )
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
    // Bounded by the (small) tree the test made.
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, base, out);
        } else {
            out.push(p.strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

#[test]
fn python_tahoe_cli_against_lafs_web_api() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = start_grid(tmp.path(), 10);
    let node = tmp.path().join("client");
    let _client = start_client_node(&node, &yaml);
    // lafs's own node verbs read node.url too.
    let st = String::from_utf8(ok(lafs().arg("status").arg("-d").arg(&node))).unwrap();
    assert!(st.contains("storage servers: 10 of 10 connected"), "{st}");
    let url = std::fs::read_to_string(node.join("node.url")).unwrap();
    let w = String::from_utf8(ok(lafs()
        .args(["webopen", "--print", "-d"])
        .arg(&node)
        .arg("URI:DIR2:aaaa/sub")))
    .unwrap();
    assert_eq!(w.trim(), format!("{}uri/URI%3ADIR2%3Aaaaa/sub", url.trim()));

    let mut cli = Cli {
        venv: v,
        node: node.clone(),
        results: Vec::new(),
    };

    // Local files: one big (CHK, several segments), a small tree.
    let big = tmp.path().join("big.bin");
    std::fs::write(&big, data(1_500_000, 1)).unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("a.txt"), b"hello from a lafs test\n").unwrap();
    std::fs::write(src.join("sub/b.bin"), data(200_000, 2)).unwrap();
    std::fs::write(src.join("sub/deeper/c.bin"), data(3_000, 3)).unwrap();

    let aliases = node.join("private/aliases");
    cli.step("create-alias", &[&"create-alias", &"tahoe"], |_| {
        let a = std::fs::read_to_string(&aliases).map_err(|e| e.to_string())?;
        check(
            a.contains("tahoe: URI:DIR2"),
            "alias file lacks tahoe: URI:DIR2…",
        )
    });

    cli.step("put", &[&"put", &big, &"tahoe:big.bin"], |_| Ok(()));
    let cap = cli.step("put (unlinked)", &[&"put", &big], |out| {
        check(out.trim().starts_with("URI:CHK:"), "no URI:CHK: printed")
    });
    let out1 = tmp.path().join("out1.bin");
    cli.step("get", &[&"get", &"tahoe:big.bin", &out1], |_| {
        same_file(&big, &out1)
    });
    let out2 = tmp.path().join("out2.bin");
    cli.step("get (cap)", &[&"get", &cap.trim(), &out2], |_| {
        same_file(&big, &out2)
    });

    cli.step("mkdir", &[&"mkdir", &"tahoe:d1"], |out| {
        check(out.trim().starts_with("URI:DIR2"), "no dircap printed")
    });
    cli.step("ls", &[&"ls", &"tahoe:"], |out| {
        let names: Vec<&str> = out.lines().collect();
        check(
            names.contains(&"d1") && names.contains(&"big.bin"),
            &format!("ls shows {names:?}"),
        )
    });

    cli.step(
        "cp -r (local to grid)",
        &[&"cp", &"-r", &src, &"tahoe:copy"],
        |_| Ok(()),
    );
    // Tahoe's cp copies a source directory *into* the target by name.
    cli.step("ls (after cp)", &[&"ls", &"tahoe:copy/src/sub"], |out| {
        check(
            out.lines().any(|l| l == "b.bin") && out.lines().any(|l| l == "deeper"),
            &format!("copy/sub holds {out:?}"),
        )
    });
    let back = tmp.path().join("back");
    cli.step(
        "cp -r (grid to local)",
        &[&"cp", &"-r", &"tahoe:copy", &back],
        |_| {
            // Where the tree lands follows cp's into-directory rules; find
            // it, then require exactly the source tree with the same bytes.
            let root = ["", "src", "copy", "copy/src"]
                .iter()
                .map(|p| back.join(p))
                .find(|p| p.join("a.txt").is_file())
                .ok_or_else(|| "no a.txt under the copy".to_string())?;
            let (mut want, mut got) = (Vec::new(), Vec::new());
            walk(&src, &src, &mut want);
            walk(&root, &root, &mut got);
            want.sort();
            got.sort();
            check(want == got, &format!("tree {got:?} != {want:?}"))?;
            for p in &want {
                same_file(&src.join(p), &root.join(p))?;
            }
            Ok(())
        },
    );

    let moved = tmp.path().join("moved.bin");
    cli.step(
        "mv",
        &[&"mv", &"tahoe:big.bin", &"tahoe:d1/moved.bin"],
        |_| Ok(()),
    );
    cli.step("ls (after mv)", &[&"ls", &"tahoe:"], |out| {
        check(!out.lines().any(|l| l == "big.bin"), "big.bin still listed")
    });
    cli.step(
        "get (moved)",
        &[&"get", &"tahoe:d1/moved.bin", &moved],
        |_| same_file(&big, &moved),
    );

    let linked = tmp.path().join("linked.bin");
    cli.step(
        "ln",
        &[&"ln", &"tahoe:d1/moved.bin", &"tahoe:linked.bin"],
        |_| Ok(()),
    );
    cli.step(
        "get (linked)",
        &[&"get", &"tahoe:linked.bin", &linked],
        |_| same_file(&big, &linked),
    );
    cli.step("unlink", &[&"unlink", &"tahoe:linked.bin"], |_| Ok(()));
    cli.step("ls (after unlink)", &[&"ls", &"tahoe:"], |out| {
        check(
            !out.lines().any(|l| l == "linked.bin"),
            "linked.bin still listed",
        )
    });

    cli.step("backup", &[&"backup", &src, &"tahoe:bk"], |_| Ok(()));
    let bk = tmp.path().join("bk-b.bin");
    cli.step(
        "get (from backup)",
        &[&"get", &"tahoe:bk/Latest/sub/b.bin", &bk],
        |_| same_file(&src.join("sub/b.bin"), &bk),
    );
    cli.step(
        "ls (backup Archives)",
        &[&"ls", &"tahoe:bk/Archives"],
        |out| check(out.lines().count() == 1, &format!("Archives holds {out:?}")),
    );

    cli.step("manifest", &[&"manifest", &"tahoe:"], |out| {
        let has = |p: &str| out.lines().any(|l| l.split(' ').nth(1) == Some(p));
        check(
            // Tahoe lists a node once (by verify cap): the identical
            // copy/src/sub/b.bin was listed as bk/Latest/sub/b.bin.
            has("d1/moved.bin")
                && has("copy/src/sub/deeper")
                && has("bk/Latest/sub/deeper/c.bin")
                && has("bk/Latest/a.txt"),
            &format!("manifest lacks paths: {out}"),
        )
    });
    cli.step("stats", &[&"stats", &"tahoe:"], |out| {
        check(
            out.contains("count-immutable-files") || out.contains("immutable files"),
            &format!("stats said {out:?}"),
        )
    });
    cli.step("list-aliases", &[&"list-aliases"], |out| {
        check(
            out.contains("tahoe:"),
            &format!("list-aliases said {out:?}"),
        )
    });
    cli.step("check", &[&"check", &"tahoe:d1/moved.bin"], |out| {
        check(out.contains("Healthy"), &format!("check said {out:?}"))
    });
    cli.step(
        "check --verify",
        &[&"check", &"--verify", &"tahoe:copy/src/sub/b.bin"],
        |out| check(out.contains("Healthy"), &format!("check said {out:?}")),
    );
    cli.step("deep-check", &[&"deep-check", &"tahoe:"], |out| {
        check(
            out.contains("objects checked") && out.contains("healthy"),
            &format!("deep-check said {out:?}"),
        )
    });

    let failed: Vec<String> = cli
        .results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("{n}: {e}")))
        .collect();
    eprintln!(
        "tahoe CLI against lafs: {} of {} commands gave correct results",
        cli.results.len() - failed.len(),
        cli.results.len()
    );
    assert!(
        failed.is_empty(),
        "failed tahoe commands:\n{}",
        failed.join("\n")
    );
}
