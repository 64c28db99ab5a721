//! Quarantined callbacks (with reprocess) and recently refused ones.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{csrf, headers, time};
use super::session::Session;
use crate::http::AppState;

/// Rows shown.
const RECENT: i64 = 200;

#[derive(Deserialize)]
pub struct Action {
    csrf: String,
}

#[derive(Deserialize, Default)]
pub struct Notice {
    done: Option<String>,
}

pub async fn page_(
    state: &AppState,
    session: &Session,
    notice: Option<String>,
) -> Result<Markup, ConsoleError> {
    let rows = state.store.quarantined(RECENT).await?;
    Ok(super::layout::page(
        "Quarantine",
        Some(session),
        html! {
            p { "Validly signed callbacks that did not read as transactions, kept raw. Reprocess reads them again with the current reader and applies those that now read." }
            @if let Some(n) = notice { p #flash { (n) } }
            form #reprocess method="post" action="/console/quarantine/reprocess" {
                (csrf(session))
                button type="submit" { "Reprocess quarantined callbacks" }
            }
            table #quarantine {
                tr { th { "#" } th { "received" } th { "reason" } th { "now" } th { "raw body" } }
                @for (e, applied) in &rows {
                    tr.quarantined data-sequence=(e.sequence) {
                        td { a href=(format!("/console/events/{}", e.sequence)) { (e.sequence) } }
                        td { (time(&e.received_at)) }
                        td.reason { (e.quarantine_reason.as_deref().unwrap_or("")) }
                        td.now { @if *applied { "applied" } @else { "still quarantined" } }
                        td { (super::layout::raw_body(&e.body)) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="5" { "Nothing in quarantine." } } }
            }
        },
    ))
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Query(n): axum::extract::Query<Notice>,
) -> Result<Markup, ConsoleError> {
    let notice = n.done.filter(|d| d.len() <= 200);
    page_(&state, &session, notice).await
}

pub async fn reprocess(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Form(action): Form<Action>,
) -> Result<Response, ConsoleError> {
    session.check_form(&headers, &action.csrf)?;
    let done = crate::projection::reprocess(&state.store, None).await?;
    let notice = format!(
        "Reprocessed {} quarantined callbacks: {} now applied.",
        done.examined, done.fixed
    );
    Ok(Redirect::to(&format!(
        "/console/quarantine?done={}",
        super::transactions::urlencode(&notice)
    ))
    .into_response())
}

pub async fn rejected(
    State(state): State<AppState>,
    session: Session,
) -> Result<Markup, ConsoleError> {
    let rows = state.store.rejected(RECENT).await?;
    Ok(super::layout::page(
        "Rejected callbacks",
        Some(&session),
        html! {
            p { "Recent requests to the callback URL refused as not authentic (at most a few a second are kept, the newest 1,000 of seven days). Credentials and the static header are never kept." }
            table #rejected {
                tr { th { "received" } th { "reason" } th { "from" } th { "size" } th { "sha-256" } th { "first bytes" } th { "headers" } }
                @for r in &rows {
                    tr.rejected {
                        td { (time(&r.received_at)) }
                        td.reason { (r.reason) }
                        td.source { (r.source.as_deref().unwrap_or("")) }
                        td.body-size { (r.body_size) }
                        td.sha { code { (r.body_sha256) } }
                        td { pre.body-head { (String::from_utf8_lossy(&r.body_head)) } }
                        td { (headers(&r.headers)) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="7" { "None." } } }
            }
        },
    ))
}
