//! The queries of the operator console: what it shows beyond the read API.

use chrono::{DateTime, Utc};

use super::{EventRow, Store, StoreError};

/// Callbacks logged in one time bucket, by outcome.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Bucket {
    pub at: DateTime<Utc>,
    pub stored: i64,
    pub quarantined: i64,
}

/// A transaction as the console lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    pub id: String,
    pub short_id: Option<String>,
    pub external_id: Option<String>,
    pub wallet_id: Option<String>,
    #[sqlx(rename = "type")]
    pub kind: Option<String>,
    pub state: String,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub first_sequence: i64,
}

/// One callback of a transaction's lifecycle, with what it said and how it was received.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimelineEntry {
    pub sequence: i64,
    pub state: String,
    pub applied: bool,
    pub reason: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub received_at: DateTime<Utc>,
    pub body: Vec<u8>,
    pub headers: serde_json::Value,
}

/// What the console's transaction search looks for.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// An `id`, `shortId`, `externalId` or `walletId`.
    pub text: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

impl Store {
    /// Callbacks logged since `since`, by outcome, in buckets of `bucket` (a PostgreSQL
    /// interval such as `1 minute`).
    pub async fn callback_buckets(
        &self,
        since: DateTime<Utc>,
        bucket: &str,
    ) -> Result<Vec<Bucket>, StoreError> {
        let rows = sqlx::query_as(
            "select date_bin($2::interval, received_at, $1) as at,
                    count(*) filter (where outcome = 'stored') as stored,
                    count(*) filter (where outcome = 'quarantined') as quarantined
               from events
              where source = 'callback' and received_at >= $1
              group by 1 order by 1",
        )
        .bind(since)
        .bind(bucket)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Refused callbacks kept, by reason.
    pub async fn rejected_by_reason(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query_as(
            "select reason, count(*) from rejected_callbacks group by 1 order by 2 desc",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Transactions matching `search`, in the order their first callback arrived, after
    /// `after` (a `first_sequence`).
    pub async fn search_transactions(
        &self,
        search: &Search,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Listed>, StoreError> {
        let rows = sqlx::query_as(
            "select id, short_id, external_id, wallet_id, type, state, amount::text as amount,
                    currency, updated_at, first_sequence
               from transactions
              where first_sequence > $1
                and ($2::text is null or id = $2 or short_id = $2 or external_id = $2
                     or wallet_id = $2)
                and ($3::text is null or state = $3)
                and ($4::text is null or type = $4)
                and ($5::timestamptz is null or updated_at >= $5)
              order by first_sequence limit $6",
        )
        .bind(after)
        .bind(&search.text)
        .bind(&search.state)
        .bind(&search.kind)
        .bind(search.since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Every callback held for transaction `id`, oldest first.
    pub async fn timeline(&self, id: &str) -> Result<Vec<TimelineEntry>, StoreError> {
        let rows = sqlx::query_as(
            "select s.sequence, s.state, s.applied, s.reason, s.amount::text as amount,
                    s.currency, s.received_at, e.body, e.headers
               from transaction_states s join events e on e.sequence = s.sequence
              where s.transaction_id = $1
              order by s.sequence",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The charges made for transaction `id`.
    pub async fn charges_for(&self, id: &str) -> Result<Vec<Listed>, StoreError> {
        let rows = sqlx::query_as(
            "select id, short_id, external_id, wallet_id, type, state, amount::text as amount,
                    currency, updated_at, first_sequence
               from transactions where charge_for = $1 order by first_sequence limit 100",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Quarantined callbacks, newest first, and whether each has since been applied.
    pub async fn quarantined(&self, limit: i64) -> Result<Vec<(EventRow, bool)>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "select {} from events
              where source = 'callback' and outcome = 'quarantined'
              order by sequence desc limit $1",
            super::events::COLUMNS
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let sequences: Vec<i64> = rows.iter().map(|r| r.sequence).collect();
        let applied: Vec<i64> =
            sqlx::query_scalar("select sequence from transaction_states where sequence = any($1)")
                .bind(&sequences)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let done = applied.contains(&r.sequence);
                (r, done)
            })
            .collect())
    }

    /// The newest events a tail reader may already have passed (older than every writer
    /// still open), newest first: a live view starts after the first of them, gap-free.
    pub async fn latest_events(&self, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "select {} from events
              where txid < pg_snapshot_xmin(pg_current_snapshot())
              order by txid desc, sequence desc limit $1",
            super::events::COLUMNS
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
