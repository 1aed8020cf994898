//! The disk store: a Tahoe node's `storage/` directory, served as it is
//! (spec §7.1).
//!
//! ```text
//! storage/shares/<si[0:2]>/<si>/<shnum>            complete shares (v1 or v2 containers)
//! storage/shares/incoming/<si>.<shnum>             immutable uploads in progress (ours)
//! storage/shares/incoming/tmp/<si>.<shnum>.<n>     new copies being prepared (ours)
//! storage/corruption-advisories/<time>--<si>-<shnum>
//! storage/leases.sqlite                             lease database (ours; see leasedb)
//! ```
//! Existing v1 containers are adopted untouched (their leases stay in
//! clear); new immutable and mutable shares are written as v2, as 1.20
//! does. Everything under `incoming/` is deleted at start, as Tahoe does,
//! which is what makes the schemes below crash-safe.
//!
//! ## Crash safety (a `kill -9` at any moment)
//!
//! * **Immutable uploads** are written only under `incoming/`. The write
//!   that completes a share appends the lease, writes the final header,
//!   `fsync`s the file, renames it into `shares/…` and `fsync`s the
//!   directory. Before the rename nothing is visible; after it the share is
//!   whole.
//! * **Mutable writes** (and adding a lease to an immutable share, which
//!   changes where its data ends) build a complete new container in
//!   `incoming/tmp/`, `fsync` it and rename it over the old one. A reader
//!   or a crash sees the old container or the new one, never a mix. We
//!   chose copy-and-rename over Tahoe's in-place writes (which can leave a
//!   share with moved leases or a wrong data length if interrupted) at the
//!   cost of rewriting the container on each change; mutable shares are
//!   usually small (SDMF ≤ a few MB), and `max_mutable_share_size` bounds
//!   the rest.
//! * **Spare files.** The new copy replaces the old one with
//!   `renameat2(RENAME_EXCHANGE)`, so the old container's inode is not
//!   freed but moves to `incoming/tmp/`, where the next rewrite (of any
//!   share) fills it in place. This keeps ext4 from allocating and freeing
//!   an inode per edit, which is slow on a filesystem with many recently
//!   freed inodes (without a journal, ext4 scans past each one). A reader
//!   may still hold the old inode open when it is reused, so every reader
//!   takes a shared `flock` on the share it opened and checks that the
//!   path still names that inode (else it opens again); a writer holds an
//!   exclusive `flock` on a spare while it fills it. A reader therefore
//!   sees an old container whole, or the current one, never a mix.
//!   Spares are bounded in number and size; the rest are deleted.
//! * **Renewing** an existing lease only moves its expiration forward: a
//!   single 4-byte `pwrite`, which a process kill cannot tear (a power cut
//!   could at worst garble that one expiration time, never share data).
//!
//! All file I/O runs in `spawn_blocking`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lafs_format::container::immutable::{self, ImmutableHeader, ImmutableVersion, HEADER_LEN};
use lafs_format::container::lease::ImmutableLease;
use lafs_format::container::mutable::{MutableContainer, MutableHeader};
use lafs_format::container::ContainerKind;
use lafs_format::keys::StorageIndex;

use crate::engine::Engine;
use crate::error::StorageError;
use crate::store::{ImmutableLeases, LeaseWrite, ShareStore};
use crate::types::{ShareKind, WriteData};

#[derive(Debug)]
struct Paths {
    shares: PathBuf,
    incoming: PathBuf,
    tmp: PathBuf,
    advisories: PathBuf,
    counter: AtomicU64,
    /// Old containers' files, kept to be refilled (see "Spare files").
    spares: Mutex<Vec<PathBuf>>,
}

/// At most this many spare files are kept.
const MAX_SPARES: usize = 16;
/// Larger old containers are deleted, not kept as spares.
const MAX_SPARE_LEN: u64 = 4 << 20;
/// Attempts to open a share whose path keeps being replaced under us.
const OPEN_ATTEMPTS: usize = 16;

