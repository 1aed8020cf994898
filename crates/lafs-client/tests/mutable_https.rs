//! Mutable files and directories through ten lafs-http servers over real
//! TLS on loopback, with the SPKI-pinned pooled [`HttpClient`]: create,
//! overwrite and read SDMF and MDMF, Tahoe's share sets, directories, and
//! the read-test-write edge cases the recorded Python exchanges show
//! (spec §8.4 items 9–12, §8.7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use lafs_client::dirnode::Dirnode;
use lafs_client::mutable::{
    create, overwrite, private_key, retrieve, servermap, MutableError, PublishOptions,
};
use lafs_client::{ClientError, Grid, HttpClient, StorageClient};
use lafs_format::cap::{Cap, FileCap};
use lafs_format::keys::mutable as mkeys;
use lafs_format::keys::WriteEnabler;
use lafs_format::mutable::{KeyChain, PrivateKey, Version};
use lafs_storage::{ReadVector, TestVector, TestWriteVectors, WriteVector};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Key generation is slow: share two keys across the tests of this binary.
fn key(i: usize) -> Arc<PrivateKey> {
    static KEYS: OnceLock<Vec<Arc<PrivateKey>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..2)
            .map(|_| Arc::new(PrivateKey::generate().unwrap()))
            .collect()
    })[i % 2]
        .clone()
}

fn opts(version: Version) -> PublishOptions {
    PublishOptions {
        version,
        ..PublishOptions::default()
    }
}

