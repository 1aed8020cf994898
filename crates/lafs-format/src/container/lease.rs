//! Lease records (spec §7.4) as stored in containers.
//!
//! ```text
//! immutable, 72 bytes:  0 u32 owner | 4 32 renew | 36 32 cancel | 68 u32 expiration
//! mutable,   92 bytes:  0 u32 owner | 4 u32 expiration | 8 32 renew | 40 32 cancel | 72 20 nodeid
//! ```
//! All integers big-endian; expiration is unix seconds.
//!
//! Version-1 containers store the renew and cancel secrets in clear;
//! version-2 containers store `BLAKE2b-256(secret)` (unkeyed, 32-byte
//! digest), so a stolen disk does not yield secrets that renew leases
//! elsewhere. [`LeaseScheme`] hides the difference: `store` turns a
//! secret into what goes on disk and `matches` compares a presented secret
//! with a stored record in constant time.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use super::{array20, array32, be_u32};
use crate::keys::{ct_eq, LeaseCancelSecret, LeaseRenewSecret};

/// Tahoe's `DEFAULT_RENEWAL_TIME`: a lease lasts 31 days from add or renew.
pub const LEASE_DURATION_SECS: u32 = 31 * 24 * 60 * 60;

/// How a container stores lease secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaseScheme {
    /// Version 1: secrets in clear.
    Clear,
    /// Version 2: BLAKE2b-256 of the secret.
    Hashed,
}

impl LeaseScheme {
    /// What to write on disk for `secret`.
    pub fn store(self, secret: &[u8; 32]) -> [u8; 32] {
        match self {
            LeaseScheme::Clear => *secret,
            LeaseScheme::Hashed => {
                let digest = Blake2b::<U32>::digest(secret);
                array32(&digest)
            }
        }
    }

    /// Does the stored field match a presented secret? Constant time in the
    /// secret's contents.
    pub fn matches(self, stored: &[u8; 32], secret: &[u8; 32]) -> bool {
        ct_eq(stored, &self.store(secret))
    }
}

/// Redact a stored secret field in Debug output (v1 stores it in clear).
struct Redacted;
impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A 72-byte immutable lease record, with the secret fields as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ImmutableLease {
    /// Owner number (0 for anonymous storage-protocol clients).
    pub owner_num: u32,
    /// Stored renew secret (clear or hashed, per the container version).
    pub renew: [u8; 32],
    /// Stored cancel secret.
    pub cancel: [u8; 32],
    /// Unix seconds.
    pub expiration: u32,
}

impl std::fmt::Debug for ImmutableLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImmutableLease")
            .field("owner_num", &self.owner_num)
            .field("renew", &Redacted)
            .field("cancel", &Redacted)
            .field("expiration", &self.expiration)
            .finish()
    }
}

impl ImmutableLease {
    /// Record size on disk.
    pub const LEN: usize = 72;

    /// A new lease, storing the secrets per `scheme`.
    pub fn new(
        scheme: LeaseScheme,
        owner_num: u32,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        expiration: u32,
    ) -> Self {
        ImmutableLease {
            owner_num,
            renew: scheme.store(renew.as_bytes()),
            cancel: scheme.store(cancel.as_bytes()),
            expiration,
        }
    }

    /// Parse one record; `None` unless `b` is exactly [`Self::LEN`] bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN {
            return None;
        }
        Some(ImmutableLease {
            owner_num: be_u32(&b[0..4]),
            renew: array32(&b[4..36]),
            cancel: array32(&b[36..68]),
            expiration: be_u32(&b[68..72]),
        })
    }

    /// Serialize.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0..4].copy_from_slice(&self.owner_num.to_be_bytes());
        out[4..36].copy_from_slice(&self.renew);
        out[36..68].copy_from_slice(&self.cancel);
        out[68..72].copy_from_slice(&self.expiration.to_be_bytes());
        out
    }
}

/// A 92-byte mutable lease record. Owner 0 marks an empty slot.
#[derive(Clone, PartialEq, Eq)]
pub struct MutableLease {
    /// Owner number; 0 means "empty slot" in the four fixed slots.
    pub owner_num: u32,
    /// Unix seconds.
    pub expiration: u32,
    /// Stored renew secret (clear or hashed, per the container version).
    pub renew: [u8; 32],
    /// Stored cancel secret.
    pub cancel: [u8; 32],
    /// The nodeid of the server that granted the lease.
    pub nodeid: [u8; 20],
}

impl std::fmt::Debug for MutableLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MutableLease")
            .field("owner_num", &self.owner_num)
            .field("expiration", &self.expiration)
            .field("renew", &Redacted)
            .field("cancel", &Redacted)
            .field("nodeid", &crate::base32::encode(&self.nodeid))
            .finish()
    }
}

impl MutableLease {
    /// Record size on disk.
    pub const LEN: usize = 92;

    /// The all-zero record Tahoe writes into unused slots.
    pub const EMPTY: MutableLease = MutableLease {
        owner_num: 0,
        expiration: 0,
        renew: [0; 32],
        cancel: [0; 32],
        nodeid: [0; 20],
    };

    /// A new lease, storing the secrets per `scheme`.
    pub fn new(
        scheme: LeaseScheme,
        owner_num: u32,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        expiration: u32,
        nodeid: [u8; 20],
    ) -> Self {
        MutableLease {
            owner_num,
            expiration,
            renew: scheme.store(renew.as_bytes()),
            cancel: scheme.store(cancel.as_bytes()),
            nodeid,
        }
    }

    /// Is this a fixed slot nobody uses (Tahoe: owner number 0)?
    pub fn is_empty(&self) -> bool {
        self.owner_num == 0
    }

    /// Parse one record; `None` unless `b` is exactly [`Self::LEN`] bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN {
            return None;
        }
        Some(MutableLease {
            owner_num: be_u32(&b[0..4]),
            expiration: be_u32(&b[4..8]),
            renew: array32(&b[8..40]),
            cancel: array32(&b[40..72]),
            nodeid: array20(&b[72..92]),
        })
    }

    /// Serialize.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0..4].copy_from_slice(&self.owner_num.to_be_bytes());
        out[4..8].copy_from_slice(&self.expiration.to_be_bytes());
        out[8..40].copy_from_slice(&self.renew);
        out[40..72].copy_from_slice(&self.cancel);
        out[72..92].copy_from_slice(&self.nodeid);
        out
    }
}
