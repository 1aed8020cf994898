//! The operations a client needs from one storage server (spec §8.4, §8.6),
//! as a trait with two implementations: [`LocalClient`] (an in-process
//! [`lafs_storage::StorageServer`], for tests and benchmarks) and the HTTPS
//! client.
//!
//! Futures are `impl Future + Send` (no boxing, no `async_trait`), so a
//! [`crate::Grid`] is generic over one client type.

use crate::ClientError;
use bytes::Bytes;
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, StorageIndex, WriteEnabler};
use lafs_storage::{
    Allocation, ReadVector, ShareKind, StorageServer, TestWriteResult, TestWriteVectors,
    UploadSecret, VersionInfo, WriteProgress,
};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// One storage server as seen by a client. Every method is one request.
pub trait StorageClient: Send + Sync + 'static {
    /// `GET /storage/v1/version`.
    fn version(&self) -> impl Future<Output = Result<VersionInfo, ClientError>> + Send;

    /// `POST /storage/v1/immutable/SI`.
    fn allocate_buckets(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        upload_secret: &UploadSecret,
        share_numbers: &BTreeSet<u16>,
        allocated_size: u64,
    ) -> impl Future<Output = Result<Allocation, ClientError>> + Send;

    /// `PATCH /storage/v1/immutable/SI/N`.
    fn write_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
        offset: u64,
        data: Bytes,
    ) -> impl Future<Output = Result<WriteProgress, ClientError>> + Send;

    /// `PUT /storage/v1/immutable/SI/N/abort`.
    fn abort_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// `GET /storage/v1/immutable/SI/shares`.
    fn list_shares(
        &self,
        si: StorageIndex,
    ) -> impl Future<Output = Result<BTreeSet<u16>, ClientError>> + Send;

    /// `GET /storage/v1/immutable/SI/N` with a range; truncated at the end
    /// of the share data.
    fn read_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Bytes, ClientError>> + Send;

    /// `POST /storage/v1/immutable/SI/N/corrupt`.
    fn advise_corrupt(
        &self,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// `PUT /storage/v1/lease/SI`.
    fn add_lease(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// `GET /storage/v1/mutable/SI/shares`. Clients without mutable
    /// support answer [`ClientError::Unsupported`].
    fn list_mutable_shares(
        &self,
        _si: StorageIndex,
    ) -> impl Future<Output = Result<BTreeSet<u16>, ClientError>> + Send {
        async { Err(ClientError::Unsupported("mutable list")) }
    }

    /// `GET /storage/v1/mutable/SI/N` with a range; truncated at the end
    /// of the share data.
    fn read_mutable_share(
        &self,
        _si: StorageIndex,
        _shnum: u16,
        _offset: u64,
        _len: u64,
    ) -> impl Future<Output = Result<Bytes, ClientError>> + Send {
        async { Err(ClientError::Unsupported("mutable read")) }
    }

    /// `POST /storage/v1/mutable/SI/N/corrupt`: tell the server share
    /// `shnum` of this mutable slot failed verification.
    fn advise_corrupt_mutable(
        &self,
        _si: StorageIndex,
        _shnum: u16,
        _reason: &str,
    ) -> impl Future<Output = Result<(), ClientError>> + Send {
        async { Err(ClientError::Unsupported("mutable corruption advisory")) }
    }

    /// `POST /storage/v1/mutable/SI/read-test-write` (spec §7.5, §8.6).
    /// A write-enabler mismatch is [`ClientError::BadWriteEnabler`] from
    /// every implementation.
    fn mutable_test_and_write(
        &self,
        _si: StorageIndex,
        _write_enabler: &WriteEnabler,
        _renew: &LeaseRenewSecret,
        _cancel: &LeaseCancelSecret,
        _test_write: BTreeMap<u16, TestWriteVectors>,
        _read_vector: &[ReadVector],
    ) -> impl Future<Output = Result<TestWriteResult, ClientError>> + Send {
        async { Err(ClientError::Unsupported("mutable read-test-write")) }
    }
}

/// A [`StorageClient`] calling an engine in the same process.
#[derive(Debug, Clone)]
pub struct LocalClient {
    server: StorageServer,
}

impl LocalClient {
    /// Wrap an engine.
    pub fn new(server: StorageServer) -> Self {
        LocalClient { server }
    }
    /// The engine.
    pub fn server(&self) -> &StorageServer {
        &self.server
    }
}

fn no_share(e: lafs_storage::StorageError) -> ClientError {
    match e {
        lafs_storage::StorageError::NoSuchShare => ClientError::NoSuchShare,
        e => ClientError::Storage(e),
    }
}

impl StorageClient for LocalClient {
    async fn version(&self) -> Result<VersionInfo, ClientError> {
        Ok(self.server.version().await)
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
        Ok(self
            .server
            .allocate_buckets(
                si,
                renew,
                cancel,
                upload_secret,
                share_numbers,
                allocated_size,
            )
            .await?)
    }

    async fn write_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
        offset: u64,
        data: Bytes,
    ) -> Result<WriteProgress, ClientError> {
        Ok(self
            .server
            .write_immutable(si, shnum, upload_secret, offset, data)
            .await?)
    }

    async fn abort_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
    ) -> Result<(), ClientError> {
        Ok(self
            .server
            .abort_immutable(si, shnum, upload_secret)
            .await?)
    }

    async fn list_shares(&self, si: StorageIndex) -> Result<BTreeSet<u16>, ClientError> {
        Ok(self.server.list_immutable(si).await?)
    }

    async fn read_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        self.server
            .read_immutable(si, shnum, offset, len)
            .await
            .map(Bytes::from)
            .map_err(no_share)
    }

    async fn advise_corrupt(
        &self,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), ClientError> {
        self.server
            .advise_corrupt(ShareKind::Immutable, si, shnum, reason)
            .await
            .map_err(no_share)
    }

    async fn add_lease(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
    ) -> Result<(), ClientError> {
        match self.server.add_or_renew_lease(si, renew, cancel).await {
            // The Python client treats "no shares" as success (§8.4).
            Err(lafs_storage::StorageError::NoSuchShare) => Ok(()),
            r => Ok(r?),
        }
    }

    async fn list_mutable_shares(&self, si: StorageIndex) -> Result<BTreeSet<u16>, ClientError> {
        Ok(self.server.list_mutable(si).await?)
    }

    async fn read_mutable_share(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        self.server
            .read_mutable(si, shnum, offset, len)
            .await
            .map(Bytes::from)
            .map_err(no_share)
    }

    async fn advise_corrupt_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), ClientError> {
        self.server
            .advise_corrupt(ShareKind::Mutable, si, shnum, reason)
            .await
            .map_err(no_share)
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
        self.server
            .mutable_test_and_write(si, write_enabler, renew, cancel, test_write, read_vector)
            .await
            .map_err(|e| match e {
                lafs_storage::StorageError::BadWriteEnabler { .. } => ClientError::BadWriteEnabler,
                e => ClientError::Storage(e),
            })
    }
}
