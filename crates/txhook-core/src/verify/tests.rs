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

fn standard_verifier() -> Verifier {
    let scheme = Scheme::StandardWebhooks;
    let key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    Verifier {
        keys: Keys::new(&scheme, SecretString::from(key), vec![]).unwrap(),
        scheme,
        static_header: None,
    }
}

#[test]
fn standard_webhooks_signs_the_timestamp_text_as_received() {
    let v = standard_verifier();
    let now = SystemTime::now();
    let ts = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let body = b"{}";
    for text in [format!("+{ts}"), format!("000{ts}"), ts.to_string()] {
        let literal = sign_standard_text(v.keys.current(), "msg_1", &text, body);
        let h = headers(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", &text),
            ("webhook-signature", &literal),
        ]);
        assert!(v.verify(&h, body, now).is_ok(), "{text}");
    }
    // Signed over the value re-formatted, while the header says otherwise: not what was sent.
    for text in [format!("+{ts}"), format!("000{ts}")] {
        let reformatted = sign_standard(v.keys.current(), "msg_1", ts, body);
        let h = headers(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", &text),
            ("webhook-signature", &reformatted),
        ]);
        assert_eq!(
            v.verify(&h, body, now),
            Err(Rejection::InvalidSignature),
            "{text}"
        );
    }
    // The tolerance still reads the value.
    let old = format!("+{}", ts - 301);
    let sig = sign_standard_text(v.keys.current(), "msg_1", &old, body);
    let h = headers(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", &old),
        ("webhook-signature", &sig),
    ]);
    assert_eq!(
        v.verify(&h, body, now),
        Err(Rejection::TimestampOutOfTolerance)
    );
}

#[test]
fn standard_webhooks_accepts_svix_header_names_but_not_a_mix() {
    let v = standard_verifier();
    let now = SystemTime::now();
    let ts = now
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let body = br#"{"id":"a"}"#;
    let sig = sign_standard_text(v.keys.current(), "msg_svix", &ts, body);
    let svix = headers(&[
        ("svix-id", "msg_svix"),
        ("svix-timestamp", &ts),
        ("svix-signature", &sig),
    ]);
    assert_eq!(
        v.verify(&svix, body, now),
        Ok(Verified {
            webhook_id: Some("msg_svix".into())
        })
    );
    // Both namings, as some senders send them: the standard one is read.
    let mut both = svix.clone();
    both.insert("webhook-id", "msg_svix".parse().unwrap());
    both.insert("webhook-timestamp", ts.parse().unwrap());
    both.insert("webhook-signature", sig.parse().unwrap());
    assert!(v.verify(&both, body, now).is_ok());
    // A mix is not one callback's set of headers.
    let mixed = headers(&[
        ("webhook-id", "msg_svix"),
        ("webhook-timestamp", &ts),
        ("svix-signature", &sig),
    ]);
    assert_eq!(
        v.verify(&mixed, body, now),
        Err(Rejection::MissingSignature)
    );
    // The svix names are not a way around the signature.
    let forged = headers(&[
        ("svix-id", "msg_svix"),
        ("svix-timestamp", &ts),
        (
            "svix-signature",
            "v1,bm90LWEtc2lnbmF0dXJlLW5vdC1hLXNpZ25hdHVyZQ==",
        ),
    ]);
    assert!(v.verify(&forged, body, now).is_err());
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

/// Standard Webhooks headers for `body`, signed with `v`'s key at `ts`.
fn standard_headers(v: &Verifier, id: &str, ts: u64, body: &[u8]) -> HeaderMap {
    let sig = sign_standard(v.keys.current(), id, ts, body);
    headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", &ts.to_string()),
        ("webhook-signature", &sig),
    ])
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn standard_webhooks_takes_one_matching_v1_signature_among_several() {
    let v = standard_verifier();
    let (body, ts) = (b"{}", now_secs());
    let right = sign_standard(v.keys.current(), "msg_1", ts, body);
    let wrong = sign_standard(b"another key of some thirty bytes", "msg_1", ts, body);
    let right_b64 = right.strip_prefix("v1,").unwrap();
    let mut h = standard_headers(&v, "msg_1", ts, body);
    // The right bytes only under other versions: refused.
    let only_wrong = format!("{wrong} v2,{right_b64} v1a,{right_b64}");
    h.insert("webhook-signature", only_wrong.parse().unwrap());
    assert_eq!(
        v.verify(&h, body, SystemTime::now()),
        Err(Rejection::InvalidSignature)
    );
    let one_right = format!("{wrong} v1,bm90LWEtc2lnbmF0dXJl {right} v2,{right_b64}");
    h.insert("webhook-signature", one_right.parse().unwrap());
    assert!(v.verify(&h, body, SystemTime::now()).is_ok());
}

#[test]
fn standard_webhooks_needs_its_id_and_a_readable_timestamp_within_five_minutes() {
    let v = standard_verifier();
    let (body, now) = (b"{}", now_secs());
    let signed = standard_headers(&v, "msg_1", now, body);
    for (case, name, replace) in [
        ("no webhook-id", "webhook-id", None),
        ("empty webhook-id", "webhook-id", Some("")),
        ("no webhook-timestamp", "webhook-timestamp", None),
        (
            "timestamp not a number",
            "webhook-timestamp",
            Some("yesterday"),
        ),
    ] {
        let mut h = signed.clone();
        h.remove(name);
        if let Some(value) = replace {
            h.insert(http::HeaderName::from_static(name), value.parse().unwrap());
        }
        assert_eq!(
            v.verify(&h, body, SystemTime::now()),
            Err(Rejection::MissingWebhookHeaders),
            "{case}"
        );
    }
    let mut unsigned = signed.clone();
    unsigned.remove("webhook-signature");
    assert_eq!(
        v.verify(&unsigned, body, SystemTime::now()),
        Err(Rejection::MissingSignature)
    );
    for (case, ts, ok) in [
        ("six minutes old", now - 360, false),
        ("six minutes ahead", now + 360, false),
        ("four minutes old", now - 240, true),
        ("four minutes ahead", now + 240, true),
    ] {
        let h = standard_headers(&v, "msg_1", ts, body);
        let got = v.verify(&h, body, SystemTime::now());
        match ok {
            true => assert!(got.is_ok(), "{case}: {got:?}"),
            false => assert_eq!(got, Err(Rejection::TimestampOutOfTolerance), "{case}"),
        }
    }
}
