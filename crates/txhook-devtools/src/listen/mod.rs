//! `txhook listen`: like `stripe listen`, follows a txhook's event stream
//! (`GET /api/v1/events/stream`), prints a line per event and forwards each to a local URL.
//!
//! A consumer like any other: HTTP and the bearer token only. When the stream drops it
//! reconnects with `Last-Event-ID` = the last event printed, so nothing is skipped or
//! printed twice.

mod sse;

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use txhook_core::message::error_chain;
use txhook_core::redact::url as redacted_url;
use url::Url;

use crate::args::ListenArgs;

use sse::{Message, Parser};

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The server sends a comment at least every 15 seconds: this long without a byte, the
/// connection is taken for dead (a peer gone without closing it).
const SILENCE: Duration = Duration::from_secs(45);
/// How long a forwarded event may take to be answered.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// Why `listen` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("txhook answered 401: set TXHOOK_ADMIN_TOKEN to the server's admin token")]
    Unauthorized,
    #[error("txhook answered {status}: {answer}")]
    Refused { status: u16, answer: String },
}

/// Follows the stream of `args.url` (or `default_url`) until `shutdown`, reconnecting when it
/// drops. Fails at once on 401, on another refusal (4xx), and when the server cannot be
/// reached at start.
pub async fn listen(
    args: &ListenArgs,
    default_url: Url,
    token: Option<SecretString>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let url = stream_url(args.url.as_ref().unwrap_or(&default_url), args);
    let mut follower = Follower {
        client: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?,
        shown: redacted_url(&url),
        url,
        token,
        forward_to: args.forward_to.clone(),
        last: None,
    };
    eprintln!("following {} (ctrl-c to stop)", follower.shown);
    tokio::select! {
        r = follower.run() => r,
        () = shutdown => Ok(()),
    }
}

/// The stream URL under `base` (a txhook's origin, or the stream URL itself), with `after`
/// and the filters as the query.
fn stream_url(base: &Url, args: &ListenArgs) -> Url {
    let mut url = base.clone();
    if !url.path().ends_with("/api/v1/events/stream") {
        let path = format!("{}/api/v1/events/stream", url.path().trim_end_matches('/'));
        url.set_path(&path);
    }
    let after = args.after.map(|n| n.to_string());
    let pairs: Vec<(&str, &str)> = [
        ("after", after.as_deref()),
        ("source", args.source.as_deref()),
        ("type", args.types.as_deref()),
        ("state", args.states.as_deref()),
        ("event", args.events.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect();
    url.set_query(None);
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    url
}

/// One line for an event item: `#<seq> <receivedAt> callback <type> <state> <transactionId>`
/// or `#<seq> <receivedAt> orangepill <event> <entityId>`, `(quarantined)` when it was.
fn describe(sequence: i64, item: &Value) -> String {
    let field = |k: &str| item.get(k).and_then(Value::as_str);
    let source = field("source").unwrap_or("?");
    let details: &[&str] = match source {
        "orangepill" => &["event", "entityId"],
        _ => &["type", "state", "transactionId"],
    };
    let mut parts = vec![format!("#{sequence}")];
    parts.extend(field("receivedAt").map(str::to_owned));
    parts.push(source.to_owned());
    parts.extend(details.iter().filter_map(|k| field(k)).map(str::to_owned));
    if field("outcome") == Some("quarantined") {
        parts.push("(quarantined)".into());
    }
    parts.join(" ")
}

struct Follower {
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
    async fn run(&mut self) -> anyhow::Result<()> {
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
            let answer = self.forward(to, message.data).await;
            writeln!(std::io::stdout(), "  -> {answer}")?;
        }
        if sequence.is_some() {
            self.last = sequence;
        }
        Ok(())
    }

    /// POSTs `item` to `to`: the answer's status, or why there was none. Not retried.
    async fn forward(&self, to: &Url, item: String) -> String {
        let sent = self
            .client
            .post(to.clone())
            .header(CONTENT_TYPE, "application/json")
            .timeout(FORWARD_TIMEOUT)
            .body(item)
            .send()
            .await;
        match sent {
            Ok(res) => {
                let status = res.status().as_u16();
                // Read to the end, so that the connection can serve the next event.
                let _ = res.bytes().await;
                status.to_string()
            }
            Err(e) => format!("failed: {}", error_chain(&e.without_url())),
        }
    }

    fn resuming(&self) -> String {
        self.last
            .map(|n| format!(", resuming after #{n}"))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use serde_json::json;

    use super::*;

    /// `listen` on a command line of its own.
    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: ListenArgs,
    }

    fn args(argv: &[&str]) -> ListenArgs {
        Cli::try_parse_from([&["listen"], argv].concat())
            .unwrap()
            .args
    }

    #[test]
    fn the_stream_is_found_under_the_origin_with_after_and_the_filters() {
        let local = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            stream_url(&local, &args(&[])).as_str(),
            "http://127.0.0.1:8080/api/v1/events/stream"
        );
        let a = args(&[
            "--after=12",
            "--source=callback",
            "--type=PAYMENT,DEPOSIT",
            "--state=SUCCESS",
            "--event=transaction.*",
        ]);
        assert_eq!(
            stream_url(&local, &a).as_str(),
            "http://127.0.0.1:8080/api/v1/events/stream?after=12&source=callback\
             &type=PAYMENT%2CDEPOSIT&state=SUCCESS&event=transaction.*"
        );
        // Behind a prefix, or the stream's own URL (whose query is replaced).
        let prefixed = Url::parse("https://hub.example/txhook/").unwrap();
        assert_eq!(
            stream_url(&prefixed, &args(&[])).as_str(),
            "https://hub.example/txhook/api/v1/events/stream"
        );
        let full = Url::parse("http://h/api/v1/events/stream?after=3").unwrap();
        assert_eq!(
            stream_url(&full, &args(&["--type=DEPOSIT"])).as_str(),
            "http://h/api/v1/events/stream?type=DEPOSIT"
        );
    }

    #[test]
    fn a_line_per_event_says_what_it_is() {
        let callback = json!({"sequence": 4, "source": "callback", "receivedAt": "2026-11-24T10:00:00Z",
            "outcome": "stored", "type": "PAYMENT", "state": "SUCCESS", "transactionId": "t-1"});
        assert_eq!(
            describe(4, &callback),
            "#4 2026-11-24T10:00:00Z callback PAYMENT SUCCESS t-1"
        );
        let stream = json!({"sequence": 5, "source": "orangepill", "receivedAt": "2026-11-24T10:00:01Z",
            "outcome": "stored", "event": "transaction.done", "entityId": "e-9"});
        assert_eq!(
            describe(5, &stream),
            "#5 2026-11-24T10:00:01Z orangepill transaction.done e-9"
        );
        let quarantined = json!({"sequence": 6, "source": "callback", "receivedAt": "2026-11-24T10:00:02Z",
            "outcome": "quarantined", "state": "PENDING"});
        assert_eq!(
            describe(6, &quarantined),
            "#6 2026-11-24T10:00:02Z callback PENDING (quarantined)"
        );
    }

    #[test]
    fn a_negative_after_or_an_unknown_source_is_refused() {
        let parse = |argv: &[&str]| Cli::try_parse_from([&["listen"], argv].concat());
        assert!(parse(&["--after=-1"]).is_err());
        assert!(parse(&["--source=kafka"]).is_err());
    }
}
