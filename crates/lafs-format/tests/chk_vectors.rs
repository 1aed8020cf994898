//! The 120 CHK cases of `test_vectors.yaml` (spec §11.1): the full
//! pipeline (convergent key, AES, zfec, trees, UEB) must give the cap a
//! real Tahoe node printed. Split by (k, N) so nextest runs the heavy
//! groups in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::chk::{encode_cap, EncodingParams};
use lafs_format::keys::ConvergenceSecret;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    vector: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    convergence: String,
    expected: String,
    format: Format,
    sample: Sample,
    zfec: Zfec,
}

#[derive(Deserialize)]
struct Format {
    kind: String,
}

#[derive(Deserialize)]
struct Sample {
    seed: String,
    length: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Zfec {
    required: u16,
    total: u16,
    segment_size: u64,
}

fn expand(seed: &[u8], length: usize) -> Vec<u8> {
    seed.iter().copied().cycle().take(length).collect()
}

/// Check every CHK case with this (k, N), optionally only the small files.
fn run(k: u16, n: u16, part: &str, sizes: impl Fn(usize) -> bool) {
    let Some(v) =
        lafs_testing::read_yaml::<Vectors>("tahoe-lafs/integration/vectors/test_vectors.yaml")
    else {
        return;
    };
    let mut count = 0;
    for c in v.vector.iter().filter(|c| c.format.kind == "chk") {
        if (c.zfec.required, c.zfec.total) != (k, n) || !sizes(c.sample.length) {
            continue;
        }
        let data = expand(&lafs_testing::b64(&c.sample.seed), c.sample.length);
        let params = EncodingParams {
            needed: k,
            happy: 1,
            total: n,
            max_segment_size: c.zfec.segment_size,
        };
        let secret = ConvergenceSecret::new(lafs_testing::b64(&c.convergence));
        let cap = encode_cap(&data, &secret, &params).unwrap();
        assert_eq!(
            cap.to_string(),
            c.expected,
            "k={k} N={n} len={}",
            c.sample.length
        );
        count += 1;
    }
    assert!(count > 0);
    lafs_testing::report_family(
        &format!("test_vectors.yaml CHK caps k={k} N={n}{part}"),
        count,
    );
    eprintln!("checked {count} CHK cases for k={k} N={n}");
}

const BIG: usize = 4 << 20;

#[test]
fn chk_1_of_1() {
    run(1, 1, "", |_| true);
}
#[test]
fn chk_1_of_3() {
    run(1, 3, "", |_| true);
}
#[test]
fn chk_2_of_3() {
    run(2, 3, "", |_| true);
}
#[test]
fn chk_3_of_10() {
    run(3, 10, "", |_| true);
}
#[test]
fn chk_71_of_255_small() {
    run(71, 255, " (< 4 MiB)", |l| l < BIG);
}
#[test]
fn chk_71_of_255_large() {
    run(71, 255, " (>= 4 MiB)", |l| l >= BIG);
}
#[test]
fn chk_101_of_256_small() {
    run(101, 256, " (< 4 MiB)", |l| l < BIG);
}
#[test]
fn chk_101_of_256_large() {
    run(101, 256, " (>= 4 MiB)", |l| l >= BIG);
}
