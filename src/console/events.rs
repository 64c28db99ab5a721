//! The event log, live: both sources as they arrive, through the same gap-free tail as the
//! SSE API (txhook's Event Stream Explorer), with filters; and one event with its raw body.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{headers, raw_body, time};
use super::session::Session;
use super::transactions::urlencode;
use crate::http::{AppState, event_stream};
use crate::store::EventRow;

/// Events shown when the page opens.
const RECENT: i64 = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    source: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    state: Option<String>,
    event: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<Filters>,
) -> Result<Markup, ConsoleError> {
    let recent = state.store.latest_events(RECENT).await?;
    // The live stream starts right after the newest event shown: nothing in between is
    // missed.
    let after = recent.first().map_or(0, |e| e.sequence);
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    Ok(super::layout::page(
        "Event log",
        Some(&session),
        html! {
            form #filters method="get" action="/console/events" {
                select name="source" {
                    option value="" { "both sources" }
                    option value="callback" selected[f.source.as_deref() == Some("callback")] { "callbacks" }
                    option value="orangepill" selected[f.source.as_deref() == Some("orangepill")] { "Orangepill" }
                }
                input name="type" placeholder="types, e.g. PAYMENT,DEPOSIT" value=(value(&f.kind));
                input name="state" placeholder="states, e.g. SUCCESS" value=(value(&f.state));
                input name="event" placeholder="events, e.g. transaction.*" value=(value(&f.event));
                button type="submit" { "Filter" }
            }
            p #live-status data-after=(after) { "connecting…" }
            table #event-log {
                thead { tr { th { "#" } th { "received" } th { "source" } th { "type / event" } th { "state" } th { "transaction / entity" } th { "outcome" } } }
                tbody {
                    @for e in recent.iter().filter(|e| shown(&f, e)) { (row(e)) }
                }
            }
        },
    ))
}

/// Whether the filters (as the stream applies them) let `e` through, for the first rows.
fn shown(f: &Filters, e: &EventRow) -> bool {
    let list = |v: &Option<String>| -> Vec<String> {
        v.as_deref()
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    crate::push::Filter {
        source: f.source.clone().filter(|s| !s.is_empty()),
        types: list(&f.kind),
        states: list(&f.state),
        events: list(&f.event),
    }
    .matches(e)
}

/// One row of the log (the script builds the same for live events).
fn row(e: &EventRow) -> Markup {
    html! {
        tr.event data-sequence=(e.sequence) {
            td { a href=(format!("/console/events/{}", e.sequence)) { (e.sequence) } }
            td { (time(&e.received_at)) }
            td { (e.source) }
            td { (e.transaction_type.as_deref().or(e.event_name.as_deref()).unwrap_or("")) }
            td { (e.state.as_deref().unwrap_or("")) }
            td {
                @if let Some(id) = &e.transaction_id {
                    a href=(format!("/console/transactions/{}", urlencode(id))) { (id) }
                } @else { (e.entity_id.as_deref().unwrap_or("")) }
            }
            td { (e.outcome) }
        }
    }
}

/// The live stream for the page: the SSE API's, signed in by the session cookie.
pub async fn stream(
    State(state): State<AppState>,
    _: Session,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    use axum::response::IntoResponse;
    event_stream::open(state, headers, raw)
        .await
        .map(IntoResponse::into_response)
        .map_err(IntoResponse::into_response)
}

pub async fn one(
    State(state): State<AppState>,
    session: Session,
    Path(sequence): Path<i64>,
) -> Result<Markup, ConsoleError> {
    let e = state
        .store
        .event(sequence)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    Ok(super::layout::page(
        &format!("Event #{sequence}"),
        Some(&session),
        html! {
            table.event {
                tr { th { "source" } td { (e.source) } }
                tr { th { "received" } td { (time(&e.received_at)) } }
                tr { th { "outcome" } td { (e.outcome) } }
                @if let Some(r) = &e.quarantine_reason { tr { th { "quarantine reason" } td.reason { (r) } } }
                @if let Some(id) = &e.transaction_id {
                    tr { th { "transaction" } td { a href=(format!("/console/transactions/{}", urlencode(id))) { (id) } } }
                }
                @if let Some(s) = &e.state { tr { th { "state" } td { (s) } } }
                @if let Some(n) = &e.event_name { tr { th { "event" } td { (n) } } }
                @if let Some(n) = &e.entity_id { tr { th { "entity" } td { (n) } } }
                tr { th { "dedup key" } td { (e.dedup_key) } }
            }
            h2 { "Raw body" }
            (raw_body(&e.body))
            h2 { "Kept headers" }
            (headers(&e.headers))
        },
    ))
}
