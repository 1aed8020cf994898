//! Container known-answer tests (spec §7.2–§7.4): the four containers made
//! by Tahoe 1.20's ShareFile / MutableShareFile, and the twenty 1.2.0-era
//! container files embedded in Tahoe's test_download.py.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::container::immutable::{self, ImmutableContainer, ImmutableVersion};
use lafs_format::container::lease::{ImmutableLease, LeaseScheme};
use lafs_format::container::mutable::{MutableContainer, MutableVersion};
use lafs_format::container::{Container, ContainerKind, WriteVector};
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, ServerId20, WriteEnabler};

const EXPIRATION: u32 = 1_702_678_400;

fn secrets() -> (LeaseRenewSecret, LeaseCancelSecret) {
    let mut r = [0u8; 32];
    let mut c = [0u8; 32];
    for i in 0..32 {
        r[i] = i as u8;
        c[i] = 32 + i as u8;
    }
    (
        LeaseRenewSecret::from_bytes(r),
        LeaseCancelSecret::from_bytes(c),
    )
}

#[test]
fn tahoe_120_containers() {
    let Some(meta) = lafs_testing::read_json("extracted/containers/containers.json") else {
        return;
    };
    let files = meta["files"].as_object().unwrap();
    let (renew, cancel) = secrets();
    let mut checked = 0;
    for (name, info) in files {
        let bytes = lafs_testing::read_vector(&format!("extracted/containers/{name}")).unwrap();
        let wraps = info["wraps"].as_str().unwrap();
        let wrapped = lafs_testing::read_vector(&format!("extracted/{wraps}")).unwrap();
        let version = info["container_version"].as_u64().unwrap();
        let parsed = Container::parse(&bytes).unwrap();
        assert_eq!(parsed.data(), wrapped.as_slice(), "{name}: data");
        assert_eq!(parsed.to_bytes(), bytes, "{name}: re-serialization");
        match parsed {
            Container::Immutable(c) => {
                let v = if version == 1 {
                    ImmutableVersion::V1
                } else {
                    ImmutableVersion::V2
                };
                assert_eq!(c.version, v);
                assert_eq!(c.leases.len(), 1);
                let scheme = v.lease_scheme();
                let l = &c.leases[0];
                assert_eq!((l.owner_num, l.expiration), (0, EXPIRATION));
                assert!(scheme.matches(&l.renew, renew.as_bytes()));
                assert!(scheme.matches(&l.cancel, cancel.as_bytes()));
                assert!(!scheme.matches(&l.cancel, renew.as_bytes()));
                if v == ImmutableVersion::V1 {
                    assert_eq!(&l.renew, renew.as_bytes());
                }
                // Build it from fields, as the engine does for a new share.
                let size = immutable::size_field_for(wrapped.len() as u64);
                let mut built = immutable::header_bytes(v, size, 1).to_vec();
                built.extend_from_slice(&wrapped);
                let lease = ImmutableLease::new(scheme, 0, &renew, &cancel, EXPIRATION);
                built.extend_from_slice(&lease.to_bytes());
                assert_eq!(built, bytes, "{name}: built from fields");
            }
            Container::Mutable(c) => {
                let v = if version == 1 {
                    MutableVersion::V1
                } else {
                    MutableVersion::V2
                };
                let nodeid = ServerId20([b'N'; 20]);
                assert_eq!(c.version, v);
                assert_eq!(c.nodeid, nodeid);
                assert!(c.write_enabler_matches(&WriteEnabler::from_bytes([b'W'; 32])));
                assert!(!c.write_enabler_matches(&WriteEnabler::from_bytes([b'X'; 32])));
                let leases: Vec<_> = c.leases().collect();
                assert_eq!(leases.len(), 1);
                assert_eq!((leases[0].owner_num, leases[0].expiration), (1, EXPIRATION));
                assert_eq!(leases[0].nodeid, [b'N'; 20]);
                // Build it as a new slot + one write + one lease, as Tahoe did.
                let mut built =
                    MutableContainer::new(v, nodeid, WriteEnabler::from_bytes([b'W'; 32]));
                let write = WriteVector {
                    offset: 0,
                    data: wrapped.clone(),
                };
                built.apply(&[write], None, u64::MAX).unwrap();
                assert!(built.add_or_renew(1, &renew, &cancel, EXPIRATION, nodeid));
                assert_eq!(built.to_bytes(), bytes, "{name}: built from fields");
                // Renewing with the same secret and time changes nothing.
                assert!(!built.add_or_renew(1, &renew, &cancel, EXPIRATION, nodeid));
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
    lafs_testing::report_family("containers (1.20 ShareFile/MutableShareFile)", checked);
}

#[test]
fn tahoe_12_container_files() {
    let Some(doc) = lafs_testing::read_json("extracted/test_download-stored-shares.json") else {
        return;
    };
    let mut imm = 0;
    let mut mutable = 0;
    for family in ["immutable", "mutable_sdmf"] {
        for shares in doc[family]["share_files_base32"]
            .as_object()
            .unwrap()
            .values()
        {
            for b32 in shares.as_object().unwrap().values() {
                let bytes = lafs_format::base32::decode(b32.as_str().unwrap()).unwrap();
                let kind = ContainerKind::detect(&bytes).unwrap();
                let parsed = Container::parse(&bytes).unwrap();
                assert_eq!(parsed.to_bytes(), bytes, "re-serialization");
                match (family, parsed) {
                    ("immutable", Container::Immutable(c)) => {
                        assert_eq!(kind, ContainerKind::Immutable(ImmutableVersion::V1));
                        assert_eq!(c.lease_scheme(), LeaseScheme::Clear);
                        // CHK share layout version 1 starts the data.
                        assert_eq!(&c.data[0..4], &[0, 0, 0, 1]);
                        assert_eq!(ImmutableContainer::parse(&bytes).unwrap(), c);
                        imm += 1;
                    }
                    ("mutable_sdmf", Container::Mutable(c)) => {
                        assert_eq!(kind, ContainerKind::Mutable(MutableVersion::V1));
                        // SDMF share layout version byte 0.
                        assert_eq!(c.data()[0], 0);
                        assert!(c.leases().count() >= 1);
                        mutable += 1;
                    }
                    (f, other) => panic!("{f}: parsed as the wrong family: {other:?}"),
                }
            }
        }
    }
    assert_eq!((imm, mutable), (10, 10));
    lafs_testing::report_family("containers (1.2.0 immutable v1, test_download)", imm);
    lafs_testing::report_family("containers (1.2.0 mutable v1, test_download)", mutable);
}
