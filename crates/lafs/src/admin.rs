//! `lafs admin`: administrative output about a node.

use std::path::PathBuf;

use anyhow::Result;

use crate::node::Node;

/// Administrative commands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Print the `private/servers.yaml` entry a Tahoe 1.20 client needs to
    /// use this storage server over HTTPS (spec §9.2). Contains the swissnum.
    Announcement {
        /// The node directory.
        nodedir: PathBuf,
    },
    /// List the storage servers a client node knows: its static
    /// `private/servers.yaml` plus what its introducers announce (one line
    /// per server: id and nickname; no secrets).
    Servers {
        /// The client node directory.
        nodedir: PathBuf,
    },
}

/// Run an admin command.
pub fn run(cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Announcement { nodedir } => {
            let node = Node::load(&nodedir)?;
            print!("{}", announcement_yaml(&node)?);
            Ok(())
        }
        AdminCommand::Servers { nodedir } => {
            let client = crate::create_client::load(&crate::create_client::ClientSource {
                node_directory: Some(nodedir),
                servers: None,
            })?;
            for s in client.grid.servers() {
                println!("{}", s.id);
            }
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
