//! The lafs grid verbs and Python's `tahoe` CLI on one node directory and
//! one grid (ten `lafs run` servers): aliases written by either are read
//! by the other (`list-aliases` prints the same text), directories and
//! files made by `tahoe` are listed, read and extended by `lafs` and the
//! reverse, and `manifest` / `deep-stats` print what Tahoe prints.
//!
//! Needs `scripts/tahoe-venv`; skipped with a message when it cannot be
//! made, unless `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_common;

use client_common::{lafs, ok, start_grid, start_tahoe_client, tahoe, venv};
use std::path::Path;

fn lafs_out(client: &Path, args: &[&str]) -> String {
    String::from_utf8(ok(lafs().arg("-d").arg(client).args(args))).unwrap()
}

fn tahoe_out(v: &Path, client: &Path, args: &[&str]) -> String {
    String::from_utf8(ok(tahoe(v).arg("-d").arg(client).args(args))).unwrap()
}

#[test]
fn lafs_and_tahoe_cli_share_aliases_and_directories() {
    let Some(v) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_servers, yaml) = start_grid(tmp.path(), 10);
    let (_node, c, _port) = start_tahoe_client(&v, tmp.path(), &yaml, 10, (3, 7, 10));

    // Aliases: one made by each side; both list them identically.
    tahoe_out(&v, &c, &["create-alias", "tahoe"]);
    assert_eq!(
        lafs_out(&c, &["create-alias", "mine"]),
        "Alias 'mine' created\n"
    );
    let py = tahoe_out(&v, &c, &["list-aliases"]);
    assert_eq!(lafs_out(&c, &["list-aliases"]), py);
    assert_eq!(py.lines().count(), 2, "{py}");
    let pyj: serde_json::Value =
        serde_json::from_str(&tahoe_out(&v, &c, &["list-aliases", "--json"])).unwrap();
    let lj: serde_json::Value =
        serde_json::from_str(&lafs_out(&c, &["list-aliases", "--json"])).unwrap();
    assert_eq!(pyj, lj);

    // Python makes a tree; lafs reads it and adds to it.
    let f = tmp.path().join("f.txt");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&f, &big).unwrap();
    tahoe_out(&v, &c, &["mkdir", "tahoe:pydir"]);
    tahoe_out(&v, &c, &["put", f.to_str().unwrap(), "tahoe:pydir/f.txt"]);
    tahoe_out(
        &v,
        &c,
        &["put", "--mutable", f.to_str().unwrap(), "tahoe:pydir/m.txt"],
    );
    assert_eq!(
        lafs_out(&c, &["ls", "tahoe:pydir"]),
        tahoe_out(&v, &c, &["ls", "tahoe:pydir"])
    );
    assert_eq!(
        lafs_out(&c, &["ls", "--uri", "tahoe:pydir"]),
        tahoe_out(&v, &c, &["ls", "--uri", "tahoe:pydir"])
    );
    assert!(ok(lafs().arg("-d").arg(&c).args(["get", "tahoe:pydir/f.txt"])) == big);
    assert!(ok(lafs().arg("-d").arg(&c).args(["get", "tahoe:pydir/m.txt"])) == big);
    std::fs::write(&f, b"from lafs").unwrap();
    lafs_out(&c, &["put", f.to_str().unwrap(), "tahoe:pydir/m.txt"]);
    lafs_out(&c, &["put", f.to_str().unwrap(), "tahoe:pydir/g.txt"]);
    lafs_out(&c, &["mkdir", "tahoe:pydir/lafsdir"]);
    lafs_out(&c, &["mv", "tahoe:pydir/f.txt", "mine:moved.txt"]);

    // Python sees lafs's changes.
    assert_eq!(
        tahoe_out(&v, &c, &["ls", "tahoe:pydir"]),
        "g.txt\nlafsdir\nm.txt\n"
    );
    assert_eq!(
        tahoe_out(&v, &c, &["get", "tahoe:pydir/m.txt"]),
        "from lafs"
    );
    assert_eq!(
        tahoe_out(&v, &c, &["get", "tahoe:pydir/g.txt"]),
        "from lafs"
    );
    assert!(ok(tahoe(&v).arg("-d").arg(&c).args(["get", "mine:moved.txt"])) == big);

    // Deep traversals print the same.
    assert_eq!(
        lafs_out(&c, &["manifest", "tahoe:"]),
        tahoe_out(&v, &c, &["manifest", "tahoe:"])
    );
    // Tahoe calls it `stats`; lafs accepts both names.
    assert_eq!(
        lafs_out(&c, &["deep-stats", "tahoe:"]),
        tahoe_out(&v, &c, &["stats", "tahoe:"])
    );
    assert_eq!(
        lafs_out(&c, &["stats", "tahoe:pydir"]),
        tahoe_out(&v, &c, &["stats", "tahoe:pydir"])
    );
}
