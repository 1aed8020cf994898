//! Tahoe 1.20 itself (its `StorageServer` class, run by Python) reads back
//! a storage directory lafs wrote, renews a lease and writes a mutable
//! share in it, and lafs then reads Tahoe's changes. This is the "a Python
//! node can take the directory back" promise, checked against the real
//! thing.
//!
//! Needs a Python with Tahoe 1.20: `$LAFS_TAHOE_PYTHON`, or the venv made by
//! `scripts/tahoe-venv` (from the lafs-http interop tests) when that script
//! exists. Skipped, loudly, when neither is available.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use lafs_storage::{
    LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex, StorageServer,
    StorageServerOptions, TestWriteVectors, UploadSecret, WriteEnabler, WriteVector,
};

fn tahoe_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LAFS_TAHOE_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let script = lafs_testing::workspace_root().join("scripts/tahoe-venv");
    if script.exists() {
        let out = Command::new(&script).output().ok()?;
        if out.status.success() {
            let venv = String::from_utf8(out.stdout).ok()?;
            return Some(PathBuf::from(venv.trim()).join("bin/python"));
        }
    }
    None
}

const SCRIPT: &str = r#"
import json, sys
from allmydata.storage.server import StorageServer
storedir, nodeid_hex, si_imm_hex, si_mut_hex = sys.argv[1:5]
ss = StorageServer(storedir, bytes.fromhex(nodeid_hex))
si_imm, si_mut = bytes.fromhex(si_imm_hex), bytes.fromhex(si_mut_hex)
out = {}
buckets = ss.get_buckets(si_imm)
out["imm"] = {str(n): b.read(0, 10**6).hex() for n, b in buckets.items()}
out["imm_leases"] = [l.owner_num for l in ss.get_leases(si_imm)]
out["mut"] = {str(n): v[0].hex() for n, v in ss.slot_readv(si_mut, [], [(0, 10**6)]).items()}
out["mut_leases"] = len(list(ss.get_slot_leases(si_mut)))
ss.add_lease(si_imm, b"\x77" * 32, b"\x78" * 32)
ok, reads = ss.slot_testv_and_readv_and_writev(
    si_mut, (b"\x05" * 32, b"\x79" * 32, b"\x7a" * 32),
    {0: ([(0, 5, b"eq", b"lafs!")], [(5, b" and tahoe")], None)}, [])
out["tahoe_write_ok"] = ok
print(json.dumps(out))
"#;

#[tokio::test]
async fn tahoe_reads_and_writes_our_storage_dir() {
    let Some(python) = tahoe_python() else {
        eprintln!(
            "SKIP: no Python with Tahoe 1.20 (set LAFS_TAHOE_PYTHON or run scripts/tahoe-venv)"
        );
        return;
    };
    let nodeid = ServerId20([0x42; 20]);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let s = StorageServer::open_disk(&storage, StorageServerOptions::new(nodeid))
        .await
        .unwrap();
    let (si_imm, si_mut) = (StorageIndex([1; 16]), StorageIndex([2; 16]));
    let renew = LeaseRenewSecret::from_bytes([1; 32]);
    let cancel = LeaseCancelSecret::from_bytes([2; 32]);
    let secret = UploadSecret::new(vec![3; 20]);
    let imm: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    for shnum in [0u16, 4] {
        let a = s
            .allocate_buckets(
                si_imm,
                &renew,
                &cancel,
                &secret,
                &BTreeSet::from([shnum]),
                imm.len() as u64,
            )
            .await
            .unwrap();
        assert_eq!(a.allocated.len(), 1);
        assert!(
            s.write_immutable(si_imm, shnum, &secret, 0, &imm)
                .await
                .unwrap()
                .complete
        );
    }
    let tw = TestWriteVectors {
        test: vec![],
        write: vec![WriteVector {
            offset: 0,
            data: b"lafs!".to_vec(),
        }],
        new_length: None,
    };
    let r = s
        .mutable_test_and_write(
            si_mut,
            &WriteEnabler::from_bytes([5; 32]),
            &renew,
            &cancel,
            BTreeMap::from([(0, tw)]),
            &[],
        )
        .await
        .unwrap();
    assert!(r.success);
    s.close().await;
    drop(s);

    let out = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(&storage)
        .arg(hex(&nodeid.0))
        .arg(hex(&si_imm.0))
        .arg(hex(&si_mut.0))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["imm"]["0"].as_str().unwrap(), hex(&imm));
    assert_eq!(v["imm"]["4"].as_str().unwrap(), hex(&imm));
    assert_eq!(v["imm_leases"], serde_json::json!([0]));
    assert_eq!(v["mut"]["0"].as_str().unwrap(), hex(b"lafs!"));
    assert_eq!(v["mut_leases"], 1);
    assert_eq!(v["tahoe_write_ok"], true);

    // And back: lafs reads what Tahoe wrote.
    let s = StorageServer::open_disk(&storage, StorageServerOptions::new(nodeid))
        .await
        .unwrap();
    assert_eq!(
        s.read_mutable(si_mut, 0, 0, 100).await.unwrap(),
        b"lafs! and tahoe"
    );
    assert_eq!(s.leases(si_imm, 0).await.unwrap().len(), 2);
    assert_eq!(s.leases(si_mut, 0).await.unwrap().len(), 2);
    assert_eq!(s.read_immutable(si_imm, 4, 0, 10_000).await.unwrap(), imm);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const WRITEV_SCRIPT: &str = r#"
