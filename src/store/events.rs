//! Reading the event log as a tail that never skips an event.
//!
//! Sequence numbers are taken when a row is inserted, but transactions commit in any order:
//! a reader that saw sequence 11 may later see 10 commit. So the log is read in the order of
//! `(txid, sequence)`, where `txid` is the writing transaction's id, and only rows whose
//! transaction is older than every transaction still running (`txid <
//! pg_snapshot_xmin(pg_current_snapshot())`). Every transaction that could still add a row
//! has an id at or above that horizon, so no row can later appear before one already
//! returned: a reader that resumes after the last event it saw misses and repeats nothing.
//! The price is a short delay while a write transaction is open.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// One event of the log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub sequence: i64,
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub dedup_key: String,
    pub outcome: String,
    pub quarantine_reason: Option<String>,
    pub transaction_id: Option<String>,
    pub state: Option<String>,
    pub event_name: Option<String>,
    pub entity_id: Option<String>,
    pub event_time: Option<DateTime<Utc>>,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
}

/// Why a tail position was refused.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("no event has sequence {0}")]
    UnknownPosition(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Most bytes of bodies in one page of the event log or the transaction list (a page
/// always holds at least one item); the cursor walks on from where a page stops.
pub const PAGE_MAX_BODY_BYTES: i64 = 8 * 1_048_576;

const COLUMNS: &str = "sequence, source, received_at, dedup_key, outcome, quarantine_reason,
    transaction_id, state, event_name, entity_id, event_time, headers, body";

impl Store {
    /// Up to `limit` events after the event `after` (0: from the start), in log order.
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<EventRow>, TailError> {
        let position: Option<(String,)> = if after == 0 {
            Some(("0".to_owned(),))
        } else {
            sqlx::query_as("select txid::text from events where sequence = $1")
                .bind(after)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::from)?
        };
        let (txid,) = position.ok_or(TailError::UnknownPosition(after))?;
        // A page ends at `limit` events or once the bodies before an event reach
        // PAGE_MAX_BODY_BYTES, whichever comes first (it always holds one event). The running
        // sum streams in the index's order, so the rows past the page are never read.
        let rows = sqlx::query_as(&format!(
            "select {COLUMNS} from (
                 select {COLUMNS}, txid,
                        sum(octet_length(body)) over (order by txid, sequence
                            rows between unbounded preceding and 1 preceding) as before
                   from events
                  where (txid, sequence) > ($1::xid8, $2)
                    and txid < pg_snapshot_xmin(pg_current_snapshot())
                  order by txid, sequence
                  limit $3) page
              where coalesce(before, 0) < $4
              order by txid, sequence"
        ))
        .bind(txid)
        .bind(after)
        .bind(i64::from(limit))
        .bind(PAGE_MAX_BODY_BYTES)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(rows)
    }

    /// One event by sequence.
    pub async fn event(&self, sequence: i64) -> Result<Option<EventRow>, StoreError> {
        let row = sqlx::query_as(&format!("select {COLUMNS} from events where sequence = $1"))
            .bind(sequence)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }
}
