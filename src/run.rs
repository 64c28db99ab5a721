//! What each command does. Each loads the configuration it needs: `serve`, `migrate` and
//! `subscribe` the full one, `send` and `bench` only the signing settings, `mock-provider` and
//! `listen` none (`listen` reads only `TXHOOK_ADMIN_TOKEN` and `TXHOOK_LISTEN`).

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::{Cli, Command, ConfigCommand, SubscribeArgs};
use crate::config::{self, Config, WriteMode};
use crate::http::{AppState, app};
use crate::provider::{ProviderError, Registrar, StatusHandle};
use crate::store::{BatchOptions, LogWriter, Store, StoreError};
use crate::{devtools, mock, projection, push, server, stream, telemetry};

/// Runs the command `cli` names. A configuration problem comes back as a
/// [`config::ConfigError`].
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let path = cli.config.as_deref();
    match cli.command {
        Command::Serve => {
            let config = config::load(path)?;
            let listener = TcpListener::bind(config.listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
            serve(config, listener, server::shutdown_signal()).await
        }
        Command::Migrate => migrate(&config::load(path)?).await,
        Command::Config(ConfigCommand::Check) => match config::check(path) {
            Ok(config) => {
                println!("{config:#?}");
                println!("configuration is valid");
                Ok(())
            }
            Err(problems) => {
                for p in &problems {
                    eprintln!("problem: {p}");
                }
                anyhow::bail!("{} configuration problem(s)", problems.len())
            }
        },
        Command::Subscribe(args) => subscribe(&config::load(path)?, &args).await,
        Command::Send(args) => devtools::send(&config::load_client(path)?, &args).await,
        Command::Bench(args) => devtools::bench(&config::load_client(path)?, &args).await,
        Command::MockProvider(args) => mock::run(args, server::shutdown_signal()).await,
        Command::Listen(args) => {
            let local = local_origin(std::env::var("TXHOOK_LISTEN").ok());
            let local = url::Url::parse(&local).expect("a valid URL");
            let token = std::env::var("TXHOOK_ADMIN_TOKEN").ok().map(Into::into);
            devtools::listen(&args, local, token, server::shutdown_signal()).await
        }
        Command::Rebuild => {
            let store = Store::connect_lazy(&config::load(path)?)?;
            store.migrate().await?;
            let done = projection::rebuild(&store).await?;
            println!(
                "rebuilt from {} events: {} history entries, {} events not applicable",
                done.events, done.steps, done.failed
            );
            Ok(())
        }
        Command::Reprocess { since } => {
            let store = Store::connect_lazy(&config::load(path)?)?;
            store.migrate().await?;
            let done = projection::reprocess(&store, since).await?;
            println!(
                "reprocessed {} quarantined callbacks: {} fixed, {} still unreadable",
                done.examined,
                done.fixed,
                done.examined - done.fixed
            );
            Ok(())
        }
        Command::Healthcheck { url, timeout } => {
            let url = url.unwrap_or_else(|| local_readyz(std::env::var("TXHOOK_LISTEN").ok()));
            healthcheck(&url, timeout).await
        }
    }
}

/// `/readyz` on loopback at the port of `listen` (a `TXHOOK_LISTEN` value), 8080 by default.
fn local_readyz(listen: Option<String>) -> String {
    format!("{}/readyz", local_origin(listen))
}

/// The local server's origin: loopback at the port of `listen`, 8080 by default.
fn local_origin(listen: Option<String>) -> String {
    let port = listen
        .and_then(|l| l.trim().parse::<std::net::SocketAddr>().ok())
        .map_or(8080, |a| a.port());
    format!("http://127.0.0.1:{port}")
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
        .map_err(|e| anyhow::anyhow!("unhealthy: {url}: {e}"))?;
    anyhow::ensure!(
        res.status().is_success(),
        "unhealthy: {url} answered {}",
        res.status()
    );
    Ok(())
}

/// Applies migrations and exits.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = Store::connect_lazy(config)?;
    store.migrate().await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Registers once, retrying within `args.timeout`; prints the outcome.
pub async fn subscribe(config: &Config, args: &SubscribeArgs) -> anyhow::Result<()> {
    // Attempts are recorded when the database is there; registering does not depend on it.
    let store = Store::connect_lazy(config)?;
    let store = match tokio::time::timeout(Duration::from_secs(10), store.migrate()).await {
        Ok(Ok(())) => Some(store),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database unavailable: attempts will not be recorded");
            None
        }
        Err(_) => {
            tracing::warn!("database too slow: attempts will not be recorded");
            None
        }
    };
    let status = StatusHandle::default();
    let registrar = Registrar::new(config, store, status.clone())?;
    let result = match tokio::time::timeout(args.timeout, registrar.register()).await {
        Ok(r) => r,
        Err(_) => {
            let last = status.get();
            Err(ProviderError::TimedOut {
                timeout: args.timeout,
                last: match (last.http_status, last.answer) {
                    (Some(s), Some(a)) => format!("HTTP {s}: {a}"),
                    (None, Some(a)) => a,
                    _ => "none finished".into(),
                },
            })
        }
    };
    let attempt = result?;
    println!(
        "registered {} with {} (HTTP {}, attempt {})",
        config::redacted_url_text(&registrar.registration().callback_url),
        config::redacted_url_text(&registrar.registration().provider),
        attempt.http_status.unwrap_or_default(),
        attempt.number
    );
    Ok(())
}

