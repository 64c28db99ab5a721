//! One step of the projection: the events after its position, the current rows they touch,
//! writing what was derived, and the commit that moves the position.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::derived::{read_current, write_rows, write_steps};
use super::{PROJECTOR, ProjectionStep, Unprojected};
use crate::payment::{Current, Step};
use crate::store::events::read_tail_page;
use crate::store::position::commit_position;
use crate::store::{Position, StoreError};

impl ProjectionStep {
    /// Up to `limit` events after the step's position, in tail order.
    pub async fn events(&mut self, limit: i64) -> Result<Vec<Unprojected>, StoreError> {
        let rows: Vec<UnprojectedRow> = read_tail_page(
            &mut *self.tx,
            "txid::text, sequence, received_at, case when source = 'callback' then body end",
            self.position,
            limit,
        )
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
        read_current(&mut self.tx, ids).await
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
    pub async fn commit(self, to: Position) -> Result<(), StoreError> {
        commit_position(
            self.tx,
            "update consumer_positions set txid = $2::xid8, sequence = $3, updated_at = now()
              where name = $1",
            PROJECTOR,
            to,
        )
        .await
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

/// `txid::text, sequence, received_at, body` of an event after the position.
type UnprojectedRow = (String, i64, DateTime<Utc>, Option<Vec<u8>>);
