//! MDMF range reads and partial writes on an in-process grid: results
//! match a whole-file splice, reads fetch only the segments a range needs,
//! writes send only the touched segments, and the fallbacks (SDMF, a
//! missing share) still give the right bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestGrid;
use lafs_client::mutable::{
    create, read_range, retrieve, servermap, update, MutableError, PublishOptions,
};
use lafs_client::StorageClient;
use lafs_format::mutable::{KeyChain, PrivateKey, Version};
use std::sync::{Arc, OnceLock};

fn key(i: usize) -> Arc<PrivateKey> {
    static KEYS: OnceLock<Vec<Arc<PrivateKey>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..2)
            .map(|_| Arc::new(PrivateKey::generate().unwrap()))
            .collect()
    })[i % 2]
        .clone()
}

const SEG: usize = 131_073;

fn opts(version: Version) -> PublishOptions {
    PublishOptions {
        version,
        ..PublishOptions::default()
    }
}

async fn check_reads(g: &TestGrid, keys: &KeyChain, plain: &[u8]) {
    let map = servermap::update(&g.grid, keys).await;
    let len = plain.len() as u64;
    for (s, e) in [
        (0, 10),
        (SEG as u64 - 5, SEG as u64 + 5),
        (2 * SEG as u64 + 7, 2 * SEG as u64 + 1000),
        (len - 3, len + 100),
        (len + 5, len + 10),
        (17, 17),
        (0, len),
    ] {
        g.take_mutable_traffic();
        let got = read_range(&g.grid, keys, &map, s..e).await.unwrap();
        let (cs, ce) = ((s.min(len)) as usize, (e.min(len)) as usize);
        assert!(got == plain[cs..ce.max(cs)], "range {s}..{e}");
        let (read, _) = g.take_mutable_traffic();
        if ce > cs && ce - cs < 1000 {
            // k=3 shares × the touched pieces, plus a servermap-free
            // chain and tree per share: not the whole file.
            let segs = (ce - 1) / SEG - cs / SEG + 1;
            let bound = segs * 3 * (SEG / 3 + 16) + 3 * 4096;
            assert!(read as usize <= bound, "read {read} for {s}..{e}");
        }
    }
}

#[test]
fn mdmf_range_reads_fetch_only_needed_segments() {
    common::rt().block_on(async {
        let g = common::grid(10);
        let plain = common::data(5 * SEG + 1000, 1);
        let k = key(0);
        create(&g.grid, k.clone(), plain.clone(), opts(Version::Mdmf))
            .await
            .unwrap();
        check_reads(&g, &k.key_chain(), &plain).await;
    });
}

#[test]
fn mdmf_partial_writes_rewrite_only_touched_segments() {
    common::rt().block_on(async {
        let g = common::grid(10);
        let k = key(1);
        let keys = k.key_chain();
        let mut plain = common::data(5 * SEG + 1000, 2);
        let p = create(&g.grid, k.clone(), plain.clone(), opts(Version::Mdmf))
            .await
            .unwrap();
        let full_written = g.take_mutable_traffic().1;
        let mut seqnum = p.seqnum;
        // (offset, length): inside one segment, across a boundary, the
        // start, the tail, an append that grows the file by segments, an
        // append exactly at the end.
        let end = plain.len();
        for (off, len) in [
            (2 * SEG + 100, 50),
            (SEG - 10, 20),
            (0, 1),
            (end - 10, 10),
            (end - 5, 3 * SEG),
            (end + 3 * SEG - 5, 77),
        ] {
            let data = common::data(len, off as u64);
            let map = servermap::update(&g.grid, &keys).await;
            g.take_mutable_traffic();
            let p = update(&g.grid, k.clone(), &map, off as u64, &data)
                .await
                .unwrap();
            let (_, written) = g.take_mutable_traffic();
            seqnum += 1;
            assert_eq!(p.seqnum, seqnum);
            if plain.len() < off + len {
                plain.resize(off + len, 0);
            }
            plain[off..off + len].copy_from_slice(&data);
            let ro = KeyChain::from_readkey(keys.readkey.clone(), keys.fingerprint);
            let (r, map) = retrieve(&g.grid, &ro).await.unwrap();
            assert!(r.plaintext == plain, "after writing {len} at {off}");
            assert_eq!(map.versions.len(), 1);
            eprintln!("update of {len} bytes at {off}: {written} bytes sent (whole publish: {full_written})");
            if len < 100 {
                // N=10 shares × (touched pieces + head + tree).
                let segs = (off + len - 1) / SEG - off / SEG + 1;
                let bound = segs * 10 * (SEG / 3 + 16) + 10 * 4096;
                assert!(
                    (written as usize) <= bound && written < full_written / 2,
                    "{written} bytes written for {len} at {off} (whole file: {full_written})"
                );
            }
        }
        check_reads(&g, &keys, &plain).await;
    });
}

