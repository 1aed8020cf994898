//! Black-box tests of `lafs debug`: the exact command lines the acceptance
//! checks use, against the shared CHK share sets (spec §11.3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

const CONV: &str = "YWFhYWFhYWFhYWFhYWFhYQ=="; // "aaaaaaaaaaaaaaaa"

fn lafs() -> Command {
    Command::cargo_bin("lafs").unwrap()
}

fn encoding_args(m: &serde_json::Value) -> Vec<String> {
    vec![
        "--convergence".into(),
        CONV.into(),
        "--needed".into(),
        m["k"].to_string(),
        "--total".into(),
        m["N"].to_string(),
        "--max-segment-size".into(),
        m["max_segment_size"].to_string(),
    ]
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn cap_and_chk_shares_match_share_sets() {
    let Some(j) = lafs_testing::read_json("extracted/chk-sharesets.json") else {
        return;
    };
    let mut n = 0;
    for (name, m) in j.as_object().unwrap() {
        assert_eq!(m["convergence_secret"], "aaaaaaaaaaaaaaaa");
        let dir = lafs_testing::scratch_dir(name);
        let file = dir.join("plain");
        std::fs::write(&file, lafs_testing::sample_plaintext(m)).unwrap();
        let cap = m["cap"].as_str().unwrap();

        let out = lafs()
            .args(["debug", "cap", "--format", "chk"])
            .args(encoding_args(m))
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(stdout(&out).trim(), cap);

        // stdin works too.
        let out = lafs()
            .args(["debug", "cap", "--format", "chk"])
            .args(encoding_args(m))
            .arg("-")
            .write_stdin(lafs_testing::sample_plaintext(m))
            .output()
            .unwrap();
        assert_eq!(stdout(&out).trim(), cap);

        let sh = dir.join("shares");
        let out = lafs()
            .args(["debug", "chk-shares"])
            .args(encoding_args(m))
            .arg("--out")
            .arg(&sh)
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(stdout(&out).lines().last().unwrap(), cap);
        let total = m["N"].as_u64().unwrap();
        for i in 0..total {
            let ours = std::fs::read(sh.join(format!("share.{i}"))).unwrap();
            let want = lafs_testing::read_vector(&format!("extracted/{name}/share.{i}")).unwrap();
            assert!(ours == want, "{name} share.{i} differs");
        }
        let _ = std::fs::remove_dir_all(&dir);
        n += 1;
    }
    lafs_testing::report_family("lafs debug chk-shares vs chk-sharesets", n);
}

fn share_paths(name: &str, shnums: &[usize]) -> Vec<PathBuf> {
    let base = lafs_testing::vector_path(&format!("extracted/{name}")).unwrap();
    shnums
        .iter()
        .map(|i| base.join(format!("share.{i}")))
        .collect()
}

#[test]
fn decode_verifies_and_names_bad_shares() {
    let Some(j) = lafs_testing::read_json("extracted/chk-sharesets.json") else {
        return;
    };
    let m = &j["chk-3of10-3seg"];
    let cap = m["cap"].as_str().unwrap();
    let data = lafs_testing::sample_plaintext(m);

    // Any k good shares decode.
    let out = lafs()
        .args(["debug", "decode", cap])
        .args(share_paths("chk-3of10-3seg", &[9, 4, 7]))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout == data);

    // Corrupt a copy of share 4 (a byte in its second block).
    let dir = lafs_testing::scratch_dir("decode");
    let mut bad = std::fs::read(&share_paths("chk-3of10-3seg", &[4])[0]).unwrap();
    bad[0x24 + 43691 + 10] ^= 0x40;
    let bad_path = dir.join("share.4");
    std::fs::write(&bad_path, &bad).unwrap();

    let mut args = share_paths("chk-3of10-3seg", &[9, 7]);
    args.push(bad_path.clone());
    let out = lafs()
        .args(["debug", "decode", cap])
        .args(&args)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("share.4") && err.contains("block 1"), "{err}");

    // …and still succeeds with k good ones besides it.
    args.push(share_paths("chk-3of10-3seg", &[0])[0].clone());
    let out = lafs()
        .args(["debug", "decode", cap])
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout == data);
    assert!(String::from_utf8_lossy(&out.stderr).contains("share.4"));

    // Share numbers are inferred when the name carries none.
    let anon = dir.join("anonymous");
    std::fs::copy(&share_paths("chk-3of10-3seg", &[2])[0], &anon).unwrap();
    let mut args = share_paths("chk-3of10-3seg", &[5, 6]);
    args.push(anon);
    let out = lafs()
        .args(["debug", "decode", cap])
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(&dir);

    // CHK share files given to a mutable cap: every share is rejected,
    // and the command fails with no output.
    let out = lafs()
        .args(["debug", "decode", "URI:SSK:5mcjppxck7re2kzdol7b5ojmgi:jwjbsudn4z452bo2eqbjdzrvo2f72tav3xyb2llfnfjjsopczi5q"])
        .arg(&share_paths("chk-3of10-3seg", &[0])[0])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("share.0"));
}

#[test]
fn dump_share_prints_json() {
    let Some(p) = lafs_testing::vector_path("extracted/chk-3of20-1seg/share.5") else {
        return;
    };
    let out = lafs()
        .args(["debug", "dump-share"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "chk-share-data");
    assert_eq!(v["layout_version"], 1);
    assert_eq!(v["header"]["offsets"]["data"], 0x24);
    assert_eq!(v["inferred_shnum"], 5);
    assert_eq!(v["ueb"]["fields"]["codec_params"], "1002-3-20");
    assert_eq!(v["ueb"]["fields"]["size"], 1000);
    assert_eq!(v["share_hashes"].as_array().unwrap().len(), 6);
    // Not a share: a clear error.
    let out = lafs()
        .args(["debug", "dump-share"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn small_files_are_lit_and_missing_keys_are_clear_errors() {
    let out = lafs()
        .args([
            "debug",
            "cap",
            "--format",
            "chk",
            "--convergence",
            CONV,
            "-",
        ])
        .write_stdin("hello")
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "URI:LIT:nbswy3dp");
    let out = lafs()
        .args([
            "debug",
            "cap",
            "--format",
            "sdmf",
            "--private-key",
            "k.pem",
            "-",
        ])
        .write_stdin("x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("k.pem"));
}
