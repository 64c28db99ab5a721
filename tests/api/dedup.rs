//! What counts as the same event under `hmac-sha256`: the canonical JSON (or the raw bytes of
//! a body that is not JSON), recognised forever and under concurrency.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::*;

/// A callback body written compactly, keys in one order.
fn compact(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"PAYMENT","status":{{"state":"PENDING","reason":"test","complete":false}},"amount":{{"amount":10.50,"currency":"EUR"}},"walletId":"w-1","createdAt":"2026-11-24T10:00:00Z"}}"#
    )
}

/// The same callback as `compact`, keys reordered at both levels and pretty-printed.
fn reordered_pretty(id: &str) -> String {
    format!(
        "{{\n  \"createdAt\" : \"2026-11-24T10:00:00Z\",\n  \"walletId\": \"w-1\",\n  \
         \"amount\": {{ \"currency\": \"EUR\", \"amount\": 10.50 }},\n  \
         \"status\": {{\"complete\": false,\t\"reason\": \"test\", \"state\": \"PENDING\"}},\n  \
         \"type\": \"PAYMENT\",\n  \"id\": \"{id}\"\n}}\n"
    )
}

/// `compact(id)` with its top-level members in the `n`th of many orders, its `status` members
/// in another, and `n`-dependent whitespace, so that every `n` below 50 gives other bytes.
fn nth_spelling(id: &str, n: usize) -> String {
    let mut status = [
        r#""state":"PENDING""#,
        r#""reason":"test""#,
        r#""complete":false"#,
    ];
    status.rotate_left(n % 3);
    let status = format!("{{{}}}", status.join(","));
    let mut members = [
        format!(r#""id":"{id}""#),
        r#""type":"PAYMENT""#.to_owned(),
        format!(r#""status":{status}"#),
        r#""amount":{"amount":10.50,"currency":"EUR"}"#.to_owned(),
        r#""walletId":"w-1""#.to_owned(),
        r#""createdAt":"2026-11-24T10:00:00Z""#.to_owned(),
    ];
    members.rotate_left(n % 6);
    if (n / 6) % 2 == 1 {
        members.reverse();
    }
    let gap = " ".repeat(n / 12);
    format!("{{{gap}{}}}", members.join(&format!(",{gap}")))
}

/// How many answers are 200 with each `status`: (stored, duplicate, anything else).
fn tally(answers: &[(u16, Value)]) -> (usize, usize, usize) {
    let is = |s: &str| {
        answers
            .iter()
            .filter(|(code, a)| *code == 200 && a["status"] == s)
            .count()
    };
    let (stored, duplicate) = (is("stored"), is("duplicate"));
    (stored, duplicate, answers.len() - stored - duplicate)
}

#[tokio::test]
async fn retry_with_reordered_keys_and_whitespace_is_duplicate() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let (first, retry) = (compact(&id), reordered_pretty(&id));
    assert_ne!(first, retry);
    // Both parse to the same JSON value: only the spelling differs.
    assert_eq!(
        serde_json::from_str::<Value>(&first).unwrap(),
        serde_json::from_str::<Value>(&retry).unwrap()
    );

    assert_eq!(app.deliver(&first).await.1["status"], "stored");
    // `deliver` signs each body itself, so the retry carries its own valid signature.
    let (status, answer) = app.deliver(&retry).await;

    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(app.count("select count(*) from events").await, 1);
    app.projected().await;
    assert_eq!(
        app.count("select count(*) from transaction_states").await,
        1
    );
}

#[tokio::test]
async fn same_transaction_with_a_new_reason_is_a_new_event() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let first = tx_body(&id, "PAYMENT", "PENDING", "10.50");
    let mut v: Value = serde_json::from_str(&first).unwrap();
    v["status"]["reason"] = json!("awaiting funds");
    let second = v.to_string();

    assert_eq!(app.deliver(&first).await.1["status"], "stored");
    let (status, answer) = app.deliver(&second).await;

    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    assert_eq!(app.count("select count(*) from events").await, 2);
    app.projected().await;
    let reasons: Vec<Option<String>> = sqlx::query_scalar(
        "select reason from transaction_states where transaction_id = $1 order by sequence",
    )
    .bind(&id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        reasons,
        [Some("test".to_owned()), Some("awaiting funds".to_owned())]
    );
}

#[tokio::test]
async fn same_transaction_with_a_new_state_is_a_new_event() {
    let app = TestApp::spawn().await;
    let id = new_id();
    assert_eq!(
        app.deliver(&tx_body(&id, "PAYMENT", "PENDING", "1"))
            .await
            .1["status"],
        "stored"
    );
    let (status, answer) = app
        .deliver(&tx_body(&id, "PAYMENT", "PROCESSING", "1"))
        .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    assert_eq!(app.count("select count(*) from events").await, 2);
}

#[tokio::test]
async fn amount_written_with_other_digits_is_a_new_event() {
    // Numbers count exactly as written: 10.5 and 10.50 are different callbacks.
    let app = TestApp::spawn().await;
    let id = new_id();
    assert_eq!(
        app.deliver(&tx_body(&id, "PAYMENT", "PENDING", "10.50"))
            .await
            .1["status"],
        "stored"
    );
    let (status, answer) = app
        .deliver(&tx_body(&id, "PAYMENT", "PENDING", "10.5"))
        .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    assert_eq!(app.count("select count(*) from events").await, 2);
}

