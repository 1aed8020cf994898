//! Known answers for the primitives (spec §2): every `hashutil` KAT from
//! Tahoe's `test_hashutil.py`, the real-world lease renewal secrets from
//! `derive_renewal_secret.py`, and the AES-CTR regression vectors from
//! `test_crypto.py`.
//!
//! Several hashutil KATs feed values of lengths the typed API never sees
//! (a 2-byte "storage index", an empty key); for those the test composes
//! the same tag and truncation from `hash::tags`, which is what the typed
//! functions do. The typed functions themselves are checked wherever the
//! argument has the real length, and end to end by the cap vectors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::hash::{tagged_hash, tagged_pair_hash, tags, truncate16, Hash};
use lafs_format::keys::{self, lease, ConvergenceSecret, ServerId20, StorageIndex};
use lafs_format::{aes, base32, hash};
use serde_json::Value;

fn arg_bytes(v: &Value) -> Vec<u8> {
    hex::decode(v["hex"].as_str().expect("hex arg")).unwrap()
}

fn arg_int(v: &Value) -> u64 {
    v.as_u64().expect("int arg")
}

/// Evaluate one `hashutil.*` call with raw arguments.
fn eval(function: &str, a: &[Value]) -> Vec<u8> {
    let b = |i: usize| arg_bytes(&a[i]);
    let h = |tag: &[u8], i: usize| tagged_hash(tag, &b(i)).to_vec();
    let h16 = |tag: &[u8], i: usize| truncate16(&tagged_hash(tag, &b(i))).to_vec();
    let pair = |tag: &[u8]| tagged_pair_hash(tag, &b(0), &b(1)).to_vec();
    match function {
        "hashutil.tagged_hash" => tagged_hash(&b(0), &b(1)).to_vec(),
        "hashutil.tagged_pair_hash" => tagged_pair_hash(&b(0), &b(1), &b(2)).to_vec(),
        "hashutil.storage_index_hash" => {
            let key = b(0);
            if let Ok(k) = <[u8; 16]>::try_from(key.as_slice()) {
                let typed = keys::chk_storage_index(&keys::AesKey::from_bytes(k));
                assert_eq!(typed.as_bytes().to_vec(), h16(tags::STORAGE_INDEX, 0));
            }
            h16(tags::STORAGE_INDEX, 0)
        }
        "hashutil.block_hash" => hash::block_hash(&b(0)).to_vec(),
        "hashutil.uri_extension_hash" => hash::ueb_hash(&b(0)).to_vec(),
        "hashutil.plaintext_hash" => h(tags::PLAINTEXT, 0),
        "hashutil.crypttext_hash" => h(tags::CIPHERTEXT, 0),
        "hashutil.crypttext_segment_hash" => hash::crypttext_segment_hash(&b(0)).to_vec(),
        "hashutil.plaintext_segment_hash" => h(tags::PLAINTEXT_SEGMENT, 0),
        "hashutil.convergence_hash" => {
            let (k, n, seg) = (arg_int(&a[0]), arg_int(&a[1]), arg_int(&a[2]));
            let secret = ConvergenceSecret::new(arg_bytes(&a[4]));
            keys::convergence_key(&secret, k as u16, n as u16, seg, &arg_bytes(&a[3]))
                .as_bytes()
                .to_vec()
        }
        "hashutil._convergence_hasher_tag" => {
            let (k, n, seg) = (arg_int(&a[0]), arg_int(&a[1]), arg_int(&a[2]));
            keys::convergence_tag(
                &ConvergenceSecret::new(arg_bytes(&a[3])),
                k as u16,
                n as u16,
                seg,
            )
        }
        "hashutil.my_renewal_secret_hash" => lease::client_renewal_secret(&b(0)).to_vec(),
        "hashutil.my_cancel_secret_hash" => lease::client_cancel_secret(&b(0)).to_vec(),
        "hashutil.file_renewal_secret_hash" => pair(tags::FILE_RENEWAL),
        "hashutil.file_cancel_secret_hash" => pair(tags::FILE_CANCEL),
        "hashutil.bucket_renewal_secret_hash" => pair(tags::BUCKET_RENEWAL),
        "hashutil.bucket_cancel_secret_hash" => pair(tags::BUCKET_CANCEL),
        "hashutil.hmac" => hash::tahoe_hmac(&b(0), &b(1)).to_vec(),
        "hashutil.mutable_rwcap_key_hash" => truncate16(&tagged_pair_hash(
            tags::DIRNODE_CHILD_WRITECAP,
            &b(0),
            &b(1),
        ))
        .to_vec(),
        "hashutil.ssk_writekey_hash" => {
            let typed = keys::mutable::writekey(&b(0));
            assert_eq!(typed.as_bytes().to_vec(), h16(tags::MUTABLE_WRITEKEY, 0));
            typed.as_bytes().to_vec()
        }
        "hashutil.ssk_write_enabler_master_hash" => h(tags::MUTABLE_WRITE_ENABLER_MASTER, 0),
        // (writekey, nodeid): the master is derived from the writekey first.
        "hashutil.ssk_write_enabler_hash" => {
            let master = tagged_hash(tags::MUTABLE_WRITE_ENABLER_MASTER, &b(0));
            tagged_pair_hash(tags::MUTABLE_WRITE_ENABLER, &master, &b(1)).to_vec()
        }
        "hashutil.ssk_pubkey_fingerprint_hash" => {
            keys::mutable::fingerprint(&b(0)).as_bytes().to_vec()
        }
        "hashutil.ssk_readkey_hash" => h16(tags::MUTABLE_READKEY, 0),
        "hashutil.ssk_readkey_data_hash" => {
            truncate16(&tagged_pair_hash(tags::MUTABLE_DATAKEY, &b(0), &b(1))).to_vec()
        }
        "hashutil.ssk_storage_index_hash" => h16(tags::MUTABLE_STORAGEINDEX, 0),
        "hashutil.permute_server_hash" => {
            use sha1::Digest;
            let si = b(0);
            if let Ok(si16) = <[u8; 16]>::try_from(si.as_slice()) {
                return keys::permute_server_key(&StorageIndex(si16), &b(1)).to_vec();
            }
            sha1::Sha1::new()
                .chain_update(&si)
                .chain_update(b(1))
                .finalize()
                .to_vec()
        }
        other => panic!("no evaluator for {other}"),
    }
}

