//! Spawns the real application on a random loopback port, against its own fresh PostgreSQL
//! database, configured through the same loader as the binary.
// Each test module uses a different part of these helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Barrier, oneshot};
use tokio::task::JoinSet;

use crate::common::process::empty_config;
use txhook::verify::{sign_hmac_hex, sign_standard};

/// `fresh_database()`: a new, empty database, dropped when the test ends; returns its URL.
/// (`tests/common/mod.rs`, shared by every test binary.)
#[allow(unused_imports)] // admin_url: for the tests that need the server itself
pub use crate::common::{admin_url, fresh_database};

pub const SHARED_KEY: &str = "test-shared-key-7f3a9c";
pub const ADMIN_TOKEN: &str = "test-admin-token-51e0";
/// A Standard Webhooks secret (`whsec_` + base64).
pub const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The server under test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// A pool on the app's own database, for assertions.
    pub db: PgPool,
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings the test changes; everything else comes from the real defaults.
pub struct Settings {
    pub env: HashMap<&'static str, String>,
}

impl Default for Settings {
    fn default() -> Self {
        let mut env = HashMap::new();
        env.insert("TXHOOK_SHARED_KEY", SHARED_KEY.to_owned());
        env.insert("TXHOOK_ADMIN_TOKEN", ADMIN_TOKEN.to_owned());
        // The suite runs in the default (batched) write mode; scripts/test.sh runs it again
        // with TEST_WRITE_MODE=single for the reference path.
        let mode = std::env::var("TEST_WRITE_MODE").unwrap_or_else(|_| "batched".into());
        env.insert("TXHOOK_WRITE_MODE", mode);
        Self { env }
    }
}

impl Settings {
    pub fn set(mut self, var: &'static str, value: impl Into<String>) -> Self {
        self.env.insert(var, value.into());
        self
    }
    pub fn unset(mut self, var: &'static str) -> Self {
        self.env.remove(var);
        self
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Settings::default()).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            txhook::telemetry::init_logging(txhook::telemetry::LogFormat::Text);
        }
        let db_url = match settings.env.get("DATABASE_URL") {
            Some(u) => u.clone(),
            None => fresh_database().await,
        };
        let mut env = settings.env;
        env.insert("DATABASE_URL", db_url.clone());
        env.entry("TXHOOK_LISTEN")
            .or_insert_with(|| "127.0.0.1:0".into());
        let config = txhook::config::load_with(Some(&empty_config()), |var| env.get(var).cloned())
            .expect("test configuration is valid");
        let listener = TcpListener::bind(config.server.listen).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(txhook::serve(config, listener, async {
            let _ = rx.await;
        }));
        let db = PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy(&db_url)
            .expect("test pool");
        let app = Self {
            addr,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            db,
            db_url,
            shutdown: Some(tx),
            task: Some(task),
        };
        app.wait_ready().await;
        app
    }

    /// Polls `/healthz` until it answers (migrations run before the server accepts).
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server did not come up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the projection has passed every event logged so far, so that the derived
    /// tables (transactions, transaction_states) can be read directly.
    pub async fn projected(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let caught_up: bool = sqlx::query_scalar(
                "select not exists (
                     select 1 from events e, consumer_positions p
                      where p.name = 'projector' and (e.txid, e.sequence) > (p.txid, p.sequence))",
            )
            .fetch_one(&self.db)
            .await
            .expect("projection position");
            if caught_up {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the projection did not catch up"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs `body` to the callback endpoint with `headers`.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        headers: HeaderMap,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/webhooks/transactions"))
            .headers(headers)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs `body` signed with the test key (hmac-sha256, lowercase hex).
    pub async fn post_signed(&self, body: &str) -> reqwest::Response {
        self.post_raw(body.to_owned(), hmac_headers(SHARED_KEY, body.as_bytes()))
            .await
    }

    /// POSTs `body` signed and returns (status, JSON answer).
    pub async fn deliver(&self, body: &str) -> (u16, Value) {
        let r = self.post_signed(body).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The status of a plain GET of `path`.
    pub async fn status(&self, path: &str) -> u16 {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
            .status()
            .as_u16()
    }

    /// GET with the admin token.
    pub async fn get_admin(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    /// GET with the admin token: the JSON answer, whatever the status.
    pub async fn get_admin_json(&self, path: &str) -> Value {
        self.get_admin(path)
            .await
            .json()
            .await
            .expect("a JSON answer")
    }

    /// GET with the admin token: (status, JSON answer, `Null` when there is none).
    pub async fn get_admin_answer(&self, path: &str) -> (u16, Value) {
        let r = self.get_admin(path).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("request sent")
            .text()
            .await
            .expect("metrics text")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.db)
            .await
            .expect("count query")
    }

    /// Column `column` of transaction `id`'s row in the projection's `transactions` table, as
    /// text (`None` for a null).
    pub async fn transaction_column(&self, id: &str, column: &str) -> Option<String> {
        sqlx::query_scalar(&format!(
            "select {column}::text from transactions where id = $1"
        ))
        .bind(id)
        .fetch_one(&self.db)
        .await
        .expect("the transaction's row")
    }

    /// Stops the server (graceful shutdown) and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn hmac_headers(key: &str, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "x-hubpay-hmac",
        sign_hmac_hex(key.as_bytes(), body).parse().unwrap(),
    );
    h
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Standard Webhooks headers for `body` signed with `whsec` at `timestamp`.
pub fn standard_headers(whsec: &str, id: &str, timestamp: u64, body: &[u8]) -> HeaderMap {
    let key = txhook::verify::decode_whsec(whsec).expect("valid whsec");
    let mut h = HeaderMap::new();
    h.insert("webhook-id", id.parse().unwrap());
    h.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
    h.insert(
        "webhook-signature",
        sign_standard(&key, id, timestamp, body).parse().unwrap(),
    );
    h
}

