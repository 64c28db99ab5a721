//! The console in a real browser: headless Chromium driven over WebDriver against the real
//! app on loopback and a fresh database. Every test also checks that the browser logged no
//! error or warning (script errors, CSP violations, failed loads) and that every page loaded
//! nothing from anywhere but the server. The screenshots in the README are made here
//! (`TXHOOK_SCREENSHOTS=docs cargo test --test console`).
//!
//! Needs `chromium` and `chromedriver` (see `console/browser.rs`); `TXHOOK_SKIP_BROWSER=1`
//! skips these tests.

#[path = "console/browser.rs"]
mod browser;
mod common;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "console/hostile.rs"]
mod hostile;

use serde_json::json;

use browser::Browser;
use helpers::*;

/// The app and a browser signed in to its console; `None` when browser tests are skipped.
async fn signed_in() -> Option<(TestApp, Browser)> {
    if !browser::wanted() {
        return None;
    }
    let app = TestApp::spawn().await;
    let browser = Browser::launch(format!("http://{}", app.addr)).await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.find("section#overview").await;
    Some((app, browser))
}

/// Delivers a signed callback that is stored; returns its sequence.
async fn stored(app: &TestApp, body: &str) -> i64 {
    let (status, answer) = app.deliver(body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "stored", "{answer}");
    answer["sequence"].as_i64().unwrap()
}

