//! The event log as the spine: callbacks are acknowledged once logged, and the projector
//! derives current state and history from the log. Reads reflect every acknowledged
//! callback; a stalled projection is reported, never served stale; a rebuild equals what was
//! derived as callbacks arrived; replicas project each event once.

use std::time::Duration;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::helpers::*;

/// Lifecycles whose final state the state rules fix whatever the order of arrival.
const LIFECYCLES: &[(&[&str], &str)] = &[
    (&["PENDING", "PROCESSING", "SUCCESS"], "SUCCESS"),
    (
        &["PENDING", "PROCESSING", "SUCCESS", "REVERSED"],
        "REVERSED",
    ),
    (&["FUNDS_REQUIRED", "PENDING", "FAILED"], "FAILED"),
    (&["AWAITING_APPROVAL", "PROCESSING", "FAILED"], "FAILED"),
];

/// `n` transactions' lifecycles as callbacks, each sent one to three times, shuffled.
fn workload(n: usize, seed: u64) -> (Vec<(String, &'static str)>, Vec<String>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut finals = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..n {
        let id = new_id();
        let (states, last) = LIFECYCLES[i % LIFECYCLES.len()];
        for (k, state) in states.iter().enumerate() {
            let body = tx_body(&id, "PAYMENT", state, &format!("{}.{k}0", i + 1));
            for _ in 0..(1 + (i + k) % 3) {
                bodies.push(body.clone());
            }
        }
        finals.push((id, last));
    }
    bodies.shuffle(&mut rng);
    (finals, bodies)
}

/// Delivers `bodies`, `concurrency` at a time, to `urls` in turn; every answer must be 200.
async fn deliver_all(app: &TestApp, urls: &[String], bodies: Vec<String>, concurrency: usize) {
    let mut sent = JoinSet::new();
    for (i, body) in bodies.into_iter().enumerate() {
        if sent.len() >= concurrency {
            assert_eq!(sent.join_next().await.unwrap().unwrap(), 200);
        }
        let (client, url) = (app.client.clone(), urls[i % urls.len()].clone());
        sent.spawn(async move {
            client
                .post(url)
                .headers(hmac_headers(SHARED_KEY, body.as_bytes()))
                .body(body)
                .send()
                .await
                .expect("request sent")
                .status()
                .as_u16()
        });
    }
    while let Some(status) = sent.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
}

/// The derived tables as text, in a stable order.
async fn derived(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let transactions = sqlx::query_scalar(
        "select t::text from (select id, current_sequence, first_sequence, type, state, reason,
                complete, wallet_id, amount, currency, created_at, completed_at,
                first_received_at, updated_at from transactions order by id) t",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let history = sqlx::query_scalar(
        "select s::text from (select * from transaction_states order by sequence) s",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    (transactions, history)
}

#[tokio::test]
async fn every_read_reflects_the_callbacks_acknowledged_before_it() {
    let app = TestApp::spawn().await;
    let mut readers = JoinSet::new();
    for task in 0..8 {
        let (client, base) = (app.client.clone(), app.url(""));
        readers.spawn(async move {
            for round in 0..15 {
                let id = new_id();
                for state in ["PENDING", "PROCESSING", "SUCCESS"] {
                    let body = tx_body(&id, "PAYMENT", state, &format!("{task}.{round}"));
                    let url = format!("{base}/webhooks/transactions");
                    let answer = json_of(signed_post(&client, url, body)).await;
                    let sequence = answer["sequence"].as_i64().expect("stored");
                    // Read right after the acknowledgement: the callback is there.
                    let url = format!("{base}/api/v1/transactions/{id}");
                    let t = json_of(client.get(url).bearer_auth(ADMIN_TOKEN)).await;
                    let seen: Vec<i64> = t["history"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{t}"))
                        .iter()
                        .map(|h| h["sequence"].as_i64().unwrap())
                        .collect();
                    assert!(seen.contains(&sequence), "{sequence} not in {t}");
                    assert_eq!(t["status"]["state"], state, "{t}");
                }
            }
        });
    }
    while let Some(done) = readers.join_next().await {
        done.unwrap();
    }
    let (status, listed) = app
        .get_admin_answer("/api/v1/transactions?state=SUCCESS&limit=500")
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 8 * 15);
}

