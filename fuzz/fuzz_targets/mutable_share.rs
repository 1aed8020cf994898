//! SDMF/MDMF share readers never panic on any bytes, and the full reader
//! agrees with the header-only (servermap) reader.
#![no_main]

use lafs_format::keys::WriteKey;
use lafs_format::mutable::retrieve::validate_share;
use lafs_format::mutable::{KeyChain, MutableShare, ShareHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let header = ShareHeader::parse(data);
    if let Ok(share) = MutableShare::parse(data) {
        assert_eq!(header.as_ref().ok(), Some(&share.header));
        let _ = share.fields();
        // Checks run up to the first failure (usually the fingerprint).
        let keys = KeyChain::from_writekey(
            WriteKey::from_bytes([7; 16]),
            lafs_format::keys::mutable::fingerprint(share.verification_key),
        );
        let _ = validate_share(&keys, 0, data);
    }
});
