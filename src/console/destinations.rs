//! Destinations: status, failures, dead letters; pause, resume and replay.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{csrf, page as shell, time};
use super::session::Session;
use crate::http::AppState;
use crate::store::TailError;

#[derive(Deserialize)]
pub struct ReplayForm {
    csrf: String,
    from: i64,
}

#[derive(Deserialize)]
pub struct PauseForm {
    csrf: String,
    paused: bool,
}

pub async fn page(State(state): State<AppState>, session: Session) -> Result<Markup, ConsoleError> {
    let mut rows = Vec::new();
    for d in state.store.destinations().await? {
        let status = state.store.delivery_status(d.id).await?;
        let dead = state.store.dead_letters(d.id, 20).await?;
        rows.push((d, status, dead));
    }
    Ok(shell(
        "Destinations",
        Some(&session),
        html! {
            p { "Endpoints txhook pushes events to (managed through /api/v1/destinations)." }
            @for (d, s, dead) in &rows {
                section.destination data-id=(d.id) {
                    h2 { (crate::redact::url_text(&d.url)) @if d.paused { " (paused)" } }
                    table {
                        tr { th { "filter" } td { code { (d.filter.to_string()) } } }
                        tr { th { "position" } td { (d.sequence) } }
                        tr { th { "backlog" } td.backlog { (s.backlog) } }
                        tr { th { "last delivered" } td { @if let Some(n) = s.last_delivered_sequence { "#" (n) } @if let Some(t) = s.last_delivered_at { " at " (time(&t)) } } }
                        tr { th { "failing since" } td { @if let Some(t) = s.failing_since { (time(&t)) } } }
                        tr { th { "last error" } td { (s.last_error.as_deref().unwrap_or("")) } }
                        tr { th { "dead letters" } td.dead { (s.dead_lettered) } }
                    }
                    @if !dead.is_empty() {
                        ul.dead-letters { @for x in dead { li { "#" (x.sequence) " after " (x.attempts) " attempts: " (x.last_error.as_deref().unwrap_or("")) } } }
                    }
                    form.replay method="post" action=(format!("/console/destinations/{}/replay", d.id)) {
                        (csrf(&session))
                        label { "Replay from sequence " input type="number" name="from" min="1" required; }
                        button type="submit" { "Replay" }
                    }
                    form.pause method="post" action=(format!("/console/destinations/{}/pause", d.id)) {
                        (csrf(&session))
                        input type="hidden" name="paused" value=(!d.paused);
                        button type="submit" { @if d.paused { "Resume" } @else { "Pause" } }
                    }
                }
            }
            @if rows.is_empty() { p { "No destination yet." } }
        },
    ))
}

pub async fn replay(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Form(form): Form<ReplayForm>,
) -> Result<Response, ConsoleError> {
    session.check_form(&headers, &form.csrf)?;
    let from = state
        .store
        .position_before(form.from)
        .await?
        .ok_or_else(|| {
            ConsoleError::BadRequest(TailError::UnknownPosition(form.from).to_string())
        })?;
    if !state.store.replay_destination(id, from).await? {
        return Err(ConsoleError::NotFound);
    }
    Ok(Redirect::to("/console/destinations").into_response())
}

pub async fn pause(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Form(form): Form<PauseForm>,
) -> Result<Response, ConsoleError> {
    session.check_form(&headers, &form.csrf)?;
    state
        .store
        .update_destination(id, None, None, Some(form.paused))
        .await?
        .ok_or(ConsoleError::NotFound)?;
    Ok(Redirect::to("/console/destinations").into_response())
}
