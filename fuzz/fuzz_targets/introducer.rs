//! The introducer's inputs never panic: CBOR bodies of both endpoints,
//! announcement verification of arbitrary triples, and the query string.
//! A body the decoder accepts re-encodes and decodes to the same value.
#![no_main]

use lafs_introducer::wire::{self, AnnouncementsResponse, PublishResponse};
use lafs_introducer::SignedAnnouncement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 4 {
        0 => {
            if let Ok(s) = wire::decode::<SignedAnnouncement>(rest) {
                let _ = s.verify();
                assert_eq!(wire::decode::<SignedAnnouncement>(&wire::encode(&s)).ok(), Some(s));
            }
        }
        1 => {
            if let Ok(r) = wire::decode::<AnnouncementsResponse>(rest) {
                for a in &r.announcements {
                    let _ = a.verify();
                }
                assert_eq!(wire::decode::<AnnouncementsResponse>(&wire::encode(&r)).ok(), Some(r));
            }
        }
        2 => {
            let _ = wire::decode::<PublishResponse>(rest);
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let _ = wire::query_pairs(&text).count();
            let mut parts = text.splitn(3, '\n');
            let s = SignedAnnouncement {
                msg: parts.next().unwrap_or("").to_string(),
                sig: parts.next().unwrap_or("").to_string(),
                key: parts.next().unwrap_or("").to_string(),
            };
            let _ = s.verify();
        }
    }
});
