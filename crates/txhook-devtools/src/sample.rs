//! Realistic transactions: plausible detail objects for each type, and the state sequences
//! the provider walks them through.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;

use txhook_core::payment::{
    Charge, Decimal, Deposit, Exchange, Money, Payment, Rate, Status, Transaction, TxState, TxType,
};

const NAMES: [&str; 6] = [
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Edsger Dijkstra",
    "Barbara Liskov",
];
const CURRENCIES: [&str; 4] = ["EUR", "USD", "GBP", "CHF"];

/// A transaction of `kind` in `state`, with the details its type carries. `charge_for` is
/// the transaction a CHARGE is for (a random id when `None`).
pub fn sample(
    rng: &mut impl Rng,
    id: &str,
    kind: &TxType,
    state: &TxState,
    charge_for: Option<&str>,
    created_at: DateTime<Utc>,
) -> Transaction {
    let currency = *CURRENCIES.choose(rng).expect("non-empty");
    let amount = money(rng, currency, 1..5_000);
    let short = &id.replace('-', "")[..8.min(id.len())];
    let mut t = Transaction {
        id: id.to_owned(),
        wallet_id: Some(uuid::Uuid::new_v4().to_string()),
        short_id: Some(format!("TX-{}", short.to_uppercase())),
        external_id: Some(format!(
            "ext-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        )),
        kind: Some(kind.clone()),
        status: status(state),
        amount: Some(amount.clone()),
        deposit: None,
        payment: None,
        exchange: None,
        charge: None,
        created_at: Some(time(created_at)),
        completed_at: None,
    };
    match kind {
        TxType::Deposit => {
            t.deposit = Some(Deposit {
                sender_account_identifier: Some(iban(rng)),
                sender_name: Some((*NAMES.choose(rng).expect("non-empty")).to_owned()),
                sender_reference: Some(format!("INV-{}", rng.random_range(1000..99_999))),
            });
        }
        TxType::Payment => {
            t.payment = Some(Payment {
                beneficiary_account_identifier: Some(iban(rng)),
                beneficiary_name: Some((*NAMES.choose(rng).expect("non-empty")).to_owned()),
                payment_reference: Some(format!("PAY-{}", rng.random_range(1000..99_999))),
            });
        }
        TxType::Exchange => {
            let to_currency = *CURRENCIES
                .iter()
                .filter(|c| **c != currency)
                .collect::<Vec<_>>()
                .choose(rng)
                .expect("non-empty");
            // Price and converted amount in exact decimal digits (hundredths and 1/10000s).
            let price_e4: u64 = rng.random_range(5_000..20_000);
            let from_cents: u64 = digits_of(&amount.amount);
            let to_cents = from_cents * price_e4 / 10_000;
            t.exchange = Some(Exchange {
                rate: Some(Rate {
                    price: decimal(price_e4, 4),
                    currency_pair: Some(format!("{currency}{to_currency}")),
                    kind: Some(if rng.random_bool(0.5) { "BID" } else { "OFFER" }.into()),
                }),
                from: Some(amount),
                to: Some(Money {
                    amount: decimal(to_cents, 2),
                    currency: (*to_currency).to_owned(),
                }),
            });
        }
        TxType::Charge => {
            t.amount = Some(money(rng, currency, 1..25));
            t.charge = Some(Charge {
                charge_for_transaction_id: Some(
                    charge_for.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned),
                ),
            });
        }
        TxType::OtherCreditDebit | TxType::Other(_) => {}
    }
    at_state(&t, state)
}

/// `t` moved on to `state`: the same transaction (wallet, amounts, details), with the status
/// and completion time of that state.
pub fn at_state(t: &Transaction, state: &TxState) -> Transaction {
    let mut next = t.clone();
    next.status = status(state);
    next.completed_at = None;
    if state.is_terminal() {
        let created = t
            .created_at
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map_or_else(Utc::now, |c| c.with_timezone(&Utc));
        next.completed_at = Some(time(created + chrono::Duration::seconds(42)));
    }
    next
}

/// The `status` object of `state`, with the reason the provider would give.
fn status(state: &TxState) -> Status {
    let reason = match state {
        TxState::FundsRequired => Some("waiting for funds"),
        TxState::AwaitingApproval => Some("awaiting approval by the wallet owner"),
        TxState::Failed => Some("insufficient funds"),
        TxState::Reversed => Some("reversed at the beneficiary bank's request"),
        _ => None,
    };
    Status {
        state: state.clone(),
        reason: reason.map(str::to_owned),
        complete: Some(state.is_terminal()),
    }
}

/// A sequence of states the provider walks one transaction through, ending in the state it
/// considers final.
pub type Lifecycle = Vec<TxState>;

/// A realistic lifecycle for `kind`.
pub fn lifecycle(rng: &mut impl Rng, kind: &TxType) -> Lifecycle {
    use TxState::*;
    let choices: Vec<Lifecycle> = match kind {
        TxType::Payment => vec![
            vec![Pending, Processing, Success],
            vec![Pending, AwaitingApproval, Processing, Success],
            vec![FundsRequired, Failed],
            vec![FundsRequired, Pending, Processing, Success],
            vec![Pending, Processing, Success, Reversed],
            vec![Pending, Processing, Failed],
        ],
        TxType::Deposit => vec![
            vec![Pending, Success],
            vec![Processing, Success],
            vec![Pending, Failed],
            vec![Success, Reversed],
        ],
        TxType::Exchange => vec![vec![Pending, Processing, Success], vec![Pending, Failed]],
        TxType::Charge => vec![vec![Pending, Success], vec![Success]],
        TxType::OtherCreditDebit | TxType::Other(_) => vec![vec![Success], vec![Pending, Success]],
    };
    choices.choose(rng).expect("non-empty").clone()
}

fn money(rng: &mut impl Rng, currency: &str, units: std::ops::Range<u64>) -> Money {
    let cents = rng.random_range(units.start * 100..units.end * 100);
    Money {
        amount: decimal(cents, 2),
        currency: currency.to_owned(),
    }
}

/// `n / 10^scale` written with exactly `scale` decimals.
fn decimal(n: u64, scale: u32) -> Decimal {
    let p = 10u64.pow(scale);
    let text = format!("{}.{:0width$}", n / p, n % p, width = scale as usize);
    Decimal::parse(&text).expect("digits and a point form a decimal")
}

/// The decimal's digits without the point (hundredths for the amounts made here).
fn digits_of(d: &Decimal) -> u64 {
    d.as_str().replace('.', "").parse().unwrap_or(0)
}

fn iban(rng: &mut impl Rng) -> String {
    format!(
        "DE{:02}{:08}{:010}",
        rng.random_range(10..99),
        rng.random_range(10_000_000..99_999_999u64),
        rng.random_range(0..9_999_999_999u64)
    )
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use txhook_core::payment::{Reading, read};

    #[test]
    fn every_type_reads_back_as_a_transaction_with_its_details() {
        let mut rng = rand::rng();
        for kind in TxType::ALL {
            for state in lifecycle(&mut rng, &kind) {
                let id = uuid::Uuid::new_v4().to_string();
                let t = sample(&mut rng, &id, &kind, &state, None, Utc::now());
                let body = serde_json::to_vec(&t).unwrap();
                let Reading::Transaction(back) = read(&body, None).reading else {
                    panic!("{kind:?} in {state:?} is not readable");
                };
                assert_eq!(back.kind.as_ref(), Some(&kind));
                assert_eq!(back.status.state, state);
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let detail = match kind {
                    TxType::Deposit => Some("deposit"),
                    TxType::Payment => Some("payment"),
                    TxType::Exchange => Some("exchange"),
                    TxType::Charge => Some("charge"),
                    _ => None,
                };
                if let Some(d) = detail {
                    assert!(v[d].is_object(), "{kind:?} lacks {d}: {v}");
                }
            }
        }
    }

    #[test]
    fn lifecycles_end_in_a_terminal_state() {
        let mut rng = rand::rng();
        for kind in TxType::ALL {
            for _ in 0..50 {
                let l = lifecycle(&mut rng, &kind);
                assert!(l.last().unwrap().is_terminal(), "{l:?}");
            }
        }
    }

    #[test]
    fn exchange_amounts_are_exact() {
        assert_eq!(decimal(12_345, 2).as_str(), "123.45");
        assert_eq!(decimal(5, 2).as_str(), "0.05");
        assert_eq!(decimal(10_500, 4).as_str(), "1.0500");
    }
}
