//! NURLs and the SPKI pin (spec §8.1).
//!
//! A 1.20 client identifies an HTTPS storage server only by the SHA-256 of
//! the DER `SubjectPublicKeyInfo` of its certificate, written as unpadded
//! URL-safe base64 (43 characters) in the NURL's userinfo:
//! `pb://<spki-hash>@<host>:<port>/<swissnum>#v=1`. Everything else about
//! the certificate (issuer, validity, hostname) is ignored.
//!
//! To pin a certificate we need its SPKI bytes; the few lines of DER
//! walking below find them without an X.509 library:
//!
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
//! TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
//!                               issuer, validity, subject, subjectPublicKeyInfo, … }
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// `urlsafe_b64(SHA256(spki_der))` without padding.
pub fn spki_hash(spki_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(spki_der))
}

/// One DER element: (tag, whole element, contents, rest of the input).
pub(crate) type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// The DER TLV at the start of `b`.
pub(crate) fn tlv(b: &[u8]) -> Option<Tlv<'_>> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    if end > b.len() {
        return None;
    }
    Some((tag, &b[..end], &b[hdr..end], &b[end..]))
}

/// The DER `SubjectPublicKeyInfo` inside an X.509 certificate.
pub fn cert_spki(cert_der: &[u8]) -> Option<&[u8]> {
    let (0x30, _, cert, _) = tlv(cert_der)? else {
        return None;
    };
    let (0x30, _, mut tbs, _) = tlv(cert)? else {
        return None;
    };
    // Optional explicit [0] version.
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs)?.3;
    }
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        tbs = tlv(tbs)?.3;
    }
    let (0x30, spki, _, _) = tlv(tbs)? else {
        return None;
    };
    Some(spki)
}

/// Why a NURL did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NurlError {
    /// Not `pb://HASH@HOST:PORT/SWISSNUM#v=1`.
    #[error("malformed NURL")]
    Malformed,
    /// A fragment other than `v=1`.
    #[error("unsupported NURL version")]
    Version,
}

/// A version-1 NURL (HTTPS storage).
#[derive(Clone, PartialEq, Eq)]
pub struct Nurl {
    /// The 43-character SPKI hash.
    pub spki_hash: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The swissnum (secret: grants storage access).
    pub swissnum: String,
}

impl std::fmt::Debug for Nurl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Nurl(pb://{}@{}:{}/<redacted>#v=1)",
            self.spki_hash, self.host, self.port
        )
    }
}

impl Nurl {
    /// The full NURL text. Contains the swissnum: do not log it.
    pub fn to_url(&self) -> String {
        format!(
            "pb://{}@{}:{}/{}#v=1",
            self.spki_hash, self.host, self.port, self.swissnum
        )
    }

    /// Parse `pb://HASH@HOST:PORT/SWISSNUM#v=1`.
    pub fn parse(s: &str) -> Result<Self, NurlError> {
        let rest = s.strip_prefix("pb://").ok_or(NurlError::Malformed)?;
        let (rest, frag) = rest.split_once('#').ok_or(NurlError::Version)?;
        if frag != "v=1" {
            return Err(NurlError::Version);
        }
        let (hash, rest) = rest.split_once('@').ok_or(NurlError::Malformed)?;
        let (hostport, swissnum) = rest.split_once('/').ok_or(NurlError::Malformed)?;
        let (host, port) = hostport.rsplit_once(':').ok_or(NurlError::Malformed)?;
        let port = port.parse().map_err(|_| NurlError::Malformed)?;
        if hash.len() != 43
            || URL_SAFE_NO_PAD.decode(hash).is_err()
            || host.is_empty()
            || swissnum.is_empty()
            || swissnum.contains('/')
        {
            return Err(NurlError::Malformed);
        }
        Ok(Nurl {
            spki_hash: hash.to_owned(),
            host: host.to_owned(),
            port,
            swissnum: swissnum.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    #[derive(serde::Deserialize)]
    struct Vectors {
        vector: Vec<Case>,
    }
    #[derive(serde::Deserialize)]
    struct Case {
        #[serde(rename = "expected-hash")]
        hash: String,
        #[serde(rename = "expected-spki")]
        spki: String,
        certificate: String,
    }

    #[test]
    fn spki_hash_vectors() {
        let Some(v) = lafs_testing::read_yaml::<Vectors>(
            "tahoe-lafs/src/allmydata/test/data/spki-hash-test-vectors.yaml",
        ) else {
            panic!("spki-hash-test-vectors.yaml not found");
        };
        for c in &v.vector {
            let b64: String = c
                .certificate
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            let der = STANDARD.decode(b64.trim()).unwrap();
            let spki = cert_spki(&der).unwrap();
            assert_eq!(spki, STANDARD.decode(c.spki.trim()).unwrap());
            assert_eq!(spki_hash(spki), c.hash.trim());
        }
        assert!(!v.vector.is_empty());
        lafs_testing::report_family("spki-hash-test-vectors", v.vector.len());
    }

    #[test]
    fn nurl_roundtrip() {
        let s = "pb://zEg4mIR0CJT6hyKq-3tHXHiHknlcbQ2c9gpIrh2y6uk@127.0.0.1:8443/s4k6kxo3bdqu2gzx5ws7rmbg2e#v=1";
        let n = Nurl::parse(s).unwrap();
        assert_eq!(n.port, 8443);
        assert_eq!(n.to_url(), s);
        assert!(!format!("{n:?}").contains("s4k6kx"));
        assert_eq!(Nurl::parse(&s.replace("#v=1", "")), Err(NurlError::Version));
        assert!(Nurl::parse(&s.replace("pb://", "http://")).is_err());
        assert!(Nurl::parse(&s.replace(":8443", "")).is_err());
    }

    #[test]
    fn der_walker_rejects_garbage() {
        assert_eq!(cert_spki(&[]), None);
        assert_eq!(cert_spki(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(cert_spki(&[0x30, 0x02, 0x30, 0x00]), None);
    }
}
