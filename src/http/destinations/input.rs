//! Checking what a request gives: the URL, the filter, where to start, the body itself.

use crate::http::{ApiError, AppState};
use crate::push::Filter;
use crate::store::{Position, TailError};

/// The position just before the event `sequence`, so that it is the first one delivered.
pub(super) async fn before(state: &AppState, sequence: i64) -> Result<Position, ApiError> {
    state
        .store
        .position_before(sequence)
        .await?
        .ok_or_else(|| bad("from", &TailError::UnknownPosition(sequence).to_string()))
}

pub(super) fn valid_url(url: &str) -> Result<String, ApiError> {
    match url::Url::parse(url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && url.len() <= 2048 =>
        {
            Ok(u.to_string())
        }
        _ => Err(bad("url", "must be an absolute http or https URL")),
    }
}

pub(super) fn valid_filter(filter: Filter) -> Result<Filter, ApiError> {
    filter
        .validate()
        .map_err(|e| bad("filter", &e.to_string()))?;
    Ok(filter)
}

pub(super) fn bad(param: &'static str, why: &str) -> ApiError {
    ApiError::BadParameter {
        param,
        why: why.to_owned(),
    }
}

pub(super) fn bad_body(e: axum::extract::rejection::JsonRejection) -> ApiError {
    bad("body", &e.body_text())
}
