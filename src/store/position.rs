//! A position in the log's tail order, `(txid, sequence)` (see `events.rs`): where each reader
//! of the log stands.

use sqlx::{Postgres, Transaction as DbTx};

use super::StoreError;

/// A position in the log's tail order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// The writing transaction's id (`xid8`).
    pub txid: u64,
    pub sequence: i64,
}

impl Position {
    /// A position from its columns, `txid` as text.
    pub fn parse(txid: &str, sequence: i64) -> Result<Self, StoreError> {
        let txid = txid
            .parse()
            .map_err(|_| StoreError::BatchFailed(format!("unreadable txid {txid:?}")))?;
        Ok(Self { txid, sequence })
    }

    pub(super) fn from_row((txid, sequence): (String, i64)) -> Result<Self, StoreError> {
        Self::parse(&txid, sequence)
    }
}

/// Moves a reader's position to `to` in `tx`, the transaction that holds the reader's row
/// lock, and commits it with whatever else the reader wrote there: a crash keeps both or
/// neither. `update` sets `txid = $2::xid8, sequence = $3` on the reader's row, named by `$1`
/// (`reader`).
pub(super) async fn commit_position<K>(
    mut tx: DbTx<'static, Postgres>,
    update: &str,
    reader: K,
    to: Position,
) -> Result<(), StoreError>
where
    K: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
{
    sqlx::query(update)
        .bind(reader)
        .bind(to.txid.to_string())
        .bind(to.sequence)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
