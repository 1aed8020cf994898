//! Black-box tests of `lafs debug` on mutable files: write caps from PEM
//! keys (every SSK case of Tahoe's test_vectors.yaml), decoding the shared
//! SDMF/MDMF share sets, naming a bad share, and dumping share fields.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;

fn lafs() -> Command {
    Command::cargo_bin("lafs").unwrap()
}

#[derive(serde::Deserialize)]
struct Vectors {
    vector: Vec<serde_json::Value>,
}

#[test]
fn cap_from_private_key_matches_every_ssk_vector() {
    let Some(v) =
        lafs_testing::read_yaml::<Vectors>("tahoe-lafs/integration/vectors/test_vectors.yaml")
    else {
        return;
    };
    let dir = lafs_testing::scratch_dir("keys");
    // The cap depends only on the key and format: check each distinct pair
    // through the binary (spawning 240 processes would only repeat them).
    let mut seen = std::collections::BTreeMap::new();
    for case in &v.vector {
        if case["format"]["kind"] != "ssk" {
            continue;
        }
        let key = case["format"]["params"]["key"].as_str().unwrap();
        let format = case["format"]["params"]["format"].as_str().unwrap();
        let expected = case["expected"].as_str().unwrap();
        let prev = seen.insert((key.to_owned(), format.to_owned()), expected.to_owned());
        if let Some(p) = prev {
            assert_eq!(p, expected, "same key and format, different caps");
        }
    }
    assert!(!seen.is_empty());
    for (i, ((key, format), expected)) in seen.iter().enumerate() {
        let pem = dir.join(format!("key{i}.pem"));
        std::fs::write(&pem, key).unwrap();
        let out = lafs()
            .args(["debug", "cap", "--format", format, "--private-key"])
            .arg(&pem)
            .arg("/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), expected);
    }
    lafs_testing::report_family(
        "lafs debug cap sdmf/mdmf (distinct key, format)",
        seen.len(),
    );
}

#[test]
fn decode_mutable_share_sets_and_name_bad_shares() {
    let Some(j) = lafs_testing::read_json("extracted/mutable-sharesets.json") else {
        return;
    };
    let vectors = lafs_testing::vectors_dir();
    let mut n = 0;
    for (kind, m) in [("sdmf", &j["sdmf"]), ("mdmf", &j["mdmf"])] {
        let want = lafs_testing::sample_plaintext(m);
        let share = |i: u32| vectors.join(format!("extracted/{kind}-3of10/share.{i}"));
        for cap in [m["cap"].as_str().unwrap(), m["readcap"].as_str().unwrap()] {
            let out = lafs()
                .args(["debug", "decode", cap])
                .args([share(2), share(5), share(9)])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, want, "{kind} via {cap}");
            n += 1;
        }
        // A corrupted share is named and skipped while k good ones remain.
        let dir = lafs_testing::scratch_dir(kind);
        // Flip a byte of the first block (the encrypted private key is only
        // checked by writers, so corrupting it would go unnoticed here).
        let out = lafs()
            .args(["debug", "dump-share"])
            .arg(share(3))
            .output()
            .unwrap();
        let fields: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let at = fields["offsets"]["share_data"][0].as_u64().unwrap() as usize + 20;
        let mut bad = std::fs::read(share(3)).unwrap();
        bad[at] ^= 0x55;
        let bad_path = dir.join("share.3");
        std::fs::write(&bad_path, &bad).unwrap();
        let cap = m["readcap"].as_str().unwrap();
        let out = lafs()
            .args(["debug", "decode", cap])
            .arg(&bad_path)
            .args([share(0), share(1), share(8)])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, want);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("share.3"), "bad share not named: {err}");
        // With only two good shares left it fails, and prints no plaintext.
        let out = lafs()
            .args(["debug", "decode", cap])
            .arg(&bad_path)
            .args([share(0), share(1)])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        // dump-share names the version and the parameters.
        let out = lafs()
            .args(["debug", "dump-share"])
            .arg(share(0))
            .output()
            .unwrap();
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["kind"], "mutable-share-data");
        assert_eq!(v["version"], kind.to_uppercase());
        assert_eq!(v["k"], 3);
        assert_eq!(v["N"], 10);
    }
    lafs_testing::report_family("lafs debug decode mutable share sets", n);
}
