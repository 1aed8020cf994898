//! Mutable files against the known-answer vectors (spec §2.4, §5, §11).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::base32;
use lafs_format::keys::mutable as mkeys;
use lafs_format::keys::{Fingerprint, WriteKey};
use lafs_format::mutable::rsa::{PrivateKey, RsaError};
use lafs_format::mutable::{
    publish, retrieve, KeyChain, MutableShare, PublishParams, ShareHeader, Version,
};

const DATA: &str = "tahoe-lafs/src/allmydata/test/data";

fn cap_keys(cap: &str) -> KeyChain {
    let p: Vec<&str> = cap.split(':').collect();
    let wk = WriteKey::from_bytes(base32::decode_array(p[2]).unwrap());
    let fp = Fingerprint::from_base32(p[3]).unwrap();
    KeyChain::from_writekey(wk, fp)
}

fn ssk_cap(prefix: &str, key: &PrivateKey) -> String {
    let (wk, fp) = key.write_cap_material();
    format!(
        "{prefix}:{}:{}",
        base32::encode(wk.as_bytes()),
        fp.to_base32()
    )
}

fn stretch(seed: &[u8], len: usize) -> Vec<u8> {
    seed.iter().copied().cycle().take(len).collect()
}

/// Python's deterministic test salts: salt #i = sha256(b"salt%d" % i)[:16].
fn counting_salts(first: u64) -> impl FnMut() -> [u8; 16] {
    let mut i = first;
    move || {
        let h = lafs_format::hash::sha256(format!("salt{i}").as_bytes());
        i += 1;
        h[..16].try_into().unwrap()
    }
}

#[test]
fn test_vectors_yaml_ssk_caps() {
    let Some(doc) = lafs_testing::read_yaml::<serde_json::Value>(
        "tahoe-lafs/integration/vectors/test_vectors.yaml",
    ) else {
        return;
    };
    let mut sdmf = 0;
    let mut mdmf = 0;
    for v in doc["vector"].as_array().unwrap() {
        if v["format"]["kind"] != "ssk" {
            continue;
        }
        let params = &v["format"]["params"];
        let key = PrivateKey::from_pem(params["key"].as_str().unwrap()).unwrap();
        let (prefix, count) = match params["format"].as_str().unwrap() {
            "sdmf" => ("URI:SSK", &mut sdmf),
            "mdmf" => ("URI:MDMF", &mut mdmf),
            other => panic!("format {other}"),
        };
        assert_eq!(ssk_cap(prefix, &key), v["expected"].as_str().unwrap());
        *count += 1;
    }
    assert_eq!((sdmf, mdmf), (120, 120));
    lafs_testing::report_family("test_vectors.yaml SSK+MDMF caps from PEM keys", sdmf + mdmf);
}

#[test]
fn openssl_keys_give_known_caps() {
    let cases = [
        (
            "openssl-rsa-2048-2.txt",
            "URI:DIR2",
            "URI:DIR2:n4opqgewgcn4mddu4oiippaxru:ukpe4z6xdlujdpguoabergyih3bj7iaafukdqzwthy2ytdd5bs2a",
        ),
        (
            "openssl-rsa-2048-3.txt",
            "URI:DIR2",
            "URI:DIR2:3oo7j7f7qqxnet2z2lf57ucup4:cpktmsxlqnd5yeekytxjxvff5e6d6fv7py6rftugcndvss7tzd2a",
        ),
        (
            "openssl-rsa-2048-4.txt",
            "URI:DIR2",
            "URI:DIR2:ppwzpwrd37xi7tpribxyaa25uy:imdws47wwpzfkc5vfllo4ugspb36iit4cqps6ttuhaouc66jb2da",
        ),
        (
            // PKCS#8 PEM (`openssl genpkey`), used by cli/test_put.
            "openssl-rsa-2048.txt",
            "URI:SSK",
            "URI:SSK:a5invhyw6wuvd35ztary3mwoqy:jrd2l4lsbbyhl7o7usora63xv3s727s2czweidpqyj6h37mesdza",
        ),
    ];
    let mut n = 0;
    for (file, prefix, want) in cases {
        let Some(pem) = lafs_testing::read_vector(&format!("{DATA}/{file}")) else {
            return;
        };
        let key = PrivateKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
        assert_eq!(ssk_cap(prefix, &key), want, "{file}");
        n += 1;
    }
    lafs_testing::report_family("openssl-rsa-2048 key files to caps", n);
}

