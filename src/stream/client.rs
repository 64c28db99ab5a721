//! The stream client: connect, subscribe, read, store; reconnect with backoff until shutdown.
//!
//! One session is one WebSocket connection. It ends when the server closes it, on an error,
//! when no frame arrives for the idle timeout (the pings we send every ping interval are
//! answered by pongs, so a healthy idle connection never times out), or when the server
//! refuses the subscription. Then the client waits (exponential backoff with jitter, capped)
//! and starts a new session, which subscribes again. The backoff starts over once a
//! subscription succeeds, so a refused key keeps backing off up to the cap instead of
//! looping. On shutdown the client sends `unsubscribe`, waits briefly for the answer and
//! closes the connection with a normal close frame.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::watch;
use tokio::time::sleep;

use super::session::{End, Session};
use super::status::StreamStatus;
use crate::retry::Backoff;
use crate::store::Store;

/// The stream section of the configuration (present when a realm key is set: ingestion runs
/// only then).
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub url: url::Url,
    pub realm_key: SecretString,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

/// rustls needs a process-wide crypto provider when more than one could be compiled in:
/// txhook uses ring, installed once.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only when another provider was installed first, which then serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Runs ingestion until `stop` turns true (or its sender goes away).
#[tracing::instrument(name = "stream", skip_all, fields(url = %crate::redact::url(&cfg.url)))]
pub async fn run(
    cfg: StreamSettings,
    store: Store,
    status: Arc<StreamStatus>,
    mut stop: watch::Receiver<bool>,
) {
    install_crypto_provider();
    let mut backoff = Backoff::new(cfg.backoff_initial, cfg.backoff_max);
    let session = Session {
        cfg: &cfg,
        store: &store,
        status: &status,
    };
    while !*stop.borrow() {
        status.attempt();
        let rejected = match session.run(&mut stop).await {
            End::Stopped => break,
            End::Lost { error, subscribed } => {
                if subscribed {
                    backoff.reset();
                }
                tracing::warn!(%error, "stream connection lost");
                status.ended(Some(error), false);
                false
            }
            End::Rejected(error) => {
                // The server's text (it names the problem, it is not the key).
                tracing::error!(%error, "stream refused the subscription");
                metrics::counter!("txhook_stream_subscribe_failures_total").increment(1);
                status.ended(Some(error), true);
                true
            }
        };
        let delay = backoff.next_wait();
        tracing::info!(
            delay_ms = delay.as_millis() as u64,
            rejected,
            "reconnecting to the stream after a pause"
        );
        tokio::select! {
            () = sleep(delay) => {}
            () = stopped(&mut stop) => break,
        }
    }
    status.stopped();
    tracing::info!("stream ingestion stopped");
}

/// Resolves once shutdown is asked for (or nobody can ask any more).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
