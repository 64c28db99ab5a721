//! The signing section: scheme, keys and static header, shared by the receiver (verifies),
//! the provider registration (sends the key) and `send` (signs).

use secrecy::{ExposeSecret, SecretString};

use super::raw::Raw;
use super::secrets::check_secret;
use super::values::{defaulted, non_empty, non_empty_secret};
use super::{ConfigError, Signing};
use crate::verify::{KeyRole, Keys, Scheme, StaticHeader};

/// Scheme, keys and static header. `hint` says, when the key is missing, who needs it.
pub(super) fn signing(raw: &Raw, hint: &'static str) -> Result<Signing, ConfigError> {
    let scheme_s = defaulted(
        "TXHOOK_SIGNATURE_SCHEME",
        non_empty(raw.signature_scheme.clone()),
    )?;
    let header = defaulted(
        "TXHOOK_SIGNATURE_HEADER",
        non_empty(raw.signature_header.clone()),
    )?;
    let scheme = Scheme::parse(&scheme_s, &header).map_err(|why| ConfigError::Invalid {
        var: "TXHOOK_SIGNATURE_SCHEME",
        why,
    })?;

    let shared_key = non_empty_secret(raw.shared_key.clone()).ok_or(ConfigError::Missing {
        var: "TXHOOK_SHARED_KEY",
        hint,
    })?;
    let previous: Vec<SecretString> = raw
        .previous_shared_keys
        .as_ref()
        .map(|s| {
            s.expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| SecretString::from(k.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let keys = Keys::new(&scheme, shared_key.clone(), previous.clone()).map_err(|e| {
        ConfigError::Invalid {
            var: match e.role {
                KeyRole::Current => "TXHOOK_SHARED_KEY",
                KeyRole::Previous => "TXHOOK_PREVIOUS_SHARED_KEYS",
            },
            why: e.why.into(),
        }
    })?;
    // Decodable keys, but are they secrets? Not a shipped placeholder, not too short.
    let whsec = matches!(scheme, Scheme::StandardWebhooks);
    check_secret("TXHOOK_SHARED_KEY", shared_key.expose_secret(), whsec)?;
    for key in &previous {
        check_secret("TXHOOK_PREVIOUS_SHARED_KEYS", key.expose_secret(), whsec)?;
    }

    let static_header = match (
        non_empty(raw.header_key.clone()),
        non_empty_secret(raw.header_value.clone()),
    ) {
        (None, None) => None,
        (Some(name), Some(value)) => {
            Some(
                StaticHeader::new(&name, value).map_err(|why| ConfigError::Invalid {
                    var: "TXHOOK_HEADER_KEY",
                    why,
                })?,
            )
        }
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                var: "TXHOOK_HEADER_VALUE",
                hint: " when TXHOOK_HEADER_KEY is set",
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                var: "TXHOOK_HEADER_KEY",
                hint: " when TXHOOK_HEADER_VALUE is set",
            });
        }
    };
    Ok(Signing {
        scheme,
        keys,
        shared_key,
        static_header,
        header_key: non_empty(raw.header_key.clone()),
    })
}
