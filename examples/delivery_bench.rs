//! Delivery figures: events per second delivered to one destination and to ten, and the
//! callback endpoint's latency with and without a dead destination configured.
//!
//! ```sh
//! DATABASE_URL=postgres://txhook@127.0.0.1:15433/txhook cargo run --release --example delivery_bench
//! ```
//!
//! Runs txhook in-process on loopback against a fresh database on that server, with consumers
//! (axum on loopback) that answer 204 and count what they get. Prints one table.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::Connection;
use tokio::net::TcpListener;

const EVENTS: usize = 2000;
const CONCURRENCY: usize = 32;
/// Events sent one after another, each waited for at the destination.
const ONE_AT_A_TIME: usize = 30;
const SHARED_KEY: &str = "delivery-bench-shared-key-0123456789";
const ADMIN_TOKEN: &str = "delivery-bench-admin-token-0123456789";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let admin =
        std::env::var("DATABASE_URL").context("DATABASE_URL must name a PostgreSQL server")?;
    println!("scenario                        events  seconds  events/s  callback p50 ms  p99 ms");
    for destinations in [1usize, 10] {
        let (app, _db) = start(&admin).await?;
        let received = Arc::new(AtomicU64::new(0));
        for _ in 0..destinations {
            let url = consumer(received.clone()).await?;
            create(&app, &format!("{url}/hook")).await?;
        }
        let started = Instant::now();
        let latencies = send(&app, EVENTS).await?;
        let want = (EVENTS * destinations) as u64;
        while received.load(Ordering::Relaxed) < want {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(300),
                "deliveries stalled"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        let (p50, p99) = percentiles(latencies);
        println!(
            "delivered to {destinations:>2} destination{}      {:>6}  {secs:>7.2}  {:>8.0}  {p50:>15.1}  {p99:>6.1}",
            if destinations == 1 { " " } else { "s" },
            want,
            want as f64 / secs
        );
    }
    // One event at a time, from its 200 to its arrival at the destination: the latency of a
    // delivery when nothing else is going on (the fan-out waits for the projection).
    {
        let (app, _db) = start(&admin).await?;
        let received = Arc::new(AtomicU64::new(0));
        let url = consumer(received.clone()).await?;
        create(&app, &format!("{url}/hook")).await?;
        let mut took = Vec::new();
        for n in 1..=ONE_AT_A_TIME {
            let started = Instant::now();
            send(&app, 1).await?;
            while received.load(Ordering::Relaxed) < n as u64 {
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(30),
                    "delivery stalled"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            took.push(started.elapsed());
        }
        let (p50, p99) = percentiles(took);
        println!(
            "one at a time, callback to arrival {ONE_AT_A_TIME:>4}        -         -  {p50:>15.1}  {p99:>6.1}"
        );
    }
    for dead in [false, true] {
        let (app, _db) = start(&admin).await?;
        if dead {
            // Accepts connections and never answers.
            let hole = TcpListener::bind("127.0.0.1:0").await?;
            let addr = hole.local_addr()?;
            tokio::spawn(async move {
                let mut open = Vec::new();
                while let Ok((s, _)) = hole.accept().await {
                    open.push(s);
                }
            });
            create(&app, &format!("http://{addr}/never")).await?;
        }
        let started = Instant::now();
        let latencies = send(&app, EVENTS).await?;
        let secs = started.elapsed().as_secs_f64();
        let (p50, p99) = percentiles(latencies);
        println!(
            "callbacks, {:<20} {EVENTS:>6}  {secs:>7.2}  {:>8.0}  {p50:>15.1}  {p99:>6.1}",
            if dead {
                "a dead destination"
            } else {
                "no destination"
            },
            EVENTS as f64 / secs
        );
    }
    Ok(())
}

/// txhook on a fresh database; returns its base URL.
async fn start(admin: &str) -> anyhow::Result<(String, String)> {
    let name = format!("txhook_delivery_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(&format!(r#"create database "{name}""#))
        .execute(&mut conn)
        .await?;
    let mut url = url::Url::parse(admin)?;
    url.set_path(&name);
    let db = url.to_string();
    let env = [
        ("DATABASE_URL", db.clone()),
        ("TXHOOK_SHARED_KEY", SHARED_KEY.to_owned()),
        ("TXHOOK_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("TXHOOK_LISTEN", "127.0.0.1:0".to_owned()),
    ];
    let empty = std::env::temp_dir().join("txhook-delivery-bench-empty.toml");
    std::fs::write(&empty, "")?;
    let config = txhook::config::load_with(Some(&empty), |var| {
        env.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone())
    })?;
    let listener = TcpListener::bind(config.server.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(txhook::serve(config, listener, std::future::pending()));
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "txhook did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((base, db))
}

/// A consumer that counts deliveries; returns its base URL.
async fn consumer(count: Arc<AtomicU64>) -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn create(app: &str, url: &str) -> anyhow::Result<()> {
    let r = reqwest::Client::new()
        .post(format!("{app}/api/v1/destinations"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "url": url }))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "destination not created: {}", r.status());
    Ok(())
}

/// Sends `n` signed callbacks, `CONCURRENCY` at a time; returns each one's latency.
async fn send(app: &str, n: usize) -> anyhow::Result<Vec<Duration>> {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, next, url) = (
            client.clone(),
            next.clone(),
            format!("{app}/webhooks/transactions"),
        );
        tasks.spawn(async move {
            let mut took = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= n {
                    return Ok::<_, anyhow::Error>(took);
                }
                let body = format!(
                    r#"{{"id":"{}","type":"PAYMENT","status":{{"state":"SUCCESS"}},"amount":{{"amount":"10.50","currency":"EUR"}}}}"#,
                    uuid::Uuid::new_v4()
                );
                let signature = txhook::verify::sign_hmac_hex(SHARED_KEY.as_bytes(), body.as_bytes());
                let started = Instant::now();
                let r = client
                    .post(&url)
                    .header("x-hubpay-hmac", signature)
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "callback answered {}", r.status());
                took.push(started.elapsed());
            }
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        all.extend(done??);
    }
    Ok(all)
}

fn percentiles(mut took: Vec<Duration>) -> (f64, f64) {
    took.sort();
    let at = |q: f64| {
        took[((took.len() as f64 * q) as usize).min(took.len() - 1)].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}
