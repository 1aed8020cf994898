//! `lafs debug …`: format tools for people who debug grids.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DebugCommand {}

pub fn run(cmd: DebugCommand) -> anyhow::Result<()> {
    match cmd {}
}
