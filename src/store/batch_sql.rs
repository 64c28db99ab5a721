//! The SQL of one group commit: every statement is multi-row, so a batch costs a handful of
//! round trips and one commit whatever its size.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::callbacks::{Columns, applies_over};
use super::{NewCallback, Outcome, Store, StoreError};
use crate::transaction::{Reading, Transaction, TxState};

/// Writes `callbacks` in one database transaction and returns each one's outcome, in order.
pub(super) async fn write_batch(
    store: &Store,
    callbacks: &[&NewCallback],
) -> Result<Vec<Outcome>, StoreError> {
    // Within the batch the first delivery of a dedup key is the one written; the others are
    // duplicates of it (and fail with it if the batch fails).
    let unique: Vec<usize> = {
        let mut seen = std::collections::HashSet::new();
        callbacks
            .iter()
            .enumerate()
            .filter(|(_, cb)| seen.insert(cb.dedup_key.as_str()))
            .map(|(i, _)| i)
            .collect()
    };

    let mut tx = store.pool.begin().await?;
    let inserted = insert_events(&mut tx, callbacks, &unique).await?;

    let mut outcomes = vec![Outcome::Duplicate; callbacks.len()];
    let mut by_id: Arrivals = BTreeMap::new();
    for &i in &unique {
        let cb = callbacks[i];
        let Some(&sequence) = inserted.get(cb.dedup_key.as_str()) else {
            continue;
        };
        outcomes[i] = match &cb.reading {
            Reading::Transaction(t) => {
                by_id
                    .entry(t.id.as_str())
                    .or_default()
                    .push((sequence, t, cb.received_at));
                Outcome::Stored { sequence }
            }
            Reading::Quarantine(reason) => Outcome::Quarantined {
                sequence,
                reason: reason.clone(),
            },
        };
    }
    if !by_id.is_empty() {
        for events in by_id.values_mut() {
            events.sort_by_key(|e| e.0);
        }
        apply_transactions(&mut tx, &by_id).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Postgres>;

/// A batch's new transaction callbacks by transaction id (sorted, so that row locks are taken
/// in one order), each as (sequence, callback, received at), oldest first.
type Arrivals<'a> = BTreeMap<&'a str, Vec<(i64, &'a Transaction, DateTime<Utc>)>>;

/// Inserts the event rows of `unique`; returns the sequence of each newly stored dedup key.
async fn insert_events(
    tx: &mut Tx<'_>,
    callbacks: &[&NewCallback],
    unique: &[usize],
) -> Result<HashMap<String, i64>, StoreError> {
    let n = unique.len();
    let (mut keys, mut received, mut headers, mut bodies) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut outcomes, mut reasons, mut ids, mut states) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for &i in unique {
        let cb = callbacks[i];
        keys.push(cb.dedup_key.as_str());
        received.push(cb.received_at);
        headers.push(&cb.headers);
        bodies.push(cb.body.as_ref());
        match &cb.reading {
            Reading::Transaction(t) => {
                outcomes.push("stored");
                reasons.push(None);
                ids.push(Some(t.id.as_str()));
                states.push(Some(t.status.state.as_str()));
            }
            Reading::Quarantine(reason) => {
                outcomes.push("quarantined");
                reasons.push(Some(reason.as_str()));
                ids.push(None);
                states.push(None);
            }
        }
    }
    if n > 1 {
        // Another batch (another writer or replica) may hold some of the same keys in
        // another order, and inserting in batch order would deadlock: each waits for the
        // other's uncommitted row. A lock per key, taken in one global order first, makes
        // such batches queue instead. The order of the inserts (and so of the sequences)
        // stays the order of arrival.
        sqlx::query(
            "select pg_advisory_xact_lock(h)
               from (select distinct hashtextextended(k, 0) as h
                       from unnest($1::text[]) as u(k) order by h) as s",
        )
        .bind(&keys)
        .execute(&mut **tx)
        .await?;
    }
    let rows: Vec<(i64, String)> = sqlx::query_as(
        // Keys first (see callbacks.rs); only the callbacks whose key was new get events.
        "with u as (
             select * from unnest($1::text[], $2::timestamptz[], $3::jsonb[], $4::bytea[],
                                  $5::text[], $6::text[], $7::text[], $8::text[])
                        as u(k, r, h, b, o, q, i, s)),
         key as (
             insert into event_keys (dedup_key, received_at)
             select k, r from u
             on conflict (dedup_key) do nothing
             returning dedup_key, sequence)
         insert into events (sequence, source, dedup_key, received_at, headers, body, outcome,
                             quarantine_reason, transaction_id, state)
         select key.sequence, 'callback', u.k, u.r, u.h, u.b, u.o, u.q, u.i, u.s
           from u join key on key.dedup_key = u.k
         returning sequence, dedup_key",
    )
    .bind(&keys)
    .bind(&received)
    .bind(&headers)
    .bind(&bodies)
    .bind(&outcomes)
    .bind(&reasons)
    .bind(&ids)
    .bind(&states)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(s, k)| (k, s)).collect())
}

