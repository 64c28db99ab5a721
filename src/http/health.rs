//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::store::Writer;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "the process runs", body = Object)))]
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the database answers and migrations are applied, else 503.
///
/// Detail that does not decide readiness (callbacks are received regardless): `writeQueue`
/// (callbacks waiting for a group commit), `registration` (the provider registration, when
/// configured) and `stream` (state, last error such as a refused realm key, reconnects and
/// events, when ingestion runs).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "ready to store callbacks", body = Object),
    (status = 503, description = "database unreachable or migrations pending", body = Object),
))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (status, mut body) = database_readiness(&state).await;
    if let Writer::Batched(b) = &state.writer {
        body["writeQueue"] = json!(b.queued());
    }
    if state.config.provider_url.is_some() {
        body["registration"] = json!(state.registration.get());
    }
    if let Some(stream) = &state.stream {
        body["stream"] = json!(stream.snapshot());
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
