//! The introducer service: holds the latest signed announcement of every
//! `(service-name, key)` and hands the set to subscribers (protocol in
//! [`crate::wire`]).
//!
//! Replacement rules are Tahoe's (`introducer/server.py` `_publish`): an
//! identical announcement is a duplicate; a different one replaces the old
//! only if its `seqnum` is an integer above the old one's. Like Tahoe's,
//! the introducer never forgets an announcement while it runs and keeps
//! nothing on disk: after a restart, publishers notice they are missing
//! from the set (they subscribe to their own service) and publish again.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use lafs_format::base32;
use lafs_http::server::Resp;
use lafs_http::Swissnum;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::ann::{AnnError, SignedAnnouncement};
use crate::wire::{
    self, AnnouncementsResponse, PublishResponse, ANNOUNCEMENTS_PATH, MAX_PUBLISH_BODY,
    MAX_WAIT_SECS, PUBLISH_PATH,
};

/// What a publish did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishOutcome {
    /// First announcement of this (service, key).
    New,
    /// Replaced an older one.
    Updated,
    /// Identical to the one held.
    Duplicate,
    /// Different, but its seqnum is not above the held one's: ignored.
    Stale,
}

impl PublishOutcome {
    fn as_str(self) -> &'static str {
        match self {
            PublishOutcome::New => "new",
            PublishOutcome::Updated => "updated",
            PublishOutcome::Duplicate => "duplicate",
            PublishOutcome::Stale => "stale",
        }
    }
}

#[derive(Debug, Default)]
struct State {
    generation: u64,
    /// (service-name, key_s) → the announcement as received.
    anns: BTreeMap<(String, String), (SignedAnnouncement, Option<u64>)>,
}

/// One introducer's state; cheap to clone.
#[derive(Clone)]
pub struct Introducer {
    inner: Arc<Inner>,
}

struct Inner {
    epoch: String,
    swissnum: Swissnum,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

impl std::fmt::Debug for Introducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introducer")
            .field("epoch", &self.inner.epoch)
            .finish_non_exhaustive()
    }
}

impl Introducer {
    /// An empty introducer that admits requests carrying `swissnum`.
    pub fn new(swissnum: Swissnum) -> Self {
        let mut e = [0u8; 16];
        // A zero epoch only costs subscribers one extra full answer.
        let _ = aws_lc_rs::rand::fill(&mut e);
        Introducer {
            inner: Arc::new(Inner {
                epoch: base32::encode(&e),
                swissnum,
                state: Mutex::new(State::default()),
                changed: watch::channel(0).0,
            }),
        }
    }

    /// Verify and store an announcement.
    pub fn publish(&self, s: SignedAnnouncement) -> Result<PublishOutcome, AnnError> {
        let ann = s.verify()?;
        let index = (ann.service_name().to_string(), ann.key_s.clone());
        let seqnum = ann.seqnum();
        let mut st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = match st.anns.get(&index) {
            Some((old, _)) if old.msg == s.msg => return Ok(PublishOutcome::Duplicate),
            Some((_, Some(old_seq))) if seqnum.is_none_or(|n| n <= *old_seq) => {
                return Ok(PublishOutcome::Stale)
            }
            Some(_) => PublishOutcome::Updated,
            None => PublishOutcome::New,
        };
        st.anns.insert(index, (s, seqnum));
        st.generation += 1;
        let g = st.generation;
        drop(st);
        self.inner.changed.send_replace(g);
        tracing::info!(
            service = ann.service_name(),
            key = %ann.key_s,
            nickname = ann.nickname(),
            outcome = outcome.as_str(),
            "announcement"
        );
        Ok(outcome)
    }

    /// The current set of `service`.
    pub fn snapshot(&self, service: &str) -> AnnouncementsResponse {
        let st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        AnnouncementsResponse {
            epoch: self.inner.epoch.clone(),
            generation: st.generation,
            announcements: st
                .anns
                .iter()
                .filter(|((svc, _), _)| svc == service)
                .map(|(_, (s, _))| s.clone())
                .collect(),
        }
    }

