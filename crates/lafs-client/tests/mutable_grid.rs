//! Mutable files on an in-process grid: create, overwrite, retrieve, the
//! shared Tahoe share sets, partial publishes and uncoordinated writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use lafs_client::mutable::{
    self, create, overwrite, private_key, retrieve, servermap, KeyPool, MutableError,
    PublishOptions,
};
use lafs_client::{Grid, LocalClient, StorageClient};
use lafs_format::cap::{Cap, FileCap};
use lafs_format::mutable::publish::{encode, random_salt};
use lafs_format::mutable::{KeyChain, PrivateKey, PublishParams, Version};
use lafs_storage::TestVector;
use std::sync::{Arc, OnceLock};

fn grid(n: usize) -> Grid<LocalClient> {
    common::local_grid(n, 0x5a, 9)
}

/// Key generation is slow: share a few keys across tests.
fn key(i: usize) -> Arc<PrivateKey> {
    static KEYS: OnceLock<Vec<Arc<PrivateKey>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..4)
            .map(|_| Arc::new(PrivateKey::generate().unwrap()))
            .collect()
    })[i % 4]
        .clone()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn opts(version: Version) -> PublishOptions {
    PublishOptions {
        version,
        ..PublishOptions::default()
    }
}

async fn roundtrip(g: &Grid<LocalClient>, key: Arc<PrivateKey>, version: Version, sizes: &[usize]) {
    let keys = key.key_chain();
    let first = data(sizes[0], 1);
    let p = create(g, key.clone(), first.clone(), opts(version))
        .await
        .unwrap();
    assert_eq!(p.seqnum, 1);
    assert_eq!(p.storage_index, keys.storage_index);
    let (r, _) = retrieve(g, &keys).await.unwrap();
    assert_eq!(r.plaintext, first);
    assert_eq!(r.version, version);
    for (i, &len) in sizes.iter().enumerate().skip(1) {
        let map = servermap::update(g, &keys).await;
        let plain = data(len, i as u8);
        let p = overwrite(g, key.clone(), &map, plain.clone(), opts(version))
            .await
            .unwrap();
        assert_eq!(p.seqnum, i as u64 + 1);
        // A reader with only the read cap sees the new version.
        let ro = KeyChain::from_readkey(keys.readkey.clone(), keys.fingerprint);
        let (r, map) = retrieve(g, &ro).await.unwrap();
        assert_eq!(r.plaintext, plain, "size {len}");
        assert_eq!(r.seqnum, i as u64 + 1);
        // One version left, all ten shares on ten distinct servers.
        assert_eq!(map.versions.len(), 1);
        let locs = &map.versions.values().next().unwrap().1;
        assert_eq!(locs.len(), 10);
        let servers: std::collections::BTreeSet<usize> = locs.iter().map(|l| l.server).collect();
        assert_eq!(servers.len(), 10);
    }
}

#[test]
fn sdmf_create_overwrite_read() {
    common::rt().block_on(roundtrip(
        &grid(12),
        key(0),
        Version::Sdmf,
        &[0, 1, 1000, 0, 70_000],
    ));
}

#[test]
fn mdmf_create_overwrite_read_multisegment() {
    // 131072-byte segments: 0, 1, 3 and 4 segments.
    common::rt().block_on(roundtrip(
        &grid(10),
        key(1),
        Version::Mdmf,
        &[0, 5, 131_073 * 2 + 7, 3 * 131_073 + 1, 0],
    ));
}

#[test]
fn fewer_servers_than_shares_still_places_all() {
    common::rt().block_on(async {
        let g = grid(4);
        let k = key(2);
        create(&g, k.clone(), data(500, 3), opts(Version::Sdmf))
            .await
            .unwrap();
        let (r, map) = retrieve(&g, &k.key_chain()).await.unwrap();
        assert_eq!(r.plaintext, data(500, 3));
        assert_eq!(map.versions.values().next().unwrap().1.len(), 10);
    });
}

#[test]
fn create_twice_is_refused() {
    common::rt().block_on(async {
        let g = grid(5);
        let k = key(3);
        create(&g, k.clone(), b"one".to_vec(), opts(Version::Sdmf))
            .await
            .unwrap();
        let e = create(&g, k.clone(), b"two".to_vec(), opts(Version::Sdmf))
            .await
            .unwrap_err();
        assert!(matches!(e, MutableError::UncoordinatedWrite { .. }), "{e}");
        let (r, _) = retrieve(&g, &k.key_chain()).await.unwrap();
        assert_eq!(r.plaintext, b"one");
    });
}

