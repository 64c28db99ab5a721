//! The SQL of destinations: the endpoints, their positions in the log, the deliveries each
//! matching event becomes, and every attempt.
//!
//! A replica fans new events out to a destination's deliveries under the destination's row
//! lock (one replica at a time, position and deliveries in one database transaction), and
//! claims due deliveries with a lease (`for update skip locked`, a token that the result must
//! match), so that two replicas never try the same delivery at once and a result recorded
//! late by a replica that lost its lease changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Postgres, Transaction as DbTx};
use uuid::Uuid;

use super::{Position, Store, StoreError};

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

/// How a destination's deliveries stand.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct DeliveryStatus {
    /// Deliveries waiting (not yet delivered nor dead).
    pub backlog: i64,
    pub dead_lettered: i64,
    pub last_delivered_sequence: Option<i64>,
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// Since when the oldest waiting delivery that has failed has been failing.
    pub failing_since: Option<DateTime<Utc>>,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// One attempt to deliver.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRow {
    pub sequence: i64,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status, when an answer came.
    pub status: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// A delivery that was given up on.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterRow {
    pub sequence: i64,
    pub attempts: i32,
    pub enqueued_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub sequence: i64,
    /// Attempts before this one.
    pub attempts: i32,
}

/// Fanning new events out to one destination: holds its row lock until committed.
pub struct FanOut {
    tx: DbTx<'static, Postgres>,
    pub destination: DestinationRow,
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

