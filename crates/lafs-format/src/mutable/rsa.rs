//! RSA keys for mutable files (spec §2.4, §5.1).
//!
//! Tahoe signs every mutable share's signed prefix with an RSA-2048 key
//! using **RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 32**, and derives
//! the whole mutable key chain from two DER serializations of that key:
//!
//! | bytes | what | used for |
//! |---|---|---|
//! | PKCS#8 `PrivateKeyInfo` DER (unencrypted, ~1217 B) | private key | `writekey = H_WRITEKEY(der)[:16]`, stored AES-CTR encrypted in every share |
//! | X.509 `SubjectPublicKeyInfo` DER (294 B, 292 B for e=17) | verification key | `fingerprint = H_PUBKEY(der)`, stored in every share |
//!
//! Python serializes with OpenSSL, whose DER is canonical; aws-lc-rs
//! marshals the same canonical structures, so a key read from any encoding
//! (PKCS#1 PEM, PKCS#8 PEM or DER) gives the caps in `test_vectors.yaml`.
//! The one exception is a PKCS#8 blob read out of a share: it is kept
//! **verbatim** (the reader hashes the stored bytes; pycryptopp-era keys
//! were serialized by Crypto++ and we never re-serialize them).
//!
//! Only 2048-bit private keys are accepted ([`RsaError::KeySize`]), like
//! Tahoe 1.20. Verification accepts any 2048..=8192-bit key and any public
//! exponent: pycryptopp-era keys use e = 17, which AWS-LC accepts (aws-lc-rs
//! imposes no exponent minimum, unlike *ring*; checked by the pycryptopp
//! vectors and the 1.2.0 SDMF shares in the tests).
//!
//! A tiny DER walker (`der`) reads the modulus size before handing the key
//! to aws-lc-rs, so a wrong-sized key gets a typed error naming its size.

