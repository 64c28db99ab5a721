//! What every handler can reach: the HTTP section of the configuration and the state built
//! from it and from the parts `serve` made first.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use tokio::sync::Semaphore;

use super::Readiness;
use crate::projection::Consistency;
use crate::provider::{Registration, StatusHandle};
use crate::store::{LogWriter, RejectionLog, Store};
use crate::stream::StreamStatus;
use crate::verify::Verifier;

/// The HTTP section of the configuration: limits and timeouts of requests, and who may read.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Base URL the provider can reach (the console marks its cookie `Secure` under https).
    pub public_url: Option<url::Url>,
    /// Bearer token of the read API and the console; without it both refuse everyone.
    pub admin_token: Option<SecretString>,
    /// Largest callback body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Bytes of callback bodies held at once before their signature is checked; beyond it
    /// the answer is 503 with `Retry-After`.
    pub max_unverified_bytes: u32,
    /// Time allowed to receive a request body and answer it.
    pub request_timeout: Duration,
    /// Time allowed for the database work of one callback before answering 503.
    pub store_timeout: Duration,
    /// Longest a read of derived state (transactions, history) waits for the projection to
    /// reach every callback acknowledged before it; then 503 `projection_stalled`.
    pub projection_wait: Duration,
    /// Requests (other than health, readiness and metrics) handled at once; beyond it the
    /// answer is 503 with `Retry-After` at once.
    pub max_concurrent_requests: usize,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<HttpSettings>,
    pub store: Store,
    /// Writes callbacks to the log.
    pub writer: LogWriter,
    /// Reads of derived state wait on it (read-your-acks).
    pub consistency: Consistency,
    /// Where refused callbacks are recorded for the console (bounded, never waited for).
    pub rejections: RejectionLog,
    pub verifier: Arc<Verifier>,
    pub metrics: PrometheusHandle,
    /// The provider registration this process makes, when a provider is configured.
    pub provider: Option<Arc<Registration>>,
    /// How that registration is going, for readiness and the console.
    pub registration: StatusHandle,
    /// Slots for requests in flight (load shedding).
    pub slots: Arc<Semaphore>,
    /// Bytes of callback bodies not yet verified, one permit a byte.
    pub unverified_bytes: Arc<Semaphore>,
    /// The stream client's status, when ingestion runs (readiness detail).
    pub stream: Option<Arc<StreamStatus>>,
    /// Readiness checks, on their own connection and cached.
    pub readiness: Arc<Readiness>,
}

/// What the application state is made of: the settings, and the parts `serve` built first.
pub struct AppParts {
    pub settings: HttpSettings,
    pub verifier: Verifier,
    pub store: Store,
    /// Readiness is checked on this store, apart from the writers' pool.
    pub probe: Store,
    pub writer: LogWriter,
    pub metrics: PrometheusHandle,
    /// The provider registration and its status, when a provider is configured.
    pub provider: Option<(Registration, StatusHandle)>,
    /// The stream client's status, when ingestion runs.
    pub stream: Option<Arc<StreamStatus>>,
}

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        let AppParts {
            settings,
            verifier,
            store,
            probe,
            writer,
            metrics,
            provider,
            stream,
        } = parts;
        let (provider, registration) = match provider {
            Some((r, status)) => (Some(Arc::new(r)), status),
            None => (None, StatusHandle::default()),
        };
        Self {
            unverified_bytes: Arc::new(Semaphore::new(settings.max_unverified_bytes as usize)),
            slots: Arc::new(Semaphore::new(settings.max_concurrent_requests)),
            readiness: Arc::new(Readiness::new(probe, settings.store_timeout)),
            consistency: Consistency::new(store.clone(), settings.projection_wait),
            rejections: RejectionLog::start(store.clone()),
            settings: Arc::new(settings),
            store,
            writer,
            verifier: Arc::new(verifier),
            metrics,
            provider,
            registration,
            stream,
        }
    }
}
