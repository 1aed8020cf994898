//! Base32 and netstring parsers never panic, and what they accept
//! re-encodes to the same bytes.
#![no_main]

use lafs_format::{base32, netstring};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = base32::decode(s) {
            assert_eq!(base32::encode(&v), s);
        }
    }
    if let Ok((payload, rest)) = netstring::split(data) {
        let mut again = netstring::encode(payload);
        again.extend_from_slice(rest);
        assert_eq!(again, data);
    }
});
