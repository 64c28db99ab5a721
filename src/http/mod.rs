//! The HTTP edge: the router, its shared state, and the layers every request passes.

mod auth;
mod destinations;
mod error;
pub mod event_stream;
mod events;
mod health;
mod metrics;
mod openapi;
mod params;
mod projection;
mod readiness;
mod state;
mod subscription;
mod transactions;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::Admin;
pub use error::{ApiError, ErrorBody};
pub use openapi::openapi;
pub use readiness::{READINESS_TTL, Readiness};
pub use state::{AppParts, AppState, HttpSettings};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application, ready to serve.
pub fn app(state: AppState) -> Router {
    // A backstop for anything that outlives the per-step timeouts inside the handlers.
    let backstop =
        state.settings.request_timeout + state.settings.store_timeout + Duration::from_secs(1);
    let slots = state.slots.clone();
    openapi::routes()
        .split_for_parts()
        .0
        .merge(crate::console::router())
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(slots, shed_load))
        .layer(axum::middleware::from_fn(record_request))
        .layer(axum::middleware::from_fn_with_state(backstop, time_limit))
        .layer(axum::middleware::map_response(retry_after_on_503))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let path = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or(req.uri().path(), |p| p.as_str());
                tracing::info_span!("request", method = %req.method(), path, request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Answers 503 for a request still unanswered after `backstop` (plus the longest long-poll
/// wait for the event tail, which holds requests on purpose). Only the making of the answer
/// is timed: a streamed body (SSE) goes on.
async fn time_limit(
    axum::extract::State(backstop): axum::extract::State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = if req.uri().path() == "/api/v1/events" {
        backstop + Duration::from_secs(events::MAX_WAIT_SECS)
    } else {
        backstop
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Load shedding: beyond the configured number of requests in flight, answer 503 with
/// `Retry-After` at once, so that a flood meets a fast refusal instead of a queue in front of
/// the database pool. Health, readiness and metrics always answer.
async fn shed_load(
    axum::extract::State(slots): axum::extract::State<Arc<Semaphore>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(req).await;
    }
    match slots.try_acquire_owned() {
        Ok(_permit) => next.run(req).await,
        Err(_) => {
            ::metrics::counter!("txhook_requests_shed_total").increment(1);
            axum::response::IntoResponse::into_response(ApiError::Overloaded)
        }
    }
}

/// Counts every request and times it. Labels never take a value the client chose: the method
/// is one of a fixed set or `other`, the route the matched pattern (ids are not labels) or
/// `unmatched`, so that no request can add a time series.
async fn record_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    ::metrics::histogram!("txhook_http_request_duration_seconds", "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    ::metrics::counter!("txhook_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    res
}

/// The method as a metric label: the methods of the API, or `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
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
