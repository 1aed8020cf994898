//! `lafs ln FROM TO`, `lafs mv FROM TO`, `lafs rm PATH` (alias `unlink`):
//! Tahoe's `tahoe_mv.py` and `tahoe_unlink.py`.
//!
//! As in Tahoe, `ln`/`mv` link the source's strongest cap at the target
//! with `replace=only-files` (a directory is never replaced), and a target
//! ending in `/` means "into that directory, same name". `mv` then unlinks
//! the source (a rename when both are in one directory), so a failure
//! never loses the child.

use crate::create_client::ClientSource;
use crate::grid_cli::{Place, Session};
use anyhow::{bail, Result};
use lafs_client::{FacadeError, LinkCaps, Replace};

/// Arguments of `lafs ln` and `lafs mv`.
#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// The child to link or move.
    pub from: String,
    /// Where to put it (ending in `/`: into that directory).
    pub to: String,
}

/// Arguments of `lafs rm`.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// The children to unlink.
    #[arg(required = true)]
    pub paths: Vec<String>,
}

/// The target place; a bare root or a trailing `/` gets the source's name.
fn target(s: &Session, from: &Place, to: &str) -> Result<Place> {
    let mut t = s.place(to)?;
    if t.path.is_empty() || t.path.ends_with('/') {
        let Some(name) = from.name() else {
            bail!("the source has no name to link under");
        };
        t.path = format!("{}/{name}", t.path.trim_end_matches('/'));
    }
    Ok(t)
}

fn run(a: LinkArgs, mv: bool) -> Result<()> {
    let s = Session::open(&a.src)?;
    let from = s.place(&a.from)?;
    if from.name().is_none() {
        bail!("{}: give a path below a directory", a.from);
    }
    let to = target(&s, &from, &a.to)?;
    s.block_on(async {
        let r = if mv {
            s.client
                .rename(
                    &from.root,
                    &from.path,
                    &to.root,
                    &to.path,
                    Replace::OnlyFiles,
                )
                .await
        } else {
            match s.client.resolve(&from.root, &from.path).await {
                Ok(n) => s
                    .client
                    .link(
                        &to.root,
                        &to.path,
                        &LinkCaps::of(&n.cap),
                        Replace::OnlyFiles,
                    )
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            }
        };
        match r {
            Err(FacadeError::ChildExists { .. }) => {
                bail!("You can't overwrite a directory with a file")
            }
            r => Ok(r?),
        }
    })?;
    println!("OK");
    Ok(())
}

/// `lafs ln`.
pub fn ln(a: LinkArgs) -> Result<()> {
    run(a, false)
}

/// `lafs mv`.
pub fn mv(a: LinkArgs) -> Result<()> {
    run(a, true)
}

/// `lafs rm` / `lafs unlink`.
pub fn rm(a: RmArgs) -> Result<()> {
    let s = Session::open(&a.src)?;
    for p in &a.paths {
        let place = s.place(p)?;
        if place.name().is_none() {
            bail!("{p}: cannot unlink a root; give a path below it");
        }
        s.block_on(s.client.unlink(&place.root, &place.path))?;
    }
    Ok(())
}
