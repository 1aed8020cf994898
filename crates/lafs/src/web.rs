//! The client side of `lafs run` (the web API on `[node] web.port`, with
//! `NODEDIR/node.url` written as Tahoe writes it), and the `lafs status` /
//! `lafs webopen` verbs, which find the node through that file.

use anyhow::{bail, Context, Result};
use ini::Ini;
use lafs_client::{nodedir, Client, HttpClient};
use lafs_web::endpoint::DEFAULT_WEB_PORT;
use lafs_web::{AppState, BoundPort, NodeInfo, WebPort};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn cfg(dir: &Path) -> Result<Ini> {
    let p = dir.join("tahoe.cfg");
    Ini::load_from_file(&p).with_context(|| format!("reading {}", p.display()))
}

/// Whether `[storage] enabled` is true.
pub fn storage_enabled(dir: &Path) -> Result<bool> {
    let c = cfg(dir)?;
    Ok(matches!(
        c.get_from(Some("storage"), "enabled")
            .map(|s| s.trim().to_ascii_lowercase())
            .as_deref(),
        Some("true" | "yes" | "on" | "1")
    ))
}

/// The web endpoint of a node: `[node] web.port`, Tahoe's default
/// (loopback port 3456) for a client node that does not say, none for a
/// storage-only node that does not say.
pub fn web_port(dir: &Path, default_on: bool) -> Result<Option<WebPort>> {
    let c = cfg(dir)?;
    let v = match c.get_from(Some("node"), "web.port") {
        Some(v) => v.to_string(),
        None if default_on => DEFAULT_WEB_PORT.to_string(),
        None => return Ok(None),
    };
    Ok(WebPort::parse(&v)?)
}

/// Load the client facade for a running node: it keeps `[client]
/// lafs.key_pool_size` RSA keys ready (default 4) for new directories and
/// mutable files.
pub fn load_client(dir: &Path) -> Result<Client<HttpClient>> {
    let nd = nodedir::load(dir)?;
    // With an introducer the static list may be absent: start empty and
    // let the introducer's feed fill the grid in.
    let grid = if !nd.servers_yaml.exists() && crate::introducer::configured(dir)? {
        lafs_client::Grid::new(Vec::new(), nd.lease_secret)
    } else {
        nodedir::grid_from_file(&nd.servers_yaml, nd.lease_secret)?
    };
    Ok(Client::new(grid, nd.config))
}

fn node_info(dir: &Path) -> Result<NodeInfo> {
    let c = cfg(dir)?;
    let mut info = NodeInfo::new(
        c.get_from(Some("node"), "nickname")
            .unwrap_or("lafs-client")
            .trim(),
    );
    info.node_id = std::fs::read_to_string(dir.join("node.pubkey"))
        .ok()
        .and_then(|k| k.trim().strip_prefix("pub-").map(str::to_string))
        .unwrap_or_default();
    info.nodedir = Some(dir.to_path_buf());
    Ok(info)
}

/// Serve the web API of the client node `dir` on `port` (HTTP, or HTTPS
/// for an `ssl:` web.port) until `shutdown`; writes `node.url` first
/// (also used by `lafs demo`).
pub async fn serve_client(
    dir: &Path,
    port: BoundPort,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let client = Arc::new(load_client(dir)?);
    // A running node keeps its keys ready from the start (generated on
    // blocking threads, a few hundred ms of CPU in the background).
    client.start_key_pool();
    // Keep the introducer feed (if any) alive while the server runs.
    let feed = crate::introducer::feed_client(dir, client.clone())?;
    let url = port.write_node_url(dir).context("writing node.url")?;
    tracing::info!(%url, servers = client.grid().servers().len(), "web API running");
    let state = AppState::new(node_info(dir)?, client);
    let status = Arc::new(NodeFacts {
        introducers: feed.as_ref().map(|f| f.subscription().statuses()),
        storage: Arc::default(),
    });
    // Keeps the own-storage figures fresh while the server runs.
    let _usage = own_storage_dir(dir)?.map(|d| status.clone().refresh_storage(d));
    state.set_node_status(status);
    lafs_web::serve_port(port, state, shutdown)
        .await
        .context("web server")?;
    tracing::info!("web API stopped");
    Ok(())
}

