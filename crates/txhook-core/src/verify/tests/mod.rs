//! Unit tests of verification, by what they check: the HMAC-SHA256 scheme (`hmac`), Standard
//! Webhooks (`standard`), and the static header beside a signature (`static_header`).

use secrecy::SecretString;

use super::*;

mod hmac;
mod standard;
mod static_header;

fn hmac_verifier(keys: &[&str]) -> Verifier {
    let scheme = Scheme::parse("hmac-sha256", "X-Hubpay-Hmac").unwrap();
    let current = SecretString::from(keys[0].to_owned());
    let previous = keys[1..]
        .iter()
        .map(|k| SecretString::from((*k).to_owned()))
        .collect();
    Verifier {
        keys: Keys::new(&scheme, current, previous).unwrap(),
        scheme,
        static_header: None,
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(http::HeaderName::try_from(*k).unwrap(), v.parse().unwrap());
    }
    h
}
