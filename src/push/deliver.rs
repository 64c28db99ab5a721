//! The delivery worker: every replica fans new events out to each destination's deliveries
//! and tries the due ones, signed the Standard Webhooks way.
//!
//! - An event is fanned out only once the projection has passed it, so a callback's delivery
//!   carries the transaction's state with that callback in it.
//! - `webhook-id` is `evt_<sequence>`, the same on every retry: consumers deduplicate on it.
//! - Any 2xx within the timeout is delivered; anything else is tried again with exponential
//!   backoff and jitter (from `backoff_initial`, at most an hour apart) until the delivery is
//!   older than `max_age`, then it is dead-lettered: kept, listed, replayable.
//! - At most `per_destination` attempts per destination are in flight in a replica; a slow
//!   or dead endpoint holds only its own slots, never a callback's (the worker has its own
//!   database pool).

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

use super::{Event, Filter, transaction_json};
use crate::retry::Backoff;
use crate::store::{Claimed, DestinationRow, Position, Store, StoreError};
use crate::verify::sign_standard;

/// How deliveries are made.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryOptions {
    /// A delivery not delivered this long after it was made is dead-lettered.
    pub max_age: Duration,
    /// Wait before the second attempt; it doubles (with jitter) up to an hour.
    pub backoff_initial: Duration,
    /// Attempts in flight per destination in this replica.
    pub per_destination: usize,
}

/// A 2xx must come within this.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// A claimed delivery is another replica's to try after this (longer than the timeout).
const LEASE: Duration = Duration::from_secs(30);
/// Events examined per fan-out page, and pages per round.
const FAN_OUT_PAGE: u32 = 500;
const FAN_OUT_PAGES: usize = 4;
/// How soon the worker looks again when nothing woke it (due retries, other replicas).
const TICK: Duration = Duration::from_millis(200);
/// How often the backlog gauges are measured.
const GAUGES_EVERY: Duration = Duration::from_secs(2);
/// Delivered deliveries and attempts are kept this long (for the status and the console),
/// and forgotten after; looked at this often.
const KEEP_DELIVERED: Duration = Duration::from_secs(7 * 86_400);
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Delivers until `stop` turns true, then lets the attempts in flight finish (bounded).
pub async fn run(store: Store, options: DeliveryOptions, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("txhook/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the delivery client; deliveries off");
            return;
        }
    };
    let mut grew = store.log_changes();
    let mut in_flight: HashMap<Uuid, usize> = HashMap::new();
    let mut attempts: JoinSet<Uuid> = JoinSet::new();
    let mut gauges_at = Instant::now();
    let mut pruned_at = Instant::now();
    let mut destinations: Vec<DestinationRow> = Vec::new();
    // Fanning out (and re-reading the destinations) when the log grew or a tick passed;
    // claiming whenever an attempt ends and frees a slot.
    let mut fan_due = true;
    loop {
        if *stop.borrow() {
            break;
        }
        if fan_due {
            fan_due = false;
            grew.borrow_and_update();
            match fan_out_all(&store).await {
                Ok(list) => destinations = list,
                Err(e) => tracing::warn!(error = %e, "delivery fan-out failed"),
            }
        }
        if let Err(e) = claim_all(
            &store,
            &client,
            options,
            &destinations,
            &mut in_flight,
            &mut attempts,
        )
        .await
        {
            tracing::warn!(error = %e, "delivery round failed");
        }
        if gauges_at.elapsed() >= GAUGES_EVERY {
            gauges_at = Instant::now();
            record_backlogs(&store).await;
        }
        if pruned_at.elapsed() >= PRUNE_EVERY {
            pruned_at = Instant::now();
            if let Err(e) = store.prune_deliveries(KEEP_DELIVERED).await {
                tracing::debug!(error = %e, "cannot prune deliveries");
            }
        }
        tokio::select! {
            _ = grew.changed() => fan_due = true,
            () = tokio::time::sleep(TICK) => fan_due = true,
            Some(done) = attempts.join_next(), if !attempts.is_empty() => {
                settle(&mut in_flight, done);
            }
            _ = stop.changed() => {}
        }
        while let Some(done) = attempts.try_join_next() {
            settle(&mut in_flight, done);
        }
    }
    let drain = async { while attempts.join_next().await.is_some() {} };
    if tokio::time::timeout(DELIVERY_TIMEOUT, drain).await.is_err() {
        tracing::warn!("deliveries still in flight at shutdown; another replica retries them");
    }
}

