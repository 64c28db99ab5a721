//! A transaction's current state, derived from its callbacks one at a time by the state rules.
//!
//! The projector, `txhook rebuild` and `reprocess` all derive through [`apply`]: this is the
//! one place where a callback meets the state a transaction is in.

use chrono::{DateTime, Utc};

use super::{Transaction, applies_over};

/// What txhook holds of a transaction: the columns of its current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub id: String,
    /// The event whose state is current.
    pub current_sequence: i64,
    /// The first event of the transaction to be applied (the listing's order key).
    pub first_sequence: i64,
    pub kind: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    pub complete: Option<bool>,
    pub wallet_id: Option<String>,
    /// The provider's other ids, for finding the transaction.
    pub short_id: Option<String>,
    pub external_id: Option<String>,
    /// For a CHARGE: the transaction it charges for.
    pub charge_for: Option<String>,
    /// Exact decimal text.
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub first_received_at: DateTime<Utc>,
    /// When the callback that set the current state was received.
    pub updated_at: DateTime<Utc>,
}

/// One callback in a transaction's history: what it said and whether it became current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub sequence: i64,
    pub transaction_id: String,
    pub state: String,
    pub reason: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub applied: bool,
    pub received_at: DateTime<Utc>,
}

/// A logged callback that reads as a transaction.
#[derive(Debug, Clone)]
pub struct Logged {
    pub sequence: i64,
    pub received_at: DateTime<Utc>,
    pub transaction: Transaction,
}

/// Applies `event` to `current` (`None`: the transaction is new): the new current state, and
/// the event's history entry. An event that the state rules refuse leaves `current` as it
/// was; fields the event leaves out keep their values.
pub fn apply(current: Option<Current>, event: &Logged) -> (Current, Step) {
    let t = &event.transaction;
    let amount = t.amount.as_ref().map(|a| a.amount.as_str().to_owned());
    let currency = t.amount.as_ref().map(|a| a.currency.clone());
    let step = Step {
        sequence: event.sequence,
        transaction_id: t.id.clone(),
        state: t.status.state.as_str().to_owned(),
        reason: t.status.reason.clone(),
        amount: amount.clone(),
        currency: currency.clone(),
        applied: true,
        received_at: event.received_at,
    };
    let Some(cur) = current else {
        let new = Current {
            id: t.id.clone(),
            current_sequence: event.sequence,
            first_sequence: event.sequence,
            kind: t.kind.as_ref().map(|k| k.as_str().to_owned()),
            state: step.state.clone(),
            reason: t.status.reason.clone(),
            complete: t.status.complete,
            wallet_id: t.wallet_id.clone(),
            short_id: t.short_id.clone(),
            external_id: t.external_id.clone(),
            charge_for: charge_for(t),
            amount,
            currency,
            created_at: time(&t.created_at),
            completed_at: time(&t.completed_at),
            first_received_at: event.received_at,
            updated_at: event.received_at,
        };
        return (new, step);
    };
    if !applies_over(
        &cur.state.clone().into(),
        cur.current_sequence,
        &t.status.state,
        event.sequence,
    ) {
        return (
            cur,
            Step {
                applied: false,
                ..step
            },
        );
    }
    let new = Current {
        current_sequence: event.sequence,
        kind: t.kind.as_ref().map(|k| k.as_str().to_owned()).or(cur.kind),
        state: step.state.clone(),
        reason: t.status.reason.clone(),
        complete: t.status.complete,
        wallet_id: t.wallet_id.clone().or(cur.wallet_id),
        short_id: t.short_id.clone().or(cur.short_id),
        external_id: t.external_id.clone().or(cur.external_id),
        charge_for: charge_for(t).or(cur.charge_for),
        amount: amount.or(cur.amount),
        currency: currency.or(cur.currency),
        created_at: time(&t.created_at).or(cur.created_at),
        completed_at: time(&t.completed_at).or(cur.completed_at),
        updated_at: event.received_at,
        ..cur
    };
    (new, step)
}

fn charge_for(t: &Transaction) -> Option<String> {
    t.charge
        .as_ref()
        .and_then(|c| c.charge_for_transaction_id.clone())
}

/// An RFC 3339 time of the provider's, when it reads as one.
fn time(s: &Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::{Reading, read};

    fn logged(sequence: i64, body: &str) -> Logged {
        let Reading::Transaction(t) = read(body.as_bytes(), None).reading else {
            panic!("not a transaction: {body}");
        };
        Logged {
            sequence,
            received_at: DateTime::from_timestamp(1_700_000_000 + sequence, 0).unwrap(),
            transaction: *t,
        }
    }

    #[test]
    fn a_refused_state_keeps_the_current_one_and_an_applied_one_keeps_what_it_omits() {
        let (cur, step) = apply(
            None,
            &logged(
                1,
                r#"{"id":"t","type":"PAYMENT","walletId":"w","status":{"state":"PROCESSING"},"amount":{"amount":10.50,"currency":"EUR"}}"#,
            ),
        );
        assert!(step.applied);
        assert_eq!(cur.amount.as_deref(), Some("10.50"));

        let (same, step) = apply(
            Some(cur.clone()),
            &logged(2, r#"{"id":"t","status":{"state":"PENDING"}}"#),
        );
        assert!(!step.applied);
        assert_eq!(same, cur);

        let (done, step) = apply(
            Some(cur.clone()),
            &logged(
                3,
                r#"{"id":"t","status":{"state":"SUCCESS","reason":"ok"},"completedAt":"2026-11-24T10:00:00Z"}"#,
            ),
        );
        assert!(step.applied);
        assert_eq!(done.state, "SUCCESS");
        assert_eq!((done.current_sequence, done.first_sequence), (3, 1));
        assert_eq!(done.wallet_id.as_deref(), Some("w"));
        assert_eq!(done.amount.as_deref(), Some("10.50"));
        assert_eq!(done.reason.as_deref(), Some("ok"));
        assert!(done.completed_at.is_some());
        assert_eq!(done.updated_at, step.received_at);
    }

    #[test]
    fn an_older_event_arriving_late_applies_only_if_it_moves_forward() {
        let (cur, _) = apply(
            None,
            &logged(5, r#"{"id":"t","status":{"state":"PENDING"}}"#),
        );
        // PROCESSING logged earlier but seen later still moves PENDING forward.
        let (cur, step) = apply(
            Some(cur),
            &logged(3, r#"{"id":"t","status":{"state":"PROCESSING"}}"#),
        );
        assert!(step.applied);
        assert_eq!(cur.state, "PROCESSING");
        // An older FUNDS_REQUIRED never moves PROCESSING back.
        let (cur, step) = apply(
            Some(cur),
            &logged(2, r#"{"id":"t","status":{"state":"FUNDS_REQUIRED"}}"#),
        );
        assert!(!step.applied);
        assert_eq!(cur.state, "PROCESSING");
    }
}
