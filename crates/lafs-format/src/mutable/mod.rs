//! # Mutable files: SDMF and MDMF shares (spec §2.4, §5)
//!
//! A mutable file is named by an RSA-2048 key. Its private key (PKCS#8 DER)
//! hashes to the writekey, the writekey to the readkey, the readkey to the
//! storage index; its public key (SPKI DER) hashes to the fingerprint that
//! every cap carries ([`rsa`], [`crate::keys::mutable`]). Every share
//! carries the verification key, an RSA-PSS signature over a *signed
//! prefix* (version, seqnum, root hash, SDMF IV, k, N, segment size, data
//! length), the Merkle proofs tying its blocks to that root hash, the
//! blocks themselves, and the private key encrypted with the writekey (so
//! any writecap holder can recover it).
//!
//! | module | owns |
//! |---|---|
//! | [`rsa`] | key newtype (2048-bit only, redacted), PEM/DER input, exact DER for hashing, PSS sign/verify (e=17 accepted) |
//! | [`share`] | [`Version`] dispatch, header parsing (what a servermap reads), whole-share parsing by offsets |
//! | [`sdmf`] | version-0 byte layout (§5.4): signed prefix, packing |
//! | [`mdmf`] | version-1 byte layout (§5.5): signed prefix, packing with the fixed share-data offset 2167 |
//! | [`mod@publish`] | in-memory encode: encrypt, zfec, hash trees, sign, pack N shares |
//! | [`mod@retrieve`] | in-memory decode: verify each share (naming failures), pick the newest recoverable version, zfec, decrypt |
//!
//! ## Must never
//!
//! * re-serialize a stored field before hashing or verifying it (old shares
//!   carry pycryptopp-era keys whose DER we would not reproduce);
//! * panic on any share bytes (proptests and the `mutable_share` fuzz
//!   target feed arbitrary input to [`MutableShare::parse`]);
//! * print a private key or writekey (`Debug` is redacted).
//!
//! ## Data flow
//!
//! Publish: [`rsa::PrivateKey`] + plaintext → [`publish::encode`] → per
//! share [`sdmf::pack_share`] / [`mdmf::pack_share`]. Retrieve: share bytes
//! → [`ShareHeader::parse`] (servermap) → [`retrieve::validate_share`] →
//! [`retrieve::retrieve`] → plaintext.

//! ## Entry points
//!
//! * a write cap from a key file: [`PrivateKey::from_pem`] →
//!   [`PrivateKey::write_cap_material`] (`URI:SSK:{b32 writekey}:{b32
//!   fingerprint}`, same fields for `URI:MDMF:` and `URI:DIR2:`), or
//!   [`PrivateKey::key_chain`] for readkey and storage index too;
//! * decode shares given a cap: [`KeyChain::from_writekey`] /
//!   [`KeyChain::from_readkey`] → [`retrieve()`] with `(shnum, bytes)` pairs;
//! * dump a share: [`MutableShare::parse`] → [`MutableShare::fields`] (JSON),
//!   or [`ShareHeader::parse`] → [`ShareHeader::fields`] from the first
//!   [`share::HEADER_LEN_MAX`] bytes;
//! * encode: [`publish()`] (or [`publish::encode`] for the pieces).

pub mod mdmf;
pub mod publish;
pub mod retrieve;
pub mod rsa;
pub mod sdmf;
pub mod share;

pub use publish::{publish, PublishParams};
pub use retrieve::{retrieve, Retrieved};
pub use rsa::{KeyChain, PrivateKey, PublicKey};
pub use share::{MutableShare, ShareHeader, Version};
