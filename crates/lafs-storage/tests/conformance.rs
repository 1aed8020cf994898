//! One conformance suite for every store (spec §7.4, §7.5): each test is a
//! generic function over an [`Env`] that makes servers, and the
//! `conformance!` macro instantiates it for the memory and disk backends.
//! The null backend, which keeps no data, has its own short test at the end.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::single_range_in_vec_init
)]

use std::collections::{BTreeMap, BTreeSet};

use lafs_storage::{
    Allocation, BadRequest, Clock, LeaseCancelSecret, LeaseRenewSecret, MemoryStore, ReadVector,
    ServerId20, ShareKind, StorageError, StorageIndex, StorageServer, StorageServerOptions,
    TestVector, TestWriteVectors, UploadSecret, WriteEnabler, WriteVector,
};

const NODEID: ServerId20 = ServerId20([0x42; 20]);
const T0: u64 = 1_700_000_000;
const DAYS31: u32 = 31 * 24 * 3600;

/// Makes servers of one backend kind; keeps their directories alive.
struct Env {
    kind: Kind,
    dirs: std::sync::Mutex<Vec<tempfile::TempDir>>,
    mounts: std::sync::Mutex<Vec<std::path::PathBuf>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        // Lazy unmount: a lease-database thread may still be closing.
        for m in self.mounts.lock().unwrap().drain(..) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&m)
                .status();
        }
    }
}

/// Mount a private tmpfs of `size` bytes at `at` (root only); false if
/// that is not possible here.
fn mount_tmpfs(at: &std::path::Path, size: u64) -> bool {
    std::fs::create_dir_all(at).is_ok()
        && std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Memory,
    Disk,
}

impl Env {
    fn new(kind: Kind) -> Self {
        Env {
            kind,
            dirs: Default::default(),
            mounts: Default::default(),
        }
    }

    fn opts(&self) -> StorageServerOptions {
        StorageServerOptions {
            clock: Clock::manual(T0),
            ..StorageServerOptions::new(NODEID)
        }
    }

    async fn server(&self) -> StorageServer {
        self.server_with(self.opts()).await
    }

    /// A server whose store reports `free` bytes (memory), or whose
    /// `reserved_space` leaves about `free` bytes (disk).
    async fn server_with_free(&self, free: u64) -> StorageServer {
        match self.kind {
            Kind::Memory => {
                StorageServer::with_memory_store(MemoryStore::with_capacity(free), self.opts())
            }
            Kind::Disk => {
                // On a private tmpfs the free space is ours alone; without
                // root, fall back to the shared filesystem (whose free
                // space other processes move, hence the wide margins in
                // the test).
                let dir = tempfile::tempdir().unwrap();
                let mnt = dir.path().join("mnt");
                let mounted = mount_tmpfs(&mnt, free + (2 << 20));
                let storage = if mounted {
                    mnt.join("storage")
                } else {
                    dir.path().join("storage")
                };
                let probe = StorageServer::open_disk(&storage, self.opts())
                    .await
                    .unwrap();
                let avail = probe.version().await.available_space;
                probe.close().await;
                drop(probe);
                let opts = StorageServerOptions {
                    reserved_space: avail.saturating_sub(free),
                    ..self.opts()
                };
                let s = StorageServer::open_disk(&storage, opts).await.unwrap();
                if mounted {
                    self.mounts.lock().unwrap().push(mnt);
                }
                self.dirs.lock().unwrap().push(dir);
                s
            }
        }
    }

    async fn server_with(&self, opts: StorageServerOptions) -> StorageServer {
        match self.kind {
            Kind::Memory => StorageServer::in_memory(opts),
            Kind::Disk => {
                let dir = tempfile::tempdir().unwrap();
                let s = StorageServer::open_disk(&dir.path().join("storage"), opts)
                    .await
                    .unwrap();
                self.dirs.lock().unwrap().push(dir);
                s
            }
        }
    }
}

fn si(n: u8) -> StorageIndex {
    StorageIndex([n; 16])
}
fn renew(n: u8) -> LeaseRenewSecret {
    LeaseRenewSecret::from_bytes([n; 32])
}
fn cancel(n: u8) -> LeaseCancelSecret {
    LeaseCancelSecret::from_bytes([n ^ 0xff; 32])
}
fn upload(n: u8) -> UploadSecret {
    UploadSecret::new(vec![n; 20])
}
fn we(n: u8) -> WriteEnabler {
    WriteEnabler::from_bytes([n; 32])
}
fn set(v: &[u16]) -> BTreeSet<u16> {
    v.iter().copied().collect()
}
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

