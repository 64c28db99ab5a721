//! What each text frame from the server means to the session: subscription answers, errors,
//! and notifications, each stored once (patiently while the database is away).

use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::sync::watch;
use tokio::time::sleep;

use super::Session;
use crate::retry::Backoff;
use crate::store::{NewStreamEvent, StreamOutcome};
use crate::stream::catalogue::EventName;
use crate::stream::client::stopped;
use crate::stream::protocol::{self, NO_REALM, ServerFrame};

/// What the session learned from a text frame.
pub(super) enum Step {
    Continue,
    Subscribed,
    Unsubscribed,
    Refused(String),
}

impl Session<'_> {
    /// Reads one text frame and acts on it. `None`: shutdown came while storing.
    pub(super) async fn handle(
        &self,
        text: &str,
        subscribed: bool,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Step> {
        let frame = match protocol::parse(text) {
            Ok(f) => f,
            Err(why) => {
                self.malformed(&why, text);
                return Some(Step::Continue);
            }
        };
        Some(match frame {
            ServerFrame::Info { realm } if realm == NO_REALM => {
                tracing::warn!("stream server knows no realm for this key");
                Step::Continue
            }
            ServerFrame::Info { realm } => {
                tracing::debug!(%realm, "stream info");
                Step::Continue
            }
            ServerFrame::Subscribed { realm } => {
                let realm = self.redact(&realm);
                tracing::info!(%realm, "subscribed to the stream");
                self.status.subscribed(&realm);
                Step::Subscribed
            }
            ServerFrame::Unsubscribed { .. } => Step::Unsubscribed,
            ServerFrame::Error { message } if !subscribed => Step::Refused(self.redact(&message)),
            ServerFrame::Error { message } => {
                tracing::warn!(error = %self.redact(&message), "stream server reported an error");
                Step::Continue
            }
            ServerFrame::Notification(n) => {
                let ev = NewStreamEvent {
                    event: &n.event,
                    entity_id: &n.entity_id,
                    timestamp_millis: n.timestamp.map(|t| t.millis),
                    frame: text,
                    received_at: chrono::Utc::now(),
                };
                if n.timestamp.is_none() {
                    tracing::warn!(event = %n.event, "notification without a readable timestamp; kept, keyed by its frame");
                }
                let outcome = self.store_patiently(&ev, stop).await?;
                let label = EventName::parse(&n.event).label();
                self.status
                    .event(label, !matches!(outcome, StreamOutcome::Duplicate));
                Step::Continue
            }
        })
    }

    /// Stores `ev`, retrying while the database is away: the stream cannot redeliver, so an
    /// event is not dropped. Reading waits meanwhile. (Content PostgreSQL refuses is not
    /// retried: the store keeps such a frame raw and answers at once.) `None` when shutdown comes first.
    async fn store_patiently(
        &self,
        ev: &NewStreamEvent<'_>,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<StreamOutcome> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            match self.store.record_stream_event(ev).await {
                Ok(outcome) => return Some(outcome),
                Err(e) => {
                    tracing::warn!(error = %e, event = ev.event, "cannot store stream event; retrying");
                    metrics::counter!("txhook_db_errors_total").increment(1);
                }
            }
            tokio::select! {
                () = sleep(backoff.next_wait()) => {}
                () = stopped(stop) => {
                    tracing::error!(event = ev.event, entity_id = ev.entity_id, "shutdown before a stream event could be stored");
                    return None;
                }
            }
        }
    }
    pub(super) fn malformed(&self, why: &protocol::Malformed, text: &str) {
        let sample: String = self.redact(text).chars().take(200).collect();
        tracing::warn!(%why, frame = %sample, "malformed stream frame ignored");
        self.status.malformed();
    }

    /// Text from the server, with the realm key cut out should the server ever echo it.
    fn redact(&self, text: &str) -> String {
        text.replace(self.cfg.realm_key.expose_secret(), "[REDACTED]")
    }
}
