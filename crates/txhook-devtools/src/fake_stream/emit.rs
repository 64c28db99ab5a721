//! The notifications the fake stream sends: their frame, and catalogue events at a steady rate.

use std::sync::Weak;
use std::time::Duration;

use serde_json::{Value, json};

use txhook_core::catalogue;

use super::{Control, Shared};

pub(super) fn notification(event: &str, entity_id: &str, timestamp: Value) -> Value {
    json!({"type": "notification", "event": event, "data": entity_id, "timestamp": timestamp})
}

/// Sends catalogue events at `rate` per second while the fake stream exists, cycling through
/// the names and through the four timestamp forms.
pub(super) async fn emit(shared: Weak<Shared>, rate: f64) {
    let names = catalogue::all_names();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    for n in 0usize.. {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let ms = chrono::Utc::now().timestamp_millis();
        let timestamp = match n % 4 {
            0 => json!(ms / 1000),
            1 => json!(ms),
            2 => json!((ms / 1000).to_string()),
            _ => json!(ms.to_string()),
        };
        let entity: String = format!("{:024x}", rand::random::<u128>() >> 32);
        let frame = notification(&names[n % names.len()], &entity, timestamp);
        let _ = shared.control.send(Control::Text(frame.to_string()));
    }
}