#[test]
fn pycryptopp_keys() {
    let Some(priv_b64) = lafs_testing::read_vector(&format!("{DATA}/pycryptopp-rsa-2048-priv.txt"))
    else {
        return;
    };
    let b64 = |v: Vec<u8>| lafs_testing::b64(std::str::from_utf8(&v).unwrap().trim());
    let priv_der = b64(priv_b64);
    let pub_der =
        b64(lafs_testing::read_vector(&format!("{DATA}/pycryptopp-rsa-2048-pub.txt")).unwrap());
    let sig =
        b64(lafs_testing::read_vector(&format!("{DATA}/pycryptopp-rsa-2048-sig.txt")).unwrap());
    assert_eq!((priv_der.len(), pub_der.len()), (1216, 292));

    // The e=17 verification key verifies pycryptopp's signature of b"test".
    let pk = lafs_format::mutable::PublicKey::from_spki_der(&pub_der);
    pk.verify(b"test", &sig).unwrap();
    assert!(pk.verify(b"tesT", &sig).is_err());

    // The e=17 private key loads, keeps its stored bytes, and its public key
    // is the pycryptopp one.
    let key = PrivateKey::from_pkcs8_der(&priv_der).unwrap();
    assert_eq!(key.pkcs8_der(), &priv_der[..]);
    assert_eq!(key.public_key_der(), &pub_der[..]);
    let sig2 = key.sign(b"test").unwrap();
    pk.verify(b"test", &sig2).unwrap();

    // Other sizes are refused with a typed error naming the size.
    let mut n = 2;
    for (file, bits) in [
        ("pycryptopp-rsa-1024-priv.txt", 1024),
        ("pycryptopp-rsa-32768-priv.txt", 32768),
    ] {
        let der = b64(lafs_testing::read_vector(&format!("{DATA}/{file}")).unwrap());
        assert_eq!(
            PrivateKey::from_pkcs8_der(&der).unwrap_err(),
            RsaError::KeySize { bits },
            "{file}"
        );
        n += 1;
    }
    lafs_testing::report_family(
        "pycryptopp RSA keys (sig verify, e=17 load, size rejection)",
        n,
    );
}

fn read_shareset(name: &str) -> Option<Vec<Vec<u8>>> {
    (0..10)
        .map(|i| lafs_testing::read_vector(&format!("extracted/{name}-3of10/share.{i}")))
        .collect()
}

