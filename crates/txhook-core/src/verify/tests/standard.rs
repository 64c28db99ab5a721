//! Standard Webhooks: the timestamp's tolerance and text, the svix header names, several
//! signatures in one header, and the headers it needs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use secrecy::SecretString;

use super::headers;
use crate::verify::{
    Keys, Rejection, Scheme, Verified, Verifier, sign_standard, sign_standard_text,
};

fn standard_verifier() -> Verifier {
    let scheme = Scheme::StandardWebhooks;
    let key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    Verifier {
        keys: Keys::new(&scheme, SecretString::from(key), vec![]).unwrap(),
        scheme,
        static_header: None,
    }
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
