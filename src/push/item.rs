//! What consumers receive: an event of the log as an item (the shape of
//! `GET /api/v1/events`), and a transaction's current state in the provider's own shape.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::store::{EventRow, TransactionView};

/// One event of the log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    sequence: i64,
    /// `callback` or `orangepill`.
    source: String,
    received_at: DateTime<Utc>,
    dedup_key: String,
    /// `stored` or `quarantined`.
    outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    quarantine_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    /// The transaction's type (callbacks), e.g. `PAYMENT`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    /// Stream event name, e.g. `transaction.done`.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_time: Option<DateTime<Utc>>,
    /// The raw body, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    /// The raw body in standard base64, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    /// Request headers kept with the event (no credentials); only on `/events/{sequence}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    headers: Option<serde_json::Value>,
}

impl Event {
    pub fn from_row(row: EventRow, with_headers: bool) -> Self {
        let (body, body_base64) = match String::from_utf8(row.body) {
            Ok(text) => (Some(text), None),
            Err(e) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
            ),
        };
        Self {
            sequence: row.sequence,
            source: row.source,
            received_at: row.received_at,
            dedup_key: row.dedup_key,
            outcome: row.outcome,
            quarantine_reason: row.quarantine_reason,
            transaction_id: row.transaction_id,
            state: row.state,
            kind: row.transaction_type,
            event: row.event_name,
            entity_id: row.entity_id,
            event_time: row.event_time,
            body,
            body_base64,
            headers: with_headers.then_some(row.headers),
        }
    }
}

/// A transaction as the read API shows it: the body of the callback that set its current
/// state (the provider's JSON; `arbitrary_precision` keeps its numbers' digits through this
/// parse and back out) with `receivedAt` and `updatedAt` added.
pub fn transaction_json(view: TransactionView) -> Value {
    let mut body: Value = serde_json::from_slice(&view.body).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut body {
        map.insert("receivedAt".into(), json!(view.received_at));
        map.insert("updatedAt".into(), json!(view.updated_at));
    }
    body
}
