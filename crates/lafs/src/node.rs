//! A storage node directory and `lafs run`.
//!
//! Layout (Tahoe's names where Tahoe has one):
//!
//! ```text
//! NODEDIR/tahoe.cfg              [node] nickname, tub.port, tub.location, web.port
//!                                [storage] enabled, reserved_space, readonly, storage_dir,
//!                                          expire.*, backend (lafs: disk | memory)
//!                                [client] shares.needed/happy/total
//! NODEDIR/node.pubkey            "pub-v0-<b32 ed25519 public key>" (the server id)
//! NODEDIR/private/node.privkey   ed25519 key, PKCS#8, base64
//! NODEDIR/private/tls-cert.pem   self-signed certificate (its SPKI hash is the NURL pin)
//! NODEDIR/private/tls-key.pem    its private key
//! NODEDIR/private/swissnum       the storage swissnum (secret)
//! NODEDIR/private/tubid          b32 of the permanent 20-byte node id (spec §9.3)
//! NODEDIR/private/introducers.yaml  introducers to announce to (also [client] introducer.furl)
//! NODEDIR/announcement-seqnum    bumped at each start (Tahoe's sequencer)
//! NODEDIR/storage/               shares (Tahoe layout, §7.1) unless storage_dir is set
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lafs_format::keys::ServerId20;
use lafs_http::auth::Swissnum;
use lafs_http::tls::Identity;
use lafs_http::Nurl;
use lafs_storage::{ExpirationMode, ExpirationOptions, StorageServer, StorageServerOptions};

/// Everything `lafs run` and `lafs admin` need from a node directory.
#[derive(Debug)]
pub struct Node {
    pub nickname: String,
    pub listen: SocketAddr,
    pub location_host: String,
    pub location_port: u16,
    pub storage_enabled: bool,
    pub storage_dir: PathBuf,
    pub backend: String,
    pub opts: StorageServerOptions,
    pub identity: Identity,
    pub swissnum: Swissnum,
    pub nodeid: ServerId20,
    pub server_id: String,
}

/// Tahoe's `parse_abbreviated_size`: "1G", "500MB", "2GiB", "12345".
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim().replace(' ', "");
    let lower = t.to_ascii_lowercase();
    let (num, suffix) = lower.split_at(
        lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len()),
    );
    let n: u64 = num.parse().with_context(|| format!("bad size {s:?}"))?;
    let (unit, binary) = match suffix {
        "" | "b" => (0, false),
        x => {
            let mut chars = x.chars();
            let p = match chars.next() {
                Some('k') => 1,
                Some('m') => 2,
                Some('g') => 3,
                Some('t') => 4,
                Some('p') => 5,
                _ => bail!("bad size {s:?}"),
            };
            match chars.as_str() {
                "" | "b" => (p, false),
                "ib" => (p, true),
                _ => bail!("bad size {s:?}"),
            }
        }
    };
    let base: u64 = if binary { 1024 } else { 1000 };
    n.checked_mul(base.pow(unit)).context("size overflows")
}

fn parse_bool(s: &str) -> Result<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => bail!("bad boolean {s:?}"),
    }
}

/// `tcp:PORT[:interface=ADDR]` → socket address.
pub(crate) fn parse_tub_port(s: &str) -> Result<SocketAddr> {
    let mut parts = s.trim().split(':');
    if parts.next() != Some("tcp") {
        bail!("tub.port must be tcp:PORT[:interface=ADDR], got {s:?}");
    }
    let port: u16 = parts.next().unwrap_or("").parse().context("bad tub.port")?;
    let mut iface = "0.0.0.0".to_string();
    for p in parts {
        if let Some(a) = p.strip_prefix("interface=") {
            iface = a.to_string();
        }
    }
    format!("{iface}:{port}")
        .parse()
        .or_else(|_| format!("[{iface}]:{port}").parse())
        .context("bad tub.port interface")
}

/// `tcp:HOST:PORT` (first of a comma list) → (host, port).
fn parse_location(s: &str) -> Result<(String, u16)> {
    let first = s.split(',').next().unwrap_or("").trim();
    let rest = first.strip_prefix("tcp:").unwrap_or(first);
    let (host, port) = rest.rsplit_once(':').context("bad tub.location")?;
    Ok((
        host.to_string(),
        port.parse().context("bad tub.location port")?,
    ))
}

