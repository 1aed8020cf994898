//! TLS for the storage protocol (spec §8.1): a self-signed certificate made
//! once at node creation, a rustls server config (HTTP/1.1, no SNI needed),
//! and a client verifier whose only identity check is the SPKI pin — the
//! same rule as the Python client (signature must verify; issuer, validity
//! and hostname are ignored).
//!
//! The verifier never hands the certificate to webpki: Python Tahoe's
//! `private/node.pem` is an X.509 **version 1** certificate, which webpki
//! rejects (`UnsupportedCertVersion`). Instead the SPKI is found by a DER
//! walk that tolerates a missing `[0] version` (`nurl::cert_spki`), and the
//! handshake signature is checked directly against that SPKI with aws-lc-rs.
//! Only the key types and schemes listed in [`SUPPORTED_SCHEMES`] are
//! accepted; everything else is rejected.

use std::sync::Arc;

use aws_lc_rs::signature as sig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::nurl::{cert_spki, spki_hash, tlv};

/// Why TLS material could not be made or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// PEM text without a usable certificate or key.
    #[error("bad PEM: {0}")]
    Pem(String),
    /// The certificate has no parsable SubjectPublicKeyInfo.
    #[error("certificate has no SubjectPublicKeyInfo")]
    NoSpki,
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// Certificate generation failed.
    #[cfg(feature = "server")]
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// The aws-lc-rs provider, used explicitly so no process-wide default is
/// needed.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A node's TLS identity: certificate and private key, both PEM.
#[derive(Clone)]
pub struct Identity {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM. Secret.
    pub key_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(<key redacted>)")
    }
}

impl Identity {
    /// Make a fresh self-signed ECDSA P-256 certificate.
    #[cfg(feature = "server")]
    pub fn generate(hostname: &str) -> Result<Self, TlsError> {
        let ck = rcgen::generate_simple_self_signed(vec![hostname.to_owned()])?;
        Ok(Identity {
            cert_pem: ck.cert.pem(),
            key_pem: ck.key_pair.serialize_pem(),
        })
    }

    /// The certificate's DER.
    pub fn cert_der(&self) -> Result<CertificateDer<'static>, TlsError> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|e| TlsError::Pem(e.to_string()))
    }

    /// The SPKI pin that goes into the NURL.
    pub fn spki_hash(&self) -> Result<String, TlsError> {
        let der = self.cert_der()?;
        cert_spki(&der).map(spki_hash).ok_or(TlsError::NoSpki)
    }

    /// A rustls server configuration presenting this identity.
    #[cfg(feature = "server")]
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der()?], key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(cfg)
    }
}

/// Handshake signature schemes the pin verifier accepts, strongest first.
pub const SUPPORTED_SCHEMES: [SignatureScheme; 9] = [
    SignatureScheme::ED25519,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PKCS1_SHA512,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA256,
];

/// The key type named by an SPKI's AlgorithmIdentifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

// OID contents (DER, without tag and length).
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// Split a DER SubjectPublicKeyInfo into its key kind and the key bytes
/// aws-lc-rs expects (the BIT STRING contents: an `RSAPublicKey` DER, an
/// uncompressed EC point, or the raw Ed25519 key).
///
/// ```text
/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
///                                     subjectPublicKey BIT STRING }
/// AlgorithmIdentifier  ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
/// ```
fn parse_spki(spki: &[u8]) -> Option<(KeyKind, &[u8])> {
    let (0x30, _, body, _) = tlv(spki)? else {
        return None;
    };
    let (0x30, _, alg, rest) = tlv(body)? else {
        return None;
    };
    let (0x06, _, oid, params) = tlv(alg)? else {
        return None;
    };
    let kind = if oid == OID_RSA_ENCRYPTION {
        KeyKind::Rsa
    } else if oid == OID_ED25519 {
        KeyKind::Ed25519
    } else if oid == OID_EC_PUBLIC_KEY {
        // The named curve is the parameter (explicit curves are refused).
        match tlv(params)? {
            (0x06, _, c, _) if c == OID_P256 => KeyKind::EcP256,
            (0x06, _, c, _) if c == OID_P384 => KeyKind::EcP384,
            _ => return None,
        }
    } else {
        return None;
    };
    let (0x03, _, bits, _) = tlv(rest)? else {
        return None;
    };
    // First content byte of a BIT STRING counts unused bits: keys use whole bytes.
    match bits.split_first() {
        Some((0, key)) => Some((kind, key)),
        _ => None,
    }
}

