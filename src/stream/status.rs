//! What the stream client is doing, shared with the HTTP layer (readiness detail) and
//! mirrored into metrics.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The client's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Connecting and subscribing.
    Connecting,
    /// Subscribed: events flow.
    Subscribed,
    /// Waiting before the next attempt, after a lost connection.
    Backoff,
    /// Waiting before the next attempt, after the server refused the subscription (for
    /// example an invalid realm key).
    Rejected,
    /// Shut down.
    Stopped,
}

/// A snapshot, as `/readyz` shows it under `stream`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub state: State,
    pub connected: bool,
    /// The realm id the server named on subscribing (not the key).
    pub realm: Option<String>,
    /// The last problem: the server's error text, or why the connection was lost.
    pub last_error: Option<String>,
    /// Connections attempted since start.
    pub connection_attempts: u64,
    /// Reconnects since start (every attempt after the first).
    pub reconnects: u64,
    /// Notifications received since start (duplicates included).
    pub events: u64,
    /// Of those, stored as new events.
    pub stored: u64,
    pub malformed_frames: u64,
    pub last_event_at: Option<DateTime<Utc>>,
    pub subscribed_since: Option<DateTime<Utc>>,
}

/// The shared status: the client writes, readers take snapshots.
#[derive(Debug)]
pub struct StreamStatus {
    inner: Mutex<Snapshot>,
}

impl Default for StreamStatus {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Snapshot {
                state: State::Connecting,
                connected: false,
                realm: None,
                last_error: None,
                connection_attempts: 0,
                reconnects: 0,
                events: 0,
                stored: 0,
                malformed_frames: 0,
                last_event_at: None,
                subscribed_since: None,
            }),
        }
    }
}

impl StreamStatus {
    pub fn snapshot(&self) -> Snapshot {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        // A panic while holding the lock leaves a consistent value: plain field writes.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn attempt(&self) {
        let mut s = self.lock();
        s.state = State::Connecting;
        if s.connection_attempts > 0 {
            s.reconnects += 1;
            metrics::counter!("txhook_stream_reconnects_total").increment(1);
        }
        s.connection_attempts += 1;
    }

    pub(super) fn subscribed(&self, realm: &str) {
        let mut s = self.lock();
        s.state = State::Subscribed;
        s.connected = true;
        s.realm = Some(realm.to_owned());
        s.last_error = None;
        s.subscribed_since = Some(Utc::now());
        metrics::gauge!("txhook_stream_connected").set(1.0);
    }

    /// The session ended; `rejected` when the server refused the subscription.
    pub(super) fn ended(&self, error: Option<String>, rejected: bool) {
        let mut s = self.lock();
        s.state = if rejected {
            State::Rejected
        } else {
            State::Backoff
        };
        s.connected = false;
        s.subscribed_since = None;
        if error.is_some() {
            s.last_error = error;
        }
        metrics::gauge!("txhook_stream_connected").set(0.0);
    }

    pub(super) fn stopped(&self) {
        let mut s = self.lock();
        s.state = State::Stopped;
        s.connected = false;
        s.subscribed_since = None;
        metrics::gauge!("txhook_stream_connected").set(0.0);
    }

    pub(super) fn event(&self, label: String, stored: bool) {
        let now = Utc::now();
        let mut s = self.lock();
        s.events += 1;
        s.stored += u64::from(stored);
        s.last_event_at = Some(now);
        metrics::counter!("txhook_stream_events_total", "event" => label).increment(1);
        metrics::gauge!("txhook_stream_last_event_timestamp_seconds")
            .set(now.timestamp_millis() as f64 / 1000.0);
    }

    pub(super) fn malformed(&self) {
        self.lock().malformed_frames += 1;
        metrics::counter!("txhook_stream_malformed_frames_total").increment(1);
    }
}
