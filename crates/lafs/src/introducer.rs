//! Introducer nodes (`lafs create-introducer`, `lafs run` of one) and the
//! hook by which `lafs run` of a storage node announces itself.
//!
//! Introducer node directory (Tahoe's names where Tahoe has one):
//!
//! ```text
//! NODEDIR/tahoe.cfg                 [node] nickname, tub.port, tub.location, web.port
//! NODEDIR/tahoe-introducer.tac      marks the node type, as Tahoe's `tahoe run` expects
//! NODEDIR/private/tls-cert.pem      self-signed certificate (its SPKI hash is the pin)
//! NODEDIR/private/tls-key.pem       its private key
//! NODEDIR/private/swissnum          the introducer's swissnum (secret)
//! NODEDIR/private/introducer.furl   pb://<pin>@<host>:<port>/<swissnum>#v=1 — give it to nodes
//! ```
//!
//! Nodes name their introducers like Tahoe 1.20 does: `[client]
//! introducer.furl` (petname `default`) and `private/introducers.yaml`.
//! Python Tahoe nodes cannot use a lafs introducer (theirs is Foolscap);
//! they keep a static `private/servers.yaml`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ini::Ini;
use lafs_http::auth::Swissnum;
use lafs_http::tls::Identity;
use lafs_http::Nurl;
use lafs_introducer::ann::{announcement_dict, storage_fields};
use lafs_introducer::client::{fetch_once, next_seqnum, ServerAnns};
use lafs_introducer::{introducers_of_node, Introducer, Options, Publisher, SigningKey};

use crate::create_node::{write_secret, NetArgs};
use crate::node::Node;

/// The file whose presence makes `lafs run` start an introducer.
pub const INTRODUCER_TAC: &str = "tahoe-introducer.tac";

/// Options of `lafs create-introducer`.
#[derive(Debug, clap::Args)]
pub struct CreateIntroducerArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Nickname.
    #[arg(long, default_value = "lafs-introducer")]
    pub nickname: String,
    /// The node directory to create.
    pub nodedir: PathBuf,
}

/// `lafs create-introducer`.
pub fn create(a: CreateIntroducerArgs) -> Result<()> {
    let dir = a.nodedir.clone();
    let url = create_quiet(a)?;
    println!("Introducer created in {}", dir.display());
    println!("Its URL (give it to nodes as [client] introducer.furl): {url}");
    Ok(())
}

/// Create an introducer node directory; returns its URL.
pub fn create_quiet(a: CreateIntroducerArgs) -> Result<String> {
    let dir = &a.nodedir;
    if dir.join("tahoe.cfg").exists() {
        bail!("{} already has a tahoe.cfg", dir.display());
    }
    let private = crate::create_node::make_private_dir(dir)?;
    let (listen, port) = a.net.listen_and_port()?;
    let hostname = &a.net.hostname;
    let identity = Identity::generate(hostname)?;
    let mut swiss = [0u8; 20];
    aws_lc_rs::rand::fill(&mut swiss).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let swissnum = lafs_format::base32::encode(&swiss);
    let url = Nurl {
        spki_hash: identity.spki_hash()?,
        host: hostname.clone(),
        port,
        swissnum: swissnum.clone(),
    }
    .to_url();
    write_secret(&private.join("tls-cert.pem"), &identity.cert_pem)?;
    write_secret(&private.join("tls-key.pem"), &identity.key_pem)?;
    write_secret(&private.join("swissnum"), &format!("{swissnum}\n"))?;
    write_secret(&private.join("introducer.furl"), &format!("{url}\n"))?;
    std::fs::write(
        dir.join(INTRODUCER_TAC),
        "# lafs introducer node: `lafs run` reads tahoe.cfg; this file marks the node type\n",
    )?;
    a.net
        .node_section(&a.nickname, &listen, port)
        .write_to_file(dir.join("tahoe.cfg"))
        .context("writing tahoe.cfg")?;
    Ok(url)
}

/// `lafs run` of an introducer node, until SIGINT/SIGTERM.
pub fn run(dir: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    rt.block_on(serve(dir, crate::node::shutdown_signal()))
}

