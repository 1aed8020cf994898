//! Caps against the vectors: every cap in `test_vectors.yaml` and the
//! tahoe-capabilities attenuation KAT, plus property tests (spec §1.3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lafs_format::cap::{
    parse_child, Cap, ChildCap, ChkReadCap, ChkVerifyCap, FileCap, LitCap, MutableFormat,
    SskReadCap, SskVerifyCap, SskWriteCap,
};
use lafs_format::keys::{AesKey, Fingerprint, ReadKey, StorageIndex, WriteKey};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    vector: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    expected: String,
}

#[test]
fn test_vectors_yaml_caps_round_trip() {
    let Some(v) =
        lafs_testing::read_yaml::<Vectors>("tahoe-lafs/integration/vectors/test_vectors.yaml")
    else {
        return;
    };
    let mut n = 0;
    for case in &v.vector {
        let cap = Cap::parse(&case.expected).unwrap_or_else(|e| panic!("{}: {e}", case.expected));
        assert_eq!(cap.to_string(), case.expected);
        // Diminishing always yields caps that parse back to themselves.
        let ro = cap.readonly();
        assert!(ro.is_readonly());
        assert_eq!(Cap::parse(&ro.to_string()).unwrap(), ro);
        let v = cap.verifier().unwrap();
        assert_eq!(Cap::parse(&v.to_string()).unwrap(), v);
        assert_eq!(v.storage_index(), cap.storage_index());
        assert!(cap.storage_index().is_some());
        n += 1;
    }
    assert_eq!(n, 360);
    lafs_testing::report_family("test_vectors.yaml caps parse+print", n);
}

#[test]
fn attenuation_kat() {
    let Some(j) = lafs_testing::read_json("extracted/capability-attenuation-kat.json") else {
        return;
    };
    let caps = j["caps"].as_object().unwrap();
    let mut n = 0;
    for (name, s) in caps {
        let s = s.as_str().unwrap();
        let cap = Cap::parse(s).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(cap.to_string(), s, "{name}");
        assert_eq!(cap.is_dir(), name.contains("DIR2"), "{name}");
        n += 1;
    }
    for d in j["derivations"].as_array().unwrap() {
        let from = Cap::parse(caps[d["from"].as_str().unwrap()].as_str().unwrap()).unwrap();
        let to = caps[d["to"].as_str().unwrap()].as_str().unwrap();
        let got = match d["op"].as_str().unwrap() {
            "readonly" => from.readonly(),
            "verifier" => from.verifier().unwrap(),
            op => panic!("unknown op {op}"),
        };
        assert_eq!(got.to_string(), to);
        n += 1;
    }
    assert_eq!(n, 14 + 9);
    lafs_testing::report_family("capability-attenuation-kat", n);
}

#[test]
fn typed_diminish_chain() {
    let w: SskWriteCap = match Cap::parse(
        "URI:MDMF:p2xoe4uu64rqa5fi6xz3t5wpvu:zsaeyn5noivpixiu6uadlz2mu6r2alcmgrur2efdwadx4agxo6ua",
    )
    .unwrap()
    {
        Cap::File(FileCap::SskWrite(w)) => w,
        other => panic!("{other:?}"),
    };
    let r: SskReadCap = w.readonly();
    let v: SskVerifyCap = r.verifier();
    assert_eq!(
        r.to_string(),
        "URI:MDMF-RO:fxyg6lh7y6al33npw2jqf7fmii:zsaeyn5noivpixiu6uadlz2mu6r2alcmgrur2efdwadx4agxo6ua"
    );
    assert_eq!(
        v.to_string(),
        "URI:MDMF-Verifier:cwbkz6mpgeb7tdfboohdjuoxey:zsaeyn5noivpixiu6uadlz2mu6r2alcmgrur2efdwadx4agxo6ua"
    );
    assert_eq!(w.verifier(), v);
    // LIT has no verifier; literal dirs neither.
    assert!(Cap::parse("URI:DIR2-LIT:").unwrap().verifier().is_none());
}

