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
    /// Read quarantined callbacks again with the current parser and apply those that now
    /// read as transactions; prints how many were fixed.
    Reprocess {
        /// Only callbacks received at or after this time (RFC 3339, e.g. 2026-11-24T00:00:00Z).
        #[arg(long, value_parser = parse_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Exit 0 when the server's /readyz answers 200, 1 otherwise (for container health
    /// checks). Needs no configuration.
    Healthcheck {
        /// The readiness URL.
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 time: {e}"))
}
