//! Developer tools that play the provider: they build transactions with the
//! [`crate::transaction`] model, sign them with the signing half of [`crate::verify`], and
//! talk to txhook over HTTP like the real provider (`bench` also reads its read API). They
//! never touch the store.

mod bench;
mod sample;
mod send;
mod sign;

pub use bench::{BenchError, Checked, Report, bench};
pub use sample::{Lifecycle, at_state, lifecycle, sample};
pub use send::{SendError, send};
pub use sign::Signer;