fn read_private(dir: &Path, name: &str) -> Result<String> {
    let p = dir.join("private").join(name);
    std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
}

impl Node {
    /// Load a node directory made by `lafs create-node`.
    pub fn load(dir: &Path) -> Result<Node> {
        let cfg = crate::tahoe_cfg::load(dir)?;
        let get = |sec: &str, key: &str| cfg.get_from(Some(sec), key).map(str::trim);
        let nickname = get("node", "nickname").unwrap_or("lafs").to_string();
        let listen = parse_tub_port(get("node", "tub.port").context("[node] tub.port missing")?)?;
        let (location_host, location_port) =
            parse_location(get("node", "tub.location").context("[node] tub.location missing")?)?;
        let storage_enabled = get("storage", "enabled")
            .map(parse_bool)
            .transpose()?
            .unwrap_or(false);
        let storage_dir = match get("storage", "storage_dir") {
            Some(d) if !d.is_empty() => {
                let p = PathBuf::from(d);
                if p.is_absolute() {
                    p
                } else {
                    dir.join(p)
                }
            }
            _ => dir.join("storage"),
        };
        let backend = get("storage", "backend").unwrap_or("disk").to_string();
        let reserved_space = get("storage", "reserved_space")
            .map(parse_size)
            .transpose()?
            .unwrap_or(0);
        let readonly = get("storage", "readonly")
            .map(parse_bool)
            .transpose()?
            .unwrap_or(false);
        let expire_enabled = get("storage", "expire.enabled")
            .map(parse_bool)
            .transpose()?
            .unwrap_or(false);
        let mode = match get("storage", "expire.mode").unwrap_or("age") {
            "age" => match get("storage", "expire.override_lease_duration") {
                Some(d) if !d.is_empty() => ExpirationMode::AgeOverride(parse_duration(d)?),
                _ => ExpirationMode::Age,
            },
            "cutoff-date" => ExpirationMode::CutoffDate(parse_date(
                get("storage", "expire.cutoff_date").context("expire.cutoff_date missing")?,
            )?),
            m => bail!("unknown expire.mode {m:?}"),
        };
        let tubid = read_private(dir, "tubid")?;
        let nodeid = ServerId20::from_base32(tubid.trim())
            .context("private/tubid is not 20 bytes of base32")?;
        let mut opts = StorageServerOptions::new(nodeid);
        opts.reserved_space = reserved_space;
        opts.readonly = readonly;
        opts.expire = ExpirationOptions {
            enabled: expire_enabled,
            mode,
            immutable: get("storage", "expire.immutable")
                .map(parse_bool)
                .transpose()?
                .unwrap_or(true),
            mutable: get("storage", "expire.mutable")
                .map(parse_bool)
                .transpose()?
                .unwrap_or(true),
        };
        let identity = Identity {
            cert_pem: read_private(dir, "tls-cert.pem")?,
            key_pem: read_private(dir, "tls-key.pem")?,
        };
        let swissnum = Swissnum::new(read_private(dir, "swissnum")?.trim().to_string());
        let pubkey =
            std::fs::read_to_string(dir.join("node.pubkey")).context("reading node.pubkey")?;
        let server_id = pubkey
            .trim()
            .strip_prefix("pub-")
            .context("node.pubkey must start with pub-v0-")?
            .to_string();
        Ok(Node {
            nickname,
            listen,
            location_host,
            location_port,
            storage_enabled,
            storage_dir,
            backend,
            opts,
            identity,
            swissnum,
            nodeid,
            server_id,
        })
    }

    /// The NURL clients use. Contains the swissnum: print, never log.
    pub fn nurl(&self) -> Result<Nurl> {
        Ok(Nurl {
            spki_hash: self.identity.spki_hash()?,
            host: self.location_host.clone(),
            port: self.location_port,
            swissnum: self.swissnum.as_str().to_string(),
        })
    }

    /// Open the storage engine this node is configured for.
    pub async fn open_engine(&self) -> Result<StorageServer> {
        Ok(match self.backend.as_str() {
            "disk" => StorageServer::open_disk(&self.storage_dir, self.opts.clone())
                .await
                .with_context(|| format!("opening {}", self.storage_dir.display()))?,
            "memory" => StorageServer::in_memory(self.opts.clone()),
            "null" => StorageServer::null(self.opts.clone()),
            b => bail!("unknown [storage] backend {b:?} (disk, memory, null)"),
        })
    }
}

