//! From announcements to grids: [`GridTracker`] turns the merged
//! announcement map of a [`Subscription`](crate::client::Subscription)
//! into `Grid<HttpClient>`s, and [`follow`] hands each new grid to the
//! node (e.g. `lafs_client::Client::set_grid`).
//!
//! * static servers (`private/servers.yaml`) come first and win: an
//!   announcement for a static id is ignored (spec §9.2);
//! * a server whose announcement did not change keeps its `Arc<GridServer>`,
//!   so its pool of open HTTPS connections survives every rebuild;
//! * an announcement that cannot become a server (no NURL — a Foolscap-only
//!   Python server — or a bad FURL tub id) is skipped with one warning.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lafs_client::broker::{server_from_ann, Ann};
use lafs_client::{Grid, GridServer, HttpClient, LeaseSecret};
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::client::ServerAnns;

/// A server built from an announcement, with the dict it came from.
type Announced = (Map<String, Value>, Arc<GridServer<HttpClient>>);

/// Builds grids from announcements, reusing unchanged servers.
#[derive(Debug)]
pub struct GridTracker {
    lease_secret: LeaseSecret,
    statics: Vec<Arc<GridServer<HttpClient>>>,
    static_ids: BTreeSet<String>,
    /// key_s → (the announcement it was built from, the server).
    announced: BTreeMap<String, Announced>,
    /// Announcements already warned about.
    rejected: BTreeMap<String, Map<String, Value>>,
}

impl GridTracker {
    /// A tracker with the node's lease secret and its static servers
    /// (`broker::servers_from_yaml`), which take precedence.
    pub fn new(
        lease_secret: LeaseSecret,
        statics: Vec<(String, GridServer<HttpClient>)>,
    ) -> GridTracker {
        let static_ids = statics.iter().map(|(id, _)| id.clone()).collect();
        GridTracker {
            lease_secret,
            statics: statics.into_iter().map(|(_, s)| Arc::new(s)).collect(),
            static_ids,
            announced: BTreeMap::new(),
            rejected: BTreeMap::new(),
        }
    }

    /// The grid for `anns`: static servers, then one per usable
    /// announcement.
    pub fn update(&mut self, anns: &ServerAnns) -> Grid<HttpClient> {
        for (key, a) in anns {
            if self.static_ids.contains(key) {
                continue;
            }
            if self
                .announced
                .get(key)
                .is_some_and(|(old, _)| *old == a.ann)
            {
                continue;
            }
            let built = serde_json::from_value::<Ann>(Value::Object(a.ann.clone()))
                .map_err(|e| e.to_string())
                .and_then(|ann| server_from_ann(key, &ann).map_err(|e| e.to_string()));
            match built {
                Ok(s) => {
                    self.rejected.remove(key);
                    self.announced
                        .insert(key.clone(), (a.ann.clone(), Arc::new(s)));
                }
                Err(e) => {
                    if self.rejected.get(key) != Some(&a.ann) {
                        tracing::warn!(server = %key, error = %e, "unusable storage announcement");
                        self.rejected.insert(key.clone(), a.ann.clone());
                    }
                }
            }
        }
        let servers = self
            .statics
            .iter()
            .cloned()
            .chain(self.announced.values().map(|(_, s)| s.clone()))
            .collect();
        Grid::from_shared(servers, self.lease_secret.clone())
    }
}

/// Build a grid now and after every change of `rx`, handing each to
/// `on_grid`; returns when the subscription is dropped.
pub async fn follow(
    mut rx: watch::Receiver<Arc<ServerAnns>>,
    mut tracker: GridTracker,
    mut on_grid: impl FnMut(Arc<Grid<HttpClient>>),
) {
    loop {
        let anns = rx.borrow_and_update().clone();
        on_grid(Arc::new(tracker.update(&anns)));
        if rx.changed().await.is_err() {
            return;
        }
    }
}
