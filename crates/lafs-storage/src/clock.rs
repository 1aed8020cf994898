//! Wall-clock time for lease expirations, replaceable in tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Unix seconds: the system clock, or a manual clock tests move by hand
/// (leases are checked without sleeping).
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(None)
    }

    /// A clock that stays at `start` until moved.
    pub fn manual(start: u64) -> Self {
        Clock(Some(Arc::new(AtomicU64::new(start))))
    }

    /// Current unix time in seconds.
    pub fn now(&self) -> u64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    /// Move a manual clock forward (no effect on the system clock).
    pub fn advance(&self, secs: u64) {
        if let Some(t) = &self.0 {
            t.fetch_add(secs, Ordering::SeqCst);
        }
    }
}
