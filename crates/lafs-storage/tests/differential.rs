//! Differential test: random operation sequences give identical answers
//! (results, errors, leases, final contents) on the memory and disk stores.
//! The conformance suite pins the rules; this catches a backend that
//! deviates from the other anywhere the suite did not look.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use lafs_storage::{
    Clock, LeaseCancelSecret, LeaseRenewSecret, ReadVector, ServerId20, StorageIndex,
    StorageServer, StorageServerOptions, TestVector, TestWriteVectors, UploadSecret, WriteEnabler,
    WriteVector,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Allocate {
        si: u8,
        who: u8,
        shares: Vec<u16>,
        size: u64,
    },
    Write {
        si: u8,
        shnum: u16,
        who: u8,
        offset: u64,
        len: u64,
        seed: u8,
    },
    Abort {
        si: u8,
        shnum: u16,
        who: u8,
    },
    Rtw {
        si: u8,
        we: u8,
        shnum: u16,
        test: Option<(u64, u64, u8)>,
        write: Vec<(u64, u64, u8)>,
        new_length: Option<u64>,
        read: (u64, u64),
    },
    Renew {
        si: u8,
        who: u8,
    },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let si = 0u8..3;
    prop_oneof![
        (
            si.clone(),
            0u8..2,
            prop::collection::vec(0u16..4, 1..3),
            0u64..64
        )
            .prop_map(|(si, who, shares, size)| Op::Allocate {
                si,
                who,
                shares,
                size
            }),
        (si.clone(), 0u16..4, 0u8..2, 0u64..70, 0u64..40, 0u8..2).prop_map(
            |(si, shnum, who, offset, len, seed)| Op::Write {
                si,
                shnum,
                who,
                offset,
                len,
                seed
            }
        ),
        (si.clone(), 0u16..4, 0u8..2).prop_map(|(si, shnum, who)| Op::Abort { si, shnum, who }),
        (
            si.clone(),
            0u8..2,
            0u16..4,
            prop::option::of((0u64..50, 0u64..20, 0u8..2)),
            prop::collection::vec((0u64..600, 0u64..300, 0u8..3), 0..3),
            prop::option::of(0u64..500),
            (0u64..600, 0u64..100)
        )
            .prop_map(|(si, we, shnum, test, write, new_length, read)| Op::Rtw {
                si,
                we,
                shnum,
                test,
                write,
                new_length,
                read
            }),
        (si, 0u8..3).prop_map(|(si, who)| Op::Renew { si, who }),
        (0u64..4_000_000).prop_map(Op::Advance),
    ]
}

fn bytes(len: u64, seed: u8, offset: u64) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| (i as u8).wrapping_mul(3) ^ seed)
        .collect()
}

/// Run `ops` and describe every answer as text.
async fn run(s: &StorageServer, clock: &Clock, ops: &[Op]) -> Vec<String> {
    let mut out = Vec::new();
    let sid = |n: u8| StorageIndex([n + 1; 16]);
    for op in ops {
        let r = match op.clone() {
            Op::Allocate {
                si,
                who,
                shares,
                size,
            } => format!(
                "{:?}",
                s.allocate_buckets(
                    sid(si),
                    &LeaseRenewSecret::from_bytes([who; 32]),
                    &LeaseCancelSecret::from_bytes([who; 32]),
                    &UploadSecret::new(vec![who; 8]),
                    &shares.into_iter().collect::<BTreeSet<_>>(),
                    size
                )
                .await
            ),
            Op::Write {
                si,
                shnum,
                who,
                offset,
                len,
                seed,
            } => format!(
                "{:?}",
                s.write_immutable(
                    sid(si),
                    shnum,
                    &UploadSecret::new(vec![who; 8]),
                    offset,
                    &bytes(len, seed, offset)
                )
                .await
            ),
            Op::Abort { si, shnum, who } => {
                format!(
                    "{:?}",
                    s.abort_immutable(sid(si), shnum, &UploadSecret::new(vec![who; 8]))
                        .await
                )
            }
            Op::Rtw {
                si,
                we,
                shnum,
                test,
                write,
                new_length,
                read,
            } => {
                let tw = TestWriteVectors {
                    test: test
                        .into_iter()
                        .map(|(o, l, seed)| TestVector {
                            offset: o,
                            size: l,
                            specimen: bytes(l, seed, o),
                        })
                        .collect(),
                    write: write
                        .into_iter()
                        .map(|(o, l, seed)| WriteVector {
                            offset: o,
                            data: bytes(l, seed, o),
                        })
                        .collect(),
                    new_length,
                };
                format!(
                    "{:?}",
                    s.mutable_test_and_write(
                        sid(si),
                        &WriteEnabler::from_bytes([we; 32]),
                        &LeaseRenewSecret::from_bytes([we; 32]),
                        &LeaseCancelSecret::from_bytes([we; 32]),
                        BTreeMap::from([(shnum, tw)]),
                        &[ReadVector {
                            offset: read.0,
                            size: read.1
                        }],
                    )
                    .await
                )
            }
            Op::Renew { si, who } => format!(
                "{:?}",
                s.add_or_renew_lease(
                    sid(si),
                    &LeaseRenewSecret::from_bytes([who; 32]),
                    &LeaseCancelSecret::from_bytes([who; 32])
                )
                .await
            ),
            Op::Advance(secs) => {
                clock.advance(secs);
                String::new()
            }
        };
        out.push(r);
    }
    // Final state: every share's kind, contents and leases.
    for n in 0..3 {
        let imm = s.list_immutable(sid(n)).await.unwrap();
        let mutable = s.list_mutable(sid(n)).await.unwrap();
        out.push(format!("{n}: imm {imm:?} mut {mutable:?}"));
        for sh in imm {
            out.push(format!(
                "{:?} {:?}",
                s.read_immutable(sid(n), sh, 0, 1000).await,
                s.leases(sid(n), sh).await
            ));
        }
        for sh in mutable {
            out.push(format!(
                "{:?} {:?}",
                s.read_mutable(sid(n), sh, 0, 10_000).await,
                s.leases(sid(n), sh).await
            ));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn memory_and_disk_agree(ops in prop::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (mem, disk) = rt.block_on(async {
            let opts = |c: &Clock| StorageServerOptions { clock: c.clone(), ..StorageServerOptions::new(ServerId20([3; 20])) };
            let c1 = Clock::manual(1_700_000_000);
            let mem = run(&StorageServer::in_memory(opts(&c1)), &c1, &ops).await;
            let dir = tempfile::tempdir().unwrap();
            let c2 = Clock::manual(1_700_000_000);
            let s = StorageServer::open_disk(&dir.path().join("storage"), opts(&c2)).await.unwrap();
            let disk = run(&s, &c2, &ops).await;
            (mem, disk)
        });
        for (i, (m, d)) in mem.iter().zip(&disk).enumerate() {
            prop_assert_eq!(m, d, "step {}", i);
        }
        prop_assert_eq!(mem.len(), disk.len());
    }
}
