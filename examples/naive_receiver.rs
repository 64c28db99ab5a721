//! The naive reference receiver for `scripts/bench.sh`: what a webhook endpoint looks like
//! when written in an afternoon. axum + sqlx, no verification, no parsing, no deduplication:
//! one `INSERT` of the raw body per request, then `200`. It is what txhook's throughput is
//! compared with, on the same machine, the same PostgreSQL and the same pool size (16, as
//! txhook's default `TXHOOK_DB_MAX_CONNECTIONS`).
//!
//! ```sh
//! DATABASE_URL=postgres://… NAIVE_LISTEN=127.0.0.1:55482 \
//!     cargo run --release --example naive_receiver
//! ```
//!
//! - `POST /webhooks/transactions`: inserts the body into `naive_callbacks` and answers
//!   `{"sequence":<id>,"status":"stored"}` (the shape `txhook bench` reads).
//! - `GET /api/v1/events?after=N&limit=M`: the rows after `N`, with the transaction id and
//!   state read from the stored body at read time, so that `txhook bench`'s check (every
//!   acknowledged callback is in the table) runs against this receiver too. Any bearer token
//!   is accepted. Not on the measured path.
//! - `GET /readyz`: `200` once the table exists.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// txhook's default pool size.
const POOL: u32 = 16;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("set DATABASE_URL"))?;
    let listen = std::env::var("NAIVE_LISTEN").unwrap_or_else(|_| "127.0.0.1:55482".into());
    let pool = PgPoolOptions::new()
        .max_connections(POOL)
        .connect(&url)
        .await?;
    sqlx::query(
        "create table if not exists naive_callbacks (
             id          bigserial   primary key,
             received_at timestamptz not null default now(),
             body        bytea       not null)",
    )
    .execute(&pool)
    .await?;
    let app = Router::new()
        .route("/webhooks/transactions", post(receive))
        .route("/api/v1/events", get(events))
        .route("/readyz", get(|| async { "ok" }))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("naive_receiver: listening on {listen}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await?;
    Ok(())
}

async fn receive(
    State(pool): State<PgPool>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let id: i64 = sqlx::query_scalar("insert into naive_callbacks (body) values ($1) returning id")
        .bind(body.as_ref())
        .fetch_one(&pool)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(Json(
        serde_json::json!({ "sequence": id, "status": "stored" }),
    ))
}

#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

async fn events(
    State(pool): State<PgPool>,
    Query(page): Query<Page>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let rows: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "select id, b->>'id', b->'status'->>'state'
           from (select id, convert_from(body, 'UTF8')::jsonb as b from naive_callbacks
                  where id > $1 order by id limit $2) page
          order by id",
    )
    .bind(page.after)
    .bind(page.limit.unwrap_or(100).clamp(1, 1000))
    .fetch_all(&pool)
    .await
    .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let next = rows.last().map_or(page.after, |r| r.0);
    let items: Vec<_> = rows
        .into_iter()
        .map(|(sequence, id, state)| {
            serde_json::json!({ "sequence": sequence, "transactionId": id, "state": state })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}
