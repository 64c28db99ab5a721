//! What each command does, given a loaded configuration.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::http::{AppState, app};
use crate::store::{Store, StoreError};
use crate::{server, stream, telemetry};

/// Runs the command `cli` names with `config`.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let listener = TcpListener::bind(config.listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
            serve(config, listener, server::shutdown_signal()).await
        }
        Command::Migrate => migrate(&config).await,
        Command::Reprocess { since } => {
            let store = Store::connect_lazy(&config)?;
            store.migrate().await?;
            let done = store.reprocess_quarantined(since).await?;
            println!(
                "reprocessed {} quarantined callbacks: {} fixed, {} still unreadable",
                done.examined,
                done.fixed,
                done.examined - done.fixed
            );
            Ok(())
        }
        Command::Healthcheck { url, timeout } => healthcheck(&url, timeout).await,
    }
}

/// Succeeds when `url` answers 200 within `timeout_secs`.
pub async fn healthcheck(url: &str, timeout_secs: u64) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(timeout_secs))
        .build()?;
    let res = client
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    anyhow::ensure!(res.status().is_success(), "{url} answered {}", res.status());
    Ok(())
}

/// Applies migrations and exits.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = Store::connect_lazy(config)?;
    store.migrate().await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Applies migrations (waiting a while for the database to come up), then serves on
/// `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let store = Store::connect_lazy(&config)?;
    migrate_with_patience(&store).await?;
    let drain = config.shutdown_timeout;
    let stream_config = stream::ClientConfig::from_config(&config);
    let mut state = AppState::new(config, store.clone(), telemetry::metrics_handle());

    // Stream ingestion runs beside the HTTP server when a realm key is set, and is told to
    // stop (unsubscribe, close) the moment shutdown starts, while requests drain.
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingestion = stream_config.map(|cfg| {
        let status = std::sync::Arc::new(stream::StreamStatus::default());
        state = state.clone().with_stream(status.clone());
        tokio::spawn(stream::run(cfg, store, status, stop_rx))
    });
    if ingestion.is_none() {
        tracing::info!("stream ingestion off: TXHOOK_REALM_KEY is not set");
    }
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };

    tracing::info!(
        addr = %listener.local_addr()?,
        write_mode = ?state.config.write_mode,
        scheme = ?state.verifier.scheme,
        "txhook listening"
    );
    server::serve(listener, app(state), shutdown, drain).await;
    if let Some(task) = ingestion {
        // The client bounds its own goodbye; this bounds everything else.
        if tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .is_err()
        {
            tracing::warn!("stream ingestion did not stop in time");
        }
    }
    Ok(())
}

/// A database that is still starting (containers start together) gets 60 seconds.
async fn migrate_with_patience(store: &Store) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut wait = Duration::from_millis(250);
    loop {
        match store.migrate().await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() + wait < deadline => {
                tracing::warn!(error = %e, "database not ready for migrations; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}
