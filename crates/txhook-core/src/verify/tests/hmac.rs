//! The HMAC-SHA256 scheme: the encodings it reads, the values it refuses as malformed, and
//! that any change to the body, the signature or the key fails.

use std::time::SystemTime;

use http::HeaderMap;
use proptest::prelude::*;

use super::{headers, hmac_verifier};
use crate::verify::{Rejection, sign_hmac_hex};

#[test]
fn hex_upper_prefixed_and_base64_encodings_all_verify() {
    use base64::Engine;
    let v = hmac_verifier(&["k1"]);
    let body = br#"{"id":"a"}"#;
    let hexsig = sign_hmac_hex(b"k1", body);
    let raw = hex::decode(&hexsig).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    for sig in [
        hexsig.clone(),
        hexsig.to_uppercase(),
        format!("sha256={hexsig}"),
        format!("sha256={}", hexsig.to_uppercase()),
        format!("SHA256={}", hexsig.to_uppercase()),
        b64,
    ] {
        let h = headers(&[("x-hubpay-hmac", &sig)]);
        assert!(v.verify(&h, body, SystemTime::now()).is_ok(), "{sig}");
    }
}

#[test]
fn empty_and_truncated_signatures_never_pass() {
    let v = hmac_verifier(&["k1"]);
    let body = b"{}";
    let sig = sign_hmac_hex(b"k1", body);
    for bad in ["", "sha256=", &sig[..63], &sig[..2], "=="] {
        let h = headers(&[("x-hubpay-hmac", bad)]);
        assert!(v.verify(&h, body, SystemTime::now()).is_err(), "{bad:?}");
    }
}

proptest! {
    #[test]
    fn any_mutation_of_body_fails_verification(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        idx in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let v = hmac_verifier(&["secret"]);
        let sig = sign_hmac_hex(b"secret", &body);
        let h = headers(&[("x-hubpay-hmac", &sig)]);
        prop_assert!(v.verify(&h, &body, SystemTime::now()).is_ok());
        let mut mutated = body.clone();
        if mutated.is_empty() {
            mutated.push(flip);
        } else {
            let i = idx.index(mutated.len());
            mutated[i] ^= flip;
        }
        prop_assert!(v.verify(&h, &mutated, SystemTime::now()).is_err());
    }

    #[test]
    fn any_mutation_of_signature_fails_verification(
        body in proptest::collection::vec(any::<u8>(), 0..64),
        idx in 0usize..64,
        c in "[0-9a-f]",
    ) {
        let v = hmac_verifier(&["secret"]);
        let sig = sign_hmac_hex(b"secret", &body);
        let mut chars: Vec<char> = sig.chars().collect();
        let new = c.chars().next().unwrap();
        prop_assume!(chars[idx] != new);
        chars[idx] = new;
        let mutated: String = chars.into_iter().collect();
        let h = headers(&[("x-hubpay-hmac", &mutated)]);
        prop_assert!(v.verify(&h, &body, SystemTime::now()).is_err());
    }
}

// The refusal reasons case by case (the HTTP suite checks one case of each through the
// endpoint: its answer, its metric, nothing stored).

#[test]
fn malformed_signature_values_are_malformed_not_invalid() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let v = hmac_verifier(&["k1"]);
    let body = br#"{"id":"a"}"#;
    let hex = sign_hmac_hex(b"k1", body);
    let mac = hex::decode(&hex).unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("empty value", String::new()),
        ("sha256= alone", "sha256=".into()),
        ("hex truncated by one digit", hex[..63].to_owned()),
        ("hex truncated to half", hex[..32].to_owned()),
        ("hex one byte too long", format!("{hex}00")),
        ("hex of a 64-byte digest", format!("{hex}{hex}")),
        ("base64 of 31 bytes", b64.encode(&mac[..31])),
        (
            "base64 of 33 bytes",
            b64.encode([&mac[..], &[0u8]].concat()),
        ),
        (
            "base64 without padding",
            b64.encode(&mac).trim_end_matches('=').to_owned(),
        ),
        ("not a signature", "not a signature".into()),
    ];
    for (case, value) in cases {
        let h = headers(&[("x-hubpay-hmac", &value)]);
        assert_eq!(
            v.verify(&h, body, SystemTime::now()),
            Err(Rejection::MalformedSignature),
            "{case}"
        );
    }
    // The right signature with its last digit replaced by a Latin-1 byte (obs-text).
    let mut latin1 = hex.clone().into_bytes();
    *latin1.last_mut().unwrap() = 0xe9;
    let mut h = HeaderMap::new();
    h.insert(
        "x-hubpay-hmac",
        http::HeaderValue::from_bytes(&latin1).unwrap(),
    );
    assert_eq!(
        v.verify(&h, body, SystemTime::now()),
        Err(Rejection::MalformedSignature)
    );
    let control = headers(&[("x-hubpay-hmac", &hex)]);
    assert!(v.verify(&control, body, SystemTime::now()).is_ok());
}

#[test]
fn a_signature_by_another_key_or_over_other_bytes_is_invalid() {
    let v = hmac_verifier(&["the-shared-key"]);
    let body = br#"{"id":"a"}"#;
    for (case, key) in [
        ("unrelated key", "some-other-key"),
        ("key in another case", "THE-SHARED-KEY"),
        ("key prefix", "the-shared-ke"),
    ] {
        let h = headers(&[("x-hubpay-hmac", &sign_hmac_hex(key.as_bytes(), body))]);
        assert_eq!(
            v.verify(&h, body, SystemTime::now()),
            Err(Rejection::InvalidSignature),
            "{case}"
        );
    }
    // The signature covers the raw bytes: the same JSON with one more byte is another body.
    let h = headers(&[("x-hubpay-hmac", &sign_hmac_hex(b"the-shared-key", body))]);
    assert_eq!(
        v.verify(&h, br#"{"id":"a"} "#, SystemTime::now()),
        Err(Rejection::InvalidSignature)
    );
}
