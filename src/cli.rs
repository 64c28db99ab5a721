//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use txhook_core::duration::parse_duration;
use txhook_devtools::args::{BenchArgs, ListenArgs, MockArgs, SendArgs};

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

/// `txhook config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Report every problem at once (exit 1), or print the effective settings with secrets
    /// redacted (exit 0). Every setting, its variable and its default: config.toml.
    Check,
}

/// Where `serve --help` sends the reader for its settings.
const SETTINGS_HELP: &str = "Settings come from the environment (TXHOOK_*, DATABASE_URL), over --config or \
./config.toml, over the built-in defaults. The repository's config.toml lists every setting with \
its default, its variable and what it does (README.md, \"Configuration\", has the table). \
`txhook config check` reports every problem at once, or prints the effective settings with \
secrets redacted.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve the receiver until SIGTERM or ctrl-c (registering with
    /// the provider in the background when TXHOOK_PROVIDER_URL is set).
    #[command(after_help = SETTINGS_HELP)]
    Serve,
    /// Apply migrations and exit.
    Migrate,
    /// Register the callbackUrl with the provider once (retrying within --timeout) and print
    /// the outcome; exits non-zero with the reason when it fails.
    Subscribe(SubscribeArgs),
    /// Build a realistic transaction callback, sign it with the configured key and POST it
    /// to a receiver; exits non-zero when an answer is not 200.
    Send(SendArgs),
    /// Load a receiver with unique realistic signed callbacks from many keep-alive
    /// connections; print answers per second and latency, then check through the read API
    /// that every acknowledged event is stored. Exits non-zero when one is missing.
    Bench(BenchArgs),
    /// A local stand-in for the provider: accepts subscriptions and delivers signed
    /// transaction lifecycles to subscribers, retrying with exponential backoff.
    MockProvider(MockArgs),
    /// Follow a txhook's live event stream, print a line per event and, with --forward-to,
    /// POST each event's JSON item to a URL (like `stripe listen`). Reconnects when the
    /// stream drops, resuming after the last event printed. Needs TXHOOK_ADMIN_TOKEN (the
    /// server's admin token) and nothing else.
    Listen(ListenArgs),
    /// Re-derive every transaction's current state and history from the event log (after a
    /// change of the state rules, or to check them); the result equals what was derived as
    /// the callbacks arrived. Runs in one database transaction: readers see the old state
    /// until it is done.
    Rebuild,
    /// Read quarantined callbacks again with the current parser and apply those that now
    /// read as transactions; prints how many were fixed.
    Reprocess {
        /// Only callbacks received at or after this time (RFC 3339, e.g. 2026-11-24T00:00:00Z).
        #[arg(long, value_parser = parse_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Check the configuration (config.toml, --config, the environment): report every
    /// problem at once, or print the effective settings with secrets redacted.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Exit 0 when the server's /readyz answers 200, 1 otherwise (for container health
    /// checks). Needs no configuration.
    Healthcheck {
        /// The readiness URL (default: /readyz on 127.0.0.1 at the port of TXHOOK_LISTEN,
        /// 8080 when unset).
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

/// `txhook subscribe`.
#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// Give up after this long (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 time: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