/// Shares in a Tahoe-layout `storage/` directory.
#[derive(Debug, Clone)]
pub struct DiskStore {
    p: Arc<Paths>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| StorageError::TaskFailed)?
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// `fsync` a directory so a rename or unlink inside it is durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `mkdir -p`, making each newly created level durable.
fn create_dirs(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(parent)?;
        match fs::create_dir(dir) {
            Ok(()) => sync_dir(parent)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Remove `dir` and then its parent if they are empty (best effort).
fn remove_empty_dirs(dir: &Path, levels: usize) {
    let mut d = dir.to_path_buf();
    for _ in 0..levels {
        if fs::remove_dir(&d).is_err() {
            return;
        }
        match d.parent() {
            Some(p) => d = p.to_path_buf(),
            None => return,
        }
    }
}

fn read_at_most(f: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    // `len` was clamped to the data present, so the allocation is bounded
    // by the file's own size.
    let mut buf = vec![0u8; usize::try_from(len).map_err(|_| io::Error::other("read too large"))?];
    f.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Read `[offset, offset+len)` of a share's data region, which starts at
/// `base` in the file and holds `data_len` bytes: truncated at the end of
/// the data, as Tahoe's servers do (spec §7.2, §8.5).
fn read_data(f: &File, base: u64, data_len: u64, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let n = data_len.saturating_sub(offset).min(len);
    read_at_most(f, base + offset.min(data_len), n)
}

impl Paths {
    fn bucket(&self, base: &Path, si: &StorageIndex) -> PathBuf {
        let b32 = si.to_base32();
        base.join(&b32[..2]).join(&b32)
    }
    fn share(&self, si: &StorageIndex, shnum: u16) -> PathBuf {
        self.bucket(&self.shares, si).join(shnum.to_string())
    }
    /// Where an upload in progress is written. Flat, unlike Tahoe's
    /// `incoming/<si[0:2]>/<si>/<shnum>`: making and removing two
    /// directories per upload allocated and freed inodes for nothing
    /// (incoming files are ours alone; both delete them at start).
    fn incoming(&self, si: &StorageIndex, shnum: u16) -> PathBuf {
        self.incoming.join(format!("{si}.{shnum}"))
    }
    fn tmp(&self, si: &StorageIndex, shnum: u16) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.tmp.join(format!("{si}.{shnum}.{n}"))
    }

    /// Write a new copy of `dest` with `write` (into a spare file, or a
    /// fresh temporary one), `fsync` it, and swap it in for `dest`
    /// (creating its directory), then `fsync` the directory. The old
    /// copy's file, if any, becomes a spare.
    fn replace_with(
        &self,
        si: &StorageIndex,
        shnum: u16,
        dest: &Path,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> io::Result<()> {
        let (tmp, mut f) = match self.take_spare() {
            Some(spare) => spare,
            None => {
                let tmp = self.tmp(si, shnum);
                let f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
                (tmp, f)
            }
        };
        let result = (|| {
            write(&mut f)?;
            // A refilled spare may have held a longer container.
            let end = io::Seek::stream_position(&mut f)?;
            f.set_len(end)?;
            f.sync_data()?;
            let dir = dest
                .parent()
                .ok_or_else(|| io::Error::other("share path has no parent"))?;
            create_dirs(dir)?;
            let swapped = swap_in(&tmp, dest)?;
            sync_dir(dir)?;
            Ok(swapped)
        })();
        // Unlock only now: the old copy may become a spare at once.
        drop(f);
        match result {
            Ok(true) => {
                self.keep_spare(tmp);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// A spare file to refill, exclusively locked and rewound, or `None`.
    fn take_spare(&self) -> Option<(PathBuf, File)> {
        loop {
            let path = self
                .spares
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()?;
            let Ok(f) = OpenOptions::new().write(true).open(&path) else {
                continue;
            };
            // Wait for readers that opened this inode when it was a share.
            if rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).is_err() {
                let _ = fs::remove_file(&path);
                continue;
            }
            return Some((path, f));
        }
    }

    /// Keep `path` (an old container's file) as a spare, or delete it.
    fn keep_spare(&self, path: PathBuf) {
        let small = fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_SPARE_LEN);
        let mut spares = self.spares.lock().unwrap_or_else(|p| p.into_inner());
        if small && spares.len() < MAX_SPARES {
            spares.push(path);
        } else {
            drop(spares);
            let _ = fs::remove_file(&path);
        }
    }

    /// Open the share file at `path` for reading, shared-locked, making
    /// sure `path` still names the file opened: a spare being refilled is
    /// exclusively locked, and once unlocked it may be another share.
    fn open_current(path: &Path) -> io::Result<File> {
        for _ in 0..OPEN_ATTEMPTS {
            let f = File::open(path)?;
            rustix::fs::flock(&f, rustix::fs::FlockOperation::LockShared)?;
            if fs::metadata(path)?.ino() == f.metadata()?.ino() {
                return Ok(f);
            }
        }
        Err(io::Error::other("share kept changing while being opened"))
    }

    fn open_share(&self, si: &StorageIndex, shnum: u16) -> Result<File, StorageError> {
        Self::open_current(&self.share(si, shnum)).map_err(|e| {
            if not_found(&e) {
                StorageError::NoSuchShare
            } else {
                e.into()
            }
        })
    }

    /// Open an immutable share and parse its header.
    fn immutable_header(
        &self,
        si: &StorageIndex,
        shnum: u16,
    ) -> Result<(File, ImmutableHeader), StorageError> {
        let f = self.open_share(si, shnum)?;
        let len = f.metadata()?.len();
        let mut prefix = [0u8; HEADER_LEN];
        let n = read_prefix(&f, &mut prefix)?;
        match ContainerKind::detect(&prefix[..n])? {
            ContainerKind::Immutable(_) => Ok((f, ImmutableHeader::parse(&prefix[..n], len)?)),
            ContainerKind::Mutable(_) => Err(StorageError::NoSuchShare),
        }
    }

    /// Open a mutable share and parse its header.
    fn mutable_header(
        &self,
        si: &StorageIndex,
        shnum: u16,
    ) -> Result<(File, MutableHeader), StorageError> {
        let f = self.open_share(si, shnum)?;
        let len = f.metadata()?.len();
        let mut prefix = vec![0u8; MutableHeader::LEN];
        let n = read_prefix(&f, &mut prefix)?;
        match ContainerKind::detect(&prefix[..n])? {
            ContainerKind::Mutable(_) => Ok((f, MutableHeader::parse(&prefix[..n], len)?)),
            ContainerKind::Immutable(_) => Err(StorageError::NoSuchShare),
        }
    }
}

/// Move `new` to `dest`. If `dest` exists the two are exchanged
/// atomically and `true` is returned: `new` then names the old file.
fn swap_in(new: &Path, dest: &Path) -> io::Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, new, CWD, dest, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        // No old copy (NOENT), or a filesystem without exchange (INVAL,
        // NOSYS): a plain rename, which frees the old file if any.
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            fs::rename(new, dest).map(|()| false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Read up to `buf.len()` bytes from the start of `f`; returns how many.
fn read_prefix(f: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Share-number file names are plain decimal.
fn parse_shnum(name: &str) -> Option<u16> {
    if name.is_empty() || name.len() > 3 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok().filter(|n| *n <= 255)
}

impl DiskStore {
    /// Open (creating) `storage_dir`, deleting abandoned incoming uploads.
    pub async fn open(storage_dir: &Path) -> Result<Self, StorageError> {
        let shares = storage_dir.join("shares");
        let p = Paths {
            incoming: shares.join("incoming"),
            tmp: shares.join("incoming").join("tmp"),
            advisories: storage_dir.join("corruption-advisories"),
            shares,
            counter: AtomicU64::new(0),
            spares: Mutex::new(Vec::new()),
        };
        blocking(move || {
            create_dirs(&p.shares)?;
            // Whatever was in flight when we last stopped is garbage: it
            // was never visible, and Tahoe deletes it on start too.
            match fs::remove_dir_all(&p.incoming) {
                Ok(()) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
            create_dirs(&p.tmp)?;
            create_dirs(&p.advisories)?;
            Ok(DiskStore { p: Arc::new(p) })
        })
        .await
    }

    /// Every storage index with a bucket directory.
    async fn all_storage_indexes(&self) -> Result<Vec<StorageIndex>, StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let mut out = Vec::new();
            for prefix in fs::read_dir(&p.shares)? {
                let prefix = prefix?;
                let name = prefix.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.len() != 2 || !prefix.file_type()?.is_dir() {
                    continue; // "incoming" and strays
                }
                for bucket in fs::read_dir(prefix.path())? {
                    let bucket = bucket?;
                    if let Some(si) = bucket
                        .file_name()
                        .to_str()
                        .and_then(|s| StorageIndex::from_base32(s).ok())
                    {
                        out.push(si);
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}

impl ShareStore for DiskStore {
    async fn list(&self, si: StorageIndex) -> Result<BTreeMap<u16, ShareKind>, StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let dir = p.bucket(&p.shares, &si);
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if not_found(&e) => return Ok(BTreeMap::new()),
                Err(e) => return Err(e.into()),
            };
            let mut out = BTreeMap::new();
            for entry in entries {
                let entry = entry?;
                let Some(shnum) = entry.file_name().to_str().and_then(parse_shnum) else {
                    continue;
                };
                let f = match Paths::open_current(&entry.path()) {
                    Ok(f) => f,
                    Err(e) if not_found(&e) => continue, // deleted meanwhile
                    Err(e) => return Err(e.into()),
                };
                let mut prefix = [0u8; ContainerKind::PREFIX_LEN];
                let n = read_prefix(&f, &mut prefix)?;
                match ContainerKind::detect(&prefix[..n]) {
                    Ok(ContainerKind::Immutable(_)) => out.insert(shnum, ShareKind::Immutable),
                    Ok(ContainerKind::Mutable(_)) => out.insert(shnum, ShareKind::Mutable),
                    Err(e) => {
                        tracing::warn!(%si, shnum, error = %e, "unreadable container; ignored");
                        None
                    }
                };
            }
            Ok(out)
        })
        .await
    }

    async fn read_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let (f, h) = p.immutable_header(&si, shnum)?;
            Ok(read_data(&f, HEADER_LEN as u64, h.data_len, offset, len)?)
        })
        .await
    }

    async fn immutable_leases(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<ImmutableLeases, StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let (f, h) = p.immutable_header(&si, shnum)?;
            let raw = read_at_most(
                &f,
                h.lease_offset(),
                u64::from(h.num_leases) * ImmutableLease::LEN as u64,
            )?;
            let leases = raw
                .chunks_exact(ImmutableLease::LEN)
                .filter_map(ImmutableLease::parse)
                .collect();
            Ok(ImmutableLeases {
                version: h.version,
                data_len: h.data_len,
                leases,
            })
        })
        .await
    }

    async fn write_immutable_leases(
        &self,
        si: StorageIndex,
        shnum: u16,
        change: LeaseWrite,
    ) -> Result<(), StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let (f, h) = p.immutable_header(&si, shnum)?;
            match change {
                LeaseWrite::Renew { index, expiration } => {
                    if index as u64 >= u64::from(h.num_leases) {
                        return Err(StorageError::NoSuchShare);
                    }
                    drop(f);
                    let f = OpenOptions::new().write(true).open(p.share(&si, shnum))?;
                    let at = h.lease_offset() + (index * ImmutableLease::LEN) as u64 + 68;
                    f.write_all_at(&expiration.to_be_bytes(), at)?;
                    f.sync_data()?;
                }
                LeaseWrite::Replace(leases) => {
                    // The data's end moves with the lease count, so build a
                    // new copy: header, the old data verbatim, new leases.
                    let header =
                        immutable::header_bytes(h.version, h.size_field, leases.len() as u32);
                    let dest = p.share(&si, shnum);
                    p.replace_with(&si, shnum, &dest, |out| {
                        out.write_all(&header)?;
                        let mut src = f.try_clone()?;
                        io::Seek::seek(&mut src, io::SeekFrom::Start(HEADER_LEN as u64))?;
                        let copied = io::copy(&mut (&mut src).take(h.data_len), out)?;
                        if copied != h.data_len {
                            return Err(io::Error::other("share shrank while copying"));
                        }
                        out.write_all(&immutable::lease_table(&leases))
                    })
                    .map_err(map_enospc)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn create_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        allocated: u64,
    ) -> Result<(), StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let path = p.incoming(&si, shnum);
            if let Some(dir) = path.parent() {
                create_dirs(dir)?;
            }
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)?;
            let header = immutable::header_bytes(
                ImmutableVersion::V2,
                immutable::size_field_for(allocated),
                0,
            );
            f.write_all_at(&header, 0)?;
            Ok(())
        })
        .await
    }

    async fn write_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        data: WriteData,
    ) -> Result<(), StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let f = OpenOptions::new()
                .write(true)
                .open(p.incoming(&si, shnum))
                .map_err(|e| {
                    if not_found(&e) {
                        StorageError::NoSuchUpload
                    } else {
                        e.into()
                    }
                })?;
            // No fsync here: durability is only promised for complete shares.
            let at = HEADER_LEN as u64 + offset;
            write_chunks_at(&f, data.chunks(), at).map_err(map_enospc)?;
            // Start writing these pages to disk now. The fsync that
            // publishes the share then has little left to wait for: without
            // this the kernel holds everything back (dirty_background is
            // gigabytes) and the last write of a 100 MiB upload waited
            // 0.18 s on each server with every core idle. Dirty pages are
            // not dropped by DONTNEED, only queued for writeback; failure is
            // harmless (the fsync still makes the share durable).
            let len = std::num::NonZeroU64::new(data.len() as u64);
            let _ = rustix::fs::fadvise(&f, at, len, rustix::fs::Advice::DontNeed);
            Ok(())
        })
        .await
    }

    async fn read_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let f = File::open(p.incoming(&si, shnum)).map_err(|e| {
                if not_found(&e) {
                    StorageError::NoSuchUpload
                } else {
                    e.into()
                }
            })?;
            let have = f.metadata()?.len().saturating_sub(HEADER_LEN as u64);
            Ok(read_data(&f, HEADER_LEN as u64, have, offset, len)?)
        })
        .await
    }

    async fn finish_incoming(
        &self,
        si: StorageIndex,
        shnum: u16,
        allocated: u64,
        lease: ImmutableLease,
    ) -> Result<(), StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let src = p.incoming(&si, shnum);
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&src)
                .map_err(|e| {
                    if not_found(&e) {
                        StorageError::NoSuchUpload
                    } else {
                        e.into()
                    }
                })?;
            let end = HEADER_LEN as u64 + allocated;
            f.set_len(end)?;
            f.write_all_at(&lease.to_bytes(), end).map_err(map_enospc)?;
            let header = immutable::header_bytes(
                ImmutableVersion::V2,
                immutable::size_field_for(allocated),
                1,
            );
            f.write_all_at(&header, 0)?;
            f.sync_all()?;
            drop(f);
            let dest = p.share(&si, shnum);
            let dir = dest
                .parent()
                .ok_or_else(|| io::Error::other("share path has no parent"))?;
            create_dirs(dir)?;
            fs::rename(&src, &dest)?;
            sync_dir(dir)?;
            Ok(())
        })
        .await
    }

    async fn abort_incoming(&self, si: StorageIndex, shnum: u16) -> Result<(), StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let path = p.incoming(&si, shnum);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
            Ok(())
        })
        .await
    }

    async fn delete_immutable(&self, si: StorageIndex, shnum: u16) -> Result<(), StorageError> {
        let p = self.p.clone();
        blocking(move || Ok(remove_share(&p.share(&si, shnum))?)).await
    }

    async fn get_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
    ) -> Result<Option<MutableContainer>, StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let mut f = match p.open_share(&si, shnum) {
                Ok(f) => f,
                Err(StorageError::NoSuchShare) => return Ok(None),
                Err(e) => return Err(e),
            };
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            match ContainerKind::detect(&bytes)? {
                ContainerKind::Immutable(_) => Err(StorageError::WrongShareKind),
                ContainerKind::Mutable(_) => Ok(Some(MutableContainer::parse(&bytes)?)),
            }
        })
        .await
    }

    async fn read_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let (f, h) = p.mutable_header(&si, shnum)?;
            let base = lafs_format::container::mutable::DATA_OFFSET;
            Ok(read_data(&f, base, h.data_length, offset, len)?)
        })
        .await
    }

    async fn mutable_len(&self, si: StorageIndex, shnum: u16) -> Result<u64, StorageError> {
        let p = self.p.clone();
        blocking(move || Ok(p.mutable_header(&si, shnum)?.1.data_length)).await
    }

    async fn put_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        container: Option<MutableContainer>,
    ) -> Result<(), StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let dest = p.share(&si, shnum);
            match container {
                Some(c) => {
                    let bytes = c.to_bytes();
                    p.replace_with(&si, shnum, &dest, |f| f.write_all(&bytes))
                        .map_err(map_enospc)?;
                }
                None => remove_share(&dest)?,
            }
            Ok(())
        })
        .await
    }

    async fn available_space(&self) -> Result<Option<u64>, StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let st = rustix::fs::statvfs(&p.shares).map_err(io::Error::from)?;
            Ok(Some(st.f_bavail.saturating_mul(st.f_frsize)))
        })
        .await
    }

    async fn record_corruption(
        &self,
        kind: ShareKind,
        si: StorageIndex,
        shnum: u16,
        reason: String,
    ) -> Result<(), StorageError> {
        let p = self.p.clone();
        blocking(move || {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let n = p.counter.fetch_add(1, Ordering::Relaxed);
            let name = format!("{now}.{n}--{si}-{shnum}");
            let kind = match kind {
                ShareKind::Immutable => "immutable",
                ShareKind::Mutable => "mutable",
            };
            let text = format!(
                "report: Share Corruption\ntype: {kind}\nstorage_index: {si}\nshare_number: {shnum}\n\n{reason}\n\n"
            );
            fs::write(p.advisories.join(name), text)?;
            Ok(())
        })
        .await
    }
}

