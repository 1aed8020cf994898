//! The storage broker: the servers a client knows, with what it derives
//! per server (spec §2.5, §2.6, §9.3).
//!
//! * `permutation_seed` orders servers per storage index:
//!   `SHA1(si || seed)`, ascending (spec §2.6);
//! * `lease_seed` is the 20-byte tub id from the server's FURL, the seed of
//!   the lease secrets (spec §9.3) — never the server id itself;
//! * the node's lease secret (`private/secret`) is held here once.

use lafs_format::keys::{
    lease, permute_server_key, LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex,
};
pub use secret::LeaseSecret;
use std::sync::Arc;

/// One known server.
#[derive(Debug)]
pub struct GridServer<C> {
    /// Its id (`v0-…` key or any name from servers.yaml), for messages.
    pub id: String,
    /// Seed of the per-file permutation.
    pub permutation_seed: Vec<u8>,
    /// The 20-byte tub id (lease and write-enabler seed).
    pub lease_seed: ServerId20,
    /// How to talk to it.
    pub client: C,
}

impl<C> GridServer<C> {
    /// Lease secrets this client presents to this server for `si`.
    pub fn lease_secrets(
        &self,
        secret: &LeaseSecret,
        si: &StorageIndex,
    ) -> (LeaseRenewSecret, LeaseCancelSecret) {
        lease::for_server(secret.as_bytes(), si, &self.lease_seed)
    }
}

/// The servers of a grid plus the node's lease secret.
#[derive(Debug)]
pub struct Grid<C> {
    servers: Vec<Arc<GridServer<C>>>,
    lease_secret: LeaseSecret,
}

impl<C> Clone for Grid<C> {
    fn clone(&self) -> Self {
        Grid {
            servers: self.servers.clone(),
            lease_secret: self.lease_secret.clone(),
        }
    }
}

impl<C> Grid<C> {
    /// A grid of `servers`; `lease_secret` is `b32decode(private/secret)`.
    pub fn new(servers: Vec<GridServer<C>>, lease_secret: LeaseSecret) -> Self {
        Grid {
            servers: servers.into_iter().map(Arc::new).collect(),
            lease_secret,
        }
    }

    /// A grid of servers already shared with another grid: a new grid
    /// built when the server set changes keeps the `Arc`s (and so the
    /// connection pools) of the servers that did not change.
    pub fn from_shared(servers: Vec<Arc<GridServer<C>>>, lease_secret: LeaseSecret) -> Self {
        Grid {
            servers,
            lease_secret,
        }
    }

    /// All servers in configuration order.
    pub fn servers(&self) -> &[Arc<GridServer<C>>] {
        &self.servers
    }

    /// The lease secret.
    pub fn lease_secret(&self) -> &LeaseSecret {
        &self.lease_secret
    }

    /// Servers in the order a Tahoe client tries them for `si`.
    pub fn permuted(&self, si: &StorageIndex) -> Vec<Arc<GridServer<C>>> {
        let mut v: Vec<([u8; 20], Arc<GridServer<C>>)> = self
            .servers
            .iter()
            .map(|s| (permute_server_key(si, &s.permutation_seed), s.clone()))
            .collect();
        v.sort_by_key(|a| a.0);
        v.into_iter().map(|(_, s)| s).collect()
    }
}

/// Secret newtypes of this crate.
pub mod secret {
    /// The node's lease secret (`private/secret`, 32 bytes decoded).
    #[derive(Clone)]
    pub struct LeaseSecret(Vec<u8>);

    impl LeaseSecret {
        /// Wrap raw bytes.
        pub fn new(b: Vec<u8>) -> Self {
            LeaseSecret(b)
        }
        /// The raw bytes.
        pub fn as_bytes(&self) -> &[u8] {
            &self.0
        }
    }

    impl std::fmt::Debug for LeaseSecret {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("LeaseSecret(<redacted>)")
        }
    }
}
