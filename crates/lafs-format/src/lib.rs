//! # lafs-format: every Tahoe-LAFS 1.20 format, byte for byte
//!
//! This crate owns the bytes: how caps are written, how data is hashed and
//! encrypted, how shares and server containers are laid out, and how
//! directories are serialized. If lafs and Tahoe disagree on a single byte
//! here, lafs cannot read existing grids, so every module is checked
//! against the known-answer vectors in `../shared/vectors` and names the
//! section of `../shared/spec/tahoe-formats.md` it implements.
//!
//! ## What it must never do
//!
//! It is pure. No tokio, no `std::fs`, no `std::net`: functions take bytes
//! and typed values and return them. Parsers return typed errors and never
//! panic, whatever the input (each has a proptest "never panics" test and a
//! fuzz target). CI checks purity with `cargo tree -p lafs-format -e normal`.
//!
//! ## How data flows
//!
//! Upload (CHK): plaintext → [`keys::ConvergenceHasher`] (key) →
//! [`aes::AesCtr`] (ciphertext) → segments → `lafs_fec` (blocks) →
//! [`hash`] (block and segment hashes) → [`hashtree`] (trees) → [`ueb`] →
//! [`chk`] share layout → caps in [`cap`]. Download runs the same path
//! backwards and verifies every hash against the cap before it trusts a
//! byte.
//!
//! Mutable files ([`mutable`]) sign their share prefix with RSA-2048 PSS;
//! directories ([`dirnode`]) are the plaintext of a mutable or immutable
//! file. Servers wrap share data in [`container`]s that hold leases.

pub mod aes;
pub mod base32;
pub mod cap;
pub mod chk;
pub mod container;
pub mod dirnode;
pub mod hash;
pub mod hashtree;
pub mod keys;
pub mod mutable;
pub mod netstring;
pub mod ueb;
