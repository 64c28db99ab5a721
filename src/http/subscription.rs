//! `GET /api/v1/subscription`: the provider registration as recorded in the database (so
//! every replica answers the same), with the latest attempts.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, ApiError, AppState, ErrorBody};
use crate::provider::RegistrationState;

/// Attempts listed in the answer.
const RECENT: i64 = 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(subscription))
}

/// The provider registration: state (`not_configured`, `pending`, `retrying`, `registered`,
/// `rejected`), callbackUrl, when it succeeded, and the latest attempts with the provider's
/// answers.
#[utoipa::path(
    get,
    path = "/api/v1/subscription",
    tag = "read",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the registration as recorded", body = Object),
        (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
async fn subscription(_: Admin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Some(reg) = state.provider.as_deref() else {
        return Ok(Json(json!({
            "configured": false,
            "state": RegistrationState::NotConfigured,
        })));
    };
    let attempts = state
        .store
        .registrations(&reg.fingerprint(), RECENT)
        .await?;
    let mine = |a: &&crate::store::RegistrationRow| {
        a.current_key && a.callback_url == reg.callback_url && a.provider_url == reg.provider
    };
    let last = attempts.iter().find(mine);
    let registered_at = state
        .store
        .registered(&reg.provider, &reg.callback_url, &reg.fingerprint())
        .await?;
    let state_name = last.map_or("pending", |a| a.outcome.as_str());
    Ok(Json(json!({
        "configured": true,
        "providerUrl": reg.provider,
        "callbackUrl": reg.callback_url,
        "state": state_name,
        "registeredAt": registered_at,
        "lastAttempt": last,
        "recentAttempts": attempts,
    })))
}
