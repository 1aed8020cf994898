//! Mutable share containers (spec §7.3, Tahoe `storage/mutable.py` and
//! `mutable_schema.py`).
//!
//! ```text
//!   0  32  magic  v1: "Tahoe mutable container v1\n" 75 09 44 03 8e
//!                 v2: "Tahoe mutable container v2\n" c3 55 21 99 25
//!  32  20  write-enabler nodeid (the server's 20-byte nodeid)
//!  52  32  write enabler
//!  84   8  data length
//!  92   8  extra-lease offset (= 468 + container size)
//! 100 368  4 lease slots × 92 bytes (owner 0 = empty slot)
//! 468      container area: the share data (data length bytes), then slack
//!   ?   4  number of extra leases, then that many 92-byte records
//! ```
//! All integers big-endian. The "container size" (extra-lease offset − 468)
//! only grows: writing past it moves the extra-lease block to the new end,
//! and truncation (`new_length`) only lowers the data length, leaving the
//! old bytes as slack. [`MutableContainer`] keeps the whole container area
//! (data and slack) and any bytes after the extra leases, so it
//! re-serializes to exactly the bytes it was parsed from.

use super::lease::{LeaseScheme, MutableLease};
use super::{be_u32, be_u64, ContainerError, WriteVector};
use crate::keys::{LeaseCancelSecret, LeaseRenewSecret, ServerId20, WriteEnabler};

/// Length of the magic string.
pub const MAGIC_LEN: usize = 32;
/// Version-1 magic.
pub const MAGIC_V1: &[u8; MAGIC_LEN] = b"Tahoe mutable container v1\n\x75\x09\x44\x03\x8e";
/// Version-2 magic.
pub const MAGIC_V2: &[u8; MAGIC_LEN] = b"Tahoe mutable container v2\n\xc3\x55\x21\x99\x25";
/// Where the container area (share data) starts.
pub const DATA_OFFSET: u64 = 468;
/// Number of fixed lease slots in the header.
pub const LEASE_SLOTS: usize = 4;
/// Offset of the first fixed lease slot.
const SLOTS_OFFSET: usize = 100;

/// The magic string's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MutableVersion {
    /// Version 1: lease secrets in clear.
    V1,
    /// Version 2: lease secrets hashed (what 1.20 writes).
    V2,
}

impl MutableVersion {
    /// Recognize a magic string at the start of `prefix`.
    pub fn from_magic(prefix: &[u8]) -> Option<Self> {
        match prefix.get(0..MAGIC_LEN) {
            Some(m) if m == MAGIC_V1 => Some(MutableVersion::V1),
            Some(m) if m == MAGIC_V2 => Some(MutableVersion::V2),
            _ => None,
        }
    }

    /// The magic string.
    pub fn magic(self) -> &'static [u8; MAGIC_LEN] {
        match self {
            MutableVersion::V1 => MAGIC_V1,
            MutableVersion::V2 => MAGIC_V2,
        }
    }

    /// How this version stores lease secrets.
    pub fn lease_scheme(self) -> LeaseScheme {
        match self {
            MutableVersion::V1 => LeaseScheme::Clear,
            MutableVersion::V2 => LeaseScheme::Hashed,
        }
    }
}

/// The fixed 100-byte header fields (everything but the lease slots), for
/// reading data by offset without loading the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutableHeader {
    /// Magic version.
    pub version: MutableVersion,
    /// Nodeid stored with the write enabler.
    pub nodeid: ServerId20,
    /// The write enabler.
    pub write_enabler: WriteEnabler,
    /// Share data length.
    pub data_length: u64,
    /// Offset of the extra-lease count.
    pub extra_lease_offset: u64,
}

impl MutableHeader {
    /// Bytes needed to parse the header (including the four lease slots).
    pub const LEN: usize = DATA_OFFSET as usize;

