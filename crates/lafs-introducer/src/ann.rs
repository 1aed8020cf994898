//! Signed announcements, exactly Tahoe 1.20's `(msg, sig, key)` triple
//! (spec §9.1; `introducer/common.py` `sign_to_foolscap` /
//! `unsign_from_foolscap`):
//!
//! | field | content                                                        |
//! |-------|----------------------------------------------------------------|
//! | `msg` | UTF-8 JSON of the announcement dict (the bytes that are signed) |
//! | `sig` | `"v0-"` ‖ b32(Ed25519 signature over `msg`)                     |
//! | `key` | `"v0-"` ‖ b32(Ed25519 public key) — the server id, `key_s`      |
//!
//! The signature covers the exact `msg` bytes, so a verifier keeps and
//! forwards `msg` as it was received and only *parses* it; it never
//! re-serialises the dict (JSON key order and spacing differ between
//! Python and Rust).
//!
//! Keys on disk: Tahoe writes `private/node.privkey` as
//! `priv-v0-<b32 of the 32-byte seed>`; `lafs create-node` writes
//! `priv-v0-pkcs8-<base64 PKCS#8>`. Both load.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use base64::Engine;
use lafs_format::base32;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Why an announcement or key is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnnError {
    /// `sig` or `key` lacks the `v0-` prefix Tahoe requires.
    #[error("only v0- signatures and keys are recognised")]
    UnknownKeyFormat,
    /// The base32 after `v0-` does not decode.
    #[error("signature or key is not base32")]
    Base32,
    /// Ed25519 verification failed.
    #[error("bad announcement signature")]
    BadSignature,
    /// `msg` is not a UTF-8 JSON object.
    #[error("announcement is not a JSON object")]
    NotJson,
    /// A private key file of an unknown shape.
    #[error("private key is not priv-v0-<b32 seed> or priv-v0-pkcs8-<base64>")]
    BadPrivateKey,
    /// The system random source failed.
    #[error("no randomness")]
    Random,
}

/// A node's Ed25519 signing key (`private/node.privkey`). Secret:
/// `Debug` is redacted and nothing prints it.
pub struct SigningKey(Ed25519KeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(<redacted>, {})", self.key_s())
    }
}

impl SigningKey {
    /// A fresh key and its `node.privkey` text (lafs's PKCS#8 form).
    pub fn generate() -> Result<(SigningKey, String), AnnError> {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| AnnError::Random)?;
        let text = format!(
            "priv-v0-pkcs8-{}",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| AnnError::BadPrivateKey)?;
        Ok((SigningKey(kp), text))
    }

    /// Load the text of a `node.privkey` file (either form).
    pub fn from_privkey_text(text: &str) -> Result<SigningKey, AnnError> {
        let t = text.trim();
        if let Some(b64) = t.strip_prefix("priv-v0-pkcs8-") {
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| AnnError::BadPrivateKey)?;
            return Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                .map(SigningKey)
                .map_err(|_| AnnError::BadPrivateKey);
        }
        let b32 = t.strip_prefix("priv-v0-").ok_or(AnnError::BadPrivateKey)?;
        let seed = base32::decode(b32).map_err(|_| AnnError::BadPrivateKey)?;
        Ed25519KeyPair::from_seed_unchecked(&seed)
            .map(SigningKey)
            .map_err(|_| AnnError::BadPrivateKey)
    }

    /// `"v0-" ‖ b32(public key)`: the server id other nodes know us by.
    pub fn key_s(&self) -> String {
        format!("v0-{}", base32::encode(self.0.public_key().as_ref()))
    }

    /// The b32 of the public key alone (Tahoe's default permutation seed
    /// for a fresh storage server).
    pub fn public_b32(&self) -> String {
        base32::encode(self.0.public_key().as_ref())
    }

    /// Serialise `ann` to JSON and sign it.
    pub fn sign(&self, ann: &Map<String, Value>) -> SignedAnnouncement {
        let msg = Value::Object(ann.clone()).to_string();
        let sig = self.0.sign(msg.as_bytes());
        SignedAnnouncement {
            msg,
            sig: format!("v0-{}", base32::encode(sig.as_ref())),
            key: self.key_s(),
        }
    }
}

/// The `(msg, sig, key)` triple as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAnnouncement {
    /// The announcement dict as UTF-8 JSON text (the signed bytes).
    pub msg: String,
    /// `v0-` ‖ b32 signature.
    pub sig: String,
    /// `v0-` ‖ b32 public key.
    pub key: String,
}

/// A verified announcement: who said it and what they said.
#[derive(Clone, Debug, PartialEq)]
pub struct Announcement {
    /// The announcer's `v0-…` key (the server id).
    pub key_s: String,
    /// The announcement dict.
    pub ann: Map<String, Value>,
}

