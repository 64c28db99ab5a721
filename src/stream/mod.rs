//! The Orangepill event stream: a WebSocket client that feeds [`crate::store`], and a server
//! speaking the same protocol for local runs and tests.
//!
//! [`catalogue`] lists the documented events, [`protocol`] reads and writes the frames,
//! [`timestamp`] normalises server timestamps, `client` keeps the subscription alive, and
//! [`fake_server`] plays the Orangepill side.

pub mod catalogue;
mod client;
pub mod fake_server;
pub mod protocol;
mod session;
mod status;
pub mod timestamp;

pub use client::{StreamSettings, install_crypto_provider, run};
pub use status::{Snapshot, State, StreamStatus};
