//! The follower: connects to the stream, reads it, and reconnects when it drops, resuming
//! after the last event printed (`Last-Event-ID`), with a doubling wait between attempts.

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use txhook_core::message::error_chain;
use txhook_core::redact::url as redacted_url;
use url::Url;

use super::ListenError;
use super::forward::forward;
use super::line::describe;
use super::sse::{Message, Parser};

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The server sends a comment at least every 15 seconds: this long without a byte, the
/// connection is taken for dead (a peer gone without closing it).
const SILENCE: Duration = Duration::from_secs(45);

/// A consumer of the stream: where it is, what it has printed, where events are forwarded.
pub(super) struct Follower {
    client: reqwest::Client,
    url: Url,
    /// `url` as it may be printed.
    shown: String,
    token: Option<SecretString>,
    forward_to: Option<Url>,
    /// The last event printed: where a reconnection resumes.
    last: Option<i64>,
}

impl Follower {
    /// A follower of the stream at `url`, not connected yet.
    pub(super) fn new(
        url: Url,
        token: Option<SecretString>,
        forward_to: Option<Url>,
    ) -> reqwest::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            shown: redacted_url(&url),
            url,
            token,
            forward_to,
            last: None,
        })
    }

    /// The stream's URL as it may be printed.
    pub(super) fn shown(&self) -> &str {
        &self.shown
    }

    /// Follows the stream until stdout is gone, reconnecting when it drops; fails when the
    /// server refuses it, or cannot be reached at start.
    pub(super) async fn run(&mut self) -> anyhow::Result<()> {
        let mut backoff = MIN_BACKOFF;
        let mut connected = false;
        loop {
            let why = match self.connect(connected).await? {
                Ok(res) => {
                    if connected {
                        eprintln!("reconnected{}", self.resuming());
                    }
                    connected = true;
                    backoff = MIN_BACKOFF;
                    match self.read(res).await {
                        Ok(why) => why,
                        // Stdout is gone (`| head`): nothing is left to print to.
                        Err(_) => return Ok(()),
                    }
                }
                Err(why) => why,
            };
            eprintln!("{why}; reconnecting in {}ms", backoff.as_millis());
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Opens the stream: the response, a reason to try again, or why to stop. A server
    /// unreachable before the first connection is a reason to stop; later, to try again.
    async fn connect(
        &self,
        connected: bool,
    ) -> Result<Result<reqwest::Response, String>, ListenError> {
        let mut req = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.expose_secret());
        }
        if let Some(last) = self.last {
            req = req.header("last-event-id", last.to_string());
        }
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => {
                let reason = error_chain(&e.without_url());
                if connected {
                    return Ok(Err(format!("cannot reach {}: {reason}", self.shown)));
                }
                return Err(ListenError::Unreachable {
                    url: self.shown.clone(),
                    reason,
                });
            }
        };
        match res.status() {
            StatusCode::OK => Ok(Ok(res)),
            StatusCode::UNAUTHORIZED => Err(ListenError::Unauthorized),
            s if s.is_server_error() => Ok(Err(format!("txhook answered {s}"))),
            s => {
                let answer = res.text().await.unwrap_or_default();
                let answer = answer.trim().chars().take(500).collect();
                Err(ListenError::Refused {
                    status: s.as_u16(),
                    answer,
                })
            }
        }
    }

    /// Prints (and forwards) the stream's events until it ends; returns why it ended. Fails
    /// only when stdout does.
    async fn read(&mut self, res: reqwest::Response) -> std::io::Result<String> {
        let mut parser = Parser::default();
        let mut body = res.bytes_stream();
        loop {
            let chunk = match tokio::time::timeout(SILENCE, body.next()).await {
                Err(_) => {
                    return Ok(format!(
                        "stream silent for {}s, heartbeats included",
                        SILENCE.as_secs()
                    ));
                }
                Ok(None) => return Ok("stream closed by the server".into()),
                Ok(Some(Err(e))) => {
                    return Ok(format!("stream broken: {}", error_chain(&e.without_url())));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            for message in parser.feed(&chunk) {
                self.handle(message).await?;
            }
            // The position, also from a message without data (the stream opens by saying
            // where it starts): a reconnection resumes there even before the first event.
            if let Some(n) = parser
                .last_id()
                .and_then(|id| id.trim().parse::<i64>().ok())
            {
                if self.last.is_none() {
                    eprintln!("listening after #{n}");
                }
                self.last = Some(n);
            }
        }
    }

    /// Prints one event's line, forwards it when asked and prints the answer.
    async fn handle(&mut self, message: Message) -> std::io::Result<()> {
        let item: Option<Value> = serde_json::from_str(&message.data).ok();
        let sequence = message
            .id
            .as_deref()
            .and_then(|id| id.trim().parse::<i64>().ok())
            .or_else(|| item.as_ref()?.get("sequence")?.as_i64());
        let line = match (sequence, &item) {
            (Some(sequence), Some(item)) => describe(sequence, item),
            _ => format!("? {}", message.data),
        };
        writeln!(std::io::stdout(), "{line}")?;
        if let Some(to) = &self.forward_to {
            let answer = forward(&self.client, to, message.data).await;
            writeln!(std::io::stdout(), "  -> {answer}")?;
        }
        if sequence.is_some() {
            self.last = sequence;
        }
        Ok(())
    }

    fn resuming(&self) -> String {
        self.last
            .map(|n| format!(", resuming after #{n}"))
            .unwrap_or_default()
    }
}