async fn allocate(
    s: &StorageServer,
    si: StorageIndex,
    who: u8,
    shares: &[u16],
    size: u64,
) -> Allocation {
    s.allocate_buckets(
        si,
        &renew(who),
        &cancel(who),
        &upload(who),
        &set(shares),
        size,
    )
    .await
    .unwrap()
}

async fn upload_share(s: &StorageServer, si: StorageIndex, shnum: u16, data: &[u8]) {
    let a = allocate(s, si, 1, &[shnum], data.len() as u64).await;
    assert!(a.allocated.contains(&shnum));
    let p = s
        .write_immutable(si, shnum, &upload(1), 0, data)
        .await
        .unwrap();
    assert!(p.complete);
}

fn tw(test: Vec<TestVector>, write: Vec<WriteVector>, new_length: Option<u64>) -> TestWriteVectors {
    TestWriteVectors {
        test,
        write,
        new_length,
    }
}
fn w(offset: u64, data: &[u8]) -> WriteVector {
    WriteVector {
        offset,
        data: data.to_vec(),
    }
}
fn t(offset: u64, size: u64, specimen: &[u8]) -> TestVector {
    TestVector {
        offset,
        size,
        specimen: specimen.to_vec(),
    }
}

async fn rtw(
    s: &StorageServer,
    si: StorageIndex,
    enabler: u8,
    vectors: Vec<(u16, TestWriteVectors)>,
    reads: &[ReadVector],
) -> Result<lafs_storage::TestWriteResult, StorageError> {
    s.mutable_test_and_write(
        si,
        &we(enabler),
        &renew(9),
        &cancel(9),
        vectors.into_iter().collect(),
        reads,
    )
    .await
}

// ---------------------------------------------------------------- immutable