async fn create_overwrite_read(g: &Grid<HttpClient>, key: Arc<PrivateKey>, version: Version) {
    let keys = key.key_chain();
    // MDMF: more than one 131073-byte segment.
    let first = common::data(300_000, 1);
    let p = create(g, key.clone(), first.clone(), opts(version))
        .await
        .unwrap();
    assert_eq!(p.seqnum, 1);
    let (r, map) = retrieve(g, &keys).await.unwrap();
    assert!(r.plaintext == first);
    assert_eq!(r.version, version);
    assert!(map.problems.is_empty(), "{:?}", map.problems);
    // A writer that only has the cap recovers the key from the shares.
    let k = private_key(g, &keys, &map).await.unwrap();
    assert_eq!(k.fingerprint(), keys.fingerprint);
    for (i, len) in [(2u64, 1000usize), (3, 0), (4, 200_000)] {
        let map = servermap::update(g, &keys).await;
        let plain = common::data(len, i);
        let p = overwrite(g, key.clone(), &map, plain.clone(), opts(version))
            .await
            .unwrap();
        assert_eq!(p.seqnum, i);
        let ro = KeyChain::from_readkey(keys.readkey.clone(), keys.fingerprint);
        let (r, map) = retrieve(g, &ro).await.unwrap();
        assert!(r.plaintext == plain, "{version:?} size {len}");
        assert_eq!(r.seqnum, i);
        assert_eq!(map.versions.len(), 1);
        assert_eq!(map.versions.values().next().unwrap().1.len(), 10);
    }
    // A stale servermap loses the race instead of overwriting.
    let stale = servermap::update(g, &keys).await;
    let now = servermap::update(g, &keys).await;
    overwrite(g, key.clone(), &now, b"winner".to_vec(), opts(version))
        .await
        .unwrap();
    let e = overwrite(g, key.clone(), &stale, b"loser".to_vec(), opts(version))
        .await
        .unwrap_err();
    assert!(
        matches!(e, MutableError::UncoordinatedWrite { .. }),
        "{e:?}"
    );
    assert_eq!(retrieve(g, &keys).await.unwrap().0.plaintext, b"winner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdmf_and_mdmf_over_https() {
    let (g, _engines, _stops) = common::https_grid(10, 0x61, 4).await;
    create_overwrite_read(&g, key(0), Version::Sdmf).await;
    create_overwrite_read(&g, key(1), Version::Mdmf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_over_https() {
    let (g, _engines, _stops) = common::https_grid(10, 0x62, 5).await;
    for (i, version) in [Version::Sdmf, Version::Mdmf].into_iter().enumerate() {
        let d = Dirnode::create(&g, key(i), opts(version)).await.unwrap();
        assert!(d.list().await.unwrap().is_empty());
        let file = b"URI:LIT:mfrgg";
        for n in 0..5 {
            d.add_child(&format!("child-{n}"), None, Some(file), false)
                .await
                .unwrap();
        }
        d.rename("child-0", "renamed", false).await.unwrap();
        d.unlink("child-1").await.unwrap();
        // A second handle, opened from the cap alone, sees the changes.
        let Cap::Dir(FileCap::SskWrite(w)) = d.cap() else {
            panic!("{}", d.cap());
        };
        let other = Dirnode::open(&g, &w);
        let names: Vec<String> = other
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["child-2", "child-3", "child-4", "renamed"]);
        other
            .add_child("late", None, Some(file), false)
            .await
            .unwrap();
        assert_eq!(d.list().await.unwrap().len(), 5);
    }
}

fn vector_plaintext(v: &serde_json::Value) -> Vec<u8> {
    let seed = v["plaintext"]["seed"].as_str().unwrap().as_bytes();
    let len = v["plaintext"]["length"].as_u64().unwrap() as usize;
    seed.iter().copied().cycle().take(len).collect()
}

/// Tahoe's SDMF and MDMF share sets, written over HTTPS as a Tahoe client
/// would (server i gets share i, "must not exist" test), read by lafs and
/// overwritten with the key recovered from the shares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tahoe_share_sets_over_https() {
    let Some(meta) = lafs_testing::read_json("extracted/mutable-sharesets.json") else {
        return;
    };
    let mut count = 0;
    for (fam, version) in [("sdmf", Version::Sdmf), ("mdmf", Version::Mdmf)] {
        // Both sets were made with one key (one storage index): a grid each.
        let (g, _engines, _stops) = common::https_grid(10, 0x63, 6).await;
        let v = &meta[fam];
        let keys = match Cap::parse(v["cap"].as_str().unwrap()).unwrap() {
            Cap::File(FileCap::SskWrite(w)) => KeyChain::from_writekey(w.writekey, w.fingerprint),
            c => panic!("{c:?}"),
        };
        let must_not_exist = || {
            vec![TestVector {
                offset: 0,
                size: 1,
                specimen: Vec::new(),
            }]
        };
        for shnum in 0..10u16 {
            let share =
                lafs_testing::read_vector(&format!("extracted/{fam}-3of10/share.{shnum}")).unwrap();
            common::raw_write(
                &g,
                &keys,
                usize::from(shnum),
                shnum,
                must_not_exist(),
                share,
            )
            .await;
        }
        let expected = vector_plaintext(v);
        let (r, map) = retrieve(&g, &keys).await.unwrap();
        assert!(r.plaintext == expected, "{fam}");
        assert_eq!((r.version, r.seqnum), (version, 1));
        assert!(map.problems.is_empty());
        let k = private_key(&g, &keys, &map).await.unwrap();
        overwrite(&g, Arc::new(k), &map, b"new".to_vec(), opts(version))
            .await
            .unwrap();
        assert_eq!(retrieve(&g, &keys).await.unwrap().0.plaintext, b"new");
        count += 1;
    }
    lafs_testing::report_family("mutable-sharesets via HTTPS retrieve+overwrite", count);
}

/// The wire-level cases of scenario 3f and 7 in the recorded exchanges:
/// a fresh slot answers `data: {}`, a failing test answers
/// `success: false` with the read data, an empty test passes, a wrong
/// write enabler is refused (401), reads clamp at the end (204 past it),
/// unknown shares are 404, and corruption advisories reach the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_test_write_edge_cases() {
    let (g, engines, _stops) = common::https_grid(1, 0x64, 7).await;
    let s = &g.servers()[0];
    let keys = key(0).key_chain();
    let si = keys.storage_index;
    let we = mkeys::write_enabler(keys.writekey.as_ref().unwrap(), &s.lease_seed);
    let (renew, cancel) = s.lease_secrets(g.lease_secret(), &si);
    let tw = |test: Vec<TestVector>, data: &[u8]| {
        let mut m = BTreeMap::new();
        m.insert(
            0u16,
            TestWriteVectors {
                test,
                write: vec![WriteVector {
                    offset: 0,
                    data: data.to_vec(),
                }],
                new_length: None,
            },
        );
        m
    };
    let read9 = [ReadVector { offset: 0, size: 9 }];
    assert!(s.client.list_mutable_shares(si).await.unwrap().is_empty());
    let fresh = vec![TestVector {
        offset: 0,
        size: 1,
        specimen: Vec::new(),
    }];
    let body: Vec<u8> = (0..100u8).collect();
    let r = s
        .client
        .mutable_test_and_write(si, &we, &renew, &cancel, tw(fresh.clone(), &body), &read9)
        .await
        .unwrap();
    assert!(r.success);
    assert!(r.data.is_empty());
    assert_eq!(s.client.list_mutable_shares(si).await.unwrap(), [0].into());
    // Creating it again fails the "must not exist" test and reads back.
    let r = s
        .client
        .mutable_test_and_write(si, &we, &renew, &cancel, tw(fresh, b"x"), &read9)
        .await
        .unwrap();
    assert!(!r.success);
    assert_eq!(r.data[&0], vec![body[..9].to_vec()]);
    // A wrong write enabler is refused with a typed error.
    let wrong = WriteEnabler::from_bytes([9; 32]);
    let e = s
        .client
        .mutable_test_and_write(si, &wrong, &renew, &cancel, tw(vec![], b"y"), &[])
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::BadWriteEnabler), "{e:?}");
    // Nothing above changed the share.
    let got = s.client.read_mutable_share(si, 0, 0, 4000).await.unwrap();
    assert_eq!(got.as_ref(), body.as_slice());
    let got = s.client.read_mutable_share(si, 0, 90, 20).await.unwrap();
    assert_eq!(got.as_ref(), &body[90..]);
    assert!(s
        .client
        .read_mutable_share(si, 0, 100, 10)
        .await
        .unwrap()
        .is_empty());
    let e = s.client.read_mutable_share(si, 3, 0, 10).await.unwrap_err();
    assert!(matches!(e, ClientError::NoSuchShare), "{e:?}");
    s.client
        .advise_corrupt_mutable(si, 0, "test advisory")
        .await
        .unwrap();
    // Unknown shares are ignored, as the Python client does.
    s.client
        .advise_corrupt_mutable(si, 5, "no such share")
        .await
        .unwrap();
    // `new-length: 0` deletes the share (§8.7).
    let mut del = BTreeMap::new();
    del.insert(
        0u16,
        TestWriteVectors {
            test: vec![],
            write: vec![],
            new_length: Some(0),
        },
    );
    let r = s
        .client
        .mutable_test_and_write(si, &we, &renew, &cancel, del, &[])
        .await
        .unwrap();
    assert!(r.success);
    assert!(s.client.list_mutable_shares(si).await.unwrap().is_empty());
    drop(engines);
}
