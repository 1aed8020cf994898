//! Codec tests: zfec KATs under every kernel, every SIMD kernel against the
//! scalar one (random shapes, odd and unaligned lengths), decode from any
//! k-subset, and error handling.
//!
//! `LAFS_FEC_TEST_KERNELS=scalar` restricts the kernel list (used by the
//! memory-checker step in `scripts/test`, which runs only safe code).

use super::*;
use proptest::prelude::*;

/// The kernels under test: every one this CPU runs, or the comma list in
/// `LAFS_FEC_TEST_KERNELS`.
fn kernels() -> Vec<Kernel> {
    match std::env::var("LAFS_FEC_TEST_KERNELS") {
        Ok(list) => list
            .split(',')
            .map(|n| Kernel::from_name(n).expect("known kernel name"))
            .filter(|k| k.is_available())
            .collect(),
        Err(_) => Kernel::available(),
    }
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next() as u8;
        }
    }
}

#[test]
fn zfec_kat_under_every_kernel() {
    let Some(kat) = lafs_testing::read_json("extracted/zfec-kat.json") else {
        return;
    };
    let cases = kat["cases"].as_array().expect("cases");
    let mut checked = 0;
    for kernel in kernels() {
        for case in cases {
            let k = case["k"].as_u64().expect("k") as usize;
            let n = case["n"].as_u64().expect("n") as usize;
            let bs = case["block_size"].as_u64().expect("bs") as usize;
            let codec = Codec::with_kernel(k, n, kernel).expect("codec");
            assert_eq!(codec.kernel(), kernel);
            let blocks: Vec<Vec<u8>> = (0..k)
                .map(|j| {
                    (0..bs)
                        .map(|i| ((j * 31 + i * 7 + 1) % 256) as u8)
                        .collect()
                })
                .collect();
            let refs: Vec<&[u8]> = blocks.iter().map(|b| b.as_slice()).collect();
            let shares = codec.encode_all(&refs).expect("encode");
            let want: Vec<Vec<u8>> = case["shares_hex"]
                .as_array()
                .expect("shares")
                .iter()
                .map(|h| hex::decode(h.as_str().expect("hex")).expect("hex"))
                .collect();
            assert_eq!(shares, want, "k={k} n={n} kernel={kernel}");
            if let Some(rows) = case["encoding_matrix_hex_rows"].as_array() {
                for (r, h) in rows.iter().enumerate() {
                    let h = hex::decode(h.as_str().expect("hex")).expect("hex");
                    assert_eq!(codec.matrix_row(r), h.as_slice(), "k={k} n={n} row {r}");
                }
            }
            // Decode from k-windows of shares (the last one uses as many
            // secondaries as there are), back to the input.
            for start in [0, (n - k) / 2, n - k] {
                let subset: Vec<(usize, &[u8])> = (start..start + k)
                    .rev()
                    .map(|s| (s, want[s].as_slice()))
                    .collect();
                assert_eq!(codec.decode_all(&subset).expect("decode"), blocks);
            }
            checked += 1;
        }
    }
    lafs_testing::report_family("zfec-kat", checked);
}

/// Encode and decode random shapes with `kernel` and with scalar code, with
/// inputs at every alignment and lengths around the vector widths and the
/// strip size, and require identical bytes.
fn compare_with_scalar(kernel: Kernel, seed: u64, rounds: usize) {
    let mut rng = Rng(seed);
    let lens = [0usize, 1, 2, 15, 16, 17, 31, 33, 63, 64, 65, 127, 200, 1000];
    for round in 0..rounds {
        let n = 1 + rng.below(256);
        let k = 1 + rng.below(n);
        let len = if round % 4 == 3 {
            // Past one strip, with a tail.
            kernel::STRIP + 1 + rng.below(3 * kernel::STRIP)
        } else {
            lens[rng.below(lens.len())]
        };
        // Keep the big-matrix rounds short.
        let len = if k * n > 4000 { len.min(300) } else { len };
        let misalign = rng.below(64);
        let mut backing = vec![0u8; k * (len + 64) + 64];
        rng.fill(&mut backing);
        let inputs: Vec<&[u8]> = (0..k)
            .map(|j| {
                let at = misalign + j * (len + 64) + (j % 3);
                &backing[at..at + len]
            })
            .collect();
        let fast = Codec::with_kernel(k, n, kernel).expect("codec");
        let slow = Codec::with_kernel(k, n, Kernel::Scalar).expect("codec");
        let a = fast.encode_all(&inputs).expect("encode");
        let b = slow.encode_all(&inputs).expect("encode");
        assert_eq!(a, b, "encode k={k} n={n} len={len} kernel={kernel}");
        // Decode from a random k-subset whose blocks sit at odd offsets.
        let mut nums: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + rng.below(n - i);
            nums.swap(i, j);
        }
        let mut shifted: Vec<Vec<u8>> = Vec::new();
        for &s in &nums[..k] {
            let mut v = vec![0u8; len + 1];
            v[1..].copy_from_slice(&a[s]);
            shifted.push(v);
        }
        let subset: Vec<(usize, &[u8])> = nums[..k]
            .iter()
            .zip(&shifted)
            .map(|(&s, v)| (s, &v[1..]))
            .collect();
        let da = fast.decode_all(&subset).expect("decode");
        let db = slow.decode_all(&subset).expect("decode");
        assert_eq!(da, db, "decode k={k} n={n} len={len} kernel={kernel}");
        let want: Vec<Vec<u8>> = inputs.iter().map(|b| b.to_vec()).collect();
        assert_eq!(da, want, "decode k={k} n={n} len={len} kernel={kernel}");
    }
}