async fn immutable_upload_and_read(env: &Env) {
    let s = env.server().await;
    let data = pattern(1000, 1);
    let a = allocate(&s, si(1), 1, &[0, 1, 2], 1000).await;
    assert_eq!(a.allocated, set(&[0, 1, 2]));
    assert!(a.already_have.is_empty());
    // In progress: invisible.
    assert!(s.list_immutable(si(1)).await.unwrap().is_empty());
    assert!(matches!(
        s.read_immutable(si(1), 0, 0, 10).await,
        Err(StorageError::NoSuchShare)
    ));
    let p = s
        .write_immutable(si(1), 0, &upload(1), 500, &data[500..])
        .await
        .unwrap();
    assert_eq!((p.required, p.complete), (vec![0..500], false));
    let p = s
        .write_immutable(si(1), 0, &upload(1), 100, &data[100..200])
        .await
        .unwrap();
    assert_eq!(p.required, vec![0..100, 200..500]);
    let p = s
        .write_immutable(si(1), 0, &upload(1), 0, &data[..500])
        .await
        .unwrap();
    assert!(p.complete && p.required.is_empty());
    assert_eq!(s.list_immutable(si(1)).await.unwrap(), set(&[0]));
    assert!(s.list_mutable(si(1)).await.unwrap().is_empty());
    assert_eq!(s.immutable_len(si(1), 0).await.unwrap(), 1000);
    assert_eq!(s.read_immutable(si(1), 0, 0, 1000).await.unwrap(), data);
    assert_eq!(
        s.read_immutable(si(1), 0, 990, 100).await.unwrap(),
        &data[990..]
    );
    assert!(s
        .read_immutable(si(1), 0, 2000, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(s.list_immutable(si(99)).await.unwrap().is_empty());
    // The finished share carries one lease, owner 0, 31 days.
    let leases = s.leases(si(1), 0).await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(
        (leases[0].owner_num, leases[0].expiration),
        (0, T0 as u32 + DAYS31)
    );
}

async fn already_have_lists_every_share_and_skips_in_progress(env: &Env) {
    let s = env.server().await;
    upload_share(&s, si(2), 0, b"zero").await;
    upload_share(&s, si(2), 3, b"three").await;
    // Client 1 has share 1 in progress.
    let a = allocate(&s, si(2), 1, &[1], 10).await;
    assert_eq!(a.allocated, set(&[1]));
    // Client 2 asks for 0, 1, 5: already_have lists 0 and 3 (not asked
    // for), 1 is in neither set, 5 is allocated.
    let a = allocate(&s, si(2), 2, &[0, 1, 5], 10).await;
    assert_eq!(a.already_have, set(&[0, 3]));
    assert_eq!(a.allocated, set(&[5]));
    // Share 1 was not given to client 2.
    assert!(matches!(
        s.write_immutable(si(2), 1, &upload(2), 0, b"x").await,
        Err(StorageError::WrongUploadSecret)
    ));
}

async fn immutable_write_rules(env: &Env) {
    let s = env.server().await;
    allocate(&s, si(3), 1, &[0, 1], 10).await;
    s.write_immutable(si(3), 0, &upload(1), 0, b"hello")
        .await
        .unwrap();
    // Identical overlap is fine, different bytes conflict.
    s.write_immutable(si(3), 0, &upload(1), 2, b"llo")
        .await
        .unwrap();
    assert!(matches!(
        s.write_immutable(si(3), 0, &upload(1), 3, b"XY").await,
        Err(StorageError::ConflictingWrite)
    ));
    // A conflicting write that also overlaps new ground changes nothing.
    assert!(matches!(
        s.write_immutable(si(3), 0, &upload(1), 4, b"Zworld").await,
        Err(StorageError::ConflictingWrite)
    ));
    assert!(matches!(
        s.write_immutable(si(3), 0, &upload(1), 8, b"abc").await,
        Err(StorageError::WriteBeyondAllocated)
    ));
    assert!(matches!(
        s.write_immutable(si(3), 0, &upload(2), 5, b"world").await,
        Err(StorageError::WrongUploadSecret)
    ));
    assert!(matches!(
        s.write_immutable(si(3), 7, &upload(1), 0, b"x").await,
        Err(StorageError::NoSuchUpload)
    ));
    let p = s
        .write_immutable(si(3), 0, &upload(1), 5, b"world")
        .await
        .unwrap();
    assert!(p.complete);
    assert_eq!(
        s.read_immutable(si(3), 0, 0, 100).await.unwrap(),
        b"helloworld"
    );
    // Complete: never overwritten, writes and aborts say so.
    assert!(matches!(
        s.write_immutable(si(3), 0, &upload(1), 0, b"hello").await,
        Err(StorageError::AlreadyComplete)
    ));
    assert!(matches!(
        s.abort_immutable(si(3), 0, &upload(1)).await,
        Err(StorageError::AlreadyComplete)
    ));
    let a = allocate(&s, si(3), 3, &[0], 10).await;
    assert_eq!((a.already_have, a.allocated), (set(&[0]), set(&[])));
    assert_eq!(
        s.read_immutable(si(3), 0, 0, 100).await.unwrap(),
        b"helloworld"
    );
    // Abort: wrong secret refused; right secret frees the share number.
    s.write_immutable(si(3), 1, &upload(1), 0, b"abc")
        .await
        .unwrap();
    assert!(matches!(
        s.abort_immutable(si(3), 1, &upload(2)).await,
        Err(StorageError::WrongUploadSecret)
    ));
    s.abort_immutable(si(3), 1, &upload(1)).await.unwrap();
    assert!(matches!(
        s.abort_immutable(si(3), 1, &upload(1)).await,
        Err(StorageError::NoSuchUpload)
    ));
    let a = allocate(&s, si(3), 2, &[1], 4).await;
    assert_eq!(a.allocated, set(&[1]));
    let p = s
        .write_immutable(si(3), 1, &upload(2), 0, b"new!")
        .await
        .unwrap();
    assert!(p.complete);
    assert_eq!(s.read_immutable(si(3), 1, 0, 100).await.unwrap(), b"new!");
}

async fn immutable_leases(env: &Env) {
    let clock = Clock::manual(T0);
    let s = env
        .server_with(StorageServerOptions {
            clock: clock.clone(),
            ..env.opts()
        })
        .await;
    assert!(matches!(
        s.add_or_renew_lease(si(4), &renew(1), &cancel(1)).await,
        Err(StorageError::NoSuchShare)
    ));
    upload_share(&s, si(4), 0, b"data").await;
    clock.advance(100);
    // Same renew secret: renewed, not added.
    s.add_or_renew_lease(si(4), &renew(1), &cancel(1))
        .await
        .unwrap();
    let l = s.leases(si(4), 0).await.unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].expiration, T0 as u32 + 100 + DAYS31);
    // A new secret adds a lease (owner 1 from the lease endpoint); the data
    // is untouched.
    s.add_or_renew_lease(si(4), &renew(2), &cancel(2))
        .await
        .unwrap();
    let l = s.leases(si(4), 0).await.unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(l[1].owner_num, 1);
    assert_eq!(s.read_immutable(si(4), 0, 0, 100).await.unwrap(), b"data");
    assert_eq!(s.immutable_len(si(4), 0).await.unwrap(), 4);
    // Allocating again renews the requester's lease on existing shares.
    clock.advance(50);
    let a = allocate(&s, si(4), 2, &[0], 4).await;
    assert_eq!(a.already_have, set(&[0]));
    let l = s.leases(si(4), 0).await.unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(l[1].expiration, T0 as u32 + 150 + DAYS31);
    assert_eq!(l[0].expiration, T0 as u32 + 100 + DAYS31);
}

