//! `serve`: the store, the background workers, the clients, the application state (built
//! once from the settings and those parts), the server, and an orderly stop.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::http::{AppParts, AppState, app};
use crate::provider::{Registrar, StatusHandle};
use crate::store::{DatabaseSettings, LogWriter, Store, StoreError};
use crate::{projection, push, server, stream, telemetry};

/// Applies migrations (waiting a while for the database to come up), then serves on
/// `listener` until `shutdown` resolves. Registers with the provider in the background
/// when one is configured.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let store = Store::connect_lazy(&config.database)?;
    migrate_with_patience(&store).await?;
    let (writer, writers) = LogWriter::start(store.clone(), config.write.effective_batch());
    let (stop_tx, stop_rx) = watch::channel(false);
    let projector = tokio::spawn(projection::run(store.clone(), stop_rx.clone()));
    let notifications = tokio::spawn(store.clone().forward_log_notifications());
    let announcements = tokio::spawn(store.clone().announce_log_growth());
    // Deliveries to destinations, on connections of their own: a slow or dead endpoint
    // never takes a connection the callbacks need.
    let delivering = tokio::spawn(push::deliver(
        store.with_own_pool(&config.database, 8)?,
        config.delivery,
        stop_rx.clone(),
    ));
    // The event log's monthly partitions are created ahead, now and every hour.
    let partitions = tokio::spawn(store.clone().maintain_partitions(Duration::from_secs(3600)));

    // The clients: the provider registration, and stream ingestion beside the HTTP server
    // (told to stop, unsubscribe and close the moment shutdown starts, while requests drain).
    let registration = match &config.provider {
        Some(settings) => {
            let status = StatusHandle::default();
            let registrar = Registrar::new(settings, Some(store.clone()), status.clone())?;
            let task = tokio::spawn(registrar.run_in_background());
            Some((settings.registration.clone(), status, task))
        }
        None => None,
    };
    let ingestion = config.stream.clone().map(|settings| {
        let status = std::sync::Arc::new(stream::StreamStatus::default());
        let task = tokio::spawn(stream::run(
            settings,
            store.clone(),
            status.clone(),
            stop_rx,
        ));
        (status, task)
    });
    if ingestion.is_none() {
        tracing::info!("stream ingestion off: TXHOOK_REALM_KEY is not set");
    }

    // The application state, once, from the settings and the parts built above.
    let state = AppState::new(AppParts {
        settings: config.http.clone(),
        verifier: config.signing.verifier(),
        probe: readiness_probe(&config)?,
        store,
        writer,
        metrics: telemetry::metrics_handle(),
        provider: registration
            .as_ref()
            .map(|(r, status, _)| (r.clone(), status.clone())),
        stream: ingestion.as_ref().map(|(status, _)| status.clone()),
    });
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };

    tracing::info!(
        addr = %listener.local_addr()?,
        write_mode = ?config.write.mode,
        scheme = ?config.signing.scheme,
        "txhook listening"
    );
    server::serve(listener, app(state), shutdown, config.server).await;
    partitions.abort();
    notifications.abort();
    announcements.abort();
    if let Some((_, _, task)) = registration {
        task.abort();
    }
    if let Some((_, task)) = ingestion {
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
    Store::connect_lazy(&DatabaseSettings {
        max_connections: 1,
        acquire_timeout: config.http.store_timeout,
        ..config.database.clone()
    })
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
