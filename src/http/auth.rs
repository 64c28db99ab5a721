//! Bearer-token authentication of the read API.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

/// Present in a handler's arguments: the request carried `Authorization: Bearer <admin token>`.
/// Without a configured token every request is refused.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = state
            .settings
            .admin_token
            .as_ref()
            .ok_or(ApiError::Unauthorized)?;
        let given = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        // Digests of equal length, compared in constant time: neither content nor length leaks.
        let a = Sha256::digest(given.trim().as_bytes());
        let b = Sha256::digest(token.expose_secret().as_bytes());
        if bool::from(a.ct_eq(&b)) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}
