//! The static header beside the signature: both are checked, and the signature's reason wins.

use std::time::SystemTime;

use secrecy::SecretString;

use super::{headers, hmac_verifier};
use crate::verify::{Rejection, StaticHeader, Verifier, sign_hmac_hex};

fn with_static_header(mut v: Verifier) -> Verifier {
    v.static_header =
        Some(StaticHeader::new("X-Token", SecretString::from("t0ken-value")).unwrap());
    v
}

#[test]
fn static_header_and_signature_are_both_checked_and_the_signature_reason_wins() {
    let v = with_static_header(hmac_verifier(&["k1"]));
    let body = b"{}";
    let right = sign_hmac_hex(b"k1", body);
    let wrong = sign_hmac_hex(b"k2", body);
    for (case, sig, token, want) in [
        ("both right", Some(&right), Some("t0ken-value"), None),
        (
            "right signature, wrong header",
            Some(&right),
            Some("t0ken-valuf"),
            Some(Rejection::InvalidStaticHeader),
        ),
        (
            "right signature, no header",
            Some(&right),
            None,
            Some(Rejection::MissingStaticHeader),
        ),
        (
            "wrong signature, wrong header",
            Some(&wrong),
            Some("guess"),
            Some(Rejection::InvalidSignature),
        ),
        (
            "wrong signature, right header",
            Some(&wrong),
            Some("t0ken-value"),
            Some(Rejection::InvalidSignature),
        ),
        (
            "no signature, no header",
            None,
            None,
            Some(Rejection::MissingSignature),
        ),
    ] {
        let mut pairs = vec![];
        if let Some(sig) = sig {
            pairs.push(("x-hubpay-hmac", sig.as_str()));
        }
        if let Some(token) = token {
            pairs.push(("x-token", token));
        }
        let got = v.verify(&headers(&pairs), body, SystemTime::now());
        assert_eq!(got.err(), want, "{case}");
    }
}