/// The aws-lc-rs algorithm for a (key kind, scheme) pair, or None when the
/// pair is not acceptable. TLS 1.3 forbids PKCS#1 v1.5 handshake signatures
/// and binds each ECDSA scheme to its curve (RFC 8446 §4.2.3); TLS 1.2 lets
/// the hash differ from the curve.
fn algorithm(
    kind: KeyKind,
    scheme: SignatureScheme,
    tls13: bool,
) -> Option<&'static dyn sig::VerificationAlgorithm> {
    use KeyKind::*;
    use SignatureScheme as S;
    Some(match (kind, scheme) {
        (Rsa, S::RSA_PSS_SHA256) => &sig::RSA_PSS_2048_8192_SHA256,
        (Rsa, S::RSA_PSS_SHA384) => &sig::RSA_PSS_2048_8192_SHA384,
        (Rsa, S::RSA_PSS_SHA512) => &sig::RSA_PSS_2048_8192_SHA512,
        (Rsa, S::RSA_PKCS1_SHA256) if !tls13 => &sig::RSA_PKCS1_2048_8192_SHA256,
        (Rsa, S::RSA_PKCS1_SHA384) if !tls13 => &sig::RSA_PKCS1_2048_8192_SHA384,
        (Rsa, S::RSA_PKCS1_SHA512) if !tls13 => &sig::RSA_PKCS1_2048_8192_SHA512,
        (EcP256, S::ECDSA_NISTP256_SHA256) => &sig::ECDSA_P256_SHA256_ASN1,
        (EcP384, S::ECDSA_NISTP384_SHA384) => &sig::ECDSA_P384_SHA384_ASN1,
        (EcP256, S::ECDSA_NISTP384_SHA384) if !tls13 => &sig::ECDSA_P256_SHA384_ASN1,
        (EcP384, S::ECDSA_NISTP256_SHA256) if !tls13 => &sig::ECDSA_P384_SHA256_ASN1,
        (Ed25519, S::ED25519) => &sig::ED25519,
        _ => return None,
    })
}

/// Verify a handshake signature against the SPKI of `cert` (any X.509
/// version).
pub fn verify_handshake_signature(
    message: &[u8],
    cert: &[u8],
    dss: &DigitallySignedStruct,
    tls13: bool,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_signature(message, cert, dss.scheme, dss.signature(), tls13)
}

/// [`verify_handshake_signature`] with the scheme and signature unpacked
/// (rustls offers no public constructor for `DigitallySignedStruct`).
fn verify_signature(
    message: &[u8],
    cert: &[u8],
    scheme: SignatureScheme,
    signature: &[u8],
    tls13: bool,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let (kind, key) =
        cert_spki(cert)
            .and_then(parse_spki)
            .ok_or(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            ))?;
    let alg = algorithm(kind, scheme, tls13).ok_or(rustls::Error::PeerMisbehaved(
        rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
    ))?;
    sig::UnparsedPublicKey::new(alg, key)
        .verify(message, signature)
        .map(|()| HandshakeSignatureValid::assertion())
        .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature))
}

/// Accepts exactly the certificate whose SPKI hashes to the pin.
#[derive(Debug)]
pub struct SpkiPinVerifier {
    pin: String,
}

impl SpkiPinVerifier {
    /// Pin to the 43-character hash from a NURL.
    pub fn new(pin: String) -> Self {
        SpkiPinVerifier { pin }
    }
}

