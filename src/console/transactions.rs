//! Transactions: found by `id`, `shortId`, `externalId` or `walletId`, filtered by state,
//! type and time, paged by cursor; and one transaction's lifecycle as a timeline.

use axum::extract::{Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{headers, page, raw_body, time};
use super::session::Session;
use crate::http::AppState;
use crate::payment::{TxState, why_kept};
use crate::store::{Listed, Search};

/// Rows per page.
const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    q: Option<String>,
    state: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    since: Option<String>,
    after: Option<i64>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 256 && !s.contains('\0'))
        .map(str::to_owned)
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<Filters>,
) -> Result<Markup, ConsoleError> {
    let since = match given(&f.since) {
        None => None,
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(&s)
                .map_err(|_| {
                    ConsoleError::BadRequest(
                        "since must be an RFC 3339 time, e.g. 2026-11-24T10:00:00Z".into(),
                    )
                })?
                .with_timezone(&chrono::Utc),
        ),
    };
    let search = Search {
        text: given(&f.q),
        state: given(&f.state),
        kind: given(&f.kind),
        since,
    };
    let rows = state
        .store
        .search_transactions(&search, f.after.unwrap_or(0), PAGE + 1)
        .await?;
    let more = rows.len() as i64 > PAGE;
    let rows = &rows[..rows.len().min(PAGE as usize)];
    let next = more
        .then(|| rows.last().map(|r| r.first_sequence))
        .flatten();
    let keep = |name: &str, v: &Option<String>| {
        given(v)
            .map(|v| format!("&{name}={}", urlencode(&v)))
            .unwrap_or_default()
    };
    let query = format!(
        "{}{}{}{}",
        keep("q", &f.q),
        keep("state", &f.state),
        keep("type", &f.kind),
        keep("since", &f.since)
    );
    Ok(page(
        "Transactions",
        Some(&session),
        html! {
            form #search method="get" action="/console/transactions" {
                input name="q" placeholder="id, shortId, externalId or walletId" value=(f.q.clone().unwrap_or_default());
                input name="state" placeholder="state" value=(f.state.clone().unwrap_or_default());
                input name="type" placeholder="type" value=(f.kind.clone().unwrap_or_default());
                input name="since" placeholder="updated since (RFC 3339)" value=(f.since.clone().unwrap_or_default());
                button type="submit" { "Search" }
            }
            (table(rows))
            @if let Some(after) = next {
                p { a #next-page href=(format!("/console/transactions?after={after}{query}")) { "Next page →" } }
            }
        },
    ))
}

fn table(rows: &[Listed]) -> Markup {
    html! {
        table #transactions {
            tr { th { "id" } th { "shortId" } th { "type" } th { "state" } th { "amount" } th { "wallet" } th { "updated" } }
            @for t in rows {
                tr.transaction {
                    td { a.transaction-link href=(format!("/console/transactions/{}", urlencode(&t.id))) { (t.id) } }
                    td { (t.short_id.as_deref().unwrap_or("")) }
                    td { (t.kind.as_deref().unwrap_or("")) }
                    td.state { (t.state) }
                    td.amount { (t.amount.as_deref().unwrap_or("")) " " (t.currency.as_deref().unwrap_or("")) }
                    td { (t.wallet_id.as_deref().unwrap_or("")) }
                    td { (time(&t.updated_at)) }
                }
            }
            @if rows.is_empty() { tr { td colspan="7" { "No transaction matches." } } }
        }
    }
}

pub async fn one(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    if id.is_empty() || id.len() > 256 || id.contains('\0') {
        return Err(ConsoleError::NotFound);
    }
    let entries = state.store.timeline(&id).await?;
    if entries.is_empty() {
        return Err(ConsoleError::NotFound);
    }
    let charges = state.store.charges_for(&id).await?;
    // Walk the history in order to say, for each callback that did not apply, which rule
    // kept the state it found.
    let mut current: Option<(TxState, i64)> = None;
    let mut why = Vec::with_capacity(entries.len());
    for e in &entries {
        let incoming = TxState::from(e.state.clone());
        let note = match &current {
            Some((c, cs)) if !e.applied => Some(why_kept(c, *cs, &incoming, e.sequence)),
            _ => None,
        };
        if e.applied {
            current = Some((incoming, e.sequence));
        }
        why.push(note);
    }
    let state_now = current.map(|c| c.0.as_str().to_owned()).unwrap_or_default();
    Ok(page(
        &format!("Transaction {id}"),
        Some(&session),
        html! {
            p #current-state { "Current state: " strong { (state_now) } }
            ol #timeline {
                @for (e, note) in entries.iter().zip(&why) {
                    li.callback data-sequence=(e.sequence) {
                        div.summary {
                            span.sequence { "#" (e.sequence) }
                            " "
                            span.state { (e.state) }
                            " "
                            @if e.applied { span.applied { "applied" } }
                            @else { span.not-applied { "not applied" } }
                            " "
                            span.amount { (e.amount.as_deref().unwrap_or("")) " " (e.currency.as_deref().unwrap_or("")) }
                            " received " (time(&e.received_at))
                        }
                        @if let Some(n) = note { p.why { (n) } }
                        @if let Some(r) = &e.reason { p.reason { "reason: " (r) } }
                        details {
                            summary { "raw body and headers" }
                            (raw_body(&e.body))
                            (headers(&e.headers))
                            a href=(format!("/console/events/{}", e.sequence)) { "event #" (e.sequence) }
                        }
                    }
                }
            }
            h2 { "Related charges" }
            ul #related-charges {
                @for c in &charges {
                    li { a href=(format!("/console/transactions/{}", urlencode(&c.id))) { (c.id) } " " (c.state) " " (c.amount.as_deref().unwrap_or("")) " " (c.currency.as_deref().unwrap_or("")) }
                }
                @if charges.is_empty() { li { "none" } }
            }
        },
    ))
}

/// `s` for a URL's path segment or query value. A space is `%20`, not the form encoding's
/// `+`, which a path keeps as a plus (a transaction id with a space was not found).
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
