//! Black-box tests of `lafs debug` on server container files: `dump-share`
//! shows container fields (never lease secrets) and the share inside, and
//! `decode` takes files straight out of a Tahoe storage directory — here
//! the Tahoe 1.2.0 container files from `test_download.py`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use lafs_format::base32;

fn lafs() -> Command {
    Command::cargo_bin("lafs").unwrap()
}

#[test]
fn dump_share_shows_containers_without_secrets() {
    let mut n = 0;
    for (name, kind, version) in [
        ("immutable-v1-chk-3of10-1seg-sh0", "immutable-container", 1),
        ("immutable-v2-chk-3of10-1seg-sh0", "immutable-container", 2),
        ("mutable-v1-sdmf-3of10-sh0", "mutable-container", 1),
        ("mutable-v2-sdmf-3of10-sh0", "mutable-container", 2),
    ] {
        let Some(p) = lafs_testing::vector_path(&format!("extracted/containers/{name}")) else {
            return;
        };
        let out = lafs()
            .args(["debug", "dump-share"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["kind"], kind, "{name}");
        assert_eq!(v["container_version"], version, "{name}");
        assert_eq!(v["leases"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(v["leases"][0]["expiration"], 1702678400, "{name}");
        // The shared lease secrets are bytes 0..32 and 32..64: neither
        // they nor their BLAKE2b hashes may appear in the output.
        let renew: Vec<u8> = (0u8..32).collect();
        assert!(
            !text.contains(&base32::encode(&renew)),
            "{name} leaks a secret"
        );
        assert!(
            !text.contains(&hex::encode(&renew)),
            "{name} leaks a secret"
        );
        if kind == "immutable-container" {
            assert_eq!(v["share"]["kind"], "chk-share-data", "{name}");
        } else {
            assert_eq!(v["share"]["version"], "SDMF", "{name}");
        }
        n += 1;
    }
    lafs_testing::report_family("lafs debug dump-share containers", n);
}

#[test]
fn decode_reads_tahoe_1_2_container_files() {
    let Some(j) = lafs_testing::read_json("extracted/test_download-stored-shares.json") else {
        return;
    };
    let dir = lafs_testing::scratch_dir("containers");
    let mut n = 0;
    for kind in ["immutable", "mutable_sdmf"] {
        let m = &j[kind];
        let sub = dir.join(kind);
        std::fs::create_dir_all(&sub).unwrap();
        let mut files = Vec::new();
        for (_server, shares) in m["share_files_base32"].as_object().unwrap() {
            for (shnum, b32) in shares.as_object().unwrap() {
                let p = sub.join(format!("share.{shnum}"));
                std::fs::write(&p, base32::decode(b32.as_str().unwrap()).unwrap()).unwrap();
                files.push(p);
            }
        }
        files.sort();
        let cap = m["cap"].as_str().unwrap();
        // Any three shares are enough; try the last three.
        let out = lafs()
            .args(["debug", "decode", cap])
            .args(&files[files.len() - 3..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout,
            m["plaintext"].as_str().unwrap().as_bytes(),
            "{kind}"
        );
        n += 1;
    }
    lafs_testing::report_family("lafs debug decode Tahoe 1.2.0 container files", n);
}