    /// How a destination's deliveries stand.
    pub async fn delivery_status(&self, id: Uuid) -> Result<DeliveryStatus, StoreError> {
        let status = sqlx::query_as(
            "select count(*) filter (where status = 'pending') as backlog,
                    count(*) filter (where status = 'dead') as dead_lettered,
                    (select sequence from deliveries where destination_id = $1
                        and status = 'delivered' order by delivered_at desc limit 1)
                        as last_delivered_sequence,
                    max(delivered_at) as last_delivered_at,
                    min(failing_since) filter (where status = 'pending') as failing_since,
                    min(enqueued_at) filter (where status = 'pending') as oldest_pending_at,
                    (select last_error from deliveries where destination_id = $1
                        and last_error is not null order by last_attempt_at desc limit 1)
                        as last_error
               from deliveries where destination_id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(status)
    }

    /// The latest attempts, newest first.
    pub async fn delivery_attempts(
        &self,
        id: Uuid,
        limit: i64,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        let rows = sqlx::query_as(
            "select sequence, attempt, attempted_at, status, latency_ms, error
               from delivery_attempts where destination_id = $1 order by id desc limit $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The dead-lettered deliveries, oldest event first.
    pub async fn dead_letters(
        &self,
        id: Uuid,
        limit: i64,
    ) -> Result<Vec<DeadLetterRow>, StoreError> {
        let rows = sqlx::query_as(
            "select sequence, attempts, enqueued_at, last_attempt_at, last_status, last_error
               from deliveries where destination_id = $1 and status = 'dead'
              order by sequence limit $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Begins fanning out to `id`, or `None` when it is paused, gone, or another replica is
    /// at it.
    pub async fn begin_fan_out(&self, id: Uuid) -> Result<Option<FanOut>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: Option<DestinationRow> = sqlx::query_as(&format!(
            "select {DESTINATION} from destinations where id = $1 and not paused
                for update skip locked"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row.map(|destination| FanOut { tx, destination }))
    }

    /// Claims up to `limit` of `id`'s due deliveries for one attempt each, under a lease of
    /// `lease` marked `token`. A delivery whose transaction has an earlier delivery waiting is
    /// not due: one transaction's events go out in log order.
    pub async fn claim_deliveries(
        &self,
        id: Uuid,
        limit: i64,
        lease: Duration,
        token: Uuid,
    ) -> Result<Vec<Claimed>, StoreError> {
        let rows = sqlx::query_as(
            "with due as (
                 select d.sequence from deliveries d
                  where d.destination_id = $1 and d.status = 'pending'
                    and d.next_attempt_at <= now()
                    and (d.lease_until is null or d.lease_until < now())
                    and not exists (
                        select 1 from deliveries e
                         where e.destination_id = d.destination_id and e.status = 'pending'
                           and e.ordering_key = d.ordering_key and e.ord < d.ord)
                  order by d.ord
                  limit $2
                  for update skip locked)
             update deliveries d
                set lease_until = now() + make_interval(secs => $3), lease_token = $4
               from due
              where d.destination_id = $1 and d.sequence = due.sequence
             returning d.sequence, d.attempts",
        )
        .bind(id)
        .bind(limit)
        .bind(lease.as_secs_f64())
        .bind(token)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Records a delivery's attempt: delivered (`Ok(status)` 2xx) or not, when the lease is
    /// still `token`'s. A failed delivery is tried again at `retry_at`, or, enqueued longer
    /// than `max_age` ago, dead-lettered. Returns the delivery's status afterwards, `None`
    /// when the lease had been lost (nothing recorded).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_attempt(
        &self,
        id: Uuid,
        sequence: i64,
        token: Uuid,
        delivered: bool,
        status: Option<i32>,
        error: Option<&str>,
        latency: Duration,
        retry_at: DateTime<Utc>,
        max_age: Duration,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let outcome: Option<(String, i32)> = sqlx::query_as(
            "update deliveries
                set attempts = attempts + 1, last_attempt_at = now(), last_status = $5,
                    last_error = $6, lease_until = null, lease_token = null,
                    status = case when $4 then 'delivered'
                                  when now() - enqueued_at >= make_interval(secs => $8)
                                      then 'dead'
                                  else 'pending' end,
                    delivered_at = case when $4 then now() end,
                    failing_since = case when $4 then null
                                         else coalesce(failing_since, now()) end,
                    next_attempt_at = $7
              where destination_id = $1 and sequence = $2 and lease_token = $3
                and status = 'pending'
             returning status, attempts",
        )
        .bind(id)
        .bind(sequence)
        .bind(token)
        .bind(delivered)
        .bind(status)
        .bind(error)
        .bind(retry_at)
        .bind(max_age.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((state, attempt)) = outcome else {
            return Ok(None);
        };
        sqlx::query(
            "insert into delivery_attempts (destination_id, sequence, attempt, status,
                                            latency_ms, error)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(sequence)
        .bind(attempt)
        .bind(status)
        .bind(i32::try_from(latency.as_millis()).unwrap_or(i32::MAX))
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(state))
    }

    /// Forgets delivered deliveries and attempts older than `age` (dead letters stay until
    /// replayed or their destination is deleted).
    pub async fn prune_deliveries(&self, age: Duration) -> Result<u64, StoreError> {
        let secs = age.as_secs_f64();
        let delivered = sqlx::query(
            "delete from deliveries
              where status = 'delivered' and delivered_at < now() - make_interval(secs => $1)",
        )
        .bind(secs)
        .execute(&self.pool)
        .await?
        .rows_affected();
        sqlx::query(
            "delete from delivery_attempts where attempted_at < now() - make_interval(secs => $1)",
        )
        .bind(secs)
        .execute(&self.pool)
        .await?;
        Ok(delivered)
    }

    /// Every destination's waiting deliveries and the oldest one's age (for the metrics).
    pub async fn delivery_backlogs(
        &self,
    ) -> Result<Vec<(Uuid, i64, Option<DateTime<Utc>>)>, StoreError> {
        let rows = sqlx::query_as(
            "select d.id, count(x.sequence), min(x.enqueued_at)
               from destinations d
               left join deliveries x on x.destination_id = d.id and x.status = 'pending'
              group by d.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
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
    pub async fn commit(mut self, to: Position) -> Result<(), StoreError> {
        sqlx::query("update destinations set txid = $2::xid8, sequence = $3 where id = $1")
            .bind(self.destination.id)
            .bind(to.txid.to_string())
            .bind(to.sequence)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
