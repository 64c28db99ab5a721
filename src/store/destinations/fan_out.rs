//! Fanning new events out to a destination's deliveries, under the destination's row lock,
//! the deliveries and the new position committed together.

use sqlx::{Postgres, Transaction as DbTx};
use uuid::Uuid;

use super::{DESTINATION, DestinationRow};
use crate::store::position::commit_position;
use crate::store::{Position, Store, StoreError};

/// Fanning new events out to one destination: holds its row lock until committed.
pub struct FanOut {
    tx: DbTx<'static, Postgres>,
    pub destination: DestinationRow,
}

impl Store {
    /// Begins fanning out to `id`, or `None` when it is paused, gone, or another replica is
    /// at it.
    ///
    /// The row lock is `for no key update`: it still keeps two fan-outs apart, but not the
    /// inserts of deliveries and attempts, whose foreign key takes a key-share lock on the
    /// same row. With `for update` those inserts waited for the fan-out while holding the
    /// worker's connections, and the fan-out waited for a connection: everything stalled
    /// until the pool's acquire timeout (3 s) broke it.
    pub async fn begin_fan_out(&self, id: Uuid) -> Result<Option<FanOut>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: Option<DestinationRow> = sqlx::query_as(&format!(
            "select {DESTINATION} from destinations where id = $1 and not paused
                for no key update skip locked"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row.map(|destination| FanOut { tx, destination }))
    }
}

impl FanOut {
    /// Where the fan-out stands.
    pub fn position(&self) -> Result<Position, StoreError> {
        Position::parse(&self.destination.txid, self.destination.sequence)
    }

    /// Makes a delivery of each of `events` (sequence, ordering key), in this order; an event
    /// delivered before (a replay) is made due again.
    pub async fn enqueue(&mut self, events: &[(i64, Option<&str>)]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let sequences: Vec<i64> = events.iter().map(|e| e.0).collect();
        let keys: Vec<Option<&str>> = events.iter().map(|e| e.1).collect();
        sqlx::query(
            "insert into deliveries (destination_id, sequence, ordering_key)
             select $1, s, k from unnest($2::int8[], $3::text[]) with ordinality as u(s, k, o)
              order by o
             on conflict (destination_id, sequence) do update
                set status = 'pending', ord = nextval('delivery_order'), attempts = 0,
                    next_attempt_at = now(), enqueued_at = now(), failing_since = null,
                    lease_until = null, lease_token = null, last_error = null,
                    last_status = null, delivered_at = null",
        )
        .bind(self.destination.id)
        .bind(&sequences)
        .bind(&keys)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Moves the destination's position to `to` and commits the deliveries made.
    pub async fn commit(self, to: Position) -> Result<(), StoreError> {
        commit_position(
            self.tx,
            "update destinations set txid = $2::xid8, sequence = $3 where id = $1",
            self.destination.id,
            to,
        )
        .await
    }
}
