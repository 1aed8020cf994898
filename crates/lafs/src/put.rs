//! `lafs put [--mutable] [--format chk|sdmf|mdmf] FILE|- [TO]`: Tahoe's
//! `tahoe put`. Without TO it uploads and prints the new cap. With TO
//! (`ALIAS:path`, `URI:DIR2…/path`, or a mutable file's write cap) it
//! writes there, creating intermediate directories; a mutable file
//! already at TO is overwritten in place and keeps its cap. The cap is
//! printed either way.
//!
//! Immutable uploads stream from the file (stdin is spooled to a temporary
//! file: the convergent key needs every byte first); mutable files are
//! encoded whole in memory, as Tahoe does.

use crate::create_client::ClientSource;
use crate::grid_cli::{Place, Session};
use anyhow::{bail, Context, Result};
use lafs_client::{FacadeError, FileFormat, KeyMode, Progress, Replace};
use lafs_format::cap::{Cap, FileCap, MutableFormat};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `lafs put`.
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Use a random key instead of the convergent one (immutable files).
    #[arg(long)]
    pub random_key: bool,
    /// Make a mutable file (format from tahoe.cfg, SDMF by default).
    #[arg(short = 'm', long)]
    pub mutable: bool,
    /// chk (immutable), sdmf or mdmf.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<FileFormat>,
    /// The file to upload, or `-` for stdin.
    pub file: PathBuf,
    /// Where to put it (omitted: print the cap of an unlinked file).
    pub to: Option<String>,
}

fn parse_format(s: &str) -> Result<FileFormat, String> {
    FileFormat::parse(s).ok_or_else(|| format!("unknown format {s:?} (chk, sdmf or mdmf)"))
}

fn read_all(file: &PathBuf) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut v)?;
    } else {
        v = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    }
    Ok(v)
}

/// Upload `file` as an immutable file, with a progress bar on a terminal.
pub fn upload_chk(s: &Session, file: &PathBuf, random_key: bool) -> Result<Cap> {
    // A progress bar only on a terminal; pipes and logs get the cap alone.
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| crate::progress::bytes_bar(0, "hashing"));
    let progress: Option<lafs_client::ProgressFn> = bar.clone().map(|bar| {
        Arc::new(move |p: Progress| {
            let (what, done, total) = match p {
                Progress::Hashing { done, total } => ("hashing", done, total),
                Progress::Uploading { done, total } => ("uploading", done, total),
            };
            if bar.message() != what {
                bar.set_message(what);
                bar.reset();
            }
            bar.set_length(total);
            bar.set_position(done);
        }) as lafs_client::ProgressFn
    });
    let mut opts = s.client.upload_options(progress);
    if random_key {
        opts.key = KeyMode::Random;
    }
    let g = s.client.grid();
    let res = s.block_on(async {
        if file.as_os_str() == "-" {
            lafs_client::upload_unseekable(&g, std::io::stdin(), &opts).await
        } else {
            let f = std::fs::File::open(file)
                .map_err(|e| anyhow::anyhow!("opening {}: {e}", file.display()))?;
            lafs_client::upload(&g, f, &opts).await
        }
        .map_err(anyhow::Error::from)
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(Cap::File(res?.cap))
}

/// Upload `file` as `format` (unlinked).
fn upload(s: &Session, file: &PathBuf, format: FileFormat, random_key: bool) -> Result<Cap> {
    match format {
        FileFormat::Chk => upload_chk(s, file, random_key),
        m => Ok(s.block_on(s.client.upload_bytes(read_all(file)?, m))?),
    }
}

/// `lafs put`.
pub fn run(a: PutArgs) -> Result<()> {
    let s = Session::open(&a.src)?;
    let format = match (a.format, a.mutable) {
        (Some(FileFormat::Chk), true) => bail!("--mutable and --format chk contradict"),
        (Some(f), _) => f,
        (None, true) => match s.client.config().mutable_format {
            MutableFormat::Sdmf => FileFormat::Sdmf,
            MutableFormat::Mdmf => FileFormat::Mdmf,
        },
        (None, false) => FileFormat::Chk,
    };
    let Some(to) = &a.to else {
        println!("{}", upload(&s, &a.file, format, a.random_key)?);
        return Ok(());
    };
    let mut place: Place = s.place(to)?;
    if place.path.trim_matches('/').is_empty() {
        match &place.root {
            // Onto a mutable file's write cap: overwrite it.
            c @ Cap::File(FileCap::SskWrite(_)) => {
                s.block_on(s.client.overwrite_mutable(c, read_all(&a.file)?))?;
                println!("{c}");
                return Ok(());
            }
            Cap::Dir(_) if a.file.as_os_str() != "-" => {
                // Into the directory under the file's own name.
                let name = a.file.file_name().context("the file has no name")?;
                place.path = name.to_string_lossy().into_owned();
            }
            _ => bail!("{to}: give a directory path or a mutable file's write cap"),
        }
    }
    let existing = match s.block_on(s.client.resolve(&place.root, &place.path)) {
        Ok(n) => Some(n.cap),
        Err(FacadeError::NoSuchChild { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let cap = match existing {
        Some(c @ Cap::File(FileCap::SskWrite(_))) => {
            s.block_on(s.client.overwrite_mutable(&c, read_all(&a.file)?))?;
            c
        }
        Some(Cap::Dir(_)) => bail!("{to} is a directory"),
        _ => {
            let cap = upload(&s, &a.file, format, a.random_key)?;
            s.block_on(
                s.client
                    .put_cap(&place.root, &place.path, &cap, Replace::OnlyFiles),
            )?;
            cap
        }
    };
    println!("{cap}");
    Ok(())
}
