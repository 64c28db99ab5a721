//! The overview: callbacks by outcome over the last hour and day, refusals by reason, and
//! the state of registration, the stream, the projection and the destinations.

use axum::extract::State;
use chrono::{Duration as Span, Utc};
use maud::{Markup, html};

use super::error::ConsoleError;
use super::layout::time;
use super::session::Session;
use crate::http::AppState;
use crate::store::Bucket;

pub async fn page_(state: &AppState, session: &Session) -> Result<Markup, ConsoleError> {
    let store = &state.store;
    let now = Utc::now();
    let hour = store
        .callback_buckets(now - Span::minutes(60), "1 minute")
        .await?;
    let day = store
        .callback_buckets(now - Span::hours(24), "1 hour")
        .await?;
    let rejected = store.rejected_by_reason().await?;
    let position = store.projection_position().await?;
    let (lag, oldest) = store.projection_lag(1_000_000).await?;
    let failures = store.projection_failure_count().await?;
    let destinations = store.destinations().await?;
    let mut health = Vec::new();
    for d in destinations {
        let status = store.delivery_status(d.id).await?;
        health.push((d, status));
    }
    let registration = state.registration.get();
    let stream = state.stream.as_ref().map(|s| s.snapshot());
    let totals = |b: &[Bucket]| {
        b.iter()
            .fold((0, 0), |(s, q), x| (s + x.stored, q + x.quarantined))
    };
    let (hour_stored, hour_quarantined) = totals(&hour);
    let (day_stored, day_quarantined) = totals(&day);
    Ok(super::layout::page(
        "Overview",
        Some(session),
        html! {
            section #overview {
                h2 { "Callbacks, last hour" }
                p.totals { (hour_stored) " stored · " (hour_quarantined) " quarantined" }
                (chart("callbacks-chart", &hour, 60, now - Span::minutes(60), Span::minutes(1)))
                h2 { "Callbacks, last 24 hours" }
                p.totals { (day_stored) " stored · " (day_quarantined) " quarantined" }
                (chart("callbacks-chart-day", &day, 24, now - Span::hours(24), Span::hours(1)))
                p.legend { span.stored { "■ stored" } " " span.quarantined { "■ quarantined" } }

                h2 { "Rejected (not authentic), recent" }
                table #rejected-by-reason {
                    tr { th { "reason" } th { "kept" } }
                    @for (reason, n) in &rejected { tr { td { (reason) } td { (n) } } }
                    @if rejected.is_empty() { tr { td colspan="2" { "none" } } }
                }

                h2 { "Projection" }
                p #projection-lag {
                    "Position " (position.sequence) "; " (lag) " events behind"
                    @if let Some(t) = oldest { " (oldest received " (time(&t)) ")" }
                    "; " (failures) " events not applicable"
                }

                h2 { "Registration" }
                p #registration {
                    @if state.provider.is_none() { "Not configured (TXHOOK_PROVIDER_URL is not set)." }
                    @else { (format!("{:?}", registration.state)) }
                }

                h2 { "Orangepill stream" }
                p #stream-status {
                    @match &stream {
                        None => "Off (TXHOOK_REALM_KEY is not set).",
                        Some(s) => (serde_json::to_string(s).unwrap_or_default()),
                    }
                }

                h2 { "Destinations" }
                table #destinations-health {
                    tr { th { "url" } th { "backlog" } th { "failing since" } th { "dead letters" } th { "last error" } }
                    @for (d, s) in &health {
                        tr {
                            td { (crate::redact::url_text(&d.url)) @if d.paused { " (paused)" } }
                            td { (s.backlog) }
                            td { @if let Some(t) = s.failing_since { (time(&t)) } }
                            td { (s.dead_lettered) }
                            td { (s.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                    @if health.is_empty() { tr { td colspan="5" { "none" } } }
                }
            }
        },
    ))
}

pub async fn page(State(state): State<AppState>, session: Session) -> Result<Markup, ConsoleError> {
    page_(&state, &session).await
}

/// Stacked bars of stored and quarantined callbacks, one per bucket, drawn by the server.
fn chart(
    id: &str,
    buckets: &[Bucket],
    slots: i64,
    start: chrono::DateTime<Utc>,
    width: Span,
) -> Markup {
    const W: i64 = 600;
    const H: i64 = 120;
    let bar = W / slots;
    let max = buckets
        .iter()
        .map(|b| b.stored + b.quarantined)
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |n: i64| n * (H - 10) / max;
    html! {
        svg id=(id) class="chart" viewBox=(format!("0 0 {W} {H}")) role="img"
            aria-label="callbacks by outcome" {
            @for b in buckets {
                @let slot = ((b.at - start).num_seconds() / width.num_seconds().max(1)).clamp(0, slots - 1);
                @let x = slot * bar;
                @let hs = scale(b.stored);
                @let hq = scale(b.quarantined);
                rect.stored x=(x) y=(H - hs) width=(bar - 1) height=(hs) {
                    title { (time(&b.at)) ": " (b.stored) " stored" }
                }
                rect.quarantined x=(x) y=(H - hs - hq) width=(bar - 1) height=(hq) {
                    title { (time(&b.at)) ": " (b.quarantined) " quarantined" }
                }
            }
            line.axis x1="0" y1=(H) x2=(W) y2=(H) {}
        }
    }
}
