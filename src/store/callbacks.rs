//! Writing a verified callback: event log, current state by the state rules, history, all in
//! one database transaction, committed before the caller answers.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Transaction as DbTx};

use super::{Store, StoreError};
use crate::transaction::{Reading, Transaction, TxState, applies_over};

/// A verified callback, ready to be written.
#[derive(Debug)]
pub struct NewCallback {
    pub received_at: DateTime<Utc>,
    /// Request headers without secrets: the text of a JSON object.
    pub headers: String,
    pub body: bytes::Bytes,
    pub dedup_key: String,
    pub reading: Reading,
}

/// What happened to a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New, committed.
    Stored { sequence: i64 },
    /// Already held (by dedup key); nothing written.
    Duplicate,
    /// New, committed raw in quarantine.
    Quarantined { sequence: i64, reason: String },
}

impl Store {
    /// Writes one callback in its own database transaction (the `single` write mode).
    ///
    /// A row PostgreSQL refuses for its data ([`StoreError::is_permanent_for_row`]: a NUL,
    /// an index row too large, a number out of range) is written again as quarantined, so
    /// that no content of a validly signed body can fail its delivery forever: the answer is
    /// 200 and the raw body is kept. Only the store being unavailable is an error.
    #[tracing::instrument(skip_all, fields(dedup_key = %cb.dedup_key))]
    pub async fn record_callback(&self, cb: &NewCallback) -> Result<Outcome, StoreError> {
        let e = match self.record_once(cb, None).await {
            Err(e) if e.is_permanent_for_row() => e,
            other => return other,
        };
        let reason = format!(
            "database refused the callback's data (sqlstate {})",
            e.sqlstate().unwrap_or_default()
        );
        tracing::warn!(%reason, "quarantining callback");
        if matches!(cb.reading, Reading::Transaction(_)) {
            match self.record_once(cb, Some(reason.clone())).await {
                Err(e) if e.is_permanent_for_row() => {}
                other => return other,
            }
        }
        // Only what txhook made itself is left to refuse (the key, the kept headers): keep
        // the raw body under a key derived from the original one, so retries still meet it.
        let bare = NewCallback {
            received_at: cb.received_at,
            headers: "{}".to_owned(),
            body: cb.body.clone(),
            dedup_key: format!(
                "refused-sha256:{}",
                hex::encode(Sha256::digest(cb.dedup_key.as_bytes()))
            ),
            reading: Reading::Quarantine(reason.clone()),
        };
        self.record_once(&bare, Some(reason)).await
    }

    async fn record_once(
        &self,
        cb: &NewCallback,
        force_quarantine: Option<String>,
    ) -> Result<Outcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let outcome = insert_callback(&mut tx, cb, force_quarantine).await?;
        if outcome != Outcome::Duplicate {
            tx.commit().await?;
        }
        Ok(outcome)
    }
}

/// Writes `cb` inside `tx`: the event row (unless its dedup key is held), then, for a
/// transaction, its current state and history.
pub(super) async fn insert_callback(
    tx: &mut DbTx<'_, Postgres>,
    cb: &NewCallback,
    force_quarantine: Option<String>,
) -> Result<Outcome, StoreError> {
    let (txn, quarantine) = match (&cb.reading, force_quarantine) {
        (_, Some(reason)) => (None, Some(reason)),
        (Reading::Transaction(t), None) => (Some(t.as_ref()), None),
        (Reading::Quarantine(reason), None) => (None, Some(reason.clone())),
    };
    let sequence: Option<i64> = sqlx::query_scalar(
        // The key first: a held key (even one whose event sits in an old partition) means
        // a duplicate, and a concurrent identical delivery waits here for the first to end.
        "with key as (
             insert into event_keys (dedup_key, received_at) values ($1, $2)
             on conflict (dedup_key) do nothing
             returning sequence)
         insert into events (sequence, source, dedup_key, received_at, headers, body, outcome,
                             quarantine_reason, transaction_id, state)
         select key.sequence, 'callback', $1, $2, $3::jsonb, $4, $5, $6, $7, $8 from key
         returning sequence",
    )
    .bind(&cb.dedup_key)
    .bind(cb.received_at)
    .bind(&cb.headers)
    .bind(cb.body.as_ref())
    .bind(if quarantine.is_some() {
        "quarantined"
    } else {
        "stored"
    })
    .bind(&quarantine)
    .bind(txn.map(|t| t.id.as_str()))
    .bind(txn.map(|t| t.status.state.as_str()))
    .fetch_optional(&mut **tx)
    .await?;

    let Some(sequence) = sequence else {
        return Ok(Outcome::Duplicate);
    };
    match (txn, quarantine) {
        (Some(t), _) => {
            apply_transaction(tx, t, sequence, cb.received_at).await?;
            Ok(Outcome::Stored { sequence })
        }
        (None, reason) => Ok(Outcome::Quarantined {
            sequence,
            reason: reason.unwrap_or_default(),
        }),
    }
}