/// Delete a share file durably (absent is fine), then its bucket
/// directory if that is now empty.
fn remove_share(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
        remove_empty_dirs(dir, 1);
    }
    Ok(())
}

/// Write `chunks` back to back at `offset` with `pwritev`, so that a
/// request body's frames reach the page cache without being gathered
/// into one buffer first.
fn write_chunks_at(f: &File, chunks: &[bytes::Bytes], mut offset: u64) -> io::Result<()> {
    let mut slices: Vec<io::IoSlice<'_>> = chunks.iter().map(|c| io::IoSlice::new(c)).collect();
    let mut rest = slices.as_mut_slice();
    // Linux takes at most IOV_MAX (1024) slices per call; a short write
    // leaves the remainder for the next round.
    while !rest.is_empty() {
        let n = rest.len().min(1024);
        let written = rustix::io::pwritev(f, &rest[..n], offset).map_err(io::Error::from)?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        offset += written as u64;
        io::IoSlice::advance_slices(&mut rest, written);
    }
    Ok(())
}

/// A full disk is `NoSpace`, not a generic I/O error.
fn map_enospc(e: io::Error) -> StorageError {
    if e.raw_os_error() == Some(28) || e.kind() == io::ErrorKind::StorageFull {
        StorageError::NoSpace
    } else {
        StorageError::Io(e)
    }
}

