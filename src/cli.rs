//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// txhook: receives payment-transaction callbacks and keeps them, exactly once, in PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "txhook", version, about)]
pub struct Cli {
    /// Configuration file (default: ./config.toml when present). Environment variables
    /// override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve the receiver until SIGTERM or ctrl-c.
    Serve,
    /// Apply migrations and exit.
    Migrate,
}
