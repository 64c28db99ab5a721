//! `GET /api/v1/projection`: how far the derived state (current states, histories) trails
//! the event log, and the events the projector could not apply.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, ApiError, AppState, ErrorBody};

/// Failures listed in the answer.
const RECENT: i64 = 100;
/// The lag is counted up to this many events.
const LAG_CAP: i64 = 1_000_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(projection))
}

/// The projection: its position in the log (`position`: the sequence of the last event it
/// passed), its lag (`lagEvents`, counted up to a million; `lagSeconds`: age of the oldest
/// event not yet projected), and the latest events it could not apply (`failures`, newest
/// first, with `failureCount`).
#[utoipa::path(
    get,
    path = "/api/v1/projection",
    tag = "read",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "position, lag and failures", body = Object),
        (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
async fn projection(_: Admin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let store = &state.store;
    let position = store.projection_position().await?;
    let (lag, oldest) = store.projection_lag(LAG_CAP).await?;
    let failures = store.projection_failures(RECENT).await?;
    let failure_count = store.projection_failure_count().await?;
    let lag_seconds = crate::telemetry::age_seconds(oldest);
    Ok(Json(json!({
        "position": position.sequence,
        "lagEvents": lag,
        "lagSeconds": lag_seconds,
        "failureCount": failure_count,
        "failures": failures,
    })))
}
