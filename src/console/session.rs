//! Signing in to the console: the admin token, given once in a form, becomes a session
//! cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind https, 12 hours). Every change made
//! from the console must come from the console itself: its `Origin` (or `Referer`) is this
//! server and its form carries the session's CSRF token.
//!
//! The cookie is `<expiry>.<nonce>.<mac>`, the MAC keyed by a hash of the admin token, so
//! changing the token signs everyone out. Signing out records the session's nonce in
//! PostgreSQL until its expiry: a copy of the cookie (another tab, a stolen one) stops working
//! at once, on every replica.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ConsoleError;
use crate::http::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "txhook_session";
/// How long a session lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    nonce: String,
    /// When the session ends by itself (Unix seconds).
    expiry: i64,
    key: [u8; 32],
}

impl Session {
    /// The token that forms of this session carry.
    pub fn csrf(&self) -> String {
        hex::encode(mac(&self.key, &format!("csrf.{}", self.nonce)))
    }

    /// Whether `token` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, token: &str) -> bool {
        token.as_bytes().ct_eq(self.csrf().as_bytes()).into()
    }

    /// Ends the session everywhere: its cookie no longer signs anyone in.
    pub async fn sign_out(&self, state: &AppState) -> Result<(), ConsoleError> {
        let expires_at = chrono::DateTime::from_timestamp(self.expiry, 0).unwrap_or_default();
        state
            .store
            .sign_out_console_session(&self.nonce, expires_at)
            .await?;
        Ok(())
    }

    /// A state-changing form of this session goes through only when it comes from the
    /// console's own pages ([`same_origin`]) and carries the session's CSRF token.
    pub fn check_form(&self, headers: &HeaderMap, token: &str) -> Result<(), ConsoleError> {
        if same_origin(headers) && self.csrf_ok(token) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }
}

/// The key sessions are signed with, when an admin token is configured.
fn key(state: &AppState) -> Option<[u8; 32]> {
    let token = state.settings.admin_token.as_ref()?;
    let mut h = Sha256::new();
    h.update(b"txhook-console-session\0");
    h.update(token.expose_secret().as_bytes());
    Some(h.finalize().into())
}

fn mac(key: &[u8], text: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("hmac takes any key");
    m.update(text.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Whether `given` is the admin token (constant time).
pub fn token_ok(state: &AppState, given: &str) -> bool {
    state
        .settings
        .admin_token
        .as_ref()
        .is_some_and(|t| given.as_bytes().ct_eq(t.expose_secret().as_bytes()).into())
}

/// The `Set-Cookie` value of a new session.
pub fn new_cookie(state: &AppState) -> Option<String> {
    let key = key(state)?;
    let expiry = chrono::Utc::now().timestamp() + LIFETIME.as_secs() as i64;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let value = format!(
        "{expiry}.{nonce}.{}",
        hex::encode(mac(&key, &format!("session.{expiry}.{nonce}")))
    );
    Some(format!(
        "{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
        LIFETIME.as_secs(),
        secure(state)
    ))
}

/// The `Set-Cookie` value that ends a session.
pub fn ended_cookie(state: &AppState) -> String {
    format!(
        "{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(state)
    )
}

/// `Secure` when the console is reached over https (the public URL says so).
fn secure(state: &AppState) -> &'static str {
    match &state.settings.public_url {
        Some(u) if u.scheme() == "https" => "; Secure",
        _ => "",
    }
}

fn session_from(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let key = key(state)?;
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .next()?;
    let mut parts = value.splitn(3, '.');
    let (expiry, nonce, given) = (parts.next()?, parts.next()?, parts.next()?);
    let expected = hex::encode(mac(&key, &format!("session.{expiry}.{nonce}")));
    if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return None;
    }
    let expiry = expiry.parse::<i64>().ok()?;
    if expiry < chrono::Utc::now().timestamp() {
        return None;
    }
    Some(Session {
        nonce: nonce.to_owned(),
        expiry,
        key,
    })
}

/// Without a session a page redirects to the sign-in form.
pub struct SignIn;

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        Redirect::to("/console/login").into_response()
    }
}

impl FromRequestParts<AppState> for Session {
    /// The sign-in form, or the console's error page when the store cannot say whether the
    /// session was signed out (never let in on a guess).
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = session_from(state, &parts.headers).ok_or(SignIn.into_response())?;
        match state.store.console_session_signed_out(&session.nonce).await {
            Ok(false) => Ok(session),
            Ok(true) => Err(SignIn.into_response()),
            Err(e) => Err(ConsoleError::from(e).into_response()),
        }
    }
}

/// Whether a state-changing request comes from this server's own pages: its `Origin` (or,
/// without one, its `Referer`) names the host it was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok());
    from.is_some_and(|u| {
        let authority = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
            None => u.host_str().unwrap_or("").to_owned(),
        };
        authority.eq_ignore_ascii_case(host)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_requests_from_this_host_count_as_same_origin() {
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "txhook.example"),
            ("referer", "https://txhook.example/console/quarantine")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:8080")])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "null")
        ])));
    }
}
