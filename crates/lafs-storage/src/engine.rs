//! The protocol rules (spec §7.4, §7.5), written once over any
//! [`ShareStore`].
//!
//! Concurrency: every operation that changes a storage index takes that
//! index's lock (one of 256 async mutexes picked by the first byte of the
//! storage index, which is uniformly random), so two clients racing on one
//! mutable slot are serialized while unrelated uploads proceed in
//! parallel. Reads take no lock: a store publishes shares atomically, so a
//! reader sees the old or the new share. The in-progress uploads table is a
//! std `Mutex` held only for map lookups, never across an `.await`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use lafs_format::container::immutable::{add_or_renew, LeaseUpdate};
use lafs_format::container::lease::{ImmutableLease, LeaseScheme, LEASE_DURATION_SECS};
use lafs_format::container::mutable::{MutableContainer, MutableVersion};
use lafs_format::container::{read_range, ContainerError, ReadVector, TestWriteVectors};
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, StorageIndex, WriteEnabler};

use crate::error::{BadRequest, StorageError};
use crate::leasedb::LeaseDb;
use crate::ranges::RangeSet;
use crate::server::StorageServerOptions;
use crate::store::{LeaseWrite, ShareStore};
use crate::types::{
    Allocation, LeaseInfo, ShareKind, TestWriteResult, UploadSecret, VersionInfo, WriteData,
    WriteProgress,
};

/// Share numbers are a byte in every Tahoe format.
const MAX_SHNUM: u16 = 255;
/// Tahoe deletes incoming shares nobody wrote to for 30 minutes.
const ABANDONED_UPLOAD_SECS: u64 = 30 * 60;
/// Lease owner number for `allocate_buckets` (Tahoe's default).
const OWNER_ALLOCATE: u32 = 0;
/// Lease owner number for mutable writes and the lease endpoint.
const OWNER_RENEW: u32 = 1;

/// An immutable upload in progress.
struct Upload {
    secret: UploadSecret,
    allocated: u64,
    written: RangeSet,
    renew: LeaseRenewSecret,
    cancel: LeaseCancelSecret,
    last_write: u64,
}

/// The engine: protocol semantics over a store.
pub(crate) struct Engine<S> {
    pub(crate) store: S,
    pub(crate) opts: StorageServerOptions,
    locks: Vec<tokio::sync::Mutex<()>>,
    uploads: Mutex<HashMap<(StorageIndex, u16), Upload>>,
    pub(crate) leasedb: Option<LeaseDb>,
    /// False while the lease database is being filled by a crawl.
    pub(crate) crawled: tokio::sync::watch::Sender<bool>,
}

impl<S> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn check_shnum(shnum: u16) -> Result<(), StorageError> {
    if shnum > MAX_SHNUM {
        return Err(BadRequest::ShareNumberOutOfRange.into());
    }
    Ok(())
}

fn container_error(e: ContainerError) -> StorageError {
    match e {
        ContainerError::TooLarge => StorageError::TooLarge,
        other => StorageError::Corrupt(other),
    }
}

impl<S: ShareStore> Engine<S> {
    pub(crate) fn new(store: S, opts: StorageServerOptions, leasedb: Option<LeaseDb>) -> Self {
        Engine {
            store,
            opts,
            locks: (0..256).map(|_| tokio::sync::Mutex::new(())).collect(),
            uploads: Mutex::new(HashMap::new()),
            leasedb,
            crawled: tokio::sync::watch::channel(true).0,
        }
    }

