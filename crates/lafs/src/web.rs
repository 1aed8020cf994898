//! The client side of `lafs run` (the web API on `[node] web.port`, with
//! `NODEDIR/node.url` written as Tahoe writes it), and the `lafs status` /
//! `lafs webopen` verbs, which find the node through that file.

use anyhow::{bail, Context, Result};
use ini::Ini;
use lafs_client::{nodedir, Client, HttpClient};
use lafs_web::endpoint::DEFAULT_WEB_PORT;
use lafs_web::{write_node_url, AppState, NodeInfo, WebPort};
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

/// Serve the web API of the client node `dir` on `listener` until
/// `shutdown`; writes `node.url` first (also used by `lafs demo`).
pub async fn serve_client(
    dir: &Path,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let client = Arc::new(load_client(dir)?);
    // A running node keeps its keys ready from the start (generated on
    // blocking threads, a few hundred ms of CPU in the background).
    client.start_key_pool();
    // Keep the introducer feed (if any) alive while the server runs.
    let _feed = crate::introducer::feed_client(dir, client.clone())?;
    let url = write_node_url(dir, listener.local_addr()?).context("writing node.url")?;
    tracing::info!(%url, servers = client.grid().servers().len(), "web API running");
    let state = AppState::new(node_info(dir)?, client);
    lafs_web::serve(listener, state, shutdown)
        .await
        .context("web server")?;
    tracing::info!("web API stopped");
    Ok(())
}

/// Bind the node's web port.
pub async fn bind(dir: &Path, default_on: bool) -> Result<Option<tokio::net::TcpListener>> {
    let Some(wp) = web_port(dir, default_on)? else {
        return Ok(None);
    };
    let l = tokio::net::TcpListener::bind(wp.addr)
        .await
        .with_context(|| format!("binding web.port {}", wp.addr))?;
    Ok(Some(l))
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

/// `NODEDIR/node.url` as (host:port, URL).
fn node_url(dir: &Path) -> Result<(String, String)> {
    let p = dir.join("node.url");
    let url = std::fs::read_to_string(&p)
        .with_context(|| format!("reading {} (is the node running?)", p.display()))?;
    let url = url.trim().to_string();
    let hostport = url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .context("node.url is not an http:// URL")?
        .to_string();
    Ok((hostport, url))
}

/// A GET against the node (loopback, HTTP/1.0, bounded by a timeout).
fn http_get(hostport: &str, path: &str) -> Result<(u16, Vec<u8>)> {
    let mut s = std::net::TcpStream::connect(hostport)
        .with_context(|| format!("connecting to the node's web API at {hostport}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
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
    let (hp, url) = node_url(&dir)?;
    let (code, welcome) = http_get(&hp, "/?t=json")?;
    if code != 200 {
        bail!("{url}?t=json answered {code}");
    }
    let (_, ops) = http_get(&hp, "/status?t=json")?;
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
    let up = servers
        .iter()
        .filter(|s| s["connection_status"] == "Connected")
        .count();
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
    let active = o["active"].as_array().map_or(0, Vec::len);
    let recent = o["recent"].as_array().map_or(0, Vec::len);
    println!("operations: {active} active, {recent} recent");
    Ok(())
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
    /// A cap (optionally `CAP/path`) to open instead of the welcome page.
    pub target: Option<String>,
}

/// `lafs webopen [CAP[/path]]`: open the node's web UI in a browser.
pub fn webopen(a: WebopenArgs, top: &Option<PathBuf>) -> Result<()> {
    let dir = nodedir(a.node_directory.or_else(|| top.clone()))?;
    let (_, mut url) = node_url(&dir)?;
    if let Some(t) = &a.target {
        let (cap, rest) = t.split_once('/').unwrap_or((t.as_str(), ""));
        url.push_str("uri/");
        url.push_str(
            &percent_encoding::utf8_percent_encode(cap, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        );
        if !rest.is_empty() {
            url.push('/');
            url.push_str(rest);
        }
    }
    if a.print {
        println!("{url}");
        return Ok(());
    }
    // The URL holds a cap: hand it to the browser on its command line
    // only, never through a shell.
    match std::process::Command::new("xdg-open").arg(&url).status() {
        Ok(s) if s.success() => Ok(()),
        _ => {
            println!("{url}");
            Ok(())
        }
    }
}
