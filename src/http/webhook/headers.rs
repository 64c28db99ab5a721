//! The request headers kept with a callback's event: all but credentials and the static
//! header.

use axum::http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
use axum::http::{HeaderMap, HeaderName};

use crate::http::AppState;

/// Request headers worth keeping with the event, without credentials or the static header, as
/// the text of a JSON object (name: value; the values of a repeated name joined by ", ").
/// Written straight from the map: it is made for every callback.
pub(super) fn kept_headers(headers: &HeaderMap, state: &AppState) -> String {
    let secret = state.verifier.static_header.as_ref().map(|h| h.name());
    kept_headers_json(headers, secret)
}

fn kept_headers_json(headers: &HeaderMap, secret: Option<&HeaderName>) -> String {
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for name in headers.keys() {
        if name == AUTHORIZATION
            || name == PROXY_AUTHORIZATION
            || name == COOKIE
            || Some(name) == secret
        {
            continue;
        }
        let mut value = String::new();
        for (i, v) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                value.push_str(", ");
            }
            value.push_str(&String::from_utf8_lossy(v.as_bytes()));
        }
        // PostgreSQL's jsonb cannot hold \u0000.
        value.retain(|c| c != '\0');
        if out.len() > 1 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, name.as_str()).expect("writing to a Vec cannot fail");
        out.push(b':');
        serde_json::to_writer(&mut out, &value).expect("writing to a Vec cannot fail");
    }
    out.push(b'}');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn kept_headers_join_repeats_and_leave_out_credentials_and_the_static_header() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
        h.insert("x-quote", HeaderValue::from_static(r#"a "b" \c"#));
        h.insert("x-high", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        h.insert(COOKIE, HeaderValue::from_static("s=1"));
        h.insert("x-static", HeaderValue::from_static("secret"));
        let secret = HeaderName::from_static("x-static");
        let kept: serde_json::Value =
            serde_json::from_str(&kept_headers_json(&h, Some(&secret))).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({
                "content-type": "application/json",
                "x-forwarded-for": "10.0.0.1, 10.0.0.2",
                "x-quote": r#"a "b" \c"#,
                "x-high": "caf\u{fffd}",
            })
        );
        assert_eq!(kept_headers_json(&HeaderMap::new(), None), "{}");
    }
}