/// What `lafs run` tells the welcome page: its introducers' connection
/// states and, for a client+storage node, its own storage usage.
struct NodeFacts {
    introducers: Option<lafs_introducer::StatusBoard>,
    storage: Arc<std::sync::Mutex<Option<lafs_web::view::StorageView>>>,
}

/// How often the own-storage figures are recomputed (a walk of the
/// share directories).
const STORAGE_REFRESH: Duration = Duration::from_secs(60);

impl NodeFacts {
    /// Recompute the own-storage figures now and every
    /// [`STORAGE_REFRESH`]; the task stops when the guard is dropped.
    fn refresh_storage(self: Arc<Self>, storage_dir: PathBuf) -> AbortOnDrop {
        AbortOnDrop(tokio::spawn(async move {
            loop {
                let d = storage_dir.clone();
                if let Ok(v) = tokio::task::spawn_blocking(move || storage_usage(&d)).await {
                    if let Ok(mut g) = self.storage.lock() {
                        *g = Some(v);
                    }
                }
                tokio::time::sleep(STORAGE_REFRESH).await;
            }
        }))
    }
}

impl lafs_web::NodeStatus for NodeFacts {
    fn introducers(&self) -> Vec<lafs_web::view::IntroducerView> {
        let Some(b) = &self.introducers else {
            return Vec::new();
        };
        b.snapshot()
            .into_iter()
            .map(|s| {
                let mut v = lafs_web::view::IntroducerView::new(
                    s.address.clone(),
                    s.connected,
                    s.summary(),
                );
                v.since = s.since;
                v.last_seen = s.last_received;
                v
            })
            .collect()
    }