    /// Parse the header given the whole file's length.
    pub fn parse(prefix: &[u8], file_len: u64) -> Result<Self, ContainerError> {
        let h = prefix.get(0..Self::LEN).ok_or(ContainerError::Truncated {
            len: prefix.len() as u64,
            need: Self::LEN as u64,
        })?;
        let version = MutableVersion::from_magic(h).ok_or(ContainerError::UnknownVersion)?;
        let mut nodeid = [0u8; 20];
        nodeid.copy_from_slice(&h[32..52]);
        let mut we = [0u8; 32];
        we.copy_from_slice(&h[52..84]);
        let data_length = be_u64(&h[84..92]);
        let extra_lease_offset = be_u64(&h[92..100]);
        if extra_lease_offset < DATA_OFFSET {
            return Err(ContainerError::Inconsistent(
                "extra-lease offset inside the header",
            ));
        }
        if data_length > extra_lease_offset - DATA_OFFSET {
            return Err(ContainerError::Inconsistent(
                "data length exceeds the container size",
            ));
        }
        let need = extra_lease_offset.saturating_add(4);
        if file_len < need {
            return Err(ContainerError::Truncated {
                len: file_len,
                need,
            });
        }
        Ok(MutableHeader {
            version,
            nodeid: ServerId20(nodeid),
            write_enabler: WriteEnabler::from_bytes(we),
            data_length,
            extra_lease_offset,
        })
    }
}

/// A parsed mutable container (owned: the engine edits it and writes a new
/// copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutableContainer {
    /// Magic version.
    pub version: MutableVersion,
    /// Nodeid stored with the write enabler.
    pub nodeid: ServerId20,
    /// The write enabler.
    pub write_enabler: WriteEnabler,
    /// Share data length (≤ `area.len()`).
    data_length: u64,
    /// The container area: data then slack.
    area: Vec<u8>,
    /// The four fixed slots followed by the extra leases (owner 0 = empty).
    leases: Vec<MutableLease>,
    /// Bytes after the extra-lease block (Tahoe never writes any; kept so
    /// that whatever was on disk survives a rewrite).
    trailer: Vec<u8>,
}

impl MutableContainer {
    /// A new, empty container as Tahoe creates it for a new slot (472 bytes).
    pub fn new(version: MutableVersion, nodeid: ServerId20, write_enabler: WriteEnabler) -> Self {
        MutableContainer {
            version,
            nodeid,
            write_enabler,
            data_length: 0,
            area: Vec::new(),
            leases: vec![MutableLease::EMPTY; LEASE_SLOTS],
            trailer: Vec::new(),
        }
    }

    /// Parse a whole container file.
    pub fn parse(bytes: &[u8]) -> Result<Self, ContainerError> {
        let h = MutableHeader::parse(bytes, bytes.len() as u64)?;
        // The header parser checked extra_lease_offset + 4 <= len.
        let ext = h.extra_lease_offset as usize;
        let area = bytes[DATA_OFFSET as usize..ext].to_vec();
        let mut leases: Vec<MutableLease> = bytes[SLOTS_OFFSET..DATA_OFFSET as usize]
            .chunks_exact(MutableLease::LEN)
            .filter_map(MutableLease::parse)
            .collect();
        let count = be_u32(&bytes[ext..ext + 4]) as u64;
        let extra_start = ext as u64 + 4;
        let need = count
            .checked_mul(MutableLease::LEN as u64)
            .and_then(|n| n.checked_add(extra_start))
            .ok_or(ContainerError::Inconsistent("extra-lease count overflows"))?;
        if (bytes.len() as u64) < need {
            return Err(ContainerError::Truncated {
                len: bytes.len() as u64,
                need,
            });
        }
        let extra_end = need as usize;
        leases.extend(
            bytes[extra_start as usize..extra_end]
                .chunks_exact(MutableLease::LEN)
                .filter_map(MutableLease::parse),
        );
        Ok(MutableContainer {
            version: h.version,
            nodeid: h.nodeid,
            write_enabler: h.write_enabler,
            data_length: h.data_length,
            area,
            leases,
            trailer: bytes[extra_end..].to_vec(),
        })
    }