/// An unsigned request to the callback URL, refused.
async fn refused(app: &TestApp, body: &str, header: &str) {
    let r = app
        .client
        .post(app.url("/webhooks/transactions"))
        .header("content-type", "application/json")
        .header("x-note", header)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn signing_in_with_the_admin_token_opens_the_overview() {
    if !browser::wanted() {
        return;
    }
    let app = TestApp::spawn().await;
    let browser = Browser::launch(format!("http://{}", app.addr)).await;
    // Without a session every page sends the browser to the sign-in form.
    browser.visit("/console/quarantine").await;
    browser.find("form#login").await;
    assert!(browser.url().await.ends_with("/console/login"));

    browser.sign_in("not-the-admin-token").await;
    browser
        .wait_text("#login-error", |t| t.contains("not the admin token"))
        .await;
    // A refused sign-in answers 401, which Chromium logs; that one is expected.
    let errors: Vec<_> = browser
        .log()
        .await
        .into_iter()
        .filter(|e| e["level"] != "DEBUG" && e["level"] != "INFO")
        .collect();
    assert!(
        errors.len() == 1 && errors[0]["message"].as_str().unwrap().contains("401"),
        "{errors:#?}"
    );

    for body in [
        tx_body(&new_id(), "PAYMENT", "SUCCESS", "10.50"),
        tx_body(&new_id(), "DEPOSIT", "PENDING", "250"),
        tx_body(&new_id(), "PAYMENT", "FAILED", "3.99"),
    ] {
        stored(&app, &body).await;
    }
    app.deliver("not a transaction").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.find("section#overview").await;
    assert!(browser.url().await.ends_with("/console"));
    browser.find("svg#callbacks-chart").await;
    assert_eq!(
        browser.all("svg#callbacks-chart rect.stored").await.len(),
        1
    );
    browser
        .wait_text("section#overview", |t| {
            t.contains("3 stored · 1 quarantined")
        })
        .await;
    for id in ["#projection-lag", "#registration", "#stream-status"] {
        assert!(
            !browser.find(id).await.text().await.unwrap().is_empty(),
            "{id}"
        );
    }
    browser.find("table#rejected-by-reason").await;
    browser.find("table#destinations-health").await;
    browser.screenshot("overview").await;

    // Signing out: the button is readable (not white on the white header) and ends the
    // session.
    let color = browser
        .js("return getComputedStyle(document.querySelector('form.logout button')).color")
        .await;
    assert_ne!(
        color,
        json!("rgb(255, 255, 255)"),
        "sign out is white on white"
    );
    let sign_out = browser.find("form.logout button").await;
    assert_eq!(sign_out.text().await.unwrap(), "Sign out");
    sign_out.click().await.unwrap();
    browser.find("form#login").await;
    browser.visit("/console").await;
    browser.find("form#login").await;
    browser.finish().await;
}

#[tokio::test]
async fn searching_by_id_finds_the_transaction_with_its_states_in_order_and_exact_amounts() {
    let Some((app, browser)) = signed_in().await else {
        return;
    };
    let id = new_id();
    let other = new_id();
    stored(&app, &tx_body(&id, "PAYMENT", "PENDING", "10.50")).await;
    stored(&app, &tx_body(&other, "DEPOSIT", "SUCCESS", "99.90")).await;
    stored(&app, &tx_body(&id, "PAYMENT", "SUCCESS", "10.50")).await;
    app.projected().await;

    browser.visit("/console/transactions").await;
    assert_eq!(browser.all("tr.transaction").await.len(), 2);
    browser.screenshot("transactions").await;
    let q = browser.find("form#search input[name=q]").await;
    q.send_keys(&id).await.unwrap();
    browser.click("form#search button[type=submit]").await;
    browser
        .wait_text("table#transactions", |t| {
            t.contains(&id) && !t.contains(&other)
        })
        .await;
    assert_eq!(browser.all("tr.transaction").await.len(), 1);
    assert_eq!(browser.texts("tr.transaction td.state").await, ["SUCCESS"]);
    assert_eq!(
        browser.texts("tr.transaction td.amount").await,
        ["10.50 EUR"]
    );

    browser.click("a.transaction-link").await;
    browser.find("ol#timeline").await;
    assert!(
        browser
            .url()
            .await
            .ends_with(&format!("/console/transactions/{id}"))
    );
    assert_eq!(
        browser.texts("li.callback span.state").await,
        ["PENDING", "SUCCESS"]
    );
    assert_eq!(browser.all("li.callback span.applied").await.len(), 2);
    assert_eq!(
        browser.texts("li.callback span.amount").await,
        ["10.50 EUR", "10.50 EUR"]
    );
    let sequences = browser
        .js("return [...document.querySelectorAll('li.callback')].map(e => +e.dataset.sequence)")
        .await;
    let sequences: Vec<i64> = serde_json::from_value(sequences).unwrap();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    browser
        .wait_text("#current-state", |t| t.contains("SUCCESS"))
        .await;
    // The raw body, opened, keeps the amount's digits as received.
    browser.click("li.callback details summary").await;
    browser
        .wait_text("li.callback pre.raw-body", |t| {
            t.contains("\"amount\": 10.50")
        })
        .await;
    browser.finish().await;
}

#[tokio::test]
async fn a_late_pending_after_success_is_shown_as_not_applied_with_the_reason() {
    let Some((app, browser)) = signed_in().await else {
        return;
    };
    let id = new_id();
    stored(&app, &tx_body(&id, "PAYMENT", "PENDING", "10.50")).await;
    stored(&app, &tx_body(&id, "PAYMENT", "SUCCESS", "10.50")).await;
    // The provider sends PENDING again, a little differently (else it is a duplicate).
    let late = tx_body(&id, "PAYMENT", "PENDING", "10.50").replace("\"test\"", "\"retried\"");
    assert!(late.contains("retried"));
    stored(&app, &late).await;
    app.projected().await;

    browser.visit(&format!("/console/transactions/{id}")).await;
    browser.find("ol#timeline").await;
    assert_eq!(
        browser.texts("li.callback span.state").await,
        ["PENDING", "SUCCESS", "PENDING"]
    );
    let applied = browser
        .js("return [...document.querySelectorAll('li.callback')]
                .map(e => e.querySelector('.applied') ? 'applied'
                        : e.querySelector('.not-applied') ? 'not applied' : '?')")
        .await;
    assert_eq!(applied, json!(["applied", "applied", "not applied"]));
    assert_eq!(
        browser.texts("li.callback p.why").await,
        ["PENDING after SUCCESS: terminal state kept"]
    );
    assert_eq!(
        browser.texts("li.callback:last-child p.why").await.len(),
        1,
        "the reason is on the late callback"
    );
    browser
        .wait_text("#current-state", |t| t == "Current state: SUCCESS")
        .await;
    browser.screenshot("transaction").await;
    browser.finish().await;
}

#[tokio::test]
async fn a_new_callback_appears_on_the_live_event_log_without_reloading() {
    let Some((app, browser)) = signed_in().await else {
        return;
    };
    stored(&app, &tx_body(&new_id(), "PAYMENT", "PENDING", "5")).await;
    stream_event(&app, "transaction.created").await;

    browser.visit("/console/events").await;
    // Events a writer still open could precede come through the stream rather than the page.
    browser.wait_count("table#event-log tr.event", 2).await;
    browser.wait_text("p#live-status", |t| t == "live").await;
    browser.js("window.__samePage = 42; return null").await;

    let id = new_id();
    let sequence = stored(&app, &tx_body(&id, "PAYMENT", "SUCCESS", "12.30")).await;
    let first = browser
        .wait_text("table#event-log tbody tr.event:first-child", |t| {
            t.contains(&id)
        })
        .await;
    assert!(
        first.contains("SUCCESS") && first.contains("callback"),
        "{first}"
    );
    let streamed = stream_event(&app, "wallet.updated").await;
    browser
        .wait_text("table#event-log tbody tr.event:first-child", |t| {
            t.contains("wallet.updated") && t.contains("orangepill")
        })
        .await;
    let rows = browser
        .js("return [...document.querySelectorAll('#event-log tr.event')].map(e => +e.dataset.sequence)")
        .await;
    let rows: Vec<i64> = serde_json::from_value(rows).unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(&rows[..2], [streamed, sequence]);
    assert_eq!(
        browser.js("return window.__samePage").await,
        json!(42),
        "the page was not reloaded"
    );
    browser.screenshot("events").await;
    browser.finish().await;
}

#[tokio::test]
async fn reprocessing_from_the_console_applies_a_quarantined_callback() {
    let Some((app, browser)) = signed_in().await else {
        return;
    };
    let id = new_id();
    let readable = logged_as_quarantined(
        &app,
        "json:old",
        &tx_body(&id, "PAYMENT", "SUCCESS", "7.25"),
    )
    .await;
    let (_, answer) = app.deliver("still not json").await;
    assert_eq!(answer["status"], "quarantined");
    let unreadable = answer["sequence"].as_i64().unwrap();

    browser.visit("/console/quarantine").await;
    let now = |s: i64| format!("tr.quarantined[data-sequence='{s}'] td.now");
    assert_eq!(browser.texts(&now(readable)).await, ["still quarantined"]);
    browser.click("form#reprocess button").await;
    browser
        .wait_text("p#flash", |t| {
            t == "Reprocessed 2 quarantined callbacks: 1 now applied."
        })
        .await;
    assert_eq!(browser.texts(&now(readable)).await, ["applied"]);
    assert_eq!(browser.texts(&now(unreadable)).await, ["still quarantined"]);
    assert_eq!(
        browser
            .texts(&format!(
                "tr.quarantined[data-sequence='{unreadable}'] td.reason"
            ))
            .await
            .len(),
        1
    );
    browser.screenshot("quarantine").await;

    browser.visit(&format!("/console/transactions/{id}")).await;
    assert_eq!(browser.texts("li.callback span.state").await, ["SUCCESS"]);
    assert_eq!(browser.all("li.callback span.applied").await.len(), 1);
    assert_eq!(browser.texts("li.callback span.amount").await, ["7.25 EUR"]);
    browser.finish().await;
}

#[tokio::test]
async fn a_rejected_request_is_listed_with_its_reason() {
    let Some((app, browser)) = signed_in().await else {
        return;
    };
    let body = r#"{"id":"forged","status":{"state":"SUCCESS"}}"#;
    refused(&app, body, "hello").await;

    // The refusal is recorded off the request path: look until it is there.
    let deadline = tokio::time::Instant::now() + browser::WAIT;
    loop {
        browser.visit("/console/rejected").await;
        if !browser.all("table#rejected tr.rejected").await.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refusal was never listed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        browser.texts("tr.rejected td.reason").await,
        ["missing_signature"]
    );
    assert_eq!(browser.texts("tr.rejected td.source").await, ["127.0.0.1"]);
    assert_eq!(
        browser.texts("tr.rejected td.body-size").await,
        [body.len().to_string()]
    );
    browser.screenshot("rejected").await;
    browser.visit("/console").await;
    browser
        .wait_text("table#rejected-by-reason", |t| {
            t.contains("missing_signature 1")
        })
        .await;
    browser.finish().await;
}

#[tokio::test]
async fn a_destination_is_listed_and_can_be_paused_from_the_console() {
    let Some((app, browser)) = signed_in().await else {
        return;
    };
    // Nothing listens there; what matters here is the page and its forms.
    let url = format!("http://127.0.0.1:{}/hooks", common::process::free_port());
    let r = app
        .client
        .post(app.url("/api/v1/destinations"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    stored(&app, &tx_body(&new_id(), "PAYMENT", "SUCCESS", "1")).await;

    browser.visit("/console/destinations").await;
    browser
        .wait_text("section.destination h2", |t| t == url)
        .await;
    browser.find("section.destination form.replay").await;
    browser.click("section.destination form.pause button").await;
    browser
        .wait_text("section.destination h2", |t| t == format!("{url} (paused)"))
        .await;
    assert_eq!(
        browser.texts("section.destination form.pause button").await,
        ["Resume"]
    );
    browser.screenshot("destinations").await;
    browser.finish().await;
}
