//! `/api/v1/destinations`: the HTTP endpoints txhook pushes events to, managed with the
//! bearer token. Each has its own `whsec_` secret (shown once, at creation), filter and
//! position in the log.
//!
//! - [`manage`]: adding, listing, showing, changing and removing destinations;
//! - [`deliveries`]: a destination's deliveries: replay, attempts, dead letters;
//! - [`input`]: checking what a request gives;
//! - here: the router, and a destination as shown.

mod deliveries;
mod input;
mod manage;

use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiError, AppState};
use crate::store::DestinationRow;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(manage::create, manage::list))
        .routes(routes!(manage::one, manage::update, manage::remove))
        .routes(routes!(deliveries::replay))
        .routes(routes!(deliveries::attempts))
        .routes(routes!(deliveries::dead_letters))
}

/// A destination as shown: never its secret.
pub(super) async fn described(state: &AppState, row: DestinationRow) -> Result<Value, ApiError> {
    let status = state.store.delivery_status(row.id).await?;
    Ok(json!({
        "id": row.id,
        // Credentials in the URL are the destination's secret too: never shown.
        "url": crate::redact::url_text(&row.url),
        "filter": row.filter,
        "paused": row.paused,
        "position": row.sequence,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "lastDelivered": status.last_delivered_sequence.map(|s| json!({
            "sequence": s,
            "at": status.last_delivered_at,
        })),
        "backlog": status.backlog,
        "oldestPendingAt": status.oldest_pending_at,
        "failingSince": status.failing_since,
        "lastError": status.last_error,
        "deadLettered": status.dead_lettered,
    }))
}

pub(super) async fn found(state: &AppState, id: &str) -> Result<DestinationRow, ApiError> {
    state
        .store
        .destination(parse_id(id)?)
        .await?
        .ok_or(ApiError::NotFound)
}

pub(super) fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    // An id that is not a UUID names no destination.
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound)
}
