//! The projector's background task: a step whenever the log grows, until told to stop.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep};

use super::apply::{Stepped, step};
use crate::store::Store;

/// How long an idle projector waits before looking again without being woken: a safety
/// net (a writer's notification may be missed while the `LISTEN` connection is away, and an
/// older open transaction can hold events back without any new commit to announce it).
const IDLE_LOOK: Duration = Duration::from_millis(250);

/// How long a woken projector lets further commits gather before its step.
const GATHER: Duration = Duration::from_millis(10);

/// How often the lag is measured for the metrics.
const LAG_EVERY: Duration = Duration::from_secs(1);

/// Projects until `stop` turns true.
pub async fn run(store: Store, mut stop: watch::Receiver<bool>) {
    let mut grew = store.log_changes();
    let mut lag_at = Instant::now();
    loop {
        if *stop.borrow() {
            break;
        }
        grew.borrow_and_update();
        let stepped = step(&store).await;
        if lag_at.elapsed() >= LAG_EVERY {
            lag_at = Instant::now();
            record_lag(&store).await;
        }
        match stepped {
            Ok(Stepped::Advanced { .. }) => {
                store.projection_advanced();
                continue;
            }
            Ok(Stepped::Idle | Stepped::Busy) => {}
            Err(e) => {
                tracing::warn!(error = %e, "projection step failed; retrying");
                metrics::counter!("txhook_db_errors_total").increment(1);
                tokio::select! {
                    () = sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        }
        tokio::select! {
            _ = grew.changed() => {
                // Under light load every batch would be a step of its own; a moment lets
                // the batches committing right now share one.
                sleep(GATHER).await;
            }
            () = sleep(IDLE_LOOK) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn record_lag(store: &Store) {
    match store.projection_lag(100_000).await {
        Ok((events, oldest)) => {
            metrics::gauge!("txhook_projection_lag_events").set(events as f64);
            let seconds = crate::telemetry::age_seconds(oldest);
            metrics::gauge!("txhook_projection_lag_seconds").set(seconds);
        }
        Err(e) => tracing::debug!(error = %e, "cannot measure the projection lag"),
    }
}
