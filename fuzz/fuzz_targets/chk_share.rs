//! Fuzz the CHK share reader and verifier (spec §4.4, §4.5) and the UEB
//! parser (§4.3): never panic on any bytes.
#![no_main]

use lafs_format::cap::{Cap, FileCap};
use lafs_format::chk::{verify_share, ChkShare, ShareHeader};
use lafs_format::ueb::Ueb;
use libfuzzer_sys::fuzz_target;

const CAP: &str = "URI:CHK:lm2lije2iii3xi4nhiadnz4tpu:doc7ml5fvipuhmhoqkn33edag27z3waqclzxpbhpnxom6wjsagka:3:10:1000";

fuzz_target!(|data: &[u8]| {
    let _ = ShareHeader::parse(data);
    if let Ok(s) = ChkShare::parse(data) {
        let _ = s.infer_shnum(10);
        let _ = Ueb::parse(s.ueb);
    }
    let _ = Ueb::parse(data);
    if let Ok(Cap::File(FileCap::ChkRead(c))) = Cap::parse(CAP) {
        let shnum = data.first().copied().unwrap_or(0) as u16 % 11;
        let _ = verify_share(&c.verifier(), shnum, data);
    }
});
