//! Delivering one callback like the provider: any answer but 200, or none, is retried with
//! exponential backoff until the horizon (default 7 days, compressed by `--time-scale`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rand::Rng;
use reqwest::header::CONTENT_TYPE;

use super::{Mock, Subscriber};
use txhook_core::retry::Backoff;

/// Nominal first retry, and the longest wait between retries (before `--time-scale`).
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// What one POST came back with.
pub(super) enum Answer {
    /// 200, with the receiver's `status` field (`stored`, `duplicate`, …).
    Ok(String),
    /// Another HTTP status.
    Status(u16),
    /// No answer: connection refused, reset, timed out.
    None(String),
}

/// Delivers `body` until a 200 or the horizon.
pub(super) async fn deliver(
    mock: &Mock,
    subscriber: &Subscriber,
    delivery: u64,
    tx_id: &str,
    state: &str,
    body: Bytes,
) {
    let webhook_id = format!("msg_{delivery:08}_{}", &tx_id[..8.min(tx_id.len())]);
    let mut backoff = Backoff::new(mock.scaled(FIRST_RETRY), mock.scaled(MAX_RETRY));
    let horizon = mock.scaled(mock.0.args.horizon);
    let started = Instant::now();
    for attempt in 1u32.. {
        let answer = post(mock, subscriber, &webhook_id, &body).await;
        match &answer {
            Answer::Ok(status) => {
                tracing::info!(delivery, tx = tx_id, state, attempt, answer = %status, "delivered");
            }
            Answer::Status(code) => {
                tracing::info!(
                    delivery,
                    tx = tx_id,
                    state,
                    attempt,
                    status = code,
                    "not accepted; will retry"
                );
            }
            Answer::None(why) => {
                tracing::info!(delivery, tx = tx_id, state, attempt, error = %why, "no answer; will retry");
            }
        }
        let delivered = matches!(answer, Answer::Ok(_));
        mock.ledger().attempt(delivery, &answer);
        if delivered {
            let duplicate = mock.0.args.duplicate_rate > 0.0
                && mock.rng().random_bool(mock.0.args.duplicate_rate);
            if duplicate {
                // The network delivering the same callback twice: identical bytes and id.
                let again = post(mock, subscriber, &webhook_id, &body).await;
                tracing::info!(delivery, tx = tx_id, state, "sent a duplicate");
                mock.ledger().duplicate(&again);
            }
            return;
        }
        let wait = backoff.next_wait();
        if started.elapsed() + wait > horizon {
            tracing::warn!(
                delivery,
                tx = tx_id,
                state,
                attempt,
                "retry horizon reached; giving up"
            );
            mock.ledger().expire(delivery);
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

/// One signed POST to the subscriber.
async fn post(mock: &Mock, subscriber: &Subscriber, webhook_id: &str, body: &Bytes) -> Answer {
    let _permit = mock.0.in_flight.acquire().await.expect("never closed");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let headers = subscriber.signer().headers(body, webhook_id, now);
    let sent = mock
        .0
        .client
        .post(subscriber.callback_url.clone())
        .headers(headers)
        .header(CONTENT_TYPE, "application/json")
        .body(body.clone())
        .send()
        .await;
    match sent {
        Err(e) => Answer::None(txhook_core::message::error_chain(&e.without_url())),
        Ok(res) if res.status() == reqwest::StatusCode::OK => {
            let v: serde_json::Value = res.json().await.unwrap_or_default();
            Answer::Ok(v["status"].as_str().unwrap_or("ok").to_owned())
        }
        Ok(res) => Answer::Status(res.status().as_u16()),
    }
}
