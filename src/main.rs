use clap::Parser;
use std::process::ExitCode;

use txhook::cli::Cli;
use txhook::{config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logging starts first so that configuration errors are logged in the chosen format.
    telemetry::init_logging(config::log_format_from_env().unwrap_or(config::LogFormat::Text));
    let config = match config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("configuration: {e}");
            return ExitCode::from(2);
        }
    };
    match txhook::run(cli, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
