//! Developer tools that play the provider: they build transactions with the
//! [`crate::transaction`] model, sign them with the signing half of [`crate::verify`], and
//! talk to txhook over HTTP like the real provider (`bench` also reads its read API); and
//! `listen`, which plays a consumer of the event stream. They never touch the store.

mod bench;
mod listen;
mod sample;
mod send;
mod sign;

pub use bench::{BenchError, Checked, Report, bench};
pub use listen::{ListenError, listen};
pub use sample::{Lifecycle, at_state, lifecycle, sample};
pub use send::{SendError, send};
pub use sign::Signer;