#[test]
fn mutable_sharesets_decode_and_reencode() {
    let Some(meta) = lafs_testing::read_json("extracted/mutable-sharesets.json") else {
        return;
    };
    let key = PrivateKey::from_pkcs8_der(&lafs_testing::b64(
        meta["key"]["pkcs8_der_b64"].as_str().unwrap(),
    ))
    .unwrap();
    let mut checked = 0;
    for (name, version) in [("sdmf", Version::Sdmf), ("mdmf", Version::Mdmf)] {
        let info = &meta[name];
        let shares = read_shareset(name).unwrap();
        let cap = info["cap"].as_str().unwrap();
        let prefix = if version == Version::Sdmf {
            "URI:SSK"
        } else {
            "URI:MDMF"
        };
        assert_eq!(ssk_cap(prefix, &key), cap);
        let keys = cap_keys(cap);
        let plaintext = stretch(
            info["plaintext"]["seed"].as_str().unwrap().as_bytes(),
            info["plaintext"]["length"].as_u64().unwrap() as usize,
        );

        // Decode from every share and from a few subsets of three.
        let all: Vec<(u8, &[u8])> = shares
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u8, &s[..]))
            .collect();
        let r = retrieve(&keys, &all).unwrap();
        assert_eq!(r.plaintext, plaintext, "{name}");
        assert_eq!(r.version, version);
        assert!(r.failures.is_empty());
        assert_eq!(
            r.privkey_der.as_deref().map(Vec::as_slice),
            Some(key.pkcs8_der())
        );
        for subset in [[1u8, 4, 8], [7, 8, 9], [0, 5, 9]] {
            let some: Vec<(u8, &[u8])> = subset.iter().map(|&i| all[i as usize]).collect();
            assert_eq!(retrieve(&keys, &some).unwrap().plaintext, plaintext);
        }
        // A read-only holder decodes too (no privkey check).
        let ro = KeyChain::from_readkey(keys.readkey.clone(), keys.fingerprint);
        let r = retrieve(&ro, &all).unwrap();
        assert_eq!(r.plaintext, plaintext);
        assert!(r.privkey_der.is_none());

        // Re-encode with the same key and salts: every byte but the
        // signature matches, and the new signature verifies.
        let params = PublishParams {
            version,
            k: 3,
            n: 10,
            seqnum: 1,
        };
        let mine = publish(&key, &plaintext, params, &mut counting_salts(12)).unwrap();
        for (i, (theirs, ours)) in shares.iter().zip(&mine).enumerate() {
            assert_eq!(theirs.len(), ours.len(), "{name} share {i} length");
            let sig = MutableShare::parse(theirs)
                .unwrap()
                .header
                .offsets
                .signature;
            let (s, e) = (sig.start as usize, sig.end as usize);
            assert_eq!(
                MutableShare::parse(ours).unwrap().header.offsets.signature,
                sig
            );
            assert_eq!(theirs[..s], ours[..s], "{name} share {i} before signature");
            assert_eq!(theirs[e..], ours[e..], "{name} share {i} after signature");
            checked += 1;
        }
        let mine_refs: Vec<(u8, &[u8])> = mine
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u8, &s[..]))
            .collect();
        assert_eq!(retrieve(&keys, &mine_refs).unwrap().plaintext, plaintext);

        // Header-only parse (servermap) agrees with the full parse.
        let h =
            ShareHeader::parse(&shares[0][..lafs_format::mutable::share::HEADER_LEN_MAX]).unwrap();
        assert_eq!(h, MutableShare::parse(&shares[0]).unwrap().header);
        if version == Version::Mdmf {
            let o = &h.offsets;
            assert_eq!(
                [
                    o.enc_privkey.start,
                    o.share_hash_chain.start,
                    o.signature.start,
                    o.verification_key.start,
                    o.verification_key.end,
                    o.share_data.start,
                    o.block_hash_tree.start,
                    o.eof
                ],
                [123, 1341, 1477, 1733, 2027, 2167, 89930, 90154]
            );
        }
    }
    lafs_testing::report_family(
        "mutable-sharesets SDMF+MDMF shares (decode, re-encode byte-exact but signature)",
        checked,
    );
}

#[test]
fn corrupted_share_is_named() {
    let Some(shares) = read_shareset("mdmf") else {
        return;
    };
    let meta = lafs_testing::read_json("extracted/mutable-sharesets.json").unwrap();
    let keys = cap_keys(meta["mdmf"]["cap"].as_str().unwrap());
    let mut bad = shares[4].clone();
    let at = bad.len() - 300; // inside the last block
    bad[at] ^= 1;
    let set: Vec<(u8, &[u8])> = vec![(4, &bad), (1, &shares[1]), (2, &shares[2])];
    let err = retrieve(&keys, &set).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("share 4"), "{msg}");
    // With a fourth good share it decodes and reports share 4.
    let mut set = set;
    set.push((9, &shares[9]));
    let r = retrieve(&keys, &set).unwrap();
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].shnum, 4);
    // A wrong share number fails the share hash chain.
    let r = retrieve(
        &keys,
        &[
            (5, &shares[1][..]),
            (1, &shares[1]),
            (2, &shares[2]),
            (3, &shares[3]),
        ],
    )
    .unwrap();
    assert_eq!(r.failures[0].shnum, 5);
}

