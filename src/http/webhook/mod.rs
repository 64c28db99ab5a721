//! `POST /webhooks/transactions`: the provider's `callbackUrl`.
//!
//! Reads top to bottom: raw bytes → verify → read → store (committed) → answer.
//!
//! - [`body`]: the raw body, within its limits and the unverified-bytes budget;
//! - [`headers`]: the request headers kept with the event.

mod body;
mod headers;

use std::time::{Instant, SystemTime};

use axum::Json;
use axum::extract::{Request, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, ErrorBody};
use crate::payment;
use crate::store::{NewCallback, Outcome, Rejected};

use body::read_body;
use headers::kept_headers;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}

/// The provider's callback: a transaction, signed.
///
/// Answers 200 only once the event is committed; a retry of an event already held gets 200
/// `duplicate`; a validly signed body that is not a readable transaction is kept raw and
/// answered 200 `quarantined`.
#[utoipa::path(
    post,
    path = "/webhooks/transactions",
    tag = "callbacks",
    request_body(content = Object, description = "the provider's transaction object, signed over its raw bytes", content_type = "application/json"),
    params(
        ("X-Hubpay-Hmac" = Option<String>, Header, description = "hmac-sha256 scheme: HMAC-SHA256 of the raw body, hex (optionally sha256=) or base64; the header name is configurable"),
        ("webhook-id" = Option<String>, Header, description = "standard-webhooks scheme: message id (the deduplication key)"),
        ("webhook-timestamp" = Option<String>, Header, description = "standard-webhooks scheme: Unix seconds, within 5 minutes"),
        ("webhook-signature" = Option<String>, Header, description = "standard-webhooks scheme: space-separated v1,<base64> signatures"),
    ),
    responses(
        (status = 200, description = "`stored`, `duplicate` or `quarantined` (with `reason`)", body = CallbackAnswer),
        (status = 401, description = "bad or missing signature or static header; nothing stored", body = ErrorBody),
        (status = 408, description = "the body did not arrive in time", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 503, description = "store unavailable; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn receive(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<CallbackAnswer>, ApiError> {
    let started = Instant::now();
    let result = handle(&state, req).await;
    let outcome = match &result {
        Ok(Outcome::Stored { .. }) => "stored",
        Ok(Outcome::Duplicate) => "duplicate",
        Ok(Outcome::Quarantined { .. }) => "quarantined",
        Err(ApiError::Signature(_)) => "rejected",
        Err(ApiError::Unavailable(_)) => "unavailable",
        Err(ApiError::Overloaded) => "overloaded",
        Err(_) => "invalid",
    };
    metrics::counter!("txhook_callbacks_total", "outcome" => outcome).increment(1);
    metrics::histogram!("txhook_callback_duration_seconds", "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    let answer = match result? {
        Outcome::Stored { sequence } => CallbackAnswer::new("stored", None, Some(sequence)),
        Outcome::Duplicate => CallbackAnswer::new("duplicate", None, None),
        Outcome::Quarantined { sequence, reason } => {
            CallbackAnswer::new("quarantined", Some(reason), Some(sequence))
        }
    };
    Ok(Json(answer))
}

/// The answer to a callback.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CallbackAnswer {
    /// `stored`, `duplicate` or `quarantined`.
    status: &'static str,
    /// Why the body was quarantined.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The event's sequence in the log (not on `duplicate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<i64>,
}

impl CallbackAnswer {
    fn new(status: &'static str, reason: Option<String>, sequence: Option<i64>) -> Self {
        Self {
            status,
            reason,
            sequence,
        }
    }
}

async fn handle(state: &AppState, req: Request) -> Result<Outcome, ApiError> {
    let received_at = chrono::Utc::now();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let (parts, body) = req.into_parts();
    let (body, unverified) = read_body(state, &parts.headers, body).await?;

    let verified = state
        .verifier
        .verify(&parts.headers, &body, SystemTime::now())
        .map_err(|r| {
            metrics::counter!("txhook_callbacks_rejected_total", "reason" => r.code()).increment(1);
            tracing::warn!(reason = r.code(), "callback refused");
            state.rejections.record(Rejected {
                received_at,
                reason: r.code(),
                source: peer.map(|p| p.ip().to_string()),
                headers: kept_headers(&parts.headers, state),
                body: body.clone(),
            });
            ApiError::Signature(r)
        })?;
    // Verified: the body no longer counts against the unverified-bytes budget.
    drop(unverified);

    let incoming = payment::read(&body, verified.webhook_id.as_deref());
    let callback = NewCallback {
        received_at,
        headers: kept_headers(&parts.headers, state),
        body,
        dedup_key: incoming.dedup_key,
        reading: incoming.reading,
    };
    let outcome = tokio::time::timeout(state.settings.store_timeout, state.writer.write(callback))
        .await
        .map_err(|_| ApiError::Unavailable(None))??;
    match &outcome {
        Outcome::Quarantined { sequence, reason } => {
            tracing::warn!(sequence, %reason, "callback quarantined");
        }
        other => tracing::debug!(?other, "callback recorded"),
    }
    Ok(outcome)
}
