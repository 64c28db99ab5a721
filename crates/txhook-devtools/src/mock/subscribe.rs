//! `POST /api/v1/transactions/subscribe`, validated as the provider document describes:
//! `callbackUrl` and `sharedKey` required, the URL must parse; 400 with a reason otherwise.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{Mock, Subscriber, generate};
use crate::Signer;
use crate::args::MockScheme;
use txhook_core::verify::{Scheme, decode_whsec};

type Answer = (StatusCode, Json<Value>);

fn refuse(status: StatusCode, code: &str, message: &str) -> Answer {
    (status, Json(json!({ "error": code, "message": message })))
}

fn bad(message: &str) -> Answer {
    refuse(StatusCode::BAD_REQUEST, "bad_request", message)
}

pub(super) async fn subscribe(
    State(mock): State<Mock>,
    headers: HeaderMap,
    body: String,
) -> Answer {
    mock.ledger().subscribe_requests += 1;
    if let Some(key) = &mock.0.args.api_key {
        let expected = format!("Bearer {key}");
        if headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token",
            );
        }
    }
    let (callback_url, signer) = match validate(&mock, &body) {
        Ok(v) => v,
        Err(why) => {
            tracing::warn!(%why, "subscription refused");
            return bad(&why);
        }
    };
    let key = callback_url.to_string();
    let (subscriber, new) = {
        let mut subs = mock.0.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        match subs.get(&key) {
            Some(existing) => {
                *existing.signer.lock().unwrap_or_else(|e| e.into_inner()) = signer;
                (existing.clone(), false)
            }
            None => {
                let s = Arc::new(Subscriber {
                    callback_url: callback_url.clone(),
                    signer: Mutex::new(signer),
                });
                subs.insert(key.clone(), s.clone());
                (s, true)
            }
        }
    };
    tracing::info!(callback_url = %key, new, "subscribed");
    if new {
        tokio::spawn(generate::lifecycles(mock.clone(), subscriber));
    }
    (
        StatusCode::CREATED,
        Json(json!({ "callbackUrl": key, "status": "subscribed" })),
    )
}

/// The subscription's callbackUrl and how to sign for it, or why the body is refused.
fn validate(mock: &Mock, body: &str) -> Result<(url::Url, Signer), String> {
    let v: Value = serde_json::from_str(body).map_err(|_| "body is not JSON".to_owned())?;
    let obj = v.as_object().ok_or("body is not a JSON object")?;
    let text = |field: &str| -> Result<Option<&str>, String> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{field} must be a string")),
        }
    };
    let url_text = text("callbackUrl")?.ok_or("callbackUrl is required")?;
    let callback_url = url::Url::parse(url_text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or("callbackUrl must be an absolute http or https URL")?;
    let shared_key = text("sharedKey")?
        .filter(|k| !k.is_empty())
        .ok_or("sharedKey is required")?;
    let static_header = match (text("headerKey")?, text("headerValue")?) {
        (None, None) => None,
        (Some(name), Some(value)) => {
            let name = HeaderName::try_from(name).map_err(|_| "headerKey is not a header name")?;
            HeaderValue::from_str(value).map_err(|_| "headerValue is not a header value")?;
            Some((name, SecretString::from(value.to_owned())))
        }
        _ => return Err("headerKey and headerValue go together".into()),
    };
    let args = &mock.0.args;
    let (scheme, key) = match args.scheme {
        MockScheme::HmacSha256 => (
            Scheme::parse("hmac-sha256", &args.signature_header)
                .map_err(|_| "the mock's --signature-header is not a header name")?,
            shared_key.as_bytes().to_vec(),
        ),
        MockScheme::StandardWebhooks => (
            Scheme::StandardWebhooks,
            decode_whsec(shared_key)
                .ok_or("sharedKey must be a whsec_ secret (standard-webhooks)")?,
        ),
    };
    Ok((callback_url, Signer::new(scheme, key, static_header)))
}
