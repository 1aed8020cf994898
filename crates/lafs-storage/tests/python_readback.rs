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