    fn own_storage(&self) -> Option<lafs_web::view::StorageView> {
        self.storage.lock().ok().and_then(|g| g.clone())
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The share directory of this node's own disk storage server, if it
/// runs one.
fn own_storage_dir(dir: &Path) -> Result<Option<PathBuf>> {
    if !storage_enabled(dir)? {
        return Ok(None);
    }
    let node = crate::node::Node::load(dir)?;
    Ok((node.backend == "disk").then(|| node.storage_dir.join("shares")))
}

/// Bytes in share files under `shares` (Tahoe's layout,
/// `shares/PREFIX/SI/SHNUM`; `incoming/` uploads not counted) and the
/// free space of its file system.
fn storage_usage(shares: &Path) -> lafs_web::view::StorageView {
    let mut used = 0u64;
    let dirs = |p: &Path| {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect::<Vec<_>>()
    };
    // Three fixed levels: bounded by the store itself.
    for prefix in dirs(shares) {
        if prefix.file_name().is_some_and(|n| n == "incoming") || !prefix.is_dir() {
            continue;
        }
        for si in dirs(&prefix) {
            for share in dirs(&si) {
                used = used.saturating_add(std::fs::metadata(&share).map_or(0, |m| m.len()));
            }
        }
    }
    let available = rustix::fs::statvfs(shares)
        .ok()
        .map(|st| st.f_bavail.saturating_mul(st.f_frsize));
    lafs_web::view::StorageView::new(used, available)
}

/// Bind the node's web port (loading its TLS key for `ssl:` ports).
pub async fn bind(dir: &Path, default_on: bool) -> Result<Option<BoundPort>> {
    let Some(wp) = web_port(dir, default_on)? else {
        return Ok(None);
    };
    Ok(Some(BoundPort::bind(&wp, dir).await?))
}

/// `lafs run` for a node without storage: the web API only.
pub fn run_client(dir: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    rt.block_on(async {
        let Some(l) = bind(dir, true).await? else {
            bail!("web.port is empty: this client node has nothing to serve");
        };
        serve_client(dir, l, crate::node::shutdown_signal()).await
    })
}

/// For a storage node that also has a client side (`[node] web.port` set
/// and `private/servers.yaml` or an introducer): serve the web API on a thread of
/// its own beside the storage server. It stops with the process.
pub fn spawn_client_beside_storage(dir: &Path) -> Result<()> {
    if web_port(dir, false)?.is_none()
        || (!dir.join("private/servers.yaml").exists() && !crate::introducer::configured(dir)?)
    {
        return Ok(());
    }
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("lafs-web".into())
        .spawn(move || {
            if let Err(e) = run_client(&dir) {
                tracing::error!("web API: {e:#}");
            }
        })
        .context("starting the web thread")?;
    Ok(())
}

/// The node directory `-d` names, or Tahoe's default `~/.tahoe`.
fn nodedir(d: Option<PathBuf>) -> Result<PathBuf> {
    match d {
        Some(d) => Ok(d),
        None => {
            let home = std::env::var_os("HOME").context("no -d NODEDIR and no $HOME")?;
            Ok(PathBuf::from(home).join(".tahoe"))
        }
    }
}

/// Where a running node's web API is, from `NODEDIR/node.url`.
struct NodeUrl {
    /// `host:port`.
    hostport: String,
    /// The whole URL, ending in `/`.
    url: String,
    /// An `https://` URL (web.port is an `ssl:` endpoint).
    https: bool,
}

fn node_url(dir: &Path) -> Result<NodeUrl> {
    let p = dir.join("node.url");
    let url = std::fs::read_to_string(&p)
        .with_context(|| format!("reading {} (is the node running?)", p.display()))?;
    let url = url.trim().to_string();
    let (https, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(r), _) => (false, r),
        (None, Some(r)) => (true, r),
        (None, None) => bail!("node.url is not an http:// or https:// URL"),
    };
    let hostport = rest.split('/').next().unwrap_or_default().to_string();
    Ok(NodeUrl {
        hostport,
        url,
        https,
    })
}

/// For an HTTPS node: a TLS client that trusts exactly the certificate
/// the node's `web.port` names (whatever name or CA it carries, so a
/// self-signed loopback certificate works as well as a public one).
fn node_tls(dir: &Path) -> Result<Arc<rustls::ClientConfig>> {
    let files = web_port(dir, true)?
        .and_then(|w| w.tls)
        .context("node.url is https:// but web.port is not an ssl: endpoint")?
        .resolve(dir);
    let cert_pem = std::fs::read_to_string(&files.cert)
        .with_context(|| format!("reading {}", files.cert.display()))?;
    // The private key is not needed (nor read) to pin the certificate.
    let pin = lafs_http::tls::Identity {
        cert_pem,
        key_pem: String::new(),
    }
    .spki_hash()
    .with_context(|| format!("{}: no usable certificate", files.cert.display()))?;
    Ok(Arc::new(lafs_http::tls::client_config(&pin)?))
}

/// Either kind of connection to the node.
trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

/// A GET against the node (HTTP/1.0, or over TLS for an HTTPS node;
/// bounded by a timeout).
fn http_get(dir: &Path, node: &NodeUrl, path: &str) -> Result<(u16, Vec<u8>)> {
    let hostport = &node.hostport;
    let tcp = std::net::TcpStream::connect(hostport)
        .with_context(|| format!("connecting to the node's web API at {hostport}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut s: Box<dyn Conn> = if node.https {
        let name = rustls::pki_types::ServerName::try_from("lafs-node")
            .context("server name")?
            .to_owned();
        let conn = rustls::ClientConnection::new(node_tls(dir)?, name)?;
        Box::new(rustls::StreamOwned::new(conn, tcp))
    } else {
        Box::new(tcp)
    };
    write!(s, "GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n")?;
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        // A TLS peer that closes without close_notify after a complete
        // HTTP/1.0 response: what was read is the whole response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e).context("reading the node's answer"),
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("malformed HTTP response")?;
    let status = String::from_utf8_lossy(&raw[..split])
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    Ok((status, raw[split + 4..].to_vec()))
}

/// Arguments of `lafs status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The client node directory.
    #[arg(short = 'd', long = "node-directory")]
    pub node_directory: Option<PathBuf>,
    /// Print the node's JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// `lafs status`: the node's servers and operations, from its web API.
pub fn status(a: StatusArgs, top: &Option<PathBuf>) -> Result<()> {
    let dir = nodedir(a.node_directory.or_else(|| top.clone()))?;
    let node = node_url(&dir)?;
    let url = node.url.clone();
    let (code, welcome) = http_get(&dir, &node, "/?t=json")?;
    if code != 200 {
        bail!("{url}?t=json answered {code}");
    }
    let (_, ops) = http_get(&dir, &node, "/status?t=json")?;
    let w: serde_json::Value = serde_json::from_slice(&welcome).context("node JSON")?;
    let o: serde_json::Value = serde_json::from_slice(&ops).unwrap_or_default();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"node": w, "operations": o, "url": url})
        );
        return Ok(());
    }
    let servers = w["servers"].as_array().cloned().unwrap_or_default();
    let up = servers.iter().filter(|s| is_connected(s)).count();
    println!("node: {url}");
    println!("storage servers: {up} of {} connected", servers.len());
    for s in &servers {
        println!(
            "  {}  {}  {}",
            s["nodeid"].as_str().unwrap_or("?"),
            s["nickname"].as_str().unwrap_or(""),
            s["connection_status"].as_str().unwrap_or("")
        );
    }
    for i in w["introducers"]["statuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!("introducer: {}", i.as_str().unwrap_or("?"));
    }
    let active = o["active"].as_array().cloned().unwrap_or_default();
    let recent = o["recent"].as_array().map_or(0, Vec::len);
    println!("operations: {} active, {recent} recent", active.len());
    for op in &active {
        let done = op["bytes-done"].as_u64().unwrap_or(0);
        let total = op["total-size"]
            .as_u64()
            .map_or_else(|| "?".to_string(), |t| t.to_string());
        println!(
            "  {}  {}  {done}/{total}  {}",
            op["type"].as_str().unwrap_or("?"),
            op["target"].as_str().unwrap_or(""),
            op["status"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// Whether a `/?t=json` server is connected: Tahoe 1.20 says
/// `connected` for HTTPS servers, `Connected to …` for Foolscap ones.
fn is_connected(s: &serde_json::Value) -> bool {
    s["connection_status"]
        .as_str()
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("connected"))
}

/// Arguments of `lafs webopen`.
#[derive(Debug, clap::Args)]
pub struct WebopenArgs {
    /// The client node directory.
    #[arg(short = 'd', long = "node-directory")]
    pub node_directory: Option<PathBuf>,
    /// Only print the URL (do not start a browser).
    #[arg(long)]
    pub print: bool,
    /// `ALIAS:path` or a cap (optionally `CAP/path`) to open instead of
    /// the welcome page.
    pub target: Option<String>,
}

/// `lafs webopen [CAP[/path]]`: open the node's web UI in a browser —
/// `$BROWSER` if set (as Python's `webbrowser`, which Tahoe uses: a
/// `:`-separated list, `%s` standing for the URL), else `xdg-open`; with
/// neither, or `--print`, the URL is printed.
pub fn webopen(a: WebopenArgs, top: &Option<PathBuf>) -> Result<()> {
    let dir = nodedir(a.node_directory.or_else(|| top.clone()))?;
    let mut url = node_url(&dir)?.url;
    if let Some(t) = &a.target {
        // Tahoe's `get_alias`: ALIAS:path, a cap, or a path in `tahoe:`.
        let aliases = lafs_client::aliases::Aliases::load(&dir)?;
        let (root, path) = match lafs_client::aliases::parse_arg(
            &aliases,
            t,
            Some(lafs_client::aliases::DEFAULT_ALIAS),
        )? {
            lafs_client::aliases::Target::Grid { root, path } => (root, path),
            lafs_client::aliases::Target::Local(p) => bail!("{p}: not a grid path"),
        };
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        url.push_str("uri/");
        url.push_str(&enc(&root));
        for p in path.split('/').filter(|p| !p.is_empty()) {
            url.push('/');
            url.push_str(&enc(p));
        }
    }
    if a.print {
        println!("{url}");
        return Ok(());
    }
    // The URL holds a cap: hand it to the browser as one argument, never
    // through a shell.
    let browsers: Vec<String> = match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => b.split(':').map(str::to_string).collect(),
        _ => vec!["xdg-open".to_string()],
    };
    for b in browsers {
        let mut words = b.split_whitespace();
        let Some(prog) = words.next() else { continue };
        let mut args: Vec<String> = words.map(str::to_string).collect();
        if args.iter().any(|w| w.contains("%s")) {
            for w in &mut args {
                *w = w.replace("%s", &url);
            }
        } else {
            args.push(url.clone());
        }
        if let Ok(s) = std::process::Command::new(prog).args(&args).status() {
            if s.success() {
                return Ok(());
            }
        }
    }
    println!("{url}");
    Ok(())
}
