//! Key material: the current and previous shared keys, and the static header.

use base64::Engine;
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Rejection, Scheme};

/// Which of the configured keys a [`KeyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The current key (the one callbacks are signed with now).
    Current,
    /// One of the previous keys, still accepted during a rotation.
    Previous,
}

/// A key that cannot be used: which one, and why (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct KeyError {
    pub role: KeyRole,
    pub why: &'static str,
}

/// Keys that verify a callback, current first. Their bytes never reach `Debug` or a log.
#[derive(Clone)]
pub struct Keys(Vec<SecretSlice<u8>>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys([REDACTED; {}])", self.0.len())
    }
}

impl Keys {
    /// Turns configured key strings into key bytes for `scheme`. Under `hmac-sha256` a key is
    /// its UTF-8 bytes; under `standard-webhooks` it is `whsec_<base64>` (the prefix optional).
    /// The error says which key is wrong and why, never the key.
    pub fn new(
        scheme: &Scheme,
        current: SecretString,
        previous: Vec<SecretString>,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::with_capacity(1 + previous.len());
        let all = std::iter::once((KeyRole::Current, current))
            .chain(previous.into_iter().map(|k| (KeyRole::Previous, k)));
        for (role, key) in all {
            let bytes = match scheme {
                Scheme::HmacSha256 { .. } => key.expose_secret().as_bytes().to_vec(),
                Scheme::StandardWebhooks => decode_whsec(key.expose_secret()).ok_or(KeyError {
                    role,
                    why: "under standard-webhooks a key must be whsec_ followed by base64",
                })?,
            };
            if bytes.is_empty() {
                return Err(KeyError {
                    role,
                    why: "a key must not be empty",
                });
            }
            keys.push(SecretSlice::from(bytes));
        }
        Ok(Self(keys))
    }

    /// Key bytes, current first.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(|k| k.expose_secret())
    }

    /// The current key's bytes (the one `send` signs with).
    pub fn current(&self) -> &[u8] {
        self.0[0].expose_secret()
    }
}

/// Decodes a Standard Webhooks secret: `whsec_` + standard base64.
pub fn decode_whsec(s: &str) -> Option<Vec<u8>> {
    let b64 = s.trim().strip_prefix("whsec_").unwrap_or(s.trim());
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .filter(|b| !b.is_empty())
}

/// A static header the provider adds to every callback (`headerKey`/`headerValue`).
#[derive(Clone)]
pub struct StaticHeader {
    name: http::HeaderName,
    value: SecretString,
    /// SHA-256 of the value: comparing digests in constant time also hides the length.
    digest: [u8; 32],
}

impl std::fmt::Debug for StaticHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticHeader")
            .field("name", &self.name)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

impl StaticHeader {
    /// A header named `name` that must carry `value`.
    pub fn new(name: &str, value: SecretString) -> Result<Self, String> {
        let name = http::HeaderName::try_from(name.trim())
            .map_err(|_| format!("{name:?} is not a valid header name"))?;
        let digest = Sha256::digest(value.expose_secret().as_bytes()).into();
        Ok(Self {
            name,
            value,
            digest,
        })
    }

    /// The header's name (not secret; stored headers leave this one out).
    pub fn name(&self) -> &http::HeaderName {
        &self.name
    }

    /// The header's value, for sending it.
    pub fn value(&self) -> &SecretString {
        &self.value
    }

    /// Succeeds when the header is present and equal, compared in constant time. A missing
    /// header is hashed and compared like an empty one, so it takes the same time.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        let got = headers.get(&self.name);
        let digest: [u8; 32] = Sha256::digest(got.map_or(&b""[..], |v| v.as_bytes())).into();
        let equal = bool::from(digest.ct_eq(&self.digest));
        match got {
            None => Err(Rejection::MissingStaticHeader),
            Some(_) if equal => Ok(()),
            Some(_) => Err(Rejection::InvalidStaticHeader),
        }
    }
}
