//! Adding, listing, showing, changing and removing destinations.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::{bad, bad_body, before, valid_filter, valid_url};
use super::{described, found, parse_id};
use crate::http::{Admin, ApiError, AppState, ErrorBody};
use crate::push::{Filter, new_secret};

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
pub(super) async fn create(
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
pub(super) async fn list(_: Admin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
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
pub(super) async fn one(
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
pub(super) async fn update(
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
pub(super) async fn remove(
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
