//! txhook's developer tools. They play the provider: build transactions with the
//! [`txhook_core::payment`] model, sign them with the signing half of [`txhook_core::verify`],
//! and talk to txhook over HTTP like the real provider (`send`, `bench`, which also reads the
//! read API, and the [`mock`] provider); they play Orangepill over WebSocket
//! ([`fake_stream`]); and `listen` plays a consumer of the event stream. They never touch the
//! store and never depend on the `txhook` library: what they share with the service is
//! `txhook-core`.
//!
//! The `txhook` binary offers them as `txhook send|bench|listen|mock-provider`, embedding the
//! command-line arguments of [`args`].

pub mod args;
mod bench;
pub mod fake_stream;
mod listen;
pub mod mock;
mod sample;
mod send;
mod sign;

pub use bench::{BenchError, Checked, Report, bench};
pub use listen::{ListenError, listen};
pub use sample::{Lifecycle, at_state, lifecycle, sample};
pub use send::{SendError, send};
pub use sign::Signer;
