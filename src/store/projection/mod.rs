//! The SQL of the projection: the projector's position in the log, the events after it, the
//! current rows it derives from, and writing what it derived, all in one database
//! transaction per step, so that a crash applies a step whole or not at all.
//!
//! Positions are in the log's tail order, `(txid, sequence)` (see `events.rs`): a step reads
//! only rows whose writer is older than every transaction still running, so no row can later
//! appear behind the position.
//!
//! - here: beginning a step, which takes the projector's lock;
//! - [`step`]: what a step reads and writes, and its commit;
//! - [`derived`]: the derived rows, read and written a batch at a time;
//! - [`progress`]: how far the projection stands (position, lag, failures).

mod derived;
mod progress;
mod step;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction as DbTx};

use super::{Position, Store, StoreError};

pub use progress::Failure;

/// The projector's name in `consumer_positions`.
const PROJECTOR: &str = "projector";

/// An event after the projector's position: a callback's body to read, or another source's
/// event that only moves the position.
#[derive(Debug)]
pub struct Unprojected {
    pub position: Position,
    pub received_at: DateTime<Utc>,
    /// The raw body, for callbacks.
    pub body: Option<Vec<u8>>,
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
}
