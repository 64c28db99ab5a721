//! Applying logged callbacks to the current rows, inside one projection step.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::payment::{self, Current, Logged, Step};
use crate::store::{Position, ProjectionStep, Store, StoreError, Unprojected};

/// Events read per step (a step also stops at 8 MiB of bodies).
pub const BATCH: i64 = 2048;

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stepped {
    /// Moved the position over `events` events.
    Advanced { to: Position, events: usize },
    /// Nothing after the position.
    Idle,
    /// Another replica's step holds the lock.
    Busy,
}

/// What applying a list of events did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Applied {
    /// History entries written (applied or kept out by the state rules).
    steps: u64,
    /// Events PostgreSQL refused to derive rows from (recorded as failures).
    failed: u64,
}

/// Takes one step of the projection: the events after the position, applied and committed
/// with the new position.
pub async fn step(store: &Store) -> Result<Stepped, StoreError> {
    let Some(mut step) = store.begin_projection().await? else {
        return Ok(Stepped::Busy);
    };
    let events = step.events(BATCH).await?;
    let Some(to) = events.last().map(|e| e.position) else {
        return Ok(Stepped::Idle);
    };
    let n = events.len();
    apply_all(&mut step, &readable(events)).await?;
    step.commit(to).await?;
    metrics::histogram!("txhook_projection_batch_size").record(n as f64);
    metrics::gauge!("txhook_projection_position").set(to.sequence as f64);
    Ok(Stepped::Advanced { to, events: n })
}

/// What `txhook rebuild` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    /// Events read from the log.
    pub events: u64,
    /// History entries written.
    pub steps: u64,
    /// Events that could not be applied.
    pub failed: u64,
}

/// Derives every current state and history again from the start of the log, in one
/// database transaction: readers see the old derivation until the new one is whole.
pub async fn rebuild(store: &Store) -> Result<Rebuilt, StoreError> {
    let mut step = store.begin_projection_waiting().await?;
    step.reset().await?;
    let mut done = Rebuilt {
        events: 0,
        steps: 0,
        failed: 0,
    };
    loop {
        let events = step.events(BATCH * 4).await?;
        let Some(to) = events.last().map(|e| e.position) else {
            break;
        };
        done.events += events.len() as u64;
        let applied = apply_all(&mut step, &readable(events)).await?;
        done.steps += applied.steps;
        done.failed += applied.failed;
        step.advance(to);
    }
    let to = step.position;
    step.commit(to).await?;
    Ok(done)
}

/// What `reprocess` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reprocessed {
    /// Quarantined callbacks looked at.
    pub examined: u64,
    /// Now read as transactions and applied to them (judged by the state rules).
    pub fixed: u64,
}

/// Reads every quarantined callback received at or after `since` again with the current
/// reader; those that now read as a transaction are applied to it by the projector's own
/// code, judged by their place in the log. The events stay as logged (the log is
/// append-only); their history entries show what became of them. Running it twice changes
/// nothing the second time.
pub async fn reprocess(
    store: &Store,
    since: Option<DateTime<Utc>>,
) -> Result<Reprocessed, StoreError> {
    let mut step = store.begin_projection_waiting().await?;
    let candidates = step.unapplied_quarantined(since).await?;
    let examined = candidates.len() as u64;
    let logged: Vec<Logged> = candidates
        .into_iter()
        .filter_map(|(sequence, received_at, body)| logged(sequence, received_at, &body))
        .collect();
    let applied = apply_all(&mut step, &logged).await?;
    step.commit_in_place().await?;
    Ok(Reprocessed {
        examined,
        fixed: applied.steps,
    })
}

/// The callbacks among `events` that read as transactions.
fn readable(events: Vec<Unprojected>) -> Vec<Logged> {
    events
        .into_iter()
        .filter_map(|e| logged(e.position.sequence, e.received_at, e.body.as_deref()?))
        .collect()
}

fn logged(sequence: i64, received_at: DateTime<Utc>, body: &[u8]) -> Option<Logged> {
    payment::read_transaction(body).map(|transaction| Logged {
        sequence,
        received_at,
        transaction,
    })
}

/// Applies `events` in order. When PostgreSQL refuses the derived rows, applies them one by
/// one, so that only the event that causes it is recorded as a failure and the others go on.
async fn apply_all(step: &mut ProjectionStep, events: &[Logged]) -> Result<Applied, StoreError> {
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    let held = step.already_applied(&sequences).await?;
    let todo: Vec<&Logged> = events
        .iter()
        .filter(|e| !held.contains(&e.sequence))
        .collect();
    if todo.is_empty() {
        return Ok(Applied::default());
    }
    match derive_and_write(step, &todo).await {
        Ok(()) => Ok(Applied {
            steps: todo.len() as u64,
            failed: 0,
        }),
        Err(e) if e.is_permanent_for_row() => {
            tracing::warn!(error = %e, size = todo.len(), "projection refused; applying one by one");
            let mut applied = Applied::default();
            for event in todo {
                match derive_and_write(step, &[event]).await {
                    Ok(()) => applied.steps += 1,
                    Err(e) if e.is_permanent_for_row() => {
                        let why = format!(
                            "database refused the derived state (sqlstate {})",
                            e.sqlstate().unwrap_or_default()
                        );
                        tracing::warn!(sequence = event.sequence, %why, "event not projected");
                        metrics::counter!("txhook_projection_failures_total").increment(1);
                        step.fail(event.sequence, &event.transaction.id, &why)
                            .await?;
                        applied.failed += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(applied)
        }
        Err(e) => Err(e),
    }
}

/// Derives the current rows of `events`' transactions and writes them with the history.
async fn derive_and_write(step: &mut ProjectionStep, events: &[&Logged]) -> Result<(), StoreError> {
    let ids: Vec<&str> = {
        let mut seen = HashSet::new();
        events
            .iter()
            .map(|e| e.transaction.id.as_str())
            .filter(|id| seen.insert(*id))
            .collect()
    };
    let mut current: HashMap<String, Current> = step.current(&ids).await?;
    let mut changed: HashSet<&str> = HashSet::new();
    let mut steps: Vec<Step> = Vec::with_capacity(events.len());
    for event in events {
        let id = event.transaction.id.as_str();
        let (now, entry) = payment::apply(current.remove(id), event);
        if entry.applied {
            changed.insert(id);
        }
        current.insert(id.to_owned(), now);
        steps.push(entry);
    }
    let rows: Vec<&Current> = changed.iter().filter_map(|id| current.get(*id)).collect();
    step.write(&rows, &steps).await?;
    metrics::counter!("txhook_projection_events_total").increment(steps.len() as u64);
    Ok(())
}
