//! Key derivation (spec §2.3–§2.6) and the newtypes that carry keys.
//!
//! Secrets are newtypes whose `Debug` prints `<redacted>`, whose equality is
//! constant-time, and which are wiped on drop. Identifiers that are not
//! secret (storage indexes, fingerprints) print as base32.

use crate::base32;
use crate::hash::{tagged_hash, tagged_pair_hash, tags, truncate16, Hash, TaggedHasher};
use crate::netstring;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

macro_rules! secret_bytes {
    ($(#[$m:meta])* $name:ident, $n:expr) => {
        $(#[$m])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $n]);

        impl $name {
            /// Wrap raw bytes.
            pub const fn from_bytes(b: [u8; $n]) -> Self {
                $name(b)
            }
            /// The raw bytes. Handle with care: this is a secret.
            pub fn as_bytes(&self) -> &[u8; $n] {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }
        impl Eq for $name {}
    };
}

macro_rules! public_bytes {
    ($(#[$m:meta])* $name:ident, $n:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $n] {
                &self.0
            }
            /// Tahoe base32 text.
            pub fn to_base32(&self) -> String {
                base32::encode(&self.0)
            }
            /// Parse Tahoe base32 text.
            pub fn from_base32(s: &str) -> Result<Self, base32::Base32Error> {
                base32::decode_array(s).map($name)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.to_base32())
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_base32())
            }
        }
    };
}

secret_bytes!(
    /// A 16-byte AES-128 key (CHK read key, mutable readkey/writekey, data key).
    AesKey, 16
);
secret_bytes!(
    /// A mutable file's write key.
    WriteKey, 16
);
secret_bytes!(
    /// A mutable file's read key.
    ReadKey, 16
);
secret_bytes!(
    /// A per-server write enabler (spec §2.4), stored in mutable containers.
    WriteEnabler, 32
);
secret_bytes!(
    /// A lease renewal secret as sent to servers.
    LeaseRenewSecret, 32
);
secret_bytes!(
    /// A lease cancel secret as sent to servers.
    LeaseCancelSecret, 32
);

public_bytes!(
    /// A 16-byte storage index: the server-side name of a file.
    StorageIndex, 16
);
public_bytes!(
    /// A mutable file's verification-key fingerprint.
    Fingerprint, 32
);
public_bytes!(
    /// A server's permanent 20-byte node id (Foolscap tub id), which seeds
    /// lease secrets and write enablers (spec §9.3).
    ServerId20, 20
);

/// The node's convergence secret (any length; 32 bytes by default).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ConvergenceSecret(Vec<u8>);

impl ConvergenceSecret {
    /// Wrap raw bytes.
    pub fn new(b: Vec<u8>) -> Self {
        ConvergenceSecret(b)
    }
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for ConvergenceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConvergenceSecret(<redacted>)")
    }
}

/// Constant-time comparison of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// CHK storage index = `H_STORAGE_INDEX(key)[:16]`.
pub fn chk_storage_index(key: &AesKey) -> StorageIndex {
    StorageIndex(truncate16(&tagged_hash(
        tags::STORAGE_INDEX,
        key.as_bytes(),
    )))
}

/// The convergent-key tag for `(secret, k, N, segment_size)` (spec §2.3).
pub fn convergence_tag(secret: &ConvergenceSecret, k: u16, n: u16, segment_size: u64) -> Vec<u8> {
    let mut tag = tags::CONVERGENT_ENCRYPTION.to_vec();
    netstring::write(&mut tag, secret.as_bytes());
    netstring::write(&mut tag, format!("{k},{n},{segment_size}").as_bytes());
    tag
}

/// Streaming convergent-key hasher: feed the whole plaintext, then
/// [`ConvergenceHasher::finish`] gives the CHK key.
#[derive(Debug, Clone)]
pub struct ConvergenceHasher(TaggedHasher);

impl ConvergenceHasher {
    /// Start for the given parameters. `segment_size` is the effective one.
    pub fn new(secret: &ConvergenceSecret, k: u16, n: u16, segment_size: u64) -> Self {
        ConvergenceHasher(TaggedHasher::new(&convergence_tag(
            secret,
            k,
            n,
            segment_size,
        )))
    }
    /// Feed plaintext.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    /// The 16-byte CHK key.
    pub fn finish(self) -> AesKey {
        AesKey(truncate16(&self.0.finalize()))
    }
}

/// One-shot convergent key.
pub fn convergence_key(
    secret: &ConvergenceSecret,
    k: u16,
    n: u16,
    segment_size: u64,
    plaintext: &[u8],
) -> AesKey {
    let mut h = ConvergenceHasher::new(secret, k, n, segment_size);
    h.update(plaintext);
    h.finish()
}

/// The mutable key chain (spec §2.4), derived from the private key DER.
pub mod mutable {
    use super::*;