/// A realistic callback body.
pub fn tx_body(id: &str, kind: &str, state: &str, amount: &str) -> String {
    let v = json!({
        "walletId": "8d0c2c55-3c0e-4c5d-9a4a-0a6d1c2b3e4f",
        "id": id,
        "shortId": "TX-1",
        "externalId": "ext-1",
        "type": kind,
        "status": { "state": state, "reason": "test", "complete": false },
        "amount": { "amount": "__AMOUNT__", "currency": "EUR" },
        "createdAt": "2026-11-24T10:00:00Z"
    });
    // The amount goes in as a raw JSON number, digits exactly as given.
    v.to_string().replace("\"__AMOUNT__\"", amount)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Polls `check` every 20 ms until it holds; fails after 10 seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `request`; its JSON answer, whatever the status.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let r = request.send().await.expect("request sent");
    r.json().await.expect("a JSON answer")
}

/// A POST of `body` to `url` signed with the test key, for a task that holds a clone of the
/// app's client rather than the app.
pub fn signed_post(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: String,
) -> reqwest::RequestBuilder {
    let headers = hmac_headers(SHARED_KEY, body.as_bytes());
    client.post(url).headers(headers).body(body)
}

/// Delivers every body at once, each to `urls[i % urls.len()]`; returns the answers.
pub async fn deliver_concurrently(
    client: &reqwest::Client,
    urls: &[String],
    bodies: Vec<String>,
) -> Vec<(u16, Value)> {
    let start = Arc::new(Barrier::new(bodies.len()));
    let mut set = JoinSet::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let client = client.clone();
        let url = urls[i % urls.len()].clone();
        let start = start.clone();
        set.spawn(async move {
            let request =
                signed_post(&client, url, body).header("content-type", "application/json");
            start.wait().await;
            let r = request.send().await.expect("request sent");
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        });
    }
    set.join_all().await
}

/// POSTs `body` signed to `app` and asserts a 200; returns the sequence it was logged under.
pub async fn logged(app: &TestApp, body: &str) -> i64 {
    let (status, answer) = app.deliver(body).await;
    assert_eq!(status, 200, "{answer}");
    answer["sequence"].as_i64().expect("logged")
}

/// An Orangepill stream event named `name`, recorded as the stream client records it;
/// returns its sequence.
pub async fn stream_event(app: &TestApp, name: &str) -> i64 {
    let store = txhook::store::Store::from_pool(app.db.clone());
    let frame = json!({ "type": "notification", "event": name, "data": "e1" }).to_string();
    let entity = new_id();
    let event = txhook::store::NewStreamEvent {
        event: name,
        entity_id: &entity,
        timestamp_millis: Some(1_700_000_000_000),
        frame: &frame,
        received_at: chrono::Utc::now(),
    };
    match store.record_stream_event(&event).await.unwrap() {
        txhook::store::StreamOutcome::Stored { sequence } => sequence,
        other => panic!("{other:?}"),
    }
}

/// Logs `body` under `dedup_key` as quarantined, as an older parser would have, and moves the
/// projection past it in the same statement, as an older projector would have (so only
/// `reprocess` applies it); returns its sequence.
pub async fn logged_as_quarantined(app: &TestApp, dedup_key: &str, body: &str) -> i64 {
    sqlx::query_scalar(
        "with e as (
             insert into events (source, dedup_key, body, outcome, quarantine_reason)
             values ('callback', $1, $2, 'quarantined', 'old parser')
             returning txid, sequence)
         update consumer_positions p set txid = e.txid, sequence = e.sequence
           from e where p.name = 'projector' returning e.sequence",
    )
    .bind(dedup_key)
    .bind(body.as_bytes())
    .fetch_one(&app.db)
    .await
    .expect("log a quarantined callback")
}

/// The history as `(state, applied)` pairs, oldest first.
pub fn history(got: &Value) -> Vec<(String, bool)> {
    got["history"]
        .as_array()
        .expect("history is an array")
        .iter()
        .map(|h| {
            (
                h["state"].as_str().unwrap().to_owned(),
                h["applied"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// `(state, applied)` literals in the shape `history` returns.
pub fn pairs(expected: &[(&str, bool)]) -> Vec<(String, bool)> {
    expected.iter().map(|(s, a)| (s.to_string(), *a)).collect()
}
