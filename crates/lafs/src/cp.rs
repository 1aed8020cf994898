//! `lafs cp [-r] SRC… DST`: copy between local files and the grid, both
//! ways (and grid to grid by linking), like `tahoe cp`.
//!
//! Arguments with an alias (`ALIAS:path`) or a cap are grid places;
//! anything else is local (`cp` has no default alias, as in Tahoe). If DST
//! is a directory (it exists as one, or ends in `/`), each SRC lands in it
//! under its own name; otherwise the single SRC becomes DST.
//!
//! Local → grid trees are built bottom-up: files are uploaded (streaming,
//! one progress bar each on a terminal), and each directory is created
//! with all its children in one publish; only the top is linked into an
//! existing directory. Grid → local streams every file to disk. Symlinks
//! are followed; special files are skipped with a warning.

use crate::create_client::ClientSource;
use crate::get::download_to;
use crate::grid_cli::{Place, Session};
use crate::put::upload_chk;
use anyhow::{bail, Context, Result};
use lafs_client::{FacadeError, LinkCaps, Replace};
use lafs_format::cap::{Cap, ChildCap};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Arguments of `lafs cp`.
#[derive(Debug, clap::Args)]
pub struct CpArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Copy directories recursively.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Sources, then the destination.
    #[arg(required = true, num_args = 2..)]
    pub paths: Vec<String>,
}

/// One end of a copy.
enum End {
    Local(PathBuf),
    Grid(Place),
}

/// The name a source is copied under (a bare cap has none).
fn base_name(end: &End) -> Option<String> {
    match end {
        End::Local(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
        End::Grid(pl) => pl.name().map(str::to_string),
    }
}

fn join(end: &End, name: &str) -> End {
    match end {
        End::Local(p) => End::Local(p.join(name)),
        End::Grid(pl) => End::Grid(Place {
            root: pl.root.clone(),
            path: format!("{}/{name}", pl.path.trim_end_matches('/')),
        }),
    }
}

/// `lafs cp`.
pub fn run(a: CpArgs) -> Result<()> {
    let s = Session::open(&a.src)?;
    let (dst_arg, srcs) = a.paths.split_last().context("need SRC and DST")?;
    let parse = |arg: &str| -> Result<End> {
        Ok(match s.place_or_local(arg)? {
            Some(p) => End::Grid(p),
            None => End::Local(PathBuf::from(arg)),
        })
    };
    let dst = parse(dst_arg)?;
    let dst_is_dir = dst_arg.ends_with('/')
        || match &dst {
            End::Local(p) => p.is_dir(),
            End::Grid(pl) => match s.block_on(s.client.resolve(&pl.root, &pl.path)) {
                Ok(n) => n.cap.is_dir(),
                Err(FacadeError::NoSuchChild { .. }) => false,
                Err(e) => return Err(e.into()),
            },
        };
    if srcs.len() > 1 && !dst_is_dir {
        bail!("copying several sources needs a directory as the destination");
    }
    for arg in srcs {
        let src = parse(arg)?;
        let target = if dst_is_dir {
            let name =
                base_name(&src).with_context(|| format!("{arg} has no name to copy under"))?;
            join(&dst, &name)
        } else {
            match &dst {
                End::Local(p) => End::Local(p.clone()),
                End::Grid(p) => End::Grid(p.clone()),
            }
        };
        copy(&s, &src, &target, a.recursive, arg)?;
    }
    Ok(())
}

fn copy(s: &Session, src: &End, dst: &End, recursive: bool, arg: &str) -> Result<()> {
    match (src, dst) {
        (End::Local(from), End::Grid(to)) => {
            let meta = std::fs::metadata(from).with_context(|| format!("{}", from.display()))?;
            if meta.is_dir() {
                if !recursive {
                    bail!("{arg} is a directory; use -r");
                }
                let children = upload_tree(s, from)?;
                link_tree(s, to, children)
            } else {
                let cap = upload_chk(s, from, false)?;
                s.block_on(
                    s.client
                        .put_cap(&to.root, &to.path, &cap, Replace::OnlyFiles),
                )?;
                Ok(())
            }
        }
        (End::Grid(from), End::Local(to)) => {
            let cap = s.block_on(s.client.resolve(&from.root, &from.path))?.cap;
            if cap.is_dir() && !recursive {
                bail!("{arg} is a directory; use -r");
            }
            download_tree(s, &cap, to, &mut HashSet::new())
        }
        (End::Grid(from), End::Grid(to)) => {
            let cap = s.block_on(s.client.resolve(&from.root, &from.path))?.cap;
            if cap.is_dir() && !recursive {
                bail!("{arg} is a directory; use -r");
            }
            s.block_on(
                s.client
                    .put_cap(&to.root, &to.path, &cap, Replace::OnlyFiles),
            )?;
            Ok(())
        }
        (End::Local(_), End::Local(_)) => {
            bail!("{arg}: both ends are local; use an ALIAS: or a cap on one side")
        }
    }
}

/// Upload a local directory's contents; returns its children.
fn upload_tree(s: &Session, dir: &Path) -> Result<Vec<(String, LinkCaps)>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    let mut children = Vec::new();
    for e in entries {
        let path = e.path();
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            eprintln!("lafs: skipping {} (name is not UTF-8)", path.display());
            continue;
        };
        let meta = std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?;
        let cap = if meta.is_dir() {
            let kids = upload_tree(s, &path)?;
            s.block_on(s.client.mkdir(None, &kids, None))?
        } else if meta.is_file() {
            upload_chk(s, &path, false)?
        } else {
            eprintln!(
                "lafs: skipping {} (not a file or directory)",
                path.display()
            );
            continue;
        };
        children.push((name, LinkCaps::of(&cap)));
    }
    Ok(children)
}

