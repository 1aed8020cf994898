//! The introducer's HTTPS protocol (lafs's own; Tahoe 1.20 has only the
//! Foolscap introducer, spec §9.1). Bodies are CBOR like the storage
//! protocol's; authentication is the storage protocol's
//! `Authorization: Tahoe-LAFS <base64(swissnum)>` (spec §8.2).
//!
//! | request                                        | body → answer                                   |
//! |------------------------------------------------|-------------------------------------------------|
//! | `POST /introducer/v1/publish`                  | [`SignedAnnouncement`] → [`PublishResponse`]    |
//! | `GET  /introducer/v1/announcements?service=S&epoch=E&since=G&wait=W` | — → [`AnnouncementsResponse`] |
//!
//! `announcements` is a long poll: it answers at once when the
//! introducer's `epoch` (random per process start) differs from `E` or its
//! `generation` (bumped by every accepted publish) is above `G`, otherwise
//! when the generation moves or after `W` seconds (at most
//! [`MAX_WAIT_SECS`]). Every answer carries the whole current set of the
//! service, still signed, so a subscriber never trusts the introducer.

use crate::ann::SignedAnnouncement;
use serde::{Deserialize, Serialize};

/// Path of the publish endpoint.
pub const PUBLISH_PATH: &str = "/introducer/v1/publish";
/// Path of the subscription (long-poll) endpoint.
pub const ANNOUNCEMENTS_PATH: &str = "/introducer/v1/announcements";
/// Longest long poll the server holds.
pub const MAX_WAIT_SECS: u64 = 60;
/// Largest publish body accepted.
pub const MAX_PUBLISH_BODY: usize = 64 * 1024;

/// Answer to a publish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishResponse {
    /// `new`, `updated`, `duplicate` or `stale` (a seqnum not above the
    /// one held: ignored, as Tahoe does).
    pub outcome: String,
}

/// Answer to a subscription poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementsResponse {
    /// Random per introducer start.
    pub epoch: String,
    /// Bumped by every accepted publish.
    pub generation: u64,
    /// Every announcement held for the service.
    pub announcements: Vec<SignedAnnouncement>,
}

/// Why a body did not decode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Not CBOR of the expected schema.
    #[error("CBOR body does not match the schema")]
    Schema,
}

/// Encode a body.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail for these plain structs.
    let _ = ciborium::into_writer(v, &mut out);
    out
}

/// Decode a body.
pub fn decode<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, WireError> {
    ciborium::from_reader(b).map_err(|_| WireError::Schema)
}

/// Parse `a=b&c=d` (no percent-escapes: every value this protocol uses is
/// base32, decimal or a service name).
pub fn query_pairs(q: &str) -> impl Iterator<Item = (&str, &str)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_garbage() {
        let r = AnnouncementsResponse {
            epoch: "e".into(),
            generation: 7,
            announcements: vec![SignedAnnouncement {
                msg: "{}".into(),
                sig: "v0-a".into(),
                key: "v0-b".into(),
            }],
        };
        assert_eq!(decode::<AnnouncementsResponse>(&encode(&r)).unwrap(), r);
        assert!(decode::<PublishResponse>(&encode(&r)).is_err());
        assert!(decode::<PublishResponse>(b"\xff\x00").is_err());
        let q: Vec<_> = query_pairs("a=1&b&&c=x=y").collect();
        assert_eq!(q, vec![("a", "1"), ("b", ""), ("c", "x=y")]);
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode::<AnnouncementsResponse>(&b);
            let _ = decode::<SignedAnnouncement>(&b);
        }
    }
}
