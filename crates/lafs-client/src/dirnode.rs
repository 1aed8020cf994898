//! Mutable directories over a grid (spec §6): a DIR2 (SDMF) or DIR2-MDMF
//! file whose plaintext is the packed children table.
//!
//! Every change is a [`Dirnode::modify`]: update the servermap, retrieve
//! the newest version, unpack, apply the caller's edit to the children,
//! pack, and publish as `seqnum + 1` with test vectors. If another writer
//! got in between ([`MutableError::UncoordinatedWrite`]), the whole cycle
//! runs again on the fresh contents — the edit closure is re-applied, so
//! it must be a function of the children it is given — after a short
//! random back-off, at most [`Dirnode::max_retries`] times. Two writers
//! adding different children therefore both survive.
//!
//! A `Dirnode` remembers the last version it published itself (body,
//! share placement, checkstring). The next edit starts from that body and
//! publishes straight away with [`republish`], each share tested against
//! the checkstring we wrote — one round trip instead of four (servermap
//! list, servermap read, retrieve, publish). The tests are what keep it
//! safe: if anyone else wrote any of those shares since, a test fails, the
//! memory is dropped and the edit runs the full cycle above. An edit that
//! fails or changes nothing on the remembered body also runs the full
//! cycle, so that its answer ("already exists", "no such child", "nothing
//! to do") always comes from the grid, never from a stale memory.
//!
//! Link metadata follows Tahoe 1.20 (`dirnode.update_metadata`):
//! `{"tahoe": {"linkcrtime": t, "linkmotime": t}}` on a new link; replacing
//! a link keeps `linkcrtime` and moves `linkmotime`.
//!
//! Must never: write without a test vector (publish owns that), keep a
//! write cap in clear in a body (packing encrypts it), or report success
//! for an edit that was not published.

use crate::mutable::publish::{create, overwrite, republish, PublishOptions, Published};
use crate::mutable::{backoff, retrieve, retrieve_from_map, servermap, MutableError};
use crate::{Grid, StorageClient};
use lafs_format::cap::{Cap, FileCap, MutableFormat, SskWriteCap};
use lafs_format::dirnode::{pack, unpack, Child, DirKind, DirnodeError, PackKind};
use lafs_format::keys::WriteKey;
use lafs_format::mutable::{KeyChain, PrivateKey, Retrieved, Version};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};

/// Default bound on re-read-and-retry cycles of one modification.
pub const DEFAULT_MAX_RETRIES: u32 = 64;

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirError {
    /// Reading or publishing the underlying mutable file failed.
    #[error(transparent)]
    Mutable(#[from] MutableError),
    /// The body does not unpack, or the children do not pack.
    #[error(transparent)]
    Format(#[from] DirnodeError),
    /// A child of that name exists and overwriting was not asked for.
    #[error("a child named {0:?} already exists")]
    ChildExists(String),
    /// No child of that name.
    #[error("no child named {0:?}")]
    NoSuchChild(String),
    /// Every attempt lost a race with another writer.
    #[error("gave up after {0} uncoordinated-write retries")]
    TooManyRetries(u32),
}

/// A writable mutable directory on a grid.
pub struct Dirnode<C> {
    grid: Grid<C>,
    keys: KeyChain,
    writekey: WriteKey,
    format: MutableFormat,
    /// The signing key, once known (from creation or the first read).
    key: Mutex<Option<Arc<PrivateKey>>>,
    /// The version this node published last, while no one is known to
    /// have written since (see the module notes).
    last: Mutex<Option<Mine>>,
    /// Bound on retry cycles per modification.
    pub max_retries: u32,
}

/// A version we published: where, with which checkstring, and its body.
struct Mine {
    published: Published,
    body: Vec<u8>,
    opts: PublishOptions,
}

impl<C> std::fmt::Debug for Dirnode<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dirnode")
            .field("storage_index", &self.keys.storage_index)
            .field("format", &self.format)
            .finish()
    }
}

/// Seconds since the epoch, as Tahoe stores link times.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Metadata for a (re)link at `t`: keeps the old `linkcrtime`, if any.
pub fn link_metadata(old: Option<&Map<String, Value>>, t: f64) -> Map<String, Value> {
    let mut md = old.cloned().unwrap_or_default();
    let crtime = old
        .and_then(|o| o.get("tahoe"))
        .and_then(|t| t.get("linkcrtime"))
        .cloned()
        .unwrap_or(Value::from(t));
    let mut tahoe = Map::new();
    tahoe.insert("linkcrtime".into(), crtime);
    tahoe.insert("linkmotime".into(), Value::from(t));
    md.insert("tahoe".into(), Value::Object(tahoe));
    md
}