impl Engine<DiskStore> {
    /// Fill the lease database from the containers on disk (first start,
    /// or after an unclean shutdown). Each storage index is read under its
    /// lock, so a concurrent write cannot be overwritten by stale data.
    pub(crate) async fn crawl(&self) -> Result<u64, StorageError> {
        let Some(db) = &self.leasedb else {
            return Ok(0);
        };
        let mut n = 0;
        for si in self.store.all_storage_indexes().await? {
            let _g = self.lock(&si).await;
            for (shnum, kind) in self.store.list(si).await? {
                let r = match kind {
                    ShareKind::Immutable => self.store.immutable_leases(si, shnum).await.map(|t| {
                        db.record_immutable(
                            si,
                            shnum,
                            t.data_len,
                            t.version.lease_scheme(),
                            &t.leases,
                        );
                    }),
                    ShareKind::Mutable => self.store.get_mutable(si, shnum).await.map(|c| {
                        if let Some(c) = c {
                            db.record_mutable(
                                si,
                                shnum,
                                Some(crate::leasedb::LeaseDb::mutable_row(&c)),
                            );
                        }
                    }),
                };
                match r {
                    Ok(()) => n += 1,
                    Err(e) => {
                        tracing::warn!(%si, shnum, error = %e, "crawler skipped an unreadable share")
                    }
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_writes_land_back_to_back() {
        let dir = tempfile::tempdir().unwrap();
        let f = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(dir.path().join("share"))
            .unwrap();
        // More slices than one pwritev takes (IOV_MAX), of uneven sizes.
        let chunks: Vec<bytes::Bytes> = (0..2500u32)
            .map(|i| bytes::Bytes::from(vec![(i % 251) as u8; (i % 7) as usize + 1]))
            .collect();
        write_chunks_at(&f, &chunks, 5).unwrap();
        let mut got = Vec::new();
        File::open(dir.path().join("share"))
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        let mut want = vec![0u8; 5];
        want.extend(chunks.iter().flat_map(|c| c.iter().copied()));
        assert_eq!(got, want);
    }

    fn rewrite(p: &Paths, si: &StorageIndex, data: &[u8]) {
        let dest = p.share(si, 0);
        p.replace_with(si, 0, &dest, |f| f.write_all(data)).unwrap();
    }

    #[tokio::test]
    async fn rewrites_refill_old_files_but_never_under_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).await.unwrap();
        let p = store.p.clone();
        let (a, b) = (StorageIndex([1; 16]), StorageIndex([2; 16]));
        rewrite(&p, &a, b"A1, the longest content");
        rewrite(&p, &b, b"B1");
        let first_a = fs::metadata(p.share(&a, 0)).unwrap().ino();
        // A reader opens A's first file; A is then rewritten, and that
        // file becomes the only spare.
        let mut reader = Paths::open_current(&p.share(&a, 0)).unwrap();
        rewrite(&p, &a, b"A2");
        // Rewriting B refills the spare: it must wait for the reader.
        let (tx, rx) = std::sync::mpsc::channel();
        let p2 = p.clone();
        let writer = std::thread::spawn(move || {
            rewrite(&p2, &b, b"B2");
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "a file a reader holds was refilled"
        );
        let mut seen = Vec::new();
        reader.read_to_end(&mut seen).unwrap();
        assert_eq!(seen, b"A1, the longest content");
        drop(reader);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        writer.join().unwrap();
        // B now lives in A's first file, cut to B2's length.
        assert_eq!(fs::metadata(p.share(&b, 0)).unwrap().ino(), first_a);
        assert_eq!(fs::read(p.share(&b, 0)).unwrap(), b"B2");
        assert_eq!(fs::read(p.share(&a, 0)).unwrap(), b"A2");
        // A reader opening A now gets A's current file.
        let mut now = Vec::new();
        Paths::open_current(&p.share(&a, 0))
            .unwrap()
            .read_to_end(&mut now)
            .unwrap();
        assert_eq!(now, b"A2");
    }

    #[tokio::test]
    async fn spares_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).await.unwrap();
        let p = store.p.clone();
        let sis: Vec<StorageIndex> = (0..40u8).map(|i| StorageIndex([i; 16])).collect();
        for round in 0..3u8 {
            for si in &sis {
                rewrite(&p, si, &[round; 100]);
            }
        }
        for si in &sis {
            assert_eq!(fs::read(p.share(si, 0)).unwrap(), [2u8; 100]);
        }
        let spares = fs::read_dir(&p.tmp).unwrap().count();
        assert!(spares <= MAX_SPARES, "{spares} spare files kept");
    }
}
