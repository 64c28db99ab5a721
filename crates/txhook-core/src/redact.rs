//! URLs as they may be printed: a URL may carry credentials (`user:password@`), which never
//! appear in a message, a log line, a page or an API answer.

use url::Url;

/// `url` as it may be printed: any userinfo replaced by `***`.
pub fn url(url: &Url) -> String {
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
pub fn url_text(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            url(&parse("https://user:pa55@api.example/x?y=1")),
            "https://***@api.example/x?y=1"
        );
        assert_eq!(url(&parse("wss://:pa55@s.example")), "wss://***@s.example/");
        assert_eq!(url(&parse("https://api.example/")), "https://api.example/");
        assert_eq!(
            url_text("http://u:p@ss@host:99999/a@b"),
            "http://***@host:99999/a@b"
        );
        assert_eq!(url_text("u:p@host"), "***@host");
        assert_eq!(url_text("not a url"), "not a url");
    }
}
