//! Reading a verified raw body: what it is, and what makes it the same as another delivery.

use serde::Deserialize;
use serde_json::Value;

use super::{Transaction, dedup_key_for_json, dedup_key_for_raw, dedup_key_for_webhook_id};

/// Longest transaction id accepted.
const MAX_ID_LEN: usize = 256;

/// A verified callback body, read.
#[derive(Debug)]
pub struct Incoming {
    /// What makes two deliveries the same event.
    pub dedup_key: String,
    /// The transaction, or why the body could not be read as one (it is then quarantined).
    pub reading: Reading,
}

/// The outcome of reading a body.
#[derive(Debug)]
pub enum Reading {
    Transaction(Box<Transaction>),
    Quarantine(String),
}

/// Reads `body`. `webhook_id` is the verified Standard Webhooks id, which then is the
/// deduplication key.
pub fn read(body: &[u8], webhook_id: Option<&str>) -> Incoming {
    let value: Result<Value, _> = serde_json::from_slice(body);
    let dedup_key = match (webhook_id, &value) {
        (Some(id), _) => dedup_key_for_webhook_id(id),
        (None, Ok(v)) => dedup_key_for_json(v),
        (None, Err(_)) => dedup_key_for_raw(body),
    };
    let reading = match value {
        Err(e) => Reading::Quarantine(format!("body is not JSON: {}", without_position(&e))),
        Ok(v) => match interpret(v) {
            Ok(t) => Reading::Transaction(Box::new(t)),
            Err(reason) => Reading::Quarantine(storable_reason(reason)),
        },
    };
    Incoming { dedup_key, reading }
}

/// Reads `body` as a transaction, as [`read`] does, without working out its deduplication
/// key: what the projector needs of a logged callback.
pub fn read_transaction(body: &[u8]) -> Option<Transaction> {
    let value: Value = serde_json::from_slice(body).ok()?;
    interpret(value).ok()
}

/// Longest quarantine reason kept.
const MAX_REASON_BYTES: usize = 300;

/// `reason` as a column can hold it: serde's messages quote the offending value, which
/// comes from the sender and may be long or hold a NUL.
fn storable_reason(mut reason: String) -> String {
    reason.retain(|c| c != '\0');
    if reason.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    reason
}

fn interpret(v: Value) -> Result<Transaction, String> {
    let obj = v.as_object().ok_or("body is not a JSON object")?;
    match obj.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() && id.len() <= MAX_ID_LEN => {}
        Some(Value::String(_)) => return Err("id is empty or too long".into()),
        Some(_) => return Err("id is not a string".into()),
        None => return Err("missing id".into()),
    }
    match obj.get("status").and_then(|s| s.get("state")) {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(_) => return Err("status.state is not a non-empty string".into()),
        None => return Err("missing status.state".into()),
    }
    let t = Transaction::deserialize(&v).map_err(|e| format!("unreadable transaction: {e}"))?;
    // PostgreSQL text cannot hold NUL: such a value would fail its insert forever, so the
    // body is quarantined instead (the raw bytes are kept either way).
    if column_texts(&t).any(|s| s.contains('\0')) {
        return Err("a text field contains a NUL character".into());
    }
    Ok(t)
}

/// The texts of `t` that become columns.
fn column_texts(t: &Transaction) -> impl Iterator<Item = &str> {
    [
        Some(t.id.as_str()),
        Some(t.status.state.as_str()),
        t.status.reason.as_deref(),
        t.kind.as_ref().map(|k| k.as_str()),
        t.wallet_id.as_deref(),
        t.amount.as_ref().map(|a| a.currency.as_str()),
    ]
    .into_iter()
    .flatten()
}

/// serde_json's message without the position (which means little to the provider).
fn without_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(body: &str) -> String {
        match read(body.as_bytes(), None).reading {
            Reading::Quarantine(r) => r,
            Reading::Transaction(t) => panic!("read as a transaction: {t:?}"),
        }
    }

    #[test]
    fn unreadable_bodies_are_quarantined_with_a_reason() {
        assert!(reason("not json").starts_with("body is not JSON"));
        assert_eq!(reason("[1,2]"), "body is not a JSON object");
        assert_eq!(reason(r#""x""#), "body is not a JSON object");
        assert_eq!(reason(r#"{"status":{"state":"PENDING"}}"#), "missing id");
        assert_eq!(reason(r#"{"id":"a","status":{}}"#), "missing status.state");
        assert_eq!(
            reason(r#"{"id":7,"status":{"state":"PENDING"}}"#),
            "id is not a string"
        );
        assert!(reason(r#"{"id":"a","status":{"state":"PENDING"},"amount":{"amount":"abc","currency":"EUR"}}"#)
            .starts_with("unreadable transaction"));
    }

    #[test]
    fn reasons_quoting_the_body_are_short_and_free_of_nul() {
        let body = format!(
            r#"{{"id":"a","status":{{"state":"PENDING"}},"amount":{{"amount":"\u0000{}","currency":"EUR"}}}}"#,
            "9".repeat(5000)
        );
        let r = reason(&body);
        assert!(r.starts_with("unreadable transaction"), "{r}");
        assert!(
            r.len() <= MAX_REASON_BYTES + '…'.len_utf8() && !r.contains('\0'),
            "{r}"
        );
    }

    #[test]
    fn unknown_type_state_and_extra_fields_are_read() {
        let body = r#"{"id":"t1","type":"CRYPTO","status":{"state":"ON_HOLD"},"newField":{"x":1},
            "amount":{"amount":0.10,"currency":"EUR"}}"#;
        match read(body.as_bytes(), None).reading {
            Reading::Transaction(t) => {
                assert_eq!(t.kind.unwrap().as_str(), "CRYPTO");
                assert_eq!(t.status.state.as_str(), "ON_HOLD");
                assert_eq!(t.amount.unwrap().amount.as_str(), "0.10");
            }
            Reading::Quarantine(r) => panic!("{r}"),
        }
    }
}
