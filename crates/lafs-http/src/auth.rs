//! Authentication (spec §8.2).
//!
//! Two layers, checked in this order:
//! 1. `Authorization: Tahoe-LAFS <base64(swissnum)>` on every request,
//!    compared in constant time against the expected header value; wrong
//!    or missing → 401, before anything else happens.
//! 2. `X-Tahoe-Authorization: <kind> <base64(secret)>` lines: the set of
//!    kinds supplied must equal the endpoint's required set exactly; lease
//!    secrets and the write enabler must be 32 bytes; an empty secret or
//!    bad base64 is refused. Any of these → 400.
//!
//! Secrets are never logged: the types here have redacted `Debug`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, WriteEnabler};
use subtle::ConstantTimeEq;

/// The kinds of per-request secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    /// `lease-renew-secret`
    LeaseRenew,
    /// `lease-cancel-secret`
    LeaseCancel,
    /// `upload-secret`
    Upload,
    /// `write-enabler`
    WriteEnabler,
}

impl SecretKind {
    /// The header word.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::LeaseRenew => "lease-renew-secret",
            SecretKind::LeaseCancel => "lease-cancel-secret",
            SecretKind::Upload => "upload-secret",
            SecretKind::WriteEnabler => "write-enabler",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        [
            SecretKind::LeaseRenew,
            SecretKind::LeaseCancel,
            SecretKind::Upload,
            SecretKind::WriteEnabler,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Why the secret headers were refused (HTTP 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// Not `<kind> <base64>`, unknown kind, or bad base64.
    #[error("malformed X-Tahoe-Authorization header")]
    Malformed,
    /// An empty secret.
    #[error("empty secret")]
    Empty,
    /// A lease secret or write enabler that is not 32 bytes.
    #[error("secret has the wrong length")]
    WrongLength,
    /// The kinds supplied differ from what the endpoint requires.
    #[error("wrong set of secrets")]
    WrongSet,
}

/// The swissnum, the storage capability carried in the NURL path.
#[derive(Clone)]
pub struct Swissnum {
    text: String,
    header: String,
}

impl Swissnum {
    /// Wrap the swissnum text (as it appears in the NURL).
    pub fn new(text: String) -> Self {
        let header = format!("Tahoe-LAFS {}", STANDARD.encode(text.as_bytes()));
        Swissnum { text, header }
    }
    /// The text, for building the NURL. Handle with care.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// The `Authorization` header value a client sends.
    pub fn header_value(&self) -> &str {
        &self.header
    }
    /// Constant-time check of the `Authorization` header value(s).
    /// Exactly one header must be present.
    pub fn check<'a>(&self, mut values: impl Iterator<Item = &'a [u8]>) -> bool {
        let (Some(v), None) = (values.next(), values.next()) else {
            return false;
        };
        // Length is not secret (the swissnum format is public).
        v.len() == self.header.len() && bool::from(v.ct_eq(self.header.as_bytes()))
    }
}

impl std::fmt::Debug for Swissnum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Swissnum(<redacted>)")
    }
}

/// The secrets a request carried, validated against the endpoint's set.
#[derive(Default)]
pub struct Secrets {
    /// `lease-renew-secret`
    pub renew: Option<LeaseRenewSecret>,
    /// `lease-cancel-secret`
    pub cancel: Option<LeaseCancelSecret>,
    /// `upload-secret` (opaque, non-empty)
    pub upload: Option<Vec<u8>>,
    /// `write-enabler`
    pub write_enabler: Option<WriteEnabler>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

fn b32(v: &[u8]) -> Result<[u8; 32], SecretsError> {
    <[u8; 32]>::try_from(v).map_err(|_| SecretsError::WrongLength)
}

impl Secrets {
    /// Parse every `X-Tahoe-Authorization` value and require exactly the
    /// kinds in `required`. A repeated kind keeps the last value, as Python.
    pub fn parse<'a>(
        values: impl Iterator<Item = &'a [u8]>,
        required: &[SecretKind],
    ) -> Result<Secrets, SecretsError> {
        let mut s = Secrets::default();
        let mut seen: Vec<SecretKind> = Vec::new();
        for v in values {
            let v = std::str::from_utf8(v).map_err(|_| SecretsError::Malformed)?;
            let (kind, b64) = v.trim().split_once(' ').ok_or(SecretsError::Malformed)?;
            let kind = SecretKind::parse(kind).ok_or(SecretsError::Malformed)?;
            let raw = STANDARD
                .decode(b64.trim())
                .map_err(|_| SecretsError::Malformed)?;
            if raw.is_empty() {
                return Err(SecretsError::Empty);
            }
            match kind {
                SecretKind::LeaseRenew => s.renew = Some(LeaseRenewSecret::from_bytes(b32(&raw)?)),
                SecretKind::LeaseCancel => {
                    s.cancel = Some(LeaseCancelSecret::from_bytes(b32(&raw)?))
                }
                SecretKind::WriteEnabler => {
                    s.write_enabler = Some(WriteEnabler::from_bytes(b32(&raw)?))
                }
                SecretKind::Upload => s.upload = Some(raw),
            }
            if !seen.contains(&kind) {
                seen.push(kind);
            }
        }
        seen.sort();
        let mut want = required.to_vec();
        want.sort();
        if seen != want {
            return Err(SecretsError::WrongSet);
        }
        Ok(s)
    }

