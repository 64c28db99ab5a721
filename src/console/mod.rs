//! The operator console at `/console`: server-rendered pages (maud templates compiled into
//! the binary) and a little embedded JavaScript for the live event log. No other process, no
//! build step, no asset from the internet; everything a sender wrote is escaped.
//!
//! Signing in takes the admin token ([`session`]); every change made from the console is
//! checked for its origin and CSRF token; a `Content-Security-Policy` allows only the
//! console's own assets.

mod destinations;
mod error;
mod events;
mod layout;
mod login;
mod overview;
mod quarantine;
pub mod session;
mod transactions;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::http::AppState;

/// Only the console's own scripts, styles and connections; no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(overview::page))
        .route("/console/login", get(login::form).post(login::sign_in))
        .route("/console/logout", post(login::sign_out))
        .route("/console/transactions", get(transactions::list))
        .route("/console/transactions/{id}", get(transactions::one))
        .route("/console/events", get(events::page))
        .route("/console/events/stream", get(events::stream))
        .route("/console/events/{sequence}", get(events::one))
        .route("/console/quarantine", get(quarantine::page))
        .route("/console/quarantine/reprocess", post(quarantine::reprocess))
        .route("/console/rejected", get(quarantine::rejected))
        .route("/console/destinations", get(destinations::page))
        .route(
            "/console/destinations/{id}/replay",
            post(destinations::replay),
        )
        .route(
            "/console/destinations/{id}/pause",
            post(destinations::pause),
        )
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .route("/console/assets/favicon.svg", get(icon))
        .layer(axum::middleware::map_response(secure_headers))
}

async fn secure_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("assets/console.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("assets/console.js"),
    )
        .into_response()
}

async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("assets/favicon.svg"),
    )
        .into_response()
}