import json, os, sys, tempfile
from allmydata.storage.mutable import create_mutable_sharefile
from allmydata.storage.lease import LeaseInfo
cases = json.load(sys.stdin)
out = []
d = tempfile.mkdtemp()
for i, case in enumerate(cases):
    path = os.path.join(d, str(i))
    sf = create_mutable_sharefile(path, b"N" * 20, b"W" * 32, None)
    for op in case:
        if op[0] == "w":
            _, writes, new_length = op
            sf.writev([(o, bytes.fromhex(h)) for o, h in writes], new_length)
        else:
            _, secret, exp = op
            sf.add_or_renew_lease(2**64, LeaseInfo(1, bytes([secret]) * 32, bytes([secret ^ 255]) * 32, exp, b"N" * 20))
    out.append(open(path, "rb").read().hex())
print(json.dumps(out))
"#;

/// Random write vectors, truncations and lease additions applied by
/// Tahoe 1.20's own `MutableShareFile` and by `MutableContainer` give
/// byte-identical container files (extra-lease moves, zero-filled holes,
/// slack after truncation, hashed v2 lease records).
#[test]
fn mutable_container_matches_tahoe_byte_for_byte() {
    use lafs_format::container::mutable::{MutableContainer, MutableVersion};
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    let Some(python) = tahoe_python() else {
        eprintln!(
            "SKIP: no Python with Tahoe 1.20 (set LAFS_TAHOE_PYTHON or run scripts/tahoe-venv)"
        );
        return;
    };
    // Ops: ("w", [(offset, data)], new_length) or ("l", secret, expiration).
    #[derive(Debug, Clone)]
    enum Op {
        W(Vec<(u64, Vec<u8>)>, Option<u64>),
        L(u8, u32),
    }
    let op = proptest::prop_oneof![
        (
            proptest::collection::vec(
                (
                    0u64..1500,
                    proptest::collection::vec(proptest::num::u8::ANY, 0..400)
                ),
                0..4
            ),
            proptest::option::of(0u64..2000)
        )
            .prop_map(|(w, n)| Op::W(w, n)),
        (0u8..8, 1u32..1000).prop_map(|(s, e)| Op::L(s, e)),
    ];
    let cases_strategy = proptest::collection::vec(proptest::collection::vec(op, 1..12), 60);
    let mut runner = TestRunner::deterministic();
    let cases = cases_strategy.new_tree(&mut runner).unwrap().current();

    let json: Vec<serde_json::Value> = cases
        .iter()
        .map(|ops| {
            serde_json::Value::Array(
                ops.iter()
                    .map(|op| match op {
                        Op::W(w, n) => serde_json::json!([
                            "w",
                            w.iter()
                                .map(|(o, d)| serde_json::json!([o, hex(d)]))
                                .collect::<Vec<_>>(),
                            n
                        ]),
                        Op::L(s, e) => serde_json::json!(["l", s, e]),
                    })
                    .collect(),
            )
        })
        .collect();
    let mut child = Command::new(&python)
        .args(["-c", WRITEV_SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&json).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tahoe: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tahoe.len(), cases.len());
    let nodeid = ServerId20([b'N'; 20]);
    for (i, ops) in cases.iter().enumerate() {
        let mut c = MutableContainer::new(
            MutableVersion::V2,
            nodeid,
            WriteEnabler::from_bytes([b'W'; 32]),
        );
        for op in ops {
            match op {
                Op::W(w, n) => {
                    let wv: Vec<WriteVector> = w
                        .iter()
                        .map(|(o, d)| WriteVector {
                            offset: *o,
                            data: d.clone(),
                        })
                        .collect();
                    c.apply(&wv, *n, u64::MAX).unwrap();
                }
                Op::L(s, e) => {
                    c.add_or_renew(
                        1,
                        &LeaseRenewSecret::from_bytes([*s; 32]),
                        &LeaseCancelSecret::from_bytes([*s ^ 255; 32]),
                        *e,
                        nodeid,
                    );
                }
            }
        }
        assert_eq!(hex(&c.to_bytes()), tahoe[i], "case {i}: {ops:?}");
    }
    lafs_testing::report_family(
        "mutable container writev vs Tahoe 1.20 (random)",
        cases.len(),
    );
}

