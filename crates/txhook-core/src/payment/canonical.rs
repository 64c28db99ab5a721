//! Canonical JSON and the deduplication keys derived from it.
//!
//! Two deliveries are the same event when their canonical JSON is the same: object keys
//! sorted, insignificant whitespace removed, numbers as written (serde_json's
//! `arbitrary_precision` keeps their digits; only an exponent's spelling is normalised, so
//! `1E5` and `1e+5` count as the same).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The canonical form of a JSON value: sorted keys, no whitespace, numbers as written.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            // Sorted here rather than trusting the map's order, which a crate feature
            // (`preserve_order`) elsewhere in the build could change.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k).expect("writing to a Vec cannot fail");
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(v, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec cannot fail"),
    }
}

/// Dedup key of a JSON body: `json:` + SHA-256 (hex) of its canonical form.
pub fn dedup_key_for_json(value: &Value) -> String {
    format!(
        "json:{}",
        hex::encode(Sha256::digest(canonical_json(value)))
    )
}

/// Dedup key of a body that is not JSON: `raw:` + SHA-256 (hex) of its bytes.
pub fn dedup_key_for_raw(body: &[u8]) -> String {
    format!("raw:{}", hex::encode(Sha256::digest(body)))
}

/// Longest dedup key kept as written. PostgreSQL's btree refuses an index row over about
/// 2.7 kB, so a longer key (a sender's very long `webhook-id` or stream entity id) is kept as
/// its SHA-256 instead: still the same key on every retry.
pub const MAX_PLAIN_KEY_BYTES: usize = 2048;

/// Dedup key under standard-webhooks: `whid:` + the `webhook-id` (`whid-sha256:` + its hash
/// when longer than [`MAX_PLAIN_KEY_BYTES`]).
pub fn dedup_key_for_webhook_id(id: &str) -> String {
    bounded_key("whid", id)
}

/// `prefix:` + `text`, or `prefix-sha256:` + the SHA-256 of `text` when that is too long
/// for an index (or holds a NUL, which PostgreSQL text cannot).
pub fn bounded_key(prefix: &str, text: &str) -> String {
    if text.len() + prefix.len() < MAX_PLAIN_KEY_BYTES && !text.contains('\0') {
        format!("{prefix}:{text}")
    } else {
        format!(
            "{prefix}-sha256:{}",
            hex::encode(Sha256::digest(text.as_bytes()))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn reordered_keys_and_whitespace_give_the_same_key() {
        let a = parse(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#);
        let b = parse("{ \"a\" : { \"x\":\"s\", \"y\" : [ 1 , 2 ] },\n \"b\" : 1 }");
        assert_eq!(dedup_key_for_json(&a), dedup_key_for_json(&b));
        assert_eq!(canonical_json(&a), br#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
    }

    #[test]
    fn numbers_are_kept_as_written() {
        let v = parse(r#"{"amount":0.10,"big":12345678901234567890.123456789,"e":1E5}"#);
        // Digits are kept; only the exponent marker is normalised by serde_json (1E5 -> 1e+5).
        assert_eq!(
            canonical_json(&v),
            br#"{"amount":0.10,"big":12345678901234567890.123456789,"e":1e+5}"#
        );
        assert_ne!(
            dedup_key_for_json(&parse(r#"{"a":0.1}"#)),
            dedup_key_for_json(&parse(r#"{"a":0.10}"#))
        );
    }

    #[test]
    fn long_or_nul_keys_are_hashed_and_stay_stable() {
        assert_eq!(dedup_key_for_webhook_id("msg_1"), "whid:msg_1");
        let long = "x".repeat(10_000);
        let key = dedup_key_for_webhook_id(&long);
        assert!(key.starts_with("whid-sha256:") && key.len() < 100, "{key}");
        assert_eq!(key, dedup_key_for_webhook_id(&long));
        assert_ne!(key, dedup_key_for_webhook_id(&"x".repeat(10_001)));
        assert!(bounded_key("op", "a\0b").starts_with("op-sha256:"));
    }

    fn json_object() -> impl Strategy<Value = Vec<(String, i64)>> {
        proptest::collection::btree_map("[a-z]{1,6}", any::<i64>(), 1..8)
            .prop_map(|m| m.into_iter().collect())
    }

    fn render(pairs: &[(String, i64)]) -> Value {
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{k:?}: {v}"))
            .collect::<Vec<_>>()
            .join(" , ");
        parse(&format!("{{ {body} }}"))
    }

    proptest! {
        #[test]
        fn reordering_keys_never_changes_the_key(pairs in json_object(), seed in any::<u64>()) {
            let mut shuffled = pairs.clone();
            let n = shuffled.len();
            for i in 0..n {
                let j = ((seed.wrapping_mul(i as u64 + 7)) % n as u64) as usize;
                shuffled.swap(i, j);
            }
            prop_assert_eq!(dedup_key_for_json(&render(&pairs)), dedup_key_for_json(&render(&shuffled)));
        }

        #[test]
        fn changing_any_value_always_changes_the_key(pairs in json_object(), idx in any::<prop::sample::Index>(), delta in 1i64..1000) {
            let mut changed = pairs.clone();
            let i = idx.index(changed.len());
            changed[i].1 = changed[i].1.wrapping_add(delta);
            prop_assert_ne!(dedup_key_for_json(&render(&pairs)), dedup_key_for_json(&render(&changed)));
        }
    }
}
