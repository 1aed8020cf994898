//! Routing: every request is parsed into a typed [`StorageEndpoint`]
//! before any handler runs (spec §8.4).
//!
//! Paths mirror Python 1.20's Klein routes. A storage index in a path must
//! be canonical base32 — 26 characters of `[a-z2-7]` whose last one has
//! zero padding bits — otherwise the route does not match and the answer is
//! a plain 404, exactly as Python (whose route regex plus strict decoder
//! reject it). Share numbers are unsigned decimal 0..=255; larger ones
//! cannot name a share, so they do not match either.

use http::Method;
use lafs_format::keys::StorageIndex;

use crate::auth::SecretKind;

/// Immutable or mutable, for the endpoints that exist in both namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// `/storage/v1/immutable/…`
    Immutable,
    /// `/storage/v1/mutable/…`
    Mutable,
}

/// One endpoint of the protocol with its path parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageEndpoint {
    /// `GET /storage/v1/version`
    Version,
    /// `PUT /storage/v1/lease/SI`
    AddOrRenewLease(StorageIndex),
    /// `POST /storage/v1/immutable/SI`
    Allocate(StorageIndex),
    /// `PATCH /storage/v1/immutable/SI/N`
    WriteShare(StorageIndex, u16),
    /// `PUT /storage/v1/immutable/SI/N/abort`
    AbortUpload(StorageIndex, u16),
    /// `GET /storage/v1/{immutable,mutable}/SI/shares`
    ListShares(Namespace, StorageIndex),
    /// `GET /storage/v1/{immutable,mutable}/SI/N`
    ReadShare(Namespace, StorageIndex, u16),
    /// `POST /storage/v1/{immutable,mutable}/SI/N/corrupt`
    AdviseCorrupt(Namespace, StorageIndex, u16),
    /// `POST /storage/v1/mutable/SI/read-test-write`
    ReadTestWrite(StorageIndex),
}

/// Why a request matched no endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// No route has this path (HTTP 404).
    #[error("not found")]
    NotFound,
    /// The path exists but not for this method (HTTP 405).
    #[error("method not allowed")]
    MethodNotAllowed,
}

fn si(s: &str) -> Option<StorageIndex> {
    if s.len() != 26 {
        return None;
    }
    StorageIndex::from_base32(s).ok()
}

fn shnum(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|n| *n <= 255)
}

impl StorageEndpoint {
    /// Parse a request line. `path` excludes the query string.
    pub fn parse(method: &Method, path: &str) -> Result<Self, RouteError> {
        use StorageEndpoint as E;
        let rest = path
            .strip_prefix("/storage/v1/")
            .ok_or(RouteError::NotFound)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let ns = |s: &str| match s {
            "immutable" => Some(Namespace::Immutable),
            "mutable" => Some(Namespace::Mutable),
            _ => None,
        };
        // (endpoint, the one method it accepts)
        let (ep, want) = match parts.as_slice() {
            ["version"] => (E::Version, Method::GET),
            ["lease", s] => (
                E::AddOrRenewLease(si(s).ok_or(RouteError::NotFound)?),
                Method::PUT,
            ),
            ["immutable", s] => (
                E::Allocate(si(s).ok_or(RouteError::NotFound)?),
                Method::POST,
            ),
            ["mutable", s, "read-test-write"] => (
                E::ReadTestWrite(si(s).ok_or(RouteError::NotFound)?),
                Method::POST,
            ),
            [n, s, "shares"] => {
                let n = ns(n).ok_or(RouteError::NotFound)?;
                (
                    E::ListShares(n, si(s).ok_or(RouteError::NotFound)?),
                    Method::GET,
                )
            }
            [n, s, k] => {
                let n = ns(n).ok_or(RouteError::NotFound)?;
                let (s, k) = (
                    si(s).ok_or(RouteError::NotFound)?,
                    shnum(k).ok_or(RouteError::NotFound)?,
                );
                match (n, method) {
                    (Namespace::Immutable, &Method::PATCH) => (E::WriteShare(s, k), Method::PATCH),
                    _ => (E::ReadShare(n, s, k), Method::GET),
                }
            }
            ["immutable", s, k, "abort"] => (
                E::AbortUpload(
                    si(s).ok_or(RouteError::NotFound)?,
                    shnum(k).ok_or(RouteError::NotFound)?,
                ),
                Method::PUT,
            ),
            [n, s, k, "corrupt"] => (
                E::AdviseCorrupt(
                    ns(n).ok_or(RouteError::NotFound)?,
                    si(s).ok_or(RouteError::NotFound)?,
                    shnum(k).ok_or(RouteError::NotFound)?,
                ),
                Method::POST,
            ),
            _ => return Err(RouteError::NotFound),
        };
        if *method != want {
            return Err(RouteError::MethodNotAllowed);
        }
        Ok(ep)
    }

