//! The load: `concurrency` workers, each on its own HTTP/1.1 keep-alive connection, sending
//! one callback after another until the clock runs out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::HeaderValue;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::corpus::{Delivery, Maker};
use super::http1::Conn;

/// Where to send, and what.
pub struct Plan {
    pub addr: String,
    pub host: HeaderValue,
    pub path: String,
    pub corpus: Vec<Arc<Delivery>>,
    pub maker: Maker,
    pub duplicates: f64,
    /// Requests started from here on are measured.
    pub measure_from: Instant,
    /// No request starts from here on.
    pub end: Instant,
}

/// What one worker saw. Only requests started in the measured window are counted; every
/// acknowledged event is kept for the check, warm-up included.
#[derive(Default)]
pub struct Tally {
    pub stored: u64,
    pub duplicate: u64,
    pub quarantined: u64,
    /// Answers other than 200, by status code.
    pub other: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer.
    pub errors: u64,
    pub first_errors: Vec<String>,
    /// Microseconds of every measured request.
    pub latencies_us: Vec<u32>,
    /// Deliveries made during the run because the corpus ran out.
    pub made_live: u64,
    /// (sequence, delivery) of every `stored` answer.
    pub acked: Vec<(i64, Arc<Delivery>)>,
}

/// What the receiver's 200 answer to a callback says: how the callback was kept, and where.
#[derive(serde::Deserialize)]
struct CallbackReceipt<'a> {
    status: &'a str,
    sequence: Option<i64>,
}

enum Sent {
    Stored(i64),
    Duplicate,
    Quarantined,
    Status(u16),
}

/// Runs one worker; `next` hands out corpus positions across workers.
pub async fn worker(plan: Arc<Plan>, next: Arc<AtomicUsize>) -> Tally {
    let mut tally = Tally::default();
    // ThreadRng cannot cross an await that may move the task to another thread.
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let mut conn: Option<Conn> = None;
    loop {
        let started = Instant::now();
        if started >= plan.end {
            return tally;
        }
        let delivery = if !tally.acked.is_empty() && rng.random_bool(plan.duplicates) {
            tally.acked[rng.random_range(0..tally.acked.len())]
                .1
                .clone()
        } else {
            let i = next.fetch_add(1, Ordering::Relaxed);
            match plan.corpus.get(i) {
                Some(d) => d.clone(),
                None => {
                    tally.made_live += 1;
                    plan.maker.one(&mut rng)
                }
            }
        };
        let result = match conn.as_mut() {
            Some(c) => send(c, &plan, &delivery).await,
            None => match Conn::connect(&plan.addr).await {
                Ok(mut c) => {
                    let r = send(&mut c, &plan, &delivery).await;
                    conn = Some(c);
                    r
                }
                Err(e) => Err(e),
            },
        };
        if conn.as_ref().is_some_and(Conn::closing) {
            conn = None;
        }
        let measured = started >= plan.measure_from;
        if measured {
            let us = started.elapsed().as_micros();
            tally
                .latencies_us
                .push(u32::try_from(us).unwrap_or(u32::MAX));
        }
        match result {
            Ok(Sent::Stored(sequence)) => {
                tally.stored += u64::from(measured);
                tally.acked.push((sequence, delivery));
            }
            Ok(Sent::Duplicate) => tally.duplicate += u64::from(measured),
            Ok(Sent::Quarantined) => tally.quarantined += u64::from(measured),
            Ok(Sent::Status(code)) => *tally.other.entry(code).or_default() += u64::from(measured),
            Err(e) => {
                tally.errors += u64::from(measured);
                if tally.first_errors.len() < 3 {
                    tally.first_errors.push(e);
                }
                // A fresh connection next time; do not spin on a server that is gone.
                conn = None;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

async fn send(conn: &mut Conn, plan: &Plan, d: &Delivery) -> Result<Sent, String> {
    let answer = conn.post(&plan.host, &plan.path, d).await?;
    if answer.status != 200 {
        return Ok(Sent::Status(answer.status));
    }
    let receipt: CallbackReceipt =
        serde_json::from_slice(answer.body).map_err(|e| format!("unreadable 200 answer: {e}"))?;
    Ok(match (receipt.status, receipt.sequence) {
        ("stored", Some(sequence)) => Sent::Stored(sequence),
        ("duplicate", _) => Sent::Duplicate,
        ("quarantined", _) => Sent::Quarantined,
        _ => Sent::Status(200),
    })
}

/// Sends `plan.corpus[0]` once on a new connection; its sequence when it is stored.
pub async fn once(plan: &Plan) -> Result<i64, String> {
    let mut conn = Conn::connect(&plan.addr).await?;
    match send(&mut conn, plan, &plan.corpus[0]).await? {
        Sent::Stored(sequence) => Ok(sequence),
        Sent::Duplicate => Err("answered duplicate".into()),
        Sent::Quarantined => Err("answered quarantined".into()),
        Sent::Status(code) => Err(format!("answered {code}")),
    }
}
