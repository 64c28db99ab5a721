//! The SQL of the projection: the projector's position in the log, the events after it, the
//! current rows it derives from, and writing what it derived, all in one database
//! transaction per step, so that a crash applies a step whole or not at all.
//!
//! Positions are in the log's tail order, `(txid, sequence)` (see `events.rs`): a step reads
//! only rows whose writer is older than every transaction still running, so no row can later
//! appear behind the position.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction as DbTx};

use super::{Store, StoreError};
use crate::transaction::{Current, Step};

/// The projector's name in `consumer_positions`.
const PROJECTOR: &str = "projector";

/// A position in the log's tail order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// The writing transaction's id (`xid8`).
    pub txid: u64,
    pub sequence: i64,
}

impl Position {
    /// A position from its columns, `txid` as text.
    pub fn parse(txid: &str, sequence: i64) -> Result<Self, StoreError> {
        let txid = txid
            .parse()
            .map_err(|_| StoreError::BatchFailed(format!("unreadable txid {txid:?}")))?;
        Ok(Self { txid, sequence })
    }

    fn from_row((txid, sequence): (String, i64)) -> Result<Self, StoreError> {
        Self::parse(&txid, sequence)
    }
}

/// An event after the projector's position: a callback's body to read, or another source's
/// event that only moves the position.
#[derive(Debug)]
pub struct Unprojected {
    pub position: Position,
    pub received_at: DateTime<Utc>,
    /// The raw body, for callbacks.
    pub body: Option<Vec<u8>>,
}

/// An event the projector could not apply.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub sequence: i64,
    pub transaction_id: Option<String>,
    pub error: String,
    pub failed_at: DateTime<Utc>,
}

/// One step of the projection: holds the projector's lock (its row in `consumer_positions`)
/// until it commits or is dropped (rolled back).
pub struct ProjectionStep {
    tx: DbTx<'static, Postgres>,
    /// Where the projection stood when the step began.
    pub position: Position,
}

