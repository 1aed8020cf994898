//! The lease database: an SQLite index (WAL mode) of every share and its
//! leases, so lease and expiry questions are answered without walking the
//! disk.
//!
//! The containers' own lease records stay authoritative (a Python node must
//! be able to take the `storage/` directory back); this database mirrors
//! them. The engine sends each change *after* the container change, over a
//! channel to one writer thread, so the hot path never waits on SQLite and
//! never takes a lock shared with other uploads. The writer batches
//! whatever is queued into one transaction. If the process dies between a
//! container change and its database row, the row is stale until the next
//! crawl (`LeaseDb::recrawl_needed` is set when the database is opened
//! without a clean-shutdown mark, and `open_disk` then re-crawls).
//!
//! ```text
//! shares(si BLOB, shnum INT, kind INT, size INT)            PRIMARY KEY(si, shnum)
//! leases(si BLOB, shnum INT, idx INT, owner INT, expiration INT)  PRIMARY KEY(si, shnum, idx)
//! meta(key TEXT PRIMARY KEY, value TEXT)                    'crawled', 'clean'
//! ```
//! No lease secret (clear or hashed) is copied into the database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use lafs_format::container::lease::{ImmutableLease, LeaseScheme};
use lafs_format::container::mutable::MutableContainer;
use lafs_format::keys::StorageIndex;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StorageError;
use crate::types::ShareKind;

/// One share's row and its leases' (owner, expiration).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ShareRow {
    si: StorageIndex,
    shnum: u16,
    kind: ShareKind,
    size: u64,
    leases: Vec<(u32, u32)>,
}

enum Op {
    Clear,
    Upsert(ShareRow),
    Delete(StorageIndex, u16),
    SetMeta(&'static str, String),
    Flush(mpsc::Sender<()>),
}

/// A share whose every lease has expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredShare {
    /// Storage index.
    pub si: StorageIndex,
    /// Share number.
    pub shnum: u16,
    /// Which namespace.
    pub kind: ShareKind,
    /// The latest expiration among its leases (0 if it has none).
    pub latest_expiration: u64,
}

/// Usage charged to one lease owner number (Tahoe's "account").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Shares holding a lease of this owner.
    pub shares: u64,
    /// Their total data size in bytes.
    pub bytes: u64,
}

/// Handle to the lease database (cheap to clone).
#[derive(Clone, Debug)]
pub struct LeaseDb {
    tx: mpsc::Sender<Op>,
    reader: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn kind_code(kind: ShareKind) -> i64 {
    match kind {
        ShareKind::Immutable => 0,
        ShareKind::Mutable => 1,
    }
}

fn kind_from(code: i64) -> ShareKind {
    if code == 1 {
        ShareKind::Mutable
    } else {
        ShareKind::Immutable
    }
}

fn open_conn(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(conn)
}

impl LeaseDb {
    /// Open (creating) the database at `path` and start its writer thread.
    /// Returns the handle and whether a crawl is needed (new database, or
    /// not shut down cleanly since the last crawl).
    pub fn open(path: &Path) -> Result<(LeaseDb, bool), StorageError> {
        let conn = open_conn(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS shares (si BLOB NOT NULL, shnum INTEGER NOT NULL, kind INTEGER NOT NULL,
                 size INTEGER NOT NULL, PRIMARY KEY (si, shnum));
             CREATE TABLE IF NOT EXISTS leases (si BLOB NOT NULL, shnum INTEGER NOT NULL, idx INTEGER NOT NULL,
                 owner INTEGER NOT NULL, expiration INTEGER NOT NULL, PRIMARY KEY (si, shnum, idx));
             CREATE INDEX IF NOT EXISTS leases_by_expiration ON leases (expiration);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        let get = |k: &str| -> Result<Option<String>, rusqlite::Error> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .optional()
        };
        let crawled = get("crawled")?.as_deref() == Some("1");
        let clean = get("clean")?.as_deref() == Some("1");
        // From now on we are "running": a crash leaves clean = 0.
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('clean', '0')",
            [],
        )?;
        let writer = open_conn(path)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("lafs-leasedb".into())
            .spawn(move || writer_loop(writer, rx))?;
        let db = LeaseDb {
            tx,
            reader: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        };
        Ok((db, !(crawled && clean)))
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, op: Op) {
        // The writer only stops when every sender is gone, so a send can
        // only fail during teardown; the containers stay authoritative.
        if self.tx.send(op).is_err() {
            tracing::warn!("lease database writer has stopped; update dropped");
        }
    }

