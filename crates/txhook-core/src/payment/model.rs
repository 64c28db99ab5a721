//! The provider's transaction object, as its API document describes it.
//!
//! Every field but `id` and `status.state` is optional when reading: providers add and omit
//! fields, and the raw body is kept whatever this model makes of it. Unknown fields are
//! ignored here (and kept in the raw body); unknown types and states are kept as text.

use serde::{Deserialize, Serialize};

use super::{Decimal, TxState};

/// A transaction callback body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<TxType>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<Deposit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<Charge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

/// `status`: the state and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub state: TxState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
}

/// An exact amount in a currency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Money {
    pub amount: Decimal,
    pub currency: String,
}

/// Details of a DEPOSIT.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deposit {
    #[serde(default)]
    pub sender_account_identifier: Option<String>,
    #[serde(default)]
    pub sender_name: Option<String>,
    #[serde(default)]
    pub sender_reference: Option<String>,
}

/// Details of a PAYMENT.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    #[serde(default)]
    pub beneficiary_account_identifier: Option<String>,
    #[serde(default)]
    pub beneficiary_name: Option<String>,
    #[serde(default)]
    pub payment_reference: Option<String>,
}

/// Details of an EXCHANGE.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    #[serde(default)]
    pub rate: Option<Rate>,
    #[serde(default)]
    pub from: Option<Money>,
    #[serde(default)]
    pub to: Option<Money>,
}

/// The rate of an EXCHANGE.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub price: Decimal,
    #[serde(default)]
    pub currency_pair: Option<String>,
    /// `BID` or `OFFER` (others kept as text).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// Details of a CHARGE.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    #[serde(default)]
    pub charge_for_transaction_id: Option<String>,
}

/// The transaction type; values the document does not list are kept as they came.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TxType {
    Payment,
    Deposit,
    Charge,
    Exchange,
    OtherCreditDebit,
    Other(String),
}

impl TxType {
    /// Every documented type.
    pub const ALL: [TxType; 5] = [
        TxType::Payment,
        TxType::Deposit,
        TxType::Charge,
        TxType::Exchange,
        TxType::OtherCreditDebit,
    ];

    /// The provider's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Payment => "PAYMENT",
            Self::Deposit => "DEPOSIT",
            Self::Charge => "CHARGE",
            Self::Exchange => "EXCHANGE",
            Self::OtherCreditDebit => "OTHER_CREDIT_DEBIT",
            Self::Other(s) => s,
        }
    }
}

impl From<String> for TxType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "PAYMENT" => Self::Payment,
            "DEPOSIT" => Self::Deposit,
            "CHARGE" => Self::Charge,
            "EXCHANGE" => Self::Exchange,
            "OTHER_CREDIT_DEBIT" => Self::OtherCreditDebit,
            _ => Self::Other(s),
        }
    }
}

impl From<TxType> for String {
    fn from(t: TxType) -> Self {
        t.as_str().to_owned()
    }
}

impl std::str::FromStr for TxType {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s.to_owned()))
    }
}
