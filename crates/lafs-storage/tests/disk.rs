//! Disk-store specifics: serving an existing Tahoe `storage/` directory
//! (v1 and v2 containers from Tahoe itself), the on-disk layout of what we
//! write, the lease database and its crawler, and crash safety (dropped
//! servers, leftover partial files, and a child process killed with
//! SIGKILL while writing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lafs_format::container::{Container, ContainerKind};
use lafs_storage::{
    Clock, LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageError, StorageIndex,
    StorageServer, StorageServerOptions, TestWriteVectors, UploadSecret, WriteEnabler, WriteVector,
};

const NODEID: ServerId20 = ServerId20([0x42; 20]);

fn opts() -> StorageServerOptions {
    StorageServerOptions::new(NODEID)
}
fn si(n: u8) -> StorageIndex {
    StorageIndex([n; 16])
}
fn share_path(storage: &Path, si: &StorageIndex, shnum: u16) -> PathBuf {
    let b = si.to_base32();
    storage
        .join("shares")
        .join(&b[..2])
        .join(&b)
        .join(shnum.to_string())
}
fn renew(n: u8) -> LeaseRenewSecret {
    LeaseRenewSecret::from_bytes([n; 32])
}
fn cancel(n: u8) -> LeaseCancelSecret {
    LeaseCancelSecret::from_bytes([n; 32])
}
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(seed)
                .to_be_bytes()[0]
        })
        .collect()
}
fn set(v: &[u16]) -> BTreeSet<u16> {
    v.iter().copied().collect()
}

async fn write_mutable(s: &StorageServer, si: StorageIndex, shnum: u16, data: &[u8]) {
    let tw = TestWriteVectors {
        test: vec![],
        write: vec![WriteVector {
            offset: 0,
            data: data.to_vec(),
        }],
        new_length: Some(data.len() as u64),
    };
    let r = s
        .mutable_test_and_write(
            si,
            &WriteEnabler::from_bytes([5; 32]),
            &renew(1),
            &cancel(1),
            BTreeMap::from([(shnum, tw)]),
            &[],
        )
        .await
        .unwrap();
    assert!(r.success);
}

async fn upload(s: &StorageServer, si: StorageIndex, shnum: u16, data: &[u8]) {
    let secret = UploadSecret::new(vec![1; 20]);
    let a = s
        .allocate_buckets(
            si,
            &renew(1),
            &cancel(1),
            &secret,
            &set(&[shnum]),
            data.len() as u64,
        )
        .await
        .unwrap();
    assert!(a.allocated.contains(&shnum), "{a:?}");
    // Two halves, to exercise the incoming file.
    let mid = data.len() / 2;
    s.write_immutable(si, shnum, &secret, mid as u64, &data[mid..])
        .await
        .unwrap();
    assert!(
        s.write_immutable(si, shnum, &secret, 0, &data[..mid])
            .await
            .unwrap()
            .complete
    );
}

