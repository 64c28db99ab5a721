//! Re-reading quarantined callbacks with the current parser.

use chrono::{DateTime, Utc};

use super::callbacks::apply_transaction;
use super::{Store, StoreError};
use crate::transaction::{self, Reading};

/// What a reprocessing run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reprocessed {
    /// Quarantined callbacks looked at.
    pub examined: u64,
    /// Now read as transactions and applied.
    pub fixed: u64,
}

impl Store {
    /// Reads every quarantined callback received at or after `since` again; those that now
    /// read as a transaction are applied to it, judged by when they were received. The event
    /// itself stays as it was logged (the log is append-only); its transaction history entry
    /// shows it was applied. Running it twice changes nothing the second time.
    pub async fn reprocess_quarantined(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Reprocessed, StoreError> {
        let candidates: Vec<(i64, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
            "select e.sequence, e.body, e.received_at from events e
              where e.source = 'callback' and e.outcome = 'quarantined'
                and e.received_at >= coalesce($1, '-infinity'::timestamptz)
                and not exists (select 1 from transaction_states s where s.sequence = e.sequence)
              order by e.sequence",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;

        let mut done = Reprocessed::default();
        for (sequence, body, received_at) in candidates {
            done.examined += 1;
            let Reading::Transaction(t) = transaction::read(&body, None).reading else {
                continue;
            };
            let mut tx = self.pool.begin().await?;
            // Serialises with a concurrent run: the second finds the history entry and skips.
            sqlx::query("select 1 from events where sequence = $1 for update")
                .bind(sequence)
                .execute(&mut *tx)
                .await?;
            let taken: bool = sqlx::query_scalar(
                "select exists (select 1 from transaction_states where sequence = $1)",
            )
            .bind(sequence)
            .fetch_one(&mut *tx)
            .await?;
            if taken {
                continue;
            }
            match apply_transaction(&mut tx, &t, sequence, received_at).await {
                Ok(()) => {
                    tx.commit().await?;
                    done.fixed += 1;
                }
                // Still refused by PostgreSQL for its data (e.g. an over-long indexed field):
                // it stays quarantined, and the others go on.
                Err(e) if e.is_permanent_for_row() => {
                    tracing::warn!(sequence, error = %e, "quarantined callback still refused");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}
