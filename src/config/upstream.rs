//! Upstream URLs (the provider's API, the Orangepill stream): the shared key, the static
//! header, the API key and the realm key travel to them, so they must be encrypted unless the
//! host is this machine or the operator allows otherwise; and the credentials a URL may carry
//! (`user:password@`) never appear in a message.

use url::{Host, Url};

use super::ConfigError;

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
