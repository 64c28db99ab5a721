//! The HTTP layer's one error type: every failure answers `{"error", "message"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::projection::Behind;
use crate::store::{StoreError, SubmitError};
use crate::verify::Rejection;

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The message of every refused callback, whatever the reason.
const NOT_AUTHENTIC_MESSAGE: &str = "the callback could not be authenticated";

/// The body of every error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code, e.g. `not_authentic`, `bad_parameter`, `unavailable`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The callback is not authentic. Its answer is the same whatever the reason, which only
    /// metrics and logs tell.
    #[error("{0}")]
    Signature(Rejection),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body was not received in time")]
    RequestTimeout,
    #[error("the request body could not be read")]
    BadBody,
    #[error("not found")]
    NotFound,
    #[error("invalid parameter {param}: {why}")]
    BadParameter { param: &'static str, why: String },
    /// Too many callbacks waiting to be written: the caller should retry.
    #[error("too many callbacks in flight; retry later")]
    Overloaded,
    /// The store is unreachable or too slow: the caller should retry.
    #[error("store unavailable")]
    Unavailable(#[source] Option<StoreError>),
    /// Derived state is behind the event log past the read-your-acks bound.
    #[error("{0}")]
    ProjectionStalled(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Signature(_) => (StatusCode::UNAUTHORIZED, Rejection::PUBLIC_CODE),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::BadBody => (StatusCode::BAD_REQUEST, "bad_body"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::BadParameter { .. } => (StatusCode::BAD_REQUEST, "bad_parameter"),
            Self::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::ProjectionStalled(_) => (StatusCode::SERVICE_UNAVAILABLE, "projection_stalled"),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::QueueFull => Self::Overloaded,
            SubmitError::Closed => Self::Unavailable(None),
            SubmitError::Store(e) => Self::Unavailable(Some(e)),
        }
    }
}

impl From<Behind> for ApiError {
    fn from(e: Behind) -> Self {
        match e {
            Behind::Store(e) => e.into(),
            stalled => Self::ProjectionStalled(stalled.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    /// A value PostgreSQL refuses for what it is (a NUL, an out-of-range number) is the
    /// client's error; only the store being unreachable or failing is `unavailable`.
    /// (Callbacks never get here: the store keeps refused content in quarantine.)
    fn from(e: StoreError) -> Self {
        if e.is_permanent_for_row() {
            tracing::warn!(error = %e, "database refused a value of the request");
            Self::BadParameter {
                param: "request",
                why: "holds a value the database cannot take".into(),
            }
        } else {
            Self::Unavailable(Some(e))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            // 5xx bodies are opaque; the cause is logged once, here, inside the request span.
            Self::Unavailable(cause) => {
                match cause {
                    Some(e) => tracing::error!(error = %e, "store unavailable"),
                    None => tracing::error!("store did not answer in time"),
                }
                metrics::counter!("txhook_db_errors_total").increment(1);
                "the store is unavailable; retry later".to_owned()
            }
            Self::Signature(_) => NOT_AUTHENTIC_MESSAGE.to_owned(),
            other => other.to_string(),
        };
        let mut res = (status, Json(json!({ "error": code, "message": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_refused_callback_gets_the_same_answer() {
        let all = [
            Rejection::MissingSignature,
            Rejection::MalformedSignature,
            Rejection::InvalidSignature,
            Rejection::MissingWebhookHeaders,
            Rejection::TimestampOutOfTolerance,
            Rejection::MissingStaticHeader,
            Rejection::InvalidStaticHeader,
        ];
        let mut answers = Vec::new();
        for r in all {
            let res = ApiError::Signature(r).into_response();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{r:?}");
            let body = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            answers.push(body);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
        let answer: serde_json::Value = serde_json::from_slice(&answers[0]).unwrap();
        assert_eq!(
            answer,
            json!({"error": "not_authentic", "message": NOT_AUTHENTIC_MESSAGE})
        );
    }
}
