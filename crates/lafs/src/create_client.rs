//! `lafs create-client NODEDIR` and loading a client's configuration
//! (tahoe.cfg `[client]`, `private/convergence`, `private/secret`,
//! `private/servers.yaml`) the way Tahoe 1.20 lays them out.

use anyhow::{bail, Context, Result};
use ini::Ini;
use lafs_client::broker::servers_from_yaml;
use lafs_client::{grid_from_servers_yaml, Grid, HttpClient, LeaseSecret};
use lafs_format::base32;
use lafs_format::chk::EncodingParams;
use lafs_format::keys::ConvergenceSecret;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `lafs create-client`.
#[derive(Debug, clap::Args)]
pub struct CreateClientArgs {
    /// shares.needed (k).
    #[arg(long, default_value_t = 3)]
    pub needed: u16,
    /// shares.happy.
    #[arg(long, default_value_t = 7)]
    pub happy: u16,
    /// shares.total (N).
    #[arg(long, default_value_t = 10)]
    pub total: u16,
    /// Copy this servers.yaml into private/servers.yaml.
    #[arg(long)]
    pub servers: Option<PathBuf>,
    /// The node directory to create.
    pub nodedir: PathBuf,
}

/// Where the client configuration comes from (shared by put and get).
#[derive(Debug, clap::Args)]
pub struct ClientSource {
    /// The client node directory (tahoe.cfg, private/…).
    #[arg(short = 'd', long = "node-directory")]
    pub node_directory: Option<PathBuf>,
    /// A servers.yaml to use instead of NODEDIR/private/servers.yaml.
    #[arg(long)]
    pub servers: Option<PathBuf>,
}

fn random32() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(b)
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

/// `lafs create-client`.
pub fn run(a: CreateClientArgs) -> Result<()> {
    let dir = a.nodedir.clone();
    create(a)?;
    println!("client node created in {}", dir.display());
    Ok(())
}

/// Create the node directory without printing (`lafs demo` makes eleven).
pub fn create(a: CreateClientArgs) -> Result<()> {
    let dir = &a.nodedir;
    if dir.join("tahoe.cfg").exists() {
        bail!("{} already has a tahoe.cfg", dir.display());
    }
    if a.needed == 0 || a.needed > a.total || a.total > 256 || a.happy == 0 || a.happy > a.total {
        bail!("need 1 ≤ needed ≤ total ≤ 256 and 1 ≤ happy ≤ total");
    }
    let private = dir.join("private");
    std::fs::create_dir_all(&private).with_context(|| format!("creating {}", private.display()))?;
    // Tahoe: base32 of 32 random bytes plus a newline, for both.
    write_private(
        &private.join("convergence"),
        &format!("{}\n", base32::encode(&random32()?)),
    )?;
    write_private(
        &private.join("secret"),
        &format!("{}\n", base32::encode(&random32()?)),
    )?;
    let servers = match &a.servers {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => "storage: {}\n".to_string(),
    };
    write_private(&private.join("servers.yaml"), &servers)?;
    let mut cfg = Ini::new();
    cfg.with_section(Some("node"))
        .set("nickname", "lafs-client");
    cfg.with_section(Some("client"))
        .set("shares.needed", a.needed.to_string())
        .set("shares.happy", a.happy.to_string())
        .set("shares.total", a.total.to_string());
    cfg.with_section(Some("storage")).set("enabled", "false");
    cfg.write_to_file(dir.join("tahoe.cfg"))?;
    Ok(())
}

/// A loaded client configuration.
pub struct Client {
    pub grid: Grid<HttpClient>,
    pub params: EncodingParams,
    /// None without a node directory (uploads then use random keys).
    pub convergence: Option<ConvergenceSecret>,
}

fn read_b32(path: &Path) -> Result<Vec<u8>> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    base32::decode(s.trim()).with_context(|| format!("{} is not base32", path.display()))
}

/// Load from `-d NODEDIR` and/or `--servers FILE`.
pub fn load(src: &ClientSource) -> Result<Client> {
    let mut params = EncodingParams::default();
    let (lease, convergence, default_servers) = match &src.node_directory {
        Some(d) => {
            let cfg = Ini::load_from_file(d.join("tahoe.cfg"))
                .with_context(|| format!("reading {}", d.join("tahoe.cfg").display()))?;
            if let Some(c) = cfg.section(Some("client")) {
                let get = |k: &str, dflt: u16| -> Result<u16> {
                    match c.get(k) {
                        Some(v) => v.trim().parse().with_context(|| format!("[client] {k}")),
                        None => Ok(dflt),
                    }
                };
                params.needed = get("shares.needed", params.needed)?;
                params.happy = get("shares.happy", params.happy)?;
                params.total = get("shares.total", params.total)?;
            }
            let p = d.join("private");
            (
                read_b32(&p.join("secret"))?,
                Some(ConvergenceSecret::new(read_b32(&p.join("convergence"))?)),
                Some(p.join("servers.yaml")),
            )
        }
        // Without a node there is no lease secret to keep: leases made by
        // this run cannot be renewed by a later one.
        None => (random32()?.to_vec(), None, None),
    };
    let path = src
        .servers
        .clone()
        .or(default_servers)
        .context("give --servers FILE or -d NODEDIR")?;
    let lease = LeaseSecret::new(lease);
    // Servers learnt through introducers join the static ones (which win).
    let introduced = match &src.node_directory {
        Some(d) => crate::introducer::fetch_servers(d)?,
        None => None,
    };
    let yaml = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && introduced.is_some() => {
            "storage: {}\n".to_string()
        }
        r => r.with_context(|| format!("reading {}", path.display()))?,
    };
    let grid = match introduced {
        Some(anns) => {
            lafs_introducer::GridTracker::new(lease, servers_from_yaml(&yaml)?).update(&anns)
        }
        None => grid_from_servers_yaml(&yaml, lease)?,
    };
    if grid.servers().is_empty() {
        bail!(
            "no storage servers: {} lists none and no introducer announced any",
            path.display()
        );
    }
    Ok(Client {
        grid,
        params,
        convergence,
    })
}
