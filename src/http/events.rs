//! `GET /api/v1/events`: the event log, both sources, for downstream consumers to tail.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, ApiError, AppState, ErrorBody, params};
use crate::push::Event;
use crate::store::{Position, TailError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(super::event_stream::stream))
        .routes(routes!(one))
}

/// Longest `wait` of a long-poll, in seconds.
pub const MAX_WAIT_SECS: u64 = 60;

/// A page of the event log.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    items: Vec<Event>,
    /// Pass as `after` to continue: the last sequence returned, or `after` again when none.
    next: i64,
}

/// Tail the event log.
///
/// Events come in log order: each event is returned once and never after a later one, even
/// though concurrent writers commit out of sequence order. Poll with `after` = the `next` of
/// the previous answer; an event whose writer has not committed yet is held back until it
/// has, instead of being skipped. With `wait`, a request that finds nothing is held until an
/// event arrives (woken by the commit, on any replica) or `wait` runs out.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "read",
    security(("bearer" = [])),
    params(
        ("after" = Option<i64>, Query, description = "the sequence last seen (0 or absent: from the start)"),
        ("limit" = Option<u32>, Query, description = "page size, 1 to 1000 (default 100); a page also stops at 8 MiB of bodies"),
        ("wait" = Option<u64>, Query, description = "long-poll: seconds (at most 60) to hold a request that finds nothing"),
    ),
    responses(
        (status = 200, body = EventPage),
        (status = 400, description = "a bad parameter, named in the message", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
async fn list(
    _: Admin,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    let q = params::query(raw.as_deref(), &["after", "limit", "wait"])?;
    let after = params::sequence(q.get("after"), "after")?.unwrap_or(0);
    let limit = params::limit(q.get("limit"), 100, 1000)?;
    let wait = params::seconds(q.get("wait"), "wait", MAX_WAIT_SECS)?;
    let from = position_of(&state, after, "after").await?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut grew = state.store.log_changes();
    let rows = loop {
        grew.borrow_and_update();
        let rows = state.store.events_after_position(from, limit).await?;
        if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
            break rows;
        }
        // Woken by a commit (here or, through LISTEN, on another replica); the short look
        // again covers an event held back by an older writer still open.
        tokio::select! {
            _ = grew.changed() => {}
            () = tokio::time::sleep(super::event_stream::LOOK_AGAIN) => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    };
    let next = rows.last().map_or(after, |r| r.sequence);
    Ok(Json(EventPage {
        items: rows
            .into_iter()
            .map(|r| Event::from_row(r, false))
            .collect(),
        next,
    }))
}

/// The tail position of the event `sequence`, named by the client in `param` (0: the start
/// of the log); a sequence no event has is the client's error.
pub(super) async fn position_of(
    state: &AppState,
    sequence: i64,
    param: &'static str,
) -> Result<Position, ApiError> {
    state
        .store
        .position_of(sequence)
        .await?
        .ok_or_else(|| ApiError::BadParameter {
            param,
            why: TailError::UnknownPosition(sequence).to_string(),
        })
}

/// One event, with its raw body and kept headers.
#[utoipa::path(
    get,
    path = "/api/v1/events/{sequence}",
    tag = "read",
    security(("bearer" = [])),
    params(("sequence" = i64, Path, description = "the event's sequence")),
    responses(
        (status = 200, body = Event),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
async fn one(
    _: Admin,
    State(state): State<AppState>,
    Path(sequence): Path<String>,
) -> Result<Json<Event>, ApiError> {
    let sequence = params::sequence(Some(&sequence), "sequence")?.unwrap_or_default();
    let row = state
        .store
        .event(sequence)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Event::from_row(row, true)))
}
