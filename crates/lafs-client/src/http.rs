//! [`StorageClient`] over Tahoe 1.20's HTTPS protocol (spec §8).
//!
//! Transport, the SPKI-pinning certificate verifier (§8.1: signature
//! checked, expiry/self-signature/hostname ignored, pin = urlsafe-b64 of
//! SHA-256 of the SPKI) and the wire types are `lafs_http`'s; this module
//! maps the trait's operations to requests (§8.4, §8.6) and keeps a pool of
//! keep-alive HTTP/1.1 connections so many requests run in parallel, each
//! connection reused as soon as its response is read.

use crate::{ClientError, StorageClient};
use bytes::Bytes;
use http::{Method, StatusCode};
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, StorageIndex};
use lafs_http::client::{Connection, Reply, StorageClient as Endpoint};
use lafs_http::wire::{
    self, AdviseCorruptRequest, AllocateRequest, UploadProgress, VersionResponse,
};
use lafs_http::{Nurl, Secrets};
use lafs_storage::{Allocation, UploadSecret, VersionInfo, WriteProgress};
use std::collections::BTreeSet;
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
        let path = format!("{}/shares", imm(&si));
        let (s, _, b) = self
            .request(Method::GET, &path, &Secrets::default(), &[], Bytes::new())
            .await?;
        if s != StatusCode::OK {
            return Err(status(s));
        }
        wire::share_set_from_cbor(&b).map_err(malformed)
    }

    async fn read_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let path = format!("{}/{shnum}", imm(&si));
        let range = [("range", format!("bytes={offset}-{}", offset + len - 1))];
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

    async fn advise_corrupt(
        &self,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), ClientError> {
        // The schema bounds the reason to 1..32765 characters.
        let mut r: String = reason.chars().take(1000).collect();
        if r.is_empty() {
            r.push('?');
        }
        let body = AdviseCorruptRequest::new(r).map_err(malformed)?.to_cbor();
        let path = format!("{}/{shnum}/corrupt", imm(&si));
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
}