#[tokio::test]
async fn non_json_body_twice_is_quarantined_then_duplicate() {
    let app = TestApp::spawn().await;
    let body = "id=42&state=SUCCESS (not json)";

    let (status, first) = app.deliver(body).await;
    assert_eq!(
        (status, first["status"].as_str()),
        (200, Some("quarantined"))
    );
    let (status, second) = app.deliver(body).await;
    assert_eq!(
        (status, second["status"].as_str()),
        (200, Some("duplicate"))
    );

    assert_eq!(app.count("select count(*) from events").await, 1);
    let (outcome, kept): (String, Vec<u8>) = sqlx::query_as("select outcome, body from events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(outcome, "quarantined");
    assert_eq!(kept, body.as_bytes());
}

#[tokio::test]
async fn non_json_bodies_differing_in_whitespace_are_different_events() {
    // Without JSON there is no canonical form: the raw bytes decide.
    let app = TestApp::spawn().await;
    assert_eq!(app.deliver("not json").await.1["status"], "quarantined");
    assert_eq!(app.deliver("not  json").await.1["status"], "quarantined");
    assert_eq!(app.count("select count(*) from events").await, 2);
}

#[tokio::test]
async fn quarantined_json_retried_with_reordered_keys_is_duplicate() {
    // A JSON body that is not a readable transaction still deduplicates by canonical JSON.
    let app = TestApp::spawn().await;
    assert_eq!(
        app.deliver(r#"{"status":{"state":"PENDING"},"note":"no id"}"#)
            .await
            .1["status"],
        "quarantined"
    );
    let (status, answer) = app
        .deliver("{ \"note\": \"no id\", \"status\": { \"state\": \"PENDING\" } }")
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(app.count("select count(*) from events").await, 1);
}

#[tokio::test]
async fn fifty_concurrent_identical_deliveries_store_once() {
    let app = TestApp::spawn().await;
    let body = tx_body(&new_id(), "PAYMENT", "SUCCESS", "10.50");
    let urls = [app.url("/webhooks/transactions")];

    let answers = deliver_concurrently(&app.client, &urls, vec![body; 50]).await;

    assert_eq!(tally(&answers), (1, 49, 0), "{answers:?}");
    assert_eq!(app.count("select count(*) from events").await, 1);
    app.projected().await;
    assert_eq!(
        app.count("select count(*) from transaction_states").await,
        1
    );
    assert_eq!(app.count("select count(*) from transactions").await, 1);
}

#[tokio::test]
async fn fifty_concurrent_deliveries_in_different_key_orders_store_once() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let bodies: Vec<String> = (0..50).map(|n| nth_spelling(&id, n)).collect();
    // Every body is spelled differently, yet all are the same JSON.
    assert_eq!(bodies.iter().collect::<HashSet<_>>().len(), 50);
    let value: Value = serde_json::from_str(&compact(&id)).unwrap();
    assert!(
        bodies
            .iter()
            .all(|b| serde_json::from_str::<Value>(b).unwrap() == value)
    );
    let urls = [app.url("/webhooks/transactions")];

    let answers = deliver_concurrently(&app.client, &urls, bodies).await;

    assert_eq!(tally(&answers), (1, 49, 0), "{answers:?}");
    assert_eq!(app.count("select count(*) from events").await, 1);
    app.projected().await;
    assert_eq!(
        app.count("select count(*) from transaction_states").await,
        1
    );
}

#[tokio::test]
async fn concurrent_identical_deliveries_to_two_replicas_store_once() {
    let first = TestApp::spawn().await;
    let second =
        TestApp::spawn_with(Settings::default().set("DATABASE_URL", first.db_url.clone())).await;
    let body = tx_body(&new_id(), "DEPOSIT", "SUCCESS", "3");
    let urls = [
        first.url("/webhooks/transactions"),
        second.url("/webhooks/transactions"),
    ];

    let answers = deliver_concurrently(&first.client, &urls, vec![body; 40]).await;

    assert_eq!(tally(&answers), (1, 39, 0), "{answers:?}");
    assert_eq!(first.count("select count(*) from events").await, 1);
    first.projected().await;
    assert_eq!(
        first.count("select count(*) from transaction_states").await,
        1
    );
}

#[tokio::test]
async fn duplicate_is_recognised_after_thirty_days() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let body = tx_body(&id, "PAYMENT", "SUCCESS", "10.50");
    assert_eq!(app.deliver(&body).await.1["status"], "stored");
    // Age the event as if the provider's retry came a month later (txhook itself never
    // updates events; the test does, to move the clock).
    let aged = sqlx::query("update events set received_at = now() - interval '30 days'")
        .execute(&app.db)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(aged, 1);

    let (status, answer) = app.deliver(&body).await;

    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(app.count("select count(*) from events").await, 1);
    assert_eq!(
        app.count("select count(*) from events where received_at < now() - interval '29 days'")
            .await,
        1
    );
}