/// One transaction's row as the batch leaves it.
struct Final<'a> {
    sequence: i64,
    state: &'a str,
    reason: Option<&'a str>,
    complete: Option<bool>,
    wallet_id: Option<&'a str>,
    cols: Columns<'a>,
}

impl<'a> Final<'a> {
    /// `t` applied over `prev`: its values, and the earlier ones where it has none (as the
    /// single-row path's `coalesce` does).
    fn over(prev: Option<Final<'a>>, sequence: i64, t: &'a Transaction) -> Self {
        let cols = Columns::of(t);
        let prev_cols = prev.as_ref().map(|p| &p.cols);
        Final {
            sequence,
            state: t.status.state.as_str(),
            reason: t.status.reason.as_deref(),
            complete: t.status.complete,
            wallet_id: t
                .wallet_id
                .as_deref()
                .or(prev.as_ref().and_then(|p| p.wallet_id)),
            cols: Columns {
                kind: cols.kind.or(prev_cols.and_then(|c| c.kind)),
                amount: cols.amount.or(prev_cols.and_then(|c| c.amount)),
                currency: cols.currency.or(prev_cols.and_then(|c| c.currency)),
                created_at: cols.created_at.or(prev_cols.and_then(|c| c.created_at)),
                completed_at: cols.completed_at.or(prev_cols.and_then(|c| c.completed_at)),
            },
        }
    }
}

