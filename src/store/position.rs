//! A position in the log's tail order, `(txid, sequence)` (see `events.rs`): where each reader
//! of the log stands.

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
