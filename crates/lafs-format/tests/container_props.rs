//! Property tests for containers: round trips, the mutable write model, and
//! "parsing never panics".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::container::immutable::{ImmutableContainer, ImmutableHeader, ImmutableVersion};
use lafs_format::container::lease::ImmutableLease;
use lafs_format::container::mutable::{
    MutableContainer, MutableHeader, MutableVersion, MAGIC_V1, MAGIC_V2,
};
use lafs_format::container::{Container, WriteVector};
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, ServerId20, WriteEnabler};
use proptest::prelude::*;

fn imm_lease() -> impl Strategy<Value = ImmutableLease> {
    (
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u32>(),
    )
        .prop_map(|(owner_num, renew, cancel, expiration)| ImmutableLease {
            owner_num,
            renew,
            cancel,
            expiration,
        })
}

fn writes() -> impl Strategy<Value = Vec<(u64, Vec<u8>)>> {
    prop::collection::vec(
        (0u64..3000, prop::collection::vec(any::<u8>(), 0..300)),
        0..6,
    )
}

proptest! {
    #[test]
    fn immutable_round_trip(v2 in any::<bool>(), size_field in any::<u32>(),
                            data in prop::collection::vec(any::<u8>(), 0..500),
                            leases in prop::collection::vec(imm_lease(), 0..4)) {
        let version = if v2 { ImmutableVersion::V2 } else { ImmutableVersion::V1 };
        let c = ImmutableContainer { version, size_field, data: &data, leases };
        let bytes = c.to_bytes();
        let parsed = ImmutableContainer::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &c);
        let h = ImmutableHeader::parse(&bytes, bytes.len() as u64).unwrap();
        prop_assert_eq!(h.data_len, data.len() as u64);
    }

    /// Mutable writes against a plain model: holes are zero-filled, the
    /// data grows to the furthest write, new_length only truncates, and the
    /// container re-parses to the same value.
    #[test]
    fn mutable_write_model(v2 in any::<bool>(), rounds in prop::collection::vec((writes(), prop::option::of(0u64..4000)), 1..5),
                           nleases in 0usize..7) {
        let version = if v2 { MutableVersion::V2 } else { MutableVersion::V1 };
        let mut c = MutableContainer::new(version, ServerId20([7; 20]), WriteEnabler::from_bytes([9; 32]));
        let mut model: Vec<u8> = Vec::new();
        let mut size = 0u64;
        for i in 0..nleases {
            c.add_or_renew(1, &LeaseRenewSecret::from_bytes([i as u8; 32]), &LeaseCancelSecret::from_bytes([0; 32]), 5, ServerId20([1; 20]));
        }
        for (ws, new_length) in rounds {
            let wv: Vec<WriteVector> = ws.iter().map(|(o, d)| WriteVector { offset: *o, data: d.clone() }).collect();
            c.apply(&wv, new_length, u64::MAX).unwrap();
            for (o, d) in &ws {
                let o = *o as usize;
                if o + d.len() >= model.len() {
                    model.resize(o + d.len(), 0);
                }
                model[o..o + d.len()].copy_from_slice(d);
                size = size.max((o + d.len()) as u64);
            }
            if let Some(n) = new_length {
                model.truncate(n as usize);
            }
            prop_assert_eq!(c.data(), model.as_slice());
            prop_assert_eq!(c.container_size(), size);
            let bytes = c.to_bytes();
            let parsed = MutableContainer::parse(&bytes).unwrap();
            prop_assert_eq!(&parsed, &c);
            prop_assert_eq!(parsed.leases().count(), nleases);
            let h = MutableHeader::parse(&bytes, bytes.len() as u64).unwrap();
            prop_assert_eq!(h.data_length, model.len() as u64);
        }
    }

    #[test]
    fn mutable_apply_refuses_oversize(offset in any::<u64>(), len in 0usize..100, max in 0u64..1000) {
        let mut c = MutableContainer::new(MutableVersion::V2, ServerId20([0; 20]), WriteEnabler::from_bytes([0; 32]));
        let before = c.clone();
        let r = c.apply(&[WriteVector { offset, data: vec![1; len] }], None, max);
        if offset.checked_add(len as u64).is_none_or(|e| e > max) {
            prop_assert!(r.is_err());
            prop_assert_eq!(c, before);
        } else {
            prop_assert!(r.is_ok());
        }
    }

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..1200)) {
        let _ = Container::parse(&bytes);
        let _ = ImmutableHeader::parse(&bytes, bytes.len() as u64);
        let _ = MutableHeader::parse(&bytes, bytes.len() as u64);
    }

    #[test]
    fn parse_never_panics_mutable_prefix(v2 in any::<bool>(), rest in prop::collection::vec(any::<u8>(), 0..1200)) {
        let mut bytes = if v2 { MAGIC_V2.to_vec() } else { MAGIC_V1.to_vec() };
        bytes.extend_from_slice(&rest);
        let _ = Container::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_mutable_fields(data_length in any::<u64>(), ext in any::<u64>(), small in 0u64..2000, count in any::<u32>(), tail in prop::collection::vec(any::<u8>(), 0..600)) {
        for (dl, eo) in [(data_length, ext), (small / 2, 468 + small), (small, 468 + small / 2)] {
            let mut bytes = MAGIC_V2.to_vec();
            bytes.extend_from_slice(&[0u8; 52]);
            bytes.extend_from_slice(&dl.to_be_bytes());
            bytes.extend_from_slice(&eo.to_be_bytes());
            bytes.extend_from_slice(&[0u8; 368]);
            bytes.extend_from_slice(&tail);
            if let Some(pos) = eo.checked_sub(0).map(|p| p as usize).filter(|p| p + 4 <= bytes.len()) {
                bytes[pos..pos + 4].copy_from_slice(&count.to_be_bytes());
            }
            let _ = Container::parse(&bytes);
        }
    }

    #[test]
    fn parse_never_panics_immutable_prefix(v in 0u32..4, n in any::<u32>(), rest in prop::collection::vec(any::<u8>(), 0..800)) {
        let mut bytes = v.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&(n % 16).to_be_bytes());
        bytes.extend_from_slice(&rest);
        let _ = Container::parse(&bytes);
        bytes[8..12].copy_from_slice(&n.to_be_bytes());
        let _ = Container::parse(&bytes);
    }
}