    pub(crate) async fn lock(&self, si: &StorageIndex) -> tokio::sync::MutexGuard<'_, ()> {
        self.locks[usize::from(si.0[0])].lock().await
    }

    fn uploads(&self) -> MutexGuard<'_, HashMap<(StorageIndex, u16), Upload>> {
        self.uploads.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> u64 {
        self.opts.clock.now()
    }

    /// Expiration time for a lease added or renewed now (u32 on disk; the
    /// year 2106 problem is Tahoe's too).
    fn lease_expiration(&self) -> u32 {
        u32::try_from(self.now().saturating_add(u64::from(LEASE_DURATION_SECS))).unwrap_or(u32::MAX)
    }

    /// Free space for new data after `reserved_space`; `None` = unlimited.
    async fn free_space(&self) -> Result<Option<u64>, StorageError> {
        if self.opts.readonly {
            return Ok(Some(0));
        }
        Ok(self
            .store
            .available_space()
            .await?
            .map(|a| a.saturating_sub(self.opts.reserved_space)))
    }

    pub(crate) async fn version(&self) -> VersionInfo {
        // An unreadable free-space figure is reported as "unknown".
        let free = self.free_space().await.ok().flatten().unwrap_or(u64::MAX);
        VersionInfo {
            maximum_immutable_share_size: free,
            maximum_mutable_share_size: self.opts.max_mutable_share_size,
            available_space: free,
        }
    }

    /// Add-or-renew on one immutable share's own lease records.
    async fn renew_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        owner: u32,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
    ) -> Result<(), StorageError> {
        let mut table = self.store.immutable_leases(si, shnum).await?;
        let scheme = table.version.lease_scheme();
        let expiration = self.lease_expiration();
        let change = match add_or_renew(&mut table.leases, scheme, owner, renew, cancel, expiration)
        {
            LeaseUpdate::Renewed { changed: false, .. } => None,
            LeaseUpdate::Renewed {
                index,
                changed: true,
            } => Some(LeaseWrite::Renew { index, expiration }),
            LeaseUpdate::Added => Some(LeaseWrite::Replace(table.leases.clone())),
        };
        if let Some(change) = change {
            self.store.write_immutable_leases(si, shnum, change).await?;
        }
        if let Some(db) = &self.leasedb {
            db.record_immutable(si, shnum, table.data_len, scheme, &table.leases);
        }
        Ok(())
    }

    /// Drop uploads nobody wrote to for 30 minutes (Tahoe does the same).
    async fn reap_abandoned(&self) {
        let now = self.now();
        let stale: Vec<(StorageIndex, u16)> = {
            let mut up = self.uploads();
            let keys: Vec<_> = up
                .iter()
                .filter(|(_, u)| now.saturating_sub(u.last_write) > ABANDONED_UPLOAD_SECS)
                .map(|(k, _)| *k)
                .collect();
            for k in &keys {
                up.remove(k);
            }
            keys
        };
        for (si, shnum) in stale {
            if let Err(e) = self.store.abort_incoming(si, shnum).await {
                tracing::warn!(%si, shnum, error = %e, "could not remove an abandoned upload");
            }
        }
    }

    pub(crate) async fn allocate_buckets(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        upload_secret: &UploadSecret,
        share_numbers: &BTreeSet<u16>,
        allocated_size: u64,
    ) -> Result<Allocation, StorageError> {
        for &n in share_numbers {
            check_shnum(n)?;
        }
        if upload_secret.as_bytes().is_empty() {
            return Err(BadRequest::EmptyUploadSecret.into());
        }
        self.reap_abandoned().await;
        let _g = self.lock(&si).await;
        let existing = self.store.list(si).await?;
        // Renew the requester's lease on what we already hold (Tahoe does
        // this for every existing immutable share of the index).
        for (&shnum, &kind) in &existing {
            if kind == ShareKind::Immutable {
                self.renew_immutable(si, shnum, OWNER_ALLOCATE, renew, cancel)
                    .await?;
            }
        }
        let mut remaining = match self.free_space().await? {
            Some(free) => {
                let pending: u64 = self.uploads().values().map(|u| u.allocated).sum();
                Some(free.saturating_sub(pending))
            }
            None => None,
        };
        let mut allocated = BTreeSet::new();
        for &shnum in share_numbers {
            if existing.contains_key(&shnum) || self.uploads().contains_key(&(si, shnum)) {
                // Present, or someone else's upload in progress: neither list.
                continue;
            }
            if let Some(r) = remaining.as_mut() {
                if *r < allocated_size {
                    continue;
                }
                *r -= allocated_size;
            }
            self.store
                .create_incoming(si, shnum, allocated_size)
                .await?;
            self.uploads().insert(
                (si, shnum),
                Upload {
                    secret: upload_secret.clone(),
                    allocated: allocated_size,
                    written: RangeSet::default(),
                    renew: renew.clone(),
                    cancel: cancel.clone(),
                    last_write: self.now(),
                },
            );
            allocated.insert(shnum);
        }
        Ok(Allocation {
            already_have: existing.into_keys().collect(),
            allocated,
        })
    }

    /// Why there is no upload to write to or abort: the share may be done.
    async fn no_upload(&self, si: StorageIndex, shnum: u16) -> StorageError {
        match self.store.list(si).await {
            Ok(l) if l.get(&shnum) == Some(&ShareKind::Immutable) => StorageError::AlreadyComplete,
            Ok(_) => StorageError::NoSuchUpload,
            Err(e) => e,
        }
    }

    pub(crate) async fn write_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
        offset: u64,
        data: WriteData,
    ) -> Result<WriteProgress, StorageError> {
        check_shnum(shnum)?;
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or(BadRequest::RangeOverflow)?;
        let _g = self.lock(&si).await;
        let found = {
            let up = self.uploads();
            match up.get(&(si, shnum)) {
                None => None,
                Some(u) if u.secret != *upload_secret => {
                    return Err(StorageError::WrongUploadSecret)
                }
                Some(u) if end > u.allocated => return Err(StorageError::WriteBeyondAllocated),
                Some(u) => Some((u.allocated, u.written.intersections(&(offset..end)))),
            }
        };
        let Some((allocated, overlaps)) = found else {
            return Err(self.no_upload(si, shnum).await);
        };
        // Overlapping rewrites must repeat the same bytes (spec §7.5).
        if S::KEEPS_DATA {
            for r in &overlaps {
                let stored = self
                    .store
                    .read_incoming(si, shnum, r.start, r.end - r.start)
                    .await?;
                let mine = data.copy_range((r.start - offset) as usize..(r.end - offset) as usize);
                if mine.as_deref() != Some(stored.as_slice()) {
                    return Err(StorageError::ConflictingWrite);
                }
            }
        }
        let covered: u64 = overlaps.iter().map(|r| r.end - r.start).sum();
        if covered < data.len() as u64 {
            self.store.write_incoming(si, shnum, offset, data).await?;
        }
        let (missing, secrets) = {
            let mut up = self.uploads();
            let Some(u) = up.get_mut(&(si, shnum)) else {
                return Err(StorageError::NoSuchUpload);
            };
            u.written.insert(offset..end);
            u.last_write = self.now();
            let missing = u.written.missing(allocated);
            let secrets = missing
                .is_empty()
                .then(|| (u.renew.clone(), u.cancel.clone()));
            (missing, secrets)
        };
        let Some((renew, cancel)) = secrets else {
            return Ok(WriteProgress {
                required: missing,
                complete: false,
            });
        };
        let lease = ImmutableLease::new(
            LeaseScheme::Hashed,
            OWNER_ALLOCATE,
            &renew,
            &cancel,
            self.lease_expiration(),
        );
        self.store
            .finish_incoming(si, shnum, allocated, lease.clone())
            .await?;
        self.uploads().remove(&(si, shnum));
        if let Some(db) = &self.leasedb {
            db.record_immutable(si, shnum, allocated, LeaseScheme::Hashed, &[lease]);
        }
        Ok(WriteProgress {
            required: Vec::new(),
            complete: true,
        })
    }

    pub(crate) async fn abort_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        upload_secret: &UploadSecret,
    ) -> Result<(), StorageError> {
        check_shnum(shnum)?;
        let _g = self.lock(&si).await;
        let found = {
            let mut up = self.uploads();
            match up.get(&(si, shnum)) {
                None => false,
                Some(u) if u.secret != *upload_secret => {
                    return Err(StorageError::WrongUploadSecret)
                }
                Some(_) => {
                    up.remove(&(si, shnum));
                    true
                }
            }
        };
        if !found {
            return Err(self.no_upload(si, shnum).await);
        }
        self.store.abort_incoming(si, shnum).await
    }

    pub(crate) async fn list(
        &self,
        si: StorageIndex,
        kind: ShareKind,
    ) -> Result<BTreeSet<u16>, StorageError> {
        Ok(self
            .store
            .list(si)
            .await?
            .into_iter()
            .filter(|(_, k)| *k == kind)
            .map(|(n, _)| n)
            .collect())
    }

    pub(crate) async fn read_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        check_shnum(shnum)?;
        self.store.read_immutable(si, shnum, offset, len).await
    }

    pub(crate) async fn immutable_len(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<u64, StorageError> {
        check_shnum(shnum)?;
        Ok(self.store.immutable_leases(si, shnum).await?.data_len)
    }

    pub(crate) async fn read_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        check_shnum(shnum)?;
        self.store.read_mutable(si, shnum, offset, len).await
    }

    pub(crate) async fn mutable_len(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<u64, StorageError> {
        check_shnum(shnum)?;
        self.store.mutable_len(si, shnum).await
    }

    pub(crate) async fn advise_corrupt(
        &self,
        kind: ShareKind,
        si: StorageIndex,
        shnum: u16,
        reason: &str,
    ) -> Result<(), StorageError> {
        check_shnum(shnum)?;
        if self.store.list(si).await?.get(&shnum) != Some(&kind) {
            return Err(StorageError::NoSuchShare);
        }
        tracing::warn!(?kind, %si, shnum, reason, "corruption advisory");
        self.store
            .record_corruption(kind, si, shnum, reason.to_owned())
            .await
    }

    pub(crate) async fn leases(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<Vec<LeaseInfo>, StorageError> {
        check_shnum(shnum)?;
        match self.store.list(si).await?.get(&shnum) {
            None => Err(StorageError::NoSuchShare),
            Some(ShareKind::Immutable) => Ok(self
                .store
                .immutable_leases(si, shnum)
                .await?
                .leases
                .iter()
                .map(|l| LeaseInfo {
                    owner_num: l.owner_num,
                    expiration: l.expiration,
                })
                .collect()),
            Some(ShareKind::Mutable) => Ok(self
                .store
                .get_mutable(si, shnum)
                .await?
                .ok_or(StorageError::NoSuchShare)?
                .leases()
                .map(|l| LeaseInfo {
                    owner_num: l.owner_num,
                    expiration: l.expiration,
                })
                .collect()),
        }
    }

    pub(crate) async fn add_or_renew_lease(
        &self,
        si: StorageIndex,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
    ) -> Result<(), StorageError> {
        let _g = self.lock(&si).await;
        let shares = self.store.list(si).await?;
        if shares.is_empty() {
            return Err(StorageError::NoSuchShare);
        }
        for (shnum, kind) in shares {
            match kind {
                ShareKind::Immutable => {
                    self.renew_immutable(si, shnum, OWNER_RENEW, renew, cancel)
                        .await?
                }
                ShareKind::Mutable => {
                    if let Some(mut c) = self.store.get_mutable(si, shnum).await? {
                        if c.add_or_renew(
                            OWNER_RENEW,
                            renew,
                            cancel,
                            self.lease_expiration(),
                            self.opts.nodeid,
                        ) {
                            self.put_mutable(si, shnum, Some(c)).await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn put_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        c: Option<MutableContainer>,
    ) -> Result<(), StorageError> {
        // Container first (authoritative), then its mirror.
        let row = c.as_ref().map(LeaseDb::mutable_row);
        self.store.put_mutable(si, shnum, c).await?;
        if let Some(db) = &self.leasedb {
            db.record_mutable(si, shnum, row);
        }
        Ok(())
    }

    pub(crate) async fn mutable_test_and_write(
        &self,
        si: StorageIndex,
        write_enabler: &WriteEnabler,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        test_write: BTreeMap<u16, TestWriteVectors>,
        read_vector: &[ReadVector],
    ) -> Result<TestWriteResult, StorageError> {
        for &n in test_write.keys() {
            check_shnum(n)?;
        }
        let _g = self.lock(&si).await;
        // Load every mutable share of the index: the write enabler is
        // checked against all of them, and the read vector covers all.
        let mut existing: BTreeMap<u16, MutableContainer> = BTreeMap::new();
        for (shnum, kind) in self.store.list(si).await? {
            if kind == ShareKind::Mutable {
                if let Some(c) = self.store.get_mutable(si, shnum).await? {
                    existing.insert(shnum, c);
                }
            } else if test_write.contains_key(&shnum) {
                return Err(StorageError::WrongShareKind);
            }
        }
        // 1. Write enablers, each compared in constant time; every share is
        //    checked before the first mismatch is reported.
        let mut bad = None;
        for c in existing.values() {
            if !c.write_enabler_matches(write_enabler) && bad.is_none() {
                bad = Some(c.nodeid);
            }
        }
        if let Some(nodeid) = bad {
            return Err(StorageError::BadWriteEnabler { nodeid });
        }
        // 2. Tests; a missing share reads as empty.
        let success = test_write.iter().all(|(shnum, tw)| {
            let data = existing
                .get(shnum)
                .map(MutableContainer::data)
                .unwrap_or(&[]);
            tw.test.iter().all(|t| t.matches(data))
        });
        // 3. Reads, on shares that existed before any write.
        let data: BTreeMap<u16, Vec<Vec<u8>>> = existing
            .iter()
            .map(|(n, c)| (*n, read_range_all(c.data(), read_vector)))
            .collect();
        if !success {
            return Ok(TestWriteResult { success, data });
        }
        // 4. Refuse what cannot be done before touching anything: sizes
        //    are known from the write extents, so an oversized or
        //    space-exhausting write is refused without building it.
        let mut growth: u64 = 0;
        for (shnum, tw) in &test_write {
            if tw.new_length == Some(0) {
                continue;
            }
            let current = existing
                .get(shnum)
                .map_or(0, MutableContainer::container_size);
            let mut size = current;
            for wv in &tw.write {
                let end = wv
                    .offset
                    .checked_add(wv.data.len() as u64)
                    .ok_or(StorageError::TooLarge)?;
                size = size.max(end);
            }
            if size > self.opts.max_mutable_share_size {
                return Err(StorageError::TooLarge);
            }
            growth = growth.saturating_add(size - current);
        }
        let writes_something = test_write
            .iter()
            .any(|(n, tw)| tw.new_length != Some(0) || existing.contains_key(n));
        if writes_something && self.opts.readonly {
            return Err(StorageError::ReadOnly);
        }
        if growth > 0 {
            if let Some(free) = self.free_space().await? {
                let pending: u64 = self.uploads().values().map(|u| u.allocated).sum();
                if growth > free.saturating_sub(pending) {
                    return Err(StorageError::NoSpace);
                }
            }
        }
        // 5. Build every new container in memory, then write them.
        let mut changed: BTreeMap<u16, Option<MutableContainer>> = BTreeMap::new();
        for (shnum, tw) in &test_write {
            if tw.new_length == Some(0) {
                if existing.contains_key(shnum) {
                    changed.insert(*shnum, None);
                }
                continue;
            }
            let mut c = match existing.get(shnum) {
                Some(c) => c.clone(),
                None => MutableContainer::new(
                    MutableVersion::V2,
                    self.opts.nodeid,
                    write_enabler.clone(),
                ),
            };
            c.apply(&tw.write, tw.new_length, self.opts.max_mutable_share_size)
                .map_err(container_error)?;
            changed.insert(*shnum, Some(c));
        }
        // Leases: add-or-renew on the shares this request wrote that still
        // exist (Tahoe 1.20 `remaining_shares`; other shares of the slot
        // are left alone).
        let expiration = self.lease_expiration();
        for c in changed.values_mut().flatten() {
            c.add_or_renew(OWNER_RENEW, renew, cancel, expiration, self.opts.nodeid);
        }
        for (shnum, c) in changed {
            self.put_mutable(si, shnum, c).await?;
        }
        Ok(TestWriteResult { success, data })
    }
}

fn read_range_all(data: &[u8], read_vector: &[ReadVector]) -> Vec<Vec<u8>> {
    read_vector
        .iter()
        .map(|r| read_range(data, r.offset, r.size).to_vec())
        .collect()
}
