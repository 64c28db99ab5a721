//! A destination's deliveries: replaying them from a sequence, the latest attempts, the dead
//! letters.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::input::{bad_body, before};
use super::{found, parse_id};
use crate::http::{Admin, ApiError, AppState, ErrorBody};

/// Attempts and dead letters listed.
const RECENT: i64 = 100;

/// Where a replay starts.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// The first sequence delivered again.
    from: i64,
}

/// Deliver every matching event from sequence `from` on again (delivered and dead-lettered
/// ones included).
#[utoipa::path(
    post,
    path = "/api/v1/destinations/{id}/replay",
    tag = "destinations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the destination's id")),
    request_body = Replay,
    responses((status = 202, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub(super) async fn replay(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Replay>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = parse_id(&id)?;
    let Json(replay) = body.map_err(bad_body)?;
    let from = before(&state, replay.from).await?;
    if !state.store.replay_destination(id, from).await? {
        return Err(ApiError::NotFound);
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "replayingFrom": replay.from })),
    ))
}

/// The latest delivery attempts, newest first: `sequence`, `attempt`, `attemptedAt`,
/// `status` (HTTP, when an answer came), `latencyMs`, `error`.
#[utoipa::path(
    get,
    path = "/api/v1/destinations/{id}/attempts",
    tag = "destinations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the destination's id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub(super) async fn attempts(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = found(&state, &id).await?;
    let items = state.store.delivery_attempts(row.id, RECENT).await?;
    Ok(Json(json!({ "items": items })))
}

/// The dead-lettered deliveries: given up on after `TXHOOK_DELIVERY_MAX_AGE`; replay them
/// with `/replay`.
#[utoipa::path(
    get,
    path = "/api/v1/destinations/{id}/dead-letters",
    tag = "destinations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the destination's id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub(super) async fn dead_letters(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = found(&state, &id).await?;
    let items = state.store.dead_letters(row.id, RECENT).await?;
    Ok(Json(json!({ "items": items })))
}
