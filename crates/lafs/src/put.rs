//! `lafs put FILE|-`: upload an immutable file and print its cap.

use crate::create_client::{load, ClientSource};
use anyhow::Result;
use lafs_client::{upload, upload_unseekable, KeyMode, Progress, UploadOptions};
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
    let key = match (&client.convergence, a.random_key) {
        (Some(c), false) => KeyMode::Convergent(c.clone()),
        _ => KeyMode::Random,
    };
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
    let opts = UploadOptions {
        params: client.params,
        key,
        progress,
    };
    let rt = tokio::runtime::Runtime::new()?;
    let res = rt.block_on(async {
        if a.file.as_os_str() == "-" {
            upload_unseekable(&client.grid, std::io::stdin(), &opts).await
        } else {
            let f = std::fs::File::open(&a.file)
                .map_err(|e| anyhow::anyhow!("opening {}: {e}", a.file.display()))?;
            upload(&client.grid, f, &opts).await
        }
        .map_err(anyhow::Error::from)
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let res = res?;
    println!("{}", res.cap);
    Ok(())
}
