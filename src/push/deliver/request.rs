//! What one attempt sends: the event's item (with the transaction's current state for a
//! callback), signed the Standard Webhooks way, POSTed to the destination.

use super::secret::secret_bytes;
use crate::push::{Event, transaction_json};
use crate::store::{DestinationRow, Store, StoreError};
use crate::verify::sign_standard;

/// POSTs the event to the destination; the 2xx status, or the status (if any) and why not.
pub(super) async fn post(
    store: &Store,
    client: &reqwest::Client,
    destination: &DestinationRow,
    sequence: i64,
) -> Result<u16, (Option<u16>, String)> {
    let body = body(store, sequence)
        .await
        .map_err(|e| (None, format!("cannot read the event: {e}")))?;
    let id = format!("evt_{sequence}");
    let timestamp = chrono::Utc::now().timestamp().max(0) as u64;
    let key = secret_bytes(&destination.secret);
    let signature = sign_standard(&key, &id, timestamp, &body);
    let answer = client
        .post(&destination.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        // The URL may carry credentials: never in a message.
        .map_err(|e| (None, e.without_url().to_string()))?;
    let status = answer.status().as_u16();
    if answer.status().is_success() {
        Ok(status)
    } else {
        Err((Some(status), format!("HTTP {status}")))
    }
}

/// The event's item, with the transaction's current state for a callback.
async fn body(store: &Store, sequence: i64) -> Result<Vec<u8>, StoreError> {
    let row = store
        .event(sequence)
        .await?
        .ok_or_else(|| StoreError::BatchFailed(format!("no event {sequence}")))?;
    let transaction_id = row.transaction_id.clone();
    let mut item = serde_json::to_value(Event::from_row(row, false))
        .map_err(|e| StoreError::BatchFailed(e.to_string()))?;
    if let Some(id) = transaction_id {
        if let Some(view) = store.transaction(&id).await? {
            item["transaction"] = transaction_json(view);
        }
    }
    serde_json::to_vec(&item).map_err(|e| StoreError::BatchFailed(e.to_string()))
}
