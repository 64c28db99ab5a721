//! The callback's raw body: up to the configured limit, within the request timeout, holding
//! its share of the unverified-bytes budget.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;
use tokio::sync::OwnedSemaphorePermit;

use crate::http::{ApiError, AppState};

/// The body, up to the configured limit (413 above it, refused from `Content-Length` alone
/// when declared) and within the request timeout, with the share of the unverified-bytes
/// budget it holds: the caller keeps that until the signature is checked. When the budget
/// is spent the answer is 503 with `Retry-After`, so that senders without the key cannot
/// make the server hold more than `TXHOOK_MAX_UNVERIFIED_BYTES` of bodies at once.
pub(super) async fn read_body(
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
