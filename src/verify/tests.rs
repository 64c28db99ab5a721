use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use secrecy::SecretString;

use super::*;

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

#[test]
fn standard_webhooks_rejects_timestamp_outside_tolerance() {
    let scheme = Scheme::StandardWebhooks;
    let key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let keys = Keys::new(&scheme, SecretString::from(key), vec![]).unwrap();
    let v = Verifier {
        scheme,
        keys: keys.clone(),
        static_header: None,
    };
    let now = SystemTime::now();
    let ts = now.duration_since(UNIX_EPOCH).unwrap().as_secs() - 301;
    let sig = sign_standard(keys.current(), "msg_1", ts, b"{}");
    let h = headers(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", &ts.to_string()),
        ("webhook-signature", &sig),
    ]);
    assert_eq!(
        v.verify(&h, b"{}", now),
        Err(Rejection::TimestampOutOfTolerance)
    );
    let later = now - Duration::from_secs(10);
    assert!(v.verify(&h, b"{}", later).is_ok());
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
