//! `/api/v1/destinations`: the HTTP endpoints txhook pushes events to, managed with the
//! bearer token. Each has its own `whsec_` secret (shown once, at creation), filter and
//! position in the log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Admin, ApiError, AppState, ErrorBody};
use crate::push::{Filter, new_secret};
use crate::store::{DestinationRow, Position, TailError};

/// Attempts and dead letters listed.
const RECENT: i64 = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(one, update, remove))
        .routes(routes!(replay))
        .routes(routes!(attempts))
        .routes(routes!(dead_letters))
}

/// A new destination.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDestination {
    /// Where events are POSTed (http or https).
    url: String,
    #[serde(default)]
    filter: Option<Filter>,
    /// `"now"` (the default: events logged from now on) or a sequence to start from.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    from: Option<Value>,
}

/// What a PATCH changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationChange {
    url: Option<String>,
    filter: Option<Filter>,
    paused: Option<bool>,
}

/// Where a replay starts.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// The first sequence delivered again.
    from: i64,
}

/// Add a destination: `201` with its `id` and `secret` (`whsec_…`, shown only here).
#[utoipa::path(
    post,
    path = "/api/v1/destinations",
    tag = "destinations",
    security(("bearer" = [])),
    request_body = NewDestination,
    responses(
        (status = 201, description = "the destination, with its secret", body = Object),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
    )
)]
async fn create(
    _: Admin,
    State(state): State<AppState>,
    body: Result<Json<NewDestination>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(new) = body.map_err(bad_body)?;
    let url = valid_url(&new.url)?;
    let filter = valid_filter(new.filter.unwrap_or_default())?;
    let from = match new.from {
        None => state.store.log_end().await?,
        Some(Value::String(s)) if s == "now" => state.store.log_end().await?,
        Some(v) => {
            before(
                &state,
                v.as_i64()
                    .ok_or_else(|| bad("from", "must be \"now\" or a sequence"))?,
            )
            .await?
        }
    };
    let secret = new_secret();
    let row = state
        .store
        .create_destination(Uuid::new_v4(), &url, &secret, &json!(filter), from)
        .await?;
    let mut shown = described(&state, row).await?;
    shown["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(shown)))
}

/// Every destination with its status.
#[utoipa::path(
    get,
    path = "/api/v1/destinations",
    tag = "destinations",
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody))
)]
async fn list(_: Admin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut items = Vec::new();
    for row in state.store.destinations().await? {
        items.push(described(&state, row).await?);
    }
    Ok(Json(json!({ "items": items })))
}

/// One destination: `url`, `filter`, `paused`, `position`, and its deliveries' status:
/// `lastDelivered`, `backlog`, `failingSince`, `lastError`, `deadLettered`.
#[utoipa::path(
    get,
    path = "/api/v1/destinations/{id}",
    tag = "destinations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the destination's id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn one(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = found(&state, &id).await?;
    Ok(Json(described(&state, row).await?))
}

/// Change a destination's `url`, `filter` or `paused`.
#[utoipa::path(
    patch,
    path = "/api/v1/destinations/{id}",
    tag = "destinations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the destination's id")),
    request_body = DestinationChange,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn update(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<DestinationChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let Json(change) = body.map_err(bad_body)?;
    let url = change.url.as_deref().map(valid_url).transpose()?;
    let filter = change
        .filter
        .map(valid_filter)
        .transpose()?
        .map(|f| json!(f));
    let row = state
        .store
        .update_destination(id, url.as_deref(), filter.as_ref(), change.paused)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(described(&state, row).await?))
}

/// Remove a destination, its deliveries and attempts.
#[utoipa::path(
    delete,
    path = "/api/v1/destinations/{id}",
    tag = "destinations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the destination's id")),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn remove(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_destination(parse_id(&id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
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
async fn replay(
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
async fn attempts(
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
async fn dead_letters(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = found(&state, &id).await?;
    let items = state.store.dead_letters(row.id, RECENT).await?;
    Ok(Json(json!({ "items": items })))
}

/// A destination as shown: never its secret.
async fn described(state: &AppState, row: DestinationRow) -> Result<Value, ApiError> {
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

async fn found(state: &AppState, id: &str) -> Result<DestinationRow, ApiError> {
    state
        .store
        .destination(parse_id(id)?)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The position just before the event `sequence`, so that it is the first one delivered.
async fn before(state: &AppState, sequence: i64) -> Result<Position, ApiError> {
    state
        .store
        .position_before(sequence)
        .await?
        .ok_or_else(|| bad("from", &TailError::UnknownPosition(sequence).to_string()))
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    // An id that is not a UUID names no destination.
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound)
}

fn valid_url(url: &str) -> Result<String, ApiError> {
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

fn valid_filter(filter: Filter) -> Result<Filter, ApiError> {
    filter
        .validate()
        .map_err(|e| bad("filter", &e.to_string()))?;
    Ok(filter)
}

fn bad(param: &'static str, why: &str) -> ApiError {
    ApiError::BadParameter {
        param,
        why: why.to_owned(),
    }
}

fn bad_body(e: axum::extract::rejection::JsonRejection) -> ApiError {
    bad("body", &e.body_text())
}
