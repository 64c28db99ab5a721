//! `GET /metrics`: Prometheus text.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics: callbacks by outcome, rejections by reason, request latency, database
/// errors, pool usage, and the stream's state (connected, reconnects, events by name, last
/// event time, malformed frames, refused subscriptions).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.store.pool();
    let idle = pool.num_idle() as f64;
    metrics::gauge!("txhook_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("txhook_db_pool_connections", "state" => "in_use")
        .set(f64::from(pool.size()) - idle);
    metrics::gauge!("txhook_db_pool_max_connections").set(f64::from(
        state.store.pool().options().get_max_connections(),
    ));
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
