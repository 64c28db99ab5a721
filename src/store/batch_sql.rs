//! The SQL of one group commit: the batch goes to PostgreSQL as parallel arrays in one call
//! of `txhook_write_callbacks` (migration `..._group_commit_function.sql`), which writes the
//! keys, the event log, the current states by the state rules and the history where the data
//! is. A batch costs one round trip and one commit whatever its size.

use std::collections::HashSet;

use super::callbacks::Columns;
use super::{NewCallback, Outcome, Store, StoreError};
use crate::transaction::Reading;

/// Writes `callbacks` in one database transaction and returns each one's outcome, in order.
pub(super) async fn write_batch(
    store: &Store,
    callbacks: &[&NewCallback],
) -> Result<Vec<Outcome>, StoreError> {
    // Within the batch the first delivery of a dedup key is the one written; the others are
    // duplicates of it (and fail with it if the batch fails).
    let unique: Vec<usize> = {
        let mut seen = HashSet::with_capacity(callbacks.len());
        (0..callbacks.len())
            .filter(|&i| seen.insert(callbacks[i].dedup_key.as_str()))
            .collect()
    };
    let arrays = Arrays::of(unique.iter().map(|&i| callbacks[i]));

    // The statement runs in its own implicit transaction; `fetch_all` returns only after
    // PostgreSQL's ReadyForQuery, which follows the commit, and returns the commit's error
    // if it fails. So an `Ok` here means committed.
    let written: Vec<(i32, i64)> = sqlx::query_as(
        "select ord, seq from txhook_write_callbacks($1, $2, $3::jsonb[], $4, $5, $6, $7, $8, $9, $10,
                                                     $11, $12, $13, $14, $15)",
    )
    .bind(&arrays.keys)
    .bind(&arrays.received)
    .bind(&arrays.headers)
    .bind(&arrays.bodies)
    .bind(&arrays.quarantine)
    .bind(&arrays.ids)
    .bind(&arrays.states)
    .bind(&arrays.types)
    .bind(&arrays.reasons)
    .bind(&arrays.complete)
    .bind(&arrays.wallets)
    .bind(&arrays.amounts)
    .bind(&arrays.currencies)
    .bind(&arrays.created)
    .bind(&arrays.completed)
    .fetch_all(&store.pool)
    .await?;

    let mut outcomes = vec![Outcome::Duplicate; callbacks.len()];
    for (ord, sequence) in written {
        let i = usize::try_from(ord - 1)
            .ok()
            .and_then(|o| unique.get(o))
            .copied()
            .ok_or_else(|| StoreError::BatchFailed(format!("unexpected position {ord}")))?;
        outcomes[i] = match &callbacks[i].reading {
            Reading::Transaction(_) => Outcome::Stored { sequence },
            Reading::Quarantine(reason) => Outcome::Quarantined {
                sequence,
                reason: reason.clone(),
            },
        };
    }
    Ok(outcomes)
}

/// A batch as the function's parallel arrays.
#[derive(Default)]
struct Arrays<'a> {
    keys: Vec<&'a str>,
    received: Vec<chrono::DateTime<chrono::Utc>>,
    headers: Vec<&'a str>,
    bodies: Vec<&'a [u8]>,
    quarantine: Vec<Option<&'a str>>,
    ids: Vec<Option<&'a str>>,
    states: Vec<Option<&'a str>>,
    types: Vec<Option<&'a str>>,
    reasons: Vec<Option<&'a str>>,
    complete: Vec<Option<bool>>,
    wallets: Vec<Option<&'a str>>,
    amounts: Vec<Option<&'a str>>,
    currencies: Vec<Option<&'a str>>,
    created: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    completed: Vec<Option<chrono::DateTime<chrono::Utc>>>,
}

impl<'a> Arrays<'a> {
    fn of(callbacks: impl Iterator<Item = &'a NewCallback>) -> Self {
        let mut a = Self::default();
        for cb in callbacks {
            a.keys.push(&cb.dedup_key);
            a.received.push(cb.received_at);
            a.headers.push(&cb.headers);
            a.bodies.push(&cb.body);
            match &cb.reading {
                Reading::Transaction(t) => {
                    let cols = Columns::of(t);
                    a.quarantine.push(None);
                    a.ids.push(Some(&t.id));
                    a.states.push(Some(t.status.state.as_str()));
                    a.types.push(cols.kind);
                    a.reasons.push(t.status.reason.as_deref());
                    a.complete.push(t.status.complete);
                    a.wallets.push(t.wallet_id.as_deref());
                    a.amounts.push(cols.amount);
                    a.currencies.push(cols.currency);
                    a.created.push(cols.created_at);
                    a.completed.push(cols.completed_at);
                }
                Reading::Quarantine(reason) => {
                    a.quarantine.push(Some(reason));
                    a.ids.push(None);
                    a.states.push(None);
                    a.types.push(None);
                    a.reasons.push(None);
                    a.complete.push(None);
                    a.wallets.push(None);
                    a.amounts.push(None);
                    a.currencies.push(None);
                    a.created.push(None);
                    a.completed.push(None);
                }
            }
        }
        a
    }
}
