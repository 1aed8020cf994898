//! `lafs create-client NODEDIR` and loading a client's configuration
//! (tahoe.cfg `[client]`, `private/convergence`, `private/secret`,
//! `private/servers.yaml`) the way Tahoe 1.20 lays them out.

use anyhow::{bail, Context, Result};
use ini::Ini;
use lafs_client::broker::servers_from_yaml;
use lafs_client::{Client, HttpClient};
use lafs_format::base32;
use std::path::PathBuf;

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

/// Where the client configuration comes from (shared by every client
/// verb). `-d` may also come before the verb (`lafs -d NODE ls`), as with
/// `tahoe`; without either, `~/.tahoe` is used unless `--servers` is given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientSource {
    /// The client node directory (tahoe.cfg, private/…; default ~/.tahoe).
    #[arg(short = 'd', long = "node-directory")]
    pub node_directory: Option<PathBuf>,
    /// A servers.yaml to use instead of NODEDIR/private/servers.yaml.
    #[arg(long)]
    pub servers: Option<PathBuf>,
}

impl ClientSource {
    /// Take `-d` given before the verb unless one came after it.
    pub fn inherit(mut self, top: &Option<PathBuf>) -> Self {
        if self.node_directory.is_none() {
            self.node_directory.clone_from(top);
        }
        self
    }

    /// The node directory: `-d`, else `~/.tahoe` (Tahoe's default).
    pub fn nodedir(&self) -> Result<PathBuf> {
        match &self.node_directory {
            Some(d) => Ok(d.clone()),
            None => default_nodedir(),
        }
    }
}

/// `~/.tahoe`, Tahoe's default node directory.
pub fn default_nodedir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").context("no -d NODEDIR given and $HOME is not set")?;
    Ok(PathBuf::from(home).join(".tahoe"))
}

fn random32() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(b)
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
    crate::create_node::write_secret(
        &private.join("convergence"),
        &format!("{}\n", base32::encode(&random32()?)),
    )?;
    crate::create_node::write_secret(
        &private.join("secret"),
        &format!("{}\n", base32::encode(&random32()?)),
    )?;
    // A node id for the welcome page and `/?t=json`, as Tahoe's clients have.
    crate::create_node::write_node_key(dir, &private)?;
    let servers = match &a.servers {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => "storage: {}\n".to_string(),
    };
    crate::create_node::write_secret(&private.join("servers.yaml"), &servers)?;
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

/// Load the client facade from `-d NODEDIR` and/or `--servers FILE`
/// (the node directory's own servers.yaml unless `--servers` is given).
/// A node with introducers also gets the servers they announce (their
/// caches plus one answer from each); static entries win.
pub fn load(src: &ClientSource) -> Result<Client<HttpClient>> {
    let dir = match (&src.node_directory, &src.servers) {
        (Some(d), _) => d.clone(),
        (None, Some(s)) => return Ok(Client::from_servers_file(s)?),
        (None, None) => default_nodedir()?,
    };
    let introduced = match dir.join("tahoe.cfg").exists() {
        true => crate::introducer::fetch_servers(&dir)?,
        false => None,
    };
    // One-shot commands keep no key pool: keys generated ahead would be
    // CPU spent for nothing (and waited for at exit).
    let Some(anns) = introduced else {
        return Ok(
            Client::from_nodedir_with_servers(&dir, src.servers.as_deref())
                .context("give -d NODEDIR or --servers FILE")?
                .with_key_pool(0),
        );
    };
    let nd = lafs_client::nodedir::load(&dir)?;
    let path = src.servers.clone().unwrap_or(nd.servers_yaml);
    let yaml = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "storage: {}\n".to_string(),
        r => r.with_context(|| format!("reading {}", path.display()))?,
    };
    let grid =
        lafs_introducer::GridTracker::new(nd.lease_secret, servers_from_yaml(&yaml)?).update(&anns);
    if grid.servers().is_empty() {
        bail!(
            "no storage servers: {} lists none and no introducer announced any",
            path.display()
        );
    }
    Ok(Client::new(grid, nd.config).with_key_pool(0))
}
