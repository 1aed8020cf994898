//! [`StorageClient`] over Tahoe 1.20's HTTPS protocol (spec §8).
//!
//! Transport, the SPKI-pinning certificate verifier (§8.1: signature
//! checked, expiry/self-signature/hostname ignored, pin = urlsafe-b64 of
//! SHA-256 of the SPKI) and the wire types are `lafs_http`'s; this module
//! maps the trait's operations to requests (§8.4, §8.6) and keeps a pool of
//! keep-alive HTTP/1.1 connections so many requests run in parallel, each
//! connection reused as soon as its response is read.
//!
//! Both namespaces are served: immutable (allocate, PATCH, abort) and
//! mutable (read-test-write with the per-server write enabler, §8.4 item
//! 9, §9.3). Listing, ranged reads and corruption advisories are the same
//! request in either namespace, so one helper each takes the path prefix.
//! Like the Python client, a ranged read always names an inclusive end
//! and accepts 206 (at most what was asked) or 204 (past the end).

use crate::{ClientError, StorageClient};
use bytes::Bytes;
use http::{Method, StatusCode};
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, StorageIndex, WriteEnabler};
use lafs_http::client::{Connection, Reply, StorageClient as Endpoint};
use lafs_http::wire::{
    self, AdviseCorruptRequest, AllocateRequest, ReadTestWriteRequest, ReadTestWriteResponse,
    UploadProgress, VersionResponse,
};
use lafs_http::{Nurl, Secrets};
use lafs_storage::{
    Allocation, ReadVector, TestWriteResult, TestWriteVectors, UploadSecret, VersionInfo,
    WriteProgress,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Idle connections kept per server.
const MAX_IDLE: usize = 32;

/// One HTTPS storage server.
pub struct HttpClient {
    endpoint: Endpoint,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn transport(e: lafs_http::client::ClientError) -> ClientError {
    match e {
        lafs_http::client::ClientError::Status(s) => ClientError::Status { status: s.as_u16() },
        e => ClientError::Transport(Box::new(e)),
    }
}

fn malformed(_: wire::WireError) -> ClientError {
    ClientError::Malformed("CBOR body does not match the schema")
}

fn status(s: StatusCode) -> ClientError {
    ClientError::Status { status: s.as_u16() }
}

fn lease(renew: &LeaseRenewSecret, cancel: &LeaseCancelSecret) -> Secrets {
    Secrets {
        renew: Some(renew.clone()),
        cancel: Some(cancel.clone()),
        ..Secrets::default()
    }
}

fn upload(secret: &UploadSecret) -> Secrets {
    Secrets {
        upload: Some(secret.as_bytes().to_vec()),
        ..Secrets::default()
    }
}

impl HttpClient {
    /// A client for the server at `nurl` (no connection is made yet).
    pub fn new(nurl: Nurl) -> Result<Self, ClientError> {
        Ok(HttpClient {
            endpoint: Endpoint::new(nurl).map_err(transport)?,
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        secrets: &Secrets,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => self.endpoint.connect().await.map_err(transport)?,
        };
        let r = conn
            .request(method, path, secrets, headers, body)
            .await
            .map_err(transport)?;
        // Only a connection that completed its exchange goes back.
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < MAX_IDLE {
                v.push(conn);
            }
        }
        Ok(r)
    }
}

fn imm(si: &StorageIndex) -> String {
    format!("/storage/v1/immutable/{}", si.to_base32())
}

fn mutable(si: &StorageIndex) -> String {
    format!("/storage/v1/mutable/{}", si.to_base32())
}

impl HttpClient {
    /// `GET {base}/shares` of either namespace (§8.4 items 6 and 10).
    async fn share_set(&self, base: &str) -> Result<BTreeSet<u16>, ClientError> {
        let path = format!("{base}/shares");
        let (s, _, b) = self
            .request(Method::GET, &path, &Secrets::default(), &[], Bytes::new())
            .await?;
        if s != StatusCode::OK {
            return Err(status(s));
        }
        wire::share_set_from_cbor(&b).map_err(malformed)
    }

    /// A ranged `GET {base}/N` of either namespace, as the Python client
    /// sends it (§8.5): always an explicit inclusive end; 206 with at most
    /// the bytes asked, or 204 (nothing past the end).
    async fn ranged_get(
        &self,
        base: &str,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let last = offset
            .checked_add(len - 1)
            .ok_or(ClientError::Malformed("read range overflows"))?;
        let path = format!("{base}/{shnum}");
        let range = [("range", format!("bytes={offset}-{last}"))];
        let (s, _, b) = self
            .request(
                Method::GET,
                &path,
                &Secrets::default(),
                &range,
                Bytes::new(),
            )
            .await?;
        match s {
            StatusCode::PARTIAL_CONTENT if b.len() as u64 <= len => Ok(b),
            StatusCode::PARTIAL_CONTENT => {
                Err(ClientError::Malformed("range response longer than asked"))
            }
            StatusCode::NO_CONTENT => Ok(Bytes::new()),
            StatusCode::NOT_FOUND => Err(ClientError::NoSuchShare),
            s => Err(status(s)),
        }
    }

    /// `POST {base}/N/corrupt` of either namespace (§8.4 items 8 and 12).
    async fn corrupt(&self, base: &str, shnum: u16, reason: &str) -> Result<(), ClientError> {
        // The schema bounds the reason to 1..32765 characters.
        let mut r: String = reason.chars().take(1000).collect();
        if r.is_empty() {
            r.push('?');
        }
        let body = AdviseCorruptRequest::new(r).map_err(malformed)?.to_cbor();
        let path = format!("{base}/{shnum}/corrupt");
        let (s, _, _) = self
            .request(
                Method::POST,
                &path,
                &Secrets::default(),
                &[(CBOR.0, CBOR.1.to_string())],
                Bytes::from(body),
            )
            .await?;
        // The Python client ignores 404 here.
        if s.is_success() || s == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(status(s))
        }
    }
}

const CBOR: (&str, &str) = ("content-type", "application/cbor");

impl StorageClient for HttpClient {
    async fn version(&self) -> Result<VersionInfo, ClientError> {
        let (s, _, b) = self
            .request(
                Method::GET,
                "/storage/v1/version",
                &Secrets::default(),
                &[],
                Bytes::new(),
            )
            .await?;
        if s != StatusCode::OK {
            return Err(status(s));
        }
        let v = VersionResponse::from_cbor(&b).map_err(malformed)?;
        Ok(VersionInfo {
            maximum_immutable_share_size: v.maximum_immutable_share_size,
            maximum_mutable_share_size: v.maximum_mutable_share_size,
            available_space: v.available_space,
        })
    }

    async fn allocate_buckets(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        upload_secret: &UploadSecret,
        share_numbers: &BTreeSet<u16>,
        allocated_size: u64,
    ) -> Result<Allocation, ClientError> {
        let req = AllocateRequest::new(share_numbers.clone(), allocated_size).map_err(malformed)?;
        let mut secrets = lease(renew, cancel);
        secrets.upload = Some(upload_secret.as_bytes().to_vec());
        let (s, _, b) = self
            .request(
                Method::POST,
                &imm(&si),
                &secrets,
                &[(CBOR.0, CBOR.1.to_string())],
                Bytes::from(req.to_cbor()),
            )
            .await?;
        if s != StatusCode::OK {
            return Err(status(s));
        }
        let a = wire::AllocateResponse::from_cbor(&b).map_err(malformed)?;
        Ok(Allocation {
            already_have: a.already_have,
            allocated: a.allocated,
        })
    }

    async fn write_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
        offset: u64,
        data: Bytes,
    ) -> Result<WriteProgress, ClientError> {
        let last = offset + (data.len() as u64).saturating_sub(1);
        let cr = [("content-range", format!("bytes {offset}-{last}/*"))];
        let path = format!("{}/{shnum}", imm(&si));
        let (s, _, b) = self
            .request(Method::PATCH, &path, &upload(upload_secret), &cr, data)
            .await?;
        let complete = match s {
            StatusCode::OK => false,
            StatusCode::CREATED => true,
            s => return Err(status(s)),
        };
        let p = UploadProgress::from_cbor(&b).map_err(malformed)?;
        Ok(WriteProgress {
            required: p.required,
            complete,
        })
    }

    async fn abort_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
    ) -> Result<(), ClientError> {
        let path = format!("{}/{shnum}/abort", imm(&si));
        let (s, _, _) = self
            .request(
                Method::PUT,
                &path,
                &upload(upload_secret),
                &[],
                Bytes::new(),
            )
            .await?;
        if s.is_success() {
            Ok(())
        } else {
            Err(status(s))
        }
    }

    async fn list_shares(&self, si: StorageIndex) -> Result<BTreeSet<u16>, ClientError> {
        self.share_set(&imm(&si)).await
    }

    async fn read_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        self.ranged_get(&imm(&si), shnum, offset, len).await
    }

    async fn advise_corrupt(
        &self,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), ClientError> {
        self.corrupt(&imm(&si), shnum, reason).await
    }

    async fn add_lease(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
    ) -> Result<(), ClientError> {
        let path = format!("/storage/v1/lease/{}", si.to_base32());
        let (s, _, _) = self
            .request(Method::PUT, &path, &lease(renew, cancel), &[], Bytes::new())
            .await?;
        if s.is_success() || s == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(status(s))
        }
    }

    async fn list_mutable_shares(&self, si: StorageIndex) -> Result<BTreeSet<u16>, ClientError> {
        self.share_set(&mutable(&si)).await
    }

    async fn read_mutable_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        self.ranged_get(&mutable(&si), shnum, offset, len).await
    }

    async fn advise_corrupt_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), ClientError> {
        self.corrupt(&mutable(&si), shnum, reason).await
    }

    async fn mutable_test_and_write(
        &self,
        si: StorageIndex,
        write_enabler: &WriteEnabler,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        test_write: BTreeMap<u16, TestWriteVectors>,
        read_vector: &[ReadVector],
    ) -> Result<TestWriteResult, ClientError> {
        let req = ReadTestWriteRequest::new(test_write, read_vector.to_vec()).map_err(malformed)?;
        let mut secrets = lease(renew, cancel);
        secrets.write_enabler = Some(write_enabler.clone());
        let path = format!("{}/read-test-write", mutable(&si));
        let (s, _, b) = self
            .request(
                Method::POST,
                &path,
                &secrets,
                &[(CBOR.0, CBOR.1.to_string())],
                Bytes::from(req.to_cbor()),
            )
            .await?;
        match s {
            StatusCode::OK => {}
            // §8.4 item 9: the share was written with another enabler
            // (another tub id for this server, or a forged cap).
            StatusCode::UNAUTHORIZED => return Err(ClientError::BadWriteEnabler),
            s => return Err(status(s)),
        }
        let r = ReadTestWriteResponse::from_cbor(&b).map_err(malformed)?;
        Ok(TestWriteResult {
            success: r.success,
            data: r.data,
        })
    }
}
