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
//!
//! - here: the worker's loop;
//! - [`fan_out`]: new events into each destination's deliveries;
//! - [`attempt`]: claiming due deliveries and trying each, its result recorded;
//! - [`request`]: what an attempt sends, signed;
//! - [`secret`]: the destinations' `whsec_` secrets.

mod attempt;
mod fan_out;
mod request;
mod secret;

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

use crate::store::{DestinationRow, Store};

use attempt::claim_all;
use fan_out::fan_out_all;
pub use secret::new_secret;

/// How deliveries are made.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// A delivery not delivered this long after it was made is dead-lettered.
    pub max_age: Duration,
    /// Wait before the second attempt; it doubles (with jitter) up to an hour.
    pub backoff_initial: Duration,
    /// Attempts in flight per destination in this replica.
    pub per_destination: usize,
}

/// A 2xx must come within this.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How soon the worker looks again when nothing woke it (due retries, other replicas).
const TICK: Duration = Duration::from_millis(200);
/// How often the backlog gauges are measured.
const GAUGES_EVERY: Duration = Duration::from_secs(2);
/// Delivered deliveries and attempts are kept this long (for the status and the console),
/// and forgotten after; looked at this often.
const KEEP_DELIVERED: Duration = Duration::from_secs(7 * 86_400);
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Delivers until `stop` turns true, then lets the attempts in flight finish (bounded).
pub async fn run(store: Store, options: DeliverySettings, mut stop: watch::Receiver<bool>) {
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
    // New events go out once the projection has passed them: its progress (here) wakes the
    // fan-out too; another replica's is seen on the next tick.
    let mut projected = store.projection_changes();
    let mut in_flight: HashMap<Uuid, usize> = HashMap::new();
    let mut attempts: JoinSet<Uuid> = JoinSet::new();
    let mut gauges_at = Instant::now();
    let mut pruned_at = Instant::now();
    let mut destinations: Vec<DestinationRow> = Vec::new();
    // Fanning out (and re-reading the destinations) when the log grew or a tick passed;
    // claiming whenever an attempt ends and frees a slot.
    let mut fan_due = true;
    // A fixed cadence, not a sleep restarted by every finished attempt: while attempts keep
    // finishing, events the projection has passed since the last fan-out still go out.
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *stop.borrow() {
            break;
        }
        if fan_due {
            fan_due = false;
            grew.borrow_and_update();
            projected.borrow_and_update();
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
            _ = projected.changed() => fan_due = true,
            _ = tick.tick() => fan_due = true,
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

async fn record_backlogs(store: &Store) {
    match store.delivery_backlogs().await {
        Ok(rows) => {
            for (id, backlog, oldest) in rows {
                let label = id.to_string();
                metrics::gauge!("txhook_delivery_backlog", "destination" => label.clone())
                    .set(backlog as f64);
                let age = crate::telemetry::age_seconds(oldest);
                metrics::gauge!("txhook_delivery_oldest_age_seconds", "destination" => label)
                    .set(age);
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot measure delivery backlogs"),
    }
}