impl<C: StorageClient> Dirnode<C> {
    /// Create an empty directory signed by `key` (from a [`crate::mutable::KeyPool`]):
    /// SDMF (`URI:DIR2:`) or MDMF (`URI:DIR2-MDMF:`) per `opts.version`.
    pub async fn create(
        grid: &Grid<C>,
        key: Arc<PrivateKey>,
        opts: PublishOptions,
    ) -> Result<Self, DirError> {
        Self::create_with_children(grid, key, &[], opts).await
    }

    /// Create a directory holding `children` (write caps are encrypted
    /// under the new directory's writekey as they are packed).
    pub async fn create_with_children(
        grid: &Grid<C>,
        key: Arc<PrivateKey>,
        children: &[Child],
        opts: PublishOptions,
    ) -> Result<Self, DirError> {
        let body = pack(children, PackKind::Mutable(&key.writekey()))?;
        let p = create(grid, key.clone(), body.clone(), opts).await?;
        let format = match opts.version {
            Version::Sdmf => MutableFormat::Sdmf,
            Version::Mdmf => MutableFormat::Mdmf,
        };
        let mut d = Self::open(
            grid,
            &SskWriteCap {
                format,
                writekey: p.writekey.clone(),
                fingerprint: p.fingerprint,
            },
        );
        d.key = Mutex::new(Some(key));
        d.last = Mutex::new(Some(Mine {
            published: p,
            body,
            opts,
        }));
        Ok(d)
    }

    /// A directory known by its write cap.
    pub fn open(grid: &Grid<C>, cap: &SskWriteCap) -> Self {
        Dirnode {
            grid: grid.clone(),
            keys: KeyChain::from_writekey(cap.writekey.clone(), cap.fingerprint),
            writekey: cap.writekey.clone(),
            format: cap.format,
            key: Mutex::new(None),
            last: Mutex::new(None),
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }

    /// Its write cap (`URI:DIR2:…` / `URI:DIR2-MDMF:…`).
    pub fn cap(&self) -> Cap {
        Cap::Dir(FileCap::SskWrite(SskWriteCap {
            format: self.format,
            writekey: self.writekey.clone(),
            fingerprint: self.keys.fingerprint,
        }))
    }

    /// The children, in stored (name) order, write caps decrypted.
    pub async fn list(&self) -> Result<Vec<Child>, DirError> {
        let (r, _) = retrieve(&self.grid, &self.keys).await?;
        Ok(unpack(
            &r.plaintext,
            DirKind::Mutable(Some(&self.writekey)),
        )?)
    }

    fn signing_key(&self, r: &Retrieved) -> Result<Arc<PrivateKey>, DirError> {
        let mut slot = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let der = r.privkey_der.as_ref().ok_or(MutableError::ReadOnly)?;
        let k = PrivateKey::from_pkcs8_der(der).map_err(MutableError::Key)?;
        if k.fingerprint() != self.keys.fingerprint {
            return Err(MutableError::KeyMismatch.into());
        }
        let k = Arc::new(k);
        *slot = Some(k.clone());
        Ok(k)
    }

    /// Apply `edit` to the newest children and publish the result,
    /// re-reading and re-applying on a lost race (bounded). Returns the
    /// seqnum now current. An edit that changes nothing publishes nothing.
    pub async fn modify<F>(&self, mut edit: F) -> Result<u64, DirError>
    where
        F: FnMut(&mut Vec<Child>) -> Result<(), DirError>,
    {
        if let Some(seqnum) = self.modify_remembered(&mut edit).await? {
            return Ok(seqnum);
        }
        let mut last = None;
        for attempt in 0..=self.max_retries {
            if let Some(e) = &last {
                if !MutableError::is_transient(e) {
                    break;
                }
                backoff(attempt).await;
            }
            let map = servermap::update(&self.grid, &self.keys).await;
            let r = match retrieve_from_map(&self.grid, &self.keys, &map).await {
                Ok(r) => r,
                // Another writer is mid-publish: read again.
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let key = self.signing_key(&r)?;
            let mut children = unpack(&r.plaintext, DirKind::Mutable(Some(&self.writekey)))?;
            edit(&mut children)?;
            let body = pack(&children, PackKind::Mutable(&self.writekey))?;
            // A clean grid already holding this body needs no publish.
            if body == r.plaintext && !map.has_newer_unrecoverable() {
                return Ok(r.seqnum);
            }
            let opts = PublishOptions {
                version: r.version,
                k: r.k,
                n: r.n,
            };
            match overwrite(&self.grid, key, &map, body.clone(), opts).await {
                Ok(p) => return Ok(self.remember(p, body, opts)),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) if !e.is_transient() => e.into(),
            _ => DirError::TooManyRetries(self.max_retries),
        })
    }

    /// The one-round-trip path: apply `edit` to the body we published last
    /// and republish it, tested against what we wrote. `None` when there
    /// is nothing remembered, the edit fails or changes nothing there, or
    /// the publish finds another writer: the caller then runs the full
    /// cycle (which re-applies `edit` to what the grid holds).
    async fn modify_remembered<F>(&self, edit: &mut F) -> Result<Option<u64>, DirError>
    where
        F: FnMut(&mut Vec<Child>) -> Result<(), DirError>,
    {
        // Taken, not copied: a concurrent edit through this node runs the
        // full cycle rather than racing us on the same checkstring.
        let Some(mine) = self.last.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Ok(None);
        };
        let Some(key) = self
            .key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .cloned()
        else {
            return Ok(None);
        };
        let Ok(mut children) = unpack(&mine.body, DirKind::Mutable(Some(&self.writekey))) else {
            return Ok(None);
        };
        if edit(&mut children).is_err() {
            return Ok(None);
        }
        let body = pack(&children, PackKind::Mutable(&self.writekey))?;
        if body == mine.body {
            return Ok(None);
        }
        match republish(&self.grid, key, &mine.published, body.clone(), mine.opts).await {
            Ok(p) => Ok(Some(self.remember(p, body, mine.opts))),
            // Someone else wrote (or a server failed): whatever happened,
            // the full cycle re-reads the grid and settles it.
            Err(_) => Ok(None),
        }
    }