fn settle(in_flight: &mut HashMap<Uuid, usize>, done: Result<Uuid, tokio::task::JoinError>) {
    if let Ok(id) = done {
        if let Some(n) = in_flight.get_mut(&id) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Fans new events out to every destination that is not paused; returns the destinations.
async fn fan_out_all(store: &Store) -> Result<Vec<DestinationRow>, StoreError> {
    let destinations = store.destinations().await?;
    if destinations.iter().any(|d| !d.paused) {
        let projected = store.projection_position().await?;
        for d in destinations.iter().filter(|d| !d.paused) {
            fan_out(store, d.id, projected).await?;
        }
    }
    Ok(destinations)
}

/// Starts the due attempts there is room for, at every destination that is not paused.
async fn claim_all(
    store: &Store,
    client: &reqwest::Client,
    options: DeliveryOptions,
    destinations: &[DestinationRow],
    in_flight: &mut HashMap<Uuid, usize>,
    attempts: &mut JoinSet<Uuid>,
) -> Result<(), StoreError> {
    for d in destinations.iter().filter(|d| !d.paused) {
        let busy = in_flight.get(&d.id).copied().unwrap_or(0);
        let free = options.per_destination.saturating_sub(busy);
        // Claims come in batches: a claim per finished attempt would cost more than the
        // attempts themselves.
        if free == 0 || (busy > 0 && free < options.per_destination / 2) {
            continue;
        }
        let token = Uuid::new_v4();
        let claimed = store
            .claim_deliveries(d.id, free as i64, LEASE, token)
            .await?;
        for c in claimed {
            *in_flight.entry(d.id).or_default() += 1;
            let (store, client, d) = (store.clone(), client.clone(), d.clone());
            attempts.spawn(async move {
                let id = d.id;
                attempt(&store, &client, &d, c, token, options).await;
                id
            });
        }
    }
    Ok(())
}

/// Makes deliveries of the events after `id`'s position that its filter selects, up to
/// `projected` (events the projection has not passed wait).
async fn fan_out(store: &Store, id: Uuid, projected: Position) -> Result<(), StoreError> {
    let Some(mut fan) = store.begin_fan_out(id).await? else {
        return Ok(());
    };
    let filter: Filter = serde_json::from_value(fan.destination.filter.clone()).unwrap_or_default();
    let start = fan.position()?;
    let mut at = start;
    let mut made: Vec<(i64, Option<String>)> = Vec::new();
    for _ in 0..FAN_OUT_PAGES {
        if at >= projected {
            break;
        }
        let rows = store.event_heads_after(at, FAN_OUT_PAGE).await?;
        let mut moved = false;
        for row in rows {
            let position = row.position()?;
            if position > projected {
                break;
            }
            at = position;
            moved = true;
            if filter.matches(&row) {
                made.push((row.sequence, row.transaction_id));
            }
        }
        if !moved {
            break;
        }
    }
    if at == start {
        return Ok(());
    }
    let events: Vec<(i64, Option<&str>)> = made.iter().map(|(s, k)| (*s, k.as_deref())).collect();
    fan.enqueue(&events).await?;
    fan.commit(at).await
}

/// One attempt of one delivery, and its record.
async fn attempt(
    store: &Store,
    client: &reqwest::Client,
    destination: &DestinationRow,
    claimed: Claimed,
    token: Uuid,
    options: DeliveryOptions,
) {
    let started = Instant::now();
    let result = post(store, client, destination, claimed.sequence).await;
    let latency = started.elapsed();
    let (delivered, status, error) = match &result {
        Ok(status) => (true, Some(i32::from(*status)), None),
        Err((status, why)) => (false, status.map(i32::from), Some(why.as_str())),
    };
    let failures = u32::try_from(claimed.attempts)
        .unwrap_or(0)
        .saturating_add(1);
    let wait = Backoff::wait_after(options.backoff_initial, BACKOFF_MAX, failures);
    let retry_at = chrono::Utc::now() + wait;
    let label = destination.id.to_string();
    match store
        .record_attempt(
            destination.id,
            claimed.sequence,
            token,
            delivered,
            status,
            error,
            latency,
            retry_at,
            options.max_age,
        )
        .await
    {
        Ok(Some(state)) => match state.as_str() {
            "delivered" => {
                metrics::counter!("txhook_delivery_delivered_total", "destination" => label)
                    .increment(1);
            }
            "dead" => {
                metrics::counter!("txhook_delivery_failed_total", "destination" => label.clone())
                    .increment(1);
                metrics::counter!("txhook_delivery_dead_lettered_total", "destination" => label)
                    .increment(1);
                tracing::warn!(destination = %destination.id, sequence = claimed.sequence, "delivery dead-lettered");
            }
            _ => {
                metrics::counter!("txhook_delivery_failed_total", "destination" => label.clone())
                    .increment(1);
                metrics::counter!("txhook_delivery_retried_total", "destination" => label)
                    .increment(1);
            }
        },
        Ok(None) => {
            tracing::debug!(
                sequence = claimed.sequence,
                "delivery lease lost; result not recorded"
            );
        }
        Err(e) => tracing::warn!(error = %e, "cannot record a delivery attempt"),
    }
}

/// POSTs the event to the destination; the 2xx status, or the status (if any) and why not.
async fn post(
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

/// The signing key of a `whsec_<base64>` secret.
fn secret_bytes(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec())
}

/// A new destination secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

async fn record_backlogs(store: &Store) {
    match store.delivery_backlogs().await {
        Ok(rows) => {
            let now = chrono::Utc::now();
            for (id, backlog, oldest) in rows {
                let label = id.to_string();
                metrics::gauge!("txhook_delivery_backlog", "destination" => label.clone())
                    .set(backlog as f64);
                let age =
                    oldest.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
                metrics::gauge!("txhook_delivery_oldest_age_seconds", "destination" => label)
                    .set(age);
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot measure delivery backlogs"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64_of_32_bytes_and_decode_to_their_key() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(secret_bytes(&s).len(), 32);
        assert_ne!(s, new_secret());
    }
}
