//! Directory bodies against Tahoe 1.20's `pack_children` (spec §6) and
//! property tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::dirnode::{self, Child, DirKind, PackKind};
use lafs_format::keys::WriteKey;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn kat_children(dd: &Value) -> Vec<Child> {
    dd["children"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, c)| {
            let rw = c["rw_uri"].as_str().unwrap().as_bytes();
            let ro = c["ro_uri"].as_str().unwrap().as_bytes();
            Child::new(
                name,
                (!rw.is_empty()).then_some(rw),
                (!ro.is_empty()).then_some(ro),
                c["metadata"].as_object().unwrap().clone(),
            )
        })
        .collect()
}

#[test]
fn dirnode_pack_kat() {
    let Some(kat) = lafs_testing::read_json("extracted/dirnode-pack-kat.json") else {
        return;
    };
    let mut n = 0;
    for variant in ["mutable_dir", "immutable_dir"] {
        let dd = &kat[variant];
        let want = lafs_testing::b64(dd["packed_b64"].as_str().unwrap());
        let children = kat_children(dd);
        let wk = dd["writekey_hex"]
            .as_str()
            .map(|h| WriteKey::from_bytes(hex::decode(h).unwrap().try_into().unwrap()));
        let (packed, back) = match &wk {
            Some(wk) => (
                dirnode::pack(&children, PackKind::Mutable(wk)).unwrap(),
                dirnode::unpack(&want, DirKind::Mutable(Some(wk))).unwrap(),
            ),
            None => (
                dirnode::pack(&children, PackKind::Immutable).unwrap(),
                dirnode::unpack(&want, DirKind::Immutable).unwrap(),
            ),
        };
        assert_eq!(packed, want, "{variant} packs byte-identical");
        // Unpacking gives the same children (sorted by name) and repacks
        // to the same bytes.
        let mut sorted = children.clone();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(back, sorted, "{variant} unpacks");
        let repacked = match &wk {
            Some(wk) => dirnode::pack(&back, PackKind::Mutable(wk)).unwrap(),
            None => dirnode::pack(&back, PackKind::Immutable).unwrap(),
        };
        assert_eq!(repacked, want);
        // A read-only holder sees no write caps.
        if wk.is_some() {
            let ro = dirnode::unpack(&want, DirKind::Mutable(None)).unwrap();
            assert!(ro.iter().all(|c| c.rw_uri.is_none()));
        }
        n += 1;
    }
    lafs_testing::report_family("dirnode-pack-kat (mutable + immutable)", n);
}

#[test]
fn prefixes_and_immutable_rules() {
    let wk = WriteKey::from_bytes([9; 16]);
    let md = Map::new();
    let kids = vec![
        Child::new("a", None, Some(b"ro.URI:NEW:x"), md.clone()),
        Child::new("b", None, Some(b"imm.URI:NEW:y"), md.clone()),
    ];
    let m = dirnode::unpack(
        &dirnode::pack(&kids, PackKind::Mutable(&wk)).unwrap(),
        DirKind::Mutable(Some(&wk)),
    )
    .unwrap();
    assert_eq!(m[0].ro_uri.as_deref(), Some(&b"URI:NEW:x"[..]));
    assert_eq!(m[1].ro_uri.as_deref(), Some(&b"imm.URI:NEW:y"[..]));
    let i = dirnode::unpack(
        &dirnode::pack(&kids, PackKind::Immutable).unwrap(),
        DirKind::Immutable,
    )
    .unwrap();
    assert_eq!(i[1].ro_uri.as_deref(), Some(&b"URI:NEW:y"[..]));
    let rw = vec![Child::new("w", Some(b"URI:SSK:a:b"), None, md)];
    assert!(matches!(
        dirnode::pack(&rw, PackKind::Immutable),
        Err(dirnode::DirnodeError::WriteCapInImmutable { .. })
    ));
    // Mutable rwcapdata in an immutable body is refused.
    let body = dirnode::pack(&rw, PackKind::Mutable(&wk)).unwrap();
    assert!(dirnode::unpack(&body, DirKind::Immutable).is_err());
    // NFC: a decomposed name is stored composed.
    let d = vec![Child::new(
        "Cafe\u{301}",
        None,
        Some(b"URI:LIT:"),
        Map::new(),
    )];
    let u = dirnode::unpack(
        &dirnode::pack(&d, PackKind::Immutable).unwrap(),
        DirKind::Immutable,
    )
    .unwrap();
    assert_eq!(u[0].name, "Caf\u{e9}");
    // Debug never shows a write cap.
    let dbg = format!(
        "{:?}",
        dirnode::unpack(&body, DirKind::Mutable(Some(&wk))).unwrap()
    );
    assert!(!dbg.contains("SSK"), "{dbg}");
}

