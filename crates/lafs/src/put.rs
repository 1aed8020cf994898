//! `lafs put FILE|-`: upload an immutable file and print its cap.

use crate::create_client::{load, ClientSource};
use anyhow::Result;
use lafs_client::{upload, upload_unseekable, KeyMode, Progress};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `lafs put`.
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Use a random key instead of the convergent one.
    #[arg(long)]
    pub random_key: bool,
    /// The file to upload, or `-` for stdin (spooled to a temporary file:
    /// the convergent key needs all of it first).
    pub file: PathBuf,
}

/// `lafs put`.
pub fn run(a: PutArgs) -> Result<()> {
    let client = load(&a.src)?;
    let tty = std::io::stderr().is_terminal();
    let progress: Option<lafs_client::ProgressFn> = tty.then(|| {
        Arc::new(|p: Progress| {
            let (what, done, total) = match p {
                Progress::Hashing { done, total } => ("hashing", done, total),
                Progress::Uploading { done, total } => ("uploading", done, total),
            };
            let pct = (done * 100).checked_div(total).unwrap_or(100);
            eprint!("\r{what} {pct:3}% ({done}/{total} bytes)   ");
        }) as lafs_client::ProgressFn
    });
    let mut opts = client.upload_options(progress);
    if a.random_key {
        opts.key = KeyMode::Random;
    }
    let rt = tokio::runtime::Runtime::new()?;
    let res = rt.block_on(async {
        if a.file.as_os_str() == "-" {
            upload_unseekable(&client.grid(), std::io::stdin(), &opts).await
        } else {
            let f = std::fs::File::open(&a.file)
                .map_err(|e| anyhow::anyhow!("opening {}: {e}", a.file.display()))?;
            upload(&client.grid(), f, &opts).await
        }
        .map_err(anyhow::Error::from)
    });
    if tty {
        eprintln!();
    }
    let res = res?;
    println!("{}", res.cap);
    Ok(())
}
