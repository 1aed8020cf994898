//! `lafs create-node`: make a client+storage node directory (layout in
//! `node.rs`; the client half is `private/convergence`, `private/secret`
//! and, with `--introducer`, `private/introducers.yaml`).
//!
//! Everything that identifies the node is made once here and never
//! changes: the TLS certificate (its SPKI hash is the NURL pin), the
//! swissnum, the 20-byte node id (SHA-1 of the certificate DER, as Foolscap
//! derives a tub id — spec §9.3; clients seed lease secrets and mutable
//! write enablers with it, so it must be permanent) and the ed25519 key
//! whose public half is the `v0-` server id.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use ini::Ini;
use lafs_format::base32;
use lafs_http::tls::Identity;
use sha1::{Digest, Sha1};

/// Options of `lafs create-node`.
#[derive(Debug, clap::Args)]
pub struct CreateNodeArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Where shares live (default NODEDIR/storage). An existing Tahoe storage
    /// directory is adopted as it is.
    #[arg(long)]
    pub storage_dir: Option<PathBuf>,
    /// Nickname shown to clients.
    #[arg(long, default_value = "lafs-storage")]
    pub nickname: String,
    /// Space to keep free, e.g. 1G (Tahoe's reserved_space).
    #[arg(long, default_value = "1G")]
    pub reserved_space: String,
    /// Storage backend: disk (default) or memory (data lost on exit).
    #[arg(long, default_value = "disk")]
    pub backend: String,
    /// Use this 20-byte node id (32 base32 chars) instead of deriving one
    /// from the new certificate: needed to adopt another server's storage
    /// directory, whose mutable shares and leases are bound to its tub id.
    #[arg(long)]
    pub tub_id: Option<String>,
    /// The introducer to announce to and learn servers from (its
    /// `pb://…#v=1` URL, see `lafs create-introducer`); written to
    /// `private/introducers.yaml` as petname `default`, as Tahoe does.
    #[arg(long)]
    pub introducer: Option<String>,
    /// The node directory to create.
    pub nodedir: PathBuf,
}

/// The node's Ed25519 signing key (`private/node.privkey`) and its public
/// half (`node.pubkey`, the node id the introducer and web UI show).
pub(crate) fn write_node_key(dir: &Path, private: &Path) -> Result<()> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("ed25519 keygen failed"))?;
    let kp =
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("ed25519 key"))?;
    let pubkey = base32::encode(kp.public_key().as_ref());
    write_secret(
        &private.join("node.privkey"),
        &format!(
            "priv-v0-pkcs8-{}\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        ),
    )?;
    std::fs::write(dir.join("node.pubkey"), format!("pub-v0-{pubkey}\n"))?;
    Ok(())
}

