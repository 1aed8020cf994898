//! TLS for the storage protocol (spec §8.1): a self-signed certificate made
//! once at node creation, a rustls server config (HTTP/1.1, no SNI needed),
//! and a client verifier whose only identity check is the SPKI pin — the
//! same rule as the Python client (signature must verify; issuer, validity
//! and hostname are ignored).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::nurl::{cert_spki, spki_hash};

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

/// Accepts exactly the certificate whose SPKI hashes to the pin.
#[derive(Debug)]
pub struct SpkiPinVerifier {
    pin: String,
    provider: Arc<CryptoProvider>,
}

impl SpkiPinVerifier {
    /// Pin to the 43-character hash from a NURL.
    pub fn new(pin: String) -> Self {
        SpkiPinVerifier {
            pin,
            provider: provider(),
        }
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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
}
