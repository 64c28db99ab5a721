//! Destinations: signed HTTP deliveries to consumers (real HTTP servers on loopback that
//! verify every signature with the `standardwebhooks` crate), retries, order, dead letters,
//! replay, restarts and replicas.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::helpers::*;

/// What a consumer answers a delivery: given its `webhook-id`, the body, and how many times
/// it has seen that id before.
type Policy = Arc<dyn Fn(&str, &Value, usize) -> u16 + Send + Sync>;

#[derive(Debug, Clone)]
struct Received {
    id: String,
    body: Value,
    verified: bool,
    answered: u16,
}

#[derive(Clone)]
struct Consumer {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    secret: Option<String>,
    policy: Policy,
    received: Vec<Received>,
}

impl Consumer {
    async fn start(policy: Policy) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            secret: None,
            policy,
            received: Vec::new(),
        }));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn trust(&self, secret: &str) {
        self.inner.lock().unwrap().secret = Some(secret.to_owned());
    }

    fn answer_with(&self, policy: Policy) {
        self.inner.lock().unwrap().policy = policy;
    }

    fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The deliveries answered 2xx, in the order they came.
    fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    /// Waits until `check` holds for what was received.
    async fn until(&self, what: &str, check: impl Fn(&[Received]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check(&self.received()) {
            assert!(Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    let verified = inner.secret.as_deref().is_some_and(|s| {
        standardwebhooks::Webhook::new(s)
            .unwrap()
            .verify(&body, &headers)
            .is_ok()
    });
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let seen = inner.received.iter().filter(|r| r.id == id).count();
    let answered = (inner.policy)(&id, &value, seen);
    inner.received.push(Received {
        id,
        body: value,
        verified,
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

fn always(status: u16) -> Policy {
    Arc::new(move |_, _, _| status)
}

fn fast() -> Settings {
    Settings::default().set("TXHOOK_DELIVERY_BACKOFF_INITIAL_MS", "50")
}

async fn create(app: &TestApp, body: Value) -> Value {
    let r = app
        .client
        .post(app.url("/api/v1/destinations"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// Creates a destination for `consumer` and tells the consumer its secret.
async fn subscribe(app: &TestApp, consumer: &Consumer, extra: Value) -> String {
    let mut body = json!({ "url": consumer.url() });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let created = create(app, body).await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    consumer.trust(secret);
    created["id"].as_str().unwrap().to_owned()
}

/// Waits until the destination's status satisfies `check` (results are recorded right after
/// the consumer answers), and returns it.
async fn status_until(app: &TestApp, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = destination(app, id).await;
        if check(&d) {
            return d;
        }
        assert!(Instant::now() < deadline, "status never settled: {d}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn destination(app: &TestApp, id: &str) -> Value {
    app.get_admin_json(&format!("/api/v1/destinations/{id}"))
        .await
}

#[tokio::test]
async fn deliveries_are_signed_and_carry_the_event_and_its_transaction() {
    let app = TestApp::spawn_with(fast()).await;
    let consumer = Consumer::start(always(200)).await;
    let id = subscribe(&app, &consumer, json!({})).await;
    let tx = new_id();
    let first = logged(&app, &tx_body(&tx, "PAYMENT", "PENDING", "10.50")).await;
    let second = logged(&app, &tx_body(&tx, "PAYMENT", "SUCCESS", "10.50")).await;
    consumer.until("both delivered", |r| r.len() >= 2).await;

    let got = consumer.received();
    assert!(got.iter().all(|r| r.verified), "a signature did not verify");
    assert_eq!(
        got.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [format!("evt_{first}"), format!("evt_{second}")]
    );
    assert_eq!(got[0].body["sequence"], first);
    assert_eq!(got[0].body["source"], "callback");
    assert_eq!(got[0].body["state"], "PENDING");
    // The transaction's state when delivered, with the amount's digits as received.
    assert_eq!(got[1].body["transaction"]["status"]["state"], "SUCCESS");
    assert_eq!(
        got[1].body["transaction"]["amount"]["amount"].to_string(),
        "10.50"
    );

    let status = status_until(&app, &id, |d| d["lastDelivered"]["sequence"] == second).await;
    assert_eq!(status["backlog"], 0);
    assert!(
        status.get("secret").is_none(),
        "the secret is shown only at creation"
    );
}

#[tokio::test]
async fn a_failing_consumer_is_retried_until_2xx_and_never_sent_the_event_again() {
    let app = TestApp::spawn_with(fast()).await;
    let consumer = Consumer::start(Arc::new(|_, _, seen| if seen < 2 { 500 } else { 200 })).await;
    let id = subscribe(&app, &consumer, json!({})).await;
    let seq = logged(&app, &tx_body(&new_id(), "DEPOSIT", "SUCCESS", "1")).await;
    consumer
        .until("delivered on the third attempt", |r| r.len() >= 3)
        .await;
    let got = consumer.received();
    assert!(
        got.iter()
            .all(|r| r.id == format!("evt_{seq}") && r.verified)
    );
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    status_until(&app, &id, |d| d["backlog"] == 0).await;
    let attempts: Value = app
        .get_admin_json(&format!("/api/v1/destinations/{id}/attempts"))
        .await;
    let statuses: Vec<i64> = attempts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 500, 500], "{attempts}");
    // Delivered: not sent again.
    logged(&app, &tx_body(&new_id(), "DEPOSIT", "PENDING", "2")).await;
    consumer.until("the next event", |r| r.len() >= 4).await;
    assert_eq!(consumer.received().len(), 4);
    status_until(&app, &id, |d| d["backlog"] == 0).await;
}

#[tokio::test]
async fn one_transactions_events_stay_in_order_while_others_flow() {
    let app = TestApp::spawn_with(fast()).await;
    let (slow, quick) = (new_id(), new_id());
    let held = Arc::new(Mutex::new(true));
    let policy: Policy = {
        let (held, slow) = (held.clone(), slow.clone());
        Arc::new(move |_, body, _| {
            if body["transactionId"] == slow.as_str() && *held.lock().unwrap() {
                503
            } else {
                200
            }
        })
    };
    let consumer = Consumer::start(policy).await;
    subscribe(&app, &consumer, json!({})).await;
    let s1 = logged(&app, &tx_body(&slow, "PAYMENT", "PENDING", "1")).await;
    let s2 = logged(&app, &tx_body(&slow, "PAYMENT", "SUCCESS", "1")).await;
    let q1 = logged(&app, &tx_body(&quick, "PAYMENT", "PENDING", "1")).await;
    let q2 = logged(&app, &tx_body(&quick, "PAYMENT", "SUCCESS", "1")).await;
    consumer
        .until("the other transaction flows", |r| {
            r.iter().filter(|x| x.answered == 200).count() >= 2
        })
        .await;
    let accepted: Vec<String> = consumer.accepted().into_iter().map(|r| r.id).collect();
    assert_eq!(accepted, [format!("evt_{q1}"), format!("evt_{q2}")]);
    // The held transaction's later event was never sent before its earlier one got through.
    assert!(
        consumer
            .received()
            .iter()
            .all(|r| r.id != format!("evt_{s2}"))
    );

    *held.lock().unwrap() = false;
    consumer
        .until("the held transaction delivered", |r| {
            r.iter().filter(|x| x.answered == 200).count() >= 4
        })
        .await;
    let accepted: Vec<String> = consumer.accepted().into_iter().map(|r| r.id).collect();
    assert_eq!(accepted[2..], [format!("evt_{s1}"), format!("evt_{s2}")]);
}

#[tokio::test]
async fn deliveries_past_the_max_age_are_dead_lettered_and_can_be_replayed() {
    let app = TestApp::spawn_with(fast().set("TXHOOK_DELIVERY_MAX_AGE", "1s")).await;
    let consumer = Consumer::start(always(500)).await;
    let id = subscribe(&app, &consumer, json!({})).await;
    let seq = logged(&app, &tx_body(&new_id(), "PAYMENT", "FAILED", "1")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = destination(&app, &id).await;
        if d["deadLettered"] == 1 {
            assert_eq!(d["backlog"], 0);
            assert!(d["lastError"].as_str().unwrap().contains("500"), "{d}");
            break;
        }
        assert!(Instant::now() < deadline, "never dead-lettered: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead: Value = app
        .get_admin_json(&format!("/api/v1/destinations/{id}/dead-letters"))
        .await;
    assert_eq!(dead["items"][0]["sequence"], seq, "{dead}");
    let tried = consumer.received().len();
    assert!(tried >= 2);

    // The consumer is fixed; the dead letter is replayed.
    consumer.answer_with(always(200));
    let r = app
        .client
        .post(app.url(&format!("/api/v1/destinations/{id}/replay")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "from": seq }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    consumer
        .until("replayed", |r| r.iter().any(|x| x.answered == 200))
        .await;
    assert_eq!(consumer.accepted()[0].id, format!("evt_{seq}"));
    status_until(&app, &id, |d| d["deadLettered"] == 0 && d["backlog"] == 0).await;
}

#[tokio::test]
async fn a_restart_mid_backlog_delivers_every_event_once() {
    let first = TestApp::spawn_with(fast()).await;
    let consumer = Consumer::start(always(503)).await;
    subscribe(&first, &consumer, json!({})).await;
    let mut sequences = Vec::new();
    for _ in 0..10 {
        sequences.push(logged(&first, &tx_body(&new_id(), "PAYMENT", "PENDING", "1")).await);
    }
    consumer
        .until("attempts under way", |r| !r.is_empty())
        .await;
    let db = first.db_url.clone();
    first.stop().await;

    consumer.answer_with(always(200));
    let second = TestApp::spawn_with(fast().set("DATABASE_URL", db)).await;
    consumer
        .until("all delivered", |r| {
            r.iter().filter(|x| x.answered == 200).count() >= sequences.len()
        })
        .await;
    let mut delivered: Vec<String> = consumer.accepted().into_iter().map(|r| r.id).collect();
    delivered.sort();
    let mut expected: Vec<String> = sequences.iter().map(|s| format!("evt_{s}")).collect();
    expected.sort();
    assert_eq!(delivered, expected, "each event acknowledged exactly once");
    drop(second);
}

#[tokio::test]
async fn two_replicas_deliver_each_event_to_a_destination_once() {
    let first = TestApp::spawn_with(fast()).await;
    let second = TestApp::spawn_with(fast().set("DATABASE_URL", first.db_url.clone())).await;
    let consumer = Consumer::start(always(200)).await;
    subscribe(&first, &consumer, json!({})).await;
    let mut sequences = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 { &first } else { &second };
        sequences.push(logged(app, &tx_body(&new_id(), "PAYMENT", "PENDING", "1")).await);
    }
    consumer
        .until("all delivered", |r| r.len() >= sequences.len())
        .await;
    // A moment for any duplicate to show up; then every id exactly once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in consumer.received() {
        assert!(r.verified);
        *counts.entry(r.id).or_default() += 1;
    }
    assert_eq!(counts.len(), sequences.len());
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[tokio::test]
async fn filters_pause_and_delete_decide_what_is_delivered() {
    let app = TestApp::spawn_with(fast()).await;
    let consumer = Consumer::start(always(200)).await;
    let id = subscribe(
        &app,
        &consumer,
        json!({ "filter": { "types": ["DEPOSIT"], "states": ["SUCCESS"] } }),
    )
    .await;
    logged(&app, &tx_body(&new_id(), "PAYMENT", "SUCCESS", "1")).await;
    logged(&app, &tx_body(&new_id(), "DEPOSIT", "PENDING", "1")).await;
    let wanted = logged(&app, &tx_body(&new_id(), "DEPOSIT", "SUCCESS", "1")).await;
    consumer.until("the deposit", |r| !r.is_empty()).await;
    assert_eq!(consumer.received()[0].id, format!("evt_{wanted}"));

    // Paused: nothing goes out; resumed: it does.
    let patch = |body: Value| {
        let (client, url) = (
            app.client.clone(),
            app.url(&format!("/api/v1/destinations/{id}")),
        );
        async move {
            client
                .patch(url)
                .bearer_auth(ADMIN_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(patch(json!({ "paused": true })).await.status(), 200);
    let later = logged(&app, &tx_body(&new_id(), "DEPOSIT", "SUCCESS", "2")).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(consumer.received().len(), 1, "delivered while paused");
    assert_eq!(destination(&app, &id).await["paused"], true);
    assert_eq!(patch(json!({ "paused": false })).await.status(), 200);
    consumer
        .until("delivered once resumed", |r| r.len() >= 2)
        .await;
    assert_eq!(consumer.received()[1].id, format!("evt_{later}"));

    // Bad input is refused, naming what is wrong.
    let r = app
        .client
        .post(app.url("/api/v1/destinations"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "url": "ftp://example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        patch(json!({ "filter": { "source": "email" } }))
            .await
            .status(),
        400
    );

    let r = app
        .client
        .delete(app.url(&format!("/api/v1/destinations/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        app.get_admin(&format!("/api/v1/destinations/{id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_consumer_that_never_answers_does_not_slow_the_callback_endpoint() {
    let app = TestApp::spawn_with(fast()).await;
    let median = |app: &TestApp| {
        let app_url = app.url("/webhooks/transactions");
        let client = app.client.clone();
        async move {
            let mut took = Vec::new();
            for _ in 0..40 {
                let body = tx_body(&new_id(), "PAYMENT", "PENDING", "1");
                let started = Instant::now();
                let r = client
                    .post(&app_url)
                    .headers(hmac_headers(SHARED_KEY, body.as_bytes()))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                took.push(started.elapsed());
            }
            took.sort();
            took[took.len() / 2]
        }
    };
    let without = median(&app).await;

    // Accepts connections and never answers.
    let black_hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole = black_hole.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = black_hole.accept().await {
            open.push(socket);
        }
    });
    for _ in 0..3 {
        create(&app, json!({ "url": format!("http://{hole}/never") })).await;
    }
    let with = median(&app).await;
    held.abort();
    assert!(
        with <= without * 4 + Duration::from_millis(25),
        "median callback {with:?} with a dead destination against {without:?} without"
    );
}

#[tokio::test]
async fn delivered_deliveries_are_forgotten_after_a_week_and_dead_letters_kept() {
    let app = TestApp::spawn_with(fast()).await;
    let consumer = Consumer::start(always(200)).await;
    let id = subscribe(&app, &consumer, json!({})).await;
    for _ in 0..3 {
        logged(&app, &tx_body(&new_id(), "PAYMENT", "PENDING", "1")).await;
    }
    consumer
        .until("all three delivered", |r| r.len() >= 3)
        .await;
    status_until(&app, &id, |d| d["backlog"] == 0).await;
    // Two of them delivered long ago, one given up on long ago.
    sqlx::query(
        "update deliveries set delivered_at = now() - interval '8 days'
          where sequence in (select sequence from deliveries order by sequence limit 2)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query(
        "update deliveries set status = 'dead', delivered_at = null, enqueued_at = now() - interval '9 days'
          where sequence = (select max(sequence) from deliveries)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let store = txhook::store::Store::from_pool(app.db.clone());
    let forgotten = store
        .prune_deliveries(Duration::from_secs(7 * 86_400))
        .await
        .unwrap();
    assert_eq!(forgotten, 2);
    assert_eq!(app.count("select count(*) from deliveries").await, 1);
    assert_eq!(destination(&app, &id).await["deadLettered"], 1);
}

#[tokio::test]
async fn credentials_in_a_destination_url_are_never_shown() {
    let app = TestApp::spawn().await;
    let created = create(
        &app,
        json!({ "url": "https://hook-user:hook-password-123@127.0.0.1:1/hook" }),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    for shown in [
        created.to_string(),
        destination(&app, id).await.to_string(),
        app.get_admin("/api/v1/destinations")
            .await
            .text()
            .await
            .unwrap(),
    ] {
        assert!(!shown.contains("hook-password-123"), "{shown}");
        assert!(shown.contains("127.0.0.1:1/hook"), "{shown}");
    }
}