const IMMUTABLE_SCRIPT: &str = r#"
import os, sys, tempfile
from allmydata.storage.immutable import ShareFile
from allmydata.storage.lease import LeaseInfo
data = bytes.fromhex(sys.argv[1])
e1, e2, e3 = (int(x) for x in sys.argv[2:5])
path = os.path.join(tempfile.mkdtemp(), "0")
sf = ShareFile(path, max_size=len(data), create=True)
sf.write_share_data(0, data)
sf.add_or_renew_lease(2**64, LeaseInfo(0, b"\x01" * 32, b"\x02" * 32, e1, None))
sf.add_or_renew_lease(2**64, LeaseInfo(1, b"\x03" * 32, b"\x04" * 32, e2, None))
sf.add_or_renew_lease(2**64, LeaseInfo(1, b"\x01" * 32, b"\x02" * 32, e3, None))
print(open(path, "rb").read().hex())
"#;

/// An immutable share uploaded through the disk store, given a second
/// lease and then a renewal, is byte-identical to the file Tahoe 1.20's
/// `ShareFile` produces for the same steps.
#[tokio::test]
async fn immutable_share_file_matches_tahoe() {
    use lafs_storage::Clock;
    let Some(python) = tahoe_python() else {
        eprintln!(
            "SKIP: no Python with Tahoe 1.20 (set LAFS_TAHOE_PYTHON or run scripts/tahoe-venv)"
        );
        return;
    };
    const T0: u64 = 1_700_000_000;
    const TERM: u64 = 31 * 24 * 3600;
    let clock = Clock::manual(T0);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let opts = StorageServerOptions {
        clock: clock.clone(),
        ..StorageServerOptions::new(ServerId20([9; 20]))
    };
    let s = StorageServer::open_disk(&storage, opts).await.unwrap();
    let si = StorageIndex([7; 16]);
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let secret = UploadSecret::new(vec![3; 20]);
    let (r1, c1) = (
        LeaseRenewSecret::from_bytes([1; 32]),
        LeaseCancelSecret::from_bytes([2; 32]),
    );
    let (r2, c2) = (
        LeaseRenewSecret::from_bytes([3; 32]),
        LeaseCancelSecret::from_bytes([4; 32]),
    );
    s.allocate_buckets(
        si,
        &r1,
        &c1,
        &secret,
        &BTreeSet::from([0]),
        data.len() as u64,
    )
    .await
    .unwrap();
    assert!(
        s.write_immutable(si, 0, &secret, 0, &data)
            .await
            .unwrap()
            .complete
    );
    clock.advance(100);
    s.add_or_renew_lease(si, &r2, &c2).await.unwrap();
    clock.advance(100);
    s.add_or_renew_lease(si, &r1, &c1).await.unwrap();
    let b = si.to_base32();
    let ours = std::fs::read(storage.join("shares").join(&b[..2]).join(&b).join("0")).unwrap();
    let out = Command::new(&python)
        .args(["-c", IMMUTABLE_SCRIPT, &hex(&data)])
        .args([T0 + TERM, T0 + 100 + TERM, T0 + 200 + TERM].map(|t| t.to_string()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(hex(&ours), String::from_utf8(out.stdout).unwrap().trim());
}
