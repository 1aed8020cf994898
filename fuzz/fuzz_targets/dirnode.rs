//! Directory bodies: unpacking never panics, and whatever unpacks can be
//! packed again.
#![no_main]

use lafs_format::dirnode::{pack, unpack, DirKind, PackKind};
use lafs_format::keys::WriteKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let wk = WriteKey::from_bytes([3; 16]);
    let _ = unpack(data, DirKind::Mutable(None));
    if let Ok(kids) = unpack(data, DirKind::Mutable(Some(&wk))) {
        let _ = pack(&kids, PackKind::Mutable(&wk));
    }
    if let Ok(kids) = unpack(data, DirKind::Immutable) {
        let _ = pack(&kids, PackKind::Immutable);
    }
});
