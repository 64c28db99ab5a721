//! The SQL of destinations: the endpoints, their positions in the log, the deliveries each
//! matching event becomes, and every attempt.
//!
//! A replica fans new events out to a destination's deliveries under the destination's row
//! lock (one replica at a time, position and deliveries in one database transaction), and
//! claims due deliveries with a lease (`for update skip locked`, a token that the result must
//! match), so that two replicas never try the same delivery at once and a result recorded
//! late by a replica that lost its lease changes nothing.
//!
//! - here: the endpoints themselves (add, list, change, remove, replay);
//! - [`fan_out`]: turning new events into a destination's deliveries;
//! - [`attempts`]: claiming due deliveries and recording each attempt;
//! - [`status`]: how a destination's deliveries stand, for the API, the console and metrics.

mod attempts;
mod fan_out;
mod status;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Position, Store, StoreError};

pub use attempts::Claimed;
pub use fan_out::FanOut;
pub use status::{AttemptRow, DeadLetterRow, DeliveryStatus};

/// A destination as held (its secret included: deliveries are signed with it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DestinationRow {
    pub id: Uuid,
    pub url: String,
    pub secret: String,
    pub filter: Value,
    pub paused: bool,
    pub txid: String,
    pub sequence: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const DESTINATION: &str = "id, url, secret, filter, paused, txid::text as txid, sequence,
    created_at, updated_at";

impl Store {
    /// Adds a destination that starts after `from`.
    pub async fn create_destination(
        &self,
        id: Uuid,
        url: &str,
        secret: &str,
        filter: &Value,
        from: Position,
    ) -> Result<DestinationRow, StoreError> {
        let row = sqlx::query_as(&format!(
            "insert into destinations (id, url, secret, filter, txid, sequence)
             values ($1, $2, $3, $4, $5::xid8, $6) returning {DESTINATION}"
        ))
        .bind(id)
        .bind(url)
        .bind(secret)
        .bind(filter)
        .bind(from.txid.to_string())
        .bind(from.sequence)
        .fetch_one(&self.pool)
        .await?;
        self.log_grew();
        Ok(row)
    }

    /// Every destination, oldest first.
    pub async fn destinations(&self) -> Result<Vec<DestinationRow>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "select {DESTINATION} from destinations order by created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// One destination.
    pub async fn destination(&self, id: Uuid) -> Result<Option<DestinationRow>, StoreError> {
        let row = sqlx::query_as(&format!(
            "select {DESTINATION} from destinations where id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Changes what is given; `None` when there is no such destination.
    pub async fn update_destination(
        &self,
        id: Uuid,
        url: Option<&str>,
        filter: Option<&Value>,
        paused: Option<bool>,
    ) -> Result<Option<DestinationRow>, StoreError> {
        let row = sqlx::query_as(&format!(
            "update destinations
                set url = coalesce($2, url), filter = coalesce($3, filter),
                    paused = coalesce($4, paused), updated_at = now()
              where id = $1 returning {DESTINATION}"
        ))
        .bind(id)
        .bind(url)
        .bind(filter)
        .bind(paused)
        .fetch_optional(&self.pool)
        .await?;
        self.log_grew();
        Ok(row)
    }

    /// Removes a destination with its deliveries and attempts.
    pub async fn delete_destination(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from destinations where id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a destination's position back to `from`: every matching event after it is
    /// delivered again (delivered and dead ones included).
    pub async fn replay_destination(&self, id: Uuid, from: Position) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update destinations set txid = $2::xid8, sequence = $3, updated_at = now()
              where id = $1",
        )
        .bind(id)
        .bind(from.txid.to_string())
        .bind(from.sequence)
        .execute(&self.pool)
        .await?;
        self.log_grew();
        Ok(done.rows_affected() == 1)
    }
}