    /// Serialize. Identical to the parsed bytes when nothing was changed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let extra = &self.leases[LEASE_SLOTS.min(self.leases.len())..];
        let mut out = Vec::with_capacity(
            DATA_OFFSET as usize
                + self.area.len()
                + 4
                + extra.len() * MutableLease::LEN
                + self.trailer.len(),
        );
        out.extend_from_slice(self.version.magic());
        out.extend_from_slice(self.nodeid.as_bytes());
        out.extend_from_slice(self.write_enabler.as_bytes());
        out.extend_from_slice(&self.data_length.to_be_bytes());
        out.extend_from_slice(&self.extra_lease_offset().to_be_bytes());
        for i in 0..LEASE_SLOTS {
            out.extend_from_slice(
                &self
                    .leases
                    .get(i)
                    .unwrap_or(&MutableLease::EMPTY)
                    .to_bytes(),
            );
        }
        out.extend_from_slice(&self.area);
        out.extend_from_slice(&(extra.len() as u32).to_be_bytes());
        for l in extra {
            out.extend_from_slice(&l.to_bytes());
        }
        out.extend_from_slice(&self.trailer);
        out
    }

    /// The share data.
    pub fn data(&self) -> &[u8] {
        // data_length <= area.len() is an invariant (checked by the parser,
        // kept by `apply`).
        &self.area[..self.data_length as usize]
    }

    /// Share data length.
    pub fn data_length(&self) -> u64 {
        self.data_length
    }

    /// The container size (data plus slack).
    pub fn container_size(&self) -> u64 {
        self.area.len() as u64
    }

    /// Offset of the extra-lease count.
    pub fn extra_lease_offset(&self) -> u64 {
        DATA_OFFSET + self.area.len() as u64
    }

    /// Does the presented write enabler match? Constant time.
    pub fn write_enabler_matches(&self, we: &WriteEnabler) -> bool {
        self.write_enabler == *we
    }

    /// All lease records in slot order, empty ones included.
    pub fn lease_records(&self) -> &[MutableLease] {
        &self.leases
    }

    /// The leases in use (owner ≠ 0).
    pub fn leases(&self) -> impl Iterator<Item = &MutableLease> {
        self.leases.iter().filter(|l| !l.is_empty())
    }

    /// Apply a test-and-set write's writes and new length (spec §7.5 step
    /// 4) the way Tahoe's `MutableShareFile.writev` does:
    ///
    /// * a write ending at or past the data length extends it; the
    ///   container grows to fit (moving the extra-lease block), and any
    ///   hole between the old data end and the write is zero-filled;
    /// * `new_length` smaller than the data length truncates it (the
    ///   container never shrinks); larger or `None` changes nothing.
    ///
    /// (`new_length == 0` deleting the share is the server's business, not
    /// the container's.) `max_size` bounds the resulting data length; the
    /// whole write is refused, unchanged, if any write would exceed it.
    pub fn apply(
        &mut self,
        writes: &[WriteVector],
        new_length: Option<u64>,
        max_size: u64,
    ) -> Result<(), ContainerError> {
        let limit = max_size.min(usize::MAX as u64);
        for w in writes {
            let end = w
                .offset
                .checked_add(w.data.len() as u64)
                .ok_or(ContainerError::TooLarge)?;
            if end > limit {
                return Err(ContainerError::TooLarge);
            }
        }
        for w in writes {
            // Both fit usize: checked against `limit` above.
            let offset = w.offset as usize;
            let end = offset + w.data.len();
            let data_length = self.data_length as usize;
            if end >= data_length {
                if end > self.area.len() {
                    // Growing the container: Tahoe moves the extra-lease
                    // block to the new end; in our model the block is
                    // always serialized after the area.
                    self.area.resize(end, 0);
                }
                if offset > data_length {
                    self.area[data_length..offset].fill(0);
                }
                self.data_length = end as u64;
            }
            self.area[offset..end].copy_from_slice(&w.data);
        }
        if let Some(n) = new_length {
            if n < self.data_length {
                self.data_length = n;
            }
        }
        Ok(())
    }

    /// Tahoe's add-or-renew: renew (only ever extending) the lease whose
    /// renew secret matches, else fill the first empty slot, else append an
    /// extra lease. Returns true if anything changed.
    pub fn add_or_renew(
        &mut self,
        owner_num: u32,
        renew: &LeaseRenewSecret,
        cancel: &LeaseCancelSecret,
        expiration: u32,
        nodeid: ServerId20,
    ) -> bool {
        let scheme = self.version.lease_scheme();
        let mut found = None;
        for (i, l) in self.leases.iter().enumerate() {
            if !l.is_empty() && scheme.matches(&l.renew, renew.as_bytes()) && found.is_none() {
                found = Some(i);
            }
        }
        if let Some(i) = found {
            let l = &mut self.leases[i];
            if expiration > l.expiration {
                l.expiration = expiration;
                return true;
            }
            return false;
        }
        let lease = MutableLease::new(scheme, owner_num, renew, cancel, expiration, nodeid.0);
        match self.leases.iter().position(MutableLease::is_empty) {
            Some(i) => self.leases[i] = lease,
            None => self.leases.push(lease),
        }
        true
    }
}
