//! `GET /api/v1/events/stream`: the event log, live, as Server-Sent Events.
//!
//! The stream opens with a message that has only an `id:`: the position it starts after, so
//! that a client that loses the connection before the first event still resumes from where it
//! began (an `id:` without `data:` dispatches nothing in EventSource; it only sets the last
//! event ID). Each event is one message: `id:` its sequence, `data:` the item of
//! `/api/v1/events`. The
//! stream reads the log in tail order like the long-poll (gap-free: an event that commits
//! late is sent, never skipped), a page at a time, and is woken by commits. Memory per
//! client is one page; a client that stops reading while events wait is disconnected.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as Message, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Admin, ApiError, AppState, ErrorBody, params};
use crate::push::Event;
use crate::push::Filter;
use crate::store::{EventRow, Position, Store};

/// A comment line at least this often keeps idle connections alive.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// How soon a reader that found nothing looks again without being woken: an older writer
/// still open can hold committed events back without a new commit to announce them.
pub const LOOK_AGAIN: Duration = Duration::from_millis(250);
/// A client that has not taken the previous message this long after it was sent, while
/// more wait, is disconnected rather than buffered for.
const SLOW_CLIENT: Duration = Duration::from_secs(30);
/// Events read per page.
const PAGE: u32 = 100;

/// The event log, live.
///
/// Resumes after the `Last-Event-ID` header or `after` (default: from now). Filters, in any
/// combination: `source` (`callback` or `orangepill`), `type` and `state` (comma-separated,
/// for callbacks), `event` (comma-separated Orangepill names, `*` as a suffix wildcard). A
/// comment line at least every 15 seconds keeps idle connections alive.
#[utoipa::path(
    get,
    path = "/api/v1/events/stream",
    tag = "read",
    security(("bearer" = [])),
    params(
        ("Last-Event-ID" = Option<i64>, Header, description = "resume after this sequence"),
        ("after" = Option<i64>, Query, description = "start after this sequence (default: from now)"),
        ("source" = Option<String>, Query, description = "callback or orangepill"),
        ("type" = Option<String>, Query, description = "transaction types, comma-separated, e.g. PAYMENT,DEPOSIT"),
        ("state" = Option<String>, Query, description = "transaction states, comma-separated, e.g. SUCCESS"),
        ("event" = Option<String>, Query, description = "Orangepill event names, comma-separated; `*` as a suffix wildcard, e.g. transaction.*"),
    ),
    responses(
        (status = 200, description = "text/event-stream: `id:` the sequence, `data:` the event item", content_type = "text/event-stream", body = String),
        (status = 400, description = "a bad parameter, named in the message", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub(super) async fn stream(
    _: Admin,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Message, Infallible>>>, ApiError> {
    open(state, headers, raw).await
}

/// The stream for the request's `Last-Event-ID` header and query, once the caller has
/// checked who asks (the bearer token here, the console's session there).
pub async fn open(
    state: AppState,
    headers: HeaderMap,
    raw: Option<String>,
) -> Result<Sse<impl Stream<Item = Result<Message, Infallible>> + use<>>, ApiError> {
    let q = params::query(
        raw.as_deref(),
        &["after", "source", "type", "state", "event"],
    )?;
    let filter = Filter {
        source: params::text(&q, "source")?,
        types: params::list(&q, "type")?,
        states: params::list(&q, "state")?,
        events: params::list(&q, "event")?,
    };
    filter.validate().map_err(|e| ApiError::BadParameter {
        param: "filter",
        why: e.to_string(),
    })?;
    let resume = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or(ApiError::BadParameter {
                    param: "Last-Event-ID",
                    why: "must be a sequence this server sent".into(),
                })
        })
        .transpose()?;
    let after = match resume {
        Some(n) => Some((n, "Last-Event-ID")),
        None => params::sequence(q.get("after"), "after")?.map(|n| (n, "after")),
    };
    let from = match after {
        None => state.store.log_end().await?,
        Some((n, param)) => super::events::position_of(&state, n, param).await?,
    };
    let tail = Tail {
        grew: state.store.log_changes(),
        store: state.store.clone(),
        started: false,
        from,
        pending: VecDeque::new(),
        filter,
        sent_at: None,
    };
    let messages = futures_util::stream::unfold(tail, |mut tail| async move {
        let message = tail.next().await?;
        Some((Ok(message), tail))
    });
    Ok(Sse::new(messages).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

/// A reader of the log for one client.
struct Tail {
    store: Store,
    grew: watch::Receiver<u64>,
    /// Whether the opening message (the starting position) went out.
    started: bool,
    /// The last event read.
    from: Position,
    pending: VecDeque<EventRow>,
    filter: Filter,
    /// When the last message was handed over, until the next is asked for.
    sent_at: Option<Instant>,
}

impl Tail {
    /// The next message, or `None` to end the stream.
    async fn next(&mut self) -> Option<Message> {
        if !self.started {
            self.started = true;
            return Some(
                Message::default()
                    .id(self.from.sequence.to_string())
                    .comment("from here"),
            );
        }
        // Asked for the next message this long after the last was handed over: the client
        // took that long to read it.
        let slow = self
            .sent_at
            .take()
            .is_some_and(|t| t.elapsed() > SLOW_CLIENT);
        if slow && !self.pending.is_empty() {
            tracing::info!("event stream client too slow; disconnecting");
            metrics::counter!("txhook_event_stream_slow_disconnects_total").increment(1);
            return None;
        }
        loop {
            if let Some(row) = self.pending.pop_front() {
                if !self.filter.matches(&row) {
                    continue;
                }
                self.sent_at = Some(Instant::now());
                let id = row.sequence.to_string();
                let item = Event::from_row(row, false);
                let message = Message::default().id(id).json_data(item).ok()?;
                return Some(message);
            }
            self.grew.borrow_and_update();
            match self.store.events_after_position(self.from, PAGE).await {
                Ok(rows) if !rows.is_empty() => {
                    self.from = rows.last()?.position().ok()?;
                    self.pending.extend(rows);
                }
                Ok(_) => {
                    tokio::select! {
                        _ = self.grew.changed() => {}
                        () = tokio::time::sleep(LOOK_AGAIN) => {}
                    }
                }
                Err(e) => {
                    // The client resumes from its Last-Event-ID.
                    tracing::warn!(error = %e, "event stream stopped");
                    return None;
                }
            }
        }
    }
}
