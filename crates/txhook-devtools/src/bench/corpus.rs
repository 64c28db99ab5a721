//! The bodies a benchmark sends, made and signed before the clock starts so that the load
//! generator spends its CPU on HTTP, not on JSON and HMAC.
//!
//! Transactions walk realistic lifecycles of all five types. They are made in waves, and a
//! wave sends every transaction's first state, then every second state, and so on. A state
//! update therefore arrives a few hundred callbacks after the one before it, as it does from
//! the provider, and both the insert path and the update path of the store are exercised.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::Utc;
use http::HeaderMap;
use rand::Rng;

use crate::{Signer, at_state, lifecycle, sample};
use txhook_core::payment::{Transaction, TxState, TxType};

/// Transactions per wave: how far apart the steps of one lifecycle are sent.
const WAVE: usize = 256;

/// One signed callback, ready to send.
#[derive(Debug)]
pub struct Delivery {
    pub body: Bytes,
    /// Signature headers (and the static header).
    pub headers: HeaderMap,
    /// The transaction and state it carries, to check it against the event log.
    pub transaction_id: String,
    pub state: TxState,
}

/// Makes signed deliveries.
#[derive(Debug, Clone)]
pub struct Maker {
    signer: Signer,
}

impl Maker {
    pub fn new(signer: Signer) -> Self {
        Self { signer }
    }

    /// At least `n` deliveries (whole waves), made on every core.
    pub fn corpus(&self, n: usize) -> Vec<Arc<Delivery>> {
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
        let per = n.max(1).div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(move || {
                        let mut rng = rand::rng();
                        let mut out = Vec::with_capacity(per + 4 * WAVE);
                        while out.len() < per {
                            self.wave(&mut rng, WAVE, &mut out);
                        }
                        out
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().expect("corpus thread"))
                .collect()
        })
    }

    /// One new transaction in its first state (when the corpus runs out mid-run).
    pub fn one(&self, rng: &mut impl Rng) -> Arc<Delivery> {
        let kind = TxType::ALL[rng.random_range(0..TxType::ALL.len())].clone();
        let state = lifecycle(rng, &kind)[0].clone();
        let id = uuid::Uuid::new_v4().to_string();
        let t = sample(rng, &id, &kind, &state, None, Utc::now());
        Arc::new(self.sign(&t))
    }

    /// `size` transactions, all their states, step by step.
    fn wave(&self, rng: &mut impl Rng, size: usize, out: &mut Vec<Arc<Delivery>>) {
        let mut lives = Vec::with_capacity(size);
        let mut last_payment: Option<String> = None;
        for i in 0..size {
            let kind = TxType::ALL[i % TxType::ALL.len()].clone();
            let states = lifecycle(rng, &kind);
            let id = uuid::Uuid::new_v4().to_string();
            let first = sample(
                rng,
                &id,
                &kind,
                &states[0],
                last_payment.as_deref(),
                Utc::now(),
            );
            if kind == TxType::Payment {
                last_payment = Some(id);
            }
            lives.push((first, states));
        }
        let longest = lives.iter().map(|l| l.1.len()).max().unwrap_or(0);
        for step in 0..longest {
            for (t, states) in &lives {
                if let Some(state) = states.get(step) {
                    out.push(Arc::new(self.sign(&at_state(t, state))));
                }
            }
        }
    }

    fn sign(&self, t: &Transaction) -> Delivery {
        let body = padded(t);
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        Delivery {
            headers: self.signer.headers(&body, &msg_id, timestamp),
            body: Bytes::from(body),
            transaction_id: t.id.clone(),
            state: t.status.state.clone(),
        }
    }
}

/// `t` as JSON with a `metadata` object of the kind a provider adds (channel, device,
/// references, a note) that txhook keeps raw without reading: the model's fields alone make
/// ~450 bytes, real callbacks ~1 KiB, and the body size is what the database writes.
fn padded(t: &Transaction) -> Vec<u8> {
    let mut v = serde_json::to_value(t).expect("a transaction serializes");
    let short = t.id.get(..8).unwrap_or(&t.id);
    let meta = serde_json::json!({
        "channel": "API",
        "initiatedBy": format!("user-{short}"),
        "clientIp": "203.0.113.42",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "idempotencyKey": format!("idem-{}-{}", t.id, t.status.state.as_str()),
        "correlationId": format!("corr-{short}-{}", t.status.state.as_str().to_ascii_lowercase()),
        "note": "Settlement through the partner bank's instant rail; amounts in the account currency, fees billed separately at month end.",
        "tags": ["bench", "realistic", "txhook"],
    });
    if let Some(obj) = v.as_object_mut() {
        obj.insert("metadata".into(), meta);
    }
    serde_json::to_vec(&v).expect("json serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use txhook_core::verify::Scheme;

    fn maker() -> Maker {
        let scheme = Scheme::HmacSha256 {
            header: http::HeaderName::from_static("x-hubpay-hmac"),
        };
        Maker::new(Signer::new(scheme, b"k".to_vec(), None))
    }

    #[test]
    fn corpus_holds_every_type_and_unique_bodies() {
        let corpus = maker().corpus(1000);
        assert!(corpus.len() >= 1000);
        let bodies: std::collections::HashSet<_> = corpus.iter().map(|d| &d.body).collect();
        assert_eq!(bodies.len(), corpus.len());
        for kind in TxType::ALL {
            let needle = format!("\"type\":\"{}\"", kind.as_str());
            assert!(
                corpus
                    .iter()
                    .any(|d| String::from_utf8_lossy(&d.body).contains(&needle)),
                "{kind:?} missing"
            );
        }
        let mean = corpus.iter().map(|d| d.body.len()).sum::<usize>() / corpus.len();
        assert!((800..1300).contains(&mean), "mean body {mean} bytes");
    }
}