/// Applies migrations (waiting a while for the database to come up), then serves on
/// `listener` until `shutdown` resolves. Registers with the provider in the background
/// when one is configured.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let store = Store::connect_lazy(&config)?;
    migrate_with_patience(&store).await?;
    let serving = server::ServeOptions {
        max_connections: config.max_connections,
        drain: config.shutdown_timeout,
    };
    // One write path: `single` is group commit with batches of one.
    let batch = match config.write_mode {
        WriteMode::Single => BatchOptions {
            max_batch: 1,
            ..config.batch
        },
        WriteMode::Batched => config.batch,
    };
    let (writer, writers) = LogWriter::start(store.clone(), batch);
    let (stop_tx, stop_rx) = watch::channel(false);
    let projector = tokio::spawn(projection::run(store.clone(), stop_rx.clone()));
    let notifications = tokio::spawn(store.clone().forward_log_notifications());
    let announcements = tokio::spawn(store.clone().announce_log_growth());
    // Deliveries to destinations, on connections of their own: a slow or dead endpoint
    // never takes a connection the callbacks need.
    let delivering = tokio::spawn(push::deliver(
        store.with_own_pool(&config, 8)?,
        config.delivery,
        stop_rx.clone(),
    ));
    // The event log's monthly partitions are created ahead, now and every hour.
    let partitions = tokio::spawn(store.clone().maintain_partitions(Duration::from_secs(3600)));
    let stream_config = stream::StreamSettings::from_config(&config);
    let probe = readiness_probe(&config)?;
    let mut state = AppState::new(
        config,
        store.clone(),
        writer,
        telemetry::metrics_handle(),
        probe,
    );
    let registration = match Registrar::new(
        &state.config,
        Some(state.store.clone()),
        state.registration.clone(),
    ) {
        Ok(r) => Some(tokio::spawn(r.run_in_background())),
        Err(ProviderError::NotConfigured) => None,
        Err(e) => return Err(e.into()),
    };

    // Stream ingestion runs beside the HTTP server when a realm key is set, and is told to
    // stop (unsubscribe, close) the moment shutdown starts, while requests drain.
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
    server::serve(listener, app(state), shutdown, serving).await;
    partitions.abort();
    notifications.abort();
    announcements.abort();
    if let Some(task) = registration {
        task.abort();
    }
    if let Some(task) = ingestion {
        // The client bounds its own goodbye; this bounds everything else.
        if tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .is_err()
        {
            tracing::warn!("stream ingestion did not stop in time");
        }
    }
    // Every request is answered and the router is gone, so the queue is closed: let the
    // writers finish anything still queued. The projector finishes its step (a step is one
    // database transaction: cut short, it is simply taken again by the next start).
    writers.drain(Duration::from_secs(5)).await;
    if tokio::time::timeout(Duration::from_secs(5), projector)
        .await
        .is_err()
    {
        tracing::warn!("projector did not stop in time");
    }
    let _ = delivering.await;
    Ok(())
}

/// The store readiness checks run on: one connection of its own, so that a slow check (a lock
/// on the migrations table) never holds a connection the writers need.
fn readiness_probe(config: &Config) -> Result<Store, StoreError> {
    let mut probe = config.clone();
    probe.db_max_connections = 1;
    probe.db_acquire_timeout = config.store_timeout;
    Store::connect_lazy(&probe)
}

/// A database that is still starting (containers start together) gets 60 seconds.
async fn migrate_with_patience(store: &Store) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut backoff =
        crate::retry::Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
    loop {
        tracing::info!("applying migrations");
        match store.migrate().await {
            Ok(()) => {
                tracing::info!("migrations applied");
                return Ok(());
            }
            Err(e) => {
                let wait = backoff.next_wait();
                if tokio::time::Instant::now() + wait >= deadline {
                    return Err(e);
                }
                tracing::warn!(error = %e, "database not ready for migrations; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::local_readyz;

    #[test]
    fn healthcheck_probes_the_listen_port() {
        assert_eq!(local_readyz(None), "http://127.0.0.1:8080/readyz");
        assert_eq!(
            local_readyz(Some("0.0.0.0:9000".into())),
            "http://127.0.0.1:9000/readyz"
        );
        assert_eq!(
            local_readyz(Some("junk".into())),
            "http://127.0.0.1:8080/readyz"
        );
    }
}
