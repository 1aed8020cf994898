//! Tahoe-LAFS's web API ("WAPI", `docs/frontends/webapi.rst`, spec §10)
//! and the web UI of a lafs client node, over axum.
//!
//! ## What it owns
//!
//! * [`router`]: every path of Tahoe 1.20's web server — `/uri`,
//!   `/uri/$CAP[/path]`, `/named/…`, `/operations/$HANDLE`, `/status`,
//!   `/statistics`, `/` — dispatching on method and `t=`;
//! * the mapping of client errors to Tahoe's status codes and texts, in one
//!   place ([`error`]);
//! * the web endpoint (`[node] web.port`, [`endpoint`]) and `NODEDIR/node.url`,
//!   served over plain HTTP or, for Twisted's `ssl:` endpoints, HTTPS
//!   ([`tls`]);
//! * [`ui`]: the HTML pages (filled in by the web-UI work), fed with plain
//!   [`view`] structs so pages never talk to storage.
//!
//! ## What it must never do
//!
//! Hold a whole immutable file in memory (uploads spool to a temporary
//! file because the convergent key needs a first pass, downloads stream;
//! mutable files are whole-file by nature and bounded at 64 MiB); put a cap in
//! a `Referer` (every response says `Referrer-Policy: no-referrer`); listen
//! beyond loopback unless `web.port` asks for it; panic on any request.
//!
//! ## Data flow
//!
//! ```text
//! HTTP request ─► router ─► parse cap + path + query (t=, replace=, format=…)
//!              ─► lafs_client (upload / download / dirnode / mutable)
//!              ─► JSON, plain text, bytes (streamed) or ui::*_page(view)
//! ```

mod args;
mod check;
pub mod endpoint;
pub mod error;
mod handlers;
pub mod monitor;
pub mod ops;
pub mod pyjson;
mod render;
pub mod tls;
pub mod ui;
pub mod view;

use axum::http::{header, HeaderValue};
use axum::routing::{any, get};
use axum::Router;
use lafs_client::{Client, StorageClient};
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

pub use endpoint::{write_node_url, BindError, BoundPort, WebPort, WebPortError};
pub use error::WebError;
pub use render::file_format;

/// Who this node is, for `/`, `/?t=json` and `/status`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NodeInfo {
    /// tahoe.cfg `[node] nickname`.
    pub nickname: String,
    /// `v0-…` node id, empty when the node has no signing key.
    pub node_id: String,
    /// The node directory, if it has one.
    pub nodedir: Option<PathBuf>,
}

impl NodeInfo {
    /// A node called `nickname` with no id and no directory.
    pub fn new(nickname: impl Into<String>) -> Self {
        NodeInfo {
            nickname: nickname.into(),
            ..Default::default()
        }
    }
}

/// What the node around the web server knows and the server cannot see
/// itself: its introducer connections and its own storage server. `lafs
/// run` implements it; without one the welcome page shows neither.
pub trait NodeStatus: Send + Sync + 'static {
    /// Each introducer's connection, in configuration order.
    fn introducers(&self) -> Vec<view::IntroducerView> {
        Vec::new()
    }

    /// This node's own storage server, if it runs one.
    fn own_storage(&self) -> Option<view::StorageView> {
        None
    }
}

/// Everything a handler needs: the client facade (grid, parameters,
/// secrets), node identity, the table of running operations and the
/// servers' health. Cheap to clone (one `Arc`).
pub struct AppState<C: StorageClient> {
    inner: Arc<Inner<C>>,
}

struct Inner<C: StorageClient> {
    node: NodeInfo,
    // The introducer swaps grids inside the client as servers come and
    // go; each operation keeps the grid it started with.
    client: Arc<Client<C>>,
    ops: ops::Ops,
    started: std::time::Instant,
    monitor: Arc<monitor::Monitor>,
    /// The polling task, started by the first server or page.
    monitor_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    status: std::sync::RwLock<Option<Arc<dyn NodeStatus>>>,
}

impl<C: StorageClient> Drop for Inner<C> {
    fn drop(&mut self) {
        if let Ok(Some(t)) = self.monitor_task.get_mut().map(Option::take) {
            t.abort();
        }
    }
}

impl<C: StorageClient> Clone for AppState<C> {
    fn clone(&self) -> Self {
        AppState {
            inner: self.inner.clone(),
        }
    }
}

impl<C: StorageClient> std::fmt::Debug for AppState<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("node", &self.inner.node)
            .finish_non_exhaustive()
    }
}

impl<C: StorageClient> AppState<C> {
    /// State over the client facade.
    pub fn new(node: NodeInfo, client: Arc<Client<C>>) -> Self {
        AppState {
            inner: Arc::new(Inner {
                node,
                client,
                ops: ops::Ops::default(),
                started: std::time::Instant::now(),
                monitor: Arc::default(),
                monitor_task: std::sync::Mutex::new(None),
                status: std::sync::RwLock::new(None),
            }),
        }
    }

