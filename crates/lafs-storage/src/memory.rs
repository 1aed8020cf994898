//! In-memory stores: [`MemoryStore`] keeps everything (tests, in-process
//! grids); [`NullStore`] keeps only share lengths (protocol benchmarks).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use lafs_format::container::immutable::ImmutableVersion;
use lafs_format::container::lease::ImmutableLease;
use lafs_format::container::mutable::MutableContainer;
use lafs_format::container::read_range;
use lafs_format::keys::StorageIndex;

use crate::error::StorageError;
use crate::store::{ImmutableLeases, LeaseWrite, ShareStore};
use crate::types::{ShareKind, WriteData};

#[derive(Debug, Clone)]
enum MemShare {
    Immutable {
        data: Vec<u8>,
        leases: Vec<ImmutableLease>,
    },
    Mutable(MutableContainer),
}

#[derive(Debug, Default)]
struct MemState {
    shares: HashMap<StorageIndex, BTreeMap<u16, MemShare>>,
    incoming: HashMap<(StorageIndex, u16), Vec<u8>>,
    corruption: Vec<(ShareKind, StorageIndex, u16, String)>,
}

/// Shares in a `HashMap` behind one short-held `Mutex` (critical sections
/// are memcpy-sized).
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<MemState>,
    /// Bytes of share data it will hold; reported as free space minus
    /// what it holds, so the engine refuses allocations beyond it.
    capacity: Option<u64>,
}

/// [`MemoryStore::new`]'s capacity. A bound is needed because a memory
/// server may face the network (`lafs run` with a memory backend): without
/// one, a client could allocate a huge share and write its last byte.
pub const DEFAULT_MEMORY_CAPACITY: u64 = 1 << 30;

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }
}

impl MemoryStore {
    /// An empty store holding up to [`DEFAULT_MEMORY_CAPACITY`] bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that reports `capacity` bytes minus what it holds as
    /// free space.
    pub fn with_capacity(capacity: u64) -> Self {
        MemoryStore {
            state: Mutex::default(),
            capacity: Some(capacity),
        }
    }

    fn lock(&self) -> MutexGuard<'_, MemState> {
        // A poisoned lock means a panic mid-update elsewhere; the data is
        // plain bytes, so carry on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn share_mut<'a>(st: &'a mut MemState, si: &StorageIndex, shnum: u16) -> Option<&'a mut MemShare> {
    st.shares.get_mut(si).and_then(|m| m.get_mut(&shnum))
}

