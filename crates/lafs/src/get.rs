//! `lafs get PATH [OUT]`: download a file (or a byte range of it) named
//! by a cap or `ALIAS:path`, immutable or mutable.

use crate::create_client::ClientSource;
use crate::grid_cli::Session;
use anyhow::{bail, Context, Result};
use futures::StreamExt;
use lafs_format::cap::{Cap, FileCap};
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
    /// The file: a cap, `ALIAS:path`, or `URI:DIR2…/path`.
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
    // A LIT cap holds its bytes: no node or servers needed.
    if let Ok(Cap::File(FileCap::Lit(l))) = Cap::parse(a.cap.trim()) {
        let size = l.data.len() as u64;
        let r = match a.range.as_deref() {
            Some(r) => parse_range(r, size)?,
            None => 0..size,
        };
        if r.start > r.end || r.end > size {
            bail!(
                "range {}..{} is outside the file of {size} bytes",
                r.start,
                r.end
            );
        }
        let mut out = open_out(&a.out)?;
        out.write_all(&l.data[r.start as usize..r.end as usize])?;
        return Ok(out.flush()?);
    }
    let s = Session::open(&a.src)?;
    let place = s.place(&a.cap)?;
    let cap = s.block_on(s.client.resolve(&place.root, &place.path))?.cap;
    if cap.is_dir() {
        bail!(
            "{} is a directory; lafs get reads files (try lafs cp -r)",
            a.cap
        );
    }
    let size = s.block_on(s.client.file_size(cap.file()))?;
    let range = a
        .range
        .as_deref()
        .map(|r| parse_range(r, size))
        .transpose()?;
    let mut out = open_out(&a.out)?;
    download_to(&s, &cap, range, size, &mut out)
}

/// Stream `range` of `cap` (of `size` bytes) into `out`, with a progress
/// bar on a terminal.
pub fn download_to(
    s: &Session,
    cap: &Cap,
    range: Option<std::ops::Range<u64>>,
    size: u64,
    out: &mut dyn Write,
) -> Result<()> {
    let want = range
        .as_ref()
        .map_or(size, |r| r.end.min(size).saturating_sub(r.start));
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| crate::progress::bytes_bar(want, "downloading"));
    let res = s.block_on(async {
        let mut st = s.client.download(cap, range).await?;
        while let Some(chunk) = st.next().await {
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

fn open_out(out: &Option<PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match out {
        Some(p) if p.as_os_str() != "-" => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        _ => Box::new(std::io::stdout().lock()),
    })
}
