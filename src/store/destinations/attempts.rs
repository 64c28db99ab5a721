//! Trying deliveries: claiming the due ones under a lease, recording each attempt's result,
//! and forgetting old ones.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::{Store, StoreError};

/// A delivery claimed for one attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub sequence: i64,
    /// Attempts before this one.
    pub attempts: i32,
}

impl Store {
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
}
