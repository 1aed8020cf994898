//! What every grid verb (ls, mkdir, ln, mv, rm, put, get, cp, manifest,
//! deep-stats, aliases) shares: the node's client and aliases, one tokio
//! runtime, and turning `ALIAS:path` / `URI:…/path` arguments into a root
//! cap and a path (Tahoe's `get_alias`, in `lafs_client::aliases`).

use crate::create_client::{load, ClientSource};
use anyhow::{bail, Context, Result};
use lafs_client::aliases::{parse_arg, Aliases, Target, DEFAULT_ALIAS};
use lafs_client::{Client, HttpClient};
use lafs_format::cap::{parse_child, Cap, ChildCap};
use std::future::Future;

/// Where a grid argument points: a root cap and a path below it.
#[derive(Debug, Clone)]
pub struct Place {
    /// The root (an alias's directory, or the bare cap given).
    pub root: Cap,
    /// `/`-separated names below it (may be empty).
    pub path: String,
}

impl Place {
    /// The last name of the path, if any.
    pub fn name(&self) -> Option<&str> {
        self.path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
    }
}

/// A loaded node: its client, its aliases and a runtime.
pub struct Session {
    /// The facade.
    pub client: Client<HttpClient>,
    /// The node's aliases (none without a node directory).
    pub aliases: Aliases,
    rt: tokio::runtime::Runtime,
}

impl Session {
    /// Load the client and aliases of `src`.
    pub fn open(src: &ClientSource) -> Result<Self> {
        let client = load(src)?;
        let aliases = load_aliases(src)?;
        let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
        Ok(Session {
            client,
            aliases,
            rt,
        })
    }

    /// Run a future to completion.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Parse a grid argument (`ALIAS:path`, `URI:…/path`, or a path in
    /// the `tahoe:` alias).
    pub fn place(&self, arg: &str) -> Result<Place> {
        match parse_arg(&self.aliases, arg, Some(DEFAULT_ALIAS))? {
            Target::Grid { root, path } => Ok(Place {
                root: parse_root(&root)?,
                path,
            }),
            Target::Local(_) => bail!("{arg}: not a grid path"),
        }
    }

    /// Parse a `cp` argument: `None` when it is a local path.
    pub fn place_or_local(&self, arg: &str) -> Result<Option<Place>> {
        match parse_arg(&self.aliases, arg, None)? {
            Target::Grid { root, path } => Ok(Some(Place {
                root: parse_root(&root)?,
                path,
            })),
            Target::Local(_) => Ok(None),
        }
    }
}

/// The aliases of the node directory, if there is one.
pub fn load_aliases(src: &ClientSource) -> Result<Aliases> {
    match (&src.node_directory, &src.servers) {
        // --servers without -d: no node, no aliases (bare caps only).
        (None, Some(_)) => Ok(Aliases::default()),
        _ => Ok(Aliases::load(&src.nodedir()?)?),
    }
}

/// A root cap as an alias file or argument gives it (`ro.`/`imm.`
/// prefixes allowed, as Tahoe's `from_string`).
pub fn parse_root(text: &str) -> Result<Cap> {
    match parse_child(text, false) {
        ChildCap::Known(c) => Ok(c),
        ChildCap::Unknown(u) => match u.error {
            Some(e) => bail!("not a usable cap: {e}"),
            None => bail!("not a cap this version knows"),
        },
    }
}
