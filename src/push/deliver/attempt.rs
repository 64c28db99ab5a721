//! Trying deliveries: claiming the due ones there is room for, one attempt each, and
//! recording each result (with its metrics).

use std::collections::HashMap;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

use super::DeliverySettings;
use super::request::post;
use crate::retry::Backoff;
use crate::store::{Claimed, DestinationRow, Store, StoreError};

/// Longest wait between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// A claimed delivery is another replica's to try after this (longer than the timeout).
const LEASE: Duration = Duration::from_secs(30);

/// Starts the due attempts there is room for, at every destination that is not paused.
pub(super) async fn claim_all(
    store: &Store,
    client: &reqwest::Client,
    options: DeliverySettings,
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

/// One attempt of one delivery, and its record.
async fn attempt(
    store: &Store,
    client: &reqwest::Client,
    destination: &DestinationRow,
    claimed: Claimed,
    token: Uuid,
    options: DeliverySettings,
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