/// Put an uploaded tree at `to`: into an existing directory there (one
/// publish), else as a new directory made with all children at once.
fn link_tree(s: &Session, to: &Place, children: Vec<(String, LinkCaps)>) -> Result<()> {
    s.block_on(async {
        match s.client.resolve(&to.root, &to.path).await {
            Ok(n) if n.cap.is_dir() => {
                s.client
                    .link_many(&to.root, &to.path, &children, Replace::OnlyFiles)
                    .await?;
            }
            Ok(_) => bail!("{} exists and is not a directory", to.path),
            Err(FacadeError::NoSuchChild { .. }) => {
                let cap = s.client.mkdir(None, &children, None).await?;
                s.client
                    .put_cap(&to.root, &to.path, &cap, Replace::OnlyFiles)
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    })
}

/// Write `cap` (file or directory tree) at local `to`; `seen` holds the
/// directories on the way down, so a cycle on the grid is cut, not
/// followed forever.
fn download_tree(s: &Session, cap: &Cap, to: &Path, seen: &mut HashSet<String>) -> Result<()> {
    if !cap.is_dir() {
        let size = s.block_on(s.client.file_size(cap.file()))?;
        let f = std::fs::File::create(to).with_context(|| format!("creating {}", to.display()))?;
        let mut w = std::io::BufWriter::new(f);
        return download_to(s, cap, None, size, &mut w);
    }
    let id = cap
        .verifier()
        .map_or_else(|| cap.to_string(), |v| v.to_string());
    if !seen.insert(id.clone()) {
        eprintln!("lafs: skipping {} (directory cycle)", to.display());
        return Ok(());
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let listing = s.block_on(s.client.list(cap))?;
    for e in listing.entries {
        // A name that would escape the target is never written.
        if e.name.contains('/') || e.name.contains('\0') || e.name == "." || e.name == ".." {
            eprintln!("lafs: skipping child with unsafe name {:?}", e.name);
            continue;
        }
        match &e.cap {
            ChildCap::Known(c) => download_tree(s, c, &to.join(&e.name), seen)?,
            ChildCap::Unknown(_) => {
                eprintln!("lafs: skipping {:?} (cap of unknown kind)", e.name);
            }
        }
    }
    seen.remove(&id);
    Ok(())
}