use crate::keys::{mutable as mkeys, Fingerprint, ReadKey, StorageIndex, WriteKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use zeroize::Zeroizing;

/// The only private-key size Tahoe 1.20 accepts.
pub const KEY_BITS: usize = 2048;
/// Signature length for a 2048-bit key.
pub const SIGNATURE_LEN: usize = 256;

/// Why a key could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RsaError {
    /// The text is not PEM, or its label is not one we read.
    #[error("not a PEM RSA private key (expected \"RSA PRIVATE KEY\" or \"PRIVATE KEY\")")]
    NotPem,
    /// The PEM body is not valid base64.
    #[error("PEM body is not valid base64")]
    PemBase64,
    /// The DER structure is not an RSA key of the expected shape.
    #[error("malformed RSA key DER: {0}")]
    Der(&'static str),
    /// The key is not 2048 bits (Tahoe 1.20 refuses other sizes).
    #[error("RSA key is {bits} bits; only {KEY_BITS}-bit keys are accepted")]
    KeySize {
        /// Bits in the modulus.
        bits: usize,
    },
    /// aws-lc-rs refused the key (inconsistent components and the like).
    #[error("RSA key rejected: {0}")]
    Rejected(&'static str),
    /// Signing failed inside aws-lc-rs.
    #[error("RSA signing failed")]
    Sign,
    /// Key generation failed inside aws-lc-rs.
    #[error("RSA key generation failed")]
    Generate,
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The verification key is not an RSA SubjectPublicKeyInfo.
    #[error("verification key is not an RSA SubjectPublicKeyInfo: {0}")]
    BadKey(&'static str),
    /// The signature does not match.
    #[error("RSA-PSS signature does not verify")]
    BadSignature,
}

/// An RSA-2048 private key together with the exact DER bytes Tahoe hashes.
pub struct PrivateKey {
    pair: KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateKey(<redacted>, fingerprint {})",
            self.fingerprint()
        )
    }
}

impl PrivateKey {
    /// Generate a fresh RSA-2048 key (e = 65537). Slow (~100 ms or more).
    pub fn generate() -> Result<Self, RsaError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| RsaError::Generate)?;
        let der = pair.as_der().map_err(|_| RsaError::Generate)?;
        Self::from_parts(pair, der.as_ref().to_vec())
    }

    /// Read a PEM private key: PKCS#1 (`RSA PRIVATE KEY`, as in
    /// `test_vectors.yaml`) or PKCS#8 (`PRIVATE KEY`, as `openssl genpkey`
    /// writes). The writekey is derived from the canonical PKCS#8
    /// re-serialization, as Python's `cryptography` does.
    pub fn from_pem(text: &str) -> Result<Self, RsaError> {
        let (label, der) = pem_decode(text)?;
        match label.as_str() {
            "RSA PRIVATE KEY" => Self::from_pkcs1_der(&der),
            "PRIVATE KEY" => Self::from_pkcs8_der_canonical(&der),
            _ => Err(RsaError::NotPem),
        }
    }

    /// Read a PKCS#1 `RSAPrivateKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, RsaError> {
        check_bits(der::pkcs1_private_modulus_bits(der)?)?;
        let pair = KeyPair::from_der(der).map_err(|e| RsaError::Rejected(e.description_()))?;
        Self::canonical(pair)
    }

    /// Read a PKCS#8 DER and keep its bytes **verbatim** (the form used for
    /// a key decrypted out of a share, whose stored bytes were hashed into
    /// the writekey).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, RsaError> {
        check_bits(der::pkcs8_private_modulus_bits(der)?)?;
        let pair = KeyPair::from_pkcs8(der).map_err(|e| RsaError::Rejected(e.description_()))?;
        Self::from_parts(pair, der.to_vec())
    }

    /// Read a PKCS#8 DER and re-serialize it canonically (the form used for
    /// a key file: Python loads and re-serializes it before hashing).
    pub fn from_pkcs8_der_canonical(der: &[u8]) -> Result<Self, RsaError> {
        check_bits(der::pkcs8_private_modulus_bits(der)?)?;
        let pair = KeyPair::from_pkcs8(der).map_err(|e| RsaError::Rejected(e.description_()))?;
        Self::canonical(pair)
    }

    /// Keep the key with its canonical PKCS#8 serialization.
    fn canonical(pair: KeyPair) -> Result<Self, RsaError> {
        let p8 = pair
            .as_der()
            .map_err(|_| RsaError::Rejected("cannot serialize as PKCS#8"))?;
        Self::from_parts(pair, p8.as_ref().to_vec())
    }

    fn from_parts(pair: KeyPair, pkcs8: Vec<u8>) -> Result<Self, RsaError> {
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| RsaError::Rejected("cannot serialize public key"))?
            .as_ref()
            .to_vec();
        Ok(PrivateKey {
            pair,
            pkcs8: Zeroizing::new(pkcs8),
            spki,
        })
    }

    /// The PKCS#8 DER bytes Tahoe hashes into the writekey and stores
    /// (encrypted) in every share. Secret.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The SubjectPublicKeyInfo DER (the share's verification key).
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    /// The verification key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            spki: self.spki.clone(),
        }
    }

    /// `writekey = H_WRITEKEY(pkcs8)[:16]` (spec §2.4).
    pub fn writekey(&self) -> WriteKey {
        mkeys::writekey(&self.pkcs8)
    }

    /// `fingerprint = H_PUBKEY(spki)` (spec §2.4).
    pub fn fingerprint(&self) -> Fingerprint {
        mkeys::fingerprint(&self.spki)
    }

    /// The write-cap material: `URI:SSK:{b32 writekey}:{b32 fingerprint}`
    /// (and `URI:MDMF:`, `URI:DIR2:` … with the same two fields).
    pub fn write_cap_material(&self) -> (WriteKey, Fingerprint) {
        (self.writekey(), self.fingerprint())
    }

    /// The whole key chain: writekey, readkey, storage index, fingerprint.
    pub fn key_chain(&self) -> KeyChain {
        KeyChain::from_writekey(self.writekey(), self.fingerprint())
    }

    /// Sign `message` with RSASSA-PSS-SHA256, salt length 32 (randomized).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, RsaError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // RSA_PSS_SHA256 uses salt length = digest length = 32, which is
        // what pycryptopp (and so Tahoe) uses; not the "max" salt length.
        self.pair
            .sign(&signature::RSA_PSS_SHA256, &rng, message, &mut sig)
            .map_err(|_| RsaError::Sign)?;
        Ok(sig)
    }
}

/// A mutable file's derived keys (spec §2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyChain {
    /// The writekey (None for a read-only holder).
    pub writekey: Option<WriteKey>,
    /// The readkey.
    pub readkey: ReadKey,
    /// The storage index.
    pub storage_index: StorageIndex,
    /// The verification-key fingerprint.
    pub fingerprint: Fingerprint,
}

impl KeyChain {
    /// Keys of a write-cap holder.
    pub fn from_writekey(writekey: WriteKey, fingerprint: Fingerprint) -> Self {
        let readkey = mkeys::readkey(&writekey);
        let storage_index = mkeys::storage_index(&readkey);
        KeyChain {
            writekey: Some(writekey),
            readkey,
            storage_index,
            fingerprint,
        }
    }

    /// Keys of a read-cap holder.
    pub fn from_readkey(readkey: ReadKey, fingerprint: Fingerprint) -> Self {
        let storage_index = mkeys::storage_index(&readkey);
        KeyChain {
            writekey: None,
            readkey,
            storage_index,
            fingerprint,
        }
    }
}

/// An RSA verification key as stored in a share (SubjectPublicKeyInfo DER).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(fingerprint {})", self.fingerprint())
    }
}