#[test]
fn hashutil_known_answers() {
    let Some(j) = lafs_testing::read_json("extracted/hashutil-kat.json") else {
        return;
    };
    let vectors = j["vectors"].as_array().unwrap();
    for v in vectors {
        let f = v["function"].as_str().unwrap();
        let got = eval(f, v["args"].as_array().unwrap());
        if let Some(raw) = v.get("expected_raw_hex").and_then(Value::as_str) {
            assert_eq!(hex::encode(&got), raw, "{f} (line {})", v["line"]);
        } else {
            let want = v["expected_b32"].as_str().unwrap();
            assert_eq!(base32::encode(&got), want, "{f} (line {})", v["line"]);
        }
    }
    assert!(vectors.len() >= 33);
    lafs_testing::report_family("hashutil-kat", vectors.len());
}

#[test]
fn lease_renewal_secrets_from_a_real_client() {
    let Some(j) = lafs_testing::read_json("extracted/lease-renewal-secret-kat.json") else {
        return;
    };
    let vectors = j["vectors"].as_array().unwrap();
    for v in vectors {
        let s = |k: &str| v[k].as_str().unwrap();
        let lease_secret = base32::decode(s("lease_secret")).unwrap();
        let si = StorageIndex::from_base32(s("storage_index")).unwrap();
        let tubid = ServerId20::from_base32(s("tubid")).unwrap();
        let (renew, _cancel) = lease::for_server(&lease_secret, &si, &tubid);
        assert_eq!(base32::encode(renew.as_bytes()), s("expected"));
        // The same chain by hand, as derive_renewal_secret.py spells it.
        let fr = lease::file_renewal_secret(&lease::client_renewal_secret(&lease_secret), &si);
        let by_hand: Hash = tagged_pair_hash(tags::BUCKET_RENEWAL, &fr, tubid.as_bytes());
        assert_eq!(&by_hand, renew.as_bytes());
    }
    lafs_testing::report_family("lease-renewal-secret-kat", vectors.len());
}

#[test]
fn aes_ctr_regression_vectors() {
    let Some(j) = lafs_testing::read_json("extracted/aes-ctr-kat.json") else {
        return;
    };
    let vectors = j["vectors"].as_array().unwrap();
    for v in vectors {
        let x = |k: &str| hex::decode(v[k].as_str().unwrap()).unwrap();
        let (key, iv, pt, ct) = (
            x("key_hex"),
            x("iv_hex"),
            x("plaintext_hex"),
            x("ciphertext_hex"),
        );
        let iv: [u8; 16] = iv.try_into().unwrap();
        assert_eq!(aes::aes_ctr_any(&key, &iv, &pt).unwrap(), ct);
        if let Ok(k16) = <[u8; 16]>::try_from(key.as_slice()) {
            // The streaming cipher, split at an odd point, agrees.
            let mut c = aes::AesCtr::with_iv(&k16, &iv);
            let mut buf = pt.clone();
            let cut = buf.len() / 3;
            let (a, b) = buf.split_at_mut(cut);
            c.apply(a);
            c.apply(b);
            assert_eq!(buf, ct);
        }
    }
    lafs_testing::report_family("aes-ctr-kat", vectors.len());
}