    /// Header lines a client sends for these secrets.
    pub fn header_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |k: SecretKind, b: &[u8]| {
            out.push(format!("{} {}", k.as_str(), STANDARD.encode(b)));
        };
        if let Some(r) = &self.renew {
            add(SecretKind::LeaseRenew, r.as_bytes());
        }
        if let Some(c) = &self.cancel {
            add(SecretKind::LeaseCancel, c.as_bytes());
        }
        if let Some(u) = &self.upload {
            add(SecretKind::Upload, u);
        }
        if let Some(w) = &self.write_enabler {
            add(SecretKind::WriteEnabler, w.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(kind: &str, raw: &[u8]) -> Vec<u8> {
        format!("{kind} {}", STANDARD.encode(raw)).into_bytes()
    }

    #[test]
    fn swissnum_header() {
        let s = Swissnum::new("abcdefgh".into());
        assert_eq!(s.header_value(), "Tahoe-LAFS YWJjZGVmZ2g=");
        assert!(s.check([b"Tahoe-LAFS YWJjZGVmZ2g=".as_slice()].into_iter()));
        assert!(!s.check([b"Tahoe-LAFS YWJjZGVmZ2h=".as_slice()].into_iter()));
        assert!(!s.check(std::iter::empty()));
        let two = [b"Tahoe-LAFS YWJjZGVmZ2g=".as_slice(); 2];
        assert!(!s.check(two.into_iter()));
        assert_eq!(format!("{s:?}"), "Swissnum(<redacted>)");
    }

    #[test]
    fn exact_secret_sets() {
        use SecretKind::*;
        let renew = hdr("lease-renew-secret", &[1; 32]);
        let cancel = hdr("lease-cancel-secret", &[2; 32]);
        let upload = hdr("upload-secret", &[3; 20]);
        let both = [renew.as_slice(), cancel.as_slice()];
        let s = Secrets::parse(both.into_iter(), &[LeaseRenew, LeaseCancel]).unwrap();
        assert_eq!(s.renew.unwrap().as_bytes(), &[1; 32]);
        // Missing one, extra one.
        assert_eq!(
            Secrets::parse([renew.as_slice()].into_iter(), &[LeaseRenew, LeaseCancel]).err(),
            Some(SecretsError::WrongSet)
        );
        let three = [renew.as_slice(), cancel.as_slice(), upload.as_slice()];
        assert_eq!(
            Secrets::parse(three.into_iter(), &[LeaseRenew, LeaseCancel]).err(),
            Some(SecretsError::WrongSet)
        );
        // Short lease secret, empty, unknown kind, bad base64.
        let short = hdr("lease-renew-secret", &[1; 5]);
        assert_eq!(
            Secrets::parse(
                [short.as_slice(), cancel.as_slice()].into_iter(),
                &[LeaseRenew, LeaseCancel]
            )
            .err(),
            Some(SecretsError::WrongLength)
        );
        let empty = b"upload-secret ".as_slice();
        assert!(Secrets::parse([empty].into_iter(), &[Upload]).is_err());
        assert!(Secrets::parse([b"foo AAAA".as_slice()].into_iter(), &[]).is_err());
        assert!(Secrets::parse([b"upload-secret !!".as_slice()].into_iter(), &[Upload]).is_err());
        // No secrets where none are required.
        assert!(Secrets::parse(std::iter::empty(), &[]).is_ok());
        assert_eq!(
            format!("{s:?}", s = Secrets::default()),
            "Secrets(<redacted>)"
        );
    }
}
