//! A WebSocket server that plays Orangepill, for local runs and tests.
//!
//! It accepts `{"type":"subscribe","realm":KEY}` with the configured key (answering `info`
//! with the realm id, then `subscribe`), answers any other key with `info` NONE and `error`
//! "Invalid Realm Key." as the documentation shows, confirms `unsubscribe`, and sends events
//! to subscribed connections: from the catalogue at a steady rate, with timestamps in every
//! form (number or string, seconds or milliseconds), and whatever a test asks for.
//!
//! Tests steer it through [`FakeStream`]: send frames (malformed ones too), drop or stall
//! every connection, and read back what it received. Mount [`FakeStream::router`] in another
//! axum app (`Router::nest`), or serve it alone on a bound listener with [`serve_stream`].
//!
//! Its parts: the test controls (`controls`), one connection's handshake and frames
//! (`connection`), the notifications and their steady emission (`emit`), and the server on its
//! own listener (`server`).

mod connection;
mod controls;
mod emit;
mod server;

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::broadcast;

pub use server::{FakeStreamServer, serve_stream};

/// How the fake server behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The realm key it accepts.
    pub realm_key: String,
    /// The realm id it names in `info` and `subscribe` answers.
    pub realm_id: String,
    /// Catalogue events per second sent to every subscribed connection; `None`: only what
    /// a test sends.
    pub rate: Option<f64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            realm_key: "dev-realm-key".into(),
            realm_id: "6396713e191e9023f356df00".into(),
            rate: None,
        }
    }
}

#[derive(Debug, Clone)]
enum Control {
    /// A text frame for every subscribed connection, sent as it is.
    Text(String),
    /// A binary frame for every subscribed connection.
    Binary(Vec<u8>),
    /// Drop every connection at once, without a close frame.
    Drop,
    /// Stop reading and writing on every connection (no pongs either), keeping it open.
    Stall,
}

struct Shared {
    options: Options,
    control: broadcast::Sender<Control>,
    connections: AtomicU64,
    subscribes: AtomicU64,
    subscribed_now: AtomicUsize,
    close_frames: AtomicU64,
    received: Mutex<Vec<String>>,
    connected_at: Mutex<Vec<Instant>>,
}

/// The fake server's state and test controls. Clones share everything.
#[derive(Clone)]
pub struct FakeStream {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
