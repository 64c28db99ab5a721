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

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use txhook_core::catalogue;

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fake stream served on its own listener.
pub struct FakeStreamServer {
    pub addr: std::net::SocketAddr,
    pub stream: FakeStream,
    task: tokio::task::JoinHandle<()>,
}

impl FakeStreamServer {
    /// `ws://ADDR/`.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for FakeStreamServer {
    fn drop(&mut self) {
        self.stream.drop_connections();
        self.task.abort();
    }
}

/// Serves a fake stream on `listener` until the returned handle is dropped.
pub async fn serve_stream(listener: TcpListener, options: Options) -> FakeStreamServer {
    let stream = FakeStream::new(options);
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let app = stream.router();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "fake stream server stopped");
        }
    });
    FakeStreamServer { addr, stream, task }
}

async fn upgrade(State(fake): State<FakeStream>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| connection(fake.shared, socket))
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn notification(event: &str, entity_id: &str, timestamp: Value) -> Value {
    json!({"type": "notification", "event": event, "data": entity_id, "timestamp": timestamp})
}

async fn connection(shared: Arc<Shared>, mut socket: WebSocket) {
    lock(&shared.connected_at).push(Instant::now());
    shared.connections.fetch_add(1, Ordering::SeqCst);
    let mut control = shared.control.subscribe();
    let mut subscribed = false;
    let reply = |kind: &str, realm: &str| {
        Message::text(json!({"type": kind, "realm": realm, "timestamp": now_secs()}).to_string())
    };
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let text = match msg {
                    None | Some(Err(_)) => break,
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) => {
                        shared.close_frames.fetch_add(1, Ordering::SeqCst);
                        // Keep reading: the library answers the close, then the stream ends.
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                lock(&shared.received).push(text.clone());
                let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let key_ok = frame["realm"].as_str() == Some(shared.options.realm_key.as_str());
                let realm = shared.options.realm_id.as_str();
                let answers = match (frame["type"].as_str(), key_ok) {
                    (Some("subscribe"), true) => {
                        if !subscribed {
                            subscribed = true;
                            shared.subscribed_now.fetch_add(1, Ordering::SeqCst);
                            shared.subscribes.fetch_add(1, Ordering::SeqCst);
                        }
                        vec![reply("info", realm), reply("subscribe", realm)]
                    }
                    (Some("unsubscribe"), true) => {
                        if subscribed {
                            subscribed = false;
                            shared.subscribed_now.fetch_sub(1, Ordering::SeqCst);
                        }
                        vec![reply("unsubscribe", realm)]
                    }
                    (Some("subscribe" | "unsubscribe"), false) => {
                        vec![reply("info", "NONE"), reply("error", "Invalid Realm Key.")]
                    }
                    _ => vec![],
                };
                for a in answers {
                    if socket.send(a).await.is_err() {
                        break;
                    }
                }
            }
            ctl = control.recv() => match ctl {
                Ok(Control::Text(t)) if subscribed => {
                    if socket.send(Message::text(t)).await.is_err() {
                        break;
                    }
                }
                Ok(Control::Binary(b)) if subscribed => {
                    if socket.send(Message::Binary(b.into())).await.is_err() {
                        break;
                    }
                }
                Ok(Control::Drop) | Err(broadcast::error::RecvError::Closed) => break,
                Ok(Control::Stall) => {
                    // Hold the socket, unread, until told to drop it.
                    while !matches!(control.recv().await, Ok(Control::Drop) | Err(broadcast::error::RecvError::Closed)) {}
                    break;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            }
        }
    }
    if subscribed {
        shared.subscribed_now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sends catalogue events at `rate` per second while the fake stream exists, cycling through
/// the names and through the four timestamp forms.
async fn emit(shared: Weak<Shared>, rate: f64) {
    let names = catalogue::all_names();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    for n in 0usize.. {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let ms = chrono::Utc::now().timestamp_millis();
        let timestamp = match n % 4 {
            0 => json!(ms / 1000),
            1 => json!(ms),
            2 => json!((ms / 1000).to_string()),
            _ => json!(ms.to_string()),
        };
        let entity: String = format!("{:024x}", rand::random::<u128>() >> 32);
        let frame = notification(&names[n % names.len()], &entity, timestamp);
        let _ = shared.control.send(Control::Text(frame.to_string()));
    }
}
