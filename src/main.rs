use clap::Parser;
use std::process::ExitCode;

use txhook::cli::{Cli, Command};
use txhook::{config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logging starts first so that configuration errors are logged in the chosen format.
    telemetry::init_logging(config::log_format_from_env().unwrap_or(config::LogFormat::Text));
    // The container health check runs without the server's configuration.
    if let Command::Healthcheck { url, timeout } = &cli.command {
        return match txhook::healthcheck(url, *timeout).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("unhealthy: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
