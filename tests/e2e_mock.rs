//! End to end, every part a real process on loopback: `txhook mock-provider` and
//! `txhook serve` against a fresh PostgreSQL database. The receiver registers with the mock,
//! the mock delivers transaction lifecycles (out of order, with network duplicates), the
//! receiver is killed mid-run and restarted, and at the end every transaction's state in
//! txhook equals the mock's ground truth and the event log holds each callback once.
//!
//! Needs DATABASE_URL (scripts/test.sh provides it). `TEST_LOG=1` shows both processes' logs.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::fresh_database;
use common::process::{Proc, free_port, logs, show_logs};
use serde_json::Value;
use tokio::time::Instant;

const SHARED_KEY: &str = "e2e-shared-key-2b91";
const ADMIN_TOKEN: &str = "e2e-admin-token-77c0";
const HEADER_VALUE: &str = "e2e-static-header-5d2a";

/// `txhook <args>`, its logs shown with `TEST_LOG`.
fn txhook(args: &[&str]) -> Command {
    let mut cmd = common::process::txhook(args);
    cmd.env("RUST_LOG", if show_logs() { "info" } else { "warn" })
        .stdout(Stdio::null())
        .stderr(logs());
    cmd
}

/// `txhook mock-provider --listen 127.0.0.1:<port> <args>`.
fn start_mock(port: u16, args: &[&str]) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec!["mock-provider", "--listen", &listen];
    all.extend_from_slice(args);
    Proc(txhook(&all).spawn().expect("start the mock provider"))
}

fn start_receiver(port: u16, mock_port: u16, db: &str) -> Proc {
    let child = txhook(&["serve"])
        .env("DATABASE_URL", db)
        .env("TXHOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("TXHOOK_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env(
            "TXHOOK_PROVIDER_URL",
            format!("http://127.0.0.1:{mock_port}"),
        )
        .env("TXHOOK_SHARED_KEY", SHARED_KEY)
        .env("TXHOOK_HEADER_KEY", "X-Txhook-Token")
        .env("TXHOOK_HEADER_VALUE", HEADER_VALUE)
        .env("TXHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TXHOOK_REGISTER_BACKOFF_MS", "50")
        .spawn()
        .expect("start txhook serve");
    Proc(child)
}

/// What both tests start from: an HTTP client, a fresh database, and a free port each for
/// the mock provider and the receiver.
async fn arrange() -> (reqwest::Client, String, u16, u16) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let db = fresh_database().await;
    (http, db, free_port(), free_port())
}