fn arb_format() -> impl Strategy<Value = MutableFormat> {
    prop_oneof![Just(MutableFormat::Sdmf), Just(MutableFormat::Mdmf)]
}

fn arb_file_cap() -> impl Strategy<Value = FileCap> {
    let kn = (1u16..=256).prop_flat_map(|n| (1u16..=n, Just(n)));
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80)
            .prop_map(|data| FileCap::Lit(LitCap { data })),
        (
            any::<[u8; 16]>(),
            any::<[u8; 32]>(),
            kn.clone(),
            any::<u64>()
        )
            .prop_map(
                |(k, h, (needed, total), size)| FileCap::ChkRead(ChkReadCap {
                    key: AesKey::from_bytes(k),
                    ueb_hash: h,
                    needed,
                    total,
                    size
                })
            ),
        (any::<[u8; 16]>(), any::<[u8; 32]>(), kn, any::<u64>()).prop_map(
            |(k, h, (needed, total), size)| FileCap::ChkVerify(ChkVerifyCap {
                storage_index: StorageIndex(k),
                ueb_hash: h,
                needed,
                total,
                size
            })
        ),
        (arb_format(), any::<[u8; 16]>(), any::<[u8; 32]>()).prop_map(|(format, k, f)| {
            FileCap::SskWrite(SskWriteCap {
                format,
                writekey: WriteKey::from_bytes(k),
                fingerprint: Fingerprint(f),
            })
        }),
        (arb_format(), any::<[u8; 16]>(), any::<[u8; 32]>()).prop_map(|(format, k, f)| {
            FileCap::SskRead(SskReadCap {
                format,
                readkey: ReadKey::from_bytes(k),
                fingerprint: Fingerprint(f),
            })
        }),
        (arb_format(), any::<[u8; 16]>(), any::<[u8; 32]>()).prop_map(|(format, k, f)| {
            FileCap::SskVerify(SskVerifyCap {
                format,
                storage_index: StorageIndex(k),
                fingerprint: Fingerprint(f),
            })
        }),
    ]
}

proptest! {
    #[test]
    fn round_trip_every_kind(f in arb_file_cap(), dir in any::<bool>()) {
        let cap = if dir { Cap::Dir(f) } else { Cap::File(f) };
        let s = cap.to_string();
        prop_assert_eq!(Cap::parse(&s).unwrap(), cap.clone());
        // The child parser agrees for caps allowed in a read-write dir.
        match parse_child(&s, false) {
            ChildCap::Known(c) => prop_assert_eq!(c, cap.clone()),
            ChildCap::Unknown(u) => prop_assert!(false, "{:?}", u),
        }
        // Debug never shows a key (or LIT data).
        let d = format!("{cap:?}");
        let secret = match cap.file() {
            FileCap::ChkRead(c) => Some(lafs_format::base32::encode(c.key.as_bytes())),
            FileCap::SskWrite(c) => Some(lafs_format::base32::encode(c.writekey.as_bytes())),
            FileCap::SskRead(c) => Some(lafs_format::base32::encode(c.readkey.as_bytes())),
            FileCap::Lit(c) if c.data.len() > 4 => Some(lafs_format::base32::encode(&c.data)),
            _ => None,
        };
        if let Some(k) = secret {
            prop_assert!(!d.contains(&k), "{}", d);
        }
    }

    #[test]
    fn never_panics(s in "(URI:|ro\\.|imm\\.)?(DIR2-|CHK|SSK|MDMF|LIT|-RO|-Verifier|:|[a-z2-7]{0,60}|[0-9]{0,25})*") {
        let _ = Cap::parse(&s);
        let _ = parse_child(&s, true);
    }

    #[test]
    fn never_panics_bytes(s in any::<String>()) {
        let _ = Cap::parse(&s);
        let _ = parse_child(&s, false);
    }
}
