//! `lafs get CAP [OUT]`: download an immutable file (or a byte range).

use crate::create_client::{load, ClientSource};
use anyhow::{bail, Context, Result};
use futures::StreamExt;
use lafs_client::{download, DownloadOptions};
use lafs_format::cap::Cap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `lafs get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Byte range `START-END` (END exclusive; either may be omitted).
    #[arg(long)]
    pub range: Option<String>,
    /// The cap (`URI:CHK:…` or `URI:LIT:…`).
    pub cap: String,
    /// Output file (stdout if omitted or `-`).
    pub out: Option<PathBuf>,
}

fn parse_range(s: &str, size: u64) -> Result<std::ops::Range<u64>> {
    let (a, b) = s.split_once('-').context("--range must be START-END")?;
    let start = if a.is_empty() {
        0
    } else {
        a.parse().context("range start")?
    };
    let end = if b.is_empty() {
        size
    } else {
        b.parse().context("range end")?
    };
    Ok(start..end)
}

/// `lafs get`.
pub fn run(a: GetArgs) -> Result<()> {
    let cap = match Cap::parse(a.cap.trim()).context("parsing the cap")? {
        Cap::File(f) => f,
        Cap::Dir(_) => bail!("that is a directory cap; lafs get reads files"),
    };
    let size = match &cap {
        lafs_format::cap::FileCap::Lit(l) => l.data.len() as u64,
        lafs_format::cap::FileCap::ChkRead(c) => c.size,
        _ => bail!("only immutable read caps (URI:CHK:, URI:LIT:) can be downloaded"),
    };
    let range = a
        .range
        .as_deref()
        .map(|r| parse_range(r, size))
        .transpose()?;
    // LIT caps need no servers.
    let client = match &cap {
        lafs_format::cap::FileCap::Lit(_) => None,
        _ => Some(load(&a.src)?),
    };
    let mut out: Box<dyn Write> = match &a.out {
        Some(p) if p.as_os_str() != "-" => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        _ => Box::new(std::io::stdout().lock()),
    };
    let want = range
        .as_ref()
        .map_or(size, |r| r.end.min(size).saturating_sub(r.start));
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| crate::progress::bytes_bar(want, "downloading"));
    let rt = tokio::runtime::Runtime::new()?;
    let res = rt.block_on(async {
        let grid = match client {
            Some(c) => c.grid,
            None => lafs_client::Grid::new(Vec::new(), lafs_client::LeaseSecret::new(Vec::new())),
        };
        let mut s = Box::pin(download(&grid, &cap, range, DownloadOptions::default()).await?);
        while let Some(chunk) = s.next().await {
            let chunk = chunk?;
            out.write_all(&chunk)?;
            if let Some(b) = &bar {
                b.inc(chunk.len() as u64);
            }
        }
        out.flush()?;
        Ok::<(), anyhow::Error>(())
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    res
}