impl ShareStore for MemoryStore {
    async fn list(&self, si: StorageIndex) -> Result<BTreeMap<u16, ShareKind>, StorageError> {
        let st = self.lock();
        Ok(st
            .shares
            .get(&si)
            .map(|m| {
                m.iter()
                    .map(|(n, s)| {
                        let kind = match s {
                            MemShare::Immutable { .. } => ShareKind::Immutable,
                            MemShare::Mutable(_) => ShareKind::Mutable,
                        };
                        (*n, kind)
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn read_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let mut st = self.lock();
        match share_mut(&mut st, &si, shnum) {
            Some(MemShare::Immutable { data, .. }) => Ok(read_range(data, offset, len).to_vec()),
            _ => Err(StorageError::NoSuchShare),
        }
    }

    async fn immutable_leases(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<ImmutableLeases, StorageError> {
        let mut st = self.lock();
        match share_mut(&mut st, &si, shnum) {
            Some(MemShare::Immutable { data, leases }) => Ok(ImmutableLeases {
                version: ImmutableVersion::V2,
                data_len: data.len() as u64,
                leases: leases.clone(),
            }),
            _ => Err(StorageError::NoSuchShare),
        }
    }

    async fn write_immutable_leases(
        &self,
        si: StorageIndex,
        shnum: u16,
        change: LeaseWrite,
    ) -> Result<(), StorageError> {
        let mut st = self.lock();
        match share_mut(&mut st, &si, shnum) {
            Some(MemShare::Immutable { leases, .. }) => {
                match change {
                    LeaseWrite::Renew { index, expiration } => {
                        if let Some(l) = leases.get_mut(index) {
                            l.expiration = expiration;
                        }
                    }
                    LeaseWrite::Replace(new) => *leases = new,
                }
                Ok(())
            }
            _ => Err(StorageError::NoSuchShare),
        }
    }

    async fn create_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        _allocated: u64,
    ) -> Result<(), StorageError> {
        self.lock().incoming.insert((si, shnum), Vec::new());
        Ok(())
    }

    async fn write_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        data: WriteData,
    ) -> Result<(), StorageError> {
        let mut st = self.lock();
        let buf = st
            .incoming
            .get_mut(&(si, shnum))
            .ok_or(StorageError::NoSuchUpload)?;
        let start = usize::try_from(offset).map_err(|_| StorageError::TooLarge)?;
        let end = start
            .checked_add(data.len())
            .ok_or(StorageError::TooLarge)?;
        if buf.len() < end {
            buf.resize(end, 0);
        }
        let mut at = start;
        for c in data.chunks() {
            buf[at..at + c.len()].copy_from_slice(c);
            at += c.len();
        }
        Ok(())
    }

    async fn read_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let st = self.lock();
        let buf = st
            .incoming
            .get(&(si, shnum))
            .ok_or(StorageError::NoSuchUpload)?;
        Ok(read_range(buf, offset, len).to_vec())
    }

    async fn finish_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        allocated: u64,
        lease: ImmutableLease,
    ) -> Result<(), StorageError> {
        let mut st = self.lock();
        let mut data = st
            .incoming
            .remove(&(si, shnum))
            .ok_or(StorageError::NoSuchUpload)?;
        data.resize(
            usize::try_from(allocated).map_err(|_| StorageError::TooLarge)?,
            0,
        );
        st.shares.entry(si).or_default().insert(
            shnum,
            MemShare::Immutable {
                data,
                leases: vec![lease],
            },
        );
        Ok(())
    }

    async fn abort_incoming(&self, si: StorageIndex, shnum: u16) -> Result<(), StorageError> {
        self.lock().incoming.remove(&(si, shnum));
        Ok(())
    }

    async fn delete_immutable(&self, si: StorageIndex, shnum: u16) -> Result<(), StorageError> {
        let mut st = self.lock();
        if let Some(m) = st.shares.get_mut(&si) {
            if matches!(m.get(&shnum), Some(MemShare::Immutable { .. })) {
                m.remove(&shnum);
            }
            if m.is_empty() {
                st.shares.remove(&si);
            }
        }
        Ok(())
    }

    async fn get_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<Option<MutableContainer>, StorageError> {
        let mut st = self.lock();
        match share_mut(&mut st, &si, shnum) {
            Some(MemShare::Mutable(c)) => Ok(Some(c.clone())),
            Some(MemShare::Immutable { .. }) => Err(StorageError::WrongShareKind),
            None => Ok(None),
        }
    }

    async fn read_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let mut st = self.lock();
        match share_mut(&mut st, &si, shnum) {
            Some(MemShare::Mutable(c)) => Ok(read_range(c.data(), offset, len).to_vec()),
            _ => Err(StorageError::NoSuchShare),
        }
    }

    async fn mutable_len(&self, si: StorageIndex, shnum: u16) -> Result<u64, StorageError> {
        let mut st = self.lock();
        match share_mut(&mut st, &si, shnum) {
            Some(MemShare::Mutable(c)) => Ok(c.data_length()),
            _ => Err(StorageError::NoSuchShare),
        }
    }

    async fn put_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        container: Option<MutableContainer>,
    ) -> Result<(), StorageError> {
        let mut st = self.lock();
        match container {
            Some(c) => {
                st.shares
                    .entry(si)
                    .or_default()
                    .insert(shnum, MemShare::Mutable(c));
            }
            None => {
                if let Some(m) = st.shares.get_mut(&si) {
                    m.remove(&shnum);
                    if m.is_empty() {
                        st.shares.remove(&si);
                    }
                }
            }
        }
        Ok(())
    }

    async fn available_space(&self) -> Result<Option<u64>, StorageError> {
        let Some(cap) = self.capacity else {
            return Ok(None);
        };
        let st = self.lock();
        let used: u64 = st
            .shares
            .values()
            .flat_map(|m| m.values())
            .map(|s| match s {
                MemShare::Immutable { data, .. } => data.len() as u64,
                MemShare::Mutable(c) => c.container_size(),
            })
            .sum();
        Ok(Some(cap.saturating_sub(used)))
    }

