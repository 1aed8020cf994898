//! The `lafs` command. One module per verb; the only crate that uses anyhow.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod admin;
mod alias;
mod bench;
mod bench_grid;
mod bench_limits;
mod bench_storage;
mod check;
mod cp;
mod create_client;
mod create_node;
mod debug;
mod demo;
mod get;
mod grid_cli;
mod introducer;
mod link;
mod loopback;
mod ls;
mod malloc_tuning;
mod manifest;
mod mkdir;
mod node;
mod progress;
mod put;
mod tahoe_cfg;
mod web;

/// lafs: a Tahoe-LAFS compatible least-authority file store.
#[derive(Debug, Parser)]
#[command(name = "lafs", version, about)]
struct Cli {
    /// The client node directory for grid verbs (default ~/.tahoe); may
    /// also be given after the verb.
    #[arg(short = 'd', long = "node-directory")]
    node_directory: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a complete local grid in one process: storage servers, a client
    /// and its web UI, all on 127.0.0.1.
    Demo(demo::DemoArgs),
    /// Tools for debugging grids and formats.
    #[command(subcommand)]
    Debug(debug::DebugCommand),
    /// Throughput benchmarks (e.g. `lafs bench fec` vs Python zfec).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Create a storage node directory (tahoe.cfg, TLS identity, swissnum).
    CreateNode(create_node::CreateNodeArgs),
    /// Create an introducer node directory (prints its URL for other nodes).
    CreateIntroducer(introducer::CreateIntroducerArgs),
    /// Run a node (its HTTPS storage server, or an introducer) until SIGINT/SIGTERM.
    Run {
        /// The node directory.
        nodedir: std::path::PathBuf,
    },
    /// Administrative output about a node.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Create a client node directory (tahoe.cfg [client], secrets, servers.yaml).
    CreateClient(create_client::CreateClientArgs),
    /// Upload a file (immutable, or mutable with --mutable/--format), optionally to a path; prints its cap.
    Put(put::PutArgs),
    /// Download a file (or a byte range of it) by cap or ALIAS:path.
    Get(get::GetArgs),
    /// Make a directory and add an alias for it.
    CreateAlias(alias::CreateAliasArgs),
    /// Add an alias for an existing directory cap.
    AddAlias(alias::AddAliasArgs),
    /// List the aliases (private/aliases).
    ListAliases(alias::ListAliasesArgs),
    /// Make a directory (unlinked, or at a path with its parents).
    Mkdir(mkdir::MkdirArgs),
    /// List a directory.
    Ls(ls::LsArgs),
    /// Link a child under another name or directory.
    Ln(link::LinkArgs),
    /// Move (rename or relink) a child.
    Mv(link::LinkArgs),
    /// Unlink children from their directories.
    #[command(alias = "unlink")]
    Rm(link::RmArgs),
    /// Copy files and trees between local disk and the grid.
    Cp(cp::CpArgs),
    /// List every node under a directory.
    Manifest(manifest::ManifestArgs),
    /// Count and size everything under a directory (Tahoe's `stats`).
    #[command(alias = "stats")]
    DeepStats(manifest::DeepStatsArgs),
    /// Check (verify, repair) files and directories.
    Check(check::CheckArgs),
    /// Check (verify, repair) everything reachable from a directory.
    DeepCheck(check::DeepCheckArgs),
    /// Show a running client node's servers and operations (its web API).
    Status(web::StatusArgs),
    /// Open a running client node's web UI in a browser.
    Webopen(web::WebopenArgs),
}

fn main() -> ExitCode {
    malloc_tuning::apply();
    let cli = Cli::parse();
    let top = cli.node_directory;
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Debug(cmd) => debug::run(cmd),
        Command::Bench(cmd) => {
            // Timings of the in-process client (e.g. RUST_LOG=
            // lafs_client::mutable=debug) only when asked: the tables
            // are the output.
            if std::env::var_os("RUST_LOG").is_some() {
                init_tracing();
            }
            bench::run(cmd)
        }
        Command::CreateNode(args) => create_node::run(args),
        Command::CreateIntroducer(args) => introducer::create(args),
        Command::Run { nodedir } => {
            init_tracing();
            node::run(&nodedir)
        }
        Command::Admin(cmd) => admin::run(cmd),
        Command::CreateClient(args) => create_client::run(args),
        Command::Put(mut a) => {
            a.src = a.src.inherit(&top);
            put::run(a)
        }
        Command::Get(mut a) => {
            a.src = a.src.inherit(&top);
            get::run(a)
        }
        Command::CreateAlias(mut a) => {
            a.src = a.src.inherit(&top);
            alias::create(a)
        }
        Command::AddAlias(mut a) => {
            a.src = a.src.inherit(&top);
            alias::add(a)
        }
        Command::ListAliases(mut a) => {
            a.src = a.src.inherit(&top);
            alias::list(a)
        }
        Command::Mkdir(mut a) => {
            a.src = a.src.inherit(&top);
            mkdir::run(a)
        }
        Command::Ls(mut a) => {
            a.src = a.src.inherit(&top);
            ls::run(a)
        }
        Command::Ln(mut a) => {
            a.src = a.src.inherit(&top);
            link::ln(a)
        }
        Command::Mv(mut a) => {
            a.src = a.src.inherit(&top);
            link::mv(a)
        }
        Command::Rm(mut a) => {
            a.src = a.src.inherit(&top);
            link::rm(a)
        }
        Command::Cp(mut a) => {
            a.src = a.src.inherit(&top);
            cp::run(a)
        }
        Command::Manifest(mut a) => {
            a.src = a.src.inherit(&top);
            manifest::manifest(a)
        }
        Command::DeepStats(mut a) => {
            a.src = a.src.inherit(&top);
            manifest::deep_stats(a)
        }
        Command::Check(mut a) => {
            a.src = a.src.inherit(&top);
            check::run_check(a)
        }
        Command::DeepCheck(mut a) => {
            a.src = a.src.inherit(&top);
            check::run_deep(a)
        }
        Command::Status(args) => web::status(args, &top),
        Command::Webopen(args) => web::webopen(args, &top),
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
