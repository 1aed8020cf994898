//! Fuzz the cap parsers (spec §1.3): never panic, and whatever parses
//! prints back to a string that parses to the same cap.
#![no_main]

use lafs_format::cap::{parse_child, Cap};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cap) = Cap::parse(s) {
        let printed = cap.to_string();
        assert_eq!(Cap::parse(&printed).ok(), Some(cap.clone()));
        let _ = cap.readonly();
        let _ = cap.verifier();
        let _ = cap.storage_index();
    }
    let _ = parse_child(s, false);
    let _ = parse_child(s, true);
});
