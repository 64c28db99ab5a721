//! `GET /api/v1/transactions/{id}`: a transaction in the provider's own shape, with history.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Admin, ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/transactions/{id}", get(one))
}

async fn one(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = &state.store;
    let view = store.transaction(&id).await?.ok_or(ApiError::NotFound)?;
    let history = store.history(&id).await?;
    // The stored body is the provider's JSON; `arbitrary_precision` keeps its numbers'
    // digits through this parse and back out.
    let mut body: Value = serde_json::from_slice(&view.body).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut body {
        map.insert("receivedAt".into(), json!(view.received_at));
        map.insert("updatedAt".into(), json!(view.updated_at));
        map.insert("history".into(), json!(history));
    }
    Ok(Json(body))
}