#[test]
fn updates_fall_back_to_republish() {
    common::rt().block_on(async {
        // SDMF: one segment, always republished whole.
        let g = common::grid(10);
        let k = key(0);
        let keys = k.key_chain();
        let mut plain = common::data(5000, 3);
        create(&g.grid, k.clone(), plain.clone(), opts(Version::Sdmf))
            .await
            .unwrap();
        let map = servermap::update(&g.grid, &keys).await;
        update(&g.grid, k.clone(), &map, 4990, b"0123456789abc")
            .await
            .unwrap();
        plain.truncate(4990);
        plain.extend_from_slice(b"0123456789abc");
        assert!(retrieve(&g.grid, &keys).await.unwrap().0.plaintext == plain);
        let map = servermap::update(&g.grid, &keys).await;
        let got = read_range(&g.grid, &keys, &map, 4990..5003).await.unwrap();
        assert_eq!(got, b"0123456789abc");
        // Past the end is refused.
        let e = update(&g.grid, k.clone(), &map, 6000, b"x")
            .await
            .unwrap_err();
        assert!(matches!(e, MutableError::BadOffset { .. }), "{e:?}");

        // MDMF with a share missing: republished whole, still correct.
        let g = common::grid(10);
        let k = key(1);
        let keys = k.key_chain();
        let mut plain = common::data(2 * SEG + 10, 4);
        let p = create(&g.grid, k.clone(), plain.clone(), opts(Version::Mdmf))
            .await
            .unwrap();
        let gone = &p.placed[0];
        common::raw_delete(&g.grid, &keys, gone.server, gone.shnum).await;
        let map = servermap::update(&g.grid, &keys).await;
        update(&g.grid, k.clone(), &map, 5, b"hello").await.unwrap();
        plain[5..10].copy_from_slice(b"hello");
        let (r, map) = retrieve(&g.grid, &keys).await.unwrap();
        assert!(r.plaintext == plain);
        assert_eq!(map.versions.values().next_back().unwrap().1.len(), 10);
    });
}

#[test]
fn range_reads_with_a_stale_servermap_retry_with_a_fresh_one() {
    common::rt().block_on(async {
        let g = common::grid(10);
        let k = key(0);
        let keys = k.key_chain();
        let first = common::data(3 * SEG, 5);
        create(&g.grid, k.clone(), first.clone(), opts(Version::Mdmf))
            .await
            .unwrap();
        let stale = servermap::update(&g.grid, &keys).await;
        let range = SEG as u64 - 10..SEG as u64 + 10;
        let r = range.start as usize..range.end as usize;

        // Updated under the map: every share now holds seqnum 2.
        let second = common::data(3 * SEG, 6);
        let map = servermap::update(&g.grid, &keys).await;
        lafs_client::mutable::overwrite(
            &g.grid,
            k.clone(),
            &map,
            second.clone(),
            opts(Version::Mdmf),
        )
        .await
        .unwrap();
        let got = read_range(&g.grid, &keys, &stale, range.clone())
            .await
            .unwrap();
        assert!(got == second[r.clone()], "read the old or no version");
        // A share that changed is not corrupt: no advisory went out.
        for f in &g.faults {
            assert!(f.mutable_advisories.lock().unwrap().is_empty());
        }

        // Moved under the map: the shares on the first servers the map
        // names go elsewhere (copied to a server without them, then
        // deleted), so the old locations hold fewer than k.
        let stale = servermap::update(&g.grid, &keys).await;
        let (_, _, locs) = stale.best_recoverable().unwrap();
        let locs = locs.to_vec();
        for (i, l) in locs.iter().take(8).enumerate() {
            let from = &g.grid.servers()[l.server];
            let share = from
                .client
                .read_mutable_share(keys.storage_index, l.shnum, 0, u64::MAX)
                .await
                .unwrap()
                .to_vec();
            // The servers that will hold nothing of ours after the move.
            let to = locs[8 + i % 2].server;
            common::raw_write(&g.grid, &keys, to, l.shnum, vec![], share).await;
            common::raw_delete(&g.grid, &keys, l.server, l.shnum).await;
        }
        let got = read_range(&g.grid, &keys, &stale, range.clone())
            .await
            .unwrap();
        assert!(got == second[r], "moved shares were not found again");
    });
}

#[test]
fn small_files_are_read_once_by_servermap_and_retrieve() {
    common::rt().block_on(async {
        let g = common::grid(10);
        let k = key(1);
        let keys = k.key_chain();
        let plain = common::data(1000, 8);
        create(&g.grid, k.clone(), plain.clone(), opts(Version::Sdmf))
            .await
            .unwrap();
        g.take_mutable_traffic();
        let map = servermap::update(&g.grid, &keys).await;
        let (by_map, _) = g.take_mutable_traffic();
        assert_eq!(
            map.whole.len(),
            10,
            "a 1000-byte file's shares fit the prefix read"
        );
        let r = lafs_client::mutable::retrieve_from_map(&g.grid, &keys, &map)
            .await
            .unwrap();
        assert!(r.plaintext == plain);
        let (by_retrieve, _) = g.take_mutable_traffic();
        assert!(by_map > 0);
        assert_eq!(
            by_retrieve, 0,
            "retrieve read shares the servermap had read whole"
        );
    });
}
