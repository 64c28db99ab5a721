//! One WebSocket session of the stream client: connect, subscribe, read and store until the
//! connection ends, shutdown comes, or the server refuses the subscription.
//!
//! - here: the connection's life (connect, subscribe, keep alive, say goodbye);
//! - [`frames`]: what each text frame from the server means, notifications stored.

mod frames;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::client::{StreamSettings, stopped};
use super::protocol;
use super::status::StreamStatus;
use crate::store::Store;

use frames::Step;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long shutdown waits for the server to confirm `unsubscribe`, then for the close.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// How a session ended.
pub(super) enum End {
    /// Shutdown was asked for.
    Stopped,
    /// Connection lost; `subscribed` tells whether the subscription had succeeded.
    Lost { error: String, subscribed: bool },
    /// The server refused the subscription (its text, e.g. "Invalid Realm Key.").
    Rejected(String),
}

pub(super) struct Session<'a> {
    pub(super) cfg: &'a StreamSettings,
    pub(super) store: &'a Store,
    pub(super) status: &'a StreamStatus,
}

impl Session<'_> {
    pub(super) async fn run(&self, stop: &mut watch::Receiver<bool>) -> End {
        let lost = |error: String, subscribed| End::Lost { error, subscribed };
        let connect = timeout(
            self.cfg.idle_timeout,
            tokio_tungstenite::connect_async(self.cfg.url.as_str()),
        );
        let mut ws = tokio::select! {
            r = connect => match r {
                Ok(Ok((ws, _))) => ws,
                Ok(Err(e)) => return lost(format!("cannot connect: {e}"), false),
                Err(_) => return lost("cannot connect: timed out".into(), false),
            },
            () = stopped(stop) => return End::Stopped,
        };
        let subscribe = Message::text(protocol::subscribe(&self.cfg.realm_key));
        if let Err(e) = ws.send(subscribe).await {
            return lost(format!("cannot send subscribe: {e}"), false);
        }
        tracing::debug!("subscribe sent");

        let idle = self.cfg.idle_timeout;
        let mut deadline = Instant::now() + idle;
        let mut ping = tokio::time::interval_at(
            Instant::now() + self.cfg.ping_interval,
            self.cfg.ping_interval,
        );
        let mut subscribed = false;
        loop {
            tokio::select! {
                () = stopped(stop) => {
                    self.goodbye(&mut ws).await;
                    return End::Stopped;
                }
                _ = ping.tick() => {
                    if let Err(e) = ws.send(Message::Ping(Default::default())).await {
                        return lost(format!("cannot send ping: {e}"), subscribed);
                    }
                }
                () = sleep_until(deadline) => {
                    return lost(format!("no frame for {}s", idle.as_secs()), subscribed);
                }
                msg = ws.next() => {
                    deadline = Instant::now() + idle;
                    let text = match msg {
                        None => return lost("connection closed".into(), subscribed),
                        Some(Err(e)) => return lost(e.to_string(), subscribed),
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame.map(|f| format!(" ({} {})", f.code, f.reason));
                            return lost(format!("closed by the server{}", why.unwrap_or_default()), subscribed);
                        }
                        Some(Ok(Message::Binary(_))) => {
                            self.malformed(&protocol::Malformed::Binary, "");
                            continue;
                        }
                        // Pings are answered by the library; pongs only prove life.
                        Some(Ok(_)) => continue,
                    };
                    match self.handle(text.as_str(), subscribed, stop).await {
                        Some(Step::Subscribed) => subscribed = true,
                        Some(Step::Refused(error)) => {
                            let _ = timeout(GOODBYE_WAIT, ws.close(Some(normal_close()))).await;
                            return End::Rejected(error);
                        }
                        Some(Step::Continue | Step::Unsubscribed) => {}
                        None => return End::Stopped,
                    }
                }
            }
        }
    }

    /// Unsubscribes, waits briefly for the answer (storing any event still arriving), and
    /// closes the connection cleanly.
    async fn goodbye(&self, ws: &mut Socket) {
        let unsubscribe = Message::text(protocol::unsubscribe(&self.cfg.realm_key));
        if ws.send(unsubscribe).await.is_ok() {
            let (_tx, mut never) = watch::channel(false);
            let confirmed = timeout(GOODBYE_WAIT, async {
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(t) = msg {
                        if let Some(Step::Unsubscribed) =
                            self.handle(t.as_str(), true, &mut never).await
                        {
                            return true;
                        }
                    }
                }
                false
            })
            .await;
            tracing::info!(
                confirmed = confirmed.unwrap_or(false),
                "unsubscribed from the stream"
            );
        }
        let _ = timeout(GOODBYE_WAIT, async {
            let _ = ws.close(Some(normal_close())).await;
            // Read until the server's close answer ends the stream.
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}

fn normal_close() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Normal,
        reason: "shutting down".into(),
    }
}