#[test]
fn uncoordinated_writer_is_detected_and_first_write_survives() {
    common::rt().block_on(async {
        let g = grid(10);
        let k = key(0);
        let keys = k.key_chain();
        create(&g, k.clone(), b"v1".to_vec(), opts(Version::Sdmf))
            .await
            .unwrap();
        // Both writers read the same servermap.
        let map_a = servermap::update(&g, &keys).await;
        let map_b = servermap::update(&g, &keys).await;
        overwrite(&g, k.clone(), &map_a, b"A".to_vec(), opts(Version::Sdmf))
            .await
            .unwrap();
        let e = overwrite(&g, k.clone(), &map_b, b"B".to_vec(), opts(Version::Sdmf))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                MutableError::UncoordinatedWrite {
                    seqnum: 2,
                    conflicts: 10
                }
            ),
            "{e}"
        );
        let (r, _) = retrieve(&g, &keys).await.unwrap();
        assert_eq!(r.plaintext, b"A");
    });
}

async fn raw_write(
    g: &Grid<LocalClient>,
    keys: &KeyChain,
    server: usize,
    shnum: u16,
    test: Vec<TestVector>,
    data: Vec<u8>,
) {
    common::raw_write(g, keys, server, shnum, test, data).await;
}

/// Write shares `shnums` of a new version directly, as a publisher killed
/// after those writes would leave them.
async fn partial_publish(g: &Grid<LocalClient>, k: &PrivateKey, plain: &[u8], shnums: &[u16]) {
    let keys = k.key_chain();
    let map = servermap::update(g, &keys).await;
    let shares = encode(
        k,
        plain,
        PublishParams {
            version: Version::Mdmf,
            k: 3,
            n: 10,
            seqnum: map.highest_seqnum() + 1,
        },
        &mut random_salt,
    )
    .unwrap()
    .shares();
    for ((server, shnum), cs) in &map.seen {
        if shnums.contains(shnum) {
            let test = vec![TestVector {
                offset: 0,
                size: cs.len() as u64,
                specimen: cs.clone(),
            }];
            let data = shares[usize::from(*shnum)].clone();
            raw_write(g, &keys, *server, *shnum, test, data).await;
        }
    }
}

#[test]
fn killed_writer_leaves_file_readable_and_next_write_repairs() {
    common::rt().block_on(async {
        let g = grid(10);
        let k = key(1);
        let keys = k.key_chain();
        let v1 = data(300_000, 1);
        create(&g, k.clone(), v1.clone(), opts(Version::Mdmf))
            .await
            .unwrap();

        // Killed after 2 shares: the new version is unrecoverable, the old
        // one is read.
        partial_publish(&g, &k, &data(300_000, 2), &[0, 1]).await;
        let (r, map) = retrieve(&g, &keys).await.unwrap();
        assert_eq!((r.seqnum, &r.plaintext), (1, &v1));
        assert!(map.has_newer_unrecoverable());

        // The next write goes above the partial one and replaces every share.
        let key_back = private_key(&g, &keys, &map).await.unwrap();
        assert_eq!(key_back.fingerprint(), keys.fingerprint);
        let v3 = data(200_000, 3);
        let p = overwrite(
            &g,
            Arc::new(key_back),
            &map,
            v3.clone(),
            opts(Version::Mdmf),
        )
        .await
        .unwrap();
        assert_eq!(p.seqnum, 3);
        let (r, map) = retrieve(&g, &keys).await.unwrap();
        assert_eq!((r.seqnum, &r.plaintext), (3, &v3));
        assert_eq!(map.versions.len(), 1);
        assert_eq!(map.versions.values().next().unwrap().1.len(), 10);

        // Killed after 5 shares: the new version is recoverable and wins.
        let v4 = data(10, 4);
        partial_publish(&g, &k, &v4, &[2, 4, 6, 8, 9]).await;
        let (r, map) = retrieve(&g, &keys).await.unwrap();
        assert_eq!((r.seqnum, &r.plaintext), (4, &v4));
        let p = overwrite(&g, k.clone(), &map, v4.clone(), opts(Version::Mdmf))
            .await
            .unwrap();
        assert_eq!(p.seqnum, 5);
        let map = servermap::update(&g, &keys).await;
        assert_eq!(map.versions.len(), 1);
        assert_eq!(map.versions.values().next().unwrap().1.len(), 10);
    });
}

fn vector_plaintext(v: &serde_json::Value) -> Vec<u8> {
    let seed = v["plaintext"]["seed"].as_str().unwrap().as_bytes();
    let len = v["plaintext"]["length"].as_u64().unwrap() as usize;
    seed.iter().copied().cycle().take(len).collect()
}

fn write_keys(cap: &str) -> KeyChain {
    match Cap::parse(cap).unwrap() {
        Cap::File(FileCap::SskWrite(w)) => KeyChain::from_writekey(w.writekey, w.fingerprint),
        c => panic!("not a write cap: {c:?}"),
    }
}