// ---------------------------------------------------------------- mutable

async fn mutable_test_and_set(env: &Env) {
    let s = env.server().await;
    // Create: a missing share reads as empty, so an empty specimen passes.
    let r = rtw(
        &s,
        si(5),
        1,
        vec![(0, tw(vec![t(0, 10, b"")], vec![w(0, b"version one")], None))],
        &[ReadVector { offset: 0, size: 5 }],
    )
    .await
    .unwrap();
    assert!(r.success);
    assert!(r.data.is_empty(), "no share existed before the write");
    assert_eq!(s.list_mutable(si(5)).await.unwrap(), set(&[0]));
    assert!(s.list_immutable(si(5)).await.unwrap().is_empty());
    assert_eq!(
        s.read_mutable(si(5), 0, 0, 100).await.unwrap(),
        b"version one"
    );
    assert_eq!(s.mutable_len(si(5), 0).await.unwrap(), 11);
    // A failing test changes nothing but still returns the reads.
    let r = rtw(
        &s,
        si(5),
        1,
        vec![(0, tw(vec![t(0, 7, b"VERSION")], vec![w(0, b"xxx")], None))],
        &[ReadVector {
            offset: 8,
            size: 100,
        }],
    )
    .await
    .unwrap();
    assert!(!r.success);
    assert_eq!(r.data, BTreeMap::from([(0, vec![b"one".to_vec()])]));
    assert_eq!(
        s.read_mutable(si(5), 0, 0, 100).await.unwrap(),
        b"version one"
    );
    // A nonempty test against a missing share fails (reads as empty).
    let r = rtw(
        &s,
        si(5),
        1,
        vec![(1, tw(vec![t(0, 1, b"v")], vec![w(0, b"x")], None))],
        &[],
    )
    .await
    .unwrap();
    assert!(!r.success);
    assert_eq!(s.list_mutable(si(5)).await.unwrap(), set(&[0]));
    // Tests truncate at the data end.
    let r = rtw(
        &s,
        si(5),
        1,
        vec![(0, tw(vec![t(8, 100, b"one")], vec![w(0, b"VERSION")], None))],
        &[ReadVector { offset: 0, size: 7 }],
    )
    .await
    .unwrap();
    assert!(r.success);
    // Reads are evaluated before the writes, on existing shares only.
    assert_eq!(r.data, BTreeMap::from([(0, vec![b"version".to_vec()])]));
    assert_eq!(
        s.read_mutable(si(5), 0, 0, 100).await.unwrap(),
        b"VERSION one"
    );
    // Writing a new share next to an existing one: reads cover only share 0.
    let r = rtw(
        &s,
        si(5),
        1,
        vec![(3, tw(vec![], vec![w(0, b"three")], None))],
        &[ReadVector { offset: 0, size: 3 }],
    )
    .await
    .unwrap();
    assert_eq!(r.data, BTreeMap::from([(0, vec![b"VER".to_vec()])]));
    assert_eq!(s.list_mutable(si(5)).await.unwrap(), set(&[0, 3]));
    // Every share's test must pass for any write to happen.
    let r = rtw(
        &s,
        si(5),
        1,
        vec![
            (
                0,
                tw(vec![t(0, 7, b"VERSION")], vec![w(0, b"AAAAAAA")], None),
            ),
            (3, tw(vec![t(0, 5, b"wrong")], vec![w(0, b"BBBBB")], None)),
        ],
        &[],
    )
    .await
    .unwrap();
    assert!(!r.success);
    assert_eq!(s.read_mutable(si(5), 0, 0, 7).await.unwrap(), b"VERSION");
}