impl ServerCertVerifier for SpkiPinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let spki = cert_spki(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        // The pin is public (it is in the NURL); no constant time needed.
        if spki_hash(spki) == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_handshake_signature(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_handshake_signature(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        SUPPORTED_SCHEMES.to_vec()
    }
}

/// A rustls client configuration pinned to one server.
pub fn client_config(pin: &str) -> Result<rustls::ClientConfig, TlsError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpkiPinVerifier::new(pin.to_owned())))
        .with_no_client_auth();
    cfg.enable_sni = false;
    Ok(cfg)
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_has_pin() {
        let id = Identity::generate("localhost").unwrap();
        let pin = id.spki_hash().unwrap();
        assert_eq!(pin.len(), 43);
        id.server_config().unwrap();
        client_config(&pin).unwrap();
        assert!(!format!("{id:?}").contains("PRIVATE"));
    }

    /// DER TLV with a definite length (test helper).
    fn der(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = body.len();
        if n < 0x80 {
            v.push(n as u8);
        } else if n < 0x100 {
            v.extend([0x81, n as u8]);
        } else {
            v.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend_from_slice(body);
        v
    }

    /// An SPKI for `alg_body` (the AlgorithmIdentifier contents) and key.
    fn spki(alg_body: &[u8], key: &[u8]) -> Vec<u8> {
        let mut bits = vec![0u8];
        bits.extend_from_slice(key);
        der(0x30, &[der(0x30, alg_body), der(0x03, &bits)].concat())
    }

    /// A minimal X.509 **v1** certificate (no `[0] version` field, as in
    /// Python Tahoe's `node.pem`) around `spki`. Its own signature is junk:
    /// the pin verifier never checks it, exactly like Tahoe.
    fn v1_cert(spki: &[u8]) -> Vec<u8> {
        let sha256_rsa = der(
            0x30,
            &[
                der(
                    0x06,
                    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
                ),
                vec![5, 0],
            ]
            .concat(),
        );
        let name = der(
            0x30,
            &der(
                0x31,
                &der(
                    0x30,
                    &[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, b"x")].concat(),
                ),
            ),
        );
        let validity = der(
            0x30,
            &[der(0x17, b"200101000000Z"), der(0x17, b"300101000000Z")].concat(),
        );
        let tbs = der(
            0x30,
            &[
                der(0x02, &[1]),
                sha256_rsa.clone(),
                name.clone(),
                validity,
                name,
                spki.to_vec(),
            ]
            .concat(),
        );
        der(
            0x30,
            &[tbs, sha256_rsa, der(0x03, &[0, 0xde, 0xad])].concat(),
        )
    }

    fn oid(b: &[u8]) -> Vec<u8> {
        der(0x06, b)
    }

    #[test]
    fn v1_certificates_verify_all_key_types() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::KeyPair;
        let msg = b"TLS 1.3, server CertificateVerify\0transcript";
        let rng = SystemRandom::new();
        // (certificate, scheme, signature) for each key type.
        let mut cases: Vec<(Vec<u8>, SignatureScheme, Vec<u8>)> = Vec::new();

        let ed = sig::Ed25519KeyPair::generate().unwrap();
        let cert = v1_cert(&spki(&oid(OID_ED25519), ed.public_key().as_ref()));
        cases.push((
            cert,
            SignatureScheme::ED25519,
            ed.sign(msg).as_ref().to_vec(),
        ));

        for (curve, signing, scheme) in [
            (
                OID_P256,
                &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                SignatureScheme::ECDSA_NISTP256_SHA256,
            ),
            (
                OID_P384,
                &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                SignatureScheme::ECDSA_NISTP384_SHA384,
            ),
        ] {
            let kp = sig::EcdsaKeyPair::generate(signing).unwrap();
            let cert = v1_cert(&spki(
                &[oid(OID_EC_PUBLIC_KEY), oid(curve)].concat(),
                kp.public_key().as_ref(),
            ));
            cases.push((cert, scheme, kp.sign(&rng, msg).unwrap().as_ref().to_vec()));
        }

        let rsa = sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let cert = v1_cert(&spki(
            &[oid(OID_RSA_ENCRYPTION), vec![5, 0]].concat(),
            rsa.public_key().as_ref(),
        ));
        for (enc, scheme) in [
            (
                &sig::RSA_PSS_SHA256 as &dyn sig::RsaEncoding,
                SignatureScheme::RSA_PSS_SHA256,
            ),
            (&sig::RSA_PSS_SHA384, SignatureScheme::RSA_PSS_SHA384),
            (&sig::RSA_PSS_SHA512, SignatureScheme::RSA_PSS_SHA512),
            (&sig::RSA_PKCS1_SHA256, SignatureScheme::RSA_PKCS1_SHA256),
            (&sig::RSA_PKCS1_SHA384, SignatureScheme::RSA_PKCS1_SHA384),
            (&sig::RSA_PKCS1_SHA512, SignatureScheme::RSA_PKCS1_SHA512),
        ] {
            let mut s = vec![0; rsa.public_modulus_len()];
            rsa.sign(enc, &rng, msg, &mut s).unwrap();
            cases.push((cert.clone(), scheme, s));
        }

        for (cert, scheme, signature) in &cases {
            // Sanity: this really is a v1 certificate that webpki refuses.
            let der = CertificateDer::from(cert.clone());
            assert!(rustls::crypto::verify_tls13_signature(
                msg,
                &der,
                &dss_for_webpki_probe(),
                &provider().signature_verification_algorithms
            )
            .is_err());
            let pkcs1 = format!("{scheme:?}").starts_with("RSA_PKCS1");
            assert!(
                verify_signature(msg, cert, *scheme, signature, false).is_ok(),
                "{scheme:?}"
            );
            assert_eq!(
                verify_signature(msg, cert, *scheme, signature, true).is_ok(),
                !pkcs1,
                "{scheme:?}"
            );
            // A changed message or signature fails.
            assert!(verify_signature(b"other", cert, *scheme, signature, false).is_err());
            let mut bad = signature.clone();
            bad[5] ^= 1;
            assert!(verify_signature(msg, cert, *scheme, &bad, false).is_err());
            // The pin check accepts this certificate's own SPKI only.
            let pin = spki_hash(cert_spki(cert).unwrap());
            let v = SpkiPinVerifier::new(pin);
            let name = ServerName::try_from("x").unwrap();
            assert!(v
                .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
                .is_ok());
            let other = SpkiPinVerifier::new("A".repeat(43));
            assert!(other
                .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
                .is_err());
        }
        // Schemes that do not match the key are refused.
        let (ed_cert, _, ed_sig) = &cases[0];
        assert!(verify_signature(
            msg,
            ed_cert,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            ed_sig,
            false
        )
        .is_err());
        let (p256_cert, _, p256_sig) = &cases[1];
        assert!(
            verify_signature(msg, p256_cert, SignatureScheme::ED25519, p256_sig, false).is_err()
        );
        assert!(verify_signature(
            msg,
            p256_cert,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            p256_sig,
            true
        )
        .is_err());
        assert!(verify_signature(
            msg,
            p256_cert,
            SignatureScheme::ECDSA_SHA1_Legacy,
            p256_sig,
            false
        )
        .is_err());
        // An unknown key algorithm (DSA) is refused.
        let dsa = v1_cert(&spki(
            &oid(&[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01]),
            &[1, 2, 3],
        ));
        assert!(verify_signature(msg, &dsa, SignatureScheme::ED25519, ed_sig, false).is_err());
        // Truncated certificates never panic and never verify.
        for n in 0..ed_cert.len() {
            assert!(
                verify_signature(msg, &ed_cert[..n], SignatureScheme::ED25519, ed_sig, false)
                    .is_err()
            );
        }
    }

    /// Any DigitallySignedStruct, only to show webpki rejects v1 before it
    /// looks at the signature.
    #[allow(clippy::unwrap_used)]
    fn dss_for_webpki_probe() -> DigitallySignedStruct {
        // rustls has no public constructor; decode one from the wire form
        // (u16 scheme, u16 length, bytes).
        use rustls::internal::msgs::codec::{Codec, Reader};
        DigitallySignedStruct::read(&mut Reader::init(&[0x08, 0x07, 0, 1, 0])).unwrap()
    }

    #[test]
    fn spki_vector_certificates_are_v1_and_pin() {
        #[derive(serde::Deserialize)]
        struct Vectors {
            vector: Vec<Case>,
        }
        #[derive(serde::Deserialize)]
        struct Case {
            #[serde(rename = "expected-hash")]
            hash: String,
            certificate: String,
        }
        let v: Vectors = lafs_testing::read_yaml(
            "tahoe-lafs/src/allmydata/test/data/spki-hash-test-vectors.yaml",
        )
        .unwrap();
        let name = ServerName::try_from("x").unwrap();
        let mut v1 = 0;
        for c in &v.vector {
            let der = CertificateDer::from_pem_slice(c.certificate.as_bytes()).unwrap();
            // No `[0] version`: a v1 certificate like node.pem.
            let (_, _, cert, _) = tlv(&der).unwrap();
            let (_, _, tbs, _) = tlv(cert).unwrap();
            v1 += usize::from(tbs[0] == 0x02);
            // Every vector key type (RSA, ECDSA, Ed25519) is understood.
            assert!(parse_spki(cert_spki(&der).unwrap()).is_some());
            let ok = SpkiPinVerifier::new(c.hash.trim().to_owned());
            assert!(ok
                .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
                .is_ok());
        }
        assert!(v1 > 0, "the vectors include v1 certificates");
        lafs_testing::report_family("spki-hash-test-vectors (v1 pin verifier)", v.vector.len());
    }
}
