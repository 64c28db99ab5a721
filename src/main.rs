//! The `txhook` binary: the service's commands and the dev tools' (`txhook-devtools`), on one
//! command line. The library it serves with never depends on the dev tools.

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

use cli::Cli;
use txhook::{config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logging starts first so that configuration errors are logged in the chosen format.
    telemetry::init_logging(config::log_format_from_env().unwrap_or(telemetry::LogFormat::Text));
    // Each command loads the configuration it needs (`send` and `mock-provider` need no
    // database).
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<config::ConfigError>() => {
            tracing::error!("configuration: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
