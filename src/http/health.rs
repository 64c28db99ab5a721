//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, ApiError, AppState};

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

/// 200 when the database answers and migrations are applied, else 503. The check runs at most
/// once a second, on a connection of its own (see [`super::readiness`]).
///
/// The body says `ready` or `unavailable` to anyone. With the admin token
/// (`Authorization: Bearer …`) it also carries the detail: `database` (why not ready),
/// `writeQueue` (callbacks waiting for a group commit), `registration` (the provider
/// registration and its answers, when configured) and `stream` (state, last error such as a
/// refused realm key, reconnects and events, when ingestion runs). None of that detail
/// decides readiness: callbacks are received regardless.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "ready to store callbacks", body = Object),
    (status = 503, description = "database unreachable or migrations pending", body = Object),
), security((), ("bearer" = [])))]
async fn readyz(
    State(state): State<AppState>,
    admin: Result<Admin, ApiError>,
) -> (StatusCode, Json<Value>) {
    let database = state.readiness.check().await;
    let (status, mut body) = match &database {
        Ok(()) => (StatusCode::OK, json!({ "status": "ready" })),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "unavailable" }),
        ),
    };
    if admin.is_err() {
        return (status, Json(body));
    }
    if let Err(why) = database {
        body["database"] = json!(why);
    }
    body["writeQueue"] = json!(state.writer.queued());
    if state.provider.is_some() {
        body["registration"] = json!(state.registration.get());
    }
    if let Some(stream) = &state.stream {
        body["stream"] = json!(stream.snapshot());
    }
    (status, Json(body))
}
