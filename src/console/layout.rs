//! The page shell every console page shares, and small pieces of markup.

use maud::{DOCTYPE, Markup, html};

use super::session::Session;

/// The console's pages, for the navigation.
const NAV: &[(&str, &str)] = &[
    ("/console", "Overview"),
    ("/console/transactions", "Transactions"),
    ("/console/events", "Event log"),
    ("/console/quarantine", "Quarantine"),
    ("/console/rejected", "Rejected"),
    ("/console/destinations", "Destinations"),
];

/// A whole page: `title`, the navigation (with a sign-out form), and `body`.
pub fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · txhook" }
                // Without an icon of its own, the browser asks for /favicon.ico, a 404.
                link rel="icon" type="image/svg+xml" href="/console/assets/favicon.svg";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header {
                    span.brand { "txhook" }
                    @if let Some(s) = session {
                        nav {
                            @for (href, name) in NAV {
                                a href=(href) { (name) }
                            }
                        }
                        form.logout method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(s.csrf());
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A hidden CSRF field for a form of `session`.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf()); }
}

/// A raw body as text, pretty-printed when it is JSON (numbers keep their digits), or as
/// base64 when it is not UTF-8. Always escaped.
pub fn raw_body(body: &[u8]) -> Markup {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => match std::str::from_utf8(body) {
            Ok(s) => s.to_owned(),
            Err(_) => format!(
                "(not UTF-8; base64) {}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body)
            ),
        },
    };
    html! { pre.raw-body { (text) } }
}

/// Kept request headers as a table.
pub fn headers(headers: &serde_json::Value) -> Markup {
    html! {
        table.headers {
            @if let Some(map) = headers.as_object() {
                @for (name, value) in map {
                    tr { th { (name) } td { (value.as_str().unwrap_or_default()) } }
                }
            }
        }
    }
}

/// A time, to the second, UTC.
pub fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