/// Serve the introducer node at `dir` until `shutdown` (`lafs run`, and
/// `lafs demo`'s introducer).
pub async fn serve(dir: &Path, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let cfg = crate::tahoe_cfg::load(dir)?;
    let get = |key: &str| cfg.get_from(Some("node"), key).map(str::trim);
    let listen = crate::node::parse_tub_port(get("tub.port").context("[node] tub.port missing")?)?;
    let read = |name: &str| -> Result<String> {
        let p = dir.join("private").join(name);
        std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
    };
    let identity = Identity {
        cert_pem: read("tls-cert.pem")?,
        key_pem: read("tls-key.pem")?,
    };
    let swissnum = Swissnum::new(read("swissnum")?.trim().to_string());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(listen = %listener.local_addr()?, "introducer running");
    let intro = Introducer::new(swissnum);
    lafs_introducer::server::serve(listener, identity.server_config()?, intro, shutdown).await;
    tracing::info!("introducer stopped");
    Ok(())
}

/// The introducers configured for the node at `dir`.
pub fn introducers(dir: &Path, cfg: &Ini) -> Result<Vec<lafs_introducer::IntroducerEntry>> {
    let furl = cfg.get_from(Some("client"), "introducer.furl");
    Ok(introducers_of_node(dir, furl)?)
}

/// Whether the node names at least one introducer.
pub fn configured(dir: &Path) -> Result<bool> {
    let cfg = crate::tahoe_cfg::load_quiet(dir)?;
    Ok(!introducers(dir, &cfg)?.is_empty())
}

/// For `lafs run` of a storage node: publish its storage announcement to
/// every configured introducer (none configured: `None`). Call inside the
/// runtime; dropping the result stops publishing.
pub fn announce_storage(dir: &Path, node: &Node) -> Result<Option<Publisher>> {
    let cfg = crate::tahoe_cfg::load_quiet(dir)?;
    let entries = introducers(dir, &cfg)?;
    if entries.is_empty() {
        return Ok(None);
    }
    let p = dir.join("private").join("node.privkey");
    let key = SigningKey::from_privkey_text(
        &std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?,
    )?;
    if key.key_s() != node.server_id {
        bail!(
            "private/node.privkey does not match node.pubkey ({} vs {})",
            key.key_s(),
            node.server_id
        );
    }
    let (seqnum, nonce) = next_seqnum(dir).context("updating announcement-seqnum")?;
    let fields = storage_fields(
        &node.nodeid.to_base32(),
        &node.location_host,
        node.location_port,
        &[node.nurl()?.to_url()],
        // Tahoe's seed for a server without old shares: its public key.
        &key.public_b32(),
    );
    let ann = announcement_dict(&node.nickname, "storage", seqnum, &nonce, fields);
    tracing::info!(
        introducers = entries.len(),
        seqnum,
        "announcing storage service"
    );
    Ok(Some(Publisher::start(
        &entries,
        key.sign(&ann),
        Options::default(),
    )))
}

/// For one-shot client commands (`lafs put/get -d NODEDIR`): the storage
/// announcements of the node's introducers — their caches plus one answer
/// from each introducer that answers within five seconds. `None` when the
/// node has no introducer.
pub fn fetch_servers(dir: &Path) -> Result<Option<Arc<ServerAnns>>> {
    let cfg = crate::tahoe_cfg::load(dir)?;
    let entries = introducers(dir, &cfg)?;
    if entries.is_empty() {
        return Ok(None);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    Ok(Some(rt.block_on(fetch_once(
        &entries,
        "storage",
        Duration::from_secs(5),
    ))))
}

/// For a long-running client node (`lafs run` serving the web API): keep
/// `client`'s grid current from the node's introducers — static
/// `servers.yaml` entries first, then every announced server, swapped in
/// through `Client::set_grid` whenever the set changes. `None` when the
/// node has no introducer. Call inside the runtime; keep the returned feed
/// alive as long as the node runs.
pub fn feed_client(
    dir: &Path,
    client: Arc<lafs_client::Client<lafs_client::HttpClient>>,
) -> Result<Option<lafs_introducer::GridFeed>> {
    let cfg = crate::tahoe_cfg::load_quiet(dir)?;
    let entries = introducers(dir, &cfg)?;
    if entries.is_empty() {
        return Ok(None);
    }
    let nd = lafs_client::nodedir::load(dir)?;
    let statics = match std::fs::read_to_string(&nd.servers_yaml) {
        Ok(y) => lafs_client::broker::servers_from_yaml(&y)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).context("reading private/servers.yaml"),
    };
    let feed = lafs_introducer::GridFeed::start(
        &entries,
        lafs_introducer::GridTracker::new(nd.lease_secret, statics),
        Options::default(),
    );
    client.set_grid(feed.grid());
    let mut grids = feed.watch();
    tokio::spawn(async move {
        while grids.changed().await.is_ok() {
            let g = grids.borrow_and_update().clone();
            tracing::info!(servers = g.servers().len(), "storage servers changed");
            client.set_grid(g);
        }
    });
    Ok(Some(feed))
}
