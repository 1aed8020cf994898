//! The `lafs` command. One module per verb; the only crate that uses anyhow.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod bench;
mod debug;

/// lafs: a Tahoe-LAFS compatible least-authority file store.
#[derive(Debug, Parser)]
#[command(name = "lafs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a complete local grid in one process (not built yet).
    Demo,
    /// Tools for debugging grids and formats.
    #[command(subcommand)]
    Debug(debug::DebugCommand),
    /// Throughput benchmarks (e.g. `lafs bench fec` vs Python zfec).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => {
            eprintln!(
                "lafs demo: not built yet. The local grid (introducer, storage servers, \
                 client and web UI) arrives with the node issue; today lafs offers \
                 `lafs debug` (caps, shares, decoding)."
            );
            return ExitCode::from(2);
        }
        Command::Debug(cmd) => debug::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lafs: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
