//! Container parsers never panic; what they accept re-serializes to the
//! same bytes; mutable writes driven by the input keep the container
//! parseable.
#![no_main]

use lafs_format::container::mutable::MutableContainer;
use lafs_format::container::{Container, WriteVector};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Container::parse(data) {
        assert_eq!(c.to_bytes(), data);
        if let Container::Mutable(mut m) = c {
            // Use the first bytes as a small write; bounded so the fuzzer
            // cannot make us allocate much.
            let offset = u64::from(data.get(100).copied().unwrap_or(0)) * 7;
            let w = WriteVector { offset, data: data.iter().take(64).copied().collect() };
            if m.apply(&[w], Some(u64::from(data.len() as u32 % 997)), 1 << 16).is_ok() {
                let again = m.to_bytes();
                assert_eq!(MutableContainer::parse(&again).ok(), Some(m));
            }
        }
    }
});
