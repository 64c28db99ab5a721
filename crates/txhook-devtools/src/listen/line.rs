//! The line printed per event: its sequence, when it was received, its source and what it
//! says, and whether it was quarantined.

use serde_json::Value;

/// One line for an event item: `#<seq> <receivedAt> callback <type> <state> <transactionId>`
/// or `#<seq> <receivedAt> orangepill <event> <entityId>`, `(quarantined)` when it was.
pub(super) fn describe(sequence: i64, item: &Value) -> String {
    let field = |k: &str| item.get(k).and_then(Value::as_str);
    let source = field("source").unwrap_or("?");
    let details: &[&str] = match source {
        "orangepill" => &["event", "entityId"],
        _ => &["type", "state", "transactionId"],
    };
    let mut parts = vec![format!("#{sequence}")];
    parts.extend(field("receivedAt").map(str::to_owned));
    parts.push(source.to_owned());
    parts.extend(details.iter().filter_map(|k| field(k)).map(str::to_owned));
    if field("outcome") == Some("quarantined") {
        parts.push("(quarantined)".into());
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_line_per_event_says_what_it_is() {
        let callback = json!({"sequence": 4, "source": "callback", "receivedAt": "2026-11-24T10:00:00Z",
            "outcome": "stored", "type": "PAYMENT", "state": "SUCCESS", "transactionId": "t-1"});
        assert_eq!(
            describe(4, &callback),
            "#4 2026-11-24T10:00:00Z callback PAYMENT SUCCESS t-1"
        );
        let stream = json!({"sequence": 5, "source": "orangepill", "receivedAt": "2026-11-24T10:00:01Z",
            "outcome": "stored", "event": "transaction.done", "entityId": "e-9"});
        assert_eq!(
            describe(5, &stream),
            "#5 2026-11-24T10:00:01Z orangepill transaction.done e-9"
        );
        let quarantined = json!({"sequence": 6, "source": "callback", "receivedAt": "2026-11-24T10:00:02Z",
            "outcome": "quarantined", "state": "PENDING"});
        assert_eq!(
            describe(6, &quarantined),
            "#6 2026-11-24T10:00:02Z callback PENDING (quarantined)"
        );
    }
}
