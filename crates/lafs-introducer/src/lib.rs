//! # lafs-introducer: how nodes find each other over HTTPS
//!
//! Tahoe 1.20's introducer speaks only Foolscap (spec §9.1). This crate is
//! lafs's HTTPS introducer carrying the **same announcements**: the
//! `(msg, sig, key)` triple, `msg` the UTF-8 JSON dict Tahoe builds
//! (`service-name`, `nickname`, `seqnum`, `nonce`,
//! `anonymous-storage-FURL`, `anonymous-storage-NURLs`,
//! `permutation-seed-base32`, …), signed with the node's Ed25519 key.
//! Python Tahoe nodes cannot use it (they keep static `servers.yaml`).
//!
//! ## What it owns
//!
//! * [`ann`]: signing and verifying announcements, node signing keys;
//! * [`wire`]: the HTTPS protocol (publish; long-poll subscribe);
//! * [`server`]: the introducer service (Tahoe's replacement rules);
//! * [`client`]: introducer configuration of a node
//!   (`[client] introducer.furl`, `private/introducers.yaml`),
//!   subscriptions with reconnect backoff and the per-introducer
//!   announcement cache, and the publisher of our own announcement;
//! * [`grid`]: announcements → `Grid<HttpClient>`, reusing unchanged
//!   servers.
//!
//! ## The introducer URL
//!
//! An introducer is named exactly like an HTTPS storage server, by a NURL:
//! `pb://<SPKI pin>@<host>:<port>/<swissnum>#v=1`, written by
//! `lafs create-introducer` to `NODEDIR/private/introducer.furl` and given
//! to nodes as `[client] introducer.furl` or in `private/introducers.yaml`.
//! The pin authenticates the introducer (TLS, spec §8.1), the swissnum
//! authorises its users (`Authorization: Tahoe-LAFS …`, spec §8.2). A
//! Foolscap fURL (no `#v=1`) is refused with a clear error.
//!
//! ## What it must never do
//!
//! Trust the introducer: every announcement's signature is checked by the
//! introducer *and* again by each subscriber, and a subscriber only
//! accepts a newer `seqnum` for a key it knows. Forget a server because an
//! introducer went away. Log a swissnum or a private key.
//!
//! ## Data flow
//!
//! ```text
//! storage node: ann dict ─sign─► Publisher ─POST publish─► Introducer
//! client node:  Subscription ◄─GET announcements (long poll)─ Introducer
//!               ─verify─► merged map (newest seqnum per key) ─► cache file
//!               ─► GridTracker (+ static servers.yaml) ─► Grid<HttpClient>
//! ```

pub mod ann;
#[cfg(feature = "node")]
pub mod client;
#[cfg(feature = "node")]
pub mod grid;
#[cfg(feature = "node")]
pub mod server;
pub mod wire;

pub use ann::{AnnError, Announcement, SignedAnnouncement, SigningKey};
#[cfg(feature = "node")]
pub use client::{
    introducers_of_node, IntroError, IntroducerEntry, IntroducerStatus, Options, Publisher,
    StatusBoard, Subscription,
};
#[cfg(feature = "node")]
pub use grid::{follow, GridFeed, GridTracker};
#[cfg(feature = "node")]
pub use server::{Introducer, PublishOutcome};
