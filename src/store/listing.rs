//! Listing transactions: filters and keyset pagination over an order that never changes.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::events::PAGE_MAX_BODY_BYTES;
use super::{Store, StoreError, TransactionView};

/// Filters of `GET /api/v1/transactions`; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct TransactionFilter {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub wallet_id: Option<String>,
    pub currency: Option<String>,
    /// Updated at or after.
    pub since: Option<DateTime<Utc>>,
}

/// One page of transactions and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<TransactionView>,
    /// `first_sequence` of the last item, when more may follow.
    pub next_after: Option<i64>,
}

impl Store {
    /// Transactions matching `filter` in the order of their first callback, after the
    /// transaction whose first callback was `after` (exclusive). The order key never changes,
    /// so walking every page returns each transaction once, even while callbacks arrive.
    pub async fn list_transactions(
        &self,
        filter: &TransactionFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        // Bounded by bytes as well as by count, like the event log (PAGE_MAX_BODY_BYTES).
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "select id, state, body, received_at, updated_at, first_sequence, before from (
             select t.id, t.state, e.body, e.received_at, t.updated_at, t.first_sequence,
                    sum(octet_length(e.body)) over (order by t.first_sequence
                        rows between unbounded preceding and 1 preceding) as before
               from transactions t join events e on e.sequence = t.current_sequence
              where t.first_sequence > ",
        );
        q.push_bind(after.unwrap_or(0));
        if let Some(v) = &filter.state {
            q.push(" and t.state = ").push_bind(v);
        }
        if let Some(v) = &filter.kind {
            q.push(" and t.type = ").push_bind(v);
        }
        if let Some(v) = &filter.wallet_id {
            q.push(" and t.wallet_id = ").push_bind(v);
        }
        if let Some(v) = &filter.currency {
            q.push(" and t.currency = ").push_bind(v);
        }
        if let Some(v) = filter.since {
            q.push(" and t.updated_at >= ").push_bind(v);
        }
        // One more than asked tells whether another page follows.
        q.push(" order by t.first_sequence limit ")
            .push_bind(i64::from(limit) + 1)
            .push(") page where coalesce(before, 0) < ")
            .push_bind(PAGE_MAX_BODY_BYTES)
            .push(" order by first_sequence");
        let listed = q
            .build_query_as::<ListedRow>()
            .fetch_all(&self.pool)
            .await?;
        // More follow when there was one more than asked, or the bytes ended the page.
        let full = listed.last().is_some_and(|r| {
            r.before.unwrap_or(0) + r.view.body.len() as i64 >= PAGE_MAX_BODY_BYTES
        });
        let mut rows: Vec<(TransactionView, i64)> = listed
            .into_iter()
            .map(|r| (r.view, r.first_sequence))
            .collect();
        let more = rows.len() > limit as usize || full;
        rows.truncate(limit as usize);
        let next_after = if more { rows.last().map(|r| r.1) } else { None };
        Ok(Page {
            items: rows.into_iter().map(|r| r.0).collect(),
            next_after,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    view: TransactionView,
    first_sequence: i64,
    /// Bytes of the bodies before this row's in the listing order.
    before: Option<i64>,
}
