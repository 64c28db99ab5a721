//! Recent callbacks refused as not authentic, for the console.
//!
//! They come from anyone, so recording them must never cost what a flood could grow: the
//! request hands its record to a bounded queue without waiting (a full queue drops it), at
//! most [`PER_SECOND`] are written each second, and the table keeps the newest [`KEEP`] of
//! the last seven days, each with at most 256 bytes of its body and 4 KiB of its headers.
//! Everything else is only counted (`txhook_callbacks_rejected_total`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Store, StoreError};

/// Records written per second at most.
pub const PER_SECOND: usize = 5;
/// Records kept.
pub const KEEP: i64 = 1000;
/// Bytes of the body kept.
const HEAD_BYTES: usize = 256;
/// Bytes of kept headers (as JSON text) kept; more are left out.
const HEADER_BYTES: usize = 4096;

/// A refused callback, as kept.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RejectedRow {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub reason: String,
    pub source: Option<String>,
    pub headers: serde_json::Value,
    pub body_size: i32,
    pub body_sha256: String,
    #[serde(skip)]
    pub body_head: Vec<u8>,
}

/// A refused callback to record.
#[derive(Debug)]
pub struct Rejected {
    pub received_at: DateTime<Utc>,
    pub reason: &'static str,
    pub source: Option<String>,
    /// Kept headers (no credentials), JSON object text.
    pub headers: String,
    pub body: bytes::Bytes,
}

/// Where the callback path hands refused callbacks; never waits.
#[derive(Clone, Debug)]
pub struct RejectionLog {
    queue: mpsc::Sender<Rejected>,
}

impl RejectionLog {
    /// Starts the writer on `store`.
    pub fn start(store: Store) -> Self {
        let (queue, rx) = mpsc::channel(PER_SECOND * 2);
        tokio::spawn(write(store, rx));
        Self { queue }
    }

    /// Hands `r` over, or drops it when the writer is behind.
    pub fn record(&self, r: Rejected) {
        let _ = self.queue.try_send(r);
    }
}

async fn write(store: Store, mut rx: mpsc::Receiver<Rejected>) {
    let mut window = tokio::time::Instant::now();
    let mut written = 0usize;
    let mut since_prune = 0usize;
    while let Some(r) = rx.recv().await {
        if window.elapsed() >= Duration::from_secs(1) {
            window = tokio::time::Instant::now();
            written = 0;
        }
        if written >= PER_SECOND {
            continue;
        }
        written += 1;
        if let Err(e) = store.insert_rejected(&r).await {
            tracing::debug!(error = %e, "cannot record a refused callback");
            continue;
        }
        since_prune += 1;
        if since_prune >= 50 {
            since_prune = 0;
            if let Err(e) = store.prune_rejected().await {
                tracing::debug!(error = %e, "cannot prune refused callbacks");
            }
        }
    }
}

impl Store {
    async fn insert_rejected(&self, r: &Rejected) -> Result<(), StoreError> {
        let head = &r.body[..r.body.len().min(HEAD_BYTES)];
        sqlx::query(
            "insert into rejected_callbacks (received_at, reason, source, headers, body_size,
                                             body_sha256, body_head)
             values ($1, $2, $3, $4::jsonb, $5, $6, $7)",
        )
        .bind(r.received_at)
        .bind(r.reason)
        .bind(&r.source)
        .bind(if r.headers.len() <= HEADER_BYTES {
            r.headers.as_str()
        } else {
            r#"{"(left out)":"over 4096 bytes of headers"}"#
        })
        .bind(i32::try_from(r.body.len()).unwrap_or(i32::MAX))
        .bind(hex::encode(Sha256::digest(&r.body)))
        .bind(head)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Keeps the newest [`KEEP`] of the last seven days.
    pub async fn prune_rejected(&self) -> Result<(), StoreError> {
        sqlx::query(
            "delete from rejected_callbacks
              where received_at < now() - interval '7 days'
                 or id <= (select id from rejected_callbacks order by id desc
                            offset $1 limit 1)",
        )
        .bind(KEEP)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest refused callbacks.
    pub async fn rejected(&self, limit: i64) -> Result<Vec<RejectedRow>, StoreError> {
        let rows = sqlx::query_as(
            "select id, received_at, reason, source, headers, body_size, body_sha256, body_head
               from rejected_callbacks order by id desc limit $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