#[test]
fn stored_entries_survive_a_repack() {
    // An entry as an old writer stored it: compact JSON, a random rwcap salt.
    let wk = WriteKey::from_bytes([5; 16]);
    let salt = [0xAB; 16];
    let key = lafs_format::keys::dirnode::child_key(&salt, &wk);
    let mut rwcap = salt.to_vec();
    rwcap.extend(lafs_format::aes::aes128_ctr(
        key.as_bytes(),
        b"URI:SSK:aaaa:bbbb",
    ));
    rwcap.extend([0u8; 32]);
    let mut entry = Vec::new();
    for f in [
        &b"old"[..],
        b"URI:SSK-RO:cccc:bbbb",
        &rwcap,
        br#"{"ctime":1202777696.7564139}"#,
    ] {
        lafs_format::netstring::write(&mut entry, f);
    }
    let body = lafs_format::netstring::encode(&entry);
    let mut kids = dirnode::unpack(&body, DirKind::Mutable(Some(&wk))).unwrap();
    assert_eq!(
        kids[0].rw_uri.as_deref().map(Vec::as_slice),
        Some(&b"URI:SSK:aaaa:bbbb"[..])
    );
    // Unmodified: the stored bytes come back, as Python's AuxValueDict does.
    assert_eq!(dirnode::pack(&kids, PackKind::Mutable(&wk)).unwrap(), body);
    // Modified: the entry is packed afresh (deterministic salt, Python JSON).
    kids[0].metadata.insert("mtime".into(), Value::from(2.0));
    let fresh = dirnode::pack(&kids, PackKind::Mutable(&wk)).unwrap();
    assert_ne!(fresh, body);
    let again = dirnode::unpack(&fresh, DirKind::Mutable(Some(&wk))).unwrap();
    assert_eq!(again, kids);
    let text = String::from_utf8_lossy(&fresh);
    assert!(
        text.contains(r#"{"ctime": 1202777696.756414, "mtime": 2.0}"#),
        "{text}"
    );
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn metadata() -> impl Strategy<Value = Map<String, Value>> {
    let v = json_leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::vec(("\\PC{0,6}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    proptest::collection::vec(("\\PC{0,8}", v), 0..4).prop_map(|kv| kv.into_iter().collect())
}

fn child() -> impl Strategy<Value = Child> {
    (
        "\\PC{1,10}",
        proptest::option::of("URI:[A-Z0-9:a-z]{1,40}"),
        proptest::option::of("URI:[A-Z0-9:a-z]{1,40}"),
        metadata(),
    )
        .prop_map(|(name, rw, ro, md)| {
            Child::new(
                &name,
                rw.as_deref().map(str::as_bytes),
                ro.as_deref().map(str::as_bytes),
                md,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn pack_unpack_round_trip(kids in proptest::collection::vec(child(), 0..6), key in any::<[u8; 16]>()) {
        let wk = WriteKey::from_bytes(key);
        let body = dirnode::pack(&kids, PackKind::Mutable(&wk)).unwrap();
        let back = dirnode::unpack(&body, DirKind::Mutable(Some(&wk))).unwrap();
        // Same set of names, later duplicates win, and a repack is identical.
        prop_assert_eq!(dirnode::pack(&back, PackKind::Mutable(&wk)).unwrap(), body);
        for c in &back {
            let last = kids.iter().rev().find(|k| {
                use unicode_normalization::UnicodeNormalization;
                k.name.nfc().collect::<String>() == c.name
            }).unwrap();
            prop_assert_eq!(&c.rw_uri, &last.rw_uri);
            prop_assert_eq!(&c.ro_uri, &last.ro_uri);
            prop_assert_eq!(&c.metadata, &last.metadata);
        }
    }

    #[test]
    fn unpack_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), key in any::<[u8; 16]>()) {
        let wk = WriteKey::from_bytes(key);
        let _ = dirnode::unpack(&data, DirKind::Mutable(Some(&wk)));
        let _ = dirnode::unpack(&data, DirKind::Mutable(None));
        let _ = dirnode::unpack(&data, DirKind::Immutable);
    }

    #[test]
    fn unpack_never_panics_on_netstring_shaped_input(
        fields in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 0..5),
    ) {
        let mut entry = Vec::new();
        for f in &fields {
            lafs_format::netstring::write(&mut entry, f);
        }
        let body = lafs_format::netstring::encode(&entry);
        let wk = WriteKey::from_bytes([1; 16]);
        let _ = dirnode::unpack(&body, DirKind::Mutable(Some(&wk)));
        let _ = dirnode::unpack(&body, DirKind::Immutable);
    }
}
