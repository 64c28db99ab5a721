//! How far the projection stands: its position, the log's frontier, the lag behind it, and
//! the events it could not apply.

use chrono::{DateTime, Utc};

use super::PROJECTOR;
use crate::store::{Position, Store, StoreError};

/// An event the projector could not apply.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub sequence: i64,
    pub transaction_id: Option<String>,
    pub error: String,
    pub failed_at: DateTime<Utc>,
}

impl Store {
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