async fn mutable_write_enabler(env: &Env) {
    let s = env.server().await;
    rtw(
        &s,
        si(6),
        1,
        vec![(0, tw(vec![], vec![w(0, b"secret")], None))],
        &[],
    )
    .await
    .unwrap();
    // A different write enabler is refused, naming the stored nodeid, even
    // when writing a share number that does not exist yet.
    for shnum in [0, 1] {
        let e = rtw(
            &s,
            si(6),
            2,
            vec![(shnum, tw(vec![], vec![w(0, b"evil")], None))],
            &[],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, StorageError::BadWriteEnabler { nodeid } if nodeid == NODEID),
            "{e:?}"
        );
    }
    assert_eq!(s.list_mutable(si(6)).await.unwrap(), set(&[0]));
    assert_eq!(s.read_mutable(si(6), 0, 0, 100).await.unwrap(), b"secret");
}

async fn mutable_holes_truncation_delete(env: &Env) {
    let s = env.server().await;
    rtw(
        &s,
        si(7),
        1,
        vec![(0, tw(vec![], vec![w(10, b"abc")], None))],
        &[],
    )
    .await
    .unwrap();
    let mut expect = vec![0u8; 10];
    expect.extend_from_slice(b"abc");
    assert_eq!(s.read_mutable(si(7), 0, 0, 100).await.unwrap(), expect);
    // Truncate, then extend past the old end: the hole is zeros again.
    rtw(&s, si(7), 1, vec![(0, tw(vec![], vec![], Some(11)))], &[])
        .await
        .unwrap();
    assert_eq!(s.mutable_len(si(7), 0).await.unwrap(), 11);
    rtw(
        &s,
        si(7),
        1,
        vec![(0, tw(vec![], vec![w(13, b"z")], None))],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        s.read_mutable(si(7), 0, 0, 100).await.unwrap(),
        [&[0u8; 10][..], b"a\0\0z"].concat()
    );
    // A larger new_length changes nothing.
    rtw(&s, si(7), 1, vec![(0, tw(vec![], vec![], Some(1000)))], &[])
        .await
        .unwrap();
    assert_eq!(s.mutable_len(si(7), 0).await.unwrap(), 14);
    // Growing a lot (moving the extra leases) keeps every byte.
    let big = pattern(5000, 7);
    rtw(
        &s,
        si(7),
        1,
        vec![(0, tw(vec![], vec![w(14, &big)], None))],
        &[],
    )
    .await
    .unwrap();
    let all = s.read_mutable(si(7), 0, 0, 10_000).await.unwrap();
    assert_eq!(&all[14..], big.as_slice());
    // new_length 0 deletes (writes in the same vector are ignored).
    let r = rtw(
        &s,
        si(7),
        1,
        vec![(0, tw(vec![], vec![w(0, b"x")], Some(0)))],
        &[],
    )
    .await
    .unwrap();
    assert!(r.success);
    assert!(s.list_mutable(si(7)).await.unwrap().is_empty());
    assert!(matches!(
        s.read_mutable(si(7), 0, 0, 1).await,
        Err(StorageError::NoSuchShare)
    ));
    // ... and the slot can be created again by anyone (no share, no enabler).
    rtw(
        &s,
        si(7),
        2,
        vec![(0, tw(vec![], vec![w(0, b"again")], None))],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(s.read_mutable(si(7), 0, 0, 100).await.unwrap(), b"again");
}

async fn mutable_leases(env: &Env) {
    let clock = Clock::manual(T0);
    let s = env
        .server_with(StorageServerOptions {
            clock: clock.clone(),
            ..env.opts()
        })
        .await;
    rtw(
        &s,
        si(8),
        1,
        vec![(0, tw(vec![], vec![w(0, b"m")], None))],
        &[],
    )
    .await
    .unwrap();
    let l = s.leases(si(8), 0).await.unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!((l[0].owner_num, l[0].expiration), (1, T0 as u32 + DAYS31));
    clock.advance(10);
    rtw(
        &s,
        si(8),
        1,
        vec![(0, tw(vec![], vec![w(1, b"n")], None))],
        &[],
    )
    .await
    .unwrap();
    let l = s.leases(si(8), 0).await.unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].expiration, T0 as u32 + 10 + DAYS31);
    // Six more lease holders: four slots fill, the rest go to extra leases.
    for n in 20..26 {
        s.add_or_renew_lease(si(8), &renew(n), &cancel(n))
            .await
            .unwrap();
    }
    assert_eq!(s.leases(si(8), 0).await.unwrap().len(), 7);
    // Growing the data moves the extra leases; all survive.
    rtw(
        &s,
        si(8),
        1,
        vec![(0, tw(vec![], vec![w(0, &pattern(3000, 1))], None))],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(s.leases(si(8), 0).await.unwrap().len(), 7);
    assert_eq!(
        s.read_mutable(si(8), 0, 0, 5000).await.unwrap(),
        pattern(3000, 1)
    );
    // Only the shares a request writes get their lease renewed (Tahoe 1.20
    // renews `remaining_shares`, not the whole slot).
    rtw(
        &s,
        si(8),
        1,
        vec![(1, tw(vec![], vec![w(0, b"one")], None))],
        &[],
    )
    .await
    .unwrap();
    let before = s.leases(si(8), 1).await.unwrap();
    clock.advance(500);
    rtw(
        &s,
        si(8),
        1,
        vec![(0, tw(vec![], vec![w(0, b"zero")], None))],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(s.leases(si(8), 1).await.unwrap(), before);
    let renewed = s.leases(si(8), 0).await.unwrap();
    assert_eq!(renewed[0].expiration, T0 as u32 + 510 + DAYS31);
}

// ---------------------------------------------------------------- limits

async fn readonly_refuses_writes(env: &Env) {
    let s = env
        .server_with(StorageServerOptions {
            readonly: true,
            ..env.opts()
        })
        .await;
    let a = allocate(&s, si(9), 1, &[0, 1], 100).await;
    assert!(a.allocated.is_empty());
    assert_eq!(s.version().await.available_space, 0);
    let e = rtw(
        &s,
        si(9),
        1,
        vec![(0, tw(vec![], vec![w(0, b"x")], None))],
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StorageError::ReadOnly), "{e:?}");
    assert!(s.list_mutable(si(9)).await.unwrap().is_empty());
}

