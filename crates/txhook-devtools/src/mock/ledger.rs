//! What the mock provider generated and delivered, and `GET /mock/deliveries`, which reports
//! it with the ground truth: the state the provider considers final for each transaction.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use super::Mock;
use super::deliver::Answer;
use txhook_core::payment::{TxState, TxType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Fate {
    Pending,
    Delivered,
    Expired,
}

#[derive(Debug)]
struct Delivery {
    transaction: usize,
    attempts: u32,
    fate: Fate,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Generated {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    callback_url: String,
    /// The states in the order the provider walks them.
    states: Vec<String>,
    /// The last of `states`: what the receiver must end up showing.
    final_state: String,
}

/// Counters and records, behind the mock's mutex.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    pub subscribe_requests: u64,
    pub generators_running: u64,
    transactions: Vec<Generated>,
    deliveries: Vec<Delivery>,
    attempts: u64,
    failed_attempts: u64,
    duplicates_sent: u64,
    /// 200 answers by their `status` (`stored`, `duplicate`, …), duplicates included.
    answers: BTreeMap<String, u64>,
}

impl Ledger {
    pub fn add_transaction(&mut self, id: &str, kind: &TxType, states: &[TxState], url: &str) {
        let states: Vec<String> = states.iter().map(|s| s.as_str().to_owned()).collect();
        self.transactions.push(Generated {
            id: id.to_owned(),
            kind: kind.as_str().to_owned(),
            callback_url: url.to_owned(),
            final_state: states.last().cloned().unwrap_or_default(),
            states,
        });
    }

    /// Registers one callback to deliver for transaction `id`; returns its number.
    pub fn add_delivery(&mut self, id: &str, _state: &str) -> u64 {
        let transaction = self
            .transactions
            .iter()
            .rposition(|t| t.id == id)
            .expect("transactions are added before their deliveries");
        self.deliveries.push(Delivery {
            transaction,
            attempts: 0,
            fate: Fate::Pending,
        });
        self.deliveries.len() as u64 - 1
    }

    pub fn attempt(&mut self, delivery: u64, answer: &Answer) {
        self.attempts += 1;
        let d = &mut self.deliveries[delivery as usize];
        d.attempts += 1;
        match answer {
            Answer::Ok(status) => {
                d.fate = Fate::Delivered;
                *self.answers.entry(status.clone()).or_default() += 1;
            }
            Answer::Status(_) | Answer::None(_) => self.failed_attempts += 1,
        }
    }

    pub fn duplicate(&mut self, answer: &Answer) {
        self.duplicates_sent += 1;
        self.attempts += 1;
        match answer {
            Answer::Ok(status) => *self.answers.entry(status.clone()).or_default() += 1,
            _ => self.failed_attempts += 1,
        }
    }

    pub fn expire(&mut self, delivery: u64) {
        self.deliveries[delivery as usize].fate = Fate::Expired;
    }

    fn report(&self, subscribers: usize) -> Value {
        let count = |f: Fate| self.deliveries.iter().filter(|d| d.fate == f).count();
        let (delivered, pending, expired) = (
            count(Fate::Delivered),
            count(Fate::Pending),
            count(Fate::Expired),
        );
        let retries: u64 = self
            .deliveries
            .iter()
            .map(|d| u64::from(d.attempts.saturating_sub(1)))
            .sum();
        let transactions: Vec<Value> = self
            .transactions
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mine = self.deliveries.iter().filter(|d| d.transaction == i);
                let delivered = mine.clone().filter(|d| d.fate == Fate::Delivered).count();
                let attempts: u32 = mine.map(|d| d.attempts).sum();
                let mut v = json!(t);
                v["delivered"] = json!(delivered);
                v["attempts"] = json!(attempts);
                v
            })
            .collect();
        let callbacks: usize = self.transactions.iter().map(|t| t.states.len()).sum();
        json!({
            "subscribers": subscribers,
            "subscribeRequests": self.subscribe_requests,
            // Every subscriber's lifecycles are generated and no callback awaits delivery.
            "complete": subscribers > 0 && self.generators_running == 0
                && pending == 0 && self.deliveries.len() == callbacks,
            "transactions": self.transactions.len(),
            "callbacks": callbacks,
            "delivered": delivered,
            "pending": pending,
            "expired": expired,
            "attempts": self.attempts,
            "failedAttempts": self.failed_attempts,
            "retries": retries,
            "duplicatesSent": self.duplicates_sent,
            "answers": self.answers,
            "items": transactions,
        })
    }
}

/// `GET /mock/deliveries`.
pub(super) async fn deliveries(State(mock): State<Mock>) -> Json<Value> {
    let subscribers = mock
        .0
        .subscribers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();
    Json(mock.ledger().report(subscribers))
}
