//! A destination's consumer: receives txhook's deliveries and verifies each signature with
//! the `standardwebhooks` crate, the way any Standard Webhooks library does.
//!
//! ```sh
//! cargo run --example consumer -- whsec_... 127.0.0.1:3000
//! ```
//!
//! It answers 204 to a delivery whose signature verifies (txhook then never sends that event
//! again) and 401 to anything else (txhook retries). It prints one line per delivery and
//! remembers the `webhook-id`s it has taken, so that a retry of one it already took is
//! answered 204 without acting on it twice.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use standardwebhooks::Webhook;

struct Consumer {
    webhook: Webhook,
    taken: Mutex<HashSet<String>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let secret = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: consumer <whsec_ secret> [listen address]"))?;
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());
    let consumer = Arc::new(Consumer {
        webhook: Webhook::new(&secret).map_err(|e| anyhow::anyhow!("bad secret: {e}"))?,
        taken: Mutex::new(HashSet::new()),
    });
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(consumer);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("consumer listening on http://{listen}/hook");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn receive(State(c): State<Arc<Consumer>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if c.webhook.verify(&body, &headers).is_err() {
        eprintln!("refused: the signature does not verify");
        return StatusCode::UNAUTHORIZED;
    }
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !c.taken.lock().unwrap().insert(id.clone()) {
        println!("{id}: already taken");
        return StatusCode::NO_CONTENT;
    }
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let state = &event["transaction"]["status"]["state"];
    println!(
        "{id}: {} {} {} (current state {state})",
        event["source"], event["type"], event["state"]
    );
    StatusCode::NO_CONTENT
}
