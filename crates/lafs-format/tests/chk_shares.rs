//! CHK share data against the vectors (spec §4.4, §11.3) and properties:
//! byte-identical share sets from the real 1.20 encoder, the Tahoe 1.2.0
//! shares from `test_download.py`, layout v2, corruption detection, and
//! never-panicking readers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::base32;
use lafs_format::cap::{Cap, ChkReadCap, FileCap};
use lafs_format::chk::{
    decode, encode_cap, encode_shares, verify_share, verify_share_trees, ChkShare, DecodeError,
    EncodingParams, LayoutVersion, ShareError, ShareHeader,
};
use lafs_format::keys::ConvergenceSecret;
use proptest::prelude::*;

fn chk_cap(s: &str) -> ChkReadCap {
    match Cap::parse(s).unwrap() {
        Cap::File(FileCap::ChkRead(c)) => c,
        other => panic!("not a CHK read cap: {other:?}"),
    }
}

fn decode_all(cap: &ChkReadCap, shares: &[Vec<u8>]) -> Vec<u8> {
    let list: Vec<(u16, &[u8])> = shares
        .iter()
        .enumerate()
        .map(|(i, s)| (i as u16, s.as_slice()))
        .collect();
    let d = decode(cap, &list).unwrap();
    assert!(d.bad_shares.is_empty(), "{:?}", d.bad_shares);
    d.plaintext
}

#[test]
fn chk_sharesets_byte_identical_and_decode() {
    let Some(j) = lafs_testing::read_json("extracted/chk-sharesets.json") else {
        return;
    };
    let mut sets = 0;
    let mut shares_checked = 0;
    for (name, m) in j.as_object().unwrap() {
        let seed = m["plaintext"]["seed"].as_str().unwrap().as_bytes();
        let len = m["plaintext"]["length"].as_u64().unwrap() as usize;
        let data: Vec<u8> = seed.iter().copied().cycle().take(len).collect();
        let (k, n) = (
            m["k"].as_u64().unwrap() as u16,
            m["N"].as_u64().unwrap() as u16,
        );
        let params = EncodingParams {
            needed: k,
            happy: 1,
            total: n,
            max_segment_size: m["max_segment_size"].as_u64().unwrap(),
        };
        let secret = ConvergenceSecret::new(
            m["convergence_secret"]
                .as_str()
                .unwrap()
                .as_bytes()
                .to_vec(),
        );
        let (file, shares) = encode_shares(&data, &secret, &params, None).unwrap();
        assert_eq!(file.cap.to_string(), m["cap"].as_str().unwrap(), "{name}");
        assert_eq!(
            file.cap.verifier().to_string(),
            m["verifycap"].as_str().unwrap()
        );
        assert_eq!(
            file.cap.storage_index().to_base32(),
            m["storage_index_b32"].as_str().unwrap()
        );
        let mut stored = Vec::new();
        for (shnum, ours) in shares.iter().enumerate() {
            let want =
                lafs_testing::read_vector(&format!("extracted/{name}/share.{shnum}")).unwrap();
            assert!(ours == &want, "{name} share {shnum} differs");
            stored.push(want);
            shares_checked += 1;
        }
        // Decode the stored shares: all of them, and only the last k.
        assert_eq!(decode_all(&file.cap, &stored), data);
        let last: Vec<(u16, &[u8])> = (n - k..n)
            .map(|i| (i, stored[i as usize].as_slice()))
            .collect();
        assert_eq!(decode(&file.cap, &last).unwrap().plaintext, data);
        // Every share number can be recovered from the chain.
        for (i, s) in stored.iter().enumerate() {
            assert_eq!(ChkShare::parse(s).unwrap().infer_shnum(n), Some(i as u16));
        }
        sets += 1;
    }
    assert_eq!(sets, 4);
    lafs_testing::report_family("chk-sharesets (byte-identical shares)", shares_checked);
    lafs_testing::report_family("chk-sharesets (sets encoded+decoded)", sets);
}

