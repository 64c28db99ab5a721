//! The Orangepill event stream: a WebSocket client that feeds [`crate::store`].
//!
//! [`catalogue`] lists the documented events (in `txhook-core`: the dev tools' fake stream
//! emits from it), [`protocol`] reads and writes the frames, [`timestamp`] normalises server
//! timestamps, and `client` keeps the subscription alive. The Orangepill side, for local runs
//! and tests, is `txhook_devtools::fake_stream`.

pub use txhook_core::catalogue;
mod client;
pub mod protocol;
mod session;
mod status;
pub mod timestamp;

pub use client::{StreamSettings, install_crypto_provider, run};
pub use status::{Snapshot, State, StreamStatus};
