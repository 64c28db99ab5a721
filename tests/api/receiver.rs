//! The callback endpoint's answers, and what each leaves in the database.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn signed_callback_is_stored_and_readable() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let (status, answer) = app
        .deliver(&tx_body(&id, "PAYMENT", "PENDING", "10.50"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "stored");
    assert_eq!(app.count("select count(*) from events").await, 1);

    let got: Value = app
        .get_admin_json(&format!("/api/v1/transactions/{id}"))
        .await;
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["status"]["state"], "PENDING");
    assert_eq!(got["history"].as_array().unwrap().len(), 1);
    assert_eq!(got["history"][0]["applied"], true);
}

#[tokio::test]
async fn retry_of_stored_event_is_duplicate_and_stored_once() {
    let app = TestApp::spawn().await;
    let body = tx_body(&new_id(), "DEPOSIT", "SUCCESS", "1");
    assert_eq!(app.deliver(&body).await.1["status"], "stored");
    for _ in 0..3 {
        let (status, answer) = app.deliver(&body).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("duplicate"))
        );
    }
    assert_eq!(app.count("select count(*) from events").await, 1);
    app.projected().await;
    assert_eq!(
        app.count("select count(*) from transaction_states").await,
        1
    );
}

#[tokio::test]
async fn missing_signature_is_401_and_nothing_stored() {
    let app = TestApp::spawn().await;
    let r = app
        .post_raw(
            tx_body(&new_id(), "PAYMENT", "PENDING", "1"),
            HeaderMap::new(),
        )
        .await;
    assert_eq!(r.status(), 401);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"], "not_authentic");
    assert!(err["message"].is_string());
    assert_eq!(app.count("select count(*) from events").await, 0);
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let app = TestApp::spawn_with(Settings::default().set("TXHOOK_MAX_BODY_BYTES", "1024")).await;
    let body = format!(r#"{{"id":"x","pad":"{}"}}"#, "a".repeat(2000));
    let r = app
        .post_raw(body.clone(), hmac_headers(SHARED_KEY, body.as_bytes()))
        .await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "payload_too_large"
    );
    assert_eq!(app.count("select count(*) from events").await, 0);
}

#[tokio::test]
async fn amounts_round_trip_digit_for_digit() {
    let app = TestApp::spawn().await;
    for amount in ["0.10", "12345678901234567890.123456789", "100", "0.000001"] {
        let id = new_id();
        assert_eq!(
            app.deliver(&tx_body(&id, "PAYMENT", "PENDING", amount))
                .await
                .0,
            200
        );
        let text = app
            .get_admin(&format!("/api/v1/transactions/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            text.contains(&format!(r#""amount":{amount},"#)),
            "{amount} not kept in {text}"
        );
        app.projected().await;
        let stored = app.transaction_column(&id, "amount").await;
        assert_eq!(stored.as_deref(), Some(amount));
    }
}

#[tokio::test]
async fn unreadable_signed_body_is_quarantined_raw() {
    let app = TestApp::spawn().await;
    let body = r#"{"status":{"state":"PENDING"}}"#;
    let (status, answer) = app.deliver(body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "quarantined");
    assert_eq!(answer["reason"], "missing id");
    let kept: Vec<u8> = sqlx::query_scalar("select body from events where outcome = 'quarantined'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(kept, body.as_bytes());
    app.projected().await;
    assert_eq!(app.count("select count(*) from transactions").await, 0);
}

#[tokio::test]
async fn unknown_transaction_is_404() {
    let app = TestApp::spawn().await;
    let r = app.get_admin("/api/v1/transactions/nope").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
}

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let app = TestApp::spawn().await;
    assert_eq!(app.status("/healthz").await, 200);
    assert_eq!(app.status("/readyz").await, 200);
}