#[test]
fn every_kernel_matches_scalar() {
    for (i, kernel) in kernels().into_iter().enumerate() {
        if kernel != Kernel::Scalar {
            compare_with_scalar(kernel, 0x5eed_0000 + i as u64, 40);
        }
    }
}

#[test]
fn every_kernel_matches_scalar_on_common_shapes() {
    // Tahoe's default 3-of-10 and the widest codes, at lengths that end in
    // every possible tail.
    for kernel in kernels() {
        for (k, n) in [(3, 10), (1, 2), (2, 3), (101, 256), (256, 256), (255, 256)] {
            let fast = Codec::with_kernel(k, n, kernel).expect("codec");
            let slow = Codec::with_kernel(k, n, Kernel::Scalar).expect("codec");
            let mut rng = Rng(k as u64 * 1000 + n as u64);
            for len in [0, 1, 65, 64 * 3 + 63, 130] {
                let mut data = vec![0u8; k * len + 1];
                rng.fill(&mut data);
                let inputs: Vec<&[u8]> = (0..k).map(|j| &data[1 + j * len..][..len]).collect();
                let a = fast.encode_all(&inputs).expect("encode");
                assert_eq!(a, slow.encode_all(&inputs).expect("encode"));
                // Worst case: as few primary shares as possible.
                let subset: Vec<(usize, &[u8])> =
                    (n - k..n).map(|s| (s, a[s].as_slice())).collect();
                let d = fast.decode_all(&subset).expect("decode");
                assert_eq!(d, slow.decode_all(&subset).expect("decode"));
                assert!(d.iter().zip(&inputs).all(|(x, y)| x == y));
            }
        }
    }
}

#[test]
fn scalar_matches_field_definition() {
    // The scalar kernel against Σ gf_mul, straight from spec §3.
    let codec = Codec::with_kernel(4, 9, Kernel::Scalar).expect("codec");
    let mut rng = Rng(7);
    let mut data = vec![0u8; 4 * 37];
    rng.fill(&mut data);
    let inputs: Vec<&[u8]> = data.chunks(37).collect();
    let shares = codec.encode_all(&inputs).expect("encode");
    for (r, share) in shares.iter().enumerate() {
        for (i, &byte) in share.iter().enumerate() {
            let want = (0..4).fold(0u8, |acc, j| {
                acc ^ gf_mul(codec.matrix_row(r)[j], inputs[j][i])
            });
            assert_eq!(byte, want);
        }
    }
}

#[test]
fn encode_shares_matches_encode_all() {
    for kernel in kernels() {
        let codec = Codec::with_kernel(5, 12, kernel).expect("codec");
        let mut data = vec![0u8; 5 * 100];
        Rng(3).fill(&mut data);
        let inputs: Vec<&[u8]> = data.chunks(100).collect();
        let all = codec.encode_all(&inputs).expect("encode");
        let want = [11usize, 0, 7, 4, 5];
        let mut bufs = vec![AlignedBuf::new(100); want.len()];
        let mut outs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
        codec.encode_shares(&inputs, &want, &mut outs).expect("ok");
        for (s, b) in want.iter().zip(&bufs) {
            assert_eq!(&all[*s][..], &b[..]);
        }
        assert_eq!(
            codec.encode_shares(&inputs, &[12], &mut [&mut [0u8; 100][..]]),
            Err(FecError::BadShareNum(12))
        );
    }
}