/// The JSON answer to a GET of `url` with the admin token.
async fn get_admin(http: &reqwest::Client, url: &str) -> reqwest::Result<Value> {
    http.get(url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?
        .json()
        .await
}

/// Polls `check` every 25 ms until it returns `Some`, failing after `within`.
async fn until<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn mock_provider_and_receiver_agree_after_the_receiver_restarts() {
    let started = Instant::now();
    let (http, db, mock_port, port) = arrange().await;
    let report_url = format!("http://127.0.0.1:{mock_port}/mock/deliveries");
    let report = || {
        let (http, url) = (http.clone(), report_url.clone());
        async move {
            let r = http.get(&url).send().await.ok()?;
            r.json::<Value>().await.ok()
        }
    };

    // Arrange: the mock provider, 60 lifecycles at 20 a second, its 7-day retry schedule
    // compressed 500 times (first retry after 10 ms), out of order, 20 % duplicates.
    let _mock = start_mock(
        mock_port,
        &[
            "--count",
            "60",
            "--rate",
            "20",
            "--time-scale",
            "0.002",
            "--duplicate-rate",
            "0.2",
            "--reorder",
        ],
    );
    until("the mock provider", Duration::from_secs(10), report).await;

    // Act: the receiver registers, deliveries flow ...
    let mut receiver = start_receiver(port, mock_port, &db);
    until("some deliveries", Duration::from_secs(15), || async {
        report()
            .await
            .filter(|r| r["delivered"].as_u64() >= Some(20))
    })
    .await;

    // ... the receiver dies mid-run and stays down while the mock keeps failing to deliver ...
    receiver.0.kill().unwrap();
    receiver.0.wait().unwrap();
    let down_at = Instant::now();
    let failed_before = report().await.unwrap()["failedAttempts"].as_u64().unwrap();
    // Down for at least 1.5 s (12.5 minutes of the provider's schedule at this time scale)
    // and until the mock has seen its deliveries fail many times.
    until(
        "failed deliveries while down",
        Duration::from_secs(15),
        || async {
            report().await.filter(|r| {
                r["failedAttempts"].as_u64().unwrap() >= failed_before + 60
                    && down_at.elapsed() >= Duration::from_millis(1500)
            })
        },
    )
    .await;
    let down_report = report().await.unwrap();

    // ... and comes back on the same address.
    let _receiver = start_receiver(port, mock_port, &db);
    let down_for = down_at.elapsed();
    let last = until("every delivery", Duration::from_secs(25), || async {
        report().await.filter(|r| r["complete"] == true)
    })
    .await;

    // Assert: nothing given up, one registration (the restart found it recorded).
    assert_eq!(last["expired"], 0, "{last}");
    assert_eq!(last["pending"], 0);
    assert_eq!(last["subscribeRequests"], 1, "{last}");

    // Every transaction's state in txhook is the mock's ground truth, with one history
    // entry per distinct callback.
    let items = last["items"].as_array().unwrap();
    for t in items {
        let id = t["id"].as_str().unwrap();
        let got = get_admin(
            &http,
            &format!("http://127.0.0.1:{port}/api/v1/transactions/{id}"),
        )
        .await
        .unwrap();
        assert_eq!(
            got["status"]["state"], t["finalState"],
            "{id}: {got} vs {t}"
        );
        assert_eq!(
            got["history"].as_array().map(Vec::len),
            t["states"].as_array().map(Vec::len),
            "{id}"
        );
    }

    // The event log holds each distinct callback exactly once.
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    let per_tx: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "select transaction_id, count(*) from events group by transaction_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    for t in items {
        let want = t["states"].as_array().unwrap().len() as i64;
        assert_eq!(per_tx.get(t["id"].as_str().unwrap()), Some(&want), "{t}");
    }
    let events: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, last["callbacks"].as_i64().unwrap());
    let stored = last["answers"]["stored"].as_i64().unwrap_or(0);
    let duplicate = last["answers"]["duplicate"].as_i64().unwrap_or(0);
    assert!(stored <= events, "more 'stored' answers than callbacks");
    // Every 200 said stored or duplicate: nothing was quarantined or refused.
    let answered: i64 = last["answers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            assert!(k == "stored" || k == "duplicate", "unexpected answer {k}");
            v.as_i64().unwrap()
        })
        .sum();
    assert_eq!(
        answered,
        last["attempts"].as_i64().unwrap() - last["failedAttempts"].as_i64().unwrap()
    );

    println!(
        "e2e: {} transactions, {} distinct callbacks delivered in {} attempts \
         ({} failed, {} retries; {} failed while the receiver was down for {} ms); \
         {} network duplicates sent, {} duplicate answers absorbed, {} stored; \
         events in log: {}; took {:.1} s",
        last["transactions"],
        last["delivered"],
        last["attempts"],
        last["failedAttempts"],
        last["retries"],
        down_report["failedAttempts"].as_u64().unwrap() - failed_before,
        down_for.as_millis(),
        last["duplicatesSent"],
        duplicate,
        stored,
        events,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn mock_provider_stream_feeds_the_receivers_event_log() {
    let (http, db, mock_port, port) = arrange().await;
    let _mock = start_mock(
        mock_port,
        &[
            "--count",
            "0",
            "--stream-rate",
            "50",
            "--realm-key",
            "e2e-realm-key",
        ],
    );
    let _receiver = Proc(
        txhook(&["serve"])
            .env("DATABASE_URL", &db)
            .env("TXHOOK_LISTEN", format!("127.0.0.1:{port}"))
            .env("TXHOOK_SHARED_KEY", SHARED_KEY)
            .env("TXHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("TXHOOK_REALM_KEY", "e2e-realm-key")
            .env(
                "TXHOOK_STREAM_URL",
                format!("ws://127.0.0.1:{mock_port}/stream"),
            )
            .env("TXHOOK_STREAM_BACKOFF_INITIAL_MS", "50")
            .spawn()
            .expect("start txhook serve"),
    );
    let events_url = format!("http://127.0.0.1:{port}/api/v1/events?after=0&limit=1000");
    let items = until(
        "stream events in the event log",
        Duration::from_secs(20),
        || {
            let (http, url) = (http.clone(), events_url.clone());
            async move {
                let page = get_admin(&http, &url).await.ok()?;
                let items = page["items"].as_array()?.clone();
                (items.len() >= 10).then_some(items)
            }
        },
    )
    .await;
    for item in &items {
        assert_eq!(item["source"], "orangepill");
        assert!(
            item["event"].is_string() && item["entityId"].is_string(),
            "{item}"
        );
        assert!(item["dedupKey"].as_str().unwrap().starts_with("op:"));
    }
}
