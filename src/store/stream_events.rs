//! Writing an Orangepill stream event into the event log, once.
//!
//! A reconnecting stream may send an event again, so each event has a deduplication key:
//! `op:<event>:<entity id>:<server timestamp in milliseconds since the epoch>` (the timestamp
//! normalised from whatever form it came in; see `stream::timestamp`). An event without a
//! readable timestamp is still kept, keyed by the SHA-256 of its raw frame instead:
//! `op:<event>:<entity id>:frame-sha256:<hex>`. The key goes in `event_keys` like the
//! callbacks' keys, so a repeat is recognised forever.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use crate::payment::bounded_key;

/// A stream notification, ready to be written.
#[derive(Debug, Clone)]
pub struct NewStreamEvent<'a> {
    /// The event name as sent (`transaction.done`, or any unknown name).
    pub event: &'a str,
    /// The affected entity's id (`data`).
    pub entity_id: &'a str,
    /// The server timestamp, normalised to milliseconds since the epoch, when readable.
    pub timestamp_millis: Option<i64>,
    /// The raw text frame, stored as the event's body.
    pub frame: &'a str,
    pub received_at: DateTime<Utc>,
}

impl NewStreamEvent<'_> {
    /// What makes two deliveries the same event.
    ///
    /// A key too long for an index (a 10,000-character entity id) is kept as its SHA-256
    /// (`op-sha256:<hex>`; see [`bounded_key`]).
    pub fn dedup_key(&self) -> String {
        let rest = match self.timestamp_millis {
            Some(ms) => format!("{}:{}:{ms}", self.event, self.entity_id),
            None => format!(
                "{}:{}:frame-sha256:{}",
                self.event,
                self.entity_id,
                hex::encode(Sha256::digest(self.frame.as_bytes()))
            ),
        };
        bounded_key("op", &rest)
    }

    /// The key of a frame kept raw because its fields were refused: the frame's hash.
    fn refused_key(&self) -> String {
        format!(
            "op-refused:frame-sha256:{}",
            hex::encode(Sha256::digest(self.frame.as_bytes()))
        )
    }

    fn event_time(&self) -> Option<DateTime<Utc>> {
        self.timestamp_millis
            .and_then(DateTime::<Utc>::from_timestamp_millis)
    }
}

/// What happened to a stream event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// New, committed.
    Stored { sequence: i64 },
    /// Already held (same key); nothing written.
    Duplicate,
    /// New, committed raw: PostgreSQL refused its fields (e.g. a NUL in the event name).
    Quarantined { sequence: i64 },
}

impl Store {
    /// Writes one stream event (one statement, committed on return) unless its key is held.
    ///
    /// An event whose fields PostgreSQL refuses ([`StoreError::is_permanent_for_row`]) is
    /// kept raw as quarantined, keyed by the hash of its frame, so that the stream keeps
    /// flowing: only the store being unavailable is an error.
    #[tracing::instrument(skip_all, fields(event = ev.event, entity_id = ev.entity_id))]
    pub async fn record_stream_event(
        &self,
        ev: &NewStreamEvent<'_>,
    ) -> Result<StreamOutcome, StoreError> {
        let sequence: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(
            "with key as (
                 insert into event_keys (dedup_key, received_at) values ($1, $2)
                 on conflict (dedup_key) do nothing
                 returning sequence),
             ev as (
                 insert into events (sequence, source, dedup_key, received_at, body, outcome,
                                     event_name, entity_id, event_time)
                 select key.sequence, 'orangepill', $1, $2, $3, 'stored', $4, $5, $6 from key
                 returning sequence)
             select ev.sequence from ev",
        )
        .bind(ev.dedup_key())
        .bind(ev.received_at)
        .bind(ev.frame.as_bytes())
        .bind(ev.event)
        .bind(ev.entity_id)
        .bind(ev.event_time())
        .fetch_optional(&self.pool)
        .await;
        match sequence.map_err(StoreError::from) {
            Ok(Some(sequence)) => {
                self.log_grew();
                Ok(StreamOutcome::Stored { sequence })
            }
            Ok(None) => Ok(StreamOutcome::Duplicate),
            Err(e) if e.is_permanent_for_row() => self.record_refused_frame(ev, &e).await,
            Err(e) => Err(e),
        }
    }

    async fn record_refused_frame(
        &self,
        ev: &NewStreamEvent<'_>,
        refused: &StoreError,
    ) -> Result<StreamOutcome, StoreError> {
        let reason = format!(
            "database refused the event's fields (sqlstate {})",
            refused.sqlstate().unwrap_or_default()
        );
        tracing::warn!(%reason, "keeping the stream frame raw");
        let sequence: Option<i64> = sqlx::query_scalar(
            "with key as (
                 insert into event_keys (dedup_key, received_at) values ($1, $2)
                 on conflict (dedup_key) do nothing
                 returning sequence),
             ev as (
                 insert into events (sequence, source, dedup_key, received_at, body, outcome,
                                     quarantine_reason)
                 select key.sequence, 'orangepill', $1, $2, $3, 'quarantined', $4 from key
                 returning sequence)
             select ev.sequence from ev",
        )
        .bind(ev.refused_key())
        .bind(ev.received_at)
        .bind(ev.frame.as_bytes())
        .bind(reason)
        .fetch_optional(&self.pool)
        .await?;
        if sequence.is_some() {
            self.log_grew();
        }
        Ok(match sequence {
            Some(sequence) => StreamOutcome::Quarantined { sequence },
            None => StreamOutcome::Duplicate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: Option<i64>, frame: &str) -> NewStreamEvent<'_> {
        NewStreamEvent {
            event: "transaction.done",
            entity_id: "63967141191e9023f356df9f",
            timestamp_millis: ts,
            frame,
            received_at: Utc::now(),
        }
    }

    #[test]
    fn key_is_event_entity_and_normalised_timestamp() {
        assert_eq!(
            event(Some(1_671_547_687_000), "a").dedup_key(),
            "op:transaction.done:63967141191e9023f356df9f:1671547687000"
        );
        // The frame does not matter when the timestamp is readable.
        assert_eq!(
            event(Some(1), "a").dedup_key(),
            event(Some(1), "b").dedup_key()
        );
    }

    #[test]
    fn without_a_timestamp_the_frame_decides() {
        let a = event(None, "a").dedup_key();
        assert!(a.starts_with("op:transaction.done:63967141191e9023f356df9f:frame-sha256:"));
        assert_ne!(a, event(None, "b").dedup_key());
    }
}
