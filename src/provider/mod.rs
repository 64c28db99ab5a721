//! Registration with the provider: `POST {provider}/api/v1/transactions/subscribe` with the
//! callbackUrl and the shared key, retried until it succeeds, every attempt recorded.
//!
//! A client that feeds [`crate::store`]; `serve` runs it in the background, `txhook subscribe`
//! runs it once.

mod attempt;
mod register;
mod status;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use crate::retry::{Backoff, retry_after};
pub use attempt::{Attempt, Verdict};
pub use register::Registrar;
pub use status::{RegistrationState, RegistrationStatus, StatusHandle};

/// Longest part of the provider's answer that is kept (logged, stored, shown).
pub const MAX_ANSWER_CHARS: usize = 2000;

/// Why a registration did not succeed. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("TXHOOK_PROVIDER_URL is not set: nothing to register with")]
    NotConfigured,
    #[error("the provider refused the registration ({}): {answer}", status_text(*.status))]
    Rejected { status: Option<u16>, answer: String },
    #[error("not registered within {timeout:?}; last attempt: {last}")]
    TimedOut { timeout: Duration, last: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

fn status_text(status: Option<u16>) -> String {
    status.map_or_else(|| "no answer".into(), |s| format!("HTTP {s}"))
}

/// What is sent to the provider, and where. Its `Debug` leaves the secrets out.
#[derive(Clone)]
pub struct Registration {
    /// `{provider}/api/v1/transactions/subscribe`.
    pub endpoint: url::Url,
    /// The provider's base URL, without credentials.
    pub provider: String,
    /// `{public}/webhooks/transactions`.
    pub callback_url: String,
    shared_key: SecretString,
    header: Option<(String, SecretString)>,
    api_key: Option<SecretString>,
}

/// What the provider is told (and asked with) besides the URLs.
pub struct RegistrationSecrets {
    /// The current shared key: the `sharedKey` sent.
    pub shared_key: SecretString,
    /// The static header's name as configured and its value: `headerKey`/`headerValue`.
    pub header: Option<(String, SecretString)>,
    /// Bearer credential for the provider's API.
    pub api_key: Option<SecretString>,
}

/// The provider section of the configuration (present when a provider URL is set).
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub registration: Registration,
    /// First wait between registration attempts; it doubles (with jitter) after each.
    pub backoff_initial: Duration,
    /// Longest wait between registration attempts.
    pub backoff_max: Duration,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("endpoint", &self.provider)
            .field("callback_url", &self.callback_url)
            .field("shared_key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// The registration of `callbacks_at` (txhook's public base URL) with the provider at
    /// `provider`; `None` when the two cannot form the endpoint and callbackUrl.
    pub fn new(
        provider: &url::Url,
        callbacks_at: &url::Url,
        secrets: RegistrationSecrets,
    ) -> Option<Self> {
        let base = provider.as_str().trim_end_matches('/');
        let endpoint = url::Url::parse(&format!("{base}/api/v1/transactions/subscribe")).ok()?;
        let mut shown = provider.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        Some(Self {
            endpoint,
            provider: shown.as_str().trim_end_matches('/').to_owned(),
            callback_url: format!(
                "{}/webhooks/transactions",
                callbacks_at.as_str().trim_end_matches('/')
            ),
            shared_key: secrets.shared_key,
            header: secrets.header,
            api_key: secrets.api_key,
        })
    }

    /// The JSON body: `callbackUrl`, `sharedKey`, and `headerKey`/`headerValue` when set.
    fn body(&self) -> Value {
        let mut body = json!({
            "callbackUrl": self.callback_url,
            "sharedKey": self.shared_key.expose_secret(),
        });
        if let Some((name, value)) = &self.header {
            body["headerKey"] = json!(name);
            body["headerValue"] = json!(value.expose_secret());
        }
        body
    }

    /// SHA-256 (hex) of what the provider will sign and send with: the shared key and the
    /// static header. A recorded success with the same fingerprint and callbackUrl means
    /// there is nothing new to tell the provider. The secrets themselves are never stored.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"txhook-registration-v1\0");
        h.update(self.shared_key.expose_secret().as_bytes());
        if let Some((name, value)) = &self.header {
            h.update(b"\0");
            h.update(name.as_bytes());
            h.update(b"\0");
            h.update(value.expose_secret().as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// `text` without any secret this registration knows (a provider might echo the body),
    /// truncated to [`MAX_ANSWER_CHARS`].
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let secrets = std::iter::once(&self.shared_key)
            .chain(self.header.as_ref().map(|(_, v)| v))
            .chain(self.api_key.as_ref());
        for s in secrets {
            let s = s.expose_secret();
            if !s.is_empty() {
                out = out.replace(s, "[REDACTED]");
            }
        }
        match out.char_indices().nth(MAX_ANSWER_CHARS) {
            Some((cut, _)) => format!("{}…", &out[..cut]),
            None => out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registration the configuration `env` asks for.
    fn registration(env: &[(&str, &str)]) -> Registration {
        let empty = std::env::temp_dir().join("txhook-provider-unit-empty.toml");
        std::fs::write(&empty, "").unwrap();
        let config = crate::config::load_with(Some(&empty), |var| {
            env.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        config
            .provider
            .expect("a provider is configured")
            .registration
    }

    const BASE: [(&str, &str); 6] = [
        ("DATABASE_URL", "postgres://u@localhost/db"),
        ("TXHOOK_SHARED_KEY", "k3y-s3cret-long-enough"),
        ("TXHOOK_PROVIDER_URL", "https://user:pw@api.example/"),
        ("TXHOOK_PUBLIC_URL", "https://hook.example/"),
        ("TXHOOK_HEADER_KEY", "X-Token"),
        ("TXHOOK_HEADER_VALUE", "h3ader-s3cret"),
    ];

    #[test]
    fn body_and_urls_follow_the_document() {
        let r = registration(&BASE);
        assert_eq!(
            r.endpoint.as_str(),
            "https://user:pw@api.example/api/v1/transactions/subscribe"
        );
        assert_eq!(r.provider, "https://api.example");
        assert_eq!(
            r.body(),
            json!({"callbackUrl": "https://hook.example/webhooks/transactions",
                   "sharedKey": "k3y-s3cret-long-enough", "headerKey": "X-Token",
                   "headerValue": "h3ader-s3cret"})
        );
        let debug = format!("{r:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("pw"),
            "{debug}"
        );
    }

    #[test]
    fn answers_are_scrubbed_of_secrets_and_truncated() {
        let r = registration(&BASE);
        let scrubbed = r.scrub("bad sharedKey k3y-s3cret-long-enough and h3ader-s3cret");
        assert_eq!(scrubbed, "bad sharedKey [REDACTED] and [REDACTED]");
        assert_eq!(
            r.scrub(&"é".repeat(5000)).chars().count(),
            MAX_ANSWER_CHARS + 1
        );
    }

    #[test]
    fn fingerprint_changes_with_the_key_and_hides_it() {
        let a = registration(&BASE);
        let mut other = BASE;
        other[1] = ("TXHOOK_SHARED_KEY", "another-key-long-enough");
        let b = registration(&other);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
        assert!(!a.fingerprint().contains("k3y"));
    }
}
