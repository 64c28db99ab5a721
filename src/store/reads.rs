//! Reading transactions back.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// One transaction as held: the body of the callback that set its current state, and when.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransactionView {
    pub id: String,
    pub state: String,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One callback of a transaction's history.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub sequence: i64,
    pub state: String,
    pub received_at: DateTime<Utc>,
    pub applied: bool,
}

impl Store {
    /// The current state of transaction `id`, if held.
    pub async fn transaction(&self, id: &str) -> Result<Option<TransactionView>, StoreError> {
        let view = sqlx::query_as(
            "select t.id, t.state, e.body, e.received_at, t.updated_at
               from transactions t join events e on e.sequence = t.current_sequence
              where t.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(view)
    }

    /// Every stored callback of transaction `id`, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query_as(
            "select sequence, state, received_at, applied
               from transaction_states where transaction_id = $1 order by sequence",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
