//! `POST /webhooks/transactions`: the provider's `callbackUrl`.
//!
//! Reads top to bottom: raw bytes → verify → read → store (committed) → answer.

use std::time::{Instant, SystemTime};

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, COOKIE, PROXY_AUTHORIZATION};
use axum::http::{HeaderMap, HeaderName};
use http_body_util::BodyExt;
use tokio::sync::OwnedSemaphorePermit;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, ErrorBody};
use crate::store::{NewCallback, Outcome, Rejected};
use crate::transaction;

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

    let incoming = transaction::read(&body, verified.webhook_id.as_deref());
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

/// The body, up to the configured limit (413 above it, refused from `Content-Length` alone
/// when declared) and within the request timeout, with the share of the unverified-bytes
/// budget it holds: the caller keeps that until the signature is checked. When the budget
/// is spent the answer is 503 with `Retry-After`, so that senders without the key cannot
/// make the server hold more than `TXHOOK_MAX_UNVERIFIED_BYTES` of bodies at once.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(bytes::Bytes, OwnedSemaphorePermit), ApiError> {
    let limit = state.settings.max_body_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let budget = &state.unverified_bytes;
    let reserve = |bytes: usize| {
        u32::try_from(bytes)
            .ok()
            .and_then(|n| budget.clone().try_acquire_many_owned(n).ok())
            .ok_or_else(|| {
                metrics::counter!("txhook_unverified_bytes_exhausted_total").increment(1);
                ApiError::Overloaded
            })
    };
    // What is declared is reserved before a byte is read; a chunked body reserves as it
    // comes.
    let mut held = declared.unwrap_or(0) as usize;
    let mut permit = reserve(held)?;
    let read = async {
        let mut body = body;
        let mut chunks = Chunks::default();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.map_err(|_| ApiError::BadBody)?.into_data() else {
                continue;
            };
            let len = chunks.len() + data.len();
            if len > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            if len > held {
                permit.merge(reserve(len - held)?);
                held = len;
            }
            chunks.push(data);
        }
        Ok(chunks.into_bytes())
    };
    match tokio::time::timeout(state.settings.request_timeout, read).await {
        Err(_) => Err(ApiError::RequestTimeout),
        Ok(read) => Ok((read?, permit)),
    }
}

/// A body's chunks: one kept as it came (no copy, the common case), more joined.
#[derive(Default)]
enum Chunks {
    #[default]
    Empty,
    One(bytes::Bytes),
    Many(bytes::BytesMut),
}

impl Chunks {
    fn len(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::One(b) => b.len(),
            Self::Many(b) => b.len(),
        }
    }

    fn push(&mut self, data: bytes::Bytes) {
        *self = match std::mem::take(self) {
            Self::Empty => Self::One(data),
            Self::One(first) => {
                let mut all = bytes::BytesMut::with_capacity(first.len() + data.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&data);
                Self::Many(all)
            }
            Self::Many(mut all) => {
                all.extend_from_slice(&data);
                Self::Many(all)
            }
        }
    }

    fn into_bytes(self) -> bytes::Bytes {
        match self {
            Self::Empty => bytes::Bytes::new(),
            Self::One(b) => b,
            Self::Many(b) => b.freeze(),
        }
    }
}

/// Request headers worth keeping with the event, without credentials or the static header, as
/// the text of a JSON object (name: value; the values of a repeated name joined by ", ").
/// Written straight from the map: it is made for every callback.
fn kept_headers(headers: &HeaderMap, state: &AppState) -> String {
    let secret = state.verifier.static_header.as_ref().map(|h| h.name());
    kept_headers_json(headers, secret)
}

fn kept_headers_json(headers: &HeaderMap, secret: Option<&HeaderName>) -> String {
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for name in headers.keys() {
        if name == AUTHORIZATION
            || name == PROXY_AUTHORIZATION
            || name == COOKIE
            || Some(name) == secret
        {
            continue;
        }
        let mut value = String::new();
        for (i, v) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                value.push_str(", ");
            }
            value.push_str(&String::from_utf8_lossy(v.as_bytes()));
        }
        // PostgreSQL's jsonb cannot hold \u0000.
        value.retain(|c| c != '\0');
        if out.len() > 1 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, name.as_str()).expect("writing to a Vec cannot fail");
        out.push(b':');
        serde_json::to_writer(&mut out, &value).expect("writing to a Vec cannot fail");
    }
    out.push(b'}');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn kept_headers_join_repeats_and_leave_out_credentials_and_the_static_header() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
        h.insert("x-quote", HeaderValue::from_static(r#"a "b" \c"#));
        h.insert("x-high", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        h.insert(COOKIE, HeaderValue::from_static("s=1"));
        h.insert("x-static", HeaderValue::from_static("secret"));
        let secret = HeaderName::from_static("x-static");
        let kept: serde_json::Value =
            serde_json::from_str(&kept_headers_json(&h, Some(&secret))).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({
                "content-type": "application/json",
                "x-forwarded-for": "10.0.0.1, 10.0.0.2",
                "x-quote": r#"a "b" \c"#,
                "x-high": "caf\u{fffd}",
            })
        );
        assert_eq!(kept_headers_json(&HeaderMap::new(), None), "{}");
    }
}