/// Current state and history for every transaction of the batch: new transactions are
/// inserted, existing ones locked (in id order) and judged event by event by the state rules.
async fn apply_transactions(tx: &mut Tx<'_>, by_id: &Arrivals<'_>) -> Result<(), StoreError> {
    // Insert each id with its first event; those already present are left alone here.
    let firsts: Vec<(&str, i64, &Transaction, DateTime<Utc>)> = by_id
        .iter()
        .map(|(id, evs)| (*id, evs[0].0, evs[0].1, evs[0].2))
        .collect();
    let new_ids: Vec<String> = {
        let cols: Vec<Columns> = firsts.iter().map(|f| Columns::of(f.2)).collect();
        sqlx::query_scalar(
            "insert into transactions (id, current_sequence, first_sequence, type, state,
                                       reason, complete, wallet_id, amount, currency,
                                       created_at, completed_at, first_received_at, updated_at)
             select i, s, s, ty, st, re, co, w, a::numeric, cu, ca, cpa, r, r
               from unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
                           $6::bool[], $7::text[], $8::text[], $9::text[], $10::timestamptz[],
                           $11::timestamptz[], $12::timestamptz[])
                    as u(i, s, ty, st, re, co, w, a, cu, ca, cpa, r)
              order by i
             on conflict (id) do nothing
             returning id",
        )
        .bind(firsts.iter().map(|f| f.0).collect::<Vec<_>>())
        .bind(firsts.iter().map(|f| f.1).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.kind).collect::<Vec<_>>())
        .bind(
            firsts
                .iter()
                .map(|f| f.2.status.state.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            firsts
                .iter()
                .map(|f| f.2.status.reason.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            firsts
                .iter()
                .map(|f| f.2.status.complete)
                .collect::<Vec<_>>(),
        )
        .bind(
            firsts
                .iter()
                .map(|f| f.2.wallet_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(cols.iter().map(|c| c.amount).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.currency).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.created_at).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.completed_at).collect::<Vec<_>>())
        .bind(firsts.iter().map(|f| f.3).collect::<Vec<_>>())
        .fetch_all(&mut **tx)
        .await?
    };
    let new_ids: std::collections::HashSet<&str> = new_ids.iter().map(String::as_str).collect();

    let existing: Vec<&str> = by_id
        .keys()
        .copied()
        .filter(|id| !new_ids.contains(id))
        .collect();
    let current: HashMap<String, (String, i64)> = if existing.is_empty() {
        HashMap::new()
    } else {
        sqlx::query_as::<_, (String, String, i64)>(
            "select id, state, current_sequence from transactions
              where id = any($1) order by id for update",
        )
        .bind(&existing)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|(id, state, seq)| (id, (state, seq)))
        .collect()
    };

    // Judge every event against the state the previous one left, in the order received.
    let mut history: Vec<(i64, &str, &Transaction, bool, DateTime<Utc>)> = Vec::new();
    let mut updates: Vec<(&str, Final)> = Vec::new();
    for (id, events) in by_id {
        let (mut state, mut seq, mut fin, rest) = if new_ids.contains(id) {
            let (s, t, r) = events[0];
            history.push((s, id, t, true, r));
            (t.status.state.clone(), s, None, &events[1..])
        } else {
            let (st, s) = current.get(*id).ok_or_else(|| {
                StoreError::BatchFailed(format!("transaction {id:?} neither inserted nor found"))
            })?;
            (TxState::from(st.clone()), *s, None, &events[..])
        };
        for &(s, t, r) in rest {
            let applies = applies_over(&state, seq, &t.status.state, s);
            if applies {
                state = t.status.state.clone();
                seq = s;
                fin = Some(Final::over(fin, s, t));
            }
            history.push((s, id, t, applies, r));
        }
        if let Some(f) = fin {
            updates.push((id, f));
        }
    }

    if !updates.is_empty() {
        sqlx::query(
            "update transactions t
                set current_sequence = u.s, type = coalesce(u.ty, t.type), state = u.st,
                    reason = u.re, complete = u.co, wallet_id = coalesce(u.w, t.wallet_id),
                    amount = coalesce(u.a::numeric, t.amount),
                    currency = coalesce(u.cu, t.currency),
                    created_at = coalesce(u.ca, t.created_at),
                    completed_at = coalesce(u.cpa, t.completed_at), updated_at = now()
               from unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
                           $6::bool[], $7::text[], $8::text[], $9::text[], $10::timestamptz[],
                           $11::timestamptz[]) as u(i, s, ty, st, re, co, w, a, cu, ca, cpa)
              where t.id = u.i",
        )
        .bind(updates.iter().map(|u| u.0).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.1.sequence).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.1.cols.kind).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.1.state).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.1.reason).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.1.complete).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.1.wallet_id).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.1.cols.amount).collect::<Vec<_>>())
        .bind(
            updates
                .iter()
                .map(|u| u.1.cols.currency)
                .collect::<Vec<_>>(),
        )
        .bind(
            updates
                .iter()
                .map(|u| u.1.cols.created_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            updates
                .iter()
                .map(|u| u.1.cols.completed_at)
                .collect::<Vec<_>>(),
        )
        .execute(&mut **tx)
        .await?;
    }

    let cols: Vec<Columns> = history.iter().map(|h| Columns::of(h.2)).collect();
    sqlx::query(
        "insert into transaction_states (sequence, transaction_id, state, reason, amount,
                                         currency, applied, received_at)
         select s, i, st, re, a::numeric, cu, ap, r
           from unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::bool[], $8::timestamptz[]) as u(s, i, st, re, a, cu, ap, r)",
    )
    .bind(history.iter().map(|h| h.0).collect::<Vec<_>>())
    .bind(history.iter().map(|h| h.1).collect::<Vec<_>>())
    .bind(
        history
            .iter()
            .map(|h| h.2.status.state.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        history
            .iter()
            .map(|h| h.2.status.reason.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(cols.iter().map(|c| c.amount).collect::<Vec<_>>())
    .bind(cols.iter().map(|c| c.currency).collect::<Vec<_>>())
    .bind(history.iter().map(|h| h.3).collect::<Vec<_>>())
    .bind(history.iter().map(|h| h.4).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