impl PublicKey {
    /// Wrap SPKI DER bytes (not validated until [`PublicKey::verify`]).
    pub fn from_spki_der(der: &[u8]) -> Self {
        PublicKey { spki: der.to_vec() }
    }
    /// The DER bytes.
    pub fn as_der(&self) -> &[u8] {
        &self.spki
    }
    /// `H_PUBKEY(spki)`.
    pub fn fingerprint(&self) -> Fingerprint {
        mkeys::fingerprint(&self.spki)
    }
    /// Verify an RSASSA-PSS-SHA256 (salt 32) signature over `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        verify_spki(&self.spki, message, sig)
    }
}

/// Verify an RSASSA-PSS-SHA256 (MGF1-SHA256, salt 32) signature with an SPKI
/// DER verification key. Accepts e = 17 keys.
pub fn verify_spki(spki: &[u8], message: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    // Insist on the SPKI wrapper ourselves: aws-lc-rs would also take a bare
    // PKCS#1 RSAPublicKey, which Tahoe never stores.
    der::spki_modulus_bits(spki).map_err(|e| match e {
        RsaError::Der(m) => VerifyError::BadKey(m),
        _ => VerifyError::BadKey("unreadable"),
    })?;
    UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, spki)
        .verify(message, sig)
        .map_err(|_| VerifyError::BadSignature)
}

fn check_bits(bits: usize) -> Result<(), RsaError> {
    if bits == KEY_BITS {
        Ok(())
    } else {
        Err(RsaError::KeySize { bits })
    }
}

/// Decode a PEM block: `(label, der)`. Only the first block is read.
fn pem_decode(text: &str) -> Result<(String, Zeroizing<Vec<u8>>), RsaError> {
    let begin = text.find("-----BEGIN ").ok_or(RsaError::NotPem)?;
    let rest = &text[begin + 11..];
    let label_end = rest.find("-----").ok_or(RsaError::NotPem)?;
    let label = rest[..label_end].to_string();
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body.find(&end_marker).ok_or(RsaError::NotPem)?;
    let b64: Zeroizing<String> = Zeroizing::new(
        body[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    let der = data_encoding::BASE64
        .decode(b64.as_bytes())
        .map_err(|_| RsaError::PemBase64)?;
    Ok((label, Zeroizing::new(der)))
}

/// Just enough DER to find an RSA modulus in the three structures we read.
pub(crate) mod der {
    use super::RsaError;

    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    const BIT_STRING: u8 = 0x03;

    /// Split one TLV: `(tag, contents, rest)`. Definite lengths only.
    fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), RsaError> {
        let (&tag, rest) = input.split_first().ok_or(RsaError::Der("truncated"))?;
        let (&l0, mut rest) = rest.split_first().ok_or(RsaError::Der("truncated"))?;
        let len = if l0 < 0x80 {
            usize::from(l0)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(RsaError::Der("bad length"));
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | usize::from(b);
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err(RsaError::Der("truncated"));
        }
        Ok((tag, &rest[..len], &rest[len..]))
    }

    fn expect(input: &[u8], want: u8) -> Result<(&[u8], &[u8]), RsaError> {
        let (tag, body, rest) = tlv(input)?;
        if tag != want {
            return Err(RsaError::Der("unexpected tag"));
        }
        Ok((body, rest))
    }

    /// Bits in a positive INTEGER's value.
    fn int_bits(body: &[u8]) -> usize {
        let mut b = body;
        while let [0, tail @ ..] = b {
            b = tail;
        }
        match b.first() {
            None => 0,
            Some(&top) => (b.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        }
    }

    /// RSAPrivateKey ::= SEQUENCE { version, n, e, d, p, q, ... }
    pub fn pkcs1_private_modulus_bits(der: &[u8]) -> Result<usize, RsaError> {
        let (seq, _) = expect(der, SEQUENCE)?;
        let (_version, rest) = expect(seq, INTEGER)?;
        let (n, _) = expect(rest, INTEGER)?;
        Ok(int_bits(n))
    }

    /// PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, OCTET STRING(RSAPrivateKey) }
    pub fn pkcs8_private_modulus_bits(der: &[u8]) -> Result<usize, RsaError> {
        let (seq, _) = expect(der, SEQUENCE)?;
        let (_version, rest) = expect(seq, INTEGER)?;
        let (_alg, rest) = expect(rest, SEQUENCE)?;
        let (inner, _) = expect(rest, OCTET_STRING)?;
        pkcs1_private_modulus_bits(inner)
    }

    /// SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING(RSAPublicKey) }
    pub fn spki_modulus_bits(der: &[u8]) -> Result<usize, RsaError> {
        let (seq, _) = expect(der, SEQUENCE)?;
        let (_alg, rest) = expect(seq, SEQUENCE)?;
        let (bits, _) = expect(rest, BIT_STRING)?;
        let (&unused, key) = bits
            .split_first()
            .ok_or(RsaError::Der("empty bit string"))?;
        if unused != 0 {
            return Err(RsaError::Der("bit string with unused bits"));
        }
        let (pk, _) = expect(key, SEQUENCE)?;
        let (n, _) = expect(pk, INTEGER)?;
        Ok(int_bits(n))
    }
}
