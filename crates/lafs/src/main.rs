//! The `lafs` command. One module per verb; the only crate that uses anyhow.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod admin;
mod bench;
mod bench_grid;
mod bench_limits;
mod bench_storage;
mod create_client;
mod create_node;
mod debug;
mod get;
mod node;
mod progress;
mod put;

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
    /// Create a storage node directory (tahoe.cfg, TLS identity, swissnum).
    CreateNode(create_node::CreateNodeArgs),
    /// Run a node (its HTTPS storage server) until SIGINT/SIGTERM.
    Run {
        /// The node directory.
        nodedir: std::path::PathBuf,
    },
    /// Administrative output about a node.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Create a client node directory (tahoe.cfg [client], secrets, servers.yaml).
    CreateClient(create_client::CreateClientArgs),
    /// Upload an immutable file; prints its cap.
    Put(put::PutArgs),
    /// Download an immutable file (or a byte range of it).
    Get(get::GetArgs),
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
        Command::CreateNode(args) => create_node::run(args),
        Command::Run { nodedir } => {
            init_tracing();
            node::run(&nodedir)
        }
        Command::Admin(cmd) => admin::run(cmd),
        Command::CreateClient(args) => create_client::run(args),
        Command::Put(args) => put::run(args),
        Command::Get(args) => get::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lafs: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Log to stderr; `RUST_LOG` overrides the default `info` level.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