    async fn record_corruption(
        &self,
        kind: ShareKind,
        si: StorageIndex,
        shnum: u16,
        reason: String,
    ) -> Result<(), StorageError> {
        self.lock().corruption.push((kind, si, shnum, reason));
        Ok(())
    }
}

/// Keeps nothing but which immutable shares were completed and their
/// lengths; reads return zeros. Mutable writes succeed and are forgotten.
/// For measuring the protocol and transport alone.
#[derive(Debug, Default)]
pub struct NullStore {
    complete: Mutex<HashMap<(StorageIndex, u16), u64>>,
}

impl NullStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<(StorageIndex, u16), u64>> {
        self.complete.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn len(&self, si: StorageIndex, shnum: u16) -> Result<u64, StorageError> {
        self.lock()
            .get(&(si, shnum))
            .copied()
            .ok_or(StorageError::NoSuchShare)
    }
}

impl ShareStore for NullStore {
    const KEEPS_DATA: bool = false;

    async fn list(&self, si: StorageIndex) -> Result<BTreeMap<u16, ShareKind>, StorageError> {
        Ok(self
            .lock()
            .keys()
            .filter(|(s, _)| *s == si)
            .map(|(_, n)| (*n, ShareKind::Immutable))
            .collect())
    }

    async fn read_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let total = self.len(si, shnum)?;
        let n = total.saturating_sub(offset).min(len);
        Ok(vec![
            0;
            usize::try_from(n)
                .map_err(|_| StorageError::TooLarge)?
        ])
    }

    async fn immutable_leases(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<ImmutableLeases, StorageError> {
        let data_len = self.len(si, shnum)?;
        Ok(ImmutableLeases {
            version: ImmutableVersion::V2,
            data_len,
            leases: Vec::new(),
        })
    }

    async fn write_immutable_leases(
        &self,
        _: StorageIndex,
        _: u16,
        _: LeaseWrite,
    ) -> Result<(), StorageError> {
        Ok(())
    }

    async fn create_incoming(&self, _: StorageIndex, _: u16, _: u64) -> Result<(), StorageError> {
        Ok(())
    }

    async fn write_incoming(
        &self,
        _: StorageIndex,
        _: u16,
        _: u64,
        _: WriteData,
    ) -> Result<(), StorageError> {
        Ok(())
    }

    async fn read_incoming(
        &self,
        _: StorageIndex,
        _: u16,
        _: u64,
        _: u64,
    ) -> Result<Vec<u8>, StorageError> {
        // Nothing kept (KEEPS_DATA is false, so the engine does not ask).
        Ok(Vec::new())
    }

    async fn finish_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        allocated: u64,
        _: ImmutableLease,
    ) -> Result<(), StorageError> {
        self.lock().insert((si, shnum), allocated);
        Ok(())
    }

    async fn abort_incoming(&self, _: StorageIndex, _: u16) -> Result<(), StorageError> {
        Ok(())
    }

    async fn delete_immutable(&self, si: StorageIndex, shnum: u16) -> Result<(), StorageError> {
        self.lock().remove(&(si, shnum));
        Ok(())
    }

    async fn get_mutable(
        &self,
        _: StorageIndex,
        _: u16,
    ) -> Result<Option<MutableContainer>, StorageError> {
        Ok(None)
    }

    async fn read_mutable(
        &self,
        _: StorageIndex,
        _: u16,
        _: u64,
        _: u64,
    ) -> Result<Vec<u8>, StorageError> {
        Err(StorageError::NoSuchShare)
    }

    async fn mutable_len(&self, _: StorageIndex, _: u16) -> Result<u64, StorageError> {
        Err(StorageError::NoSuchShare)
    }

    async fn put_mutable(
        &self,
        _: StorageIndex,
        _: u16,
        _: Option<MutableContainer>,
    ) -> Result<(), StorageError> {
        Ok(())
    }

    async fn available_space(&self) -> Result<Option<u64>, StorageError> {
        Ok(None)
    }

    async fn record_corruption(
        &self,
        _: ShareKind,
        _: StorageIndex,
        _: u16,
        _: String,
    ) -> Result<(), StorageError> {
        Ok(())
    }
}
