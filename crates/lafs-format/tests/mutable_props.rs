//! Property tests for mutable shares: round trips and never-panic parsing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::mutable::rsa::PrivateKey;
use lafs_format::mutable::{
    publish, retrieve, KeyChain, MutableShare, PublishParams, ShareHeader, Version,
};
use proptest::prelude::*;
use std::sync::OnceLock;

/// One key for the whole file: RSA key generation is far too slow to do
/// per case.
fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate().unwrap())
}

fn salts(seed: u64) -> impl FnMut() -> [u8; 16] {
    let mut i = seed;
    move || {
        i = i.wrapping_add(1);
        lafs_format::hash::sha256(&i.to_be_bytes())[..16]
            .try_into()
            .unwrap()
    }
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::Sdmf), Just(Version::Mdmf)]
}

/// A published share set to mutate in the never-panic tests.
fn sample_shares() -> &'static Vec<Vec<u8>> {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        let mut v = publish(
            key(),
            &[7u8; 300_000],
            PublishParams {
                version: Version::Mdmf,
                k: 2,
                n: 4,
                seqnum: 3,
            },
            &mut salts(0),
        )
        .unwrap();
        v.extend(
            publish(
                key(),
                b"small",
                PublishParams {
                    version: Version::Sdmf,
                    k: 2,
                    n: 3,
                    seqnum: 1,
                },
                &mut salts(9),
            )
            .unwrap(),
        );
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn publish_retrieve_round_trip(
        version in version(),
        len in prop_oneof![Just(0usize), 1usize..2000, 131_000usize..400_000],
        k in 1u8..8,
        extra in 0u8..6,
        seqnum in 1u64..1000,
        drop_seed in any::<u64>(),
    ) {
        let n = k + extra;
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        let params = PublishParams { version, k, n, seqnum };
        let shares = publish(key(), &plaintext, params, &mut salts(drop_seed)).unwrap();
        prop_assert_eq!(shares.len(), usize::from(n));
        let keys = KeyChain::from_writekey(key().writekey(), key().fingerprint());
        // Keep an arbitrary k of the N shares.
        let mut idx: Vec<u8> = (0..n).collect();
        let mut s = drop_seed;
        for i in (1..idx.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            idx.swap(i, (s >> 33) as usize % (i + 1));
        }
        let chosen: Vec<(u8, &[u8])> = idx[..usize::from(k)].iter().map(|&i| (i, &shares[usize::from(i)][..])).collect();
        let r = retrieve(&keys, &chosen).unwrap();
        prop_assert_eq!(&r.plaintext, &plaintext);
        prop_assert_eq!(r.seqnum, seqnum);
        prop_assert_eq!(r.version, version);
        prop_assert!(r.failures.is_empty());
        // k-1 shares are not enough.
        if k > 1 {
            prop_assert!(retrieve(&keys, &chosen[1..]).is_err());
        }
    }

    #[test]
    fn share_parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let _ = ShareHeader::parse(&data);
        let _ = MutableShare::parse(&data);
    }

    #[test]
    fn key_readers_never_panic(text in "\\PC{0,200}", der in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = PrivateKey::from_pem(&text);
        let _ = PrivateKey::from_pem(&format!("-----BEGIN RSA PRIVATE KEY-----\n{text}\n-----END RSA PRIVATE KEY-----\n"));
        let _ = PrivateKey::from_pkcs1_der(&der);
        let _ = PrivateKey::from_pkcs8_der(&der);
        let _ = lafs_format::mutable::rsa::verify_spki(&der, b"m", &der);
    }

    #[test]
    fn mutated_shares_never_panic(
        which in 0usize..7,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let shares = sample_shares();
        let mut s = shares[which % shares.len()].clone();
        for (at, b) in edits {
            // Bias edits toward the header, where the offsets live.
            let at = if at % 2 == 0 { at % 123 } else { at % s.len() };
            s[at] = b;
        }
        s.truncate(cut % (s.len() + 1));
        let _ = ShareHeader::parse(&s);
        let _ = MutableShare::parse(&s);
        let keys = KeyChain::from_writekey(key().writekey(), key().fingerprint());
        let _ = retrieve(&keys, &[(0, &s[..]), (1, &shares[1][..])]);
    }
}
