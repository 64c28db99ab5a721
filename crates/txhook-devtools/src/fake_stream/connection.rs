//! One WebSocket connection: the subscription handshake as Orangepill answers it, and the
//! frames (or drops and stalls) the tests ask for.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{Control, FakeStream, Shared, lock};

pub(super) async fn upgrade(State(fake): State<FakeStream>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| connection(fake.shared, socket))
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
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
