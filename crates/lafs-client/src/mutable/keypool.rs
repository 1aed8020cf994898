//! A pool of RSA-2048 keys generated ahead of need.
//!
//! RSA-2048 generation takes 50–500 ms of CPU; creating a mutable file or
//! directory should not wait for it when the node is warm. The pool runs
//! one background task that keeps up to `size` keys ready, generating each
//! on a blocking thread (never on the async workers). Dropping the pool
//! stops the task after its current key.

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

/// Keys generated in the background. Cheap to clone.
#[derive(Clone, Debug)]
pub struct KeyPool {
    rx: Arc<Mutex<mpsc::Receiver<PrivateKey>>>,
}

impl KeyPool {
    /// Start filling a pool of `size` keys (at least 1). Must be called
    /// inside a tokio runtime.
    pub fn new(size: usize) -> Self {
        let (tx, rx) = mpsc::channel(size.max(1));
        tokio::spawn(async move {
            loop {
                // Wait for room first, so at most `size` keys (+0 in
                // flight) exist when nobody takes any.
                let Ok(permit) = tx.reserve().await else {
                    break;
                };
                match tokio::task::spawn_blocking(PrivateKey::generate).await {
                    Ok(Ok(key)) => permit.send(key),
                    // Generation failing means the RNG is gone: stop, and
                    // let `take` report the closed pool.
                    _ => break,
                }
            }
        });
        KeyPool {
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    /// A pool of [`DEFAULT_SIZE`] keys.
    pub fn with_default_size() -> Self {
        Self::new(DEFAULT_SIZE)
    }

    /// Take a key, waiting for one if the pool is empty.
    pub async fn take(&self) -> Result<PrivateKey, MutableError> {
        self.rx
            .lock()
            .await
            .recv()
            .await
            .ok_or(MutableError::KeyPoolClosed)
    }

    /// Keys ready right now.
    pub async fn ready(&self) -> usize {
        self.rx.lock().await.len()
    }
}
