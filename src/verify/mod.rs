//! Callback authentication, over the raw bytes and a header map, before anything is parsed.
//!
//! Pure: no I/O, no database. Both halves live here: [`verify`] for the receiver and
//! [`sign`] for the dev tools that play the provider.

mod keys;
mod sign;
mod standard;

use http::HeaderMap;
use std::time::SystemTime;

pub use keys::{Keys, StaticHeader, decode_whsec};
pub use sign::{sign_hmac_hex, sign_standard};

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How the provider signs callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `header = HMAC-SHA256(shared key, raw body)`, hex or base64.
    HmacSha256 { header: http::HeaderName },
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
}

impl Scheme {
    /// Parses the scheme name and, for `hmac-sha256`, the signature header name.
    pub fn parse(name: &str, header: &str) -> Result<Self, String> {
        match name {
            "hmac-sha256" => {
                let header = http::HeaderName::try_from(header)
                    .map_err(|_| format!("signature header {header:?} is not a header name"))?;
                Ok(Self::HmacSha256 { header })
            }
            "standard-webhooks" => Ok(Self::StandardWebhooks),
            other => Err(format!(
                "{other:?} is not one of: hmac-sha256, standard-webhooks"
            )),
        }
    }
}

/// Why a callback was refused. The reason is a metric label and the `error` code of the 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the signature header is missing")]
    MissingSignature,
    #[error("the signature is not valid hex or base64 of an HMAC-SHA256")]
    MalformedSignature,
    #[error("the signature does not match the body")]
    InvalidSignature,
    #[error("the webhook-id or webhook-timestamp header is missing or malformed")]
    MissingWebhookHeaders,
    #[error("the webhook-timestamp is outside the accepted tolerance")]
    TimestampOutOfTolerance,
    #[error("the required static header is missing")]
    MissingStaticHeader,
    #[error("the required static header has the wrong value")]
    InvalidStaticHeader,
}

impl Rejection {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature => "malformed_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::MissingWebhookHeaders => "missing_webhook_headers",
            Self::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            Self::MissingStaticHeader => "missing_static_header",
            Self::InvalidStaticHeader => "invalid_static_header",
        }
    }
}

/// What a verified callback tells about its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `webhook-id` under standard-webhooks: the deduplication key.
    pub webhook_id: Option<String>,
}

/// Everything needed to verify a callback.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub scheme: Scheme,
    pub keys: Keys,
    pub static_header: Option<StaticHeader>,
}

impl Verifier {
    /// Checks the static header (when configured) and the signature of `body`.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        if let Some(sh) = &self.static_header {
            sh.check(headers)?;
        }
        match &self.scheme {
            Scheme::HmacSha256 { header } => {
                let value = headers
                    .get(header)
                    .ok_or(Rejection::MissingSignature)?
                    .to_str()
                    .map_err(|_| Rejection::MalformedSignature)?;
                let sig = decode_hmac_signature(value)?;
                let ok = self.keys.iter().any(|key| {
                    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key");
                    mac.update(body);
                    mac.verify_slice(&sig).is_ok()
                });
                if ok {
                    Ok(Verified { webhook_id: None })
                } else {
                    Err(Rejection::InvalidSignature)
                }
            }
            Scheme::StandardWebhooks => standard::verify(&self.keys, headers, body, now),
        }
    }
}

/// Decodes an `hmac-sha256` header value: hex (either case, optional `sha256=` prefix) or
/// standard base64; anything that is not exactly 32 bytes is malformed.
fn decode_hmac_signature(value: &str) -> Result<[u8; 32], Rejection> {
    use base64::Engine;
    let v = value.trim();
    let v = match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256=") => &v[7..],
        _ => v,
    };
    let bytes = if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(v).map_err(|_| Rejection::MalformedSignature)?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|_| Rejection::MalformedSignature)?
    };
    bytes.try_into().map_err(|_| Rejection::MalformedSignature)
}

#[cfg(test)]
mod tests;
