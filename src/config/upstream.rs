//! Upstream URLs (the provider's API, the Orangepill stream): the shared key, the static
//! header, the API key and the realm key travel to them, so they must be encrypted unless the
//! host is this machine or the operator allows otherwise; and the credentials a URL may carry
//! (`user:password@`) never appear in a message.

use url::{Host, Url};

use super::ConfigError;

/// `url` as it may be printed: any userinfo replaced by `***`.
pub fn redacted(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Only URLs that cannot have credentials refuse these, and this one has some.
    let _ = shown.set_password(None);
    let _ = shown.set_username("***");
    shown.to_string()
}

/// `s`, a URL that may not parse, with anything between `://` and the last `@` of its
/// authority replaced by `***`.
pub fn redacted_text(s: &str) -> String {
    let Some(start) = s.find("://").map(|i| i + 3) else {
        // No authority to speak of; a bare `user:pass@host` still loses its userinfo.
        return match s.rfind('@') {
            Some(at) => format!("***{}", &s[at..]),
            None => s.to_owned(),
        };
    };
    let end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| start + i);
    match s[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &s[..start], &s[start + at..]),
        None => s.to_owned(),
    }
}

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
            redacted(url)
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
    fn userinfo_is_redacted() {
        assert_eq!(
            redacted(&url("https://user:pa55@api.example/x?y=1")),
            "https://***@api.example/x?y=1"
        );
        assert_eq!(
            redacted(&url("wss://:pa55@s.example")),
            "wss://***@s.example/"
        );
        assert_eq!(
            redacted(&url("https://api.example/")),
            "https://api.example/"
        );
        assert_eq!(
            redacted_text("http://u:p@ss@host:99999/a@b"),
            "http://***@host:99999/a@b"
        );
        assert_eq!(redacted_text("u:p@host"), "***@host");
        assert_eq!(redacted_text("not a url"), "not a url");
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
