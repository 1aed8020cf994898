//! Storage-server health for the welcome page and `/?t=json`: the web
//! server asks every server of the current grid for its version, as
//! Tahoe 1.20's HTTP storage client does to decide liveness
//! (`storage_client._HTTPStorageServer._connect`, a version call with a
//! five-second timeout, repeated), and remembers for each server whether
//! it answered, since when, when it last answered, and the free space it
//! reported.
//!
//! ## What it must never do
//!
//! Hold a request up for long (pages read a snapshot; only the very first
//! page waits, briefly, for the first round), or poll without pause
//! ([`POLL_INTERVAL`] between rounds, [`VERSION_TIMEOUT`] per call, all
//! servers of a round at once).
//!
//! ## Data flow
//!
//! ```text
//! task: every POLL_INTERVAL ─► client.grid() ─► version() per server (timeout)
//!       ─► Monitor.map[server id] = ServerHealth
//! page: AppState::welcome ─► Monitor::get(id) ─► view::ServerView
//! ```

use futures::future::join_all;
use lafs_client::{Grid, StorageClient};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// Pause between polling rounds (Tahoe polls every second; a web page
/// does not need that).
pub const POLL_INTERVAL: Duration = Duration::from_secs(10);

/// How long one server may take to answer (Tahoe's timeout).
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// What the node knows of one server's connection.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ServerHealth {
    /// Its last version call succeeded.
    pub connected: bool,
    /// Tahoe's summary: `connected` or `failure: …`.
    pub summary: String,
    /// When it last connected (Unix seconds).
    pub since: Option<f64>,
    /// When it last answered (Unix seconds).
    pub last_received: Option<f64>,
    /// The free space it reported (`None` if it did not say).
    pub available_space: Option<u64>,
}

/// Health of every server polled so far, by server id.
#[derive(Debug)]
pub struct Monitor {
    map: Mutex<HashMap<String, ServerHealth>>,
    /// Rounds completed (the first page waits for 1).
    rounds: watch::Sender<u64>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            map: Mutex::new(HashMap::new()),
            rounds: watch::Sender::new(0),
        }
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Monitor {
    /// The health of server `id`, if it has been polled.
    pub fn get(&self, id: &str) -> Option<ServerHealth> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Wait until one round has completed, at most `timeout`.
    pub async fn wait_first_round(&self, timeout: Duration) {
        let mut rx = self.rounds.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0)).await;
    }

    /// Ask every server of `grid` for its version, at once, and record
    /// the answers.
    pub async fn poll_once<C: StorageClient>(&self, grid: &Grid<C>) {
        let calls = grid.servers().iter().map(|s| async move {
            let r = tokio::time::timeout(VERSION_TIMEOUT, s.client.version()).await;
            let r = match r {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_string()),
            };
            (s.id.clone(), r)
        });
        let answers = join_all(calls).await;
        let t = now();
        {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            for (id, r) in answers {
                let h = map.entry(id).or_default();
                match r {
                    Ok(v) => {
                        if !h.connected {
                            h.since = Some(t);
                        }
                        h.connected = true;
                        h.summary = "connected".to_string();
                        h.last_received = Some(t);
                        // 2^64-1 is the storage server's "unknown".
                        h.available_space =
                            (v.available_space != u64::MAX).then_some(v.available_space);
                    }
                    Err(e) => {
                        h.connected = false;
                        h.summary = format!("failure: {e}");
                    }
                }
            }
        }
        self.rounds.send_modify(|n| *n += 1);
    }
}