impl Store {
    /// Begins a projection step, or `None` when another replica's step holds the lock.
    pub async fn begin_projection(&self) -> Result<Option<ProjectionStep>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, i64)> = sqlx::query_as(
            "select txid::text, sequence from consumer_positions where name = $1
                for update skip locked",
        )
        .bind(PROJECTOR)
        .fetch_optional(&mut *tx)
        .await?;
        match row {
            Some(row) => Ok(Some(ProjectionStep {
                tx,
                position: Position::from_row(row)?,
            })),
            None => Ok(None),
        }
    }

    /// Like [`Store::begin_projection`], waiting for the lock (rebuild and reprocess).
    pub async fn begin_projection_waiting(&self) -> Result<ProjectionStep, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: (String, i64) = sqlx::query_as(
            "select txid::text, sequence from consumer_positions where name = $1 for update",
        )
        .bind(PROJECTOR)
        .fetch_one(&mut *tx)
        .await?;
        Ok(ProjectionStep {
            tx,
            position: Position::from_row(row)?,
        })
    }

    /// The projector's position as committed.
    pub async fn projection_position(&self) -> Result<Position, StoreError> {
        let row: (String, i64) =
            sqlx::query_as("select txid::text, sequence from consumer_positions where name = $1")
                .bind(PROJECTOR)
                .fetch_one(&self.pool)
                .await?;
        Position::from_row(row)
    }

    /// The last event of the log (in tail order) and the projector's position, read in one
    /// snapshot: every event committed before this call is at or before the first.
    pub async fn log_frontier(&self) -> Result<(Option<Position>, Position), StoreError> {
        let row: (Option<String>, Option<i64>, String, i64) = sqlx::query_as(
            "select last.txid::text, last.sequence, p.txid::text, p.sequence
               from consumer_positions p
               left join lateral (select txid, sequence from events
                                   order by txid desc, sequence desc limit 1) last on true
              where p.name = $1",
        )
        .bind(PROJECTOR)
        .fetch_one(&self.pool)
        .await?;
        let last = match (row.0, row.1) {
            (Some(txid), Some(sequence)) => Some(Position::from_row((txid, sequence))?),
            _ => None,
        };
        Ok((last, Position::from_row((row.2, row.3))?))
    }

    /// How far the projection trails the log: events not yet projected (counted up to
    /// `cap`) and when the oldest of them was received.
    pub async fn projection_lag(
        &self,
        cap: i64,
    ) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        let row = sqlx::query_as(
            "select count(*), min(received_at) from (
                 select e.received_at from events e, consumer_positions p
                  where p.name = $1 and (e.txid, e.sequence) > (p.txid, p.sequence)
                  order by e.txid, e.sequence limit $2) behind",
        )
        .bind(PROJECTOR)
        .bind(cap)
        .fetch_one(&self.pool)
        .await?;
        Ok(row)
    }

    /// How many events the projector could not apply.
    pub async fn projection_failure_count(&self) -> Result<i64, StoreError> {
        let n = sqlx::query_scalar("select count(*) from projection_failures")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// The events the projector could not apply, newest first.
    pub async fn projection_failures(&self, limit: i64) -> Result<Vec<Failure>, StoreError> {
        let rows = sqlx::query_as(
            "select sequence, transaction_id, error, failed_at from projection_failures
              order by sequence desc limit $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

impl ProjectionStep {
    /// Up to `limit` events after the step's position, in tail order.
    pub async fn events(&mut self, limit: i64) -> Result<Vec<Unprojected>, StoreError> {
        let rows: Vec<UnprojectedRow> = sqlx::query_as(&super::events::tail_page(
            "txid::text, sequence, received_at, case when source = 'callback' then body end",
        ))
        .bind(self.position.txid.to_string())
        .bind(self.position.sequence)
        .bind(limit)
        .bind(super::events::PAGE_MAX_BODY_BYTES)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter()
            .map(|(txid, sequence, received_at, body)| {
                Ok(Unprojected {
                    position: Position::from_row((txid, sequence))?,
                    received_at,
                    body,
                })
            })
            .collect()
    }

    /// Of `sequences`, those already in some transaction's history (applied before: by a
    /// replica running older code, or by `reprocess`); they are not applied again.
    pub async fn already_applied(&mut self, sequences: &[i64]) -> Result<HashSet<i64>, StoreError> {
        let rows: Vec<i64> =
            sqlx::query_scalar("select sequence from transaction_states where sequence = any($1)")
                .bind(sequences)
                .fetch_all(&mut *self.tx)
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// The current rows of the transactions `ids`, those that exist.
    pub async fn current(&mut self, ids: &[&str]) -> Result<HashMap<String, Current>, StoreError> {
        let rows: Vec<CurrentRow> = sqlx::query_as(
            "select id, current_sequence, first_sequence, type, state, reason, complete,
                    wallet_id, amount::text as amount, currency, created_at, completed_at,
                    first_received_at, updated_at, short_id, external_id, charge_for
               from transactions where id = any($1)",
        )
        .bind(ids)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.into_iter().map(|r| (r.id.clone(), r.into())).collect())
    }

    /// Writes `rows` (new or changed current states) and `steps` (history), inside a
    /// savepoint: on an error the step goes on as if neither had been written.
    pub async fn write(&mut self, rows: &[&Current], steps: &[Step]) -> Result<(), StoreError> {
        let mut sp = sqlx::Connection::begin(&mut *self.tx).await?;
        write_rows(&mut sp, rows).await?;
        write_steps(&mut sp, steps).await?;
        sp.commit().await?;
        Ok(())
    }

    /// Records that the event `sequence` could not be applied, and why.
    pub async fn fail(
        &mut self,
        sequence: i64,
        transaction_id: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into projection_failures (sequence, transaction_id, error)
             values ($1, $2, $3) on conflict (sequence) do update set error = excluded.error,
                 failed_at = now()",
        )
        .bind(sequence)
        .bind(transaction_id)
        .bind(error)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Empties the derived tables and moves the position to the start of the log
    /// (`txhook rebuild`); nothing shows until the step commits.
    pub async fn reset(&mut self) -> Result<(), StoreError> {
        sqlx::query("truncate transactions, transaction_states, projection_failures")
            .execute(&mut *self.tx)
            .await?;
        self.position = Position::default();
        Ok(())
    }

    /// Moves the position to `to` and commits everything the step wrote.
    pub async fn commit(mut self, to: Position) -> Result<(), StoreError> {
        sqlx::query(
            "update consumer_positions set txid = $2::xid8, sequence = $3, updated_at = now()
              where name = $1",
        )
        .bind(PROJECTOR)
        .bind(to.txid.to_string())
        .bind(to.sequence)
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Commits what the step wrote without moving the position (reprocess).
    pub async fn commit_in_place(self) -> Result<(), StoreError> {
        let to = self.position;
        self.commit(to).await
    }

    /// Advances the step's own position (rebuild takes many batches in one step).
    pub fn advance(&mut self, to: Position) {
        self.position = to;
    }

    /// Quarantined callbacks received at or after `since` that no history holds: the events
    /// `reprocess` reads again.
    pub async fn unapplied_quarantined(
        &mut self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<(i64, DateTime<Utc>, Vec<u8>)>, StoreError> {
        let rows = sqlx::query_as(
            "select e.sequence, e.received_at, e.body from events e
              where e.source = 'callback' and e.outcome = 'quarantined'
                and e.received_at >= coalesce($1, '-infinity'::timestamptz)
                and not exists (select 1 from transaction_states s where s.sequence = e.sequence)
                and not exists (select 1 from projection_failures f where f.sequence = e.sequence)
              order by e.sequence",
        )
        .bind(since)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows)
    }
}

async fn write_rows(tx: &mut DbTx<'_, Postgres>, rows: &[&Current]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    macro_rules! column {
        ($f:expr) => {
            rows.iter().map($f).collect::<Vec<_>>()
        };
    }
    sqlx::query(
        "insert into transactions as t (id, current_sequence, first_sequence, type, state,
                                       reason, complete, wallet_id, amount, currency,
                                       created_at, completed_at, first_received_at, updated_at,
                                       short_id, external_id, charge_for)
         select id, cs, fs, ty, st, re, co, w, a::numeric, cu, ca, cpa, fr, up, si, ei, cf
           from unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[],
                       $7::bool[], $8::text[], $9::text[], $10::text[], $11::timestamptz[],
                       $12::timestamptz[], $13::timestamptz[], $14::timestamptz[],
                       $15::text[], $16::text[], $17::text[])
                as u(id, cs, fs, ty, st, re, co, w, a, cu, ca, cpa, fr, up, si, ei, cf)
          order by id
         on conflict (id) do update
            set current_sequence = excluded.current_sequence, type = excluded.type,
                state = excluded.state, reason = excluded.reason, complete = excluded.complete,
                wallet_id = excluded.wallet_id, amount = excluded.amount,
                currency = excluded.currency, created_at = excluded.created_at,
                completed_at = excluded.completed_at, updated_at = excluded.updated_at,
                short_id = excluded.short_id, external_id = excluded.external_id,
                charge_for = excluded.charge_for",
    )
    .bind(column!(|r| r.id.as_str()))
    .bind(column!(|r| r.current_sequence))
    .bind(column!(|r| r.first_sequence))
    .bind(column!(|r| r.kind.as_deref()))
    .bind(column!(|r| r.state.as_str()))
    .bind(column!(|r| r.reason.as_deref()))
    .bind(column!(|r| r.complete))
    .bind(column!(|r| r.wallet_id.as_deref()))
    .bind(column!(|r| r.amount.as_deref()))
    .bind(column!(|r| r.currency.as_deref()))
    .bind(column!(|r| r.created_at))
    .bind(column!(|r| r.completed_at))
    .bind(column!(|r| r.first_received_at))
    .bind(column!(|r| r.updated_at))
    .bind(column!(|r| r.short_id.as_deref()))
    .bind(column!(|r| r.external_id.as_deref()))
    .bind(column!(|r| r.charge_for.as_deref()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_steps(tx: &mut DbTx<'_, Postgres>, steps: &[Step]) -> Result<(), StoreError> {
    if steps.is_empty() {
        return Ok(());
    }
    macro_rules! column {
        ($f:expr) => {
            steps.iter().map($f).collect::<Vec<_>>()
        };
    }
    sqlx::query(
        "insert into transaction_states (sequence, transaction_id, state, reason, amount,
                                         currency, applied, received_at)
         select s, id, st, re, a::numeric, cu, ap, r
           from unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::bool[], $8::timestamptz[]) as u(s, id, st, re, a, cu, ap, r)",
    )
    .bind(column!(|s| s.sequence))
    .bind(column!(|s| s.transaction_id.as_str()))
    .bind(column!(|s| s.state.as_str()))
    .bind(column!(|s| s.reason.as_deref()))
    .bind(column!(|s| s.amount.as_deref()))
    .bind(column!(|s| s.currency.as_deref()))
    .bind(column!(|s| s.applied))
    .bind(column!(|s| s.received_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `txid::text, sequence, received_at, body` of an event after the position.
type UnprojectedRow = (String, i64, DateTime<Utc>, Option<Vec<u8>>);

#[derive(sqlx::FromRow)]
struct CurrentRow {
    id: String,
    current_sequence: i64,
    first_sequence: i64,
    #[sqlx(rename = "type")]
    kind: Option<String>,
    state: String,
    reason: Option<String>,
    complete: Option<bool>,
    wallet_id: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    created_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    first_received_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    short_id: Option<String>,
    external_id: Option<String>,
    charge_for: Option<String>,
}

impl From<CurrentRow> for Current {
    fn from(r: CurrentRow) -> Self {
        Self {
            id: r.id,
            current_sequence: r.current_sequence,
            first_sequence: r.first_sequence,
            kind: r.kind,
            state: r.state,
            reason: r.reason,
            complete: r.complete,
            wallet_id: r.wallet_id,
            amount: r.amount,
            currency: r.currency,
            created_at: r.created_at,
            completed_at: r.completed_at,
            first_received_at: r.first_received_at,
            updated_at: r.updated_at,
            short_id: r.short_id,
            external_id: r.external_id,
            charge_for: r.charge_for,
        }
    }
}
