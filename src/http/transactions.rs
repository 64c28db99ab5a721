//! `GET /api/v1/transactions` and `GET /api/v1/transactions/{id}`: transactions in the
//! provider's own shape.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, ApiError, AppState, ErrorBody, params};
use crate::push::transaction_json;
use crate::store::TransactionFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
}

/// A page of transactions.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionPage {
    /// Transactions in the provider's shape, plus `receivedAt` and `updatedAt`.
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// List transactions, filtered, in the order of their first callback.
#[utoipa::path(
    get,
    path = "/api/v1/transactions",
    tag = "read",
    security(("bearer" = [])),
    params(
        ("state" = Option<String>, Query, description = "current state, e.g. SUCCESS"),
        ("type" = Option<String>, Query, description = "transaction type, e.g. PAYMENT"),
        ("walletId" = Option<String>, Query, description = "wallet id"),
        ("currency" = Option<String>, Query, description = "currency of the amount, e.g. EUR"),
        ("since" = Option<String>, Query, description = "updated at or after (RFC 3339)"),
        ("limit" = Option<u32>, Query, description = "page size, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page"),
    ),
    responses(
        (status = 200, body = TransactionPage),
        (status = 400, description = "a bad parameter, named in the message", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 503, description = "the store is unavailable, or the projection is behind the log past the read-your-acks bound (`projection_stalled`)", body = ErrorBody),
    )
)]
async fn list(
    _: Admin,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TransactionPage>, ApiError> {
    let q = params::query(
        raw.as_deref(),
        &[
            "state", "type", "walletId", "currency", "since", "limit", "cursor",
        ],
    )?;
    let filter = TransactionFilter {
        state: params::text(&q, "state")?,
        kind: params::text(&q, "type")?,
        wallet_id: params::text(&q, "walletId")?,
        currency: params::text(&q, "currency")?,
        since: params::time(&q, "since")?,
    };
    let limit = params::limit(q.get("limit"), 50, 500)?;
    let after = params::decode_cursor(q.get("cursor"))?;
    state.consistency.caught_up().await?;
    let page = state.store.list_transactions(&filter, after, limit).await?;
    Ok(Json(TransactionPage {
        items: page.items.into_iter().map(transaction_json).collect(),
        next_cursor: page.next_after.map(params::encode_cursor),
    }))
}

/// One transaction: its current state and the history of its callbacks.
#[utoipa::path(
    get,
    path = "/api/v1/transactions/{id}",
    tag = "read",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the provider's transaction id")),
    responses(
        (status = 200, description = "the callback that set the current state, plus receivedAt, updatedAt and history", body = Object),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 503, description = "the store is unavailable, or the projection is behind the log past the read-your-acks bound (`projection_stalled`)", body = ErrorBody),
    )
)]
async fn one(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = params::storable(&id, "id")?;
    state.consistency.caught_up().await?;
    let store = &state.store;
    let view = store.transaction(id).await?.ok_or(ApiError::NotFound)?;
    let history = store.history(id).await?;
    let mut body = transaction_json(view);
    if let Value::Object(map) = &mut body {
        map.insert("history".into(), json!(history));
    }
    Ok(Json(body))
}
