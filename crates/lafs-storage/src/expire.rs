//! Lease expiry and garbage collection (`[storage] expire.*`, spec §7.4).
//!
//! Tahoe's lease checker walks every bucket on disk once per cycle. Here
//! the lease database answers "which shares have no live lease?" with one
//! indexed query; each candidate is then re-checked against its
//! container's own lease records (authoritative) under the storage index's
//! lock before it is deleted, so a renewal racing with the expirer wins.
//!
//! Policies, with `renewed = expiration − 31 days`:
//! * `age`: a lease is expired when `now > expiration`;
//! * `age` with `override_lease_duration = d`: when `now > renewed + d`;
//! * `cutoff-date = c`: when `renewed < c`.
//!
//! A share is deleted when all its leases are expired (a share with no
//! lease at all counts as expired). [`ExpiryWorker`] runs a pass
//! periodically as a background task with visible state.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lafs_format::container::lease::LEASE_DURATION_SECS;

use crate::engine::Engine;
use crate::error::StorageError;
use crate::server::{ExpirationMode, ExpirationOptions};
use crate::store::ShareStore;
use crate::types::ShareKind;

/// What one expiry pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Candidates the database offered.
    pub examined: u64,
    /// Shares deleted.
    pub deleted: u64,
    /// Candidates kept because their container showed a live lease.
    pub kept: u64,
}

/// The expiration time before which a lease counts as expired, under
/// `opts` at time `now`.
pub(crate) fn expiry_cutoff(opts: &ExpirationOptions, now: u64) -> u64 {
    let term = u64::from(LEASE_DURATION_SECS);
    match opts.mode {
        ExpirationMode::Age => now,
        // renewed + d < now  <=>  expiration < now - d + term
        ExpirationMode::AgeOverride(d) => now.saturating_add(term).saturating_sub(d),
        // renewed < c  <=>  expiration < c + term
        ExpirationMode::CutoffDate(c) => c.saturating_add(term),
    }
}

impl<S: ShareStore> Engine<S> {
    /// One expiry pass (no-op unless `expire.enabled` and a lease database
    /// exists).
    pub(crate) async fn expire_once(&self) -> Result<ExpiryReport, StorageError> {
        let mut report = ExpiryReport::default();
        let Some(db) = &self.leasedb else {
            return Ok(report);
        };
        let ex = &self.opts.expire;
        if !ex.enabled {
            return Ok(report);
        }
        // Candidates come from the database: let a running crawl finish.
        let _ = self.crawled.subscribe().wait_for(|done| *done).await;
        let cutoff = expiry_cutoff(ex, self.opts.clock.now());
        let db2 = db.clone();
        let candidates = tokio::task::spawn_blocking(move || {
            db2.flush();
            db2.expired_before(cutoff, None)
        })
        .await
        .map_err(|_| StorageError::TaskFailed)??;
        for c in candidates {
            let wanted = match c.kind {
                ShareKind::Immutable => ex.immutable,
                ShareKind::Mutable => ex.mutable,
            };
            if !wanted {
                continue;
            }
            report.examined += 1;
            let _g = self.lock(&c.si).await;
            // Re-check the authoritative records.
            let leases = match self.leases(c.si, c.shnum).await {
                Ok(l) => l,
                Err(StorageError::NoSuchShare) => {
                    db.record_deleted(c.si, c.shnum);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if leases.iter().any(|l| u64::from(l.expiration) >= cutoff) {
                report.kept += 1;
                continue;
            }
            match c.kind {
                ShareKind::Immutable => self.store.delete_immutable(c.si, c.shnum).await?,
                ShareKind::Mutable => self.store.put_mutable(c.si, c.shnum, None).await?,
            }
            db.record_deleted(c.si, c.shnum);
            tracing::info!(si = %c.si, shnum = c.shnum, kind = ?c.kind, "lease expired; share deleted");
            report.deleted += 1;
        }
        Ok(report)
    }
}

/// What the expiry worker is doing (for status pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerState {
    /// Waiting for the next pass.
    Idle,
    /// Running a pass.
    Busy,
    /// Stopped (cancelled).
    Done,
}

/// Status shared between the worker task and its handle.
#[derive(Debug)]
struct Status {
    state: WorkerState,
    passes: u64,
    last: Option<ExpiryReport>,
    total_deleted: u64,
}

/// A background task running expiry passes every `interval`; stops when
/// the handle is dropped or [`ExpiryWorker::cancel`] is called.
#[derive(Debug)]
pub struct ExpiryWorker {
    status: Arc<Mutex<Status>>,
    task: tokio::task::JoinHandle<()>,
}

impl ExpiryWorker {
    pub(crate) fn spawn(server: crate::StorageServer, interval: Duration) -> Self {
        let status = Arc::new(Mutex::new(Status {
            state: WorkerState::Idle,
            passes: 0,
            last: None,
            total_deleted: 0,
        }));
        let st = status.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                set(&st, |s| s.state = WorkerState::Busy);
                let r = server.expire_once().await;
                set(&st, |s| {
                    s.state = WorkerState::Idle;
                    s.passes += 1;
                    match r {
                        Ok(rep) => {
                            s.total_deleted += rep.deleted;
                            s.last = Some(rep);
                        }
                        Err(e) => tracing::warn!(error = %e, "lease expiry pass failed"),
                    }
                });
            }
        });
        ExpiryWorker { status, task }
    }

    /// Current state.
    pub fn state(&self) -> WorkerState {
        if self.task.is_finished() {
            return WorkerState::Done;
        }
        lock(&self.status).state
    }

    /// Completed passes, the last pass's report, and shares deleted so far.
    pub fn progress(&self) -> (u64, Option<ExpiryReport>, u64) {
        let s = lock(&self.status);
        (s.passes, s.last, s.total_deleted)
    }

    /// Stop the worker.
    pub fn cancel(&self) {
        self.task.abort();
    }
}

impl Drop for ExpiryWorker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(m: &Mutex<Status>) -> std::sync::MutexGuard<'_, Status> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn set(m: &Mutex<Status>, f: impl FnOnce(&mut Status)) {
    f(&mut lock(m));
}
