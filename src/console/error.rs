//! The console's one error type: an HTML page with the status, never a secret.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("this change did not come from the console (origin or form token missing)")]
    Forbidden,
    #[error("the store is unavailable; try again shortly")]
    Unavailable(#[from] StoreError),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable(e) => {
                tracing::error!(error = %e, "console: store unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let page = super::layout::page(
            status.canonical_reason().unwrap_or("Error"),
            None,
            html! { p.error { (self.to_string()) } p { a href="/console" { "Back to the console" } } },
        );
        (status, page).into_response()
    }
}
