//! # lafs-http: Tahoe-LAFS 1.20's HTTPS storage protocol ("Great Black Swamp")
//!
//! This crate owns the wire side of a storage server (spec §8): the CBOR
//! body types ([`wire`]), the mapping from a request line to a typed
//! endpoint ([`route`]), the two layers of authentication ([`auth`]), NURLs
//! and the SPKI certificate pin ([`nurl`]), and — behind the `server`
//! feature — a TLS HTTP/1.1 server that drives a
//! `lafs_storage::StorageServer` ([`server`], [`tls`]); behind `client`, a
//! small pinned HTTPS client ([`client`]) used by benchmarks and tests.
//!
//! It must never: interpret share contents (the engine stores bytes, the
//! client owns caps and keys), log a secret (swissnum, lease secrets,
//! upload secrets, write enablers — their types redact `Debug`), or accept
//! a body a Python 1.20 peer would refuse (pycddl is strict, so we are).
//!
//! Data flow of one request in the server:
//! `TLS accept → hyper HTTP/1.1 → route (404/405) → Authorization (401) →
//! X-Tahoe-Authorization set (400) → Accept/Content-Type (406/415) →
//! bounded body read (413) → strict CBOR decode (400) → engine call →
//! one error→status function → response`.

pub mod auth;
pub mod nurl;
pub mod route;
pub mod wire;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod server;
#[cfg(any(feature = "server", feature = "client"))]
pub mod tls;

pub use auth::{SecretKind, Secrets, SecretsError, Swissnum};
pub use nurl::{cert_spki, spki_hash, Nurl, NurlError};
pub use route::{Namespace, RouteError, StorageEndpoint};
pub use wire::WireError;