#[test]
fn rejects_bad_shapes_without_panicking() {
    assert!(Codec::new(0, 1).is_err());
    assert!(Codec::new(3, 2).is_err());
    assert!(Codec::new(1, 257).is_err());
    let c = Codec::new(2, 4).expect("codec");
    let a = [1u8, 2, 3];
    let b = [4u8, 5];
    assert_eq!(
        c.encode(&[&a, &b], &mut [&mut [0; 3], &mut [0; 3]]),
        Err(FecError::UnequalLengths)
    );
    assert!(matches!(
        c.encode(&[&a], &mut []),
        Err(FecError::WrongBlockCount { .. })
    ));
    let s = [0u8; 3];
    let mut o1 = [0u8; 3];
    let mut o2 = [0u8; 3];
    assert_eq!(
        c.decode(&[(1, &s), (1, &s)], &mut [&mut o1, &mut o2]),
        Err(FecError::DuplicateShare(1))
    );
    assert_eq!(
        c.decode(&[(1, &s), (4, &s)], &mut [&mut o1, &mut o2]),
        Err(FecError::BadShareNum(4))
    );
    assert_eq!(
        c.decode(&[(1, &s), (2, &s[..2])], &mut [&mut o1, &mut o2]),
        Err(FecError::UnequalLengths)
    );
    assert!(c.decode_all(&[]).is_err());
    assert_eq!(c.matrix_row(4), &[] as &[u8]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Decoding from any k-subset, in any order, gives back the input.
    #[test]
    fn decode_any_subset_round_trips(
        n in 1usize..=40,
        k_seed in any::<usize>(),
        len in 0usize..300,
        seed in any::<u64>(),
        pick in proptest::collection::vec(any::<usize>(), 40),
    ) {
        let k = 1 + k_seed % n;
        let mut rng = Rng(seed | 1);
        let mut data = vec![0u8; k * len];
        rng.fill(&mut data);
        let inputs: Vec<&[u8]> = (0..k).map(|j| &data[j * len..(j + 1) * len]).collect();
        let codec = Codec::cached(k, n).expect("codec");
        let shares = codec.encode_all(&inputs).expect("encode");
        let mut nums: Vec<usize> = (0..n).collect();
        for (i, p) in pick.iter().enumerate().take(k) {
            let j = i + p % (n - i);
            nums.swap(i, j);
        }
        let subset: Vec<(usize, &[u8])> =
            nums[..k].iter().map(|&s| (s, shares[s].as_slice())).collect();
        let out = codec.decode_all(&subset).expect("decode");
        for (o, i) in out.iter().zip(&inputs) {
            prop_assert_eq!(o.as_slice(), *i);
        }
    }
}

/// Small enough for Miri (`scripts/test` runs the `miri_` tests under it):
/// encode and decode a few shapes at odd offsets and lengths, with every
/// kernel available (under Miri that is scalar unless target features are
/// enabled at compile time), against the field definition.
#[test]
fn miri_small_shapes() {
    for kernel in kernels() {
        for (k, n, len) in [(1, 1, 3), (2, 3, 0), (3, 10, 1), (3, 10, 70), (5, 7, 37)] {
            let codec = Codec::with_kernel(k, n, kernel).expect("codec");
            let mut data = vec![0u8; k * len + 1];
            Rng(len as u64 + 1).fill(&mut data);
            let inputs: Vec<&[u8]> = (0..k).map(|j| &data[1 + j * len..][..len]).collect();
            let shares = codec.encode_all(&inputs).expect("encode");
            for (r, share) in shares.iter().enumerate() {
                for (i, &byte) in share.iter().enumerate() {
                    let want = (0..k).fold(0u8, |acc, j| {
                        acc ^ gf_mul(codec.matrix_row(r)[j], inputs[j][i])
                    });
                    assert_eq!(byte, want);
                }
            }
            let subset: Vec<(usize, &[u8])> = (n - k..n).map(|s| (s, &shares[s][..])).collect();
            let out = codec.decode_all(&subset).expect("decode");
            assert!(out.iter().zip(&inputs).all(|(o, i)| o == i));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any parameters, share numbers, lengths and output shapes give a
    /// result or an error, never a panic (the fuzz target `fec` goes wider).
    #[test]
    fn decode_never_panics(
        k in 0usize..12,
        n in 0usize..14,
        shares in proptest::collection::vec((0usize..20, proptest::collection::vec(any::<u8>(), 0..8)), 0..14),
        out_lens in proptest::collection::vec(0usize..8, 0..14),
    ) {
        if let Ok(codec) = Codec::new(k, n) {
            let shares: Vec<(usize, &[u8])> = shares.iter().map(|(s, b)| (*s, b.as_slice())).collect();
            let _ = codec.decode_all(&shares);
            let mut bufs: Vec<Vec<u8>> = out_lens.iter().map(|&l| vec![0u8; l]).collect();
            let mut outs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
            let _ = codec.decode(&shares, &mut outs);
            let blocks: Vec<&[u8]> = shares.iter().map(|s| s.1).take(k).collect();
            let _ = codec.encode(&blocks, &mut outs);
        }
    }
}
