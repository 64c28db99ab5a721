//! How a destination's deliveries stand: counts, the latest attempts, the dead letters, and
//! every destination's backlog for the metrics.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::{Store, StoreError};

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

impl Store {
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
