//! `lafs demo [--dir D]`: a complete local grid in one process.
//!
//! ```text
//! D/introducer       the introducer (HTTPS); every node below names it
//! D/storage/s0 … s9   ten storage nodes (`lafs create-node` layout, disk
//!                     backend, HTTPS on 127.0.0.1, ports fixed at creation)
//! D/servers.yaml      their announcements (what an introducer would carry)
//! D/client            a client node: tahoe.cfg with web.port, private/
//!                     (convergence, secret, servers.yaml), node.url — so
//!                     `lafs … -d D/client` and Python's `tahoe -d D/client`
//!                     both find the web API
//! ```
//!
//! Without `--dir` the grid lives in a fresh temporary directory that is
//! removed on exit; with it, the first run creates the nodes and later runs
//! reuse them, shares and all. Everything listens on 127.0.0.1 only. One
//! tokio runtime serves all eleven nodes; Ctrl-C (or SIGTERM) stops every
//! server through one shutdown signal and waits for each to close its
//! lease database cleanly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use ini::Ini;
use tokio::sync::watch;

use crate::create_client::{self, CreateClientArgs};
use crate::create_node::{self, CreateNodeArgs};
use crate::node::{self, Node};

/// Options of `lafs demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the grid in this directory (created on the first run, reused
    /// after). Without it a temporary directory is used and removed on exit.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// How many storage servers to run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub servers: u16,
    /// Port for the client's web UI (default: one picked on the first run and
    /// kept in D/client/tahoe.cfg).
    #[arg(long)]
    pub web_port: Option<u16>,
}

/// The grid's directory, and whether to remove it on exit.
struct DemoDir {
    path: PathBuf,
    temporary: bool,
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn demo_dir(dir: Option<PathBuf>) -> Result<DemoDir> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            let path = std::path::absolute(&d).unwrap_or(d);
            Ok(DemoDir {
                path,
                temporary: false,
            })
        }
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path =
                std::env::temp_dir().join(format!("lafs-demo-{}-{nanos:08x}", std::process::id()));
            std::fs::create_dir_all(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            Ok(DemoDir {
                path,
                temporary: true,
            })
        }
    }
}

/// Every demo node listens on 127.0.0.1, on a port picked now.
fn loopback() -> create_node::NetArgs {
    create_node::NetArgs {
        hostname: "127.0.0.1".into(),
        port: None,
        listen_address: Some("127.0.0.1".into()),
    }
}

/// Create storage node `i` unless a previous run did.
fn ensure_storage_node(dir: &Path, i: u16, introducer: &str) -> Result<()> {
    if dir.join("tahoe.cfg").exists() {
        return Ok(());
    }
    create_node::create(CreateNodeArgs {
        net: loopback(),
        storage_dir: None,
        nickname: format!("demo-storage-{i}"),
        // A demo on a nearly full disk should still take a few files.
        reserved_space: "0".into(),
        backend: "disk".into(),
        tub_id: None,
        introducer: Some(introducer.to_string()),
        nodedir: dir.to_path_buf(),
    })
}

/// Create the introducer unless a previous run did; returns its URL.
fn ensure_introducer(dir: &Path) -> Result<String> {
    if !dir.join("tahoe.cfg").exists() {
        crate::introducer::create_quiet(crate::introducer::CreateIntroducerArgs {
            net: loopback(),
            nickname: "demo-introducer".into(),
            nodedir: dir.to_path_buf(),
        })?;
    }
    let p = dir.join("private/introducer.furl");
    Ok(std::fs::read_to_string(&p)
        .with_context(|| format!("reading {}", p.display()))?
        .trim()
        .to_string())
}

/// Create the client node (first run), point it at this run's servers, and
/// give it a web port on loopback.
fn ensure_client(
    dir: &Path,
    servers_yaml: &Path,
    introducer: &str,
    n: u16,
    web_port: Option<u16>,
) -> Result<u16> {
    if !dir.join("tahoe.cfg").exists() {
        // Tahoe's 3-of-10 with happy 7, shrunk for a smaller demo grid.
        let total = n.min(10);
        create_client::create(CreateClientArgs {
            needed: 3.min(total),
            happy: 7.min(total),
            total,
            servers: Some(servers_yaml.to_path_buf()),
            nodedir: dir.to_path_buf(),
        })?;
    } else {
        // Ports are fixed at creation, but a rerun with another --servers
        // count must see exactly the servers that run now.
        std::fs::copy(servers_yaml, dir.join("private/servers.yaml"))
            .context("updating the client's servers.yaml")?;
    }
    let cfg_path = dir.join("tahoe.cfg");
    let mut cfg = Ini::load_from_file(&cfg_path)
        .with_context(|| format!("reading {}", cfg_path.display()))?;
    let configured = cfg
        .get_from(Some("node"), "web.port")
        .and_then(|s| s.trim().strip_prefix("tcp:"))
        .and_then(|s| s.split(':').next())
        .and_then(|p| p.parse::<u16>().ok());
    let port = match (web_port, configured) {
        (Some(p), _) => p,
        (None, Some(p)) => p,
        (None, None) => {
            let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
            l.local_addr()?.port()
        }
    };
    cfg.with_section(Some("node"))
        .set("nickname", "demo-client")
        .set("web.port", format!("tcp:{port}:interface=127.0.0.1"));
    // Both: the introducer for servers that come later, the static list
    // (which takes precedence) so the grid is complete from the first
    // request.
    cfg.with_section(Some("client"))
        .set("introducer.furl", introducer);
    cfg.write_to_file(&cfg_path)
        .with_context(|| format!("writing {}", cfg_path.display()))?;
    Ok(port)
}

