//! `lafs admin`: administrative output about a node.

use std::path::PathBuf;

use anyhow::{Context, Result};
use std::path::Path;

use crate::node::Node;

/// Administrative commands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Print the `private/servers.yaml` entry a Tahoe 1.20 client needs to
    /// use this storage server over HTTPS (spec §9.2). Contains the swissnum.
    /// Also works on a Tahoe 1.20 storage node's directory (spec §9.4).
    Announcement {
        /// The node directory (lafs or Tahoe).
        nodedir: PathBuf,
    },
}

/// Run an admin command.
pub fn run(cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Announcement { nodedir } => {
            if nodedir.join("private/storage.furl").exists() {
                print!("{}", tahoe_announcement_yaml(&nodedir)?);
                return Ok(());
            }
            let node = Node::load(&nodedir)?;
            print!("{}", announcement_yaml(&node)?);
            Ok(())
        }
    }
}

fn yaml_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The YAML mapping entry (`<server-id>: {ann: …}`), meant to sit under the
/// top-level `storage:` key of `servers.yaml`, indented by two spaces.
pub fn announcement_yaml(node: &Node) -> Result<String> {
    let nurl = node.nurl()?.to_url();
    // The FURL is never dialled in HTTP mode, but the client requires it
    // and derives lease and write-enabler seeds from its tub id (§9.3).
    let furl = format!(
        "pb://{}@tcp:{}:{}/unused",
        node.nodeid.to_base32(),
        node.location_host,
        node.location_port
    );
    Ok(format!(
        "  {id}:\n    ann:\n      nickname: {nick}\n      anonymous-storage-FURL: {furl}\n      anonymous-storage-NURLs:\n        - {nurl}\n",
        id = node.server_id,
        nick = yaml_quote(&node.nickname),
        furl = yaml_quote(&furl),
        nurl = yaml_quote(&nurl),
    ))
}

/// The `servers.yaml` entry for a running Tahoe 1.20 storage node (spec
/// §9.4): its NURL is built from the node's own files, since Tahoe prints
/// none. The pin is the SPKI hash of `private/node.pem`'s certificate, the
/// swissnum and tub id come from `private/storage.furl`, the port from
/// `tub.location`, and the server id from `node.pubkey`.
pub fn tahoe_announcement_yaml(nd: &Path) -> Result<String> {
    use base64::Engine;
    let read = |f: &str| {
        std::fs::read_to_string(nd.join(f))
            .with_context(|| format!("reading {}", nd.join(f).display()))
    };
    let pem = read("private/node.pem")?;
    let b64: String = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|r| r.split("-----END CERTIFICATE-----").next())
        .context("no certificate in private/node.pem")?
        .split_whitespace()
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .context("node.pem certificate is not base64")?;
    let pin = lafs_http::spki_hash(lafs_http::cert_spki(&der).context("no SPKI in node.pem")?);
    let furl = read("private/storage.furl")?;
    let furl = furl.trim();
    let tubid = furl
        .strip_prefix("pb://")
        .and_then(|r| r.split('@').next())
        .context("storage.furl is not a pb:// FURL")?;
    let swissnum = furl.rsplit('/').next().unwrap_or_default();
    let cfg = read("tahoe.cfg")?;
    let port = cfg
        .lines()
        .find_map(|l| l.strip_prefix("tub.location = tcp:127.0.0.1:"))
        .context("tahoe.cfg has no tub.location = tcp:127.0.0.1:PORT")?
        .trim();
    let key = read("node.pubkey")?;
    let id = key
        .trim()
        .strip_prefix("pub-")
        .context("node.pubkey does not start with pub-")?;
    let nick = cfg
        .lines()
        .find_map(|l| l.strip_prefix("nickname = "))
        .unwrap_or("tahoe")
        .trim();
    Ok(format!(
        "  {id}:\n    ann:\n      nickname: {nick}\n      anonymous-storage-FURL: {furl}\n      anonymous-storage-NURLs:\n        - {nurl}\n",
        nick = yaml_quote(nick),
        furl = yaml_quote(&format!("pb://{tubid}@tcp:127.0.0.1:{port}/{swissnum}")),
        nurl = yaml_quote(&format!("pb://{pin}@127.0.0.1:{port}/{swissnum}#v=1")),
    ))
}
