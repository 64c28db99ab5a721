//! The client side: workers sending unique signed callbacks as fast as they are answered,
//! recording every answer with the time its request left and the time it came back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::support::{SHARED_KEY, callback_body};

/// No request may take longer than this: a hung request counts as [`Ending::Timeout`].
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(35);

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// 200, with the answer's `status` (`stored`, `duplicate`, `quarantined`).
    Ok(String),
    /// 503 with `Retry-After`.
    Unavailable,
    /// Any other status (or a 503 without `Retry-After`).
    Status(u16),
    /// Refused, reset or closed before an answer.
    ConnError,
    /// No answer within [`CLIENT_TIMEOUT`].
    Timeout,
}

impl Ending {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok(_))
    }
}

/// One request: the transaction id it carried and how it ended.
#[derive(Debug)]
pub struct Record {
    pub id: String,
    pub sent: Instant,
    pub done: Instant,
    pub answer: Ending,
}

/// Workers sending until [`Load::stop`].
pub struct Load {
    stop: Arc<AtomicBool>,
    records: Arc<Mutex<Vec<Record>>>,
    tasks: JoinSet<()>,
}

impl Load {
    /// `workers` concurrent senders, each picking one of `urls` at random per request.
    pub fn start(urls: Vec<String>, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let records = Arc::new(Mutex::new(Vec::new()));
        let client = client();
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (stop, records, client, urls) =
                (stop.clone(), records.clone(), client.clone(), urls.clone());
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let id = uuid::Uuid::new_v4().to_string();
                    let body = callback_body(&id, "PENDING");
                    let url = &urls[rand::rng().random_range(0..urls.len())];
                    let sent = Instant::now();
                    let answer = send(&client, url, body).await;
                    let done = Instant::now();
                    let pause = !answer.is_ok();
                    records.lock().unwrap().push(Record {
                        id,
                        sent,
                        done,
                        answer,
                    });
                    if pause {
                        // A refused connection comes back at once: do not spin.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            });
        }
        Self {
            stop,
            records,
            tasks,
        }
    }

    /// When the first 200 came for a request sent at or after `after`, waiting up to `limit`.
    pub async fn first_200_sent_after(&self, after: Instant, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            let first = self
                .records
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.sent >= after && r.answer.is_ok())
                .map(|r| r.done)
                .min();
            if first.is_some() || Instant::now() >= deadline {
                return first;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops sending, waits for the requests in flight, and returns every record.
    pub async fn stop(mut self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        std::mem::take(&mut *self.records.lock().unwrap())
    }
}

/// Sends each of `bodies` to every one of `urls` at once, then once more to a random one (a
/// provider retry landing on either replica), `concurrency` bodies at a time. Returns every
/// answer with its body.
pub async fn race(
    urls: &[String],
    bodies: &[(String, String)],
    concurrency: usize,
) -> Vec<(String, Ending)> {
    let client = client();
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for (_, body) in bodies {
        let (client, urls, body, permits) =
            (client.clone(), urls.to_vec(), body.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let mut sends = JoinSet::new();
            for url in &urls {
                let (client, url, body) = (client.clone(), url.clone(), body.clone());
                sends.spawn(async move { send(&client, &url, body).await });
            }
            let mut answers: Vec<Ending> = sends.join_all().await;
            let retry = &urls[rand::rng().random_range(0..urls.len())];
            answers.push(send(&client, retry, body.clone()).await);
            answers
                .into_iter()
                .map(|a| (body.clone(), a))
                .collect::<Vec<_>>()
        });
    }
    tasks.join_all().await.into_iter().flatten().collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("http client")
}

/// POSTs `body`, signed, to `url`.
pub async fn send(client: &reqwest::Client, url: &str, body: String) -> Ending {
    let signature = txhook::verify::sign_hmac_hex(SHARED_KEY.as_bytes(), body.as_bytes());
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hubpay-hmac", signature)
        .body(body)
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        Err(e) if e.is_timeout() => return Ending::Timeout,
        Err(_) => return Ending::ConnError,
    };
    let status = res.status().as_u16();
    let retry_after = res.headers().contains_key("retry-after");
    match (status, res.json::<Value>().await) {
        (200, Ok(v)) => Ending::Ok(v["status"].as_str().unwrap_or_default().to_owned()),
        (503, _) if retry_after => Ending::Unavailable,
        (_, Err(e)) if e.is_timeout() => Ending::Timeout,
        // Headers came but the body was cut off: the server went away mid-answer.
        (200, Err(_)) => Ending::ConnError,
        (s, _) => Ending::Status(s),
    }
}