fn parse_duration(s: &str) -> Result<u64> {
    // Tahoe: "60 days", "2 months", "3600", "5s"... the common forms.
    let t = s.trim().to_ascii_lowercase();
    let idx = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..idx]
        .parse()
        .with_context(|| format!("bad duration {s:?}"))?;
    let unit = t[idx..].trim();
    let mult = match unit.trim_end_matches('s') {
        "" => 1,
        "second" => 1,
        "minute" | "min" => 60,
        "hour" | "h" => 3600,
        "day" | "d" => 86400,
        "month" => 31 * 86400,
        "year" => 365 * 86400,
        _ => bail!("bad duration {s:?}"),
    };
    Ok(n * mult)
}

fn parse_date(s: &str) -> Result<u64> {
    // YYYY-MM-DD (UTC midnight) → unix seconds.
    let mut it = s.trim().split('-');
    let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
        bail!("bad date {s:?}")
    };
    let (y, m, d): (i64, i64, i64) = (y.parse()?, m.parse()?, d.parse()?);
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    u64::try_from(days * 86400).context("date before 1970")
}

/// `lafs run NODEDIR`.
pub fn run(dir: &Path) -> Result<()> {
    if dir.join(crate::introducer::INTRODUCER_TAC).exists() {
        return crate::introducer::run(dir);
    }
    // A client node serves the web API; a storage node with a client side
    // serves it too, beside the storage server.
    if !crate::web::storage_enabled(dir)? {
        return crate::web::run_client(dir);
    }
    crate::web::spawn_client_beside_storage(dir)?;
    let node = Node::load(dir)?;
    if !node.storage_enabled {
        bail!("[storage] enabled is false: this lafs node only runs a storage server");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    rt.block_on(async move {
        let listener = node.bind().await?;
        serve(node, dir, listener, shutdown_signal()).await
    })
}

impl Node {
    /// Bind the node's `tub.port`.
    pub async fn bind(&self) -> Result<tokio::net::TcpListener> {
        tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| format!("binding {}", self.listen))
    }
}

/// Serve a storage node on its bound listener until `shutdown` completes
/// (`lafs run`, and each of `lafs demo`'s servers).
pub async fn serve(
    node: Node,
    dir: &Path,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let engine = node.open_engine().await?;
    let tls = node.identity.server_config()?;
    tracing::info!(
        nickname = %node.nickname,
        listen = %listener.local_addr()?,
        backend = %node.backend,
        nodeid = %node.nodeid,
        "storage server running"
    );
    // Lease expiry (`[storage] expire.*`) runs as a background worker.
    // Tahoe's lease crawler takes about an hour per cycle; one pass an
    // hour over the lease DB matches it without walking the disk.
    let _expiry = engine
        .options()
        .expire
        .enabled
        .then(|| engine.spawn_expiry_worker(std::time::Duration::from_secs(3600)));
    // Announce ourselves to the configured introducers, if any.
    let _publisher = crate::introducer::announce_storage(dir, &node)?;
    let storage = lafs_http::server::HttpStorage::new(engine.clone(), node.swissnum.clone());
    lafs_http::server::serve(listener, tls, storage, shutdown).await;
    // Mark the lease DB clean, so the next start needs no re-crawl.
    engine.close().await;
    tracing::info!("storage server stopped");
    Ok(())
}

pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("12345").unwrap(), 12345);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("1X").is_err());
    }

    #[test]
    fn ports_and_dates() {
        assert_eq!(
            parse_tub_port("tcp:1234:interface=127.0.0.1").unwrap(),
            "127.0.0.1:1234".parse().unwrap()
        );
        assert_eq!(
            parse_location("tcp:example.org:99,tcp:x:1").unwrap(),
            ("example.org".into(), 99)
        );
        assert_eq!(parse_date("1970-01-02").unwrap(), 86400);
        assert_eq!(parse_date("2000-03-01").unwrap(), 951868800);
        assert_eq!(parse_duration("60 days").unwrap(), 60 * 86400);
    }
}
