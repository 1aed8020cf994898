//! `lafs mkdir [--format sdmf|mdmf] [PATH]`: Tahoe's `tahoe mkdir`. With
//! no path (or a bare alias) it makes an unlinked directory; with one it
//! creates the directory there, and any missing parents, reusing one that
//! exists. Prints the directory's write cap.

use crate::create_client::ClientSource;
use crate::grid_cli::Session;
use anyhow::Result;
use lafs_format::cap::MutableFormat;

/// Arguments of `lafs mkdir`.
#[derive(Debug, clap::Args)]
pub struct MkdirArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// SDMF (default from tahoe.cfg `[client] mutable.format`) or MDMF.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<MutableFormat>,
    /// Where to create it (`ALIAS:path`); omitted: an unlinked directory.
    pub path: Option<String>,
}

/// `sdmf` / `mdmf`, any case.
pub fn parse_format(s: &str) -> Result<MutableFormat, String> {
    match s.to_ascii_lowercase().as_str() {
        "sdmf" => Ok(MutableFormat::Sdmf),
        "mdmf" => Ok(MutableFormat::Mdmf),
        _ => Err(format!("unknown directory format {s:?} (sdmf or mdmf)")),
    }
}

/// `lafs mkdir`.
pub fn run(a: MkdirArgs) -> Result<()> {
    let s = Session::open(&a.src)?;
    let place = a.path.as_deref().map(|p| s.place(p)).transpose()?;
    let cap = s.block_on(async {
        match &place {
            Some(p) if !p.path.trim_matches('/').is_empty() => {
                s.client
                    .mkdir_p_with_format(&p.root, &p.path, a.format)
                    .await
            }
            _ => s.client.mkdir(a.format, &[], None).await,
        }
    })?;
    println!("{cap}");
    Ok(())
}