#[tokio::test]
async fn a_stalled_projection_is_reported_never_served_stale() {
    let app =
        TestApp::spawn_with(Settings::default().set("TXHOOK_PROJECTION_WAIT_SECS", "1")).await;
    let id = new_id();
    assert_eq!(
        app.deliver(&tx_body(&id, "PAYMENT", "PENDING", "1"))
            .await
            .0,
        200
    );
    // Projected (on a loaded machine the first read may outwait its one second: ask again).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app
        .get_admin_answer(&format!("/api/v1/transactions/{id}"))
        .await
        .0
        != 200
    {
        assert!(tokio::time::Instant::now() < deadline, "never projected");
    }

    // Hold the projector's lock, as a stuck projector would.
    let mut held = app.db.begin().await.unwrap();
    sqlx::query("select 1 from consumer_positions where name = 'projector' for update")
        .execute(&mut *held)
        .await
        .unwrap();
    let (status, answer) = app.deliver(&tx_body(&id, "PAYMENT", "SUCCESS", "1")).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
    for path in [
        format!("/api/v1/transactions/{id}"),
        "/api/v1/transactions".to_owned(),
    ] {
        let r = app.get_admin(&path).await;
        assert_eq!(r.status(), 503, "{path}");
        assert!(r.headers().contains_key("retry-after"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "projection_stalled", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("event log"),
            "{body}"
        );
    }
    // The log itself is readable meanwhile, and says how far behind the projection is.
    let (status, projection) = app.get_admin_answer("/api/v1/projection").await;
    assert_eq!(status, 200);
    assert_eq!(projection["lagEvents"], 1, "{projection}");

    held.rollback().await.unwrap();
    let (status, t) = app
        .get_admin_answer(&format!("/api/v1/transactions/{id}"))
        .await;
    assert_eq!(
        (status, t["status"]["state"].as_str()),
        (200, Some("SUCCESS"))
    );
}

#[tokio::test]
async fn shuffled_duplicated_lifecycles_converge_and_a_rebuild_equals_them() {
    let app = TestApp::spawn().await;
    let (finals, bodies) = workload(120, 7);
    deliver_all(&app, &[app.url("/webhooks/transactions")], bodies, 16).await;

    for (id, expected) in &finals {
        let (status, t) = app
            .get_admin_answer(&format!("/api/v1/transactions/{id}"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(t["status"]["state"], *expected, "{t}");
    }
    let incremental = derived(&app).await;
    assert_eq!(incremental.0.len(), finals.len());

    let store = txhook::store::Store::from_pool(app.db.clone());
    let rebuilt = txhook::projection::rebuild(&store).await.unwrap();
    assert_eq!(rebuilt.steps as usize, incremental.1.len());
    assert_eq!(rebuilt.failed, 0);
    let again = derived(&app).await;
    assert_eq!(
        again.0, incremental.0,
        "current states differ after the rebuild"
    );
    assert_eq!(again.1, incremental.1, "histories differ after the rebuild");
}

#[tokio::test]
async fn two_replicas_project_each_event_once_and_one_goes_on_when_the_other_stops() {
    let first = TestApp::spawn().await;
    let second =
        TestApp::spawn_with(Settings::default().set("DATABASE_URL", first.db_url.clone())).await;
    let urls = [
        first.url("/webhooks/transactions"),
        second.url("/webhooks/transactions"),
    ];
    let (finals, bodies) = workload(60, 11);
    deliver_all(&first, &urls, bodies, 16).await;
    first.projected().await;
    let stored = first
        .count("select count(*) from events where source = 'callback'")
        .await;
    assert_eq!(
        first.count("select count(*) from transaction_states").await,
        stored,
        "every stored event is applied exactly once"
    );
    assert_eq!(
        first
            .count("select count(*) from projection_failures")
            .await,
        0
    );

    // The first replica stops; the second projects everything that follows.
    first.stop().await;
    let (more, bodies) = workload(20, 12);
    deliver_all(&second, &urls[1..], bodies, 8).await;
    for (id, expected) in finals.iter().chain(&more) {
        let (status, t) = second
            .get_admin_answer(&format!("/api/v1/transactions/{id}"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(t["status"]["state"], *expected, "{t}");
    }
    second.projected().await;
    assert_eq!(
        second
            .count("select count(*) from transaction_states")
            .await,
        second
            .count("select count(*) from events where source = 'callback'")
            .await
    );
}

#[tokio::test]
async fn projection_metrics_show_position_and_lag() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.deliver(&tx_body(&new_id(), "PAYMENT", "PENDING", "1"))
            .await
            .0,
        200
    );
    app.projected().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = app.metrics_text().await;
        if [
            "txhook_projection_position",
            "txhook_projection_lag_events",
            "txhook_projection_lag_seconds",
            "txhook_projection_batch_size",
        ]
        .iter()
        .all(|m| text.contains(m))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