#[test]
fn tahoe_1_2_0_sdmf_shares() {
    let Some(doc) = lafs_testing::read_json("extracted/test_download-stored-shares.json") else {
        return;
    };
    let m = &doc["mutable_sdmf"];
    let keys = cap_keys(m["cap"].as_str().unwrap());
    let mut files: Vec<(u8, Vec<u8>)> = Vec::new();
    for server in m["share_files_base32"].as_object().unwrap().values() {
        for (shnum, b32) in server.as_object().unwrap() {
            let file = base32::decode(b32.as_str().unwrap()).unwrap();
            // v1 mutable container: data length at 84, share data at 468.
            let len = u64::from_be_bytes(file[84..92].try_into().unwrap()) as usize;
            files.push((shnum.parse().unwrap(), file[468..468 + len].to_vec()));
        }
    }
    assert_eq!(files.len(), 10);
    for (shnum, data) in &files {
        let share = MutableShare::parse(data).unwrap();
        assert_eq!(share.verification_key.len(), 292, "e=17 key");
        assert_eq!(mkeys::fingerprint(share.verification_key), keys.fingerprint);
        let _ = shnum;
    }
    let refs: Vec<(u8, &[u8])> = files.iter().map(|(n, d)| (*n, &d[..])).collect();
    let r = retrieve(&keys, &refs).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.plaintext, m["plaintext"].as_str().unwrap().as_bytes());
    // The stored (Crypto++-serialized, e=17) private key loads verbatim and
    // matches the verification key, so a writer could republish.
    let key = PrivateKey::from_pkcs8_der(r.privkey_der.as_ref().unwrap()).unwrap();
    assert_eq!(key.fingerprint(), keys.fingerprint);
    assert_eq!(Some(key.writekey()), keys.writekey);
    lafs_testing::report_family("Tahoe 1.2.0 SDMF stored shares (e=17, decode)", files.len());
}

#[test]
fn key_errors_and_redaction() {
    assert_eq!(PrivateKey::from_pem("hello").unwrap_err(), RsaError::NotPem);
    assert_eq!(
        PrivateKey::from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\n!!!\n-----END RSA PRIVATE KEY-----\n"
        )
        .unwrap_err(),
        RsaError::PemBase64
    );
    assert!(matches!(
        PrivateKey::from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        ),
        Err(RsaError::Der(_))
    ));
    assert!(matches!(
        PrivateKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        Err(RsaError::NotPem)
    ));
    let Some(pem) = lafs_testing::read_vector(&format!("{DATA}/openssl-rsa-2048-2.txt")) else {
        return;
    };
    let key = PrivateKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    let dbg = format!("{key:?} {:?}", key.key_chain());
    assert!(dbg.contains("redacted"), "{dbg}");
    let b64 = base32::encode(&key.pkcs8_der()[..16]);
    assert!(!dbg.contains(&b64));
    // PKCS#1 and PKCS#8 inputs of one key give one writekey.
    let again = PrivateKey::from_pkcs8_der(key.pkcs8_der()).unwrap();
    assert_eq!(again.write_cap_material(), key.write_cap_material());
    // A signature from a key verifies with its public key only.
    let sig = key.sign(b"prefix").unwrap();
    key.public_key().verify(b"prefix", &sig).unwrap();
    assert!(key.public_key().verify(b"prefiX", &sig).is_err());
    assert!(lafs_format::mutable::rsa::verify_spki(b"junk", b"prefix", &sig).is_err());
}
