//! Check, verify, repair and deep-check on an in-process grid of disk
//! servers, damaged by deleting and corrupting share files in Tahoe's
//! layout (`shares/<2 chars>/<SI>/<shnum>`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use lafs_client::check::{check, check_and_repair, deep_check, CheckOptions};
use lafs_client::dirnode::Dirnode;
use lafs_client::mutable::{create, retrieve, PublishOptions};
use lafs_client::{
    download_to_vec, upload_bytes, Grid, GridServer, LeaseSecret, LocalClient, UploadOptions,
};
use lafs_format::base32;
use lafs_format::cap::{Cap, FileCap, MutableFormat, SskWriteCap};
use lafs_format::chk::EncodingParams;
use lafs_format::keys::{ConvergenceSecret, StorageIndex};
use lafs_format::mutable::{KeyChain, PrivateKey, Version};
use lafs_storage::{StorageServer, StorageServerOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct DiskGrid {
    grid: Grid<LocalClient>,
    dirs: Vec<PathBuf>,
    _tmp: tempfile::TempDir,
}

async fn disk_grid(n: usize) -> DiskGrid {
    let tmp = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..n {
        let id = common::server_id(i, 0x77);
        let dir = tmp.path().join(format!("s{i}"));
        let engine = StorageServer::open_disk(&dir, StorageServerOptions::new(id))
            .await
            .unwrap();
        servers.push(GridServer {
            id: format!("server-{i}"),
            permutation_seed: vec![i as u8; 32],
            lease_seed: id,
            client: LocalClient::new(engine),
        });
        dirs.push(dir);
    }
    DiskGrid {
        grid: Grid::new(servers, LeaseSecret::new(vec![9; 32])),
        dirs,
        _tmp: tmp,
    }
}

impl DiskGrid {
    /// Every stored copy of share `shnum` of `si`.
    fn share_files(&self, si: &StorageIndex, shnum: u16) -> Vec<PathBuf> {
        let b = base32::encode(si.as_bytes());
        self.dirs
            .iter()
            .map(|d| {
                d.join("shares")
                    .join(&b[..2])
                    .join(&b)
                    .join(shnum.to_string())
            })
            .filter(|p| p.exists())
            .collect()
    }

    fn delete(&self, si: &StorageIndex, shnum: u16) {
        let files = self.share_files(si, shnum);
        assert!(!files.is_empty(), "share {shnum} exists");
        for f in files {
            std::fs::remove_file(f).unwrap();
        }
    }

    /// Flip a byte `from_end` bytes before the end of the file.
    fn corrupt(&self, si: &StorageIndex, shnum: u16, from_end: usize) {
        for f in self.share_files(si, shnum) {
            flip(&f, from_end);
        }
    }
}

fn flip(f: &Path, from_end: usize) {
    let mut b = std::fs::read(f).unwrap();
    let at = b.len() - from_end;
    b[at] ^= 0x40;
    std::fs::write(f, b).unwrap();
}

fn verify() -> CheckOptions {
    CheckOptions {
        verify: true,
        ..Default::default()
    }
}

fn upload_opts() -> UploadOptions {
    let mut o = UploadOptions::convergent(ConvergenceSecret::new(b"check".to_vec()));
    o.params = EncodingParams {
        max_segment_size: 4096,
        ..EncodingParams::default()
    };
    o
}

#[test]
fn immutable_check_verify_repair() {
    common::rt().block_on(async {
        let g = disk_grid(12).await;
        let plain = common::data(50_000, 7);
        let up = upload_bytes(&g.grid, Bytes::from(plain.clone()), &upload_opts())
            .await
            .unwrap();
        let cap = Cap::File(up.cap.clone());
        let si = cap.storage_index().unwrap();

        let r = check(&g.grid, &cap, verify()).await;
        assert!(r.healthy && r.recoverable, "{r:?}");
        assert_eq!((r.count_shares_good, r.count_happiness), (10, 10));
        assert_eq!(r.summary, "Healthy");
        assert_eq!(r.servers_responding.len(), 12);
        let j = r.to_tahoe_json();
        assert_eq!(j["storage-index"], base32::encode(si.as_bytes()));
        assert_eq!(j["results"]["count-shares-expected"], 10);
        assert_eq!(j["results"]["sharemap"]["0"].as_array().unwrap().len(), 1);

        // Three shares gone, one with a flipped byte in its block data.
        for n in 0..3 {
            g.delete(&si, n);
        }
        // Block data sits before the trees and the UEB (~1.2 KiB here).
        g.corrupt(&si, 3, 4000);

        let r = check(&g.grid, &cap, CheckOptions::default()).await;
        assert_eq!(
            r.count_shares_good, 7,
            "without verify the bad share counts"
        );
        assert!(!r.healthy && r.recoverable);
        assert_eq!(r.summary, "Not Healthy: 7 shares (enc 3-of-10)");
        let r = check(&g.grid, &cap, verify()).await;
        assert_eq!(r.count_shares_good, 6);
        assert_eq!(r.list_corrupt_shares.len(), 1);
        assert_eq!(r.list_corrupt_shares[0].1, 3);
        assert_eq!(r.to_tahoe_json()["results"]["count-corrupt-shares"], 1);

        let rr = check_and_repair(
            &g.grid,
            &cap,
            CheckOptions {
                verify: true,
                repair: true,
                add_lease: true,
            },
        )
        .await;
        assert!(rr.repair_attempted, "{rr:?}");
        assert!(rr.repair_successful, "{rr:?}");
        assert!(!rr.pre.healthy && rr.post.healthy);
        assert_eq!(rr.post.count_shares_good, 10);
        let j = rr.to_tahoe_json();
        assert_eq!(j["repair-successful"], true);
        assert_eq!(j["post-repair-results"]["results"]["healthy"], true);
        // The repaired file reads back identical and the cap is unchanged.
        assert!(download_to_vec(&g.grid, &up.cap, None).await.unwrap() == plain);
        for n in 0..3 {
            assert_eq!(g.share_files(&si, n).len(), 1, "share {n} is back");
        }

        // A healthy file is not repaired again.
        let rr = check_and_repair(&g.grid, &cap, verify()).await;
        assert!(!rr.repair_attempted && rr.post.healthy);

        // Unrecoverable: fewer than k shares left.
        for n in 0..8 {
            for f in g.share_files(&si, n) {
                std::fs::remove_file(f).unwrap();
            }
        }
        let rr = check_and_repair(&g.grid, &cap, verify()).await;
        assert!(!rr.pre.recoverable && rr.repair_attempted && !rr.repair_successful);
        lafs_testing::report_family("check: immutable damage scenarios", 5);
    });
}

#[test]
fn literal_is_always_healthy() {
    common::rt().block_on(async {
        let g = disk_grid(1).await;
        let cap = Cap::parse("URI:LIT:mfrgg").unwrap();
        let r = check(&g.grid, &cap, verify()).await;
        assert!(r.healthy);
        assert_eq!(
            r.to_tahoe_json(),
            serde_json::json!({"storage-index": "", "results": {"healthy": true}})
        );
        let rr = check_and_repair(&g.grid, &cap, verify()).await;
        assert_eq!(
            rr.to_tahoe_json(),
            serde_json::json!({"storage-index": "", "repair-attempted": false})
        );
    });
}

async fn mutable_case(version: Version) {
    let g = disk_grid(12).await;
    let key = Arc::new(PrivateKey::generate().unwrap());
    let plain = common::data(300_000, 3);
    let opts = PublishOptions {
        version,
        ..Default::default()
    };
    let p = create(&g.grid, key, plain.clone(), opts).await.unwrap();
    let format = match version {
        Version::Sdmf => MutableFormat::Sdmf,
        Version::Mdmf => MutableFormat::Mdmf,
    };
    let wcap = SskWriteCap {
        format,
        writekey: p.writekey.clone(),
        fingerprint: p.fingerprint,
    };
    let cap = Cap::File(FileCap::SskWrite(wcap.clone()));
    let si = p.storage_index;

    let r = check(&g.grid, &cap, verify()).await;
    assert!(r.healthy, "{r:?}");
    assert_eq!(r.count_recoverable_versions, 1);
    assert!(r.sharemap.keys().all(|k| k.starts_with("seq1-")), "{r:?}");

    g.delete(&si, 0);
    g.delete(&si, 1);
    // A byte of block data (the block hash tree and, for SDMF, the
    // encrypted private key follow it; 3000 bytes back is inside the data).
    g.corrupt(&si, 2, 3000);

    let r = check(&g.grid, &cap, CheckOptions::default()).await;
    assert_eq!(r.count_shares_good, 8);
    assert!(!r.healthy);
    assert_eq!(r.summary, "Unhealthy: 8 shares (enc 3-of-10)");
    let r = check(&g.grid, &cap, verify()).await;
    assert_eq!(r.count_shares_good, 7, "{r:?}");
    assert_eq!(r.list_corrupt_shares.len(), 1);
    assert_eq!(r.list_corrupt_shares[0].1, 2);
    // A verify cap sees the same (it cannot check the private key).
    let vcap = cap.verifier().unwrap();
    let rv = check(&g.grid, &vcap, verify()).await;
    assert_eq!(rv.count_shares_good, 7);
    // A read cap cannot repair.
    let rr = check_and_repair(
        &g.grid,
        &Cap::File(FileCap::SskRead(wcap.readonly())),
        verify(),
    )
    .await;
    assert!(rr.repair_attempted && !rr.repair_successful);

    let rr = check_and_repair(&g.grid, &cap, verify()).await;
    assert!(rr.repair_successful, "{rr:?}");
    assert!(rr.post.healthy && rr.post.list_corrupt_shares.is_empty());
    // Tahoe's repairer republishes as seqnum + 1, replacing every share.
    assert!(rr.post.sharemap.keys().all(|k| k.starts_with("seq2-")));
    assert_eq!(rr.post.count_wrong_shares, 0);
    let keys = KeyChain::from_writekey(p.writekey, p.fingerprint);
    let (got, _) = retrieve(&g.grid, &keys).await.unwrap();
    assert!(got.plaintext == plain);
    assert_eq!(got.seqnum, 2);
}

#[test]
fn sdmf_check_verify_repair() {
    common::rt().block_on(mutable_case(Version::Sdmf));
    lafs_testing::report_family("check: SDMF damage scenarios", 1);
}

#[test]
fn mdmf_check_verify_repair() {
    common::rt().block_on(mutable_case(Version::Mdmf));
    lafs_testing::report_family("check: MDMF damage scenarios", 1);
}

#[test]
fn deep_check_and_repair_a_tree() {
    common::rt().block_on(async {
        let g = disk_grid(10).await;
        let opts = PublishOptions::default();
        let root = Dirnode::create(&g.grid, Arc::new(PrivateKey::generate().unwrap()), opts)
            .await
            .unwrap();
        let sub = Dirnode::create(
            &g.grid,
            Arc::new(PrivateKey::generate().unwrap()),
            PublishOptions {
                version: Version::Mdmf,
                ..opts
            },
        )
        .await
        .unwrap();
        let a = upload_bytes(
            &g.grid,
            Bytes::from(common::data(20_000, 1)),
            &upload_opts(),
        )
        .await
        .unwrap();
        let c = upload_bytes(
            &g.grid,
            Bytes::from(common::data(30_000, 2)),
            &upload_opts(),
        )
        .await
        .unwrap();
        let a_cap = a.cap.to_string();
        let c_cap = c.cap.to_string();
        root.add_child("a", None, Some(a_cap.as_bytes()), false)
            .await
            .unwrap();
        root.add_child("b", None, Some(b"URI:LIT:mfrgg"), false)
            .await
            .unwrap();
        let sub_rw = sub.cap().to_string();
        let sub_ro = sub.cap().readonly().to_string();
        root.add_child(
            "sub",
            Some(sub_rw.as_bytes()),
            Some(sub_ro.as_bytes()),
            false,
        )
        .await
        .unwrap();
        sub.add_child("c", None, Some(c_cap.as_bytes()), false)
            .await
            .unwrap();

        let d = deep_check(&g.grid, &root.cap(), verify()).await;
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        let paths: Vec<String> = d.entries.iter().map(|e| e.path.join("/")).collect();
        assert_eq!(paths, ["", "a", "b", "sub", "sub/c"]);
        assert_eq!(d.count_checked(), 4, "LIT files are not counted");
        assert_eq!(d.count_healthy_pre(), 4);

        // Damage c (immutable) and the sub-directory (mutable).
        let c_si = c.cap.storage_index().unwrap();
        g.delete(&c_si, 5);
        let sub_si = sub.cap().storage_index().unwrap();
        g.delete(&sub_si, 7);

        let d = deep_check(&g.grid, &root.cap(), verify()).await;
        let j = d.to_tahoe_json();
        assert_eq!(j["count-objects-checked"], 4);
        assert_eq!(j["count-objects-unhealthy"], 2);
        assert_eq!(j["list-unhealthy-files"].as_array().unwrap().len(), 2);
        assert_eq!(j["stats"]["count-literal-files"], 1);

        let repair = CheckOptions {
            verify: true,
            repair: true,
            add_lease: false,
        };
        let d = deep_check(&g.grid, &root.cap(), repair).await;
        assert_eq!(d.repairs(), (2, 2));
        let j = d.to_tahoe_json();
        assert_eq!(j["count-objects-healthy-post-repair"], 4);
        assert_eq!(j["count-objects-unhealthy-pre-repair"], 2);
        let lines = d.to_stream_lines();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[4]["path"], serde_json::json!(["sub", "c"]));
        assert_eq!(
            lines[4]["check-and-repair-results"]["repair-successful"],
            true
        );

        let d = deep_check(&g.grid, &root.cap(), verify()).await;
        assert_eq!(d.count_healthy_pre(), 4);
        lafs_testing::report_family("check: deep-check tree scenarios", 3);
    });
}
