//! Callback authentication, over the raw bytes and a header map, before anything is parsed.
//!
//! Pure: no I/O, no database. Both halves live here: [`verify`] for the receiver and
//! [`sign`] for the dev tools that play the provider.

mod hmac_sha256;
mod keys;
mod sign;
mod standard;

use http::HeaderMap;
use std::time::SystemTime;

pub use keys::{KeyError, KeyRole, Keys, StaticHeader, decode_whsec};
pub use sign::{sign_hmac_hex, sign_standard, sign_standard_text};

use hmac::Hmac;
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

/// Why a callback was refused: the `reason` label of `txhook_callbacks_rejected_total` and of
/// the warning log. The HTTP answer does not tell it: every refusal answers 401
/// [`Rejection::PUBLIC_CODE`], so that a sender without the key learns nothing about which
/// part of its request was wrong (in particular, whether it guessed the static header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the signature header is missing")]
    MissingSignature,
    #[error("the signature is not valid hex or base64 of an HMAC-SHA256")]
    MalformedSignature,
    #[error("the signature does not match the body")]
    InvalidSignature,
    #[error(
        "the webhook-id or webhook-timestamp header (or svix-id, svix-timestamp) is missing or malformed"
    )]
    MissingWebhookHeaders,
    #[error("the webhook-timestamp is outside the accepted tolerance")]
    TimestampOutOfTolerance,
    #[error("the required static header is missing")]
    MissingStaticHeader,
    #[error("the required static header has the wrong value")]
    InvalidStaticHeader,
}

impl Rejection {
    /// The one `error` code of every refusal's HTTP answer.
    pub const PUBLIC_CODE: &'static str = "not_authentic";

    /// Stable machine-readable reason, for metrics and logs (never the HTTP answer).
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
    /// Checks the signature of `body` and the static header (when configured).
    ///
    /// Both checks always run, and a failure is reported only after both: neither the answer
    /// nor the time taken tells a sender without the key whether its static header was right.
    /// When both fail, the signature's reason is the one reported. The only shortcuts inside
    /// the signature check depend on what the sender sent (a header missing or malformed, a
    /// timestamp out of tolerance), never on a secret.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let signature = match &self.scheme {
            Scheme::HmacSha256 { header } => hmac_sha256::verify(&self.keys, header, headers, body),
            Scheme::StandardWebhooks => standard::verify(&self.keys, headers, body, now),
        };
        let static_header = match &self.static_header {
            Some(sh) => sh.check(headers),
            None => Ok(()),
        };
        match (signature, static_header) {
            (Ok(verified), Ok(())) => Ok(verified),
            (Err(r), _) | (Ok(_), Err(r)) => Err(r),
        }
    }
}

#[cfg(test)]
mod tests;