    /// The exact set of `X-Tahoe-Authorization` kinds this endpoint needs.
    pub fn required_secrets(&self) -> &'static [SecretKind] {
        use SecretKind::*;
        match self {
            StorageEndpoint::AddOrRenewLease(_) => &[LeaseRenew, LeaseCancel],
            StorageEndpoint::Allocate(_) => &[LeaseRenew, LeaseCancel, Upload],
            StorageEndpoint::WriteShare(..) | StorageEndpoint::AbortUpload(..) => &[Upload],
            StorageEndpoint::ReadTestWrite(_) => &[WriteEnabler, LeaseRenew, LeaseCancel],
            _ => &[],
        }
    }

    /// Whether the response is CBOR (then `Accept` must allow
    /// `application/cbor`, else 406).
    pub fn responds_cbor(&self) -> bool {
        matches!(
            self,
            StorageEndpoint::Version
                | StorageEndpoint::Allocate(_)
                | StorageEndpoint::WriteShare(..)
                | StorageEndpoint::ListShares(..)
                | StorageEndpoint::ReadTestWrite(_)
        )
    }

    /// Whether the request carries a CBOR body (Content-Type rules apply).
    pub fn takes_cbor(&self) -> bool {
        matches!(
            self,
            StorageEndpoint::Allocate(_)
                | StorageEndpoint::AdviseCorrupt(..)
                | StorageEndpoint::ReadTestWrite(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StorageEndpoint as E;

    const SI: &str = "vnrz3scjlzj4iu3fjotwaricny";

    fn p(m: Method, path: &str) -> Result<E, RouteError> {
        E::parse(&m, path)
    }

    #[test]
    fn every_endpoint() {
        let s = StorageIndex::from_base32(SI).unwrap();
        let im = Namespace::Immutable;
        let mu = Namespace::Mutable;
        let cases = [
            (Method::GET, "/storage/v1/version".to_string(), E::Version),
            (
                Method::PUT,
                format!("/storage/v1/lease/{SI}"),
                E::AddOrRenewLease(s),
            ),
            (
                Method::POST,
                format!("/storage/v1/immutable/{SI}"),
                E::Allocate(s),
            ),
            (
                Method::PATCH,
                format!("/storage/v1/immutable/{SI}/3"),
                E::WriteShare(s, 3),
            ),
            (
                Method::PUT,
                format!("/storage/v1/immutable/{SI}/3/abort"),
                E::AbortUpload(s, 3),
            ),
            (
                Method::GET,
                format!("/storage/v1/immutable/{SI}/shares"),
                E::ListShares(im, s),
            ),
            (
                Method::GET,
                format!("/storage/v1/immutable/{SI}/255"),
                E::ReadShare(im, s, 255),
            ),
            (
                Method::POST,
                format!("/storage/v1/immutable/{SI}/0/corrupt"),
                E::AdviseCorrupt(im, s, 0),
            ),
            (
                Method::POST,
                format!("/storage/v1/mutable/{SI}/read-test-write"),
                E::ReadTestWrite(s),
            ),
            (
                Method::GET,
                format!("/storage/v1/mutable/{SI}/shares"),
                E::ListShares(mu, s),
            ),
            (
                Method::GET,
                format!("/storage/v1/mutable/{SI}/7"),
                E::ReadShare(mu, s, 7),
            ),
            (
                Method::POST,
                format!("/storage/v1/mutable/{SI}/7/corrupt"),
                E::AdviseCorrupt(mu, s, 7),
            ),
        ];
        for (m, path, want) in cases {
            assert_eq!(p(m, &path), Ok(want), "{path}");
        }
    }

    #[test]
    fn non_canonical_and_unknown_are_404() {
        let nf = Err(RouteError::NotFound);
        // "b" has a non-zero padding bit in the last position.
        assert_eq!(
            p(Method::PUT, "/storage/v1/lease/bbbbbbbbbbbbbbbbbbbbbbbbbb"),
            nf
        );
        assert!(p(Method::PUT, "/storage/v1/lease/aaaaaaaaaaaaaaaaaaaaaaaaaa").is_ok());
        assert_eq!(p(Method::GET, "/storage/v1/immutable/NOTB32/0"), nf);
        assert_eq!(
            p(
                Method::GET,
                &format!("/storage/v1/immutable/{}/0", SI.to_uppercase())
            ),
            nf
        );
        assert_eq!(
            p(Method::GET, &format!("/storage/v1/immutable/{SI}a/0")),
            nf
        );
        assert_eq!(p(Method::GET, "/storage/v1/no-such-endpoint"), nf);
        assert_eq!(p(Method::GET, "/"), nf);
        assert_eq!(
            p(Method::GET, &format!("/storage/v1/immutable/{SI}/256")),
            nf
        );
        assert_eq!(
            p(Method::GET, &format!("/storage/v1/immutable/{SI}/-1")),
            nf
        );
        assert_eq!(
            p(Method::GET, &format!("/storage/v1/immutable/{SI}/+1")),
            nf
        );
        assert_eq!(p(Method::GET, &format!("/storage/v1/other/{SI}/1")), nf);
        assert_eq!(
            p(Method::GET, &format!("/storage/v1/immutable/{SI}/1/")),
            nf
        );
        assert_eq!(
            p(Method::PUT, &format!("/storage/v1/mutable/{SI}/1/abort")),
            nf
        );
    }

    #[test]
    fn wrong_method_is_405() {
        assert_eq!(
            p(Method::POST, "/storage/v1/version"),
            Err(RouteError::MethodNotAllowed)
        );
        assert_eq!(
            p(Method::PATCH, &format!("/storage/v1/mutable/{SI}/1")),
            Err(RouteError::MethodNotAllowed)
        );
        assert_eq!(
            p(Method::DELETE, &format!("/storage/v1/immutable/{SI}/1")),
            Err(RouteError::MethodNotAllowed)
        );
    }
}