async fn full_disk_refuses_cleanly(env: &Env) {
    // The disk variant shares its filesystem with whatever else runs, so
    // it leaves a wider margin.
    let free: u64 = match env.kind {
        Kind::Memory => 10_000,
        Kind::Disk => 32 << 20,
    };
    let s = env.server_with_free(free).await;
    upload_share(&s, si(10), 0, &pattern(1000, 3)).await;
    rtw(
        &s,
        si(10),
        1,
        vec![(1, tw(vec![], vec![w(0, b"small")], None))],
        &[],
    )
    .await
    .unwrap();
    // Too big for what is left: not allocated (Tahoe semantics), no error.
    let a = allocate(&s, si(11), 1, &[0, 1], 1 << 50).await;
    assert!(a.allocated.is_empty());
    // Allocations count against space while in progress.
    let a = allocate(&s, si(11), 1, &[0, 1, 2, 3], free / 3).await;
    assert!(a.allocated.len() < 4 && !a.allocated.is_empty(), "{a:?}");
    // A mutable write past the free space is refused before it is built.
    let e = rtw(
        &s,
        si(10),
        1,
        vec![(1, tw(vec![], vec![w(4 * free, b"x")], None))],
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StorageError::NoSpace), "{e:?}");
    // Nothing was damaged.
    assert_eq!(
        s.read_immutable(si(10), 0, 0, 2000).await.unwrap(),
        pattern(1000, 3)
    );
    assert_eq!(s.read_mutable(si(10), 1, 0, 100).await.unwrap(), b"small");
}

