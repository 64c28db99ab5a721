//! Appending callbacks to the event log: the whole of the acknowledgement's database work.
//!
//! A batch (of one under light load) is one statement: the dedup keys go into `event_keys`
//! (a held key means a duplicate, recognised forever), the new events into `events`, and a
//! notification tells every replica's readers that the log grew. Current state and history
//! are derived afterwards by the projector (`crate::projection`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use crate::payment::Reading;

/// The channel `NOTIFY`'d when the log grows.
pub const LOG_CHANNEL: &str = "txhook_log";

/// A verified callback, ready to be logged.
#[derive(Debug)]
pub struct NewCallback {
    pub received_at: DateTime<Utc>,
    /// Request headers without secrets: the text of a JSON object.
    pub headers: String,
    pub body: bytes::Bytes,
    pub dedup_key: String,
    pub reading: Reading,
}

/// What happened to a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New, committed.
    Stored { sequence: i64 },
    /// Already held (by dedup key); nothing written.
    Duplicate,
    /// New, committed raw in quarantine.
    Quarantined { sequence: i64, reason: String },
}

impl Store {
    /// Wakes this process's readers of the log whenever any replica's commit is announced
    /// (`NOTIFY txhook_log`); runs until aborted.
    pub async fn forward_log_notifications(self) {
        loop {
            match sqlx::postgres::PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(LOG_CHANNEL).await {
                        tracing::debug!(error = %e, "cannot listen for log notifications");
                    } else {
                        // `recv` reconnects by itself; an error means it could not.
                        while let Ok(n) = listener.recv().await {
                            // This replica's own announcements woke it already.
                            if n.payload() != self.signals.replica {
                                self.log_grew_elsewhere();
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot listen for log notifications"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    /// Tells the other replicas (`NOTIFY txhook_log`) whenever this one appended to the log:
    /// once per burst of appends, outside the appends' own transactions; runs until aborted.
    pub async fn announce_log_growth(self) {
        let mut appended = self.signals.appended.subscribe();
        loop {
            if appended.changed().await.is_err() {
                return;
            }
            appended.borrow_and_update();
            if let Err(e) = sqlx::query("select pg_notify($1, $2)")
                .bind(LOG_CHANNEL)
                .bind(&self.signals.replica)
                .execute(&self.pool)
                .await
            {
                tracing::debug!(error = %e, "cannot announce log growth");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }

    /// Logs `callbacks` in one database transaction and returns each one's outcome, in
    /// order. `Ok` means committed.
    pub(super) async fn append_callbacks(
        &self,
        callbacks: &[&NewCallback],
    ) -> Result<Vec<Outcome>, StoreError> {
        // Within the batch the first delivery of a dedup key is the one written; the others
        // are duplicates of it (and fail with it if the batch fails).
        let unique: Vec<usize> = {
            let mut seen = HashSet::with_capacity(callbacks.len());
            (0..callbacks.len())
                .filter(|&i| seen.insert(callbacks[i].dedup_key.as_str()))
                .collect()
        };
        let mut keys = Vec::with_capacity(unique.len());
        let mut received = Vec::with_capacity(unique.len());
        let mut headers = Vec::with_capacity(unique.len());
        let mut bodies = Vec::with_capacity(unique.len());
        let mut quarantine = Vec::with_capacity(unique.len());
        let mut ids = Vec::with_capacity(unique.len());
        let mut states = Vec::with_capacity(unique.len());
        let mut types = Vec::with_capacity(unique.len());
        for cb in unique.iter().map(|&i| callbacks[i]) {
            keys.push(cb.dedup_key.as_str());
            received.push(cb.received_at);
            headers.push(cb.headers.as_str());
            bodies.push(cb.body.as_ref());
            match &cb.reading {
                Reading::Transaction(t) => {
                    quarantine.push(None);
                    ids.push(Some(t.id.as_str()));
                    states.push(Some(t.status.state.as_str()));
                    types.push(t.kind.as_ref().map(|k| k.as_str()));
                }
                Reading::Quarantine(reason) => {
                    quarantine.push(Some(reason.as_str()));
                    ids.push(None);
                    states.push(None);
                    types.push(None);
                }
            }
        }
        // Sequences are taken in arrival order (the state rules judge by them), and keys are
        // inserted in key order, so that two replicas' batches never wait for each other's
        // keys in opposite orders (a deadlock). The statement runs in its own implicit
        // transaction; `fetch_all` returns after PostgreSQL's ReadyForQuery, which follows the
        // commit: `Ok` means committed. (Other replicas hear of it from the announcer: a
        // NOTIFY here would make every batch's commit wait for the others'.)
        let written: Vec<(i64, i64)> = sqlx::query_as(
            "with u as (
                 select u.*, nextval('event_sequence') as seq
                   from unnest($1::text[], $2::timestamptz[], $3::jsonb[], $4::bytea[],
                               $5::text[], $6::text[], $7::text[], $8::text[])
                        with ordinality as u(k, r, h, b, q, id, st, ty, o)),
             key as (
                 insert into event_keys (dedup_key, sequence, received_at)
                 select u.k, u.seq, u.r from u order by u.k
                 on conflict (dedup_key) do nothing
                 returning dedup_key, sequence),
             ev as (
                 insert into events (sequence, source, dedup_key, received_at, headers, body,
                                     outcome, quarantine_reason, transaction_id, state,
                                     transaction_type)
                 select key.sequence, 'callback', u.k, u.r, u.h, u.b,
                        case when u.q is null then 'stored' else 'quarantined' end, u.q, u.id,
                        u.st, u.ty
                   from u join key on key.dedup_key = u.k
                 returning dedup_key, sequence)
             select u.o, ev.sequence
               from u join ev on ev.dedup_key = u.k",
        )
        .bind(&keys)
        .bind(&received)
        .bind(&headers)
        .bind(&bodies)
        .bind(&quarantine)
        .bind(&ids)
        .bind(&states)
        .bind(&types)
        .fetch_all(&self.pool)
        .await?;

        if !written.is_empty() {
            self.log_grew();
        }
        let mut outcomes = vec![Outcome::Duplicate; callbacks.len()];
        for (ord, sequence) in written {
            let i = usize::try_from(ord - 1)
                .ok()
                .and_then(|o| unique.get(o))
                .copied()
                .ok_or_else(|| StoreError::BatchFailed(format!("unexpected position {ord}")))?;
            outcomes[i] = match &callbacks[i].reading {
                Reading::Transaction(_) => Outcome::Stored { sequence },
                Reading::Quarantine(reason) => Outcome::Quarantined {
                    sequence,
                    reason: reason.clone(),
                },
            };
        }
        Ok(outcomes)
    }

    /// Logs one callback whose batch PostgreSQL refused for some row's data
    /// ([`StoreError::is_permanent_for_row`]). If this one is the cause, it is logged again
    /// as quarantined, and as a last resort with only its raw body under a key derived from
    /// the original one (so retries still meet it): no content of a validly signed body can
    /// fail its delivery forever. Only the store being unavailable is an error.
    pub(super) async fn append_alone(&self, cb: &NewCallback) -> Result<Outcome, StoreError> {
        let e = match self.append_callbacks(&[cb]).await {
            Err(e) if e.is_permanent_for_row() => e,
            other => return other.map(|mut o| o.remove(0)),
        };
        let reason = format!(
            "database refused the callback's data (sqlstate {})",
            e.sqlstate().unwrap_or_default()
        );
        tracing::warn!(%reason, "quarantining callback");
        let quarantined = NewCallback {
            received_at: cb.received_at,
            headers: cb.headers.clone(),
            body: cb.body.clone(),
            dedup_key: cb.dedup_key.clone(),
            reading: Reading::Quarantine(reason.clone()),
        };
        match self.append_callbacks(&[&quarantined]).await {
            Err(e) if e.is_permanent_for_row() => {}
            other => return other.map(|mut o| o.remove(0)),
        }
        let bare = NewCallback {
            headers: "{}".to_owned(),
            dedup_key: format!(
                "refused-sha256:{}",
                hex::encode(Sha256::digest(cb.dedup_key.as_bytes()))
            ),
            ..quarantined
        };
        self.append_callbacks(&[&bare])
            .await
            .map(|mut o| o.remove(0))
    }
}
