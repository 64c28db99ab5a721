//! The derived tables, row by row: `transactions` read into [`Current`], and current states
//! and history written a batch at a time (one statement each, arrays unnested).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction as DbTx};

use crate::payment::{Current, Step};
use crate::store::StoreError;

/// The current rows of the transactions `ids`, those that exist.
pub(super) async fn read_current(
    tx: &mut DbTx<'_, Postgres>,
    ids: &[&str],
) -> Result<HashMap<String, Current>, StoreError> {
    let rows: Vec<CurrentRow> = sqlx::query_as(
        "select id, current_sequence, first_sequence, type, state, reason, complete,
                wallet_id, amount::text as amount, currency, created_at, completed_at,
                first_received_at, updated_at, short_id, external_id, charge_for
           from transactions where id = any($1)",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id.clone(), r.into())).collect())
}

pub(super) async fn write_rows(
    tx: &mut DbTx<'_, Postgres>,
    rows: &[&Current],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    macro_rules! column {
        ($f:expr) => {
            rows.iter().map($f).collect::<Vec<_>>()
        };
    }
    sqlx::query(
        "insert into transactions as t (id, current_sequence, first_sequence, type, state,
                                       reason, complete, wallet_id, amount, currency,
                                       created_at, completed_at, first_received_at, updated_at,
                                       short_id, external_id, charge_for)
         select id, cs, fs, ty, st, re, co, w, a::numeric, cu, ca, cpa, fr, up, si, ei, cf
           from unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[],
                       $7::bool[], $8::text[], $9::text[], $10::text[], $11::timestamptz[],
                       $12::timestamptz[], $13::timestamptz[], $14::timestamptz[],
                       $15::text[], $16::text[], $17::text[])
                as u(id, cs, fs, ty, st, re, co, w, a, cu, ca, cpa, fr, up, si, ei, cf)
          order by id
         on conflict (id) do update
            set current_sequence = excluded.current_sequence, type = excluded.type,
                state = excluded.state, reason = excluded.reason, complete = excluded.complete,
                wallet_id = excluded.wallet_id, amount = excluded.amount,
                currency = excluded.currency, created_at = excluded.created_at,
                completed_at = excluded.completed_at, updated_at = excluded.updated_at,
                short_id = excluded.short_id, external_id = excluded.external_id,
                charge_for = excluded.charge_for",
    )
    .bind(column!(|r| r.id.as_str()))
    .bind(column!(|r| r.current_sequence))
    .bind(column!(|r| r.first_sequence))
    .bind(column!(|r| r.kind.as_deref()))
    .bind(column!(|r| r.state.as_str()))
    .bind(column!(|r| r.reason.as_deref()))
    .bind(column!(|r| r.complete))
    .bind(column!(|r| r.wallet_id.as_deref()))
    .bind(column!(|r| r.amount.as_deref()))
    .bind(column!(|r| r.currency.as_deref()))
    .bind(column!(|r| r.created_at))
    .bind(column!(|r| r.completed_at))
    .bind(column!(|r| r.first_received_at))
    .bind(column!(|r| r.updated_at))
    .bind(column!(|r| r.short_id.as_deref()))
    .bind(column!(|r| r.external_id.as_deref()))
    .bind(column!(|r| r.charge_for.as_deref()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn write_steps(
    tx: &mut DbTx<'_, Postgres>,
    steps: &[Step],
) -> Result<(), StoreError> {
    if steps.is_empty() {
        return Ok(());
    }
    macro_rules! column {
        ($f:expr) => {
            steps.iter().map($f).collect::<Vec<_>>()
        };
    }
    sqlx::query(
        "insert into transaction_states (sequence, transaction_id, state, reason, amount,
                                         currency, applied, received_at)
         select s, id, st, re, a::numeric, cu, ap, r
           from unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::bool[], $8::timestamptz[]) as u(s, id, st, re, a, cu, ap, r)",
    )
    .bind(column!(|s| s.sequence))
    .bind(column!(|s| s.transaction_id.as_str()))
    .bind(column!(|s| s.state.as_str()))
    .bind(column!(|s| s.reason.as_deref()))
    .bind(column!(|s| s.amount.as_deref()))
    .bind(column!(|s| s.currency.as_deref()))
    .bind(column!(|s| s.applied))
    .bind(column!(|s| s.received_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct CurrentRow {
    id: String,
    current_sequence: i64,
    first_sequence: i64,
    #[sqlx(rename = "type")]
    kind: Option<String>,
    state: String,
    reason: Option<String>,
    complete: Option<bool>,
    wallet_id: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    created_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    first_received_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    short_id: Option<String>,
    external_id: Option<String>,
    charge_for: Option<String>,
}

impl From<CurrentRow> for Current {
    fn from(r: CurrentRow) -> Self {
        Self {
            id: r.id,
            current_sequence: r.current_sequence,
            first_sequence: r.first_sequence,
            kind: r.kind,
            state: r.state,
            reason: r.reason,
            complete: r.complete,
            wallet_id: r.wallet_id,
            amount: r.amount,
            currency: r.currency,
            created_at: r.created_at,
            completed_at: r.completed_at,
            first_received_at: r.first_received_at,
            updated_at: r.updated_at,
            short_id: r.short_id,
            external_id: r.external_id,
            charge_for: r.charge_for,
        }
    }
}
