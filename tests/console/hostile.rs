//! Everything the console shows came from senders the operator does not control: scripts
//! and markup in bodies, headers, Orangepill event names and refused requests are shown as
//! text on every page, live rows included, and nothing runs.

use super::*;

const SCRIPT: &str = "<script>window.__xss=1</script>";
const IMG: &str = r#""><img src=x onerror="window.__xss=1">"#;

fn encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn nothing_a_sender_wrote_runs_on_any_page() {
    let Some((app, browser)) = signed_in().await else {
        return;
    };
    // The live log is open while the hostile events arrive: its script builds their rows.
    browser.visit("/console/events").await;
    browser.wait_text("p#live-status", |t| t == "live").await;

    let id = format!("{IMG}{SCRIPT}{}", new_id());
    let body = json!({
        "id": id, "shortId": IMG, "externalId": SCRIPT, "walletId": IMG, "type": IMG,
        "status": { "state": "PENDING", "reason": SCRIPT },
        "amount": { "amount": 1.00, "currency": "EUR" },
        "note": IMG,
    })
    .to_string();
    let mut headers = hmac_headers(SHARED_KEY, body.as_bytes());
    headers.insert("x-note", IMG.parse().unwrap());
    headers.insert("user-agent", SCRIPT.parse().unwrap());
    let answer: serde_json::Value = app.post_raw(body, headers).await.json().await.unwrap();
    assert_eq!(answer["status"], "stored", "{answer}");
    let (_, quarantined) = app.deliver(&format!("{SCRIPT}{IMG}")).await;
    assert_eq!(quarantined["status"], "quarantined");
    let mut sequences = vec![
        answer["sequence"].as_i64().unwrap(),
        quarantined["sequence"].as_i64().unwrap(),
    ];
    sequences.push(stream_event(&app, SCRIPT).await);
    sequences.push(stream_event(&app, IMG).await);
    refused(&app, &format!("{SCRIPT}{IMG}"), IMG).await;

    browser.wait_count("table#event-log tr.event", 4).await;
    assert_inert(&browser, "/console/events (live rows)", true).await;
    app.projected().await;

    // To the transaction the way an operator goes: search, then its link.
    browser
        .visit(&format!("/console/transactions?q={}", encoded(SCRIPT)))
        .await;
    assert_inert(&browser, "/console/transactions?q=", true).await;
    browser.click("a.transaction-link").await;
    browser.find("ol#timeline").await;
    browser.click("li.callback details summary").await;
    assert_inert(&browser, "/console/transactions/{id}", true).await;

    let mut pages: Vec<(String, bool)> = vec![
        ("/console".into(), false),
        ("/console/transactions".into(), true),
        ("/console/events".into(), true),
        ("/console/quarantine".into(), true),
        (
            format!("/console/quarantine?done={}", encoded(SCRIPT)),
            true,
        ),
        ("/console/destinations".into(), false),
    ];
    pages.extend(
        sequences
            .iter()
            .map(|s| (format!("/console/events/{s}"), true)),
    );
    for (page, shown) in &pages {
        browser.visit(page).await;
        assert_inert(&browser, page, *shown).await;
    }
    // The refusal is recorded off the request path: look until it is listed.
    let deadline = tokio::time::Instant::now() + browser::WAIT;
    loop {
        browser.visit("/console/rejected").await;
        if !browser.all("tr.rejected").await.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never listed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_inert(&browser, "/console/rejected", true).await;
    // And no CSP violation in the log: nothing even tried to run.
    browser.finish().await;
}

/// Nothing ran on the page, no markup of a sender's became elements, and (when `shown`) the
/// payload is there as text.
async fn assert_inert(browser: &Browser, page: &str, shown: bool) {
    let got = browser
        .js("return {
            xss: typeof window.__xss,
            inline: document.querySelectorAll('script:not([src])').length,
            images: document.images.length,
            handlers: document.querySelectorAll('[onerror], [onload]').length,
            shown: document.body.textContent.includes('<script>window.__xss=1</script>')
                || document.body.textContent.includes('<img src=x onerror='),
        }")
        .await;
    assert_eq!(got["xss"], "undefined", "a script ran on {page}");
    assert_eq!(
        (&got["inline"], &got["images"], &got["handlers"]),
        (&json!(0), &json!(0), &json!(0)),
        "markup from a sender became elements on {page}"
    );
    if shown {
        assert_eq!(
            got["shown"], true,
            "{page} shows what the sender wrote, as text"
        );
    }
}