    /// Mirror an immutable share's lease table.
    pub(crate) fn record_immutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        size: u64,
        _scheme: LeaseScheme,
        leases: &[ImmutableLease],
    ) {
        let leases = leases.iter().map(|l| (l.owner_num, l.expiration)).collect();
        self.send(Op::Upsert(ShareRow {
            si,
            shnum,
            kind: ShareKind::Immutable,
            size,
            leases,
        }));
    }

    /// What the database keeps of a mutable container: (data length,
    /// [(owner, expiration)]).
    pub(crate) fn mutable_row(c: &MutableContainer) -> (u64, Vec<(u32, u32)>) {
        (
            c.data_length(),
            c.leases().map(|l| (l.owner_num, l.expiration)).collect(),
        )
    }

    /// Mirror a mutable share (`None`: deleted), given its
    /// [`LeaseDb::mutable_row`].
    pub(crate) fn record_mutable(
        &self,
        si: StorageIndex,
        shnum: u16,
        row: Option<(u64, Vec<(u32, u32)>)>,
    ) {
        match row {
            None => self.send(Op::Delete(si, shnum)),
            Some((size, leases)) => self.send(Op::Upsert(ShareRow {
                si,
                shnum,
                kind: ShareKind::Mutable,
                size,
                leases,
            })),
        }
    }

    /// Forget a share (deleted by expiry).
    pub(crate) fn record_deleted(&self, si: StorageIndex, shnum: u16) {
        self.send(Op::Delete(si, shnum));
    }

    /// Forget everything: a crawl is about to refill the tables. Until it
    /// marks itself done, the database counts as not crawled (so a crash
    /// or even a clean stop meanwhile leads to a new crawl).
    pub(crate) fn start_crawl(&self) {
        self.send(Op::SetMeta("crawled", "0".into()));
        self.send(Op::Clear);
    }

    /// Mark the crawl finished.
    pub(crate) fn mark_crawled(&self) {
        self.send(Op::SetMeta("crawled", "1".into()));
    }

    /// Wait until every update sent so far is committed.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        self.send(Op::Flush(tx));
        let _ = rx.recv();
    }

    /// Record a clean shutdown (the next open need not re-crawl).
    pub fn close_clean(&self) {
        self.send(Op::SetMeta("clean", "1".into()));
        self.flush();
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&conn)?)
    }

    /// Number of shares indexed.
    pub fn share_count(&self) -> Result<u64, StorageError> {
        self.with_reader(|c| c.query_row("SELECT COUNT(*) FROM shares", [], |r| r.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64)
    }

    /// The (owner, expiration) leases recorded for one share.
    pub fn leases_of(&self, si: StorageIndex, shnum: u16) -> Result<Vec<(u32, u32)>, StorageError> {
        self.with_reader(|c| {
            let mut st = c.prepare(
                "SELECT owner, expiration FROM leases WHERE si = ?1 AND shnum = ?2 ORDER BY idx",
            )?;
            let rows = st.query_map(params![&si.0[..], shnum], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?))
            })?;
            rows.collect()
        })
    }

    /// Shares whose latest lease expires before `cutoff` (unix seconds),
    /// found by index, not by walking the disk.
    pub fn expired_before(
        &self,
        cutoff: u64,
        kind: Option<ShareKind>,
    ) -> Result<Vec<ExpiredShare>, StorageError> {
        self.with_reader(|c| {
            let mut st = c.prepare(
                "SELECT s.si, s.shnum, s.kind, COALESCE(MAX(l.expiration), 0) AS latest
                 FROM shares s LEFT JOIN leases l ON l.si = s.si AND l.shnum = s.shnum
                 GROUP BY s.si, s.shnum HAVING latest < ?1",
            )?;
            let rows = st.query_map([cutoff as i64], |r| {
                let si: Vec<u8> = r.get(0)?;
                let mut b = [0u8; 16];
                for (o, i) in b.iter_mut().zip(&si) {
                    *o = *i;
                }
                Ok(ExpiredShare {
                    si: StorageIndex(b),
                    shnum: r.get(1)?,
                    kind: kind_from(r.get(2)?),
                    latest_expiration: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })?;
            rows.filter(|r| {
                r.as_ref()
                    .map_or(true, |e| kind.is_none_or(|k| k == e.kind))
            })
            .collect()
        })
    }

    /// Usage per lease owner number.
    pub fn usage(&self) -> Result<BTreeMap<u32, Usage>, StorageError> {
        self.with_reader(|c| {
            let mut st = c.prepare(
                "SELECT owner, COUNT(*), COALESCE(SUM(size), 0) FROM
                   (SELECT DISTINCT l.owner AS owner, s.si, s.shnum, s.size FROM shares s
                    JOIN leases l ON l.si = s.si AND l.shnum = s.shnum) GROUP BY owner",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    Usage {
                        shares: r.get::<_, i64>(1)?.max(0) as u64,
                        bytes: r.get::<_, i64>(2)?.max(0) as u64,
                    },
                ))
            })?;
            rows.collect()
        })
    }
}