async fn malformed_input_refused(env: &Env) {
    let s = env.server().await;
    let e = s
        .allocate_buckets(si(12), &renew(1), &cancel(1), &upload(1), &set(&[256]), 10)
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        StorageError::BadRequest(BadRequest::ShareNumberOutOfRange)
    ));
    let e = s
        .allocate_buckets(
            si(12),
            &renew(1),
            &cancel(1),
            &UploadSecret::new(vec![]),
            &set(&[1]),
            10,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        StorageError::BadRequest(BadRequest::EmptyUploadSecret)
    ));
    allocate(&s, si(12), 1, &[1], 10).await;
    let e = s
        .write_immutable(si(12), 1, &upload(1), u64::MAX, b"xx")
        .await
        .unwrap_err();
    assert!(
        matches!(e, StorageError::BadRequest(BadRequest::RangeOverflow)),
        "{e:?}"
    );
    let e = rtw(
        &s,
        si(12),
        1,
        vec![(300, tw(vec![], vec![w(0, b"x")], None))],
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StorageError::BadRequest(_)));
    // Absurd mutable offsets are refused before anything is allocated.
    let e = rtw(
        &s,
        si(12),
        1,
        vec![(0, tw(vec![], vec![w(1 << 50, b"x")], None))],
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StorageError::TooLarge), "{e:?}");
    assert!(s.list_mutable(si(12)).await.unwrap().is_empty());
    assert!(matches!(
        s.read_immutable(si(12), 999, 0, 1).await,
        Err(StorageError::BadRequest(_))
    ));
}

async fn corruption_advisories(env: &Env) {
    let s = env.server().await;
    assert!(matches!(
        s.advise_corrupt(ShareKind::Immutable, si(13), 0, "bad")
            .await,
        Err(StorageError::NoSuchShare)
    ));
    upload_share(&s, si(13), 0, b"x").await;
    s.advise_corrupt(ShareKind::Immutable, si(13), 0, "block hash mismatch")
        .await
        .unwrap();
    assert!(matches!(
        s.advise_corrupt(ShareKind::Mutable, si(13), 0, "bad").await,
        Err(StorageError::NoSuchShare)
    ));
}

async fn concurrent_uploads(env: &Env) {
    let s = env.server().await;
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let data = pattern(10_000, n);
            for shnum in 0..3u16 {
                upload_share(&s, si(100 + n), shnum, &data).await;
            }
            rtw(
                &s,
                si(100 + n),
                1,
                vec![(0, tw(vec![], vec![w(0, &data)], None))],
                &[],
            )
            .await
            .unwrap_err(); // share 0 is immutable here
            data
        }));
    }
    for (n, task) in tasks.into_iter().enumerate() {
        let data = task.await.unwrap();
        for shnum in 0..3 {
            assert_eq!(
                s.read_immutable(si(100 + n as u8), shnum, 0, 20_000)
                    .await
                    .unwrap(),
                data
            );
        }
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::Env::new(super::Kind::Memory)).await;
                }
            )*
        }
        mod disk {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&super::Env::new(super::Kind::Disk)).await;
                }
            )*
        }
    };
}

conformance!(
    immutable_upload_and_read,
    already_have_lists_every_share_and_skips_in_progress,
    immutable_write_rules,
    immutable_leases,
    mutable_test_and_set,
    mutable_write_enabler,
    mutable_holes_truncation_delete,
    mutable_leases,
    readonly_refuses_writes,
    full_disk_refuses_cleanly,
    malformed_input_refused,
    corruption_advisories,
    concurrent_uploads,
);

/// The null backend: the protocol runs, data is discarded.
#[tokio::test]
async fn null_backend() {
    let s = StorageServer::null(StorageServerOptions::new(NODEID));
    let a = allocate(&s, si(1), 1, &[0, 1], 100).await;
    assert_eq!(a.allocated, set(&[0, 1]));
    let p = s
        .write_immutable(si(1), 0, &upload(1), 0, &[7; 60])
        .await
        .unwrap();
    assert_eq!(p.required, vec![60..100]);
    assert!(matches!(
        s.write_immutable(si(1), 0, &upload(2), 60, &[7; 40]).await,
        Err(StorageError::WrongUploadSecret)
    ));
    let p = s
        .write_immutable(si(1), 0, &upload(1), 60, &[7; 40])
        .await
        .unwrap();
    assert!(p.complete);
    assert_eq!(s.list_immutable(si(1)).await.unwrap(), set(&[0]));
    assert_eq!(
        s.read_immutable(si(1), 0, 90, 100).await.unwrap(),
        vec![0; 10]
    );
    let a = allocate(&s, si(1), 2, &[0, 1], 100).await;
    assert_eq!((a.already_have, a.allocated), (set(&[0]), set(&[])));
    let r = rtw(
        &s,
        si(2),
        1,
        vec![(0, tw(vec![], vec![w(0, b"x")], None))],
        &[],
    )
    .await
    .unwrap();
    assert!(r.success);
}
