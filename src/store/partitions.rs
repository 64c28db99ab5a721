//! Keeping the event log's monthly partitions ahead of time.

use std::time::Duration;

use super::{Store, StoreError};

/// Months of partitions kept ready beyond the current one.
pub const MONTHS_AHEAD: i32 = 3;

impl Store {
    /// Creates any missing monthly partition from the current month to `months_ahead`
    /// months after it; returns how many were created. Safe to call from every replica.
    pub async fn ensure_partitions(&self, months_ahead: i32) -> Result<i32, StoreError> {
        let created = sqlx::query_scalar(
            "select txhook_ensure_event_partitions((now() at time zone 'utc')::date, $1)",
        )
        .bind(months_ahead)
        .fetch_one(&self.pool)
        .await?;
        Ok(created)
    }

    /// Runs [`Store::ensure_partitions`] now and then every `every`, logging failures (the
    /// partitions exist months ahead, so a failed run is retried long before it matters).
    pub async fn maintain_partitions(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match self.ensure_partitions(MONTHS_AHEAD).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(created = n, "event log partitions created ahead"),
                Err(e) => tracing::warn!(error = %e, "could not create event log partitions"),
            }
        }
    }
}
