//! The contract's transaction state rules, seen through the read API: a callback is a fact,
//! the current state is derived, and retries or reorderings never move a transaction back.

use serde_json::{Value, json};

use crate::helpers::*;

/// A callback for `id` in `state`; `reason` tells callbacks apart (and makes each a new event).
fn callback(id: &str, state: &str, reason: &str) -> String {
    callback_with_amount(id, state, reason, "10.50")
}

fn callback_with_amount(id: &str, state: &str, reason: &str, amount: &str) -> String {
    let mut v: Value = serde_json::from_str(&tx_body(id, "PAYMENT", state, amount)).unwrap();
    v["status"]["reason"] = json!(reason);
    v.to_string()
}

/// Delivers `body` and asserts that it was stored as a new event.
async fn store(app: &TestApp, body: &str) {
    let (status, answer) = app.deliver(body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("stored")),
        "{answer} for {body}"
    );
}

/// `GET /api/v1/transactions/{id}`, asserting 200.
async fn current(app: &TestApp, id: &str) -> Value {
    let r = app.get_admin(&format!("/api/v1/transactions/{id}")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn pending_processing_success_walks_forward() {
    let app = TestApp::spawn().await;
    let id = new_id();
    for state in ["PENDING", "PROCESSING", "SUCCESS"] {
        store(&app, &callback(&id, state, state)).await;
        assert_eq!(current(&app, &id).await["status"]["state"], state);
    }

    let got = current(&app, &id).await;
    assert_eq!(
        history(&got),
        pairs(&[("PENDING", true), ("PROCESSING", true), ("SUCCESS", true)])
    );
    let entries = got["history"].as_array().unwrap();
    let sequences: Vec<i64> = entries
        .iter()
        .map(|h| h["sequence"].as_i64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    assert!(entries.iter().all(|h| h["receivedAt"].is_string()));
    assert!(got["receivedAt"].is_string() && got["updatedAt"].is_string());
}

#[tokio::test]
async fn late_pending_after_success_is_kept_but_not_applied() {
    let app = TestApp::spawn().await;
    let id = new_id();
    store(
        &app,
        &callback_with_amount(&id, "SUCCESS", "settled", "10.50"),
    )
    .await;
    store(
        &app,
        &callback_with_amount(&id, "PENDING", "late retry", "99.99"),
    )
    .await;

    let got = current(&app, &id).await;
    assert_eq!(got["status"]["state"], "SUCCESS");
    // The body shown is the SUCCESS callback's, not the late one's.
    assert_eq!(got["status"]["reason"], "settled");
    assert_eq!(got["amount"]["amount"].to_string(), "10.50");
    assert_eq!(
        got["receivedAt"], got["history"][0]["receivedAt"],
        "receivedAt is the SUCCESS callback's"
    );
    assert_eq!(
        history(&got),
        pairs(&[("SUCCESS", true), ("PENDING", false)])
    );
    let (state, amount): (String, String) =
        sqlx::query_as("select state, amount::text from transactions where id = $1")
            .bind(&id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((state.as_str(), amount.as_str()), ("SUCCESS", "10.50"));
    assert_eq!(
        app.count("select count(*) from events where outcome = 'stored'")
            .await,
        2
    );
}

#[tokio::test]
async fn reversed_after_success_becomes_current() {
    let app = TestApp::spawn().await;
    let id = new_id();
    store(&app, &callback(&id, "SUCCESS", "settled")).await;
    store(&app, &callback(&id, "REVERSED", "chargeback")).await;

    let got = current(&app, &id).await;
    assert_eq!(got["status"]["state"], "REVERSED");
    assert_eq!(got["status"]["reason"], "chargeback");
    assert_eq!(
        history(&got),
        pairs(&[("SUCCESS", true), ("REVERSED", true)])
    );
}

#[tokio::test]
async fn success_after_reversed_does_not_apply() {
    let app = TestApp::spawn().await;
    let id = new_id();
    store(&app, &callback(&id, "REVERSED", "chargeback")).await;
    store(&app, &callback(&id, "SUCCESS", "late success")).await;

    let got = current(&app, &id).await;
    assert_eq!(got["status"]["state"], "REVERSED");
    assert_eq!(got["status"]["reason"], "chargeback");
    assert_eq!(
        history(&got),
        pairs(&[("REVERSED", true), ("SUCCESS", false)])
    );
}

#[tokio::test]
async fn failed_is_terminal_for_pending_and_processing() {
    let app = TestApp::spawn().await;
    let id = new_id();
    store(&app, &callback(&id, "FAILED", "declined")).await;
    store(&app, &callback(&id, "PENDING", "late")).await;
    store(&app, &callback(&id, "PROCESSING", "late")).await;

    let got = current(&app, &id).await;
    assert_eq!(got["status"]["state"], "FAILED");
    assert_eq!(got["status"]["reason"], "declined");
    assert_eq!(
        history(&got),
        pairs(&[("FAILED", true), ("PENDING", false), ("PROCESSING", false)])
    );
}

#[tokio::test]
async fn processing_is_kept_over_earlier_states_and_replaced_by_success() {
    let app = TestApp::spawn().await;
    let id = new_id();
    store(&app, &callback(&id, "PROCESSING", "in flight")).await;
    for state in ["FUNDS_REQUIRED", "PENDING", "AWAITING_APPROVAL"] {
        store(&app, &callback(&id, state, "late")).await;
        let got = current(&app, &id).await;
        assert_eq!(got["status"]["state"], "PROCESSING", "after {state}");
        assert_eq!(got["status"]["reason"], "in flight");
    }
    store(&app, &callback(&id, "SUCCESS", "settled")).await;

    let got = current(&app, &id).await;
    assert_eq!(got["status"]["state"], "SUCCESS");
    assert_eq!(
        history(&got),
        pairs(&[
            ("PROCESSING", true),
            ("FUNDS_REQUIRED", false),
            ("PENDING", false),
            ("AWAITING_APPROVAL", false),
            ("SUCCESS", true),
        ])
    );
}

#[tokio::test]
async fn unknown_state_is_shown_on_a_non_terminal_transaction() {
    let app = TestApp::spawn().await;
    let id = new_id();
    store(&app, &callback(&id, "PENDING", "queued")).await;
    store(&app, &callback(&id, "ON_HOLD", "compliance review")).await;

    let got = current(&app, &id).await;
    assert_eq!(got["status"]["state"], "ON_HOLD");
    assert_eq!(got["status"]["reason"], "compliance review");
    assert_eq!(
        history(&got),
        pairs(&[("PENDING", true), ("ON_HOLD", true)])
    );
    let state = app.transaction_column(&id, "state").await;
    assert_eq!(state.as_deref(), Some("ON_HOLD"));
}

#[tokio::test]
async fn unknown_state_as_first_callback_is_shown() {
    let app = TestApp::spawn().await;
    let id = new_id();
    store(&app, &callback(&id, "ON_HOLD", "compliance review")).await;

    let got = current(&app, &id).await;
    assert_eq!(got["status"]["state"], "ON_HOLD");
    assert_eq!(history(&got), pairs(&[("ON_HOLD", true)]));
}

#[tokio::test]
async fn unknown_state_never_replaces_a_terminal_state() {
    let app = TestApp::spawn().await;
    for terminal in ["SUCCESS", "FAILED", "REVERSED"] {
        let id = new_id();
        store(&app, &callback(&id, terminal, "final")).await;
        store(&app, &callback(&id, "ON_HOLD", "late")).await;

        let got = current(&app, &id).await;
        assert_eq!(got["status"]["state"], terminal);
        assert_eq!(got["status"]["reason"], "final");
        assert_eq!(
            history(&got),
            pairs(&[(terminal, true), ("ON_HOLD", false)]),
            "after {terminal}"
        );
    }
}

#[tokio::test]
async fn unknown_type_and_extra_fields_are_stored_and_shown() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let mut v: Value = serde_json::from_str(&tx_body(&id, "CRYPTO_SWAP", "PENDING", "1")).unwrap();
    v["riskScore"] = json!({ "value": 7, "flags": ["new-device", "vpn"] });
    v["status"]["subState"] = json!("KYC_PENDING");
    v["newTopLevel"] = json!(null);
    let body = v.to_string();
    store(&app, &body).await;

    let got = current(&app, &id).await;
    assert_eq!(got["type"], "CRYPTO_SWAP");
    assert_eq!(
        got["riskScore"],
        json!({ "value": 7, "flags": ["new-device", "vpn"] })
    );
    assert_eq!(got["status"]["subState"], "KYC_PENDING");
    assert!(
        got.as_object().unwrap().contains_key("newTopLevel"),
        "{got}"
    );
    let kind = app.transaction_column(&id, "type").await;
    assert_eq!(kind.as_deref(), Some("CRYPTO_SWAP"));
}

#[tokio::test]
async fn success_delivered_first_stays_current_after_earlier_states_arrive() {
    let app = TestApp::spawn().await;
    let id = new_id();
    for state in ["SUCCESS", "PENDING", "PROCESSING"] {
        store(&app, &callback(&id, state, state)).await;
    }

    let got = current(&app, &id).await;
    assert_eq!(got["status"]["state"], "SUCCESS");
    assert_eq!(got["status"]["reason"], "SUCCESS");
    assert_eq!(
        history(&got),
        pairs(&[("SUCCESS", true), ("PENDING", false), ("PROCESSING", false)])
    );
}

/// 20 distinct callbacks for `id`: non-terminal and unknown states, plus `terminals`.
fn mixed_callbacks(id: &str, terminals: &[&str]) -> Vec<String> {
    let others = [
        "PENDING",
        "PROCESSING",
        "FUNDS_REQUIRED",
        "AWAITING_APPROVAL",
        "ON_HOLD",
    ];
    let mut states: Vec<&str> = terminals.to_vec();
    let mut i = 0;
    while states.len() < 20 {
        states.push(others[i % others.len()]);
        i += 1;
    }
    states
        .iter()
        .enumerate()
        .map(|(n, s)| callback(id, s, &format!("callback {n}")))
        .collect()
}

/// Asserts the outcome of 20 concurrent callbacks of `id` whose final state must be `expected`.
async fn assert_settled(app: &TestApp, id: &str, answers: &[(u16, Value)], expected: &str) {
    assert!(
        answers
            .iter()
            .all(|(s, a)| *s == 200 && a["status"] == "stored"),
        "{answers:?}"
    );
    let got = current(app, id).await;
    assert_eq!(got["status"]["state"], expected);
    let history = history(&got);
    assert_eq!(history.len(), 20, "{history:?}");
    assert!(
        history.iter().any(|(s, a)| s == expected && *a),
        "{history:?}"
    );
    assert_eq!(
        app.count("select count(*) from events where outcome = 'stored'")
            .await,
        20
    );
    // The row's current event carries the state the row claims.
    let (state, event_state): (String, String) = sqlx::query_as(
        "select t.state, e.state from transactions t
           join events e on e.sequence = t.current_sequence where t.id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((state.as_str(), event_state.as_str()), (expected, expected));
}

#[tokio::test]
async fn concurrent_callbacks_settle_on_the_one_success() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let bodies = mixed_callbacks(&id, &["SUCCESS"]);
    let urls = [app.url("/webhooks/transactions")];

    let answers = deliver_concurrently(&app.client, &urls, bodies).await;

    assert_settled(&app, &id, &answers, "SUCCESS").await;
}

#[tokio::test]
async fn concurrent_callbacks_with_success_and_reversed_settle_on_reversed() {
    let app = TestApp::spawn().await;
    let id = new_id();
    let bodies = mixed_callbacks(&id, &["SUCCESS", "REVERSED"]);
    let urls = [app.url("/webhooks/transactions")];

    let answers = deliver_concurrently(&app.client, &urls, bodies).await;

    assert_settled(&app, &id, &answers, "REVERSED").await;
}

#[tokio::test]
async fn concurrent_callbacks_across_two_replicas_settle_on_the_one_success() {
    let first = TestApp::spawn().await;
    let second =
        TestApp::spawn_with(Settings::default().set("DATABASE_URL", first.db_url.clone())).await;
    let id = new_id();
    let bodies = mixed_callbacks(&id, &["SUCCESS"]);
    let urls = [
        first.url("/webhooks/transactions"),
        second.url("/webhooks/transactions"),
    ];

    let answers = deliver_concurrently(&first.client, &urls, bodies).await;

    assert_settled(&first, &id, &answers, "SUCCESS").await;
}
