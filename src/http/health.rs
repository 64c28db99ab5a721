//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// 200 while the process runs.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the database answers and migrations are applied, else 503. The provider
/// registration is shown as detail and does not decide readiness: callbacks are received
/// while it is pending.
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (status, mut body) = database_readiness(&state).await;
    if state.config.provider_url.is_some() {
        body["registration"] = json!(state.registration.get());
    }
    (status, Json(body))
}

async fn database_readiness(state: &AppState) -> (StatusCode, Value) {
    match tokio::time::timeout(state.config.store_timeout, state.store.ready()).await {
        Ok(Ok(())) => (StatusCode::OK, json!({ "status": "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "unavailable", "database": e.to_string() }),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "unavailable", "database": "timed out" }),
        ),
    }
}