fn apply(
    tx: &rusqlite::Transaction<'_>,
    op: Op,
    flushes: &mut Vec<mpsc::Sender<()>>,
) -> Result<(), rusqlite::Error> {
    match op {
        Op::Upsert(row) => {
            let si = &row.si.0[..];
            tx.execute(
                "INSERT OR REPLACE INTO shares (si, shnum, kind, size) VALUES (?1, ?2, ?3, ?4)",
                params![si, row.shnum, kind_code(row.kind), row.size as i64],
            )?;
            tx.execute(
                "DELETE FROM leases WHERE si = ?1 AND shnum = ?2",
                params![si, row.shnum],
            )?;
            for (idx, (owner, exp)) in row.leases.iter().enumerate() {
                tx.execute(
                    "INSERT INTO leases (si, shnum, idx, owner, expiration) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![si, row.shnum, idx as i64, owner, exp],
                )?;
            }
        }
        Op::Delete(si, shnum) => {
            tx.execute(
                "DELETE FROM shares WHERE si = ?1 AND shnum = ?2",
                params![&si.0[..], shnum],
            )?;
            tx.execute(
                "DELETE FROM leases WHERE si = ?1 AND shnum = ?2",
                params![&si.0[..], shnum],
            )?;
        }
        Op::SetMeta(k, v) => {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![k, v],
            )?;
        }
        Op::Flush(reply) => flushes.push(reply),
        Op::Clear => {
            tx.execute("DELETE FROM shares", [])?;
            tx.execute("DELETE FROM leases", [])?;
        }
    }
    Ok(())
}

/// Drain the channel in batches, one transaction per batch.
fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Op>) {
    while let Ok(first) = rx.recv() {
        let mut flushes = Vec::new();
        let result = (|| -> Result<(), rusqlite::Error> {
            let tx = conn.transaction()?;
            apply(&tx, first, &mut flushes)?;
            // Bounded batch: whatever is already queued, up to 1000 ops.
            for op in rx.try_iter().take(1000) {
                apply(&tx, op, &mut flushes)?;
            }
            tx.commit()
        })();
        if let Err(e) = result {
            tracing::error!(error = %e, "lease database update failed; a re-crawl will repair it");
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}