#[test]
fn tahoe_share_sets_retrieve_through_the_grid() {
    let Some(meta) = lafs_testing::read_json("extracted/mutable-sharesets.json") else {
        return;
    };
    let mut count = 0;
    common::rt().block_on(async {
        for (fam, version) in [("sdmf", Version::Sdmf), ("mdmf", Version::Mdmf)] {
            let v = &meta[fam];
            let g = grid(10);
            let keys = write_keys(v["cap"].as_str().unwrap());
            for shnum in 0..10u16 {
                let share =
                    lafs_testing::read_vector(&format!("extracted/{fam}-3of10/share.{shnum}"))
                        .unwrap();
                // Server i holds share i, behind the write enabler a Tahoe
                // client would have used for it.
                raw_write(&g, &keys, usize::from(shnum), shnum, vec![], share).await;
            }
            let expected = vector_plaintext(v);
            let (r, map) = retrieve(&g, &keys).await.unwrap();
            assert_eq!(r.plaintext, expected, "{fam}");
            assert_eq!((r.version, r.seqnum), (version, 1));
            assert!(map.problems.is_empty());
            // The read cap reads it too.
            let ro = match Cap::parse(v["readcap"].as_str().unwrap()).unwrap() {
                Cap::File(FileCap::SskRead(r)) => KeyChain::from_readkey(r.readkey, r.fingerprint),
                c => panic!("{c:?}"),
            };
            assert_eq!(retrieve(&g, &ro).await.unwrap().0.plaintext, expected);
            // And the write cap can overwrite it with the stored key.
            let k = private_key(&g, &keys, &map).await.unwrap();
            let p = overwrite(&g, Arc::new(k), &map, b"new".to_vec(), opts(version))
                .await
                .unwrap();
            assert_eq!(p.seqnum, 2);
            assert_eq!(retrieve(&g, &ro).await.unwrap().0.plaintext, b"new");
            count += 1;
        }
    });
    lafs_testing::report_family("mutable-sharesets via grid retrieve+overwrite", count);
}

#[test]
fn key_pool_hands_out_distinct_keys() {
    common::rt().block_on(async {
        let pool = KeyPool::new(2);
        let a = pool.take().await.unwrap();
        let b = pool.take().await.unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        let g = grid(3);
        let c = Arc::new(pool.take().await.unwrap());
        create(&g, c.clone(), b"x".to_vec(), opts(Version::Sdmf))
            .await
            .unwrap();
        assert_eq!(
            mutable::retrieve(&g, &c.key_chain())
                .await
                .unwrap()
                .0
                .plaintext,
            b"x"
        );
    });
}

#[test]
fn corrupt_shares_are_skipped_and_reported() {
    common::rt().block_on(async {
        // The fault-injecting grid records the advisories each server gets.
        let tg = common::grid(10);
        let g = &tg.grid;
        let k = key(2);
        let keys = k.key_chain();
        let plain = data(5000, 7);
        create(g, k.clone(), plain.clone(), opts(Version::Mdmf))
            .await
            .unwrap();
        let map = servermap::update(g, &keys).await;
        let (header, locs) = map.versions.values().next().unwrap();
        // Flip a block byte in three shares, and the signature in a fourth.
        let block_at = header.offsets.share_data.start + 16 + 3;
        let sig_at = header.offsets.signature.start + 5;
        let mut bad = Vec::new();
        for (i, l) in locs.iter().take(4).enumerate() {
            let s = &g.servers()[l.server];
            let mut share = s
                .client
                .read_mutable_share(keys.storage_index, l.shnum, 0, u64::MAX)
                .await
                .unwrap()
                .to_vec();
            let at = if i < 3 { block_at } else { sig_at } as usize;
            share[at] ^= 0x40;
            common::raw_write(g, &keys, l.server, l.shnum, vec![], share).await;
            bad.push((l.server, l.shnum));
        }
        let (r, map) = retrieve(g, &keys).await.unwrap();
        assert_eq!(r.plaintext, plain);
        // The bad signature is caught by the servermap, the bad blocks by
        // retrieve (the first k shares it reads are the three bad ones).
        assert_eq!(map.problems.len(), 1, "{:?}", map.problems);
        assert_eq!(r.failures.len(), 3, "{:?}", r.failures);
        // Each of the four servers is told about its share (the advisories
        // are sent in the background: wait for them, bounded).
        let advised = || {
            let mut got: Vec<(usize, u16)> = tg
                .faults
                .iter()
                .enumerate()
                .flat_map(|(i, f)| {
                    let a = f.mutable_advisories.lock().unwrap();
                    a.iter().map(|(n, _)| (i, *n)).collect::<Vec<_>>()
                })
                .collect();
            got.sort_unstable();
            got
        };
        bad.sort_unstable();
        for _ in 0..500 {
            if advised().len() >= bad.len() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(advised(), bad);
        // With the reason the check gave.
        let reasons: Vec<String> = tg
            .faults
            .iter()
            .flat_map(|f| f.mutable_advisories.lock().unwrap().clone())
            .map(|(_, r)| r)
            .collect();
        assert!(
            reasons.iter().any(|r| r.contains("signature")),
            "{reasons:?}"
        );
    });
}
