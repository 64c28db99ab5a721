//! Transaction lifecycles for one subscriber, at `--rate`, `--count` of them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use rand::seq::IndexedRandom;

use super::{Mock, Subscriber, deliver};
use crate::{at_state, lifecycle, sample};
use txhook_core::payment::TxType;

/// Nominal time between the steps of a lifecycle (before `--time-scale`), at most.
const STEP_GAP: Duration = Duration::from_secs(5);

/// Generates the subscriber's lifecycles and hands each to its own task.
pub(super) async fn lifecycles(mock: Mock, subscriber: Arc<Subscriber>) {
    let args = &mock.0.args;
    let every = Duration::from_secs_f64(1.0 / args.rate);
    mock.ledger().generators_running += 1;
    let mut previous: Option<String> = None;
    let mut n = 0u64;
    while args.count == 0 || n < args.count {
        n += 1;
        let id = uuid::Uuid::new_v4().to_string();
        let (kind, states, base) = {
            let mut rng = mock.rng();
            let kind = TxType::ALL.choose(&mut *rng).expect("non-empty").clone();
            let states = lifecycle(&mut *rng, &kind);
            let base = sample(
                &mut *rng,
                &id,
                &kind,
                &states[0],
                previous.as_deref(),
                Utc::now(),
            );
            (kind, states, base)
        };
        mock.ledger()
            .add_transaction(&id, &kind, &states, subscriber.callback_url.as_str());
        tracing::debug!(%id, kind = kind.as_str(), ?states, "lifecycle generated");
        let steps: Vec<_> = states.iter().map(|s| at_state(&base, s)).collect();
        tokio::spawn(walk(mock.clone(), subscriber.clone(), id.clone(), steps));
        previous = Some(id);
        tokio::time::sleep(every).await;
    }
    mock.ledger().generators_running -= 1;
}

/// Delivers the steps of one lifecycle: one after another (each step once the previous one
/// was delivered or given up), or, with `--reorder`, all at once with random delays.
async fn walk(
    mock: Mock,
    subscriber: Arc<Subscriber>,
    id: String,
    steps: Vec<txhook_core::payment::Transaction>,
) {
    let bodies: Vec<_> = steps
        .iter()
        .map(|t| {
            let body = serde_json::to_vec(t).expect("the model serialises");
            (t.status.state.as_str().to_owned(), bytes::Bytes::from(body))
        })
        .collect();
    let delivery_ids: Vec<u64> = bodies
        .iter()
        .map(|(state, _)| mock.ledger().add_delivery(&id, state))
        .collect();
    if mock.0.args.reorder {
        let mut tasks = Vec::new();
        for (delivery, (state, body)) in delivery_ids.into_iter().zip(bodies) {
            let delay = mock.scaled(random_gap(&mock));
            let (mock, subscriber, id) = (mock.clone(), subscriber.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                deliver::deliver(&mock, &subscriber, delivery, &id, &state, body).await;
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    } else {
        for (delivery, (state, body)) in delivery_ids.into_iter().zip(bodies) {
            deliver::deliver(&mock, &subscriber, delivery, &id, &state, body).await;
            tokio::time::sleep(mock.scaled(random_gap(&mock))).await;
        }
    }
}

fn random_gap(mock: &Mock) -> Duration {
    STEP_GAP.mul_f64(mock.rng().random_range(0.2..1.0))
}
