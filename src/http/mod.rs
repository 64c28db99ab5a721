//! The HTTP edge: the router, its shared state, and the layers every request passes.

mod auth;
mod error;
mod health;
mod metrics;
mod subscription;
mod transactions;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::Admin;
pub use error::ApiError;

use crate::config::Config;
use crate::provider::StatusHandle;
use crate::store::Store;
use crate::verify::Verifier;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub metrics: PrometheusHandle,
    /// This process's provider registration, for readiness detail.
    pub registration: StatusHandle,
}

impl AppState {
    /// State for `config`, over `store`.
    pub fn new(config: Config, store: Store, metrics: PrometheusHandle) -> Self {
        let verifier = Verifier {
            scheme: config.scheme.clone(),
            keys: config.keys.clone(),
            static_header: config.static_header.clone(),
        };
        Self {
            config: Arc::new(config),
            store,
            verifier: Arc::new(verifier),
            metrics,
            registration: StatusHandle::default(),
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application, ready to serve.
pub fn app(state: AppState) -> Router {
    // A backstop for anything that outlives the per-step timeouts inside the handlers.
    let backstop =
        state.config.request_timeout + state.config.store_timeout + Duration::from_secs(1);
    Router::new()
        .merge(webhook::router())
        .merge(transactions::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(subscription::router())
        .with_state(state)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            backstop,
        ))
        .layer(axum::middleware::map_response(retry_after_on_503))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Every 503 tells the client when to retry, including those made by layers.
async fn retry_after_on_503(mut res: Response) -> Response {
    if res.status() == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from(error::RETRY_AFTER_SECS));
    }
    res
}