/// `lafs demo`.
pub fn run(a: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let dd = demo_dir(a.dir.clone())?;
    let root = dd.path.clone();

    // Node directories first (key generation is the slow part: do it on
    // all cores), then one runtime serves them all.
    let introducer_dir = root.join("introducer");
    let furl = ensure_introducer(&introducer_dir)?;
    let storage_dirs: Vec<PathBuf> = (0..a.servers)
        .map(|i| root.join("storage").join(format!("s{i}")))
        .collect();
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = storage_dirs
            .iter()
            .zip(0u16..)
            .map(|(d, i)| {
                let furl = furl.as_str();
                s.spawn(move || ensure_storage_node(d, i, furl))
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("node creation panicked"))??;
        }
        Ok(())
    })?;
    let nodes = storage_dirs
        .iter()
        .map(|d| Node::load(d))
        .collect::<Result<Vec<_>>>()?;
    let mut yaml = String::from("storage:\n");
    for n in &nodes {
        yaml.push_str(&crate::admin::announcement_yaml(n)?);
    }
    let servers_yaml = root.join("servers.yaml");
    std::fs::write(&servers_yaml, &yaml).context("writing servers.yaml")?;
    let client_dir = root.join("client");
    let web_port = ensure_client(&client_dir, &servers_yaml, &furl, a.servers, a.web_port)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    let temporary = dd.temporary;
    let banner_root = root.clone();
    rt.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            // Resolves when the sender says stop or is dropped.
            let _ = rx.wait_for(|s| *s).await;
        };
        let mut tasks = tokio::task::JoinSet::new();
        {
            let stop = stopped(stop_rx.clone());
            tasks.spawn(async move { crate::introducer::serve(&introducer_dir, stop).await });
        }
        for (n, dir) in nodes.into_iter().zip(storage_dirs) {
            let listener = n.bind().await.with_context(|| {
                format!(
                    "storage server {} (another demo on this --dir still running?)",
                    n.nickname
                )
            })?;
            let stop = stopped(stop_rx.clone());
            tasks.spawn(async move { node::serve(n, &dir, listener, stop).await });
        }
        let web = bind_web(&client_dir, web_port).await?;
        let url = web.url.clone();
        tasks.spawn(serve_web(client_dir.clone(), web, stopped(stop_rx.clone())));

        print_banner(&banner_root, &client_dir, &url, temporary, started);
        node::shutdown_signal().await;
        eprintln!("\nlafs demo: stopping…");
        let _ = stop_tx.send(true);
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("lafs demo: {e:#}"),
                Err(e) => eprintln!("lafs demo: a server task failed: {e}"),
            }
        }
        Ok::<(), anyhow::Error>(())
    })?;
    if dd.temporary {
        eprintln!("lafs demo: stopped; removed {}", root.display());
    } else {
        eprintln!(
            "lafs demo: stopped; the grid is kept in {} (run again with --dir to continue)",
            root.display()
        );
    }
    Ok(())
}

fn print_banner(root: &Path, client: &Path, url: &str, temporary: bool, started: Instant) {
    let c = client.display();
    println!(
        "lafs demo: a local grid is up in {secs:.1} s ({kind})\n\
         \n  Web UI:     {url}\n\
         \n  Try it:     echo hello > hello.txt\n\
         \x20             lafs put -d {c} hello.txt          # prints URI:CHK:…\n\
         \x20             lafs get -d {c} URI:CHK:… copy.txt\n\
         \x20             tahoe -d {c} create-alias demo      # Python Tahoe works too\n\
         \x20             tahoe -d {c} put hello.txt demo:hello.txt\n\
         \x20             lafs -d {c} ls demo:\n\
         \n  Grid:       {grid}{note}\n\
         \n  Press Ctrl-C to stop.",
        kind = if temporary { "temporary" } else { "kept" },
        secs = started.elapsed().as_secs_f64(),
        grid = root.display(),
        note = if temporary {
            " (removed on exit; use --dir D to keep it)"
        } else {
            ""
        },
    );
    if let Err(e) = std::io::Write::flush(&mut std::io::stdout()) {
        eprintln!("lafs demo: {e}");
    }
}

/// The client's web listener, bound before the banner is printed so the
/// URL works the moment it appears.
struct WebListener {
    port: lafs_web::BoundPort,
    url: String,
}

async fn bind_web(client_dir: &Path, port: u16) -> Result<WebListener> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding the web UI on 127.0.0.1:{port}"))?;
    // Tahoe's CLI finds the web API through NODEDIR/node.url.
    let port = lafs_web::BoundPort::plain(listener);
    let url = port
        .write_node_url(client_dir)
        .context("writing node.url")?;
    Ok(WebListener { port, url })
}

/// Serve the client's web API and UI until `shutdown` (as `lafs run` of a
/// client node does).
async fn serve_web(
    client_dir: PathBuf,
    web: WebListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    crate::web::serve_client(&client_dir, web.port, shutdown).await
}
