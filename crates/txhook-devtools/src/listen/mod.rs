//! `txhook listen`: like `stripe listen`, follows a txhook's event stream
//! (`GET /api/v1/events/stream`), prints a line per event and forwards each to a local URL.
//!
//! A consumer like any other: HTTP and the bearer token only. When the stream drops it
//! reconnects with `Last-Event-ID` = the last event printed, so nothing is skipped or
//! printed twice.
//!
//! Its parts: the stream's URL (`stream_url`), the follower that connects, reads and
//! reconnects (`follower`), the line printed per event (`line`), the POST to the local URL
//! (`forward`) and the Server-Sent Events reader (`sse`).

mod follower;
mod forward;
mod line;
mod sse;
mod stream_url;

use std::future::Future;

use secrecy::SecretString;
use url::Url;

use crate::args::ListenArgs;

use follower::Follower;
use stream_url::stream_url;

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
    let mut follower = Follower::new(url, token, args.forward_to.clone())?;
    eprintln!("following {} (ctrl-c to stop)", follower.shown());
    tokio::select! {
        r = follower.run() => r,
        () = shutdown => Ok(()),
    }
}