impl Announcement {
    /// `service-name` (e.g. `"storage"`), empty if absent.
    pub fn service_name(&self) -> &str {
        self.ann
            .get("service-name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `seqnum`, if present and a non-negative integer.
    pub fn seqnum(&self) -> Option<u64> {
        self.ann.get("seqnum").and_then(Value::as_u64)
    }

    /// `nickname`, empty if absent.
    pub fn nickname(&self) -> &str {
        self.ann
            .get("nickname")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

impl SignedAnnouncement {
    /// Check the signature and parse the dict (Tahoe's
    /// `unsign_from_foolscap`).
    pub fn verify(&self) -> Result<Announcement, AnnError> {
        let sig = self
            .sig
            .strip_prefix("v0-")
            .ok_or(AnnError::UnknownKeyFormat)?;
        let key = self
            .key
            .strip_prefix("v0-")
            .ok_or(AnnError::UnknownKeyFormat)?;
        let sig = base32::decode(sig).map_err(|_| AnnError::Base32)?;
        let key = base32::decode(key).map_err(|_| AnnError::Base32)?;
        UnparsedPublicKey::new(&ED25519, &key)
            .verify(self.msg.as_bytes(), &sig)
            .map_err(|_| AnnError::BadSignature)?;
        match serde_json::from_str::<Value>(&self.msg) {
            Ok(Value::Object(ann)) => Ok(Announcement {
                key_s: self.key.clone(),
                ann,
            }),
            _ => Err(AnnError::NotJson),
        }
    }
}

/// The fields every Tahoe announcement carries (`IntroducerClient.
/// create_announcement_dict` plus the sequencer's `seqnum`/`nonce`),
/// merged with the service's own fields.
pub fn announcement_dict(
    nickname: &str,
    service_name: &str,
    seqnum: u64,
    nonce: &str,
    service_fields: Map<String, Value>,
) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("version".into(), Value::from(0));
    d.insert("nickname".into(), Value::from(nickname));
    // Tahoe's `get_app_versions()` returns an empty dict.
    d.insert("app-versions".into(), Value::Object(Map::new()));
    d.insert(
        "my-version".into(),
        Value::from(concat!("lafs/", env!("CARGO_PKG_VERSION"))),
    );
    d.insert("oldest-supported".into(), Value::from("tahoe-lafs/1.20.0"));
    d.insert("service-name".into(), Value::from(service_name));
    d.extend(service_fields);
    d.insert("seqnum".into(), Value::from(seqnum));
    d.insert("nonce".into(), Value::from(nonce));
    d
}

/// The storage service's own fields (Tahoe `client.py` `init_storage`):
/// the FURL only carries the permanent 20-byte tub id (lease and
/// write-enabler seed, spec §9.3) — it is never dialled over HTTPS.
pub fn storage_fields(
    tubid_b32: &str,
    host: &str,
    port: u16,
    nurls: &[String],
    permutation_seed_b32: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "anonymous-storage-FURL".into(),
        Value::from(format!("pb://{tubid_b32}@tcp:{host}:{port}/unused")),
    );
    m.insert(
        "anonymous-storage-NURLs".into(),
        Value::from(nurls.to_vec()),
    );
    m.insert(
        "permutation-seed-base32".into(),
        Value::from(permutation_seed_b32),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let (k, text) = SigningKey::generate().unwrap();
        let again = SigningKey::from_privkey_text(&text).unwrap();
        assert_eq!(k.key_s(), again.key_s());
        let d = announcement_dict("n", "storage", 3, "abc", Map::new());
        let s = k.sign(&d);
        let a = s.verify().unwrap();
        assert_eq!(a.key_s, k.key_s());
        assert_eq!(a.seqnum(), Some(3));
        assert_eq!(a.service_name(), "storage");
        let mut bad = s.clone();
        bad.msg = bad.msg.replace("\"n\"", "\"m\"");
        assert!(matches!(bad.verify(), Err(AnnError::BadSignature)));
        let mut bad = s;
        bad.key = bad.key.replacen("v0-", "v1-", 1);
        assert!(matches!(bad.verify(), Err(AnnError::UnknownKeyFormat)));
    }

    #[test]
    fn tahoe_seed_form_loads() {
        // Tahoe's node.privkey: priv-v0- then b32 of the 32-byte seed.
        let k = SigningKey::from_privkey_text(&format!("priv-v0-{}\n", base32::encode(&[7; 32])))
            .unwrap();
        assert!(k.key_s().starts_with("v0-"));
        assert_eq!(k.key_s().len(), 3 + 52);
        assert!(SigningKey::from_privkey_text("priv-v1-xx").is_err());
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(msg in ".*", sig in ".*", key in ".*") {
            let _ = SignedAnnouncement { msg, sig, key }.verify();
        }
    }
}
