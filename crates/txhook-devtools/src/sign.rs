//! Signing a body the way the provider does, for the dev tools.

use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use txhook_core::SigningConfig;
use txhook_core::verify::{Scheme, sign_hmac_hex, sign_standard};

/// A scheme, a key and an optional static header. Its `Debug` shows no secret.
#[derive(Clone)]
pub struct Signer {
    scheme: Scheme,
    key: SecretSlice<u8>,
    static_header: Option<(HeaderName, SecretString)>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("scheme", &self.scheme)
            .field("key", &"[REDACTED]")
            .field("static_header", &self.static_header.as_ref().map(|h| &h.0))
            .finish()
    }
}

impl Signer {
    /// `key` is the raw key bytes (already decoded from `whsec_` under standard-webhooks).
    pub fn new(
        scheme: Scheme,
        key: Vec<u8>,
        static_header: Option<(HeaderName, SecretString)>,
    ) -> Self {
        Self {
            scheme,
            key: SecretSlice::from(key),
            static_header,
        }
    }

    /// The headers that authenticate `body`: the signature (and, under standard-webhooks,
    /// `webhook-id` = `id` and `webhook-timestamp` = `timestamp`) plus the static header.
    pub fn headers(&self, body: &[u8], id: &str, timestamp: u64) -> HeaderMap {
        let key = self.key.expose_secret();
        let mut h = HeaderMap::new();
        match &self.scheme {
            Scheme::HmacSha256 { header } => {
                h.insert(header.clone(), value(&sign_hmac_hex(key, body)));
            }
            Scheme::StandardWebhooks => {
                h.insert("webhook-id", value(id));
                h.insert("webhook-timestamp", value(&timestamp.to_string()));
                h.insert(
                    "webhook-signature",
                    value(&sign_standard(key, id, timestamp, body)),
                );
            }
        }
        if let Some((name, v)) = &self.static_header {
            if let Ok(mut v) = HeaderValue::from_str(v.expose_secret()) {
                v.set_sensitive(true);
                h.insert(name.clone(), v);
            }
        }
        h
    }
}

/// The signer of the configured scheme, current key and static header.
pub fn signer_of(config: &SigningConfig) -> Signer {
    Signer::new(
        config.scheme.clone(),
        config.keys.current().to_vec(),
        config
            .static_header
            .as_ref()
            .map(|h| (h.name().clone(), h.value().clone())),
    )
}

/// Signatures, ids and timestamps are visible ASCII.
fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("visible ASCII")
}