pub(crate) fn write_secret(path: &Path, contents: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

fn free_port(addr: &str) -> Result<u16> {
    let l = std::net::TcpListener::bind((addr, 0))
        .or_else(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
        .context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// Where a new node listens and how others reach it (create-node and
/// create-introducer).
#[derive(Debug, clap::Args)]
pub struct NetArgs {
    /// Host name or address other nodes use to reach this node.
    #[arg(long, default_value = "127.0.0.1")]
    pub hostname: String,
    /// TCP port; without it a free port is picked now and written to the config.
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on (default: 127.0.0.1 for a loopback hostname, else all).
    #[arg(long)]
    pub listen_address: Option<String>,
}

impl NetArgs {
    /// `(listen address, port)`, picking a free port if none was given.
    pub fn listen_and_port(&self) -> Result<(String, u16)> {
        let loopback = matches!(self.hostname.as_str(), "127.0.0.1" | "localhost" | "::1");
        let listen = match &self.listen_address {
            Some(a) => a.clone(),
            None if loopback => "127.0.0.1".into(),
            None => "0.0.0.0".into(),
        };
        let port = match self.port {
            Some(p) => p,
            None => free_port(&listen)?,
        };
        Ok((listen, port))
    }

    /// The `[node]` section Tahoe's create-node writes.
    pub fn node_section(&self, nickname: &str, listen: &str, port: u16) -> Ini {
        let mut cfg = Ini::new();
        cfg.with_section(Some("node"))
            .set("nickname", nickname)
            .set("tub.port", format!("tcp:{port}:interface={listen}"))
            .set("tub.location", format!("tcp:{}:{port}", self.hostname))
            .set("web.port", "");
        cfg
    }
}

/// Create `NODEDIR/private` (mode 0700).
pub(crate) fn make_private_dir(dir: &Path) -> Result<PathBuf> {
    let private = dir.join("private");
    std::fs::create_dir_all(&private).with_context(|| format!("creating {}", private.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(private)
}

/// `lafs create-node`.
pub fn run(a: CreateNodeArgs) -> Result<()> {
    let dir = a.nodedir.clone();
    create(a)?;
    println!("Node created in {}", dir.display());
    Ok(())
}

/// Create the node directory without printing (`lafs demo` makes eleven).
pub fn create(a: CreateNodeArgs) -> Result<()> {
    let dir = &a.nodedir;
    if dir.join("tahoe.cfg").exists() {
        bail!("{} already has a tahoe.cfg", dir.display());
    }
    if !matches!(a.backend.as_str(), "disk" | "memory" | "null") {
        bail!("unknown backend {:?}", a.backend);
    }
    crate::node::parse_size(&a.reserved_space)?;
    if let Some(u) = &a.introducer {
        lafs_http::Nurl::parse(u.trim()).context(
            "--introducer must be a lafs introducer URL pb://PIN@HOST:PORT/SWISSNUM#v=1",
        )?;
    }
    let private = make_private_dir(dir)?;
    let (listen, port) = a.net.listen_and_port()?;
    let hostname = &a.net.hostname;

    let identity = Identity::generate(hostname)?;
    let cert_der = identity.cert_der()?;
    let tubid: [u8; 20] = match &a.tub_id {
        Some(t) => base32::decode_array(t.trim()).context("--tub-id must be 32 base32 chars")?,
        None => Sha1::digest(cert_der.as_ref()).into(),
    };
    let rng = SystemRandom::new();
    let mut swiss = [0u8; 20];
    rng.fill(&mut swiss)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    write_secret(&private.join("tls-cert.pem"), &identity.cert_pem)?;
    write_secret(&private.join("tls-key.pem"), &identity.key_pem)?;
    write_secret(
        &private.join("swissnum"),
        &format!("{}\n", base32::encode(&swiss)),
    )?;
    write_secret(
        &private.join("tubid"),
        &format!("{}\n", base32::encode(&tubid)),
    )?;
    write_node_key(dir, &private)?;
    // The client half (Tahoe's create-node makes client+storage nodes):
    // convergence and lease secrets, the node-type marker, introducers.
    let mut r = [0u8; 32];
    for name in ["convergence", "secret"] {
        rng.fill(&mut r)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        write_secret(&private.join(name), &format!("{}\n", base32::encode(&r)))?;
    }
    std::fs::write(
        dir.join("tahoe-client.tac"),
        "# lafs client/storage node: `lafs run` reads tahoe.cfg; this file marks the node type\n",
    )?;
    if let Some(u) = &a.introducer {
        write_secret(
            &private.join("introducers.yaml"),
            &format!("introducers:\n  default:\n    furl: \"{}\"\n", u.trim()),
        )?;
    }

    let mut cfg = a.net.node_section(&a.nickname, &listen, port);
    let mut st = cfg.with_section(Some("storage"));
    st.set("enabled", "true")
        .set("reserved_space", a.reserved_space.as_str())
        .set("readonly", "false")
        .set("backend", a.backend.as_str())
        .set("expire.enabled", "false")
        .set("expire.mode", "age");
    if let Some(d) = &a.storage_dir {
        let abs = std::path::absolute(d).unwrap_or_else(|_| d.clone());
        st.set("storage_dir", abs.display().to_string());
    }
    cfg.with_section(Some("client"))
        .set("shares.needed", "3")
        .set("shares.happy", "7")
        .set("shares.total", "10");
    cfg.write_to_file(dir.join("tahoe.cfg"))
        .context("writing tahoe.cfg")?;
    Ok(())
}
