//! The OpenAPI 3.1 description, generated from the handlers' annotations. Every route is
//! registered through [`routes`], so the router and the document cannot drift apart.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::{
    AppState, destinations, events, health, metrics, projection, subscription, transactions,
    webhook,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "txhook",
        description = "Receives payment-transaction callbacks and stream events and keeps them, exactly once, in PostgreSQL."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "callbacks", description = "the provider's callbackUrl"),
        (name = "read", description = "reading back what txhook holds (bearer TXHOOK_ADMIN_TOKEN)"),
        (name = "destinations", description = "HTTP endpoints txhook pushes events to, signed the Standard Webhooks way (bearer TXHOOK_ADMIN_TOKEN)"),
        (name = "operations", description = "health, readiness, metrics, this document"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route of the application, with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(webhook::router())
        .merge(transactions::router())
        .merge(events::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(subscription::router())
        .merge(projection::router())
        .merge(destinations::router())
        .routes(utoipa_axum::routes!(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses(
    (status = 200, description = "the OpenAPI 3.1 description of every endpoint", body = Object),
))]
async fn openapi_json() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}

/// The OpenAPI document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| routes().split_for_parts().1)
}