    /// Keep `p` as the version we published last; its seqnum.
    fn remember(&self, published: Published, body: Vec<u8>, opts: PublishOptions) -> u64 {
        let seqnum = published.seqnum;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Mine {
            published,
            body,
            opts,
        });
        seqnum
    }

    /// Link `name` to a child cap. With `overwrite` false an existing
    /// different child is an error (the same caps again are a no-op, so a
    /// retried add that already landed succeeds).
    pub async fn add_child(
        &self,
        name: &str,
        rw_uri: Option<&[u8]>,
        ro_uri: Option<&[u8]>,
        overwrite: bool,
    ) -> Result<u64, DirError> {
        self.modify(|children| {
            let t = now();
            match children.iter_mut().find(|c| c.name == name) {
                Some(c)
                    if c.rw_uri.as_deref().map(Vec::as_slice) == rw_uri
                        && c.ro_uri.as_deref() == ro_uri =>
                {
                    Ok(())
                }
                Some(_) if !overwrite => Err(DirError::ChildExists(name.into())),
                Some(c) => {
                    let md = link_metadata(Some(&c.metadata), t);
                    *c = Child::new(name, rw_uri, ro_uri, md);
                    Ok(())
                }
                None => {
                    children.push(Child::new(name, rw_uri, ro_uri, link_metadata(None, t)));
                    Ok(())
                }
            }
        })
        .await
    }

    /// Remove `name`.
    pub async fn unlink(&self, name: &str) -> Result<u64, DirError> {
        self.modify(|children| {
            let before = children.len();
            children.retain(|c| c.name != name);
            if children.len() == before {
                return Err(DirError::NoSuchChild(name.into()));
            }
            Ok(())
        })
        .await
    }

    /// Rename `from` to `to` within this directory, keeping caps and
    /// metadata (`linkmotime` moves). With `overwrite` false an existing
    /// `to` is an error.
    pub async fn rename(&self, from: &str, to: &str, overwrite: bool) -> Result<u64, DirError> {
        self.modify(|children| {
            let i = children
                .iter()
                .position(|c| c.name == from)
                .ok_or_else(|| DirError::NoSuchChild(from.into()))?;
            if from == to {
                return Ok(());
            }
            if children.iter().any(|c| c.name == to) {
                if !overwrite {
                    return Err(DirError::ChildExists(to.into()));
                }
                children.retain(|c| c.name != to);
            }
            let i = children.iter().position(|c| c.name == from).unwrap_or(i);
            let old = children.remove(i);
            let md = link_metadata(Some(&old.metadata), now());
            children.push(Child::new(
                to,
                old.rw_uri.as_deref().map(Vec::as_slice),
                old.ro_uri.as_deref(),
                md,
            ));
            Ok(())
        })
        .await
    }
}