    /// Tell the welcome page about introducers and the node's own storage.
    pub fn set_node_status(&self, s: Arc<dyn NodeStatus>) {
        if let Ok(mut g) = self.inner.status.write() {
            *g = Some(s);
        }
    }

    /// Start polling the servers' health (once; needs a tokio runtime).
    /// The task stops when the last `AppState` is dropped.
    pub fn start_monitor(&self) {
        let mut task = self
            .inner
            .monitor_task
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if task.is_some() {
            return;
        }
        let client = self.inner.client.clone();
        let mon = self.inner.monitor.clone();
        *task = Some(tokio::spawn(async move {
            loop {
                // The grid of the moment: the introducer may swap it.
                mon.poll_once(&client.grid()).await;
                tokio::time::sleep(monitor::POLL_INTERVAL).await;
            }
        }));
    }

    /// The servers' health.
    pub fn monitor(&self) -> &monitor::Monitor {
        &self.inner.monitor
    }

    /// This node's identity.
    pub fn node(&self) -> &NodeInfo {
        &self.inner.node
    }

    /// The client facade.
    pub fn client(&self) -> &Client<C> {
        &self.inner.client
    }

    /// The operations table.
    pub fn ops(&self) -> &ops::Ops {
        &self.inner.ops
    }

    /// Seconds since this web server started.
    pub fn uptime_secs(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// What the welcome page shows: the servers of the current grid with
    /// their polled health, the introducers and own storage the node
    /// reports, the encoding.
    pub fn welcome(&self) -> view::WelcomeView {
        let grid = self.client().grid();
        let status = self
            .inner
            .status
            .read()
            .ok()
            .and_then(|g| g.as_ref().cloned());
        let params = &self.client().config().params;
        view::WelcomeView {
            nickname: self.inner.node.nickname.clone(),
            node_id: self.inner.node.node_id.clone(),
            version: version_string(),
            servers: grid
                .servers()
                .iter()
                .map(|s| {
                    // The broker names servers `v0-… (nickname)`.
                    let (id, nickname) = match s.id.split_once(" (") {
                        Some((id, nick)) => (id, nick.strip_suffix(')').unwrap_or(nick)),
                        None => (s.id.as_str(), ""),
                    };
                    let h = self.inner.monitor.get(&s.id);
                    view::ServerView {
                        id: id.to_string(),
                        nickname: nickname.to_string(),
                        connected: h.as_ref().is_some_and(|h| h.connected),
                        summary: h
                            .as_ref()
                            .map_or_else(|| "unstarted".to_string(), |h| h.summary.clone()),
                        since: h.as_ref().and_then(|h| h.since),
                        last_seen: h.as_ref().and_then(|h| h.last_received),
                        available_space: h.as_ref().and_then(|h| h.available_space),
                        address: String::new(),
                    }
                })
                .collect(),
            introducers: status.as_ref().map(|s| s.introducers()).unwrap_or_default(),
            storage: status.as_ref().and_then(|s| s.own_storage()),
            needed: params.needed,
            total: params.total,
        }
    }
}

/// `lafs/VERSION`, as `/?t=json` and the welcome page show it.
pub fn version_string() -> String {
    format!("lafs/{}", env!("CARGO_PKG_VERSION"))
}

/// The whole web server: the API routes, the UI's own routes, and the
/// headers every response carries.
pub fn router<C: StorageClient>(state: AppState<C>) -> Router {
    Router::new()
        .route("/", get(handlers::root::<C>))
        .route("/uri", any(handlers::uri_root::<C>))
        .route("/uri/", any(handlers::uri_root::<C>))
        .route("/uri/{*rest}", any(handlers::uri_path::<C>))
        .route("/named/{*rest}", any(handlers::uri_path::<C>))
        .route("/statistics", get(handlers::statistics::<C>))
        .route("/status", get(handlers::status::<C>))
        .route("/status/", get(handlers::status::<C>))
        .route("/operations/{handle}", any(handlers::operation::<C>))
        .merge(ui::routes::<C>())
        .fallback(handlers::not_found)
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}

/// Serve `router(state)` on `listener` until `shutdown` resolves.
pub async fn serve<C: StorageClient>(
    listener: tokio::net::TcpListener,
    state: AppState<C>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.start_monitor();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serve `router(state)` on a bound web port — HTTPS for `ssl:`
/// endpoints, plain HTTP otherwise — until `shutdown` resolves.
pub async fn serve_port<C: StorageClient>(
    port: BoundPort,
    state: AppState<C>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match port.tls {
        None => serve(port.listener, state, shutdown).await,
        Some(config) => {
            state.start_monitor();
            axum::serve(tls::TlsListener::new(port.listener, config)?, router(state))
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}
