//! The payment-transaction callback: its model, how a raw body is read into it, what makes
//! two deliveries the same event, how states may follow one another, and the current state
//! derived from a transaction's callbacks. (`payment`, not `transaction`: the word is taken by
//! the database's transactions.)
//!
//! Pure: no database and no HTTP. The raw body stays the truth; the model is what txhook
//! understands of it.

mod amount;
mod canonical;
mod current;
mod model;
mod read;
mod state;

pub use amount::Decimal;
pub use canonical::{
    bounded_key, canonical_json, dedup_key_for_json, dedup_key_for_raw, dedup_key_for_webhook_id,
};
pub use current::{Current, Logged, Step, apply};
pub use model::{Charge, Deposit, Exchange, Money, Payment, Rate, Status, Transaction, TxType};
pub use read::{Incoming, Reading, read, read_transaction};
pub use state::{TxState, applies_over, supersedes, why_kept};