    /// The long poll: answer when the subscriber's view (`epoch`, `since`)
    /// is out of date, or after `wait`.
    pub async fn poll(
        &self,
        service: &str,
        epoch: &str,
        since: u64,
        wait: Duration,
    ) -> AnnouncementsResponse {
        let mut rx = self.inner.changed.subscribe();
        if epoch == self.inner.epoch && *rx.borrow_and_update() <= since {
            let _ = tokio::time::timeout(wait, async {
                while rx.changed().await.is_ok() {
                    if *rx.borrow_and_update() > since {
                        break;
                    }
                }
            })
            .await;
        }
        self.snapshot(service)
    }

    /// Answer one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>) -> Resp
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path();
        if path != PUBLISH_PATH && path != ANNOUNCEMENTS_PATH {
            return text(StatusCode::NOT_FOUND, "not found");
        }
        if !self.inner.swissnum.check(
            parts
                .headers
                .get_all(AUTHORIZATION)
                .iter()
                .map(HeaderValue::as_bytes),
        ) {
            return text(StatusCode::UNAUTHORIZED, "bad Authorization");
        }
        match (&parts.method, path) {
            (&Method::POST, PUBLISH_PATH) => {
                let Ok(b) = Limited::new(body, MAX_PUBLISH_BODY).collect().await else {
                    return text(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
                };
                let Ok(s) = wire::decode::<SignedAnnouncement>(&b.to_bytes()) else {
                    return text(StatusCode::BAD_REQUEST, "bad CBOR");
                };
                match self.publish(s) {
                    Ok(o) => cbor(&PublishResponse {
                        outcome: o.as_str().into(),
                    }),
                    Err(e) => text(StatusCode::BAD_REQUEST, &e.to_string()),
                }
            }
            (&Method::GET, ANNOUNCEMENTS_PATH) => {
                let (mut service, mut epoch, mut since, mut wait) = ("storage", "", 0u64, 0u64);
                for (k, v) in wire::query_pairs(parts.uri.query().unwrap_or("")) {
                    match k {
                        "service" => service = v,
                        "epoch" => epoch = v,
                        "since" => since = v.parse().unwrap_or(0),
                        "wait" => wait = v.parse().unwrap_or(0),
                        _ => {}
                    }
                }
                let wait = Duration::from_secs(wait.min(MAX_WAIT_SECS));
                cbor(&self.poll(service, epoch, since, wait).await)
            }
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        }
    }
}

fn text(status: StatusCode, msg: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(msg.to_string())));
    *r.status_mut() = status;
    r
}

fn cbor<T: serde::Serialize>(v: &T) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(wire::encode(v))));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/cbor"));
    r
}

/// Serve the introducer over HTTPS on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    introducer: Introducer,
    shutdown: impl Future<Output = ()>,
) {
    lafs_http::server::serve_with(listener, tls, shutdown, move |req| {
        let i = introducer.clone();
        async move { i.handle(req).await }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ann::{announcement_dict, SigningKey};
    use serde_json::Map;

    #[tokio::test]
    async fn replacement_rules() {
        let i = Introducer::new(Swissnum::new("s".into()));
        let (k, _) = SigningKey::generate().unwrap();
        let a1 = k.sign(&announcement_dict("n", "storage", 1, "x", Map::new()));
        let a2 = k.sign(&announcement_dict("n", "storage", 2, "y", Map::new()));
        let a0 = k.sign(&announcement_dict("n", "storage", 0, "z", Map::new()));
        assert_eq!(i.publish(a1.clone()).unwrap(), PublishOutcome::New);
        assert_eq!(i.publish(a1).unwrap(), PublishOutcome::Duplicate);
        assert_eq!(i.publish(a2.clone()).unwrap(), PublishOutcome::Updated);
        assert_eq!(i.publish(a0).unwrap(), PublishOutcome::Stale);
        let snap = i.snapshot("storage");
        assert_eq!(snap.announcements, vec![a2]);
        assert_eq!(snap.generation, 2);
        assert!(i.snapshot("other").announcements.is_empty());
        // An up-to-date poll with no wait answers the same set.
        let p = i
            .poll("storage", &snap.epoch, 2, Duration::from_millis(1))
            .await;
        assert_eq!(p.generation, 2);
        let mut forged = p.announcements[0].clone();
        forged.msg.push(' ');
        assert!(i.publish(forged).is_err());
    }
}
