//! Fuzzes the callback path's pure parts with arbitrary bytes: the verifier (over arbitrary
//! bodies and signature header values, in both schemes) and the reader that turns a body
//! into a transaction or a quarantine reason and a deduplication key.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run callback -- -max_total_time=60` (see README).
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use txhook_core::payment::{Reading, canonical_json, read};
use txhook_core::verify::{Keys, Scheme, Verifier, sign_hmac_hex};

fuzz_target!(|data: &[u8]| {
    // The first bytes choose a signature header value; the rest is the body.
    let split = data
        .first()
        .map_or(0, |n| usize::from(*n).min(data.len().saturating_sub(1)));
    let (sig, body) = data
        .get(1..)
        .unwrap_or_default()
        .split_at(split.min(data.len().saturating_sub(1)));

    let scheme = Scheme::parse("hmac-sha256", "X-Hubpay-Hmac").unwrap();
    let keys = Keys::new(&scheme, SecretString::from("fuzz-key"), vec![]).unwrap();
    let verifier = Verifier {
        scheme,
        keys,
        static_header: None,
    };
    let now = SystemTime::now();

    // An arbitrary signature value must never verify, unless it is the right one.
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(sig) {
        headers.insert("x-hubpay-hmac", v);
        let right = sign_hmac_hex(b"fuzz-key", body);
        if verifier.verify(&headers, body, now).is_ok() {
            let given = String::from_utf8_lossy(sig).trim().to_ascii_lowercase();
            assert!(
                given.ends_with(&right) || given.len() < 64,
                "forged signature accepted"
            );
        }
    }
    // The right signature always verifies.
    headers.insert(
        "x-hubpay-hmac",
        sign_hmac_hex(b"fuzz-key", body).parse().unwrap(),
    );
    assert!(verifier.verify(&headers, body, now).is_ok());

    // Standard Webhooks with arbitrary headers never panics.
    let sw = Scheme::StandardWebhooks;
    let sw_keys = Keys::new(
        &sw,
        SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        vec![],
    )
    .unwrap();
    let sw_verifier = Verifier {
        scheme: sw,
        keys: sw_keys,
        static_header: None,
    };
    let mut h = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(sig) {
        h.insert("webhook-signature", v.clone());
        h.insert("webhook-id", v);
    }
    let ts = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
    let _ = sw_verifier.verify(&h, body, now);

    // Reading never panics; the dedup key is stable for the same bytes, and a JSON body's
    // canonical form reads back to the same key.
    let first = read(body, None);
    assert_eq!(first.dedup_key, read(body, None).dedup_key);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let canon = canonical_json(&value);
        assert_eq!(read(&canon, None).dedup_key, first.dedup_key);
    }
    if let Reading::Transaction(t) = first.reading {
        assert!(!t.id.is_empty());
    }
});
