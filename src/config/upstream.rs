//! Upstream URLs (the provider's API, the Orangepill stream): the shared key, the static
//! header, the API key and the realm key travel to them, so they must be encrypted unless the
//! host is this machine or the operator allows otherwise; and the credentials a URL may carry
//! (`user:password@`) never appear in a message. Here too are the two sections that point at
//! them: the provider's and the stream's.

use url::{Host, Url};

use super::raw::Raw;
use super::values::{defaulted, http_url, millis, non_empty, non_empty_secret, secs};
use super::{ConfigError, Signing};
use crate::provider::{ProviderSettings, Registration, RegistrationSecrets};
use crate::redact::url_text as redacted_text;
use crate::stream::StreamSettings;

/// Whether `url`'s host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Refuses `url` (the value of `var`) unless its scheme is `secure`, its host is loopback, or
/// `allow_insecure` (TXHOOK_ALLOW_INSECURE_UPSTREAM) is set.
pub fn require_encrypted(
    var: &'static str,
    url: &Url,
    secure: &str,
    allow_insecure: bool,
) -> Result<(), ConfigError> {
    if url.scheme() == secure || allow_insecure || is_loopback(url) {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        var,
        why: format!(
            "{} would send secrets unencrypted: use {secure}://, or set \
             TXHOOK_ALLOW_INSECURE_UPSTREAM=true if the network to it is trusted",
            crate::redact::url(url)
        ),
    })
}

fn allow_insecure(raw: &Raw) -> Result<bool, ConfigError> {
    defaulted(
        "TXHOOK_ALLOW_INSECURE_UPSTREAM",
        raw.allow_insecure_upstream,
    )
}

pub(super) fn provider(
    raw: &Raw,
    signing: &Signing,
    public_url: Option<&url::Url>,
) -> Result<Option<ProviderSettings>, ConfigError> {
    // Checked whether or not a provider is configured, so that `config check` sees them.
    let backoff_initial = millis("TXHOOK_REGISTER_BACKOFF_MS", raw.register_backoff_ms, 1)?;
    let backoff_max = secs(
        "TXHOOK_REGISTER_MAX_BACKOFF_SECS",
        raw.register_max_backoff_secs,
    )?;
    let Some(provider_url) = non_empty(raw.provider_url.clone())
        .map(|u| http_url("TXHOOK_PROVIDER_URL", &u))
        .transpose()?
    else {
        return Ok(None);
    };
    require_encrypted(
        "TXHOOK_PROVIDER_URL",
        &provider_url,
        "https",
        allow_insecure(raw)?,
    )?;
    let public_url = public_url.ok_or(ConfigError::Missing {
        var: "TXHOOK_PUBLIC_URL",
        hint: " when TXHOOK_PROVIDER_URL is set (it forms the callbackUrl)",
    })?;
    let secrets = RegistrationSecrets {
        shared_key: signing.shared_key.clone(),
        // The provider gets the header name as configured (names compare
        // case-insensitively, but the spelling given is the one sent).
        header: signing.static_header.as_ref().map(|h| {
            let name = signing.header_key.clone();
            (
                name.unwrap_or_else(|| h.name().to_string()),
                h.value().clone(),
            )
        }),
        api_key: non_empty_secret(raw.provider_api_key.clone()),
    };
    let registration =
        Registration::new(&provider_url, public_url, secrets).ok_or(ConfigError::Invalid {
            var: "TXHOOK_PROVIDER_URL",
            why: "does not form the subscription endpoint".into(),
        })?;
    Ok(Some(ProviderSettings {
        registration,
        backoff_initial,
        backoff_max,
    }))
}

/// The stream's settings, when a realm key is set (its URL is checked either way).
pub(super) fn stream(raw: &Raw) -> Result<Option<StreamSettings>, ConfigError> {
    let text = defaulted("TXHOOK_STREAM_URL", non_empty(raw.stream_url.clone()))?;
    let url = url::Url::parse(&text)
        .ok()
        .filter(|u| matches!(u.scheme(), "ws" | "wss"))
        .ok_or_else(|| ConfigError::Invalid {
            var: "TXHOOK_STREAM_URL",
            why: format!("{:?} is not a ws:// or wss:// URL", redacted_text(&text)),
        })?;
    require_encrypted("TXHOOK_STREAM_URL", &url, "wss", allow_insecure(raw)?)?;
    let ping_interval = secs(
        "TXHOOK_STREAM_PING_INTERVAL_SECS",
        raw.stream_ping_interval_secs,
    )?;
    let idle_timeout = secs(
        "TXHOOK_STREAM_IDLE_TIMEOUT_SECS",
        raw.stream_idle_timeout_secs,
    )?;
    if idle_timeout <= ping_interval {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_STREAM_IDLE_TIMEOUT_SECS",
            why: "must be longer than TXHOOK_STREAM_PING_INTERVAL_SECS".into(),
        });
    }
    // At least 10 ms: no reconnect loop without a pause.
    let backoff_initial = millis(
        "TXHOOK_STREAM_BACKOFF_INITIAL_MS",
        raw.stream_backoff_initial_ms,
        10,
    )?;
    let backoff_max = millis(
        "TXHOOK_STREAM_BACKOFF_MAX_MS",
        raw.stream_backoff_max_ms,
        10,
    )?;
    if backoff_max < backoff_initial {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_STREAM_BACKOFF_MAX_MS",
            why: "must be at least TXHOOK_STREAM_BACKOFF_INITIAL_MS".into(),
        });
    }
    Ok(
        non_empty_secret(raw.realm_key.clone()).map(|realm_key| StreamSettings {
            url,
            realm_key,
            ping_interval,
            idle_timeout,
            backoff_initial,
            backoff_max,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_hosts_are_this_machine_only() {
        for s in [
            "http://localhost:1/",
            "http://127.0.0.1/",
            "http://127.9.8.7/",
            "ws://[::1]:9/",
        ] {
            assert!(is_loopback(&url(s)), "{s}");
        }
        for s in [
            "http://mock:9090/",
            "http://10.0.0.1/",
            "http://localhost.example/",
            "ws://[::2]/",
        ] {
            assert!(!is_loopback(&url(s)), "{s}");
        }
    }

    #[test]
    fn cleartext_is_refused_naming_the_variable_unless_allowed_or_local() {
        let remote = url("http://user:pa55@provider.example/");
        let e = require_encrypted("TXHOOK_PROVIDER_URL", &remote, "https", false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("TXHOOK_PROVIDER_URL is invalid"), "{e}");
        assert!(
            e.contains("TXHOOK_ALLOW_INSECURE_UPSTREAM") && !e.contains("pa55"),
            "{e}"
        );
        assert!(require_encrypted("TXHOOK_PROVIDER_URL", &remote, "https", true).is_ok());
        let local = url("ws://127.0.0.1:9000/stream");
        assert!(require_encrypted("TXHOOK_STREAM_URL", &local, "wss", false).is_ok());
        let secure = url("wss://stream.example/");
        assert!(require_encrypted("TXHOOK_STREAM_URL", &secure, "wss", false).is_ok());
    }
}