/// Updates the current state of `t` by the state rules and records the callback in its
/// history. The transaction row is locked, so concurrent callbacks of one transaction apply
/// one after another.
pub(super) async fn apply_transaction(
    tx: &mut DbTx<'_, Postgres>,
    t: &Transaction,
    sequence: i64,
    received_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let cols = Columns::of(t);
    let inserted = sqlx::query(
        "insert into transactions (id, current_sequence, first_sequence, type, state, reason,
                                   complete, wallet_id, amount, currency, created_at,
                                   completed_at, first_received_at, updated_at)
         values ($1, $2, $2, $3, $4, $5, $6, $7, $8::numeric, $9, $10, $11, $12, $12)
         on conflict (id) do nothing",
    )
    .bind(&t.id)
    .bind(sequence)
    .bind(cols.kind)
    .bind(t.status.state.as_str())
    .bind(&t.status.reason)
    .bind(t.status.complete)
    .bind(&t.wallet_id)
    .bind(cols.amount)
    .bind(cols.currency)
    .bind(cols.created_at)
    .bind(cols.completed_at)
    .bind(received_at)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;

    let applied = if inserted {
        true
    } else {
        let (current, current_sequence): (String, i64) = sqlx::query_as(
            "select state, current_sequence from transactions where id = $1 for update",
        )
        .bind(&t.id)
        .fetch_one(&mut **tx)
        .await?;
        let applies = applies_over(
            &TxState::from(current),
            current_sequence,
            &t.status.state,
            sequence,
        );
        if applies {
            sqlx::query(
                "update transactions
                    set current_sequence = $2, type = coalesce($3, type), state = $4,
                        reason = $5, complete = $6, wallet_id = coalesce($7, wallet_id),
                        amount = coalesce($8::numeric, amount),
                        currency = coalesce($9, currency),
                        created_at = coalesce($10, created_at),
                        completed_at = coalesce($11, completed_at), updated_at = now()
                  where id = $1",
            )
            .bind(&t.id)
            .bind(sequence)
            .bind(cols.kind)
            .bind(t.status.state.as_str())
            .bind(&t.status.reason)
            .bind(t.status.complete)
            .bind(&t.wallet_id)
            .bind(cols.amount)
            .bind(cols.currency)
            .bind(cols.created_at)
            .bind(cols.completed_at)
            .execute(&mut **tx)
            .await?;
        }
        applies
    };

    sqlx::query(
        "insert into transaction_states (sequence, transaction_id, state, reason, amount,
                                         currency, applied, received_at)
         values ($1, $2, $3, $4, $5::numeric, $6, $7, $8)",
    )
    .bind(sequence)
    .bind(&t.id)
    .bind(t.status.state.as_str())
    .bind(&t.status.reason)
    .bind(cols.amount)
    .bind(cols.currency)
    .bind(applied)
    .bind(received_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The model's values as the columns hold them.
pub(super) struct Columns<'a> {
    pub kind: Option<&'a str>,
    pub amount: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub created_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl<'a> Columns<'a> {
    pub fn of(t: &'a Transaction) -> Self {
        let time = |s: &Option<String>| {
            s.as_deref()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc))
        };
        Self {
            kind: t.kind.as_ref().map(|k| k.as_str()),
            // Bound as text and cast to numeric in SQL: the digits never pass through f64.
            amount: t.amount.as_ref().map(|a| a.amount.as_str()),
            currency: t.amount.as_ref().map(|a| a.currency.as_str()),
            created_at: time(&t.created_at),
            completed_at: time(&t.completed_at),
        }
    }
}
