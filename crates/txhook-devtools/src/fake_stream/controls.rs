//! The test controls of [`FakeStream`]: frames to send, connections to drop or stall, and
//! what the server saw.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use serde_json::Value;
use tokio::sync::broadcast;

use super::connection::upgrade;
use super::emit::{emit, notification};
use super::{Control, FakeStream, Options, Shared, lock};

impl FakeStream {
    /// A fake stream; with a `rate`, starts sending catalogue events (needs a Tokio runtime).
    pub fn new(options: Options) -> Self {
        let rate = options.rate;
        let shared = Arc::new(Shared {
            options,
            control: broadcast::channel(1024).0,
            connections: AtomicU64::new(0),
            subscribes: AtomicU64::new(0),
            subscribed_now: AtomicUsize::new(0),
            close_frames: AtomicU64::new(0),
            received: Mutex::new(Vec::new()),
            connected_at: Mutex::new(Vec::new()),
        });
        if let Some(rate) = rate.filter(|r| *r > 0.0) {
            tokio::spawn(emit(Arc::downgrade(&shared), rate));
        }
        Self { shared }
    }

    /// The WebSocket endpoint, at `/` and at any path below it.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(upgrade))
            .route("/{*path}", get(upgrade))
            .with_state(self.clone())
    }

    /// Sends `text` as it is (any JSON, or none) to every subscribed connection.
    pub fn send_text(&self, text: impl Into<String>) {
        let _ = self.shared.control.send(Control::Text(text.into()));
    }

    /// Sends a binary frame to every subscribed connection.
    pub fn send_binary(&self, bytes: Vec<u8>) {
        let _ = self.shared.control.send(Control::Binary(bytes));
    }

    /// Sends a notification; `timestamp` goes in as given (number or string).
    pub fn send_event(&self, event: &str, entity_id: &str, timestamp: Value) {
        self.send_text(notification(event, entity_id, timestamp).to_string());
    }

    /// Drops every connection without a close frame, as a crashed server or network would.
    pub fn drop_connections(&self) {
        let _ = self.shared.control.send(Control::Drop);
    }

    /// Makes every open connection go silent (no frames, no pongs) while staying open.
    pub fn stall_connections(&self) {
        let _ = self.shared.control.send(Control::Stall);
    }

    /// WebSocket connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Successful subscriptions so far.
    pub fn subscribes(&self) -> u64 {
        self.shared.subscribes.load(Ordering::SeqCst)
    }

    /// Connections subscribed right now.
    pub fn subscribed_now(&self) -> usize {
        self.shared.subscribed_now.load(Ordering::SeqCst)
    }

    /// Close frames received from clients (clean closes).
    pub fn close_frames(&self) -> u64 {
        self.shared.close_frames.load(Ordering::SeqCst)
    }

    /// When each connection was accepted, in order (to measure reconnect pacing).
    pub fn connection_times(&self) -> Vec<Instant> {
        lock(&self.shared.connected_at).clone()
    }

    /// Every text frame received, in order, from all connections.
    pub fn received(&self) -> Vec<String> {
        lock(&self.shared.received).clone()
    }
}
