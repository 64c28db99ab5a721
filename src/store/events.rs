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

use super::{Position, Store, StoreError};

/// One event of the log.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct EventRow {
    /// The writing transaction's id (`xid8`, as text): with `sequence`, the event's position
    /// in the tail order.
    pub txid: String,
    pub sequence: i64,
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub dedup_key: String,
    pub outcome: String,
    pub quarantine_reason: Option<String>,
    pub transaction_id: Option<String>,
    pub state: Option<String>,
    pub transaction_type: Option<String>,
    pub event_name: Option<String>,
    pub entity_id: Option<String>,
    pub event_time: Option<DateTime<Utc>>,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
}

impl EventRow {
    /// The event's position in the tail order.
    pub fn position(&self) -> Result<Position, StoreError> {
        Position::parse(&self.txid, self.sequence)
    }
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

/// A page of the log's tail after `from`: only rows older than every writer still running,
/// in tail order, at most `limit` of them and at most [`PAGE_MAX_BODY_BYTES`] of bodies
/// before the last (a page always holds one event), `columns` selected from each row, read
/// on `db` (the pool, or the transaction of a reader that holds its lock). Every reader of
/// the tail pages through this.
pub(super) async fn read_tail_page<'c, E, R>(
    db: E,
    columns: &str,
    from: Position,
    limit: i64,
) -> Result<Vec<R>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let rows = sqlx::query_as(&tail_page(columns))
        .bind(from.txid.to_string())
        .bind(from.sequence)
        .bind(limit)
        .bind(PAGE_MAX_BODY_BYTES)
        .fetch_all(db)
        .await?;
    Ok(rows)
}

/// The SQL of [`read_tail_page`], after the position `($1, $2)` (txid as text, sequence), at
/// most `$3` rows and `$4` bytes of bodies before the last. The running sum streams in the
/// index's order, so the rows past the page are never read.
fn tail_page(columns: &str) -> String {
    format!(
        "select {columns} from (
             select events.*,
                    sum(octet_length(body)) over (order by txid, sequence
                        rows between unbounded preceding and 1 preceding) as before
               from events
              where (txid, sequence) > ($1::xid8, $2)
                and txid < pg_snapshot_xmin(pg_current_snapshot())
              order by txid, sequence
              limit $3) page
          where coalesce(before, 0) < $4
          order by page.txid, page.sequence"
    )
}

pub(super) const COLUMNS: &str =
    "txid::text as txid, sequence, source, received_at, dedup_key, outcome, quarantine_reason,
    transaction_id, state, transaction_type, event_name, entity_id, event_time, headers, body";

impl Store {
    /// Up to `limit` events after the event `after` (0: from the start), in log order.
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<EventRow>, TailError> {
        let from = self
            .position_of(after)
            .await?
            .ok_or(TailError::UnknownPosition(after))?;
        Ok(self.events_after_position(from, limit).await?)
    }

    /// The tail position of the event `sequence` (0: the start of the log), if it exists.
    pub async fn position_of(&self, sequence: i64) -> Result<Option<Position>, StoreError> {
        if sequence == 0 {
            return Ok(Some(Position::default()));
        }
        let txid: Option<String> =
            sqlx::query_scalar("select txid::text from events where sequence = $1")
                .bind(sequence)
                .fetch_optional(&self.pool)
                .await?;
        txid.map(|t| Position::parse(&t, sequence)).transpose()
    }

    /// The position just before the event `sequence`, so that a reader starting there reads
    /// that event first (1 or less: the start of the log); `None` when there is no such event.
    pub async fn position_before(&self, sequence: i64) -> Result<Option<Position>, StoreError> {
        if sequence <= 1 {
            return Ok(Some(Position::default()));
        }
        Ok(self.position_of(sequence).await?.map(|at| Position {
            txid: at.txid,
            sequence: sequence - 1,
        }))
    }

    /// The position of the log's last event (the start when it is empty): a consumer that
    /// starts "from now" starts there.
    pub async fn log_end(&self) -> Result<Position, StoreError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "select txid::text, sequence from events order by txid desc, sequence desc limit 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some((txid, sequence)) => Position::parse(&txid, sequence),
            None => Ok(Position::default()),
        }
    }

    /// Like [`Store::events_after_position`] without bodies and headers (left empty): what
    /// a filter looks at, read cheaply.
    pub async fn event_heads_after(
        &self,
        from: Position,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        read_tail_page(
            &self.pool,
            "txid::text as txid, sequence, source, received_at, dedup_key, outcome,
             quarantine_reason, transaction_id, state, transaction_type, event_name, entity_id,
             event_time, '{}'::jsonb as headers, ''::bytea as body",
            from,
            i64::from(limit),
        )
        .await
    }

    /// Up to `limit` events after `from`, in log order.
    pub async fn events_after_position(
        &self,
        from: Position,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        read_tail_page(&self.pool, COLUMNS, from, i64::from(limit)).await
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
