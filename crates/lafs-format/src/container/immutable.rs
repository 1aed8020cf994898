//! Immutable share containers (spec §7.2, Tahoe `storage/immutable.py`).
//!
//! ```text
//! 0x00  u32  container version: 1 (clear lease secrets) or 2 (BLAKE2b-256 hashed)
//! 0x04  u32  min(2^32-1, allocated size)   informational, never used to read
//! 0x08  u32  number of leases n
//! 0x0c       share data: filesize - 12 - 72·n bytes
//! end-72·n   n lease records of 72 bytes (see `lease`)
//! ```
//! All integers big-endian. The data length is *derived* from the file
//! size, so a lease can only be added by rewriting the tail (the storage
//! engine does that on a copy which it renames into place).

use super::lease::{ImmutableLease, LeaseScheme};
use super::{be_u32, ContainerError};

/// Header size.
pub const HEADER_LEN: usize = 12;

/// The version word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImmutableVersion {
    /// Version 1: lease secrets in clear (Tahoe before 1.17).
    V1,
    /// Version 2: lease secrets hashed (what 1.20 writes).
    V2,
}

impl ImmutableVersion {
    /// Dispatch on the version word.
    pub fn from_word(word: u32) -> Result<Self, ContainerError> {
        match word {
            1 => Ok(ImmutableVersion::V1),
            2 => Ok(ImmutableVersion::V2),
            _ => Err(ContainerError::UnknownVersion),
        }
    }

    /// The version word.
    pub fn word(self) -> u32 {
        match self {
            ImmutableVersion::V1 => 1,
            ImmutableVersion::V2 => 2,
        }
    }

    /// How this version stores lease secrets.
    pub fn lease_scheme(self) -> LeaseScheme {
        match self {
            ImmutableVersion::V1 => LeaseScheme::Clear,
            ImmutableVersion::V2 => LeaseScheme::Hashed,
        }
    }
}

/// What the 12-byte header and the file size say, without reading data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImmutableHeader {
    /// Version word.
    pub version: ImmutableVersion,
    /// The informational size field (`min(2^32-1, allocated)`).
    pub size_field: u32,
    /// Number of lease records at the end of the file.
    pub num_leases: u32,
    /// Share data length, derived from the file size.
    pub data_len: u64,
}

impl ImmutableHeader {
    /// Parse the header given the whole file's length.
    pub fn parse(prefix: &[u8], file_len: u64) -> Result<Self, ContainerError> {
        let header = prefix.get(0..HEADER_LEN).ok_or(ContainerError::Truncated {
            len: prefix.len() as u64,
            need: HEADER_LEN as u64,
        })?;
        let version = ImmutableVersion::from_word(be_u32(&header[0..4]))?;
        let size_field = be_u32(&header[4..8]);
        let num_leases = be_u32(&header[8..12]);
        let need = HEADER_LEN as u64 + u64::from(num_leases) * ImmutableLease::LEN as u64;
        if file_len < need {
            return Err(ContainerError::Truncated {
                len: file_len,
                need,
            });
        }
        Ok(ImmutableHeader {
            version,
            size_field,
            num_leases,
            data_len: file_len - need,
        })
    }

    /// Offset of the first lease record.
    pub fn lease_offset(&self) -> u64 {
        HEADER_LEN as u64 + self.data_len
    }

    /// The 12 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        header_bytes(self.version, self.size_field, self.num_leases)
    }
}

/// The header bytes for a container.
pub fn header_bytes(
    version: ImmutableVersion,
    size_field: u32,
    num_leases: u32,
) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[0..4].copy_from_slice(&version.word().to_be_bytes());
    out[4..8].copy_from_slice(&size_field.to_be_bytes());
    out[8..12].copy_from_slice(&num_leases.to_be_bytes());
    out
}

/// Tahoe's informational size field for an allocation.
pub fn size_field_for(allocated: u64) -> u32 {
    u32::try_from(allocated).unwrap_or(u32::MAX)
}

/// A parsed immutable container, borrowing its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImmutableContainer<'a> {
    /// Version word.
    pub version: ImmutableVersion,
    /// Informational size field (kept for byte-identical rewrites).
    pub size_field: u32,
    /// The share data.
    pub data: &'a [u8],
    /// Lease records, in file order.
    pub leases: Vec<ImmutableLease>,
}

impl<'a> ImmutableContainer<'a> {
    /// Parse a whole container file.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ContainerError> {
        let h = ImmutableHeader::parse(bytes, bytes.len() as u64)?;
        // data_len <= bytes.len() was checked by the header parser.
        let lease_off = h.lease_offset() as usize;
        let data = &bytes[HEADER_LEN..lease_off];
        let leases = bytes[lease_off..]
            .chunks_exact(ImmutableLease::LEN)
            .filter_map(ImmutableLease::parse)
            .collect();
        Ok(ImmutableContainer {
            version: h.version,
            size_field: h.size_field,
            data,
            leases,
        })
    }

    /// Serialize. Identical to the parsed bytes when nothing was changed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER_LEN + self.data.len() + self.leases.len() * ImmutableLease::LEN,
        );
        out.extend_from_slice(&header_bytes(
            self.version,
            self.size_field,
            self.leases.len() as u32,
        ));
        out.extend_from_slice(self.data);
        out.extend_from_slice(&lease_table(&self.leases));
        out
    }

    /// How this container stores lease secrets.
    pub fn lease_scheme(&self) -> LeaseScheme {
        self.version.lease_scheme()
    }
}

/// The lease records, serialized back to back.
pub fn lease_table(leases: &[ImmutableLease]) -> Vec<u8> {
    leases.iter().flat_map(|l| l.to_bytes()).collect()
}

/// What an add-or-renew did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseUpdate {
    /// A lease with this renew secret existed; its expiry is now
    /// `max(old, new)` (renewal never shortens a lease).
    Renewed {
        /// Index of the record in the lease list.
        index: usize,
        /// Whether the stored expiry changed.
        changed: bool,
    },
    /// No lease matched; one was appended.
    Added,
}

/// Tahoe's add-or-renew over an immutable lease list (the container's own
/// records): renew the lease whose renew secret matches, else append.
pub fn add_or_renew(
    leases: &mut Vec<ImmutableLease>,
    scheme: LeaseScheme,
    owner_num: u32,
    renew: &crate::keys::LeaseRenewSecret,
    cancel: &crate::keys::LeaseCancelSecret,
    expiration: u32,
) -> LeaseUpdate {
    // Compare against every record (no early exit) so timing does not say
    // which lease matched.
    let mut found = None;
    for (i, l) in leases.iter().enumerate() {
        if scheme.matches(&l.renew, renew.as_bytes()) && found.is_none() {
            found = Some(i);
        }
    }
    match found {
        Some(index) => {
            let l = &mut leases[index];
            let changed = expiration > l.expiration;
            if changed {
                l.expiration = expiration;
            }
            LeaseUpdate::Renewed { index, changed }
        }
        None => {
            leases.push(ImmutableLease::new(
                scheme, owner_num, renew, cancel, expiration,
            ));
            LeaseUpdate::Added
        }
    }
}