    /// writekey = `H_WRITEKEY(privkey_der)[:16]`.
    pub fn writekey(privkey_der: &[u8]) -> WriteKey {
        WriteKey(truncate16(&tagged_hash(
            tags::MUTABLE_WRITEKEY,
            privkey_der,
        )))
    }
    /// readkey = `H_READKEY(writekey)[:16]`.
    pub fn readkey(writekey: &WriteKey) -> ReadKey {
        ReadKey(truncate16(&tagged_hash(
            tags::MUTABLE_READKEY,
            writekey.as_bytes(),
        )))
    }
    /// storage index = `H_MUTABLE_SI(readkey)[:16]`.
    pub fn storage_index(readkey: &ReadKey) -> StorageIndex {
        StorageIndex(truncate16(&tagged_hash(
            tags::MUTABLE_STORAGEINDEX,
            readkey.as_bytes(),
        )))
    }
    /// fingerprint = `H_PUBKEY(pubkey SPKI DER)`.
    pub fn fingerprint(pubkey_der: &[u8]) -> Fingerprint {
        Fingerprint(tagged_hash(tags::MUTABLE_PUBKEY, pubkey_der))
    }
    /// Per-salt data key = `H_DATAKEY(salt, readkey)[:16]`.
    pub fn datakey(salt: &[u8; 16], readkey: &ReadKey) -> AesKey {
        AesKey(truncate16(&tagged_pair_hash(
            tags::MUTABLE_DATAKEY,
            salt,
            readkey.as_bytes(),
        )))
    }
    /// Write-enabler master = `H_WEM(writekey)`.
    pub fn write_enabler_master(writekey: &WriteKey) -> Hash {
        tagged_hash(tags::MUTABLE_WRITE_ENABLER_MASTER, writekey.as_bytes())
    }
    /// The write enabler for one server.
    pub fn write_enabler(writekey: &WriteKey, server: &ServerId20) -> WriteEnabler {
        WriteEnabler(tagged_pair_hash(
            tags::MUTABLE_WRITE_ENABLER,
            &write_enabler_master(writekey),
            server.as_bytes(),
        ))
    }
}

/// Lease secrets (spec §2.5).
pub mod lease {
    use super::*;

    /// Client renewal secret. Note the swap: the node's secret is the *tag*.
    pub fn client_renewal_secret(lease_secret: &[u8]) -> Hash {
        tagged_hash(lease_secret, tags::CLIENT_RENEWAL)
    }
    /// Client cancel secret (tag and value swapped, as above).
    pub fn client_cancel_secret(lease_secret: &[u8]) -> Hash {
        tagged_hash(lease_secret, tags::CLIENT_CANCEL)
    }
    /// Per-file renewal secret.
    pub fn file_renewal_secret(client_renew: &Hash, si: &StorageIndex) -> Hash {
        tagged_pair_hash(tags::FILE_RENEWAL, client_renew, si.as_bytes())
    }
    /// Per-file cancel secret.
    pub fn file_cancel_secret(client_cancel: &Hash, si: &StorageIndex) -> Hash {
        tagged_pair_hash(tags::FILE_CANCEL, client_cancel, si.as_bytes())
    }
    /// Per-bucket (file × server) renewal secret.
    pub fn bucket_renewal_secret(file_renew: &Hash, server: &ServerId20) -> LeaseRenewSecret {
        LeaseRenewSecret(tagged_pair_hash(
            tags::BUCKET_RENEWAL,
            file_renew,
            server.as_bytes(),
        ))
    }
    /// Per-bucket cancel secret.
    pub fn bucket_cancel_secret(file_cancel: &Hash, server: &ServerId20) -> LeaseCancelSecret {
        LeaseCancelSecret(tagged_pair_hash(
            tags::BUCKET_CANCEL,
            file_cancel,
            server.as_bytes(),
        ))
    }
    /// Both secrets a client sends to `server` for `si`, from the node's
    /// lease secret.
    pub fn for_server(
        lease_secret: &[u8],
        si: &StorageIndex,
        server: &ServerId20,
    ) -> (LeaseRenewSecret, LeaseCancelSecret) {
        let fr = file_renewal_secret(&client_renewal_secret(lease_secret), si);
        let fc = file_cancel_secret(&client_cancel_secret(lease_secret), si);
        (
            bucket_renewal_secret(&fr, server),
            bucket_cancel_secret(&fc, server),
        )
    }
}

/// Dirnode child write-cap encryption keys (spec §2.6, §6).
pub mod dirnode {
    use super::*;

    /// salt = `H_DIRNODE_CHILD_SALT(rw_uri)[:16]` (deterministic).
    pub fn child_salt(rw_uri: &[u8]) -> [u8; 16] {
        truncate16(&tagged_hash(tags::DIRNODE_CHILD_SALT, rw_uri))
    }
    /// key = `H_pair(DIRNODE_CHILD_WRITECAP, salt, writekey)[:16]`.
    pub fn child_key(salt: &[u8; 16], writekey: &WriteKey) -> AesKey {
        AesKey(truncate16(&tagged_pair_hash(
            tags::DIRNODE_CHILD_WRITECAP,
            salt,
            writekey.as_bytes(),
        )))
    }
}

/// Server permutation (spec §2.6): servers are tried in order of
/// `SHA1(storage_index || permutation_seed)`.
pub fn permute_server_key(si: &StorageIndex, seed: &[u8]) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    Sha1::new()
        .chain_update(si.as_bytes())
        .chain_update(seed)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convergence_kat() {
        let k = convergence_key(
            &ConvergenceSecret::new(b"converge".to_vec()),
            3,
            10,
            100,
            b"",
        );
        assert_eq!(base32::encode(k.as_bytes()), "3mo6ni7xweplycin6nowynw2we");
    }

    #[test]
    fn debug_redacts() {
        let k = AesKey::from_bytes([0x41; 16]);
        let s = format!("{k:?}");
        assert!(!s.contains("41") && s.contains("redacted"));
        let c = ConvergenceSecret::new(b"topsecret".to_vec());
        assert!(!format!("{c:?}").contains("topsecret"));
    }

    #[test]
    fn permutation_kat() {
        let seed = base32::decode("u33m4y7klhz3bypswqkozwetvabelhxt").unwrap();
        let mut si = [0u8; 16];
        si[..2].copy_from_slice(b"SI");
        // The KAT hashes the 2-byte "SI", not a 16-byte index.
        use sha1::{Digest, Sha1};
        let h: [u8; 20] = Sha1::new()
            .chain_update(b"SI")
            .chain_update(&seed)
            .finalize()
            .into();
        assert_eq!(base32::encode(&h), "kb4354zeeurpo3ze5e275wzbynm6hlap");
    }
}