#[test]
fn tahoe_1_2_shares_decode() {
    let Some(j) = lafs_testing::read_json("extracted/test_download-stored-shares.json") else {
        return;
    };
    let im = &j["immutable"];
    let cap = chk_cap(im["cap"].as_str().unwrap());
    let plaintext = im["plaintext"].as_str().unwrap().as_bytes();
    let mut datas: Vec<(u16, Vec<u8>)> = Vec::new();
    for (_server, shares) in im["share_files_base32"].as_object().unwrap() {
        for (shnum, b32) in shares.as_object().unwrap() {
            let file = base32::decode(b32.as_str().unwrap()).unwrap();
            // v1 container (spec §7.2): 12-byte header, leases at the end.
            let leases = u32::from_be_bytes(file[8..12].try_into().unwrap()) as usize;
            let data = file[12..file.len() - 72 * leases].to_vec();
            datas.push((shnum.parse().unwrap(), data));
        }
    }
    assert_eq!(datas.len(), 10);
    for (shnum, d) in &datas {
        let s = ChkShare::parse(d).unwrap();
        // The 1000-byte UEB reservation leaves trailing zeros.
        assert!(!s.trailing.is_empty() && s.trailing.iter().all(|&b| b == 0));
        verify_share(&cap.verifier(), *shnum, d).unwrap();
    }
    let list: Vec<(u16, &[u8])> = datas.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    let out = decode(&cap, &list).unwrap();
    assert_eq!(out.plaintext, plaintext);
    lafs_testing::report_family("test_download 1.2.0 immutable shares", datas.len());
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn params(k: u16, n: u16, seg: u64) -> EncodingParams {
    EncodingParams {
        needed: k,
        happy: 1,
        total: n,
        max_segment_size: seg,
    }
}

#[test]
fn layout_v2_round_trip() {
    let data = sample(5000);
    let secret = ConvergenceSecret::new(b"v2".to_vec());
    let p = params(3, 7, 1000);
    let (f1, s1) = encode_shares(&data, &secret, &p, Some(LayoutVersion::V1)).unwrap();
    let (f2, s2) = encode_shares(&data, &secret, &p, Some(LayoutVersion::V2)).unwrap();
    // The layout does not enter the cap.
    assert_eq!(f1.cap, f2.cap);
    for (a, b) in s1.iter().zip(&s2) {
        let h = ShareHeader::parse(b).unwrap();
        assert_eq!(h.version, LayoutVersion::V2);
        assert_eq!(h.offsets.data, 0x44);
        assert_eq!(b.len(), a.len() + 0x20 + 4);
        // Same sections, wider fields.
        let (pa, pb) = (ChkShare::parse(a).unwrap(), ChkShare::parse(b).unwrap());
        assert_eq!(pa.data, pb.data);
        assert_eq!(pa.block_hash_tree, pb.block_hash_tree);
        assert_eq!(pa.share_hashes, pb.share_hashes);
        assert_eq!(pa.ueb, pb.ueb);
        assert_eq!(h.allocated_size(pb.ueb.len()), b.len() as u64);
    }
    assert_eq!(decode_all(&f2.cap, &s2), data);
}

#[test]
fn every_corrupted_byte_is_detected() {
    let data = sample(1000);
    let secret = ConvergenceSecret::new(b"c".to_vec());
    let (file, shares) = encode_shares(&data, &secret, &params(3, 5, 300), None).unwrap();
    let v = file.cap.verifier();
    let share = &shares[1];
    let p = ChkShare::parse(share).unwrap();
    let o = p.header.offsets;
    let mut flipped = 0;
    for pos in 0..share.len() as u64 {
        // The header's informational fields and the unused plaintext-tree
        // area are not covered by any hash (as in Tahoe).
        if pos < o.data || (o.plaintext_hash_tree..o.crypttext_hash_tree).contains(&pos) {
            continue;
        }
        let mut bad = share.clone();
        bad[pos as usize] ^= 0x01;
        assert!(
            verify_share(&v, 1, &bad).is_err(),
            "flip at {pos} undetected"
        );
        flipped += 1;
    }
    assert!(flipped > 900);
    // Wrong share number, and decode names the bad share and carries on.
    assert!(matches!(
        verify_share(&v, 2, share),
        Err(ShareError::ShareChain(_))
    ));
    let mut bad = shares[0].clone();
    bad[0x24 + 5] ^= 0xff;
    let list: Vec<(u16, &[u8])> =
        vec![(0, &bad), (1, &shares[1]), (3, &shares[3]), (4, &shares[4])];
    let d = decode(&file.cap, &list).unwrap();
    assert_eq!(d.plaintext, data);
    assert_eq!(d.bad_shares.len(), 1);
    assert_eq!(d.bad_shares[0].shnum, 0);
    assert!(matches!(
        d.bad_shares[0].error,
        ShareError::Block { segment: 0 }
    ));
    // With only two good shares left, decoding fails and says why.
    match decode(&file.cap, &list[..3]) {
        Err(DecodeError::NotEnoughShares {
            good: 2,
            needed: 3,
            bad,
        }) => assert_eq!(bad.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn lit_threshold() {
    let secret = ConvergenceSecret::new(vec![]);
    let p = EncodingParams::default();
    assert_eq!(
        encode_cap(b"", &secret, &p).unwrap().to_string(),
        "URI:LIT:"
    );
    assert!(matches!(
        encode_cap(&[7; 55], &secret, &p).unwrap(),
        FileCap::Lit(_)
    ));
    assert!(matches!(
        encode_cap(&[7; 56], &secret, &p).unwrap(),
        FileCap::ChkRead(_)
    ));
    assert!(encode_shares(b"", &secret, &p, None).is_err());
}

fn interesting_size() -> impl Strategy<Value = (usize, u64)> {
    (1u64..400).prop_flat_map(|seg| {
        let s = seg as usize;
        (
            prop_oneof![
                Just(0usize),
                Just(1),
                Just(55),
                Just(56),
                Just(s.saturating_sub(1)),
                Just(s),
                Just(s + 1),
                Just(3 * s + 5),
                0usize..3000,
            ],
            Just(seg),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn encode_decode_round_trip((len, seg) in interesting_size(), n in 1u16..20, kf in 0.0f64..1.0,
                                pick in any::<u64>(), v2 in any::<bool>()) {
        let k = ((kf * n as f64) as u16).clamp(1, n);
        let data = sample(len);
        let secret = ConvergenceSecret::new(b"prop".to_vec());
        let p = params(k, n, seg);
        if len == 0 {
            prop_assert!(encode_shares(&data, &secret, &p, None).is_err());
            return Ok(());
        }
        let version = v2.then_some(LayoutVersion::V2);
        let (file, shares) = encode_shares(&data, &secret, &p, version).unwrap();
        if len > 55 {
            prop_assert_eq!(encode_cap(&data, &secret, &p).unwrap(), FileCap::ChkRead(file.cap.clone()));
        }
        // Any k shares, chosen pseudo-randomly.
        let mut idx: Vec<u16> = (0..n).collect();
        let mut x = pick;
        for i in (1..idx.len()).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            idx.swap(i, (x >> 33) as usize % (i + 1));
        }
        let list: Vec<(u16, &[u8])> = idx[..k as usize].iter().map(|&i| (i, shares[i as usize].as_slice())).collect();
        let d = decode(&file.cap, &list).unwrap();
        prop_assert_eq!(d.plaintext, data);
    }

    #[test]
    fn share_reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400), shnum in 0u16..12) {
        let _ = ChkShare::parse(&data);
        let _ = ShareHeader::parse(&data);
        let cap = chk_cap("URI:CHK:lm2lije2iii3xi4nhiadnz4tpu:doc7ml5fvipuhmhoqkn33edag27z3waqclzxpbhpnxom6wjsagka:3:10:1000");
        let _ = verify_share(&cap.verifier(), shnum, &data);
    }

    #[test]
    fn mutated_share_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
                                  cut in any::<usize>()) {
        let data = sample(700);
        let secret = ConvergenceSecret::new(b"m".to_vec());
        let (file, shares) = encode_shares(&data, &secret, &params(2, 4, 128), None).unwrap();
        let mut s = shares[0].clone();
        for (pos, x) in flips {
            let l = s.len();
            s[pos % l] ^= x | 1;
        }
        s.truncate(cut % (s.len() + 1));
        let _ = ChkShare::parse(&s).map(|p| p.infer_shnum(4));
        prop_assert!(verify_share(&file.cap.verifier(), 0, &s).is_err() || s == shares[0]);
    }
}

/// Verification from the parts (header, then the trees, then each block by
/// its hash), as the streaming verifier does it: `Ok` exactly when
/// `verify_share` is.
fn verify_by_parts(v: &lafs_format::cap::ChkVerifyCap, shnum: u16, share: &[u8]) -> bool {
    let Ok(h) = ShareHeader::parse(share) else {
        return false;
    };
    let o = h.offsets;
    let Some(tail) = share.get(o.plaintext_hash_tree as usize..) else {
        return false;
    };
    let Ok(parts) = ChkShare::parse_parts(h, tail) else {
        return false;
    };
    let Ok(t) = verify_share_trees(v, shnum, &parts) else {
        return false;
    };
    let g = t.geometry;
    (0..g.num_segments).all(|s| {
        let at = (o.data + s * g.block_size) as usize;
        share
            .get(at..at + g.block_len(s) as usize)
            .is_some_and(|b| lafs_format::hash::block_hash(b) == t.block_hashes[s as usize])
    })
}

#[test]
fn verifying_by_parts_agrees_with_whole_share_verification() {
    let data = sample(1000);
    let secret = ConvergenceSecret::new(b"c".to_vec());
    let (file, shares) = encode_shares(&data, &secret, &params(3, 5, 300), None).unwrap();
    let v = file.cap.verifier();
    for (i, share) in shares.iter().enumerate() {
        assert!(verify_by_parts(&v, i as u16, share), "share {i}");
        assert!(!verify_by_parts(&v, (i as u16 + 1) % 5, share));
        for pos in 0..share.len() {
            let mut bad = share.clone();
            bad[pos] ^= 0x01;
            assert_eq!(
                verify_by_parts(&v, i as u16, &bad),
                verify_share(&v, i as u16, &bad).is_ok(),
                "share {i}, flip at {pos}"
            );
        }
    }
}

proptest! {
    #[test]
    fn parts_reader_never_panics(head in proptest::collection::vec(any::<u8>(), 0..120),
                                 tail in proptest::collection::vec(any::<u8>(), 0..400),
                                 shnum in 0u16..12) {
        let cap = chk_cap("URI:CHK:lm2lije2iii3xi4nhiadnz4tpu:doc7ml5fvipuhmhoqkn33edag27z3waqclzxpbhpnxom6wjsagka:3:10:1000");
        if let Ok(h) = ShareHeader::parse(&head) {
            if let Ok(p) = ChkShare::parse_parts(h, &tail) {
                let _ = verify_share_trees(&cap.verifier(), shnum, &p);
            }
        }
    }
}

#[test]
fn streaming_encoder_contract() {
    use lafs_format::chk::encode::{convergent_geometry, EncodeError};
    use lafs_format::chk::ChkEncoder;
    let data = sample(1000);
    let secret = ConvergenceSecret::new(b"s".to_vec());
    let p = params(3, 5, 300);
    let (g, key) = convergent_geometry(&data, &secret, &p).unwrap();
    assert_eq!((g.segment_size, g.num_segments, g.tail_size), (300, 4, 100));
    let mut enc = ChkEncoder::new(g, key.clone()).unwrap();
    assert!(matches!(
        enc.push_segment(&data[..299]),
        Err(EncodeError::SegmentLength {
            segment: 0,
            expected: 300,
            got: 299
        })
    ));
    let mut blocks0 = Vec::new();
    let mut off = 0;
    while let Some(len) = enc.next_segment_len() {
        let blocks = enc.push_segment(&data[off..off + len as usize]).unwrap();
        assert_eq!(blocks.len(), 5);
        blocks0.extend_from_slice(&blocks[0]);
        off += len as usize;
    }
    assert!(enc.push_segment(&[]).is_err());
    let file = enc.finish().unwrap();
    let (file2, shares) = encode_shares(&data, &secret, &p, None).unwrap();
    assert_eq!(file.cap, file2.cap);
    // Share 0's blocks are the share's data area.
    let s0 = ChkShare::parse(&shares[0]).unwrap();
    assert_eq!(s0.data, blocks0.as_slice());
    // Finishing early is refused.
    let enc = ChkEncoder::new(g, key).unwrap();
    assert!(matches!(
        enc.finish(),
        Err(EncodeError::SegmentCount {
            pushed: 0,
            expected: 4
        })
    ));
}

#[test]
fn v2_chosen_when_share_exceeds_4_gib() {
    use lafs_format::chk::{Geometry, LayoutError};
    // 13 GiB at 3-of-10: each share holds ~4.33 GiB of blocks.
    let g = Geometry::new(13 << 30, 3, 10, 1 << 20).unwrap();
    assert!(g.share_size >= 1 << 32);
    assert_eq!(
        ShareHeader::for_share(&g, None).unwrap().version,
        LayoutVersion::V2
    );
    assert_eq!(
        ShareHeader::for_share(&g, Some(LayoutVersion::V1)),
        Err(LayoutError::TooLargeForV1)
    );
    let small = Geometry::new(1000, 3, 10, 1 << 20).unwrap();
    let h = ShareHeader::for_share(&small, None).unwrap();
    assert_eq!(h.version, LayoutVersion::V1);
    // Header bytes parse back.
    assert_eq!(ShareHeader::parse(&h.to_bytes()).unwrap(), h);
    let h2 = ShareHeader::for_share(&g, None).unwrap();
    assert_eq!(ShareHeader::parse(&h2.to_bytes()).unwrap(), h2);
}
