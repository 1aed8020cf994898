//! A pool of RSA-2048 keys generated ahead of need.
//!
//! RSA-2048 generation takes 50–500 ms of CPU; creating a mutable file or
//! directory should not wait for it when the node is warm. The pool keeps
//! up to `size` keys ready, refilled by one background thread that runs at
//! the lowest CPU priority (nice 19): a refill uses cycles nobody else
//! wants, so it never slows the creates, uploads and edits that emptied
//! the pool. A [`KeyPool::take`] that finds the pool empty generates its
//! own key at normal priority on a blocking thread rather than wait for
//! the background one. Dropping every clone of the pool stops the thread
//! after its current key.

use super::MutableError;
use lafs_format::mutable::PrivateKey;
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex};

/// Default number of keys kept ready: enough for a burst of creates (a
/// `mkdir` of a few levels, a small batch of `put --mutable`) to take no
/// generation time, while filling the pool at start-up costs only a few
/// hundred ms of one core on a background thread. Nodes that create many
/// mutable files at once set a larger size (`[client] lafs.key_pool_size`
/// in `tahoe.cfg`, or [`KeyPool::new`] directly); a size of 0 is treated
/// as 1 here (the client facade then keeps no pool at all).
pub const DEFAULT_SIZE: usize = 4;

/// The nice value of the refill thread: the lowest priority, so that it
/// runs on otherwise idle CPU.
const REFILL_NICE: i32 = 19;

/// Keys generated in the background. Cheap to clone.
#[derive(Clone, Debug)]
pub struct KeyPool {
    rx: Arc<Mutex<mpsc::Receiver<PrivateKey>>>,
}

impl KeyPool {
    /// Start filling a pool of `size` keys (at least 1).
    pub fn new(size: usize) -> Self {
        Self::with_nice(size, REFILL_NICE)
    }

    /// A pool whose refill thread runs at nice value `nice`.
    fn with_nice(size: usize, nice: i32) -> Self {
        let (tx, rx) = mpsc::channel(size.max(1));
        let started = std::thread::Builder::new()
            .name("lafs-keypool".into())
            .spawn(move || refill(tx, nice));
        if let Err(e) = started {
            // Without the thread every take generates its own key.
            tracing::warn!("key pool: no refill thread: {e}");
        }
        KeyPool {
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    /// A pool of [`DEFAULT_SIZE`] keys.
    pub fn with_default_size() -> Self {
        Self::new(DEFAULT_SIZE)
    }

    /// Take a key: a ready one, or (when none is ready) one generated now,
    /// at normal priority, on a blocking thread.
    pub async fn take(&self) -> Result<PrivateKey, MutableError> {
        if let Ok(key) = self.rx.lock().await.try_recv() {
            return Ok(key);
        }
        tokio::task::spawn_blocking(PrivateKey::generate)
            .await
            .map_err(|_| MutableError::TaskFailed)?
            .map_err(MutableError::from)
    }

    /// Keys ready right now.
    pub async fn ready(&self) -> usize {
        self.rx.lock().await.len()
    }
}

/// The refill thread: wait for room, generate a key, hand it over; stop
/// when the pool is dropped or generation fails (the RNG is gone; takes
/// then report the failure themselves).
fn refill(tx: mpsc::Sender<PrivateKey>, nice: i32) {
    // Best effort: on Linux the nice value is per thread. Where it cannot
    // be set the refill runs at normal priority, as it always used to.
    if nice != 0 {
        let _ = rustix::process::setpriority_process(None, nice);
    }
    loop {
        // Room first, so at most `size` keys exist when nobody takes any.
        let Ok(permit) = futures::executor::block_on(tx.reserve()) else {
            return;
        };
        match PrivateKey::generate() {
            Ok(key) => permit.send(key),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fills_in_the_background_and_takes_past_empty() {
        // At normal priority: at nice 19 on a machine busy with other
        // tests the fill could take arbitrarily long.
        let pool = KeyPool::with_nice(2, 0);
        // Bounded: generation takes well under a second per key.
        for _ in 0..600 {
            if pool.ready().await == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(pool.ready().await, 2);
        // Two ready keys, then one generated on demand: all distinct.
        let keys = [
            pool.take().await.unwrap(),
            pool.take().await.unwrap(),
            pool.take().await.unwrap(),
        ];
        let pubs: std::collections::BTreeSet<Vec<u8>> =
            keys.iter().map(|k| k.public_key_der().to_vec()).collect();
        assert_eq!(pubs.len(), 3);
    }
}