/// Tahoe's own containers (v1 and v2, both families) placed in a Tahoe
/// layout are served as they are; adding a lease keeps each container's
/// version and leaves it parseable, with its data untouched.
#[tokio::test]
async fn serves_tahoe_containers() {
    let Some(meta) = lafs_testing::read_json("extracted/containers/containers.json") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let mut placed = Vec::new();
    for (i, (name, info)) in meta["files"].as_object().unwrap().iter().enumerate() {
        let bytes = lafs_testing::read_vector(&format!("extracted/containers/{name}")).unwrap();
        let wrapped =
            lafs_testing::read_vector(&format!("extracted/{}", info["wraps"].as_str().unwrap()))
                .unwrap();
        let path = share_path(&storage, &si(i as u8 + 1), 0);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        placed.push((
            si(i as u8 + 1),
            ContainerKind::detect(&bytes).unwrap(),
            bytes,
            wrapped,
        ));
    }
    let s = StorageServer::open_disk(&storage, opts()).await.unwrap();
    // The crawler indexed all four.
    s.wait_for_crawl().await;
    let db = s.lease_db().unwrap();
    db.flush();
    assert_eq!(db.share_count().unwrap(), 4);
    for (si, kind, bytes, wrapped) in &placed {
        let data = match kind {
            ContainerKind::Immutable(_) => {
                assert_eq!(s.list_immutable(*si).await.unwrap(), set(&[0]));
                assert_eq!(s.immutable_len(*si, 0).await.unwrap(), wrapped.len() as u64);
                s.read_immutable(*si, 0, 0, 1 << 20).await.unwrap()
            }
            ContainerKind::Mutable(_) => {
                assert_eq!(s.list_mutable(*si).await.unwrap(), set(&[0]));
                s.read_mutable(*si, 0, 0, 1 << 20).await.unwrap()
            }
        };
        assert_eq!(&data, wrapped);
        assert_eq!(db.leases_of(*si, 0).unwrap().len(), 1);
        // Renewing with the vectors' own secret renews (no new lease).
        let mut r = [0u8; 32];
        let mut c = [0u8; 32];
        for i in 0..32 {
            r[i] = i as u8;
            c[i] = 32 + i as u8;
        }
        s.add_or_renew_lease(
            *si,
            &LeaseRenewSecret::from_bytes(r),
            &LeaseCancelSecret::from_bytes(c),
        )
        .await
        .unwrap();
        assert_eq!(
            s.leases(*si, 0).await.unwrap().len(),
            1,
            "{kind:?}: matched the stored secret"
        );
        // A new secret adds a lease in the container's own version.
        s.add_or_renew_lease(*si, &renew(9), &cancel(9))
            .await
            .unwrap();
        let after = std::fs::read(share_path(&storage, si, 0)).unwrap();
        assert_eq!(ContainerKind::detect(&after).unwrap(), *kind);
        let parsed = Container::parse(&after).unwrap();
        assert_eq!(parsed.data(), wrapped.as_slice());
        assert_ne!(&after, bytes);
        assert_eq!(s.leases(*si, 0).await.unwrap().len(), 2);
    }
    db.flush();
    assert_eq!(db.leases_of(si(1), 0).unwrap().len(), 2);
}

/// What we write is what Tahoe 1.20 writes: v2 containers in the Tahoe
/// layout, which lafs-format (checked against Tahoe's vectors) parses.
#[tokio::test]
async fn writes_tahoe_layout_v2() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let s = StorageServer::open_disk(&storage, opts()).await.unwrap();
    upload(&s, si(1), 3, &pattern(5000, 1)).await;
    write_mutable(&s, si(2), 7, &pattern(3000, 2)).await;
    let imm = std::fs::read(share_path(&storage, &si(1), 3)).unwrap();
    assert_eq!(&imm[0..4], &[0, 0, 0, 2]);
    match Container::parse(&imm).unwrap() {
        Container::Immutable(c) => {
            assert_eq!(c.data, pattern(5000, 1).as_slice());
            assert_eq!(c.leases.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    let m = std::fs::read(share_path(&storage, &si(2), 7)).unwrap();
    assert!(m.starts_with(b"Tahoe mutable container v2\n"));
    match Container::parse(&m).unwrap() {
        Container::Mutable(c) => {
            assert_eq!(c.data(), pattern(3000, 2).as_slice());
            assert_eq!(c.nodeid, NODEID);
            assert_eq!(c.leases().count(), 1);
        }
        other => panic!("{other:?}"),
    }
    // Incoming is empty again.
    let incoming: Vec<_> = std::fs::read_dir(storage.join("shares/incoming"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "tmp")
        .collect();
    assert!(incoming.is_empty(), "{incoming:?}");
    let tmp = std::fs::read_dir(storage.join("shares/incoming/tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0);
}

/// The lease database follows every change and answers expiry queries.
#[tokio::test]
async fn lease_db_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let clock = Clock::manual(1_700_000_000);
    let s = StorageServer::open_disk(
        &storage,
        StorageServerOptions {
            clock: clock.clone(),
            ..opts()
        },
    )
    .await
    .unwrap();
    upload(&s, si(1), 0, b"imm").await;
    clock.advance(1000);
    write_mutable(&s, si(2), 0, b"mut").await;
    write_mutable(&s, si(2), 1, b"gone").await;
    s.wait_for_crawl().await;
    let db = s.lease_db().unwrap().clone();
    db.flush();
    assert_eq!(db.share_count().unwrap(), 3);
    // Delete one share with new_length 0.
    let tw = TestWriteVectors {
        test: vec![],
        write: vec![],
        new_length: Some(0),
    };
    s.mutable_test_and_write(
        si(2),
        &WriteEnabler::from_bytes([5; 32]),
        &renew(1),
        &cancel(1),
        BTreeMap::from([(1, tw)]),
        &[],
    )
    .await
    .unwrap();
    db.flush();
    assert_eq!(db.share_count().unwrap(), 2);
    let lease_end = 1_700_000_000 + 31 * 24 * 3600;
    assert!(db.expired_before(lease_end, None).unwrap().is_empty());
    let exp = db.expired_before(lease_end + 1, None).unwrap();
    assert_eq!(exp.len(), 1);
    assert_eq!((exp[0].si, exp[0].shnum), (si(1), 0));
    let usage = db.usage().unwrap();
    assert_eq!(usage[&0].shares, 1);
    assert_eq!(usage[&1].bytes, 3);
    // Clean shutdown: the next open does not need to crawl, and the data
    // is still there.
    s.close().await;
    drop(s);
    drop(db);
    let s = StorageServer::open_disk(&storage, opts()).await.unwrap();
    s.wait_for_crawl().await;
    let db = s.lease_db().unwrap();
    db.flush();
    assert_eq!(db.share_count().unwrap(), 2);
    // An unclean stop with a stale database is repaired by the crawl.
    std::fs::remove_file(share_path(&storage, &si(1), 0)).unwrap();
    drop(s);
    let s = StorageServer::open_disk(&storage, opts()).await.unwrap();
    s.wait_for_crawl().await;
    let db = s.lease_db().unwrap();
    db.flush();
    assert_eq!(db.share_count().unwrap(), 1);
}

/// A server dropped mid-upload, plus partial files left by a crash in every
/// place we write: after reopening, none is visible and existing shares
/// are intact.
#[tokio::test]
async fn partial_files_after_crash_are_invisible() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let s = StorageServer::open_disk(&storage, opts()).await.unwrap();
    upload(&s, si(1), 0, &pattern(4000, 1)).await;
    write_mutable(&s, si(2), 0, &pattern(2000, 2)).await;
    let before_imm = std::fs::read(share_path(&storage, &si(1), 0)).unwrap();
    let before_mut = std::fs::read(share_path(&storage, &si(2), 0)).unwrap();
    // Mid-upload drop.
    let secret = UploadSecret::new(vec![3; 20]);
    s.allocate_buckets(si(3), &renew(1), &cancel(1), &secret, &set(&[0, 1]), 100)
        .await
        .unwrap();
    s.write_immutable(si(3), 0, &secret, 0, &[1; 60])
        .await
        .unwrap();
    drop(s);
    // Leftovers a crash could leave: a half-written incoming share, a
    // half-written replacement copy of the mutable share.
    let b = si(4).to_base32();
    let inc = storage.join("shares/incoming").join(&b[..2]).join(&b);
    std::fs::create_dir_all(&inc).unwrap();
    std::fs::write(inc.join("0"), &before_imm[..100]).unwrap();
    std::fs::write(
        storage
            .join("shares/incoming/tmp")
            .join(format!("{}.0.0", si(2))),
        &before_mut[..700],
    )
    .unwrap();
    let s = StorageServer::open_disk(&storage, opts()).await.unwrap();
    assert!(s.list_immutable(si(3)).await.unwrap().is_empty());
    assert!(s.list_immutable(si(4)).await.unwrap().is_empty());
    assert!(matches!(
        s.read_immutable(si(3), 0, 0, 10).await,
        Err(StorageError::NoSuchShare)
    ));
    assert_eq!(
        std::fs::read(share_path(&storage, &si(1), 0)).unwrap(),
        before_imm
    );
    assert_eq!(
        std::fs::read(share_path(&storage, &si(2), 0)).unwrap(),
        before_mut
    );
    assert_eq!(
        std::fs::read_dir(storage.join("shares/incoming/tmp"))
            .unwrap()
            .count(),
        0
    );
    // The dropped upload's share numbers can be allocated again.
    let a = s
        .allocate_buckets(si(3), &renew(1), &cancel(1), &secret, &set(&[0, 1]), 100)
        .await
        .unwrap();
    assert_eq!(a.allocated, set(&[0, 1]));
}

// ------------------------------------------------------------ SIGKILL test

const CHILD_ENV: &str = "LAFS_STORAGE_CRASH_CHILD";

/// Mutable content for version `v` of share `(si, shnum)`: its length and
/// bytes both depend on `v`, so a torn write cannot look like a version.
fn version_bytes(v: u32) -> Vec<u8> {
    let mut d = v.to_be_bytes().to_vec();
    d.extend(pattern(500 + (v as usize * 977) % 30_000, v));
    d
}

/// Immutable content for share `n`.
fn immutable_bytes(n: u32) -> Vec<u8> {
    pattern(1000 + (n as usize * 7919) % 100_000, n + 1_000_000)
}

/// The child: write forever (until killed) into the directory it is given:
/// new immutable shares and new versions of a few mutable shares, with
/// lease renewals in between; each completed step is appended to a log so
/// the parent knows it made progress.
#[test]
#[ignore = "run only as the child of sigkill_while_writing"]
fn crash_child() {
    let Ok(storage) = std::env::var(CHILD_ENV) else {
        return;
    };
    let storage = PathBuf::from(storage);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = StorageServer::open_disk(&storage, opts()).await.unwrap();
        let start: u32 = std::fs::read_to_string(storage.join("../next"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        // Redo the step that was in flight when the last child was killed
        // (it may or may not have completed).
        for step in start.saturating_sub(1)..start + 100_000 {
            // Atomically (write + rename): a kill must not leave it empty.
            std::fs::write(storage.join("../next.tmp"), (step + 1).to_string()).unwrap();
            std::fs::rename(storage.join("../next.tmp"), storage.join("../next")).unwrap();
            let n = step;
            let si_n = StorageIndex([
                (n % 200) as u8,
                (n / 200) as u8,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
            ]);
            if s.list_immutable(si_n).await.unwrap().contains(&0) {
                continue;
            }
            upload(
                &s,
                StorageIndex([
                    (n % 200) as u8,
                    (n / 200) as u8,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                ]),
                0,
                &immutable_bytes(n),
            )
            .await;
            write_mutable(&s, si(7), (n % 3) as u16, &version_bytes(n)).await;
            s.add_or_renew_lease(si(7), &renew((n % 7) as u8), &cancel(0))
                .await
                .unwrap();
        }
    });
}

/// Kill a writing child with SIGKILL at several moments; after each kill,
/// reopen and check that every visible share is whole (a complete
/// immutable share with the right bytes, or some complete version of each
/// mutable share) and that a pre-existing Tahoe share is byte-identical.
#[test]
fn sigkill_while_writing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    // A pre-existing Tahoe v1 container that must survive untouched.
    let witness = lafs_testing::read_vector("extracted/containers/immutable-v1-chk-3of10-1seg-sh0");
    if let Some(w) = &witness {
        let p = share_path(&storage, &si(200), 0);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, w).unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut kills = 0;
    for round in 0..10u64 {
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "crash_child", "--ignored", "--nocapture"])
            .env(CHILD_ENV, &storage)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Let it make some progress (bounded wait), then kill it at a
        // varying moment.
        let begin: u32 = std::fs::read_to_string(dir.path().join("next"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now: u32 = std::fs::read_to_string(dir.path().join("next"))
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            if now >= begin + 3 + round as u32 || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(round * 7 % 23));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        rt.block_on(verify_after_crash(&storage, witness.as_deref()));
    }
    assert_eq!(kills, 10);
    // The children really worked (a child that died early would make the
    // checks above vacuous).
    let next: u32 = std::fs::read_to_string(dir.path().join("next"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(next >= 10 * 3, "children made too little progress: {next}");
}

async fn verify_after_crash(storage: &Path, witness: Option<&[u8]>) {
    let s = StorageServer::open_disk(storage, opts()).await.unwrap();
    if let Some(w) = witness {
        assert_eq!(std::fs::read(share_path(storage, &si(200), 0)).unwrap(), w);
    }
    let next: u32 = std::fs::read_to_string(storage.join("../next"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for n in 0..next {
        let si_n = StorageIndex([
            (n % 200) as u8,
            (n / 200) as u8,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
        ]);
        let list = s.list_immutable(si_n).await.unwrap();
        if list.contains(&0) {
            assert_eq!(
                s.read_immutable(si_n, 0, 0, 1 << 20).await.unwrap(),
                immutable_bytes(n),
                "share {n}"
            );
        } else {
            // Only the step in flight may be missing.
            assert!(n + 1 >= next, "immutable share {n} of {next} lost");
        }
    }
    for shnum in s.list_mutable(si(7)).await.unwrap() {
        let data = s.read_mutable(si(7), shnum, 0, 1 << 20).await.unwrap();
        let v = u32::from_be_bytes(data[0..4].try_into().unwrap());
        assert_eq!(data, version_bytes(v), "mutable share {shnum} is torn");
        assert_eq!(v % 3, u32::from(shnum));
    }
    // The crash left the database unclean, so it was re-crawled.
    s.wait_for_crawl().await;
    let db = s.lease_db().unwrap();
    db.flush();
    let on_disk = (0..next)
        .filter(|n| {
            share_path(
                storage,
                &StorageIndex([
                    (n % 200) as u8,
                    (n / 200) as u8,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                    1,
                ]),
                0,
            )
            .exists()
        })
        .count()
        + s.list_mutable(si(7)).await.unwrap().len()
        + usize::from(witness.is_some());
    assert_eq!(db.share_count().unwrap() as usize, on_disk);
}

// ------------------------------------------------------------ lease expiry

async fn rtw_create(s: &StorageServer, si: StorageIndex, data: &[u8]) {
    write_mutable(s, si, 0, data).await;
}

/// Expiry deletes exactly the shares whose every lease has expired, per
/// policy and per kind, found through the lease database; a worker runs
/// passes in the background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_expiry() {
    use lafs_storage::{ExpirationMode, ExpirationOptions, WorkerState};
    const T0: u64 = 1_700_000_000;
    const DAY: u64 = 24 * 3600;
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let clock = Clock::manual(T0);
    let expire = ExpirationOptions {
        enabled: true,
        mode: ExpirationMode::Age,
        immutable: true,
        mutable: false,
    };
    let o = StorageServerOptions {
        clock: clock.clone(),
        expire,
        ..opts()
    };
    let s = StorageServer::open_disk(&storage, o.clone()).await.unwrap();
    upload(&s, si(1), 0, b"old immutable").await;
    rtw_create(&s, si(2), b"old mutable").await;
    clock.advance(10 * DAY);
    upload(&s, si(3), 0, b"young immutable").await;
    // Day 31 + 1s: the first two leases are past expiry; the mutable one
    // is kept because expire.mutable is off.
    clock.advance(21 * DAY + 1);
    let r = s.expire_once().await.unwrap();
    assert_eq!((r.examined, r.deleted), (1, 1), "{r:?}");
    assert!(s.list_immutable(si(1)).await.unwrap().is_empty());
    assert_eq!(s.list_mutable(si(2)).await.unwrap(), set(&[0]));
    assert_eq!(s.list_immutable(si(3)).await.unwrap(), set(&[0]));
    assert!(!share_path(&storage, &si(1), 0).exists());
    // A renewed share survives; with mutable expiry on, the stale mutable goes.
    s.add_or_renew_lease(si(3), &renew(1), &cancel(1))
        .await
        .unwrap();
    drop(s);
    let mut o2 = o.clone();
    o2.expire.mutable = true;
    // 25 more days: si(3)'s original lease has expired but the renewal
    // (at day 31) has not.
    clock.advance(25 * DAY);
    let s = StorageServer::open_disk(&storage, o2.clone())
        .await
        .unwrap();
    let r = s.expire_once().await.unwrap();
    assert_eq!(r.deleted, 1, "{r:?}");
    assert!(s.list_mutable(si(2)).await.unwrap().is_empty());
    assert_eq!(s.list_immutable(si(3)).await.unwrap(), set(&[0]));
    // cutoff-date mode: leases renewed before the cutoff expire.
    drop(s);
    let mut o3 = o2.clone();
    o3.expire.mode = ExpirationMode::CutoffDate(T0 + 31 * DAY + 10);
    let s = StorageServer::open_disk(&storage, o3).await.unwrap();
    let r = s.expire_once().await.unwrap();
    assert_eq!(r.deleted, 1, "{r:?}");
    assert!(s.list_immutable(si(3)).await.unwrap().is_empty());
    // The worker: new share, expire it via a background pass.
    upload(&s, si(4), 0, b"worker").await;
    drop(s);
    let mut o4 = o2.clone();
    o4.expire.mode = ExpirationMode::AgeOverride(0);
    clock.advance(1);
    let s = StorageServer::open_disk(&storage, o4).await.unwrap();
    let w = s.spawn_expiry_worker(Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.progress().2 == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(w.progress().2, 1);
    assert!(s.list_immutable(si(4)).await.unwrap().is_empty());
    assert_ne!(w.state(), WorkerState::Done);
    w.cancel();
}

// ------------------------------------------------------------ a real full disk

/// A small tmpfs mounted for the test (needs root; the test is skipped when
/// mounting fails), unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?
            .success();
        ok.then(|| Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Fill the filesystem holding `dir` until a write fails.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    for _ in 0..100_000 {
        if f.write_all(&chunk).and_then(|_| f.sync_all()).is_err() {
            break;
        }
    }
    path
}

/// On a really full disk every write fails with `NoSpace`, nothing
/// existing is damaged, no partial file becomes visible, and work resumes
/// once space is freed.
#[tokio::test]
async fn full_tmpfs() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(&dir.path().join("mnt"), "2m") else {
        eprintln!("SKIP: cannot mount a tmpfs (not root?)");
        return;
    };
    let storage = mnt.0.join("storage");
    let s = StorageServer::open_disk(&storage, opts()).await.unwrap();
    upload(&s, si(1), 0, &pattern(100_000, 1)).await;
    write_mutable(&s, si(2), 0, &pattern(10_000, 2)).await;
    let imm_before = std::fs::read(share_path(&storage, &si(1), 0)).unwrap();
    let mut_before = std::fs::read(share_path(&storage, &si(2), 0)).unwrap();
    let secret = UploadSecret::new(vec![1; 20]);
    let a = s
        .allocate_buckets(si(3), &renew(1), &cancel(1), &secret, &set(&[0]), 600_000)
        .await
        .unwrap();
    assert_eq!(a.allocated, set(&[0]));
    let filler = fill(&mnt.0);
    // Immutable write: ENOSPC surfaces as NoSpace.
    let e = s
        .write_immutable(si(3), 0, &secret, 0, &pattern(600_000, 3))
        .await
        .unwrap_err();
    assert!(matches!(e, StorageError::NoSpace), "{e:?}");
    // New allocations: none (no space), no error.
    let a = s
        .allocate_buckets(si(4), &renew(1), &cancel(1), &secret, &set(&[0]), 1000)
        .await
        .unwrap();
    assert!(a.allocated.is_empty());
    // Same-size mutable rewrite (no growth, so only the disk can refuse).
    let tw = TestWriteVectors {
        test: vec![],
        write: vec![WriteVector {
            offset: 0,
            data: pattern(10_000, 9),
        }],
        new_length: None,
    };
    let e = s
        .mutable_test_and_write(
            si(2),
            &WriteEnabler::from_bytes([5; 32]),
            &renew(1),
            &cancel(1),
            BTreeMap::from([(0, tw)]),
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StorageError::NoSpace | StorageError::Io(_)),
        "{e:?}"
    );
    // A new lease holder on the immutable share (a copy is needed).
    let e = s
        .add_or_renew_lease(si(1), &renew(8), &cancel(8))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StorageError::NoSpace | StorageError::Io(_)),
        "{e:?}"
    );
    // Nothing damaged, nothing half-written visible, no temp files left.
    assert_eq!(
        std::fs::read(share_path(&storage, &si(1), 0)).unwrap(),
        imm_before
    );
    assert_eq!(
        std::fs::read(share_path(&storage, &si(2), 0)).unwrap(),
        mut_before
    );
    assert!(s.list_immutable(si(3)).await.unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(storage.join("shares/incoming/tmp"))
            .unwrap()
            .count(),
        0
    );
    // Free space: the upload resumes and completes.
    std::fs::remove_file(filler).unwrap();
    let p = s
        .write_immutable(si(3), 0, &secret, 0, &pattern(600_000, 3))
        .await
        .unwrap();
    assert!(p.complete);
    assert_eq!(
        s.read_immutable(si(3), 0, 0, 1 << 20).await.unwrap(),
        pattern(600_000, 3)
    );
    s.add_or_renew_lease(si(1), &renew(8), &cancel(8))
        .await
        .unwrap();
    assert_eq!(s.leases(si(1), 0).await.unwrap().len(), 2);
    drop(s);
}
